"""Fetch upstream sources described by manifests: mirror lookup, download, verify, extract.

Public entry point::

    ensure_source(name, raw_root, mirror=None) -> Path

returns ``<raw_root>/<name>/``, the folder holding the source's ready files: plain artifacts at
their manifest ``path``, archives extracted into ``<extract_dir>`` next to them. Adapters
(:mod:`uirbench.data.sources`) read that folder.

Why each step:
- A ``--mirror DIR`` is searched first (``DIR/<path>``, ``DIR/<source>/<path>``, then any file of
  the same name below DIR); a candidate is used only if its sha256 matches.
- Downloads use a well-kept client per transport: ``requests`` for plain URLs (resumable through
  HTTP Range into ``<file>.part``, retried with exponential backoff: :mod:`uirbench.download`, the
  path weight files take too), ``huggingface_hub`` for the Hub, ``gdown`` for Google Drive.
  Locations are tried in manifest order.
- Every file is verified (sha256, and md5/size where published) BEFORE it is used or extracted. A
  mismatch moves the file to ``<raw_root>/quarantine/`` and raises: nothing is extracted.
- Where no sha256 is published, the first verified download is pinned in
  ``<raw_root>/uirbench.lock.json``; later runs verify against that pin. Folder artifacts (Drive
  folders, Hub file patterns) are pinned by a tree hash over every file.
- A source that cannot be fetched by script (login, quota, dead link) raises a
  :class:`ManualDownloadError` saying what to download by hand and where to put it.
- ``<raw_root>/<name>/.uirbench-ready.json`` records what is verified, so later runs skip rehashing;
  a process lock (``<raw_root>/.uirbench-fetch.lock``) serialises concurrent builds on one raw root.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from uirbench.data.extract import extract_archive
from uirbench.data.layout import resolve_inside
from uirbench.data.manifest import Artifact, Location, Source, load_source
from uirbench.download import (
    DownloadError,
    Progress,
    http_download,
    name_resolution_failed,
)
from uirbench.errors import ChecksumError, UirbenchError
from uirbench.io import TMP_PREFIX, atomic_path, atomic_write_text

log = logging.getLogger(__name__)

LOCK_NAME = "uirbench.lock.json"
QUARANTINE_DIR = "quarantine"
READY_NAME = ".uirbench-ready.json"
_MUTEX_NAME = ".uirbench-fetch.lock"
DIR_EXTRACTED_SUFFIX = (
    "-extracted"  # archives found inside a folder artifact go to <path>-extracted
)
_ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
_CHUNK = 1 << 20


class ManualDownloadError(UirbenchError):
    """A source could not be fetched by script; the message says what to fetch and where."""

    def __init__(self, message: str, attempts: list[str] | None = None) -> None:
        super().__init__(message)
        self.attempts = attempts or []


# --------------------------------------------------------------------------- hashing


def _hash_file(path: Path, want_md5: bool = False) -> tuple[str, str | None]:
    sha, md5 = hashlib.sha256(), (hashlib.md5() if want_md5 else None)
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            sha.update(block)
            if md5 is not None:
                md5.update(block)
    return sha.hexdigest(), (md5.hexdigest() if md5 else None)


def tree_sha256(folder: Path) -> str:
    """Hash of a folder: sha256 over sorted ``relpath NUL sha256(file)`` lines (links refused)."""
    lines = []
    for p in sorted(folder.rglob("*")):
        if p.is_symlink():
            raise UirbenchError(f"{p}: symlinks are not allowed in a downloaded folder")
        if p.is_file():
            lines.append(f"{p.relative_to(folder).as_posix()}\0{_hash_file(p)[0]}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


# --------------------------------------------------------------------------- lock / markers


class LockFile:
    """``<raw_root>/uirbench.lock.json``: sha256 pinned on first verified download."""

    def __init__(self, raw_root: Path) -> None:
        self.path = raw_root / LOCK_NAME
        self.data: dict[str, Any] = {"version": 1, "files": {}}
        if self.path.is_file():
            try:
                self.data = json.loads(self.path.read_text())
            except json.JSONDecodeError as exc:
                raise UirbenchError(
                    f"{self.path}: not valid JSON ({exc}); fix it or delete it to re-pin on the "
                    "next download"
                ) from None

    def get(self, key: str) -> str | None:
        rec = self.data["files"].get(key)
        return rec["sha256"] if rec else None

    def pin(self, key: str, sha256: str, size: int | None, origin: str) -> None:
        self.data["files"][key] = {
            "sha256": sha256,
            "size": size,
            "origin": origin,
            "pinned": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        atomic_write_text(self.path, json.dumps(self.data, indent=2, sort_keys=True) + "\n")


def _read_ready(src_dir: Path) -> dict[str, Any]:
    p = src_dir / READY_NAME
    try:
        return json.loads(p.read_text()) if p.is_file() else {}
    except json.JSONDecodeError:
        return {}


def _write_ready(src_dir: Path, ready: dict[str, Any]) -> None:
    atomic_write_text(src_dir / READY_NAME, json.dumps(ready, indent=2, sort_keys=True) + "\n")


@contextlib.contextmanager
def _mutex(raw_root: Path) -> Iterator[None]:
    raw_root.mkdir(parents=True, exist_ok=True)
    with open(raw_root / _MUTEX_NAME, "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


# --------------------------------------------------------------------------- transports


def _hf_download(loc: Location, dest_dir: Path, kind: str) -> Path:
    hf = loc.hf or {}
    from huggingface_hub import hf_hub_download, snapshot_download

    repo_type = hf.get("repo_type", "dataset")
    if kind == "dir":
        got = Path(
            snapshot_download(
                hf["repo"],
                repo_type=repo_type,
                revision=hf.get("revision"),
                allow_patterns=hf.get("pattern"),
                local_dir=dest_dir,
            )
        )
        shutil.rmtree(got / ".cache", ignore_errors=True)  # hub bookkeeping, not data
        return got
    if not hf.get("file"):
        raise DownloadError(f"{loc.describe()}: a file artifact needs 'hf.file' in the manifest")
    return Path(
        hf_hub_download(
            hf["repo"],
            hf["file"],
            repo_type=repo_type,
            revision=hf.get("revision"),
            local_dir=dest_dir,
        )
    )


def _gdrive_download(loc: Location, target: Path, kind: str) -> Path:
    import gdown

    if kind == "dir":
        if not loc.gdrive_folder:
            raise DownloadError(f"{loc.describe()} is a Drive file; the artifact is a folder")
        # quiet=False: gdown's own per-file progress bars (downloads take minutes)
        files = gdown.download_folder(id=loc.gdrive_folder, output=str(target), quiet=False)
        if not files:
            raise DownloadError(f"{loc.describe()}: gdown fetched nothing (quota or access)")
        return target
    if not loc.gdrive:
        raise DownloadError(f"{loc.describe()} is a Drive folder; the artifact is a file")
    out = gdown.download(id=loc.gdrive, output=str(target), quiet=False, resume=True)
    if not out:
        raise DownloadError(f"{loc.describe()}: gdown fetched nothing (quota or access)")
    return Path(out)


# --------------------------------------------------------------------------- mirror


class Mirror:
    """A local folder searched before downloading: by relative path first, then by file name."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise UirbenchError(f"--mirror {self.root}: not a folder")
        self._by_name: dict[str, list[Path]] | None = None

    def candidates(self, source: str, rel: str) -> Iterator[Path]:
        """Existing paths that may hold ``rel``; the whole-tree name index is built lazily."""
        seen: set[Path] = set()
        for p in (self.root / rel, self.root / source / rel):
            if p.exists() and p not in seen:
                seen.add(p)
                yield p
        if self._by_name is None:
            self._by_name = {}
            for dirpath, dirnames, filenames in os.walk(self.root):
                for n in filenames + dirnames:
                    self._by_name.setdefault(n, []).append(Path(dirpath) / n)
        for p in sorted(self._by_name.get(Path(rel).name, [])):
            if p not in seen:
                seen.add(p)
                yield p


