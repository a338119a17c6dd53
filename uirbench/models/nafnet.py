"""NAFNet (Chen et al., 2022) and NAFNet + DA-CLIP.

``NAFNet`` has the parameter names and arithmetic of the official megvii-research/NAFNet
``NAFNet`` (tested against fixtures from it), so its released weights load with ``strict=True``.

``NAFNet + DA-CLIP`` follows the DA-CLIP paper's footnote ("we add the prompt module to all blocks
and use cross-attention in the bottom layers"); no official code exists, so the design is ours:

* prompt module: as in the IR-SDE UNet, ``prompt_mlp(softmax(text_mlp(e_d)) * prompt)`` gives one
  prompt vector per image; every NAFBlock maps it (``prompt_proj``) to a per-channel scale and
  shift applied after its first LayerNorm (zero-initialised, so training starts at plain NAFNet);
* cross-attention: after each middle block, a residual cross-attention from the feature map to
  the content embedding (``middle_attn``), its output projection zero-initialised.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of an NCHW map (affine: ``weight``, ``bias``)."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        y = (x - mu) / (var + self.eps).sqrt()
        return self.weight.view(1, -1, 1, 1) * y + self.bias.view(1, -1, 1, 1)


class SimpleGate(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * b


class NAFBlock(nn.Module):
    """NAFNet block; with ``prompt_dim`` it is FiLM-modulated by the DA-CLIP prompt."""

    def __init__(self, c: int, dw_expand: int = 2, ffn_expand: int = 2, prompt_dim: int = 0):
        super().__init__()
        dw = c * dw_expand
        self.conv1 = nn.Conv2d(c, dw, 1)
        self.conv2 = nn.Conv2d(dw, dw, 3, padding=1, groups=dw)
        self.conv3 = nn.Conv2d(dw // 2, c, 1)
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(dw // 2, dw // 2, 1))
        self.sg = SimpleGate()
        ffn = ffn_expand * c
        self.conv4 = nn.Conv2d(c, ffn, 1)
        self.conv5 = nn.Conv2d(ffn // 2, c, 1)
        self.norm1 = LayerNorm2d(c)
        self.norm2 = LayerNorm2d(c)
        self.dropout1 = nn.Identity()
        self.dropout2 = nn.Identity()
        self.beta = nn.Parameter(torch.zeros((1, c, 1, 1)))
        self.gamma = nn.Parameter(torch.zeros((1, c, 1, 1)))
        if prompt_dim:
            self.prompt_proj = nn.Sequential(nn.SiLU(), nn.Linear(prompt_dim, 2 * c))
            nn.init.zeros_(self.prompt_proj[1].weight)
            nn.init.zeros_(self.prompt_proj[1].bias)

    def forward(self, inp: torch.Tensor, prompt: torch.Tensor | None = None) -> torch.Tensor:
        x = self.norm1(inp)
        if prompt is not None and hasattr(self, "prompt_proj"):
            scale, shift = self.prompt_proj(prompt)[:, :, None, None].chunk(2, dim=1)
            x = x * (1 + scale) + shift
        x = self.sg(self.conv2(self.conv1(x)))
        x = self.conv3(x * self.sca(x))
        y = inp + self.dropout1(x) * self.beta
        x = self.conv5(self.sg(self.conv4(self.norm2(y))))
        return y + self.dropout2(x) * self.gamma


class Stage(nn.Sequential):
    """A sequence of NAFBlocks that all receive the prompt (keys stay ``<stage>.<i>.*``)."""

    def forward(self, x: torch.Tensor, prompt: torch.Tensor | None = None) -> torch.Tensor:
        for block in self:
            x = block(x, prompt)
        return x


class CrossAttention2d(nn.Module):
    """Residual cross-attention from a feature map (queries) to context tokens (keys/values)."""

    def __init__(self, c: int, context_dim: int, heads: int = 1) -> None:
        super().__init__()
        self.heads = heads
        self.norm = LayerNorm2d(c)
        self.to_q = nn.Conv2d(c, c, 1, bias=False)
        self.to_k = nn.Linear(context_dim, c, bias=False)
        self.to_v = nn.Linear(context_dim, c, bias=False)
        self.to_out = nn.Conv2d(c, c, 1)
        nn.init.zeros_(self.to_out.weight)
        nn.init.zeros_(self.to_out.bias)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.to_q(self.norm(x)).reshape(b, self.heads, c // self.heads, h * w).transpose(2, 3)
        k = self.to_k(context).reshape(b, -1, self.heads, c // self.heads).transpose(1, 2)
        v = self.to_v(context).reshape(b, -1, self.heads, c // self.heads).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v)  # b heads hw d
        return x + self.to_out(out.transpose(2, 3).reshape(b, c, h, w))


class NAFNet(nn.Module):
    """U-shaped NAFNet predicting a residual on the input; optional DA-CLIP conditioning."""

    def __init__(
        self,
        img_channel: int = 3,
        width: int = 32,
        middle_blk_num: int = 12,
        enc_blk_nums: list[int] | tuple[int, ...] = (2, 2, 4, 8),
        dec_blk_nums: list[int] | tuple[int, ...] = (2, 2, 2, 2),
        context_dim: int | None = None,
        prompt_dim: int | None = None,
        attn_heads: int = 1,
    ) -> None:
        super().__init__()
        self.daclip = bool(context_dim)
        pdim = (prompt_dim or 4 * width) if self.daclip else 0
        self.intro = nn.Conv2d(img_channel, width, 3, padding=1)
        self.ending = nn.Conv2d(width, img_channel, 3, padding=1)
        self.encoders = nn.ModuleList()
        self.decoders = nn.ModuleList()
        self.ups = nn.ModuleList()
        self.downs = nn.ModuleList()
        chan = width
        for num in enc_blk_nums:
            self.encoders.append(Stage(*[NAFBlock(chan, prompt_dim=pdim) for _ in range(num)]))
            self.downs.append(nn.Conv2d(chan, 2 * chan, 2, 2))
            chan *= 2
        self.middle_blks = Stage(*[NAFBlock(chan, prompt_dim=pdim) for _ in range(middle_blk_num)])
        for num in dec_blk_nums:
            self.ups.append(
                nn.Sequential(nn.Conv2d(chan, chan * 2, 1, bias=False), nn.PixelShuffle(2))
            )
            chan //= 2
            self.decoders.append(Stage(*[NAFBlock(chan, prompt_dim=pdim) for _ in range(num)]))
        self.padder_size = 2 ** len(self.encoders)
        if self.daclip:
            self.prompt = nn.Parameter(torch.rand(1, pdim))
            self.text_mlp = nn.Sequential(
                nn.Linear(context_dim, pdim), nn.SiLU(), nn.Linear(pdim, pdim)
            )
            self.prompt_mlp = nn.Linear(pdim, pdim)
            bottom = width * 2 ** len(enc_blk_nums)
            self.middle_attn = nn.ModuleList(
                [CrossAttention2d(bottom, context_dim, attn_heads) for _ in range(middle_blk_num)]
            )

    @property
    def uses_daclip(self) -> bool:
        return self.daclip

    def forward(
        self,
        inp: torch.Tensor,
        text_context: torch.Tensor | None = None,
        image_context: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Restore ``inp`` (Bx3xHxW in [0, 1]); the contexts are DA-CLIP's degradation and
        content embeddings (Bx512), used only by the DA-CLIP variant."""
        _, _, h, w = inp.shape
        s = self.padder_size
        inp = F.pad(inp, (0, (s - w % s) % s, 0, (s - h % s) % s))
        prompt = None
        if self.daclip and text_context is not None:
            weights = torch.softmax(self.text_mlp(text_context), dim=1)
            prompt = self.prompt_mlp(weights * self.prompt)
        ctx = None
        if self.daclip and image_context is not None:
            ctx = image_context.unsqueeze(1) if image_context.dim() == 2 else image_context

        x = self.intro(inp)
        skips = []
        for encoder, down in zip(self.encoders, self.downs, strict=True):
            x = encoder(x, prompt)
            skips.append(x)
            x = down(x)
        for i, block in enumerate(self.middle_blks):
            x = block(x, prompt)
            if ctx is not None:
                x = self.middle_attn[i](x, ctx)
        for decoder, up, skip in zip(self.decoders, self.ups, skips[::-1], strict=False):
            x = decoder(up(x) + skip, prompt)
        x = self.ending(x) + inp
        return x[:, :, :h, :w]
