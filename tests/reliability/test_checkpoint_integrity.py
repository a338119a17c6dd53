"""A checkpoint is two renames (tensors, then JSON). A kill between them must never pair new
tensors with the old JSON silently: the JSON records the tensors' sha256, every loader checks it,
and the previous complete checkpoint stays reachable until the new pair is complete."""

import contextlib
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import uirbench.train.checkpoint as ck
from uirbench.errors import UirbenchError
from uirbench.io import TMP_PREFIX


class Killed(BaseException):
    """Stands in for SIGKILL at a chosen line (BaseException: nothing catches it on the way)."""


def _state(step: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(step)
    return {"net.w": torch.randn(4, 3, generator=g), "net.b": torch.full((3,), float(step))}


def _kill_before_json(monkeypatch) -> None:
    """The next save dies after its tensors are renamed into place, before the JSON is."""

    def write(dest, text):
        raise Killed

    monkeypatch.setattr(ck, "atomic_write_text", write)


def _files(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _assert_state(tensors, step) -> None:
    want = _state(step)
    assert tensors.keys() == want.keys()
    for k in want:
        assert torch.equal(tensors[k], want[k]), k


def test_kill_between_the_two_renames_is_caught_and_resume_uses_the_previous(tmp_path, monkeypatch):
    from uirbench.models.daclip import read_daclip_state
    from uirbench.restore import network_state_from_file

    stem = tmp_path / "checkpoints" / "last"
    ck.save_checkpoint(stem, _state(1), {"step": 1})
    assert _files(stem.parent) == ["last.json", "last.safetensors"]  # steady state: one pair
    with monkeypatch.context() as m:
        _kill_before_json(m)
        with pytest.raises(Killed):
            ck.save_checkpoint(stem, _state(2), {"step": 2})
    # new tensors next to the step-1 JSON, and the step-1 pair kept as last.prev.*
    assert _files(stem.parent) == [
        "last.json", "last.prev.json", "last.prev.safetensors", "last.safetensors",
    ]  # fmt: skip
    tensors_file, json_file = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    # every loader refuses the mismatched pair, naming both files and the way out
    loaders = {
        "load_checkpoint": lambda: ck.load_checkpoint(stem),
        "load_checkpoint(.json)": lambda: ck.load_checkpoint(json_file),
        "load_tensor_file": lambda: ck.load_tensor_file(tensors_file),
        "restore --weights": lambda: network_state_from_file(tensors_file),
        "classify --weights": lambda: read_daclip_state(tensors_file),
    }
    for name, load in loaders.items():
        with pytest.raises(ck.CheckpointMismatchError) as err:
            load()
        msg = str(err.value)
        assert str(tensors_file) in msg and str(json_file) in msg, name
        assert "last.prev.safetensors" in msg and "resume=auto" in msg, name
    # resume=auto falls back to the intact previous pair, and says so
    said = []
    found = ck.find_resume_checkpoint(stem, said.append)
    assert found == ck.previous_stem(stem)
    assert "does not belong to" in said[0] and "resuming from" in said[0]
    tensors, meta = ck.load_checkpoint(found)
    _assert_state(tensors, 1)
    assert meta == {"step": 1}

    # A second kill in the same window (the resumed run saving again) must not replace the
    # intact previous pair by the broken current one.
    with monkeypatch.context() as m:
        _kill_before_json(m)
        with pytest.raises(Killed):
            ck.save_checkpoint(stem, _state(3), {"step": 3})
    tensors, meta = ck.load_checkpoint(ck.find_resume_checkpoint(stem))
    _assert_state(tensors, 1)
    # A complete save: one good pair again, nothing else left.
    ck.save_checkpoint(stem, _state(3), {"step": 3})
    assert _files(stem.parent) == ["last.json", "last.safetensors"]
    assert ck.find_resume_checkpoint(stem) == stem
    tensors, meta = ck.load_checkpoint(stem)
    _assert_state(tensors, 3)
    assert meta == {"step": 3}


@pytest.mark.parametrize("calls_before_kill", [0, 1])
def test_kill_while_keeping_the_previous_pair_leaves_the_current_one(
    tmp_path, monkeypatch, calls_before_kill
):
    """Killed while linking last -> last.prev (before either link, or between the two)."""
    stem = tmp_path / "last"
    ck.save_checkpoint(stem, _state(1), {"step": 1})
    real = ck._link_or_copy
    calls = {"n": 0}

    def link(src, dest):
        if calls["n"] == calls_before_kill:
            raise Killed
        calls["n"] += 1
        real(src, dest)

    with monkeypatch.context() as m:
        m.setattr(ck, "_link_or_copy", link)
        with pytest.raises(Killed):
            ck.save_checkpoint(stem, _state(2), {"step": 2})
    assert ck.find_resume_checkpoint(stem) == stem
    _assert_state(ck.load_checkpoint(stem)[0], 1)
    ck.save_checkpoint(stem, _state(2), {"step": 2})
    _assert_state(ck.load_checkpoint(stem)[0], 2)
    assert _files(tmp_path) == ["last.json", "last.safetensors"]


def test_links_fall_back_to_copies(tmp_path, monkeypatch):
    """On a filesystem without hard links the previous pair is copied instead."""
    stem = tmp_path / "last"
    ck.save_checkpoint(stem, _state(1), {"step": 1})

    def no_link(src, dst):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(ck.os, "link", no_link)
    with monkeypatch.context() as m:
        _kill_before_json(m)
        with pytest.raises(Killed):
            ck.save_checkpoint(stem, _state(2), {"step": 2})
    _assert_state(ck.load_checkpoint(ck.find_resume_checkpoint(stem))[0], 1)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TMP_PREFIX)]


