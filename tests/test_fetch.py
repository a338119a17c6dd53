"""Fetching: resumable downloads from a local server, verification, quarantine, pins, mirrors."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from uirbench.data import fetch
from uirbench.errors import ChecksumError, UirbenchError


class _Server:
    """Serves ``files``; ``cut[path] = (n_requests, n_bytes)`` cuts that many responses early."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut: dict[str, list[int]] = {}
        self.honour_range = True
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                if rng and server.honour_range:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                cut = server.cut.get(self.path)
                if cut and cut[0] > 0:
                    cut[0] -= 1
                    self.wfile.write(body[: cut[1]])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    yield s
    s.close()


def _payload(n: int = 300_000) -> bytes:
    return bytes((i * 7919 + i // 251) % 256 for i in range(n))


def _zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _manifest(tmp: Path, artifacts: list[dict], name: str = "toy", **extra) -> Path:
    d = tmp / "manifests"
    d.mkdir(exist_ok=True)
    data = {
        "name": name,
        "title": "Toy source",
        "tasks": ["noisy"],
        "adapter": "folder",
        "licence": {"name": "test", "terms": "test only"},
        "manual": "Get toy.zip from the toy website.",
        "artifacts": artifacts,
        **extra,
    }
    (d / f"{name}.yaml").write_text(yaml.safe_dump(data))
    return d


# ------------------------------------------------------------------ http_download


def test_cut_download_resumes_and_verifies(server: _Server, tmp_path: Path) -> None:
    data = _payload()
    server.files["/big.bin"] = data
    server.cut["/big.bin"] = [1, 100_000]
    part = tmp_path / "big.bin.part"
    with pytest.raises(fetch.DownloadError, match="kept"):
        fetch.http_download(f"{server.url}/big.bin", part, retries=0)
    assert 0 < part.stat().st_size <= 100_000
    have = part.stat().st_size
    fetch.http_download(f"{server.url}/big.bin", part, retries=0)
    assert server.requests[-1] == ("/big.bin", f"bytes={have}-")
    assert hashlib.sha256(part.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()


def test_retries_resume_within_one_call(server: _Server, tmp_path: Path) -> None:
    data = _payload()
    server.files["/f"] = data
    server.cut["/f"] = [2, 50_000]
    part = tmp_path / "f.part"
    fetch.http_download(f"{server.url}/f", part, retries=3, backoff=0)
    assert part.read_bytes() == data
    assert server.requests[0][1] is None
    assert all(r and r.startswith("bytes=") for _, r in server.requests[1:])
    assert len(server.requests) == 3


def test_server_ignoring_range_restarts(server: _Server, tmp_path: Path) -> None:
    data = _payload(20_000)
    server.files["/f"] = data
    server.honour_range = False
    part = tmp_path / "f.part"
    part.write_bytes(data[:5000] + b"garbage")
    fetch.http_download(f"{server.url}/f", part, retries=0)
    assert part.read_bytes() == data


def test_a_body_larger_than_the_manifest_size_is_refused_as_it_arrives(
    server: _Server, tmp_path: Path
) -> None:
    """The manifest's size bounds the download: a body announced larger (Content-Length, also on
    a resume whose total would pass it) is refused before it is read, and the partial file is
    deleted, not kept for a resume. (A body without a length is stopped as it passes the size;
    this test server always sends one.)"""
    server.files["/f"] = _payload(50_000)
    part = tmp_path / "f.part"
    with pytest.raises(fetch.DownloadError, match="the manifest says 10,000"):
        fetch.http_download(f"{server.url}/f", part, retries=0, max_bytes=10_000)
    assert not part.exists()
    part.write_bytes(b"x" * 9_000)  # a resume that would run past the size
    with pytest.raises(fetch.DownloadError, match="the manifest says 10,000"):
        fetch.http_download(f"{server.url}/f", part, retries=0, max_bytes=10_000)
    assert not part.exists()
    fetch.http_download(f"{server.url}/f", part, retries=0, max_bytes=50_000)  # exact size: ok
    assert part.read_bytes() == server.files["/f"]


def test_http_404_is_not_retried(server: _Server, tmp_path: Path) -> None:
    with pytest.raises(fetch.DownloadError, match="404"):
        fetch.http_download(f"{server.url}/missing", tmp_path / "x.part", retries=3, backoff=0)
    assert len(server.requests) == 1


# ------------------------------------------------------------------ ensure_source


def test_ensure_source_downloads_verifies_extracts_once(server: _Server, tmp_path: Path) -> None:
    z = _zip_bytes({"toy/a.txt": b"A", "toy/b.txt": b"B"})
    server.files["/toy.zip"] = z
    server.cut["/toy.zip"] = [1, len(z) // 2]
    man = _manifest(
        tmp_path,
        [
            {
                "path": "toy.zip",
                "size": len(z),
                "sha256": hashlib.sha256(z).hexdigest(),
                "extract": True,
                "locations": [{"url": f"{server.url}/toy.zip"}],
            }
        ],
    )
    raw = tmp_path / "raw"
    out = fetch.ensure_source("toy", raw, manifests=man)
    assert out == raw / "toy"
    assert (out / "toy" / "toy" / "a.txt").read_bytes() == b"A"
    n = len(server.requests)
    fetch.ensure_source("toy", raw, manifests=man)  # ready: nothing fetched again
    assert len(server.requests) == n
    assert not (raw / fetch.LOCK_NAME).exists()  # published sha256: nothing to pin


def test_checksum_mismatch_quarantines_and_extracts_nothing(
    server: _Server, tmp_path: Path
) -> None:
    z = _zip_bytes({"a.txt": b"A"})
    server.files["/toy.zip"] = z
    man = _manifest(
        tmp_path,
        [
            {
                "path": "toy.zip",
                "sha256": "0" * 64,
                "extract": True,
                "locations": [{"url": f"{server.url}/toy.zip"}],
            }
        ],
    )
    raw = tmp_path / "raw"
    with pytest.raises(ChecksumError, match="quarantine") as exc:
        fetch.ensure_source("toy", raw, manifests=man)
    assert "toy.zip" in str(exc.value)
    assert not (raw / "toy" / "toy").exists()
    assert not (raw / "toy" / "toy.zip").exists()
    q = list((raw / fetch.QUARANTINE_DIR / "toy").iterdir())
    assert len(q) == 1 and q[0].read_bytes() == z


def test_first_download_pins_then_later_runs_verify(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = b"version one"
    man = _manifest(
        tmp_path, [{"path": "data.bin", "locations": [{"url": f"{server.url}/data.bin"}]}]
    )
    raw = tmp_path / "raw"
    fetch.ensure_source("toy", raw, manifests=man)
    lock = json.loads((raw / fetch.LOCK_NAME).read_text())
    pinned = lock["files"]["toy/data.bin"]
    assert pinned["sha256"] == hashlib.sha256(b"version one").hexdigest()
    assert pinned["origin"].endswith("/data.bin")
    # upstream changes the file; the raw copy is lost: the pin catches the change
    server.files["/data.bin"] = b"version two"
    (raw / "toy" / "data.bin").unlink()
    with pytest.raises(ChecksumError, match=fetch.LOCK_NAME):
        fetch.ensure_source("toy", raw, manifests=man)
    assert not (raw / "toy" / "data.bin").exists()
    assert len(list((raw / fetch.QUARANTINE_DIR / "toy").iterdir())) == 1


def test_tampered_ready_file_is_rehashed(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = b"good"
    sha = hashlib.sha256(b"good").hexdigest()
    man = _manifest(
        tmp_path,
        [{"path": "data.bin", "sha256": sha, "locations": [{"url": f"{server.url}/data.bin"}]}],
    )
    raw = tmp_path / "raw"
    fetch.ensure_source("toy", raw, manifests=man)
    (raw / "toy" / "data.bin").write_bytes(b"evil")
    with pytest.raises(ChecksumError):
        fetch.ensure_source("toy", raw, manifests=man)


def test_md5_only_source_is_checked(server: _Server, tmp_path: Path) -> None:
    server.files["/f.bin"] = b"payload"
    man = _manifest(
        tmp_path,
        [{"path": "f.bin", "md5": "0" * 32, "locations": [{"url": f"{server.url}/f.bin"}]}],
    )
    with pytest.raises(ChecksumError, match="md5"):
        fetch.ensure_source("toy", tmp_path / "raw", manifests=man)
    assert not (tmp_path / "raw" / fetch.LOCK_NAME).exists()  # nothing pinned on failure


def test_mirror_is_used_before_downloading(server: _Server, tmp_path: Path) -> None:
    good = b"mirror copy"
    mirror = tmp_path / "mirror"
    (mirror / "deep" / "er").mkdir(parents=True)
    (mirror / "deep" / "er" / "one.png").write_bytes(good)  # found by name
    (mirror / "SUB").mkdir()
    (mirror / "SUB" / "two.png").write_bytes(b"wrong bytes")  # right path, wrong sha
    (mirror / "elsewhere").mkdir()
    (mirror / "elsewhere" / "two.png").write_bytes(good)  # same name, right sha
    sha = hashlib.sha256(good).hexdigest()
    man = _manifest(
        tmp_path,
        [{"path": "SUB/one.png", "sha256": sha}, {"path": "SUB/two.png", "sha256": sha}],
        file_locations=[{"url": server.url + "/{path}"}],
    )
    raw = tmp_path / "raw"
    out = fetch.ensure_source("toy", raw, mirror=mirror, manifests=man)
    assert (out / "SUB" / "one.png").read_bytes() == good
    assert (out / "SUB" / "two.png").read_bytes() == good
    assert server.requests == []
    assert (mirror / "SUB" / "two.png").read_bytes() == b"wrong bytes"  # mirror left alone


def test_mirror_archive_extracted_in_place(tmp_path: Path) -> None:
    z = _zip_bytes({"x/y.txt": b"Y"})
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "toy.zip").write_bytes(z)
    man = _manifest(
        tmp_path,
        [
            {
                "path": "toy.zip",
                "sha256": hashlib.sha256(z).hexdigest(),
                "extract": True,
                "locations": [{"gdrive": "1abcdefghijk"}],
            }
        ],
    )
    out = fetch.ensure_source("toy", tmp_path / "raw", mirror=mirror, manifests=man)
    assert (out / "toy" / "x" / "y.txt").read_bytes() == b"Y"
    assert not (out / "toy.zip").exists()  # no copy of the archive


def test_unfetchable_source_says_what_to_do(server: _Server, tmp_path: Path) -> None:
    man = _manifest(
        tmp_path, [{"path": "toy.zip", "locations": [{"url": f"{server.url}/gone.zip"}]}]
    )
    raw = tmp_path / "raw"
    with pytest.raises(fetch.ManualDownloadError) as exc:
        fetch.ensure_source("toy", raw, manifests=man)
    msg = str(exc.value)
    assert "404" in msg and "Get toy.zip from the toy website" in msg
    assert str(raw / "toy" / "toy.zip") in msg and "--mirror" in msg
    with pytest.raises(fetch.ManualDownloadError, match="disabled"):
        fetch.ensure_source("toy", raw, manifests=man, allow_download=False)


def test_hand_placed_file_is_verified_and_used(tmp_path: Path) -> None:
    man = _manifest(tmp_path, [{"path": "toy.bin", "locations": [{"url": "http://127.0.0.1:9/x"}]}])
    raw = tmp_path / "raw"
    (raw / "toy").mkdir(parents=True)
    (raw / "toy" / "toy.bin").write_bytes(b"by hand")
    fetch.ensure_source("toy", raw, manifests=man, allow_download=False)
    assert fetch.LockFile(raw).get("toy/toy.bin") == hashlib.sha256(b"by hand").hexdigest()


def test_optional_alternatives_need_one(server: _Server, tmp_path: Path) -> None:
    server.files["/b.bin"] = b"B"
    arts = [
        {"path": "a.bin", "optional": True, "locations": [{"url": f"{server.url}/a.bin"}]},
        {"path": "b.bin", "optional": True, "locations": [{"url": f"{server.url}/b.bin"}]},
    ]
    out = fetch.ensure_source("toy", tmp_path / "raw", manifests=_manifest(tmp_path, arts))
    assert (out / "b.bin").read_bytes() == b"B"
    del server.files["/b.bin"]
    with pytest.raises(fetch.ManualDownloadError, match="None of the alternative"):
        fetch.ensure_source("toy", tmp_path / "raw2", manifests=_manifest(tmp_path, arts))


def test_folder_artifact_pinned_by_tree_hash(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror" / "Folder"
    (mirror / "sub").mkdir(parents=True)
    (mirror / "sub" / "1.png").write_bytes(b"1")
    (mirror / "inner.zip").write_bytes(_zip_bytes({"z.txt": b"Z"}))
    man = _manifest(
        tmp_path,
        [{"path": "Folder", "kind": "dir", "locations": [{"gdrive_folder": "1abcdefghijk"}]}],
    )
    raw = tmp_path / "raw"
    out = fetch.ensure_source("toy", raw, mirror=tmp_path / "mirror", manifests=man)
    assert (out / "Folder" / "sub" / "1.png").read_bytes() == b"1"
    assert (out / "Folder-extracted" / "inner" / "z.txt").read_bytes() == b"Z"  # inner archive
    assert fetch.LockFile(raw).get("toy/Folder") == fetch.tree_sha256(mirror)
    # losing the ready marker forces a re-verification, which still matches the pin
    (out / fetch.READY_NAME).unlink()
    fetch.ensure_source("toy", raw, manifests=man, allow_download=False)
    assert fetch.tree_sha256(out / "Folder") == fetch.tree_sha256(mirror)


def test_shared_reference_mirror_if_present(tmp_path: Path) -> None:
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (shared / "LIVE1").is_dir():
        pytest.skip("reference data not on this machine")
    out = fetch.ensure_source("live1", tmp_path / "raw", mirror=shared, allow_download=False)
    assert len(list((out / "LIVE1").glob("*.bmp"))) == 29
    assert not os.path.exists(tmp_path / "raw" / fetch.LOCK_NAME)


def test_hand_extracted_archive_folder_is_accepted_and_pinned(tmp_path: Path) -> None:
    man = _manifest(
        tmp_path,
        [
            {
                "path": "toy.zip",
                "extract": True,
                "locations": [{"url": "http://127.0.0.1:9/toy.zip"}],
            }
        ],
    )
    raw = tmp_path / "raw"
    with pytest.raises(fetch.ManualDownloadError, match="extracted into") as exc:
        fetch.ensure_source("toy", raw, manifests=man, allow_download=False)
    assert str(raw / "toy" / "toy") in str(exc.value)
    (raw / "toy" / "toy" / "imgs").mkdir(parents=True)
    (raw / "toy" / "toy" / "imgs" / "1.png").write_bytes(b"1")
    out = fetch.ensure_source("toy", raw, manifests=man, allow_download=False)
    assert (out / "toy" / "imgs" / "1.png").is_file()
    assert fetch.LockFile(raw).get("toy/toy/") == fetch.tree_sha256(raw / "toy" / "toy")


def test_complete_part_file_is_not_refetched(server: _Server, tmp_path: Path) -> None:
    data = _payload(10_000)
    server.files["/f"] = data
    part = tmp_path / "f.part"
    part.write_bytes(data)
    seen: list[tuple[str, int, int | None]] = []
    fetch.http_download(f"{server.url}/f", part, retries=0, progress=lambda *a: seen.append(a))
    assert part.read_bytes() == data and server.requests == [("/f", "bytes=10000-")]
    part.write_bytes(data[:4000])
    fetch.http_download(f"{server.url}/f", part, retries=0, progress=lambda *a: seen.append(a))
    assert part.read_bytes() == data
    assert seen[-1] == ("f.part", 10_000, 10_000)  # progress counts the resumed prefix too


def test_drive_and_hub_go_through_their_clients(tmp_path: Path, monkeypatch) -> None:
    import gdown
    import huggingface_hub

    calls: list[str] = []

    def fake_gdown(*, id: str, output: str, quiet: bool, resume: bool) -> str:
        calls.append(f"gdown:{id}")
        Path(output).write_bytes(b"from drive")
        return output

    def fake_hf(repo_id: str, filename: str, *, repo_type, revision, local_dir) -> str:
        calls.append(f"hf:{repo_id}/{filename}:{repo_type}")
        p = Path(local_dir) / filename
        p.write_bytes(b"from hub")
        return str(p)

    monkeypatch.setattr(gdown, "download", fake_gdown)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_hf)
    man = _manifest(
        tmp_path,
        [
            {"path": "a.bin", "locations": [{"gdrive": "1abcdefghijk"}]},
            {
                "path": "b.bin",
                "sha256": hashlib.sha256(b"from hub").hexdigest(),
                "locations": [{"hf": {"repo": "org/repo", "file": "b.bin"}}],
            },
        ],
    )
    out = fetch.ensure_source("toy", tmp_path / "raw", manifests=man)
    assert calls == ["gdown:1abcdefghijk", "hf:org/repo/b.bin:dataset"]
    assert (out / "a.bin").read_bytes() == b"from drive"
    assert (out / "b.bin").read_bytes() == b"from hub"
    assert fetch.LockFile(tmp_path / "raw").get("toy/a.bin") is not None  # pinned
    assert fetch.LockFile(tmp_path / "raw").get("toy/b.bin") is None  # published, not pinned
    assert not [p for p in out.iterdir() if p.name.startswith(".uirbench-tmp")]


def test_drive_quota_falls_through_to_manual_message(tmp_path: Path, monkeypatch) -> None:
    import gdown

    def quota(**kwargs):
        raise RuntimeError("Too many users have viewed or downloaded this file recently")

    monkeypatch.setattr(gdown, "download", quota)
    man = _manifest(tmp_path, [{"path": "a.zip", "locations": [{"gdrive": "1abcdefghijk"}]}])
    with pytest.raises(fetch.ManualDownloadError, match="Too many users") as exc:
        fetch.ensure_source("toy", tmp_path / "raw", manifests=man)
    assert "Get toy.zip from the toy website" in str(exc.value)


def test_corrupt_archive_is_not_pinned(server: _Server, tmp_path: Path) -> None:
    z = _zip_bytes({"a.txt": b"A" * 1000})
    server.files["/toy.zip"] = z[: len(z) // 2]  # a host that serves a truncated file
    man = _manifest(
        tmp_path,
        [{"path": "toy.zip", "extract": True, "locations": [{"url": f"{server.url}/toy.zip"}]}],
    )
    raw = tmp_path / "raw"
    with pytest.raises(UirbenchError, match=r"not a zip or tar|corrupt"):
        fetch.ensure_source("toy", raw, manifests=man)
    assert fetch.LockFile(raw).get("toy/toy.zip") is None
    assert not (raw / "toy" / "toy").exists()


def test_stale_temporaries_of_a_killed_run_are_removed(tmp_path: Path) -> None:
    man = _manifest(tmp_path, [{"path": "toy.bin", "locations": [{"url": "http://127.0.0.1:9/x"}]}])
    raw = tmp_path / "raw"
    (raw / "toy" / ".uirbench-tmp-extract-abc" / "half").mkdir(parents=True)
    (raw / "toy" / ".uirbench-tmp-123.bin").write_bytes(b"half")
    (raw / "toy" / "toy.bin").write_bytes(b"by hand")
    fetch.ensure_source("toy", raw, manifests=man, allow_download=False)
    assert sorted(p.name for p in (raw / "toy").iterdir()) == [fetch.READY_NAME, "toy.bin"]


def test_dns_failure_fails_at_once_and_says_nothing_was_kept(tmp_path: Path) -> None:
    """Offline: a name that does not resolve is not retried (was 6 attempts, 32 s) and the
    message tells the real state of the .part file."""
    import time

    part = tmp_path / "x.zip.part"
    t0 = time.monotonic()
    with pytest.raises(fetch.DownloadError) as exc:
        fetch.http_download("http://uirbench-test.invalid/x.zip", part, retries=5, backoff=2.0)
    assert time.monotonic() - t0 < 10
    msg = str(exc.value)
    assert "cannot resolve uirbench-test.invalid" in msg and "not retried" in msg, msg
    assert "nothing was downloaded" in msg and not part.exists(), msg
    part.write_bytes(b"12345")
    with pytest.raises(fetch.DownloadError, match=r"\(5 bytes\) is kept"):
        fetch.http_download("http://uirbench-test.invalid/x.zip", part, retries=5, backoff=2.0)


def test_build_data_passes_its_download_progress_to_the_fetcher(
    tmp_path: Path, monkeypatch
) -> None:
    """build-data's byte progress reaches ensure_source (it used to be dropped on the way)."""
    from uirbench.data.build import build
    from uirbench.data.sources import resolve

    seen = []

    class Stop(Exception):
        pass

    def fake_ensure_source(name, raw_root, mirror=None, **kw):
        seen.append(kw.get("progress"))
        raise Stop

    monkeypatch.setattr(resolve, "ensure_source", fake_ensure_source)

    def on_bytes(name: str, done: int, total: int | None) -> None:
        pass

    with pytest.raises(Stop):
        build(
            root=tmp_path / "r",
            preset="uir10",
            tasks="noisy",
            splits="val",
            download_progress=on_bytes,
        )
    assert seen and seen[0] is on_bytes
