"""Weights: evaluate names every absent file at once; `weights fetch` through torch.hub and
huggingface_hub caches, served from 127.0.0.1, sha256 checked, HF_HUB_OFFLINE honoured."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from uirbench import hub
from uirbench.errors import ChecksumError, UirbenchError
from uirbench.evaluate import run
from uirbench.io import write_png

REPO_ROOT = Path(__file__).resolve().parents[1]
COMMIT = "a" * 40


class _Server:
    """Serves ``files`` by path, for plain GETs and the Hugging Face ``resolve`` protocol (HEAD
    with X-Repo-Commit / ETag / Content-Length, then GET); records every request."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _head(self) -> bytes | None:
                server.requests.append((self.command, self.path))
                data = server.files.get(self.path.split("?")[0])
                if data is None:
                    self.send_error(404)
                    return None
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.end_headers()
                return data

            def do_HEAD(self) -> None:
                self._head()

            def do_GET(self) -> None:
                data = self._head()
                if data is not None:
                    self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture()
def server():
    s = _Server()
    yield s
    s.httpd.shutdown()


def test_url_fetch_goes_to_its_torch_hub_path_and_checks_the_name_prefix(server, tmp_path):
    data = b"linear-layers" * 100
    good = f"w-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    server.files[f"/{good}"] = data
    server.files["/w-00000000.pth"] = data  # the name's prefix does not match the content
    dest = tmp_path / "torch" / "hub" / "pyiqa" / good
    r = hub.Remote("test weights", f"{server.url}/{good}", path=dest)
    assert hub.locate(r) is None
    assert hub.fetch(r) == dest and dest.read_bytes() == data
    n = len(server.requests)
    assert hub.fetch(r) == dest and len(server.requests) == n  # cached: no request
    bad = tmp_path / "torch" / "hub" / "pyiqa" / "w-00000000.pth"
    with pytest.raises(ChecksumError, match="differs from the pinned 00000000"):
        hub.fetch(hub.Remote("test weights", f"{server.url}/w-00000000.pth", path=bad))
    assert not bad.exists()  # a rerun downloads it again


def test_url_fetch_offline_names_the_file_and_makes_no_request(server, tmp_path, monkeypatch):
    server.files["/x-12345678.pth"] = b"x"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    dest = tmp_path / "hub" / "x-12345678.pth"
    r = hub.Remote("test weights", f"{server.url}/x-12345678.pth", path=dest)
    with pytest.raises(UirbenchError, match=r"not at .*x-12345678.pth and HF_HUB_OFFLINE is set"):
        hub.fetch(r)
    assert server.requests == [] and not dest.exists()


def test_url_fetch_goes_through_the_one_http_path(server, tmp_path):
    """Weights download like datasets (uirbench.download): into ``<name>.part``, renamed only
    when complete, with progress reported; a host that does not resolve fails at once, in one
    line naming the URL and the folder to put the file in by hand."""
    data = b"w" * 5000
    name = f"w-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    server.files[f"/{name}"] = data
    dest = tmp_path / "hub" / name
    dest.parent.mkdir()
    dest.with_name(name + ".part").write_bytes(b"stale")  # this server ignores Range: restarts
    seen = []
    r = hub.Remote("test weights", f"{server.url}/{name}", path=dest)
    assert hub.fetch(r, progress=lambda *a: seen.append(a)) == dest and dest.read_bytes() == data
    assert not dest.with_name(name + ".part").exists() and seen[-1] == (name + ".part", 5000, 5000)
    far = hub.Remote("w", "http://uirbench-test.invalid/w-12345678.pth", path=tmp_path / "x.pth")
    t0 = time.monotonic()
    with pytest.raises(UirbenchError) as exc:
        hub.fetch(far)
    assert time.monotonic() - t0 < 10 and not (tmp_path / "x.pth").exists()
    msg = str(exc.value)
    assert "http://uirbench-test.invalid/w-12345678.pth" in msg and "not retried" in msg, msg
    assert f"by hand into {tmp_path}" in msg and "\n" not in msg, msg


