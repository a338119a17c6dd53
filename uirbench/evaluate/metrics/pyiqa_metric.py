"""pyiqa metrics (LPIPS, FID, ``ssim-pyiqa`` and any other pyiqa name), with every option explicit.

pyiqa downloads weights on first use; uirbench never lets that happen implicitly. Before building a
metric it checks the weight files uirbench knows about and, when one is absent, stops with the file
name, the cache path that would satisfy it and the URL to fetch it from. Options come from the
profile (``profiles.yaml``) merged over pyiqa's own config, and the merged dict is recorded in the
results JSON.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from uirbench.errors import UirbenchError
from uirbench.hub import Remote
from uirbench.io import sha256_file

# uirbench name -> pyiqa name (``ssim-pyiqa`` keeps pyiqa's clamped SSIM available by choice).
PYIQA_NAME = {"ssim-pyiqa": "ssim"}


@dataclass(frozen=True)
class WeightFile:
    """A weight file a metric needs, where pyiqa/torchvision look for it, where it comes from."""

    what: str
    path: Path
    url: str
    # Full pinned digest, for files that are checked by it instead of being opened (OpenAI's
    # CLIP checkpoints are TorchScript archives, which a tensors-only load cannot read).
    sha256: str | None = None

    def missing_message(self, metric: str) -> str:
        return missing_weights_message([(metric, self)])

    def remote(self) -> Remote:
        """The fetchable description (sha256 checked by the prefix in the file name)."""
        if self.url.startswith("hf://"):  # a Hugging Face hub file: its own cache layout
            repo, _, name = self.url.removeprefix("hf://").rpartition("/")
            return Remote(self.what, self.url, hf_repo=repo, hf_file=name)
        return Remote(self.what, self.url, path=self.path, sha256=self.sha256)


def missing_weights_message(
    missing: list[tuple[str, WeightFile]], without: str = "--metrics psnr,ssim"
) -> str:
    """One message naming every absent weight file, where it goes and the command to fetch it."""
    metrics = list(dict.fromkeys(m for m, _ in missing))
    lines = [
        f"pretrained weights absent for {', '.join(metrics)} (uirbench never downloads them "
        f"implicitly); {len(missing)} file(s):"
    ]
    for m, f in missing:
        lines.append(f"  {m}: {f.what} {f.path.name} -> {f.path.parent}/ (from {f.url})")
    lines.append(
        f"Fetch them with `uirbench weights fetch {' '.join(metrics)}` (TORCH_HOME sets where), "
        f"or score without them: {without}"
    )
    return "\n".join(lines)


def missing_weights(
    metrics: Sequence[str], pyiqa_opts: dict[str, Any]
) -> list[tuple[str, WeightFile]]:
    """(metric, file) for every weight file the given metrics need that is not in its place.

    ``pyiqa_opts`` is the profile's pyiqa section; metrics uirbench computes itself need none.
    """
    out = []
    for m in metrics:
        if m in ("psnr", "ssim"):
            continue
        for f in required_weights(m, explicit_options(m, pyiqa_opts.get(m))):
            if not f.path.is_file():
                out.append((m, f))
    return out


def pyiqa_cache_dir() -> Path:
    """pyiqa's weight cache (``$TORCH_HOME/hub/pyiqa``), resolved now, not at pyiqa import."""
    import torch

    return Path(torch.hub.get_dir()) / "pyiqa"


def required_weights(metric: str, opts: dict[str, Any]) -> list[WeightFile]:
    """Weight files a metric loads with these options (empty when uirbench does not know)."""
    import torch

    out: list[WeightFile] = []
    if metric == "lpips":
        from pyiqa.archs.lpips_arch import default_model_urls

        url = default_model_urls[f"{opts['version']}_{opts['net']}"]
        out.append(
            WeightFile("LPIPS linear layers", pyiqa_cache_dir() / url.rsplit("/", 1)[-1], url)
        )
        if opts["net"] == "alex":
            from torchvision.models import AlexNet_Weights

            url = AlexNet_Weights.IMAGENET1K_V1.url
            path = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
            out.append(WeightFile("torchvision AlexNet (IMAGENET1K_V1)", path, url))
    elif metric in NO_REFERENCE_WEIGHTS:
        out += NO_REFERENCE_WEIGHTS[metric](opts)
    elif metric == "fid":
        from pyiqa.archs import inception

        url = inception.FID_WEIGHTS_URL
        if url.startswith(("http://", "https://")):
            path = pyiqa_cache_dir() / url.rsplit("/", 1)[-1]
            out.append(WeightFile("pytorch-fid Inception v3", path, url))
    return out


def _pyiqa_file(what: str, url: str) -> WeightFile:
    return WeightFile(what, pyiqa_cache_dir() / url.rsplit("/", 1)[-1], url)