# --------------------------------------------------------------------------- core


def _quarantine(raw_root: Path, source: str, path: Path) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    q = raw_root / QUARANTINE_DIR / source / f"{path.name}.{stamp}"
    q.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, q)
    return q


class _Fetcher:
    def __init__(
        self,
        src: Source,
        raw_root: Path,
        mirror: Mirror | None,
        allow_download: bool,
        progress: Progress | None = None,
    ) -> None:
        self.src, self.raw_root, self.mirror = src, raw_root, mirror
        self.allow_download, self.progress = allow_download, progress
        self.dir = raw_root / src.name
        self.offline: str | None = None  # set by a DNS failure: further locations are skipped
        self.lock = LockFile(raw_root)
        self.ready = _read_ready(self.dir)

    def key(self, art: Artifact) -> str:
        return f"{self.src.name}/{art.path}"

    def expected(self, art: Artifact) -> str | None:
        return art.sha256 or self.lock.get(self.key(art))

    # -- checks -------------------------------------------------------------------------
    def _matches(self, art: Artifact, path: Path) -> tuple[bool, str, str]:
        """(ok, sha256, why-not) for a candidate file/folder against the manifest or pin."""
        if art.kind == "dir":
            sha, md5 = tree_sha256(path), None
        else:
            if art.size is not None and path.stat().st_size != art.size:
                return False, "", f"size {path.stat().st_size} != {art.size}"
            sha, md5 = _hash_file(path, want_md5=bool(art.md5))
        exp = self.expected(art)
        if exp and sha != exp:
            return False, sha, f"sha256 {sha} != expected {exp}"
        if art.md5 and md5 != art.md5:
            return False, sha, f"md5 {md5} != published {art.md5}"
        return True, sha, ""

    def _accept(self, art: Artifact, sha: str, origin: str) -> None:
        if not art.sha256 and not self.lock.get(self.key(art)):
            size = None if art.kind == "dir" else art.size
            self.lock.pin(self.key(art), sha, size, origin)
            log.info("pinned %s sha256 %s in %s", self.key(art), sha, self.lock.path)

    def is_ready(self, art: Artifact) -> bool:
        rec = self.ready.get(art.path)
        exp = self.expected(art)
        if not rec:
            return False
        if "hand_extracted_tree" in rec:
            return (self.dir / art.extract_dir).is_dir()
        if exp and rec.get("sha256") != exp:
            return False
        if art.extract:
            return (self.dir / art.extract_dir).is_dir()
        p = self.dir / art.path
        if art.kind == "dir":
            return p.is_dir()
        return p.is_file() and rec.get("stat") == [p.stat().st_size, p.stat().st_mtime_ns]

    def _record(self, art: Artifact, sha: str) -> None:
        rec: dict[str, Any] = {"sha256": sha}
        p = self.dir / art.path
        if art.kind == "file" and p.is_file() and not art.extract:
            rec["stat"] = [p.stat().st_size, p.stat().st_mtime_ns]
        self.ready[art.path] = rec
        _write_ready(self.dir, self.ready)

    # -- one artifact ---------------------------------------------------------------------
    def ensure(self, art: Artifact) -> None:
        if self.is_ready(art):
            return
        dest = resolve_inside(self.dir, art.path)
        unpacked = resolve_inside(self.dir, art.extract_dir) if art.extract else None
        if unpacked is not None and not dest.exists() and self._hand_extracted(art, unpacked):
            return
        if dest.exists():  # downloaded before (e.g. by hand): verify in place
            ok, sha, why = self._matches(art, dest)
            if not ok:
                self._reject(art, dest, why, origin=str(dest))
            return self._finish(art, dest, sha, origin=f"file {dest}")
        found = self._from_mirror(art)
        if found is not None:
            path, sha, origin = found
            return self._finish(art, path, sha, origin)
        self._download(art, dest)

    def _hand_extracted(self, art: Artifact, unpacked: Path) -> bool:
        """An archive the user extracted by hand: pin/verify its folder by tree hash instead."""
        if not unpacked.is_dir() or not any(unpacked.iterdir()):
            return False
        key = f"{self.src.name}/{art.extract_dir}/"
        sha = tree_sha256(unpacked)
        pinned = self.lock.get(key)
        if pinned and pinned != sha:
            raise ChecksumError(
                f"{unpacked}: its files changed since they were pinned in {self.lock.path} "
                f"(tree sha256 {sha} != {pinned}); restore them, or remove the entry {key!r} "
                "from the lock file to pin the new content"
            )
        if not pinned:
            self.lock.pin(key, sha, None, f"hand-extracted folder {unpacked}")
        self.ready[art.path] = {"sha256": self.expected(art), "hand_extracted_tree": sha}
        _write_ready(self.dir, self.ready)
        return True

    def _reject(self, art: Artifact, path: Path, why: str, origin: str) -> None:
        q = _quarantine(self.raw_root, self.src.name, path)
        raise ChecksumError(
            f"{self.src.name}: {art.path} from {origin} failed verification ({why}); moved to {q}, "
            "nothing was extracted. Rerun to download it again; if the upstream file changed on "
            f"purpose, remove its entry from {self.lock.path} to pin the new one."
        )

    def _from_mirror(self, art: Artifact) -> tuple[Path, str, str] | None:
        if self.mirror is None:
            return None
        for cand in self.mirror.candidates(self.src.name, art.path):
            if cand.is_dir() != (art.kind == "dir"):
                continue
            ok, sha, why = self._matches(art, cand)
            if not ok:
                log.warning("mirror file %s does not match %s: %s", cand, self.key(art), why)
                continue
            origin = f"mirror {cand}"
            if art.extract:
                return cand, sha, origin  # extract straight from the verified mirror copy
            dest = resolve_inside(self.dir, art.path)
            if art.kind == "dir":
                tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=self._mkdir(dest.parent)))
                shutil.copytree(cand, tmp / "t")
                os.replace(tmp / "t", dest)
                shutil.rmtree(tmp)
            else:
                _copy_verified(cand, dest, sha)
            return dest, sha, origin
        return None

    @staticmethod
    def _mkdir(p: Path) -> Path:
        p.mkdir(parents=True, exist_ok=True)
        return p

    def _download(self, art: Artifact, dest: Path) -> None:
        failures: list[str] = []
        if self.allow_download:
            for loc in art.locations:
                if self.offline:
                    failures.append(f"  - {loc.describe()}: skipped ({self.offline})")
                    continue
                try:
                    got = self._fetch_location(loc, art, dest)
                except ChecksumError:
                    raise
                except Exception as exc:  # any transport failure: try the next location
                    msg = str(exc)
                    if not msg.startswith(loc.describe()):
                        msg = f"{loc.describe()}: {msg}"
                    failures.append(f"  - {msg}")
                    if name_resolution_failed(exc) or "cannot resolve" in msg:
                        self.offline = "no network: a host name did not resolve"
                    log.info("could not fetch %s from %s: %s", art.path, loc.describe(), exc)
                    continue
                ok, sha, why = self._matches(art, got)
                if not ok:
                    self._reject(art, got, why, origin=loc.describe())
                if got != dest:
                    os.replace(got, dest)
                return self._finish(art, dest, sha, origin=loc.describe())
        raise self.manual_error(art, failures)

    def _fetch_location(self, loc: Location, art: Artifact, dest: Path) -> Path:
        self._mkdir(dest.parent)
        if loc.url:
            if art.kind == "dir":
                raise DownloadError("a plain URL cannot provide a folder artifact")
            part = dest.with_name(dest.name + ".part")
            return http_download(loc.url, part, progress=self.progress, max_bytes=art.size)
        work = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=dest.parent))
        try:
            if loc.hf:
                got = _hf_download(loc, work, art.kind)
            else:
                got = _gdrive_download(loc, work / "download", art.kind)
            staged = dest.with_name(dest.name + ".staged")
            if staged.exists():
                shutil.rmtree(staged) if staged.is_dir() else staged.unlink()
            os.replace(got, staged)
            return staged
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _finish(self, art: Artifact, path: Path, sha: str, origin: str) -> None:
        """The verified ``path`` is ready: extract it (or archives inside a folder), then pin and
        record it. Pinning comes last so that a file that turns out corrupt (e.g. truncated by a
        server that sent no length) is never pinned."""
        if art.extract:
            target = resolve_inside(self.dir, art.extract_dir)
            if target.exists():  # stale: from another version or an interrupted run
                shutil.rmtree(target)
            extract_archive(path, target)
        elif art.kind == "dir":
            # archives inside a downloaded folder are extracted NEXT TO it, so that the folder's
            # tree hash stays what was pinned
            unpacked = resolve_inside(self.dir, f"{art.path}{DIR_EXTRACTED_SUFFIX}")
            for inner in sorted(path.rglob("*")):
                if inner.is_file() and inner.name.lower().endswith(_ARCHIVE_SUFFIXES):
                    sub = inner.relative_to(path).parent / _strip_suffix(inner.name)
                    out = unpacked / sub
                    if not out.exists():
                        extract_archive(inner, out)
        self._accept(art, sha, origin)
        self._record(art, sha)

    def manual_error(self, art: Artifact, failures: list[str]) -> ManualDownloadError:
        what = "folder" if art.kind == "dir" else "file"
        attempts = [f"{art.path} ({what})", *(failures or ["  (downloads disabled)"])]
        return ManualDownloadError(self.manual_text([art], attempts), attempts)

    def manual_text(self, arts: list[Artifact], attempts: list[str]) -> str:
        """What failed, how to fetch by hand (the manifest's words), where to put it, licence."""
        names = " or ".join(a.path for a in arts)
        lines = [f"{self.src.title}: could not get {names} by script.", "Tried:", *attempts]
        if self.src.manual:
            lines.append("To fetch it by hand: " + " ".join(self.src.manual.split()))
        spots = " or ".join(
            str(self.dir / a.path)
            + (
                f" (or its contents extracted into {self.dir / a.extract_dir}/)"
                if a.extract
                else ""
            )
            for a in arts
        )
        lines.append(
            f"Put it at {spots} -- or in a folder passed as --mirror under the same relative "
            "path -- and rerun; it is verified before use."
        )
        lines.append(f"Licence: {self.src.licence['name']}: {self.src.licence['terms']}")
        return "\n".join(lines)


