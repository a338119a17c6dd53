"""The Gaussian blur of the official DA-CLIP-mix composites (``OPS['gaussian_blur']``) against the
official ``deg_util.degrade(img, 'blur', kernel_size)``.

Oracle: tests/fixtures/gaussian_blur/cases.json, made once by running the official function on
fixed seeds (make.py there says how): the same array to the bit (dtype, shape, sha256).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from uirbench.data.synth import apply, pair_degradation_text, wild
from uirbench.errors import UirbenchError
from uirbench.tasks import Task

FIXTURES = Path(__file__).parent / "fixtures"
CASES = json.loads((FIXTURES / "gaussian_blur" / "cases.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"k{c['kernel_size']}-s{c['seed']}")
def test_matches_official_degrade_blur(case):
    bgr = cv2.imread(str(FIXTURES / "wild_degrade" / "input.png")).astype(np.float32) / 255.0
    out, sigma = wild.gaussian_blur_bgr(bgr, wild.Draws.seeded(case["seed"]), case["kernel_size"])
    assert 0.6 <= sigma <= 5.0
    assert str(out.dtype) == case["dtype"] and list(out.shape) == case["shape"]
    assert hashlib.sha256(np.ascontiguousarray(out).tobytes()).hexdigest() == case["sha256"]


def test_operator_is_seeded_blurs_and_keeps_size():
    gt = cv2.resize(
        np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8), (64, 48)
    )
    a, used = apply("gaussian_blur", gt, 5)
    b, _ = apply("gaussian_blur", gt, 5)
    c, used_c = apply("gaussian_blur", gt, 6)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.shape == gt.shape and used["kernel_size"] == 21 and used["sigma"] != used_c["sigma"]
    # a blur: less high-frequency energy than the GT
    lap = [np.abs(cv2.Laplacian(x.astype(np.float32), cv2.CV_32F)).mean() for x in (gt, a)]
    assert lap[1] < lap[0] * 0.8


@pytest.mark.parametrize(
    ("params", "message"),
    [({"kernel_size": 20}, "positive odd"), ({"sigma_range": [3, 1]}, "0 < low < high")],
)
def test_bad_parameters_are_named(params, message):
    gt = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(UirbenchError, match=f"gaussian_blur: .*{message}"):
        apply("gaussian_blur", gt, 0, **params)


def test_pair_text_is_what_the_draw_applied_else_the_task_text():
    task = Task(id="t", folder="t", text="low-light, hazy")
    assert pair_degradation_text(task, None) == "low-light, hazy"
    assert pair_degradation_text(task, '{"sigma": 50.0}') == "low-light, hazy"
    assert pair_degradation_text(task, {"text": "blur, jpeg block"}) == "blur, jpeg block"
    # a chain with a wild step: the steps' texts in order (a plain step: its operator's text)
    steps = [{"op": "low_light"}, {"op": "wild", "text": "blur, noise"}, {"op": "gaussian_blur"}]
    assert (
        pair_degradation_text(task, json.dumps({"steps": steps}))
        == "low-light, blur, noise, gaussian blur"
    )
    nothing = [{"op": "wild", "text": "clean"}]
    assert pair_degradation_text(task, {"steps": nothing}) == "clean"
    # a chain of plain steps keeps the task's own text (a user's text wins)
    assert pair_degradation_text(task, {"steps": [{"op": "low_light"}, {"op": "haze"}]}) == (
        "low-light, hazy"
    )
