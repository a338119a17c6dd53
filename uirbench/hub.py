"""Pretrained weight files through the standard caches: ``huggingface_hub`` and ``torch.hub``.

Why not a cache of our own: researchers already have these caches (``HF_HOME``, ``TORCH_HOME``)
filled, mounted on clusters, or mirrored; a second cache duplicates gigabytes and ignores
``HF_HUB_OFFLINE``. A Hugging Face file goes through ``hf_hub_download`` (its cache, its offline
mode, ``HF_ENDPOINT``); any other URL through :func:`uirbench.download.http_download` (the one
HTTP path: resumable ``.part``, retries, fast failure offline) into the place its consumer
(pyiqa, torchvision) looks, under ``torch.hub``'s folder. Every file is checked against its
sha256: the full digest where a card pins one, else the prefix torch.hub file names carry
(``-7be5be79.pth``).
Nothing here downloads implicitly: only ``uirbench weights fetch`` and ``--weights zoo`` call it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from uirbench.download import DownloadError, Progress, http_download
from uirbench.errors import ChecksumError, UirbenchError
from uirbench.io import sha256_file

_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,})\.")  # torch.hub's convention: name-<sha256 prefix>.ext


@dataclass(frozen=True)
class Remote:
    """One weight file: what it is, where its consumer looks for it, where it comes from."""

    what: str
    url: str
    path: Path | None = None  # a torch.hub-style destination; None for Hugging Face files
    hf_repo: str | None = None
    hf_file: str | None = None
    sha256: str | None = None  # full pinned digest; None: the file name's prefix, if any

    @property
    def name(self) -> str:
        return self.hf_file or self.url.rsplit("/", 1)[-1]

    def expected_sha256(self) -> str | None:
        """The pinned digest, or the prefix in the file name, or None (nothing to check)."""
        if self.sha256:
            return self.sha256
        m = _HASH_IN_NAME.search(self.name)
        return m.group(1) if m else None

    def where(self) -> str:
        """Where the file goes, in words (for messages)."""
        if self.hf_repo:
            return f"the Hugging Face cache ({hf_cache_dir()}), repo {self.hf_repo}"
        return str(self.path)


def offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) asks for no network access."""
    v = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return v.strip().lower() in ("1", "true", "yes", "on")


def unreachable(url: str) -> str | None:
    """Why ``url``'s host cannot be reached without trying a download: ``HF_HUB_OFFLINE`` is
    set, or its name does not resolve; None when it may be reachable.

    Why: the Hugging Face and open_clip clients retry a network that is not there for minutes
    (caption took 213 s, classify 53 s to fail offline); a name lookup answers in milliseconds.
    """
    import socket
    from urllib.parse import urlsplit

    if offline():
        return "HF_HUB_OFFLINE is set"
    host = urlsplit(url if "://" in url else f"https://{url}").hostname or url
    try:
        socket.getaddrinfo(host, 443)
    except (OSError, UnicodeError):
        return f"{host} does not resolve (offline?)"
    return None


def hf_cache_dir() -> Path:
    """huggingface_hub's file cache, resolved from the environment now (``HF_HUB_CACHE`` or
    ``HF_HOME``/hub), not from what the library read at import."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or Path(
        os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"), "huggingface"
    )
    return Path(home) / "hub"


def torch_hub_dir() -> Path:
    """torch.hub's folder (``$TORCH_HOME/hub``), resolved now."""
    import torch  # heavy: only when a torch.hub path is actually needed

    return Path(torch.hub.get_dir())


def verify(path: Path, r: Remote) -> Path:
    """Raise :class:`ChecksumError` unless ``path``'s sha256 matches what ``r`` expects."""
    want = r.expected_sha256()
    if want:
        got = sha256_file(path)
        if not got.startswith(want):
            raise ChecksumError(
                f"{path}: sha256 {got} differs from the pinned {want} ({r.what}); the file is "
                "corrupt or not the published one: delete it and run `uirbench weights fetch` again"
            )
    return path


def _hf(r: Remote, download: bool) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    assert r.hf_repo and r.hf_file
    try:
        return Path(
            hf_hub_download(
                r.hf_repo,
                r.hf_file,
                cache_dir=hf_cache_dir(),
                endpoint=os.environ.get("HF_ENDPOINT") or None,
                local_files_only=not download or offline(),
            )
        )
    except LocalEntryNotFoundError:
        why = "HF_HUB_OFFLINE is set" if offline() else "it is not downloaded yet"
        raise UirbenchError(
            f"{r.what} {r.hf_file}: not in {r.where()} and {why}; run `uirbench weights fetch` "
            f"with network access (or copy the cache there)"
        ) from None
    except Exception as exc:  # network/HTTP errors of huggingface_hub: one line, no traceback
        detail = (str(exc).splitlines() or [""])[0]
        raise UirbenchError(
            f"cannot download {r.hf_file} from Hugging Face repo {r.hf_repo} "
            f"({exc.__class__.__name__}: {detail}); check the network or HF_ENDPOINT"
        ) from None


def _url(r: Remote, download: bool, progress: Progress | None = None) -> Path:
    assert r.path is not None
    if r.path.is_file():
        return r.path
    if not download or offline():
        why = "HF_HUB_OFFLINE is set" if offline() else "it is not downloaded yet"
        raise UirbenchError(
            f"{r.what} {r.name}: not at {r.path} and {why}; run `uirbench weights fetch` with "
            f"network access, or download {r.url} into {r.path.parent}"
        )
    # into <name>.part (a rerun resumes it), renamed when complete: no half-written file under
    # the final name
    part = r.path.with_name(r.path.name + ".part")
    try:
        http_download(r.url, part, progress=progress)
    except DownloadError as exc:  # names the URL, the HTTP error or offline, and the .part left
        raise UirbenchError(
            f"cannot download {exc}; download it by hand into {r.path.parent}"
        ) from None
    except (OSError, ValueError) as exc:  # the destination folder (read-only, ...), a bad URL
        raise UirbenchError(
            f"cannot download {r.url} ({exc}); download it by hand into {r.path.parent}"
        ) from None
    os.replace(part, r.path)
    return r.path


def locate(r: Remote) -> Path | None:
    """The file if it is already in its cache (never downloads), else None."""
    try:
        return _hf(r, download=False) if r.hf_repo else _url(r, download=False)
    except UirbenchError:
        return None


def fetch(r: Remote, progress: Progress | None = None) -> Path:
    """The verified file: from its cache, else downloaded (unless offline); a mismatch is an error
    and a freshly downloaded mismatching file is deleted so a rerun downloads it again.
    ``progress(name, bytes_done, bytes_total_or_None)``: called as a plain URL's bytes arrive."""
    cached = locate(r)
    path = cached or (_hf(r, download=True) if r.hf_repo else _url(r, True, progress))
    try:
        return verify(path, r)
    except ChecksumError:
        if cached is None and r.path is not None:
            path.unlink(missing_ok=True)
        raise
