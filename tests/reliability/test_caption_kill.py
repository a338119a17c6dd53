"""`uirbench caption` SIGKILLed mid-run (three times: while captioning, and twice while writing
its outputs), then rerun: the index, CSV and shards are byte-identical to an uninterrupted run's,
the rerun captions only what the killed runs had not cached, and no temporary file remains."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from uirbench.caption.cache import cache_dir, read_cache

pytest.importorskip("transformers", reason="BLIP needs the optional [caption] extra")


@pytest.fixture(scope="module")
def tiny_blip(tmp_path_factory) -> Path:
    from uirbench.caption.random_blip import make_random_blip

    return make_random_blip(tmp_path_factory.mktemp("blip") / "tiny-blip", size="tiny")


def _cached_lines(root: Path) -> int:
    part = cache_dir(root) / "part-00000.jsonl"
    return part.read_bytes().count(b"\n") if part.exists() else 0


@pytest.mark.slow
def test_caption_sigkilled_three_times_then_rerun_equals_an_uninterrupted_run(
    tmp_path, tiny_blip, cli, tree_hashes, demo_subset
):
    from uirbench.caption import build_captioner, caption_root

    built = demo_subset("noisy,jpeg", "val")
    reference, root = tmp_path / "reference", tmp_path / "killed"
    shutil.copytree(built, reference)
    shutil.copytree(built, root)
    captioner = build_captioner("transformers", model=str(tiny_blip), device="cpu", batch_size=1)
    ref = caption_root(reference, captioner, csv_paths="relative", progress=False)
    assert ref.captioned >= 4

    args = ["caption", "--root", str(root), "--model", str(tiny_blip), "--device", "cpu",
            "--batch-size", "1", "--csv-paths", "relative", "--quiet"]  # fmt: skip
    # 1: from outside, once 2 captions are cached
    cli.kill_when(args, lambda: _cached_lines(root) >= 2)
    first = len(read_cache(root, captioner.fingerprint))
    assert 2 <= first < ref.captioned
    # 2: after the captioned index is renamed into place, before the CSV is written
    cli.kill_inside(args, "uirbench.data.captions_csv:write_caption_csvs", str(root))
    assert not (root / "daclip_val.csv").exists()
    # 3: after the CSV, before the shards are rewritten with captions
    cli.kill_inside(args, "uirbench.data.shards:write_shards", str(root))
    assert (root / "daclip_val.csv").exists()
    out = cli.run(args)
    assert f"{ref.captioned} cached, 0 captioned" in out  # nothing captioned twice
    print(
        f"\ncaption: SIGKILL 1 with {first} of {ref.captioned} captions cached; SIGKILL 2 before "
        "the CSV; SIGKILL 3 before the shards; the rerun captioned 0"
    )

    def outputs(folder: Path) -> dict[str, str]:  # the cache may hold a line torn by a kill
        return {k: v for k, v in tree_hashes(folder).items() if ".uirbench/captions/" not in k}

    assert outputs(root) == outputs(reference)
    assert read_cache(root, captioner.fingerprint) == read_cache(reference, captioner.fingerprint)
    assert not cli.temporaries(root)
