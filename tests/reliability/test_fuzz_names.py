"""Hostile and unusual file names through the CLI: rich markup (``[bold]x[/]``), control
characters, emoji codes, non-ASCII, very long names. Each command must finish or refuse without
a traceback, and print every name it mentions whole and unaltered (control characters shown as
escapes, see ``uirbench.cli.console.shown``). Before: markup in a name crashed the error printer
or restyled it, a non-ASCII stem in ``--from`` ended in a traceback, long lines were cut at 80
columns.

The commands run in this process (``uirbench.cli.app.main`` with its real printer) on a root of
tiny images, so the 220 names cost seconds.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from uirbench.cli.console import shown
from uirbench.io import write_png

FRAGMENTS = [
    "[bold]x[/]",
    "[red]",
    "[/]",
    "[link=https:x.y]click[/link]",
    "\\[not markup]",
    "[bold",
    "]",
    ":smile:",
    "%s%n",
    "{0}",
    "$(echo hi)",
    "a;b",
    "'q'",
    '"dq"',
    "sp ace",
    " lead",
    "-dash",
    "tab\tx",
    "esc\x1b[31mred",
    "bell\x07",
    "cr\rx",
    "del\x7f",
    "c1\x85",
    "é",
    "ñandú",
    "中文",
    "日本語",
    "🙂",
    "\u202eevil",
    "zero\u200bwidth",
    "\\back\\slash",
    "a:b",
    "a*b?",
    "#hash",
    "=eq",
]
N = 220


def _names() -> list[str]:
    rng = random.Random(16)
    names = []
    for i in range(N):
        if i % 40 == 39:  # very long: about 240 bytes with the suffix
            body = ("Ω" * 60 + "long-" * 20)[: 110 - len(str(i))]
        else:
            body = "".join(rng.sample(FRAGMENTS, rng.randint(1, 3)))
        names.append(f"{body}_{i:03d}.png")  # a unique ASCII tail: stems stay distinct
    assert all(len(n.encode()) <= 255 for n in names)
    return names


NAMES = _names()


def _missing(names: list[str], text: str) -> list[str]:
    return [n for n in names if shown(n) not in text]


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz") / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in NAMES:
        write_png(folder / name, rng.integers(0, 256, (24, 24, 3), dtype=np.uint8))
    return folder


def test_names_through_build_verify_restore_and_evaluate(photos, tmp_path, cli_in_process):
    assert len(NAMES) >= 200
    root = tmp_path / "root"
    code, text = cli_in_process(
        *("build-data", "--from", str(photos), "--root", str(root), "--tasks", "noisy"),
        *("--splits", "val", "--workers", "1"),
    )
    assert code == 0, text[-3000:]
    code, text = cli_in_process("verify", str(root))
    assert code == 0, text[-3000:]

    # verify lists every file the index does not name: each name printed whole
    layout = root / "val" / "Noisy" / "LQ"
    if not layout.is_dir():
        layout = next((root / "val").glob("*/LQ"))
    for name in NAMES:  # a "/" in a name (as in "[/]") makes it a path: folders under LQ/
        (layout / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(photos / name, layout / name)
    code, text = cli_in_process("verify", str(root))
    assert code == 1
    assert _missing(NAMES, text) == []
    for name in NAMES:
        (layout / name).unlink()
    for d in sorted((p for p in layout.rglob("*") if p.is_dir()), reverse=True):
        d.rmdir()

    # restore prints "input -> output" per image
    restored = tmp_path / "r"
    args = ("restore", str(photos), "--model", "identity", "--out", str(restored))
    code, text = cli_in_process(*args)
    assert code == 0, text[-3000:]
    assert _missing(NAMES, text) == []
    assert all((restored / name).is_file() for name in NAMES)  # under the same names

    # evaluate --outputs lists files it cannot pair (20 per message): every name, in 11 runs
    outs = tmp_path / "outs"
    for start in range(0, N, 20):
        if outs.exists():
            shutil.rmtree(outs)
        outs.mkdir()
        originals = NAMES[start : start + 20]
        # flat (no folders), and never a GT's name (a valid output is paired, not listed)
        batch = ["≠" + n.replace("/", "|") for n in originals]
        for name, original in zip(batch, originals, strict=True):
            shutil.copy(photos / original, outs / name)
        code, text = cli_in_process(
            *("evaluate", "--root", str(root), "--outputs", str(outs), "--out"),
            *(str(tmp_path / "res"), "--metrics", "psnr", "--workers", "0"),
        )
        assert code == 2
        assert _missing(batch, text) == [], (_missing(batch, text), text[-2000:])


@pytest.mark.parametrize("name", NAMES[:: len(NAMES) // 22], ids=lambda n: f"{len(n)}")
def test_build_from_names_an_unreadable_file_whole(name, tmp_path, cli_in_process):
    """An empty image under a hostile name: refused, the name printed unaltered."""
    src = tmp_path / "src"
    (src / name).parent.mkdir(parents=True)
    (src / name).write_bytes(b"")
    code, text = cli_in_process(
        *("build-data", "--from", str(src), "--root", str(tmp_path / "root"), "--tasks", "noisy"),
        *("--splits", "val", "--workers", "1"),
    )
    assert code == 2
    assert shown(src / name) in text, text
