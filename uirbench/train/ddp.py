"""Distributed data parallel plumbing shared by the training loops (torchrun, gloo or NCCL).

Launch with ``torchrun --nproc_per_node N -m uirbench ...``: the environment variables torchrun
sets (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT) select the process group; without them the
same code runs as one process. Each rank takes a contiguous slice of every global batch, so a run
on N ranks sees exactly the batches of a one-process run with the same global batch size.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import torch
import torch.distributed as dist

from uirbench.errors import UirbenchError

CPU = torch.device("cpu")


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = CPU

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str | None = None) -> DistEnv:
    """Join the torchrun process group if launched by torchrun (gloo on CPU, NCCL on CUDA).

    ``device``: auto (None), cpu, cuda or cuda:N; anything else, or cuda without a CUDA device, is
    an error naming ``train.device`` (an unknown value used to train on the CPU silently)."""
    if device not in (None, "auto", "cpu") and not re.fullmatch(r"cuda(:\d+)?", str(device)):
        raise UirbenchError(
            f"train.device={device!r}: use auto, cpu, cuda or cuda:N (e.g. train.device=cuda)"
        )
    if device is not None and str(device).startswith("cuda") and not torch.cuda.is_available():
        raise UirbenchError(
            f"train.device={device}: no CUDA device is available to torch here; use "
            "train.device=cpu or auto, or install a CUDA build of torch"
        )
    want_cuda = torch.cuda.is_available() if device in (None, "auto") else device.startswith("cuda")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if want_cuda:
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if want_cuda else "gloo")
    return DistEnv(rank=rank, world_size=world, local_rank=local, device=dev)


def shutdown(env: DistEnv) -> None:
    if env.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(env: DistEnv) -> None:
    if env.distributed:
        dist.barrier()


def local_slice(global_batch: int, env: DistEnv) -> slice:
    """This rank's part of a global batch; the global batch must divide evenly."""
    if global_batch % env.world_size:
        raise ValueError(
            f"global batch {global_batch} is not divisible by {env.world_size} processes"
        )
    per = global_batch // env.world_size
    return slice(env.rank * per, (env.rank + 1) * per)


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sums the ranks' gradients (all_reduce) and keeps the local part:
    works on gloo (no reduce_scatter needed) and NCCL."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, rank: int, world: int) -> torch.Tensor:
        ctx.rank, ctx.n = rank, x.shape[0]
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n], None, None


def gather_features(x: torch.Tensor, env: DistEnv) -> torch.Tensor:
    """All ranks' features concatenated in rank order, differentiable.

    Every rank computes the same global contrastive loss. The backward sums the gradients that all
    ranks send to each rank's features, and DDP then averages parameter gradients over ranks: the
    result equals the one-process gradient for every parameter, including ``logit_scale``
    (open_clip's ``gather_with_grad=True``).
    """
    if not env.distributed:
        return x
    return _GatherWithGrad.apply(x, env.rank, env.world_size)


def all_reduce_mean(value: float, env: DistEnv) -> float:
    if not env.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / env.world_size


def wrap(module: torch.nn.Module, env: DistEnv) -> torch.nn.Module:
    """DistributedDataParallel over ``module`` when distributed (frozen parameters are skipped)."""
    if not env.distributed:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [env.local_rank] if env.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids, broadcast_buffers=False)
