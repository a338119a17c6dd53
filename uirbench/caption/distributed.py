"""Rank discovery for ``torchrun``: captioning needs no gradients, only a split and barriers.

Under torchrun (``WORLD_SIZE`` > 1) a gloo process group is created for the barriers (gloo works
on CPU and GPU nodes alike; the models themselves never communicate). Without torchrun the run
is a single process with rank 0 of 1.
"""

from __future__ import annotations

import os
from datetime import timedelta

# Ranks wait at a barrier for the slowest one; a large split can take hours.
BARRIER_TIMEOUT = timedelta(hours=72)


class Dist:
    def __init__(self) -> None:
        self.rank = int(os.environ.get("RANK", 0))
        self.world = int(os.environ.get("WORLD_SIZE", 1))
        self._owned = False
        if self.world > 1:
            import torch.distributed as td

            if not td.is_initialized():
                td.init_process_group("gloo", timeout=BARRIER_TIMEOUT)
                self._owned = True
            self.rank, self.world = td.get_rank(), td.get_world_size()

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as td

            td.barrier()

    def close(self) -> None:
        if self._owned:
            import torch.distributed as td

            td.destroy_process_group()
            self._owned = False
