"""Command-line overrides of recipe settings keep the setting's type, as a user types them."""

from __future__ import annotations

import pytest

from uirbench.errors import UirbenchError
from uirbench.train.recipe import apply_overrides

DEFAULTS = {"train": {"amp": "auto", "resume": "auto", "steps": 10, "lr": 1e-3, "flips": True}}


@pytest.mark.parametrize("raw", ["off", "on", "yes", "no", "true", "100", "1e-4"])
def test_text_settings_take_the_text_as_typed(raw):
    # YAML alone reads off/yes/true as booleans and 100 as a number: a text setting must not.
    out = apply_overrides(DEFAULTS, [f"train.amp={raw}"])
    assert out["train"]["amp"] == raw


def test_typed_settings_still_parse_and_check():
    out = apply_overrides(DEFAULTS, ["steps=5", "lr=1e-4", "flips=off", "train.resume=null"])
    assert out["train"] == {"amp": "auto", "resume": None, "steps": 5, "lr": 1e-4, "flips": False}
    with pytest.raises(UirbenchError, match=r"'train\.steps' must be a int"):
        apply_overrides(DEFAULTS, ["steps=many"])
    assert DEFAULTS["train"]["steps"] == 10  # the defaults are never modified
