"""Data-parallel training with torch.distributed: every worker holds the whole model.

Each batch is split over the workers; each computes the loss of its share,
normalised by the size of the whole batch and multiplied by the number of
workers, and :class:`~torch.nn.parallel.DistributedDataParallel` averages the
gradients over the workers during the backward pass, so that every worker
steps with exactly the gradient a single process gets for the whole batch. Weights,
optimiser, weight average, validation and every stopping decision are
therefore the same on all workers, and only the first one writes files.

Launch with ``torchrun --nproc_per_node N -m mlpot.cli.train CONFIG.yaml``.
Training runs on CPUs, so the workers talk through gloo, also on a machine
with a GPU (NCCL reduces only CUDA tensors).
"""

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class Workers:
    """This process's place among the training processes."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Whether this worker writes files and logs."""
        return self.rank == 0

    def share(self, items):
        """This worker's part of a sequence: every ``world_size``-th item."""
        return items[self.rank :: self.world_size]

    def barrier(self) -> None:
        """Wait until every worker gets here."""
        if self.world_size > 1:
            dist.barrier()

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over all workers, in place; returns it."""
        if self.world_size > 1:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def max(self, value: float) -> float:
        """The largest ``value`` over all workers."""
        if self.world_size == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return float(tensor)

    def parallel(self, module: torch.nn.Module) -> torch.nn.Module:
        """``module`` wrapped so that backward averages its gradients over the workers.

        The wrapper is DistributedDataParallel; a loss meant to be summed over
        the workers is multiplied by :attr:`world_size` before backward. With
        one worker, ``module`` itself.
        """
        if self.world_size == 1:
            return module
        # A setting that leaves some weight outside the energy's graph would
        # otherwise stall the reduction of the gradients.
        return DistributedDataParallel(
            module, broadcast_buffers=False, find_unused_parameters=True
        )


SINGLE_PROCESS = Workers()


def start_workers() -> Workers:
    """Join the process group ``torchrun`` describes in the environment, if any.

    Returns a single worker when ``WORLD_SIZE`` is unset or 1.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return SINGLE_PROCESS
    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    return Workers(rank=dist.get_rank(), world_size=dist.get_world_size())


def stop_workers(workers: Workers) -> None:
    """Leave the process group started by :func:`start_workers`."""
    if workers.world_size > 1 and dist.is_initialized():
        dist.destroy_process_group()
