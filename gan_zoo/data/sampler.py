"""A random sampler that can start an epoch part-way through (exact mid-epoch resume), and that shards
itself across DDP processes, so Lightning does not wrap it in a DistributedSampler of another length."""
import torch
from torch.utils.data import Sampler


class ResumableRandomSampler(Sampler[int]):
    """Each epoch a random order drawn from (seed, epoch) alone, with no global RNG involved; process
    `rank` of `world_size` takes every world_size-th item of it (the order padded from its start to a
    multiple of world_size, as DistributedSampler does). After `resume(epoch, items)`, that epoch's
    iteration starts `items` into this process's share."""

    def __init__(self, size: int, seed: int = 0, rank: int = 0, world_size: int = 1):
        self.size = size
        self.seed = seed
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self._resume_epoch, self._resume_items = None, 0

    def set_epoch(self, epoch: int) -> None:  # Lightning calls it at every epoch start
        self.epoch = epoch

    def resume(self, epoch: int, items: int) -> None:
        self._resume_epoch, self._resume_items = epoch, items

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator)
        if self.world_size > 1:
            order = torch.cat([order, order[: len(self) * self.world_size - self.size]])[self.rank :: self.world_size]
        if self._resume_epoch == self.epoch:
            order = order[self._resume_items :]
        self._resume_epoch = None
        return iter(order.tolist())

    def __len__(self) -> int:
        return -(-self.size // self.world_size)
