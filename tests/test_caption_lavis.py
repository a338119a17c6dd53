"""The ``lavis`` backend on the real LAVIS classes (in its own env: scripts/test_lavis.sh).

No LAVIS weights can be downloaded here, so the two network steps of ``load_model_and_preprocess``
are replaced: the checkpoint by a tiny randomly initialised ``BlipCaption`` (LAVIS's own ViT and
BERT decoder classes, its own ``generate``) and ``bert-base-uncased`` by a small local vocabulary.
Everything after loading (preprocessing, batched beam search, prompt stripping, the runner) is
LAVIS's and uirbench's real code. In the main environment (no LAVIS) only the clear error is tested.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from uirbench.caption import build_captioner, caption_root
from uirbench.data.captions_csv import read_caption_csv
from uirbench.data.index import read_index, to_table, write_index
from uirbench.data.layout import pair_relpaths, sample_key
from uirbench.errors import UirbenchError
from uirbench.io import sha256_file, write_png
from uirbench.tasks import get_task


def test_lavis_missing_is_a_clear_error() -> None:
    try:
        import lavis  # noqa: F401
    except ImportError:
        with pytest.raises(UirbenchError, match="own environment"):
            build_captioner("lavis", device="cpu")
    else:
        with pytest.raises(UirbenchError, match="blip_caption model type"):
            build_captioner("lavis", model="nope", device="cpu")


def _root(root: Path) -> Path:
    rows = []
    rng = np.random.default_rng(1)
    for n in range(3):
        task = get_task("noisy")
        lq_rel, gt_rel = pair_relpaths("val", task, f"img{n}")
        gt = np.full((48, 48, 3), (n * 90, 255 - n * 80, 40 + n * 60), np.uint8)
        write_png(root / gt_rel, gt)
        write_png(root / lq_rel, np.clip(gt + rng.normal(0, 20, gt.shape), 0, 255).astype(np.uint8))
        rows.append(
            dict(
                key=sample_key("val", task, f"img{n}"),
                split="val",
                task=task.id,
                stem=f"img{n}",
                lq_path=lq_rel,
                gt_path=gt_rel,
                source="test",
                source_image=None,
                synth="noise",
                params="{}",
                seed=0,
                lq_sha256=sha256_file(root / lq_rel),
                gt_sha256=sha256_file(root / gt_rel),
                width=48,
                height=48,
                caption=None,
            )
        )
    write_index(root, to_table(rows))
    return root


def _tiny_lavis(tmp: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    import torch
    from lavis.models.blip_models.blip import BlipBase
    from lavis.models.blip_models.blip_caption import BlipCaption
    from lavis.models.med import XBertLMHeadDecoder
    from lavis.models.vit import VisionTransformerEncoder
    from lavis.processors.blip_processors import BlipImageEvalProcessor
    from transformers import BertConfig, BertTokenizer

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "picture", "of"]
    words += [f"w{i}" for i in range(40)]
    (tmp / "vocab.txt").write_text("\n".join(words) + "\n")

    def init_tokenizer(cls):  # type: ignore[no-untyped-def]
        tok = BertTokenizer(str(tmp / "vocab.txt"))
        tok.add_special_tokens({"bos_token": "[DEC]"})
        tok.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
        tok.enc_token_id = tok.additional_special_tokens_ids[0]
        return tok

    monkeypatch.setattr(BlipBase, "init_tokenizer", classmethod(init_tokenizer))
    torch.manual_seed(0)
    vit = VisionTransformerEncoder(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2)
    cfg = BertConfig(
        vocab_size=len(words) + 2,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        add_cross_attention=True,
        add_type_embeddings=False,  # as LAVIS's med_config.json
        encoder_width=32,
        max_position_embeddings=64,
    )
    model = BlipCaption(vit, XBertLMHeadDecoder(config=cfg), prompt="a picture of ").eval()
    with torch.no_grad():  # wide init: gibberish that depends on the pixels
        for p in model.parameters():
            p.normal_(0, 1.0)

    def load(name, model_type, is_eval=False, device="cpu"):  # type: ignore[no-untyped-def]
        assert (name, model_type, is_eval) == ("blip_caption", "large_coco", True)
        return model.to(device), {"eval": BlipImageEvalProcessor(image_size=32)}, {}

    return load


def test_lavis_backend_captions_a_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("lavis", reason="LAVIS: own env, scripts/test_lavis.sh")
    from uirbench.caption.backends import lavis_blip

    load = _tiny_lavis(tmp_path, monkeypatch)
    monkeypatch.setattr(lavis_blip, "import_lavis", lambda: load)
    root = _root(tmp_path / "root")
    captioner = build_captioner("lavis", device="cpu", batch_size=2)
    assert captioner.gen["max_length"] == 32 + captioner.model.prompt_length
    result = caption_root(root, captioner, progress=False)
    assert (result.distinct, result.captioned) == (3, 3)
    index = read_index(root)
    assert index["caption"].notna().all()
    assert not any(c.startswith("a picture of") for c in index["caption"])  # prompt stripped
    csv = read_caption_csv(root / "daclip_val.csv")
    assert list(csv["caption"]) == list(index.sort_values("stem")["caption"])
    assert set(csv["degradation"]) == {"noisy"}
