"""CelebA-HQ 256 adapter: a folder of face images, or the Hub parquet mirror decoded to files.

Split rule (as DA-CLIP): file names sorted (Python string order); the first ``val_count`` (100) are
the test set, the rest train. Parquet mirrors are decoded once into ``<src>/parquet-images/`` with
names ``NNNNNN.<ext>`` in file-then-row order, the image bytes written unchanged.
"""

from __future__ import annotations

from pathlib import Path

from uirbench.data.sources import register
from uirbench.data.sources.common import SourcePair, gt_only, is_image
from uirbench.errors import UirbenchError
from uirbench.io import atomic_write_bytes

DECODED = "parquet-images"


def _ext(data: bytes) -> str:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return ".png"
    if data[:3] == b"\xff\xd8\xff":
        return ".jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    raise UirbenchError("unknown image format in a CelebA-HQ parquet row")


def _image_bytes(value: object) -> bytes:
    if isinstance(value, dict):
        value = value.get("bytes")
    if not isinstance(value, bytes | bytearray):
        raise UirbenchError("CelebA-HQ parquet row without image bytes")
    return bytes(value)


def decode_parquet(src_dir: Path) -> Path:
    """Write the images of every ``*.parquet`` below ``src_dir`` to ``<src_dir>/parquet-images``."""
    import pyarrow.parquet as pq

    out = src_dir / DECODED
    done = out / ".complete"
    if done.is_file():
        return out
    files = sorted(src_dir.rglob("*.parquet"))
    i = 0
    for f in files:
        pf = pq.ParquetFile(f)
        cols = [c for c in pf.schema_arrow.names if c in ("image", "img", "jpg", "png")]
        if not cols:
            raise UirbenchError(f"{f}: no image column (expected 'image'); not a CelebA-HQ mirror")
        for batch in pf.iter_batches(columns=cols[:1], batch_size=256):
            for value in batch.column(0).to_pylist():
                data = _image_bytes(value)
                atomic_write_bytes(out / f"{i:06d}{_ext(data)}", data)
                i += 1
    if i == 0:
        raise UirbenchError(f"{src_dir}: no CelebA-HQ images or parquet files found")
    done.write_text(f"{i}\n")
    return out


@register("celebahq256")
def celebahq256(src_dir: Path, split: str, *, val_count: int = 100) -> list[SourcePair]:
    """Every image below ``src_dir`` (or decoded parquet); the first ``val_count`` are val."""
    images = [p for p in src_dir.rglob("*") if is_image(p) and DECODED not in p.parts]
    if not images:
        images = [p for p in decode_parquet(src_dir).iterdir() if is_image(p)]
    images.sort(key=lambda p: p.name)
    if len(images) <= val_count:
        raise UirbenchError(
            f"{src_dir}: only {len(images)} CelebA-HQ images; need more than {val_count} "
            "(the first are the test set)"
        )
    chosen = images[:val_count] if split == "val" else images[val_count:]
    return gt_only(chosen, src_dir)