def _remove_stale_work(folder: Path, artifacts: tuple[Artifact, ...]) -> None:
    """Delete temporaries a killed run left (safe: we hold the raw root's lock).

    Only the folders where fetching creates them are looked at, not whole extracted trees.
    """
    places = {folder}
    for a in artifacts:
        places.add((folder / a.path).parent)
        if a.extract:
            places.add((folder / a.extract_dir).parent)
    for place in sorted(p for p in places if p.is_dir()):
        for p in [*place.glob(f"{TMP_PREFIX}*"), *place.glob("*.staged")]:
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)


def _copy_verified(src: Path, dest: Path, sha256: str) -> None:
    """Copy ``src`` to ``dest`` atomically, hashing the bytes written; a mismatch leaves nothing."""
    h = hashlib.sha256()
    with atomic_path(dest) as tmp, open(src, "rb") as fi, open(tmp, "wb") as fo:
        while block := fi.read(_CHUNK):
            h.update(block)
            fo.write(block)
        if h.hexdigest() != sha256:
            raise ChecksumError(f"{src} changed while it was copied to {dest}; rerun")


def _strip_suffix(name: str) -> str:
    for s in (".tar.gz", ".tgz", ".tar", ".zip"):
        if name.lower().endswith(s):
            return name[: -len(s)]
    return name