def test_weights_fetch_command_downloads_a_url_file_with_its_bar(server, tmp_path, monkeypatch):
    """`uirbench weights fetch NAME` of a zoo card whose file has a plain URL: downloaded
    through the one HTTP path into $UIRBENCH_WEIGHTS, sha256 checked, one result line on stdout; a
    second run only verifies (no request)."""
    from typer.testing import CliRunner

    from uirbench.cli.app import app

    data = b"zoo-url-weights" * 300
    server.files["/w.pth"] = data
    home = tmp_path / "home"
    (home / "zoo").mkdir(parents=True)
    sha = hashlib.sha256(data).hexdigest()
    (home / "zoo" / "urlcard.yaml").write_text(
        f"name: urlcard\nweights:\n  - {{role: model, file: w.pth, url: {server.url}/w.pth, "
        f"sha256: '{sha}'}}\n"
    )
    monkeypatch.setenv("UIRBENCH_HOME", str(home))
    monkeypatch.setenv("UIRBENCH_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    result = CliRunner().invoke(app, ["weights", "fetch", "urlcard"])
    assert result.exit_code == 0, result.output
    assert "(sha256 ok)" in result.output and "w.pth" in result.output, result.output
    assert (tmp_path / "weights" / "w.pth").read_bytes() == data
    n = len(server.requests)
    again = CliRunner().invoke(app, ["weights", "fetch", "urlcard"])
    assert again.exit_code == 0 and "(sha256 ok)" in again.output and len(server.requests) == n


_HF_SCRIPT = """
import json, sys
from uirbench import hub
from uirbench.errors import UirbenchError
out = {}
for f in sys.argv[1:]:
    r = hub.Remote("zoo test", "unused", hf_repo="org/model", hf_file=f.split(":")[0],
                   sha256=(f.split(":") + [None])[1] or None)
    try:
        out[f] = str(hub.fetch(r))
    except UirbenchError as exc:
        out[f] = "ERROR " + str(exc)
print(json.dumps(out))
"""


def _hf_fetch(tmp_path: Path, server: _Server, files: list[str], offline: bool) -> dict:
    """Fetch in a fresh interpreter: huggingface_hub reads HF_HUB_OFFLINE when imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env |= {
        "HF_HOME": str(tmp_path / "hf"),
        "HF_ENDPOINT": server.url,
        "PYTHONPATH": str(REPO_ROOT),
    }
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    cmd = [sys.executable, "-c", _HF_SCRIPT, *files]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_hf_fetch_uses_hf_home_verifies_and_honours_offline(server, tmp_path):
    data = b"daclip-weights" * 1000
    sha = hashlib.sha256(data).hexdigest()
    for name in ("model.pt", "other.pt"):
        server.files[f"/org/model/resolve/main/{name}"] = data
    got = _hf_fetch(tmp_path, server, [f"model.pt:{sha}"], offline=False)
    path = Path(got[f"model.pt:{sha}"])
    assert path.is_relative_to(tmp_path / "hf" / "hub") and path.read_bytes() == data
    assert any(p.endswith("/model.pt") for _, p in server.requests)

    server.requests.clear()
    got = _hf_fetch(tmp_path, server, [f"model.pt:{sha}", "other.pt", f"model.pt:{'0' * 64}"], True)
    assert Path(got[f"model.pt:{sha}"]) == path  # cached file served offline
    assert got["other.pt"].startswith("ERROR") and "HF_HUB_OFFLINE is set" in got["other.pt"]
    assert "differs from the pinned 0000" in got[f"model.pt:{'0' * 64}"]
    assert server.requests == []  # offline: not one request


def _folders(tmp: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    for i in range(2):
        gt = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        write_png(tmp / "gt" / f"{i}.png", gt)
        write_png(tmp / "outs" / f"{i}.png", 255 - gt)
    return tmp / "gt", tmp / "outs"


def test_evaluate_without_metric_weights_names_every_file_then_psnr_ssim_scores(
    tmp_path, monkeypatch
):
    pytest.importorskip("pyiqa", reason="LPIPS/FID are the optional [eval] extra")
    gt, outs = _folders(tmp_path)
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "empty_torch"), "PYTHONPATH": str(REPO_ROOT)}
    env["COLUMNS"] = "2000"  # rich wraps stderr at 80 columns otherwise
    cmd = [sys.executable, "-m", "uirbench", "evaluate", "--gt", str(gt), "--outputs", str(outs)]
    cmd += ["--workers", "1", "--out", str(tmp_path / "r1")]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2, r.stderr
    for name in ("LPIPS_v0.1_alex-df73285e.pth", "alexnet-owt-7be5be79.pth", "pt_inception"):
        assert name in r.stderr, r.stderr  # all three in the one message
    assert "uirbench weights fetch lpips fid" in r.stderr and "--metrics psnr,ssim" in r.stderr
    assert not (tmp_path / "r1").exists()
    monkeypatch.setenv("TORCH_HOME", env["TORCH_HOME"])
    res = run(root=None, gt=gt, outputs=outs, out=tmp_path / "r2", metrics="psnr,ssim", workers=0)
    assert res["metrics"] == ["psnr", "ssim"] and res["per_task"]["gt"]["n"] == 2


def test_zoo_card_with_a_hub_file_goes_through_the_hf_cache(server, tmp_path, monkeypatch, caplog):
    from uirbench.cli.weights import remotes_for
    from uirbench.restore import fetch_zoo_weights

    data = b"zoo-weights" * 500
    server.files["/org/model/resolve/main/w.pt"] = data
    home = tmp_path / "home"
    (home / "zoo").mkdir(parents=True)
    for name, sha in (("pinned", hashlib.sha256(data).hexdigest()), ("unpinned", None)):
        card = f"name: {name}\nweights:\n  - role: model\n    file: w.pt\n"
        card += "    hf: {repo: org/model, file: w.pt}\n    url: https://example.invalid/w.pt\n"
        card += f"    sha256: {repr(sha) if sha else 'null'}\n"
        (home / "zoo" / f"{name}.yaml").write_text(card)
    monkeypatch.setenv("UIRBENCH_HOME", str(home))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("UIRBENCH_WEIGHTS", raising=False)
    (r,) = remotes_for("pinned")  # what `uirbench weights fetch pinned` fetches
    assert r.hf_repo == "org/model" and r.sha256 == hashlib.sha256(data).hexdigest()
    path = fetch_zoo_weights("pinned")["model"]
    assert path.is_relative_to(tmp_path / "hf" / "hub") and path.read_bytes() == data
    assert fetch_zoo_weights("unpinned")["model"] == path
    # its sha256 logged (the library's one way to speak), to pin in the card
    assert "not pinned yet" in caplog.text and "unpinned.yaml" in caplog.text
    with pytest.raises(
        UirbenchError, match=r"unknown name; metrics: lpips, fid.*; zoo models: pinned, unpinned"
    ):
        remotes_for("nosuch")
