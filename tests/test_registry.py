"""The one registry helper (uirbench.registry) behind source adapters, caption backends, models
and synthesis operators: one unknown-name message, the adapters' option check, plain dicts."""

from __future__ import annotations

import numpy as np
import pytest

from uirbench.caption import BACKENDS, build_captioner
from uirbench.data.sources import ADAPTERS, get_adapter
from uirbench.data.synth import OPS, apply
from uirbench.errors import UirbenchError
from uirbench.registry import Registry


def test_unknown_names_get_one_message_listing_the_known_ones() -> None:
    pytest.importorskip("torch")
    from uirbench.models.registry import BUILDERS, build_restorer

    with pytest.raises(UirbenchError, match=r"^unknown model 'nope'; known models: identity, "):
        build_restorer("nope")
    with pytest.raises(UirbenchError, match=r"^unknown adapter 'nope'; known adapters: bsd400, "):
        get_adapter("nope")
    # a ValueError too: `uirbench caption` turns it into a --backend usage error
    known = "known caption backends: lavis, sidecar, transformers"
    with pytest.raises(ValueError, match=rf"^unknown caption backend 'nope'; {known}$"):
        build_captioner("nope")
    with pytest.raises(ValueError, match=r"^unknown synthesis operator 'nope'; known synthesis op"):
        apply("nope", np.zeros((8, 8, 3), np.uint8), 0)
    for reg in (BUILDERS, ADAPTERS, BACKENDS, OPS):
        assert isinstance(reg, dict) and isinstance(reg, Registry) and len(reg) >= 3


def test_options_a_factory_does_not_declare_are_refused_by_name() -> None:
    reg: Registry = Registry("widget")

    @reg.register("w", check_options="check the recipe")
    def make(src: str, *, size: int = 1, colour: str = "red") -> str:
        return f"{src}-{size}-{colour}"

    assert reg["w"] is make and make("a", size=2) == "a-2-red"
    with pytest.raises(UirbenchError) as exc:
        reg.pick("w")("a", sise=2)
    assert str(exc.value) == (
        "widget 'w' has no option 'sise'; its options are: colour, size (check the recipe)"
    )
    plain = Registry("thing")
    assert plain.register("t")(len) is len and plain.pick("t") is len  # unchecked: as given


def test_adapter_options_are_checked_before_the_folder(tmp_path) -> None:
    with pytest.raises(UirbenchError, match=r"adapter 'folder' has no option 'nope'.*manifest"):
        get_adapter("folder")(tmp_path / "absent", "val", nope=1)
    with pytest.raises(UirbenchError, match=r"source folder .* does not exist"):
        get_adapter("folder")(tmp_path / "absent", "val")


def test_daclip_options_reach_the_builder_and_a_config_alone_is_refused(tmp_path) -> None:
    pytest.importorskip("torch")
    from typer.testing import CliRunner

    from uirbench.cli.app import app
    from uirbench.io import write_png
    from uirbench.models.registry import daclip_option

    assert daclip_option(None, None) == {}
    assert daclip_option(tmp_path / "d.pt", None) == {
        "daclip": {"config": None, "weights": str(tmp_path / "d.pt")}
    }
    write_png(tmp_path / "in.png", np.zeros((8, 8, 3), np.uint8))
    # `restore` (and `evaluate --model`) refuse it before any model is built
    args = ["restore", str(tmp_path / "in.png"), "--model", "ours", "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(app, [*args, "--daclip-config", "daclip_ViT-B-32"])
    assert "--daclip-config names the config of --daclip PATH" in str(result.exception)
    with pytest.raises(UirbenchError, match="pass both"):
        daclip_option(None, "daclip_ViT-B-32")
