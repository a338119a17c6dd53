"""One HTTP download path for every file uirbench fetches: dataset sources
(:mod:`uirbench.data.fetch`) and weight files (:mod:`uirbench.hub`).

Why one: resuming, retries, the size guard and failing fast offline were written once for the
datasets and the weights went through another client without them. Here a download goes into a
``.part`` file resumed with an HTTP Range request, is retried with exponential backoff on dropped
connections and 429/5xx, stops at once when the host name does not resolve (offline), and is
refused as it arrives when it grows beyond the size the caller expects. Callers check the sha256
of the finished file before it is used.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from uirbench.errors import UirbenchError

log = logging.getLogger(__name__)

USER_AGENT = "uirbench (https://github.com/uirbench; dataset fetcher)"

# (file name, bytes done, bytes total or None), called as data arrives
Progress = Callable[[str, int, int | None], None]


class DownloadError(UirbenchError):
    """A download failed (HTTP error, retries exhausted, host not resolved); the dataset fetcher
    then tries the source's next location."""


def http_download(
    url: str,
    part: Path,
    *,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60.0,
    session: Any = None,
    progress: Progress | None = None,
    max_bytes: int | None = None,
) -> Path:
    """Download ``url`` into ``part``, resuming from its current size with an HTTP Range request.

    ``max_bytes`` (the size the caller expects, e.g. a manifest's ``size``): a body announced or
    growing beyond it is refused as it arrives, and the partial file deleted, instead of filling
    the disk before the checksum.

    Connection drops and 429/5xx answers are retried with exponential backoff (each retry resumes);
    other HTTP errors raise :class:`DownloadError` at once. A server that ignores Range restarts the
    file from zero. Returns ``part`` once the body is complete (Content-Length honoured).
    ``progress(name, bytes_done, bytes_total_or_None)`` is called as data arrives.
    """
    import requests  # ~0.1 s to import: only when something is downloaded
    import urllib3

    sess = session or requests.Session()
    part.parent.mkdir(parents=True, exist_ok=True)
    last: Exception | None = None
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        have = part.stat().st_size if part.exists() else 0
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            with sess.get(url, headers=headers, stream=True, timeout=timeout) as r:
                if r.status_code == 416 and have:
                    return part  # nothing left to fetch: the .part is complete
                if r.status_code == 429 or r.status_code >= 500:
                    raise _Retry(f"HTTP {r.status_code}")
                if r.status_code not in (200, 206):
                    raise DownloadError(f"{url}: HTTP {r.status_code} {r.reason}")
                mode = "ab" if r.status_code == 206 else "wb"
                if r.status_code == 206 and not r.headers.get("Content-Range", "").startswith(
                    f"bytes {have}-"
                ):
                    part.unlink(missing_ok=True)  # server resumed elsewhere: start over
                    raise _Retry("unexpected Content-Range")
                expected = r.headers.get("Content-Length")
                got = 0
                base = have if r.status_code == 206 else 0
                total = base + int(expected) if expected is not None else None
                if max_bytes is not None and total is not None and total > max_bytes:
                    part.unlink(missing_ok=True)
                    raise DownloadError(_too_big(url, total, max_bytes))
                # Read the raw stream ourselves: with length enforcement off, a cut connection
                # returns the bytes received so far instead of discarding them in an exception,
                # so they reach the .part file and the next attempt resumes after them.
                r.raw.enforce_content_length = False
                with open(part, mode) as f:
                    while block := r.raw.read(1 << 16, decode_content=False):
                        f.write(block)
                        got += len(block)
                        if max_bytes is not None and base + got > max_bytes:
                            f.close()
                            part.unlink(missing_ok=True)
                            raise DownloadError(_too_big(url, base + got, max_bytes))
                        if progress is not None:
                            progress(part.name, base + got, total)
                if expected is not None and got < int(expected):
                    raise _Retry(f"connection closed after {got} of {expected} bytes")
                return part
        except (_Retry, requests.ConnectionError, requests.Timeout) as exc:
            if name_resolution_failed(exc):  # offline or no DNS: retrying only wastes time
                raise DownloadError(
                    f"{url}: cannot resolve {urlsplit(url).hostname} (offline, or no DNS); not "
                    f"retried. {_part_state(part)}"
                ) from None
            last = exc
            log.warning("download of %s interrupted (%s); attempt %d", url, exc, attempt + 1)
        except (
            requests.exceptions.ChunkedEncodingError,
            urllib3.exceptions.HTTPError,
            OSError,
        ) as exc:
            last = exc
            log.warning("download of %s cut off (%s); attempt %d", url, exc, attempt + 1)
    raise DownloadError(f"{url}: failed after {retries + 1} attempts ({last}); {_part_state(part)}")


class _Retry(Exception):
    pass


def _too_big(url: str, have: int, max_bytes: int) -> str:
    return (
        f"{url}: {have:,} bytes or more, but the manifest says {max_bytes:,}; not the expected "
        "file (the partial download was deleted). Check the URL or the manifest's size."
    )


def name_resolution_failed(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is a DNS failure: socket.gaierror, urllib3's
    NameResolutionError. requests wraps these several levels deep."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, socket.gaierror) or type(e).__name__ == "NameResolutionError":
            return True
        todo += [e.__cause__, e.__context__, *e.args, getattr(e, "reason", None)]
    return False


def _part_state(part: Path) -> str:
    """What is really left of a download: the resumable .part, or nothing."""
    size = part.stat().st_size if part.exists() else 0
    if size:
        return f"the partial file {part} ({size:,} bytes) is kept and the next run resumes it"
    part.unlink(missing_ok=True)
    return "nothing was downloaded"
