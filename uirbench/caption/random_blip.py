"""Randomly initialised BLIP checkpoints, for offline tests and the caption benchmark.

No weights can be downloaded in CI, yet the ``transformers`` backend must be exercised for real:
this writes a complete ``save_pretrained`` folder (config, weights, tokenizer, image processor)
that ``BlipForConditionalGeneration.from_pretrained`` and ``BlipProcessor.from_pretrained`` load
exactly like a published checkpoint. Captions from it are gibberish; the plumbing is not.
"""

from __future__ import annotations

from pathlib import Path

# Sizes: "tiny" for tests (loads and generates in well under a second), "base" matches
# Salesforce/blip-image-captioning-base (ViT-B/16 at 384 px, 12-layer BERT decoder) for timing.
SIZES: dict[str, dict[str, dict[str, int]]] = {
    "tiny": {
        "vision": dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=32,
            patch_size=8,
        ),
        "text": dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            encoder_hidden_size=32,
            max_position_embeddings=64,
        ),
    },
    "base": {
        "vision": dict(
            hidden_size=768,
            intermediate_size=3072,
            num_hidden_layers=12,
            num_attention_heads=12,
            image_size=384,
            patch_size=16,
        ),
        "text": dict(
            hidden_size=768,
            intermediate_size=3072,
            num_hidden_layers=12,
            num_attention_heads=12,
            encoder_hidden_size=768,
            max_position_embeddings=512,
        ),
    },
}
_SPECIAL = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_WORDS = [
    "a",
    "an",
    "the",
    "of",
    "on",
    "in",
    "with",
    "and",
    "at",
    "photo",
    "picture",
    "man",
    "woman",
    "cat",
    "dog",
    "cup",
    "coffee",
    "rocket",
    "space",
    "stars",
    "eye",
    "flower",
    "temple",
    "tree",
    "sky",
    "city",
    "street",
    "sitting",
    "standing",
    "red",
    "blue",
    "green",
    "white",
    "black",
]


def _vocab(size: str) -> list[str]:
    """A BERT-style vocabulary; ``base`` has BLIP's real size (30524): same LM-head cost."""
    words = _SPECIAL + _WORDS
    n = 30522 if size == "base" else 96
    words += [f"w{i}" for i in range(n - len(words))]
    return [*words, "[DEC]", "[ENC]"]  # BLIP appends its bos ([DEC]) and [ENC] after BERT's vocab


def make_random_blip(folder: str | Path, size: str = "tiny", seed: int = 0) -> Path:
    """Write a random BLIP captioning checkpoint + processor to ``folder``; returns the folder."""
    import torch
    from transformers import (
        BertTokenizerFast,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; expected one of {', '.join(SIZES)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = _vocab(size)
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n")
    # from_pretrained on a bare vocab.txt works across transformers 4.x and 5.x constructors.
    tok = BertTokenizerFast.from_pretrained(folder, bos_token="[DEC]", model_max_length=512)
    tok.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
    spec = SIZES[size]
    text = dict(
        spec["text"],
        vocab_size=len(vocab),
        bos_token_id=vocab.index("[DEC]"),
        pad_token_id=vocab.index("[PAD]"),
        sep_token_id=vocab.index("[SEP]"),
        eos_token_id=vocab.index("[SEP]"),
    )
    # BLIP initialises the vision tower near zero (1e-10), so every image would get the same
    # caption. The tiny model uses a wide init so its gibberish depends on the pixels and tests can
    # tell whether captions land on the right images; timing does not depend on the init.
    init = 1.0 if size == "tiny" else 0.02
    vision = dict(spec["vision"], initializer_range=init)
    text["initializer_range"] = init
    config = BlipConfig(text_config=text, vision_config=vision, initializer_range=init)
    torch.manual_seed(seed)
    model = BlipForConditionalGeneration(config).eval()
    side = spec["vision"]["image_size"]
    processor = BlipProcessor(
        image_processor=BlipImageProcessor(size={"height": side, "width": side}),
        tokenizer=tok,
    )
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