def test_damaged_tensors_without_a_previous_pair_say_what_to_delete(tmp_path):
    stem = tmp_path / "last"
    ck.save_checkpoint(stem, _state(1), {"step": 1})
    path = stem.with_suffix(".safetensors")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit of one tensor: safetensors itself would load it
    path.write_bytes(bytes(data))
    for fn in (ck.find_resume_checkpoint, ck.load_checkpoint):
        with pytest.raises(ck.CheckpointMismatchError, match="delete both files") as err:
            fn(stem)
        assert str(path) in str(err.value) and str(stem.with_suffix(".json")) in str(err.value)


def test_checkpoints_written_before_the_digest_still_load(tmp_path):
    """A JSON without ``tensors_sha256`` (older uirbench) is accepted as before, by every loader
    and by resume; saving over it works and adds the digest."""
    from safetensors.torch import save_file

    stem = tmp_path / "checkpoints" / "last"
    stem.parent.mkdir()
    save_file(_state(1), str(stem.with_suffix(".safetensors")), metadata={"format": "pt"})
    stem.with_suffix(".json").write_text(json.dumps({"step": 1}, indent=1) + "\n")
    assert ck.find_resume_checkpoint(stem) == stem
    tensors, meta = ck.load_checkpoint(stem)
    _assert_state(tensors, 1)
    assert meta == {"step": 1}
    _assert_state(ck.load_tensor_file(stem.with_suffix(".safetensors")), 1)
    ck.save_checkpoint(stem, _state(2), {"step": 2})
    assert ck.DIGEST_KEY in json.loads(stem.with_suffix(".json").read_text())
    _assert_state(ck.load_checkpoint(stem)[0], 2)


def test_no_checkpoint_means_a_fresh_start(tmp_path):
    stem = tmp_path / "last"
    assert ck.find_resume_checkpoint(stem) is None
    # a first save killed before its JSON: there is nothing complete to resume from
    with pytest.MonkeyPatch.context() as m:
        _kill_before_json(m)
        with pytest.raises(Killed):
            ck.save_checkpoint(stem, _state(1), {"step": 1})
    assert ck.find_resume_checkpoint(stem) is None
    ck.save_checkpoint(stem, _state(1), {"step": 1})
    assert _files(tmp_path) == ["last.json", "last.safetensors"]


