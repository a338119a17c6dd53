"""Untrusted checkpoints: a weights file carrying a pickle payload is refused, never executed.

Every place the project reads weights is tried with a file whose unpickling would create a marker
file: the generic loader (``.pt``/``.pth``/``.bin``, and a pickle disguised as ``.safetensors``),
training checkpoints (resume), DA-CLIP (official ``.pt`` and CLIP init weights), the restoration
models (``--weights FILE`` and ``--weights zoo``), ``classify`` and the pyiqa metric weights
(LPIPS, FID Inception), which pyiqa itself would unpickle with ``weights_only=False``. Each must
raise a :class:`UirbenchError` that names the file, and the marker must never appear. A control
test proves the payload is live (it does run under a plain ``torch.load``), so these tests can fail.
Safetensors and plain ``weights_only=True`` state dicts still load.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from uirbench.errors import UirbenchError
from uirbench.evaluate import classify


class Payload:
    """Unpickling this object opens (creates) ``marker``: stands in for arbitrary code."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _evil_state(marker: Path) -> dict:
    return {"weight": torch.zeros(2, 2), "bias": torch.zeros(2), "evil": Payload(marker)}


def _save_evil(path: Path, marker: Path, fmt: str = "zip") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "raw-pickle":
        path.write_bytes(pickle.dumps(_evil_state(marker)))
    else:
        torch.save(_evil_state(marker), path, _use_new_zipfile_serialization=(fmt == "zip"))
    return path


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "PAYLOAD_RAN"


REFUSED: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def _print_figure():
    yield
    print(f"\n[reliability] pickle-payload weight files refused: {len(REFUSED)}, payload ran: 0")


def _refused(load: Callable[[], object], path: Path, marker: Path) -> str:
    with pytest.raises(UirbenchError) as exc:
        load()
    assert not marker.exists(), "the pickle payload ran"
    assert path.name in str(exc.value), str(exc.value)
    REFUSED.append(str(path))
    return str(exc.value)


def test_control_the_payload_is_live(tmp_path: Path, marker: Path) -> None:
    path = _save_evil(tmp_path / "evil.pt", marker)
    torch.load(path, weights_only=False)  # what an unsafe loader would do
    assert marker.exists()


@pytest.mark.parametrize("fmt", ["zip", "legacy", "raw-pickle"])
@pytest.mark.parametrize("suffix", [".pt", ".pth", ".bin", ".ckpt"])
def test_generic_loader_refuses_pickle_payload(
    tmp_path: Path, marker: Path, suffix: str, fmt: str
) -> None:
    from uirbench.weights import load_tensor_file

    path = _save_evil(tmp_path / f"evil{suffix}", marker, fmt)
    msg = _refused(lambda: load_tensor_file(path), path, marker)
    if fmt != "raw-pickle":
        assert "refusing" in msg and "safetensors" in msg


def test_pickle_disguised_as_safetensors_checkpoint_is_refused(
    tmp_path: Path, marker: Path
) -> None:
    from uirbench.train.checkpoint import load_checkpoint

    stem = tmp_path / "ckpt" / "last"
    path = _save_evil(stem.with_suffix(".safetensors"), marker)
    stem.with_suffix(".json").write_text('{"step": 3}\n')
    _refused(lambda: load_checkpoint(stem), path, marker)


def test_training_resume_refuses_a_tampered_checkpoint(tmp_path: Path, marker: Path) -> None:
    """A run folder whose last checkpoint was replaced by a pickle: resume stops, nothing runs."""
    from uirbench.restore import network_state_from_file

    stem = tmp_path / "run" / "checkpoints" / "last"
    path = _save_evil(stem.with_suffix(".safetensors"), marker)
    stem.with_suffix(".json").write_text('{"step": 3, "model_config": "nafnet_tiny"}\n')
    _refused(lambda: network_state_from_file(path), path, marker)


def test_daclip_checkpoint_and_clip_weights_refuse_payload(tmp_path: Path, marker: Path) -> None:
    from uirbench.models.daclip import build_daclip

    path = _save_evil(tmp_path / "daclip_ViT-B-32.pt", marker)
    _refused(lambda: build_daclip("daclip_tiny", weights=path), path, marker)
    _refused(lambda: build_daclip("daclip_tiny", clip_weights=str(path)), path, marker)


def test_classify_refuses_payload(tmp_path: Path, marker: Path) -> None:
    path = _save_evil(tmp_path / "daclip_ViT-B-32.pt", marker)
    _refused(lambda: classify.load_model(str(path), config="daclip_tiny"), path, marker)


@pytest.mark.parametrize("model", ["nafnet", "irsde"])
def test_restoration_weights_refuse_payload(tmp_path: Path, marker: Path, model: str) -> None:
    from uirbench.models.registry import build_restorer

    path = _save_evil(tmp_path / f"{model}.pth", marker)
    _refused(lambda: build_restorer(model, weights=str(path), config=f"{model}_tiny"), path, marker)


def test_restoration_daclip_context_refuses_payload(tmp_path: Path, marker: Path) -> None:
    from uirbench.models.registry import build_restorer

    path = _save_evil(tmp_path / "daclip.pt", marker)
    daclip = {"config": "daclip_tiny", "weights": str(path)}
    _refused(
        lambda: build_restorer(
            "nafnet-daclip", config="nafnet_daclip_tiny", daclip=daclip, random_init=True
        ),
        path,
        marker,
    )


