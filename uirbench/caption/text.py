"""Caption text rules: one normalised form used by the index, the shards and the CSVs.

The official trainer reads ``title`` and does ``caption, degradation = title.split(": ")``, so a
caption containing ``": "`` would raise there. Captions are therefore normalised once, before they
are stored anywhere: whitespace (tabs, newlines) collapses to single spaces, and every colon that
is followed by whitespace becomes ``" -"`` (``"sign: stop"`` -> ``"sign - stop"``). Colons not
followed by a space (``"10:30"``) are kept: they cannot produce the separator. A trailing colon is
dropped, since ``"caption:"`` + ``": noisy"`` would read back with a stray colon. Index, shards and
CSVs all carry the same normalised text, so they always agree.
"""

from __future__ import annotations

import re

SEPARATOR = ": "
_COLON_SPACE = re.compile(r"\s*:(?=\s)")
_WS = re.compile(r"\s+")


def clean_caption(text: str) -> str:
    """The stored form of a caption (see the module docstring for the rules)."""
    text = _WS.sub(" ", str(text)).strip()
    text = _COLON_SPACE.sub(" -", text)
    text = text.rstrip(":").rstrip()
    return text


def make_title(caption: str, degradation: str) -> str:
    """The official ``title``: ``"<caption>: <degradation>"``, guaranteed to split in two."""
    caption = clean_caption(caption)
    if not caption:
        raise ValueError("empty caption: every GT needs a non-empty caption")
    title = f"{caption}{SEPARATOR}{degradation}"
    assert len(title.split(SEPARATOR)) == 2, title
    return title


def split_title(title: str) -> tuple[str, str]:
    """Inverse of :func:`make_title`, exactly as the official trainer splits it."""
    caption, degradation = title.split(SEPARATOR)
    return caption, degradation
