"""IR-SDE ConditionalUNet with the DA-CLIP prompt module and content cross-attention.

The network predicts the noise of the IR-SDE state ``xt`` given the LQ image ``cond`` (the SDE's
mean ``mu``) and the step ``t``. With DA-CLIP:

* the degradation embedding goes through ``text_mlp``, a softmax over its ``4*nf`` outputs
  weights a learned ``prompt`` vector, and ``prompt_mlp`` of that is added to the time embedding
  (so every ResBlock is modulated by the predicted degradation);
* the content embedding is a one-token context for cross-attention in spatial transformers at
  the bottom level(s) (``attn_levels_from``, 3 in the official code) and the middle block.

Wild-IR (the official ``config/wild-ir``, ``scale: 0.5``) adds one stride-2 convolution after
``init_conv`` (``downsample``) and one nearest-upsample + conv before the final skip
(``upsample``), so the levels run at half resolution; the rest is this network with
``use_degra_context`` off (content cross-attention only) and ``context_dim`` 768 (ViT-L/14).

The other levels use linear attention with 4 heads of 32 channels whatever the level's width
(official). ``linear_attn_heads`` / ``linear_attn_dim_head`` shrink it for the tiny configs,
where those 384 query/key/value channels on a 16-channel level cost more than the convolutions.

State-dict keys and forward arithmetic equal the official ``ConditionalUNet`` (tested against
fixtures made with the official class), so ``universal-ir.pth`` loads with ``strict=True``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from uirbench.models.irsde.layers import (
    LinearAttention,
    PreNorm,
    ResBlock,
    Residual,
    SinusoidalTimeEmbedding,
    SpatialTransformer,
    conv,
    downsample,
    upsample,
)

HEAD_CHANNELS = 32  # channels per attention head in the spatial transformers (official value)


class ConditionalUNet(nn.Module):
    """Noise-prediction UNet of IR-SDE; see the module docstring for the DA-CLIP conditioning."""

    def __init__(
        self,
        in_nc: int = 3,
        out_nc: int = 3,
        nf: int = 64,
        ch_mult: tuple[int, ...] | list[int] = (1, 2, 4, 8),
        context_dim: int | None = 512,
        use_degra_context: bool = True,
        use_image_context: bool = False,
        attn_levels_from: int = 3,
        linear_attn_heads: int = 4,
        linear_attn_dim_head: int = 32,
        scale: float = 1,
    ) -> None:
        super().__init__()
        if scale not in (1, 0.5):
            # the official class silently ignores any other value ("not used"); refuse it here
            raise ValueError(f"ConditionalUNet scale must be 1 or 0.5 (Wild-IR), got {scale}")
        self.depth = len(ch_mult)
        self.scale = scale
        self.context_dim = -1 if context_dim is None else context_dim
        self.use_degra_context = use_degra_context and self.context_dim > 0
        self.use_image_context = use_image_context and self.context_dim > 0
        time_dim = nf * 4

        self.init_conv = conv(in_nc * 2, nf, 7)
        if scale == 0.5:  # Wild-IR: the levels run at half resolution (official key order)
            self.downsample = downsample(nf, nf)
            self.upsample = upsample(nf, nf)
        self.time_mlp = nn.Sequential(
            SinusoidalTimeEmbedding(nf),
            nn.Linear(nf, time_dim),
            nn.GELU(),
            nn.Linear(time_dim, time_dim),
        )
        if self.use_degra_context:
            self.prompt = nn.Parameter(torch.rand(1, time_dim))
            self.text_mlp = nn.Sequential(
                nn.Linear(context_dim, time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim)
            )
            self.prompt_mlp = nn.Linear(time_dim, time_dim)

        def attention(dim: int, level: int | None) -> nn.Module:
            cross = self.use_image_context and (level is None or level >= attn_levels_from)
            if cross:
                if dim % HEAD_CHANNELS:
                    raise ValueError(
                        f"cross-attention needs channels divisible by {HEAD_CHANNELS}, got {dim}; "
                        "raise nf or ch_mult of the bottom level(s) in the model config"
                    )
                fn = SpatialTransformer(dim, dim // HEAD_CHANNELS, HEAD_CHANNELS, context_dim)
            else:
                fn = LinearAttention(dim, linear_attn_heads, linear_attn_dim_head)
            return Residual(PreNorm(dim, fn))

        mult = [1, *ch_mult]
        self.downs = nn.ModuleList()
        self.ups = nn.ModuleList()
        for i in range(self.depth):
            dim_in, dim_out = nf * mult[i], nf * mult[i + 1]
            last = i == self.depth - 1
            self.downs.append(
                nn.ModuleList(
                    [
                        ResBlock(dim_in, dim_in, time_dim),
                        ResBlock(dim_in, dim_in, time_dim),
                        attention(dim_in, i),
                        conv(dim_in, dim_out) if last else downsample(dim_in, dim_out),
                    ]
                )
            )
            self.ups.insert(
                0,
                nn.ModuleList(
                    [
                        ResBlock(dim_out + dim_in, dim_out, time_dim),
                        ResBlock(dim_out + dim_in, dim_out, time_dim),
                        attention(dim_out, i),
                        conv(dim_out, dim_in) if i == 0 else upsample(dim_out, dim_in),
                    ]
                ),
            )
        mid = nf * mult[-1]
        self.mid_block1 = ResBlock(mid, mid, time_dim)
        self.mid_attn = attention(mid, None)
        self.mid_block2 = ResBlock(mid, mid, time_dim)
        self.final_res_block = ResBlock(nf * 2, nf, time_dim)
        self.final_conv = nn.Conv2d(nf, out_nc, 3, 1, 1)

    @property
    def uses_daclip(self) -> bool:
        return self.use_degra_context or self.use_image_context

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        s = pad_multiple(self.depth)
        h, w = x.shape[-2:]
        return F.pad(x, (0, (s - w % s) % s, 0, (s - h % s) % s), "reflect")

    def embed(
        self, time: torch.Tensor | float, degradation: torch.Tensor | None, device: torch.device
    ) -> torch.Tensor:
        """Time embedding plus, with DA-CLIP, the degradation prompt."""
        if not torch.is_tensor(time):
            time = torch.tensor([time], device=device)
        t = self.time_mlp(time.reshape(-1).to(device))
        if self.use_degra_context and degradation is not None:
            weights = torch.softmax(self.text_mlp(degradation), dim=1)
            t = t + self.prompt_mlp(weights * self.prompt)
        return t

    def forward(
        self,
        xt: torch.Tensor,
        cond: torch.Tensor,
        time: torch.Tensor | float,
        text_context: torch.Tensor | None = None,
        image_context: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predict the noise in ``xt``; ``text_context`` = degradation, ``image_context`` =
        content embedding (both Bx512 from DA-CLIP; ignored by a model built without them)."""
        h_in, w_in = xt.shape[-2:]
        x = self._pad(torch.cat([xt - cond, cond], dim=1))
        x = self.init_conv(x)
        skip0 = x.clone()
        if self.scale == 0.5:
            x = self.downsample(x)
        t = self.embed(time, text_context, x.device)
        ctx = None
        if self.use_image_context and image_context is not None:
            ctx = image_context.unsqueeze(1) if image_context.dim() == 2 else image_context

        hs = []
        for b1, b2, attn, down in self.downs:
            x = b1(x, t)
            hs.append(x)
            x = attn(b2(x, t), context=ctx)
            hs.append(x)
            x = down(x)

        x = self.mid_block2(self.mid_attn(self.mid_block1(x, t), context=ctx), t)

        for b1, b2, attn, up in self.ups:
            x = b1(torch.cat([x, hs.pop()], dim=1), t)
            x = b2(torch.cat([x, hs.pop()], dim=1), t)
            x = up(attn(x, context=ctx))
        if self.scale == 0.5:
            x = self.upsample(x)

        x = self.final_res_block(torch.cat([x, skip0], dim=1), t)
        return self.final_conv(x)[..., :h_in, :w_in].contiguous()

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute spatial-transformer activations in backward (saves memory in training)."""
        for m in self.modules():
            if isinstance(m, SpatialTransformer):
                m.grad_checkpoint = enable


def pad_multiple(depth: int) -> int:
    """Side multiple the UNet pads its input to (tiles are best chosen as multiples of it)."""
    return int(math.pow(2, depth))