def test_zoo_weights_in_the_cache_refuse_payload(tmp_path: Path, marker: Path, monkeypatch) -> None:
    """``--weights zoo`` with a tampered file already in the weights cache (card not pinned)."""
    from uirbench.models.registry import build_restorer
    from uirbench.restore import zoo_card

    cache = tmp_path / "weights"
    monkeypatch.setenv("UIRBENCH_WEIGHTS", str(cache))
    for entry in zoo_card("ours")["weights"]:
        _save_evil(cache / entry["file"], marker)
    path = cache / zoo_card("ours")["weights"][0]["file"]
    _refused(lambda: build_restorer("ours", weights="zoo"), path, marker)


@pytest.mark.parametrize("metric", ["lpips", "fid"])
def test_pyiqa_metric_weights_refuse_payload(
    tmp_path: Path, marker: Path, monkeypatch, metric: str
) -> None:
    """pyiqa loads its weights with ``weights_only=False``; uirbench checks them first."""
    pytest.importorskip("pyiqa", reason="pyiqa is the optional [eval] extra")
    from uirbench.evaluate.metrics.pyiqa_metric import check_weights, explicit_options
    from uirbench.evaluate.profiles import get_profile

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    opts = explicit_options(metric, get_profile("daclip").pyiqa.get(metric))
    from uirbench.evaluate.metrics.pyiqa_metric import required_weights

    files = required_weights(metric, opts)
    assert files, f"uirbench should know which weight files {metric} loads"
    for f in files:
        _save_evil(f.path, marker)
    _refused(lambda: check_weights(metric, opts), files[0].path, marker)


# ----------------------------------------------------------------------------- what still loads
def test_safetensors_and_plain_state_dicts_load(tmp_path: Path) -> None:
    from uirbench.train.checkpoint import load_checkpoint, load_tensor_file, save_checkpoint

    state = {"weight": torch.arange(4.0).reshape(2, 2), "bias": torch.ones(2)}
    stem = save_checkpoint(tmp_path / "ckpt" / "last", state, {"step": 7})
    tensors, meta = load_checkpoint(stem)
    assert meta == {"step": 7} and all(torch.equal(tensors[k], state[k]) for k in state)
    for legacy in (False, True):
        path = tmp_path / f"plain{int(legacy)}.pth"
        torch.save(state, path, _use_new_zipfile_serialization=not legacy)
        got = load_tensor_file(path)
        assert all(torch.equal(got[k], state[k]) for k in state)


def test_plain_restoration_and_daclip_weights_load(tmp_path: Path) -> None:
    from uirbench.models.daclip import build_daclip, export_official
    from uirbench.models.registry import build_restorer
    from uirbench.restore import build_network, load_model_config

    torch.manual_seed(0)
    net = build_network(load_model_config("nafnet_tiny"))
    path = tmp_path / "nafnet.pth"
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, path)  # DDP-style keys
    restorer = build_restorer("nafnet", weights=str(path), config="nafnet_tiny")
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in restorer.model.state_dict().items())

    model = build_daclip("daclip_tiny", clip_weights="none")
    official = export_official(model, tmp_path / "daclip.pt")
    again = build_daclip("daclip_tiny", weights=official)
    a, b = model.state_dict(), again.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_no_unsafe_deserialisation_in_the_package() -> None:
    """Every ``torch.load`` passes ``weights_only=True``; no ``pickle.load(s)``, no
    ``np.load(..., allow_pickle=True)`` anywhere in uirbench/."""
    import ast

    package = Path(__file__).resolve().parents[2] / "uirbench"
    bad = []
    for py in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(py.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value.id if isinstance(node.func.value, ast.Name) else ""
            call = f"{owner}.{node.func.attr}"
            kw = {k.arg: k.value for k in node.keywords}
            where = f"{py.relative_to(package.parent)}:{node.lineno} {call}"
            if call == "torch.load":
                flag = kw.get("weights_only")
                if not (isinstance(flag, ast.Constant) and flag.value is True):
                    bad.append(where)
            elif call in ("pickle.load", "pickle.loads", "dill.load", "joblib.load"):
                bad.append(where)
            elif call == "np.load":
                flag = kw.get("allow_pickle")
                if isinstance(flag, ast.Constant) and flag.value is not False:
                    bad.append(where)
    assert bad == []


def test_checkpoint_json_cannot_size_an_allocation(tmp_path: Path, monkeypatch) -> None:
    """A checkpoint whose JSON names a bigger network than its tensors (an edited
    ``model_config``) is refused before that network is allocated: it is first built on the
    meta device. (An edited JSON drove `restore` into an out-of-memory kill.)"""
    import uirbench.models.restorer as restorer_mod
    from uirbench.models.networks import build_network, load_model_config
    from uirbench.train.checkpoint import save_checkpoint

    small = load_model_config("nafnet_tiny")
    net = build_network(small)
    big = {**small, "net": {**small["net"], "width": 4096}}  # ~65,000x the parameters
    tensors = {f"net.{k}": v for k, v in net.state_dict().items()}
    stem = save_checkpoint(tmp_path / "last", tensors, {"model_config": big})
    built: list[dict] = []

    def spy(cfg):  # the real (allocating) build
        built.append(cfg)
        return build_network(cfg)

    monkeypatch.setattr(restorer_mod, "build_network", spy)
    with pytest.raises(UirbenchError, match=r"do not fit the model config: .* differ in shape"):
        restorer_mod.build("nafnet", weights=str(stem) + ".safetensors")
    assert built == []  # refused from the meta-device build; nothing allocated