def _niqe_weights(opts: dict[str, Any]) -> list[WeightFile]:
    from pyiqa.archs.niqe_arch import default_model_urls

    key = "niqe_matlab" if opts.get("version") == "matlab" else "url"
    return [_pyiqa_file("NIQE pristine-image model", default_model_urls[key])]


def _musiq_weights(opts: dict[str, Any]) -> list[WeightFile]:
    from pyiqa.archs.musiq_arch import default_model_urls

    return [_pyiqa_file("MUSIQ checkpoint", default_model_urls[opts.get("pretrained", "koniq10k")])]


def _clipiqa_weights(opts: dict[str, Any]) -> list[WeightFile]:
    import torch
    from pyiqa.archs.arch_util import get_url_from_name
    from pyiqa.archs.clip_model import _MODELS

    # pyiqa's clipiqa_arch module imports the `clip` package at import time; its URLs are
    # rebuilt here so that naming the files works even where `clip` cannot be imported.
    prompts = {
        "clipiqa+": "CLIP-IQA+_learned_prompts-603f3273.pth",
        "clipiqa+_rn50_512": "CLIPIQA+_RN50_512-89f5d940.pth",
        "clipiqa+_vitL14_512": "CLIPIQA+_ViTL14_512-e66488f2.pth",
    }
    url = _MODELS[opts.get("backbone", "RN50")]
    clip = Path(torch.hub.get_dir()) / "clip" / url.rsplit("/", 1)[-1]
    # OpenAI's URLs carry the file's sha256 as their last folder (pyiqa checks it too)
    out = [WeightFile(f"OpenAI CLIP {opts.get('backbone', 'RN50')}", clip, url, url.split("/")[-2])]
    if "clipiqa+" in opts.get("model_type", "clipiqa"):
        name = prompts[opts["model_type"]]
        out.append(_pyiqa_file("CLIP-IQA+ learned prompts", get_url_from_name(name)))
    return out


def _maniqa_weights(opts: dict[str, Any]) -> list[WeightFile]:
    import huggingface_hub
    from pyiqa.archs.maniqa_arch import default_model_urls

    # MANIQA builds timm's ViT with pretrained=True (from the Hugging Face hub) before loading
    # its own checkpoint over it: both must be in their caches.
    repo = "timm/vit_base_patch8_224.augreg2_in21k_ft_in1k"
    cached = huggingface_hub.try_to_load_from_cache(repo, "model.safetensors")
    vit = (
        Path(cached)
        if isinstance(cached, str)
        else Path(
            huggingface_hub.constants.HF_HUB_CACHE,
            f"models--{repo.replace('/', '--')}",
            "model.safetensors",
        )
    )
    return [
        _pyiqa_file("MANIQA checkpoint", default_model_urls[opts.get("train_dataset", "koniq")]),
        WeightFile("timm ViT-B/8 (MANIQA's backbone)", vit, f"hf://{repo}/model.safetensors"),
    ]


# Weight files of the no-reference metrics uirbench names when they are missing.
NO_REFERENCE_WEIGHTS = {
    "niqe": _niqe_weights,
    "musiq": _musiq_weights,
    "clipiqa": _clipiqa_weights,
    "clipiqa+": _clipiqa_weights,
    "maniqa": _maniqa_weights,
}


def check_weights(metric: str, opts: dict[str, Any]) -> list[WeightFile]:
    """Raise a :class:`UirbenchError` naming every absent file, or the unsafe one; return them.

    pyiqa unpickles its weights with ``weights_only=False``, so each file is first read with
    ``weights_only=True``: one carrying pickled objects is refused before pyiqa can run it.
    """
    from uirbench.weights import load_tensor_file  # imports torch: not for `--help`

    files = required_weights(metric, opts)
    missing = [(metric, f) for f in files if not f.path.is_file()]
    if missing:
        raise UirbenchError(missing_weights_message(missing))
    for f in files:
        if f.sha256:  # pinned: the exact published file, whatever its format
            if sha256_file(f.path) != f.sha256:
                raise UirbenchError(
                    f"{f.path} ({f.what} for {metric}) is not the published file (sha256 "
                    f"differs from {f.sha256[:12]}...); delete it and run `uirbench weights "
                    f"fetch {metric}`"
                )
        elif f.path.suffix != ".mat":  # MATLAB parameter files are read by scipy, not unpickled
            load_tensor_file(f.path)
    return files


