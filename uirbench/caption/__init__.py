"""Captions of the clean (GT) images: backends behind one interface and a resumable runner.

``caption_root(root, build_captioner("transformers"))`` fills the index's caption column, the
shards' ``txt`` field and the official ``daclip_{train,val}.csv``; see docs/captions.md.
"""

from uirbench.caption import backends  # noqa: F401  (registers every backend: BACKENDS is full at import)
from uirbench.caption.base import BACKENDS, DEFAULT_MODEL, MAX_NEW_TOKENS, Item, build_captioner
from uirbench.caption.runner import CaptionResult, caption_root
from uirbench.caption.text import clean_caption, make_title, split_title

__all__ = [
    "BACKENDS",
    "DEFAULT_MODEL",
    "MAX_NEW_TOKENS",
    "CaptionResult",
    "Item",
    "build_captioner",
    "caption_root",
    "clean_caption",
    "make_title",
    "split_title",
]