def ensure_source(
    name: str,
    raw_root: str | os.PathLike,
    mirror: str | os.PathLike | None = None,
    *,
    manifests: str | os.PathLike | None = None,
    allow_download: bool = True,
    progress: Progress | None = None,
) -> Path:
    """Make the source ``name`` ready under ``<raw_root>/<name>/`` and return that folder.

    Artifacts marked ``optional`` in the manifest are alternatives: at least one of them must be
    obtained. Raises :class:`ManualDownloadError` when a required artifact cannot be fetched and
    :class:`~uirbench.errors.ChecksumError` when a file fails verification. ``progress`` receives
    ``(file name, bytes done, bytes total or None)`` during plain-URL downloads (e.g. for a bar).
    """
    src = load_source(name, manifests)
    raw_root = Path(raw_root)
    mirror_obj = Mirror(mirror) if mirror else None
    with _mutex(raw_root):
        f = _Fetcher(src, raw_root, mirror_obj, allow_download, progress)
        f.dir.mkdir(parents=True, exist_ok=True)
        _remove_stale_work(f.dir, src.artifacts)
        failed: list[tuple[Artifact, ManualDownloadError]] = []
        got_optional = False
        for art in src.artifacts:
            if not art.optional:
                f.ensure(art)
                continue
            try:
                f.ensure(art)
                got_optional = True
            except ManualDownloadError as exc:
                failed.append((art, exc))
        if failed and not got_optional:
            attempts = [line for _, e in failed for line in e.attempts]
            text = f.manual_text([a for a, _ in failed], attempts)
            raise ManualDownloadError(
                "None of the alternative downloads could be fetched (one is enough).\n" + text,
                attempts,
            )
    return f.dir