def explicit_options(metric: str, profile_opts: dict[str, Any] | None) -> dict[str, Any]:
    """pyiqa's config for ``metric`` with the profile's options over it: the full option set."""
    from pyiqa.default_model_configs import DEFAULT_CONFIGS

    name = PYIQA_NAME.get(metric, metric)
    if name not in DEFAULT_CONFIGS:
        raise UirbenchError(
            f"unknown metric {metric!r} (--metrics): neither uirbench's (psnr, ssim) nor a pyiqa "
            "metric; `python -c 'import pyiqa; print(pyiqa.list_models())'` lists pyiqa's"
        )
    return {**DEFAULT_CONFIGS[name]["metric_opts"], **(profile_opts or {})}


class PyiqaFullReference:
    """A full-reference pyiqa metric scored batch by batch on a device."""

    def __init__(self, metric: str, profile_opts: dict[str, Any] | None, device: str = "cpu"):
        import pyiqa
        from pyiqa.default_model_configs import DEFAULT_CONFIGS

        self.metric = metric
        self.opts = explicit_options(metric, profile_opts)
        name = PYIQA_NAME.get(metric, metric)
        if DEFAULT_CONFIGS[name].get("metric_mode") != "FR":
            raise UirbenchError(
                f"--metrics {metric}: pyiqa's {name} is not a full-reference image metric; "
                "uirbench scores restored images against their GT"
            )
        files = check_weights(metric, self.opts)
        kwargs = {k: v for k, v in self.opts.items() if k != "type"}
        if metric == "lpips":
            kwargs["pretrained_model_path"] = str(files[0].path)
        self.lower_better = bool(DEFAULT_CONFIGS[name].get("lower_better", False))
        try:
            self.model = pyiqa.create_metric(name, as_loss=False, device=device, **kwargs)
        except (OSError, RuntimeError) as exc:
            raise UirbenchError(
                f"{metric}: pyiqa could not build the metric ({exc}); its weights go under "
                f"{pyiqa_cache_dir()}"
            ) from exc
        self.device = device

    def __call__(self, outputs: Sequence[np.ndarray], gts: Sequence[np.ndarray]) -> list[float]:
        """Scores of equal-size uint8 HxWx3 pairs, one per pair, computed as one batch."""
        import torch

        def batch(imgs: Sequence[np.ndarray]) -> torch.Tensor:
            t = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2)
            return t.to(self.device, torch.float32).div_(255.0)

        with torch.no_grad():
            s = self.model(batch(outputs), batch(gts))
        return [float(v) for v in s.reshape(-1).cpu()]


@contextlib.contextmanager
def _fid_weights_from(path: Path) -> Iterator[None]:
    """Make pyiqa's FID Inception load the checked local file instead of its URL."""
    from pyiqa.archs import inception

    saved = inception.FID_WEIGHTS_URL
    inception.FID_WEIGHTS_URL = str(path)
    try:
        yield
    finally:
        inception.FID_WEIGHTS_URL = saved


class FidFeatures:
    """Inception pool3 features as pytorch-fid computes them (pyiqa ``legacy_pytorch`` mode).

    Images (uint8) -> float in [0, 1] -> bilinear resize to 299 (align_corners=False) -> FID
    Inception v3 -> 2048-d pool features. Features are returned so callers can cache the GT side.
    """

    def __init__(self, profile_opts: dict[str, Any] | None, device: str = "cpu"):
        from pyiqa.archs.inception import InceptionV3

        self.opts = explicit_options("fid", profile_opts)
        if self.opts.get("mode") != "legacy_pytorch" or self.opts.get("backbone") != "inceptionv3":
            raise UirbenchError(
                "fid: uirbench computes FID in pyiqa's legacy_pytorch mode with the inceptionv3 "
                f"backbone (as pytorch-fid); profile options {self.opts} ask for something else"
            )
        files = check_weights("fid", self.opts)
        # What identifies the network for feature caching: the weight file's name, size, mtime.
        self.weights_id = {
            "weights": [
                (f.path.name, f.path.stat().st_size, f.path.stat().st_mtime_ns) for f in files
            ]
        }
        dims = int(self.opts["dims"])
        block = InceptionV3.BLOCK_INDEX_BY_DIM[dims]
        with _fid_weights_from(files[0].path) if files else contextlib.nullcontext():
            self.model = InceptionV3(output_blocks=[block]).eval().to(device)
        self.dims = dims
        self.size = int(self.opts.get("resize", 299))
        self.device = device

    def __call__(self, images: Sequence[np.ndarray]) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        if not images:
            return np.zeros((0, self.dims))
        resized = []
        for img in images:  # sizes differ: each is resized to 299x299 on its own first
            t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float()
            size = (self.size, self.size)
            resized.append(F.interpolate(t, size=size, mode="bilinear", align_corners=False))
        with torch.no_grad():
            x = (torch.cat(resized) / 255.0).to(self.device)
            f = self.model(x, False, True)[0]
        return f.reshape(len(images), -1).cpu().double().numpy()