def test_explicit_resume_of_a_mismatched_pair_is_refused(tmp_path, monkeypatch):
    """`train.resume=PATH` names a checkpoint: a mismatch is an error, not a silent fallback."""
    from uirbench.train.loop import find_resume

    stem = tmp_path / "run" / "checkpoints" / "last"
    ck.save_checkpoint(stem, _state(1), {"step": 1})
    with monkeypatch.context() as m:
        _kill_before_json(m)
        with pytest.raises(Killed):
            ck.save_checkpoint(stem, _state(2), {"step": 2})
    cfg = {"train": {"resume": str(stem)}, "output": str(tmp_path / "run")}
    explicit = find_resume(cfg)
    with pytest.raises(UirbenchError, match="does not belong to"):
        ck.load_checkpoint(explicit)
    cfg["train"]["resume"] = "auto"
    assert find_resume(cfg) == ck.previous_stem(stem)


def test_checkpoint_tensors_are_written_as_the_safetensors_library_writes_them(tmp_path):
    """uirbench streams checkpoints itself (plain writes: a full disk is an OSError, no stray
    temporary of the library's); the bytes must equal ``safetensors.torch.save``'s."""
    from safetensors.torch import load_file, save

    g = torch.Generator().manual_seed(0)
    tensors = {
        "w": torch.randn(3, 5, generator=g),
        "half": torch.randn(7, generator=g).half(),
        "bf16": torch.randn(2, 3, generator=g).bfloat16(),
        "f64": torch.randn(3, generator=g, dtype=torch.float64),
        "flag": torch.tensor(True),
        "empty": torch.zeros(0, 3),
        "scalar": torch.tensor(2.5),
        "transposed": torch.randn(4, 6, generator=g).t(),  # not contiguous
        **{str(d).split(".")[1]: torch.arange(3, dtype=d) for d in (torch.uint8, torch.int8)},
        **{str(d).split(".")[1]: torch.arange(3, dtype=d) for d in (torch.int16, torch.int32)},
        "int64": torch.arange(5),
    }
    path = tmp_path / "t.safetensors"
    digest = ck.write_safetensors(path, tensors, {"format": "pt"})
    want = save({k: v.contiguous() for k, v in tensors.items()}, metadata={"format": "pt"})
    assert path.read_bytes() == want
    assert digest == hashlib.sha256(want).hexdigest()
    # tied weights (one storage, two names) need no clone and load as two equal tensors
    tied = {"embed": tensors["w"], "head": tensors["w"]}
    ck.save_checkpoint(tmp_path / "tied", tied, {})
    got = load_file(str(tmp_path / "tied.safetensors"))
    assert torch.equal(got["embed"], tensors["w"]) and torch.equal(got["head"], tensors["w"])
    with pytest.raises(UirbenchError, match="complex64"):
        ck.write_safetensors(
            tmp_path / "c.safetensors", {"z": torch.zeros(2, dtype=torch.complex64)}
        )


def test_the_cli_reports_a_mismatched_checkpoint_without_a_traceback(tmp_path, monkeypatch):
    """`uirbench restore --weights` on a pair split by a kill: exit 2, both files named."""
    from uirbench.io import write_png
    from uirbench.restore import build_network, load_model_config

    cfg = load_model_config("nafnet_tiny")
    stem = tmp_path / "run" / "checkpoints" / "last"
    for step in (1, 2):
        torch.manual_seed(step)
        state = {f"net.{k}": v for k, v in build_network(cfg).state_dict().items()}
        with monkeypatch.context() as m:
            if step == 2:
                _kill_before_json(m)
            with pytest.raises(Killed) if step == 2 else contextlib.nullcontext():
                ck.save_checkpoint(stem, state, {"step": step, "model_config": cfg})
    write_png(tmp_path / "in.png", np.zeros((16, 16, 3), np.uint8))
    tensors = stem.with_suffix(".safetensors")
    cmd = [
        sys.executable, "-m", "uirbench", "restore", str(tmp_path / "in.png"),
        "--model", "nafnet", "--weights", str(tensors), "--out", str(tmp_path / "out"),
    ]  # fmt: skip
    env = {**os.environ, "COLUMNS": "1000"}  # no wrapping inside paths
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    assert "does not belong to" in res.stderr
    assert str(tensors) in res.stderr and str(stem.with_suffix(".json")) in res.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
