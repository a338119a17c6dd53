"""Restoring a user's images (what ``uirbench restore`` does): find the images, run a
:class:`~uirbench.models.registry.Restorer` on each, write PNGs.

Models are named, built and loaded in :mod:`uirbench.models` (networks, loading, zoo, restorer,
tiling, daclip_context); the names re-exported below keep ``uirbench.restore.<name>`` working.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from uirbench.errors import UirbenchError
from uirbench.io import IMAGE_SUFFIXES, read_image, write_png
from uirbench.models.daclip_context import (
    DaclipContext,
    build_daclip_context,
    daclip_record,
    resolve_daclip_record,
)
from uirbench.models.images import to_tensor, to_uint8
from uirbench.models.loading import load_network_weights, network_state_from_file
from uirbench.models.networks import (
    build_network,
    load_model_config,
    pad_multiple,
    uses_daclip,
)
from uirbench.models.registry import Restorer
from uirbench.models.restorer import ModelRestorer, build, network_passes, tile_grid
from uirbench.models.tiling import AUTO_TILE_PIXELS, DEFAULT_OVERLAP, DEFAULT_TILE, _starts, tiled
from uirbench.models.zoo import fetch_zoo_weights, weights_cache_dir, zoo_card, zoo_remotes

__all__ = [
    "AUTO_TILE_PIXELS",
    "DEFAULT_OVERLAP",
    "DEFAULT_TILE",
    "IMAGE_SUFFIXES",
    "DaclipContext",
    "ModelRestorer",
    "_starts",
    "build",
    "build_daclip_context",
    "build_network",
    "check_inputs",
    "daclip_record",
    "fetch_zoo_weights",
    "list_images",
    "load_model_config",
    "load_network_weights",
    "network_passes",
    "network_state_from_file",
    "output_paths",
    "pad_multiple",
    "resolve_daclip_record",
    "restore_pairs",
    "restore_paths",
    "tile_grid",
    "tiled",
    "to_tensor",
    "to_uint8",
    "uses_daclip",
    "weights_cache_dir",
    "zoo_card",
    "zoo_remotes",
]


def list_images(inputs: Iterable[str | Path]) -> list[Path]:
    """Image files named directly or found (sorted, recursively) in folders."""
    files: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
            )
            if not found:
                raise UirbenchError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found in {p}")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise UirbenchError(f"input {p} does not exist; give image files or folders")
    return files


def output_paths(inputs: Iterable[str | Path], out_dir: str | Path) -> list[tuple[Path, Path]]:
    """``(input, output)`` for every image: ``<out_dir>/<path relative to its folder>.png``, or
    ``<out_dir>/<name>.png`` for a file given directly.

    Refuses two inputs that would write one output (``d1/pic.jpg d2/pic.png``, or ``pic.jpg``
    beside ``pic.png``) before anything is written, instead of silently keeping the last.
    """
    out_dir = Path(out_dir)
    inputs = list(inputs)
    roots = [Path(i) for i in inputs if Path(i).is_dir()]
    planned: dict[Path, Path] = {}
    pairs = []
    for path in list_images(inputs):
        root = next((r for r in roots if r in path.parents), None)
        rel = path.relative_to(root) if root else Path(path.name)
        dest = (out_dir / rel).with_suffix(".png")
        if dest in planned:
            if planned[dest].resolve() == path.resolve():
                continue  # the same file named twice (e.g. a file and its folder)
            raise UirbenchError(
                f"{planned[dest]} and {path} would both be written to {dest}; restore them in "
                "separate runs (--out) or rename one"
            )
        planned[dest] = path
        pairs.append((path, dest))
    return pairs


def check_inputs(files: Iterable[Path]) -> None:
    """Decode every input once before the first output is written; name all that fail."""
    bad = []
    for path in files:
        try:
            read_image(path)
        except UirbenchError as exc:
            bad.append(str(exc))
    if bad:
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise UirbenchError(
            f"{len(bad)} input image(s) cannot be read, nothing was written: "
            + "; ".join(bad[:5])
            + more
        )


def restore_paths(
    restorer: Restorer,
    inputs: Iterable[str | Path],
    out_dir: str | Path,
    on_image: Callable[[Path, Path, list[tuple[str, float]]], None] | None = None,
    on_start: Callable[[Path, int, int], None] | None = None,
) -> list[Path]:
    """Restore every image, writing ``<out_dir>/<relative path>.png``; returns the outputs.

    Every output path is planned (no two inputs may share one) and every input decoded before
    the first output is written, so a bad 5th file stops the run with nothing half-done.
    ``on_start(path, h, w)`` before each image, ``on_image(path, dest, degradation)`` after.
    """
    pairs = output_paths(inputs, out_dir)
    check_inputs(p for p, _ in pairs)
    return restore_pairs(restorer, pairs, on_image=on_image, on_start=on_start)


def restore_pairs(
    restorer: Restorer,
    pairs: Iterable[tuple[Path, Path]],
    on_image: Callable[[Path, Path, list[tuple[str, float]]], None] | None = None,
    on_start: Callable[[Path, int, int], None] | None = None,
) -> list[Path]:
    """Restore planned ``(input, output)`` pairs (:func:`output_paths`, :func:`check_inputs`)."""
    written = []
    for path, dest in pairs:
        img = read_image(path)
        if on_start is not None:
            on_start(path, *img.shape[:2])
        restored = restorer.restore(to_tensor(img))
        write_png(dest, to_uint8(restored))
        written.append(dest)
        if on_image is not None:
            on_image(path, dest, getattr(restorer, "last_degradation", []))
    return written
