"""One LightningDataModule for every dataset: it builds the dataset at the configured resolution
and channels and exposes both, so the networks take their sizes from the data."""
from typing import Callable

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from gan_zoo.data.sampler import ResumableRandomSampler
from gan_zoo.errors import UserError


def held_out_indices(total: int, holdout: int) -> list[int]:
    """The indices data.holdout=N keeps out of training: a fixed subset, its own seed (not data.seed), so runs
    with other seeds hold out the same images."""
    order = torch.randperm(total, generator=torch.Generator().manual_seed(2**31 - 1)).tolist()
    return sorted(order[:holdout])


class GANDataModule(L.LightningDataModule):
    def __init__(
        self,
        dataset: Callable[..., Dataset],  # partial dataset, called with resolution= and channels=
        resolution: int = 32,  # image height = width served to the networks
        channels: int = 1,  # 1 = grayscale, 3 = RGB
        batch_size: int = 64,  # per process
        num_workers: int = 0,  # DataLoader worker processes, 0 = load in the main process
        drop_last: bool = True,  # keep every batch the same size (BatchNorm, EMA decay)
        seed: int = 0,  # the order of the images in every epoch follows from it
        holdout: int = 0,  # images kept out of training (a fixed random subset), for copying checks; 0 = none
        num_classes: int = 0,  # classes of the labels a conditional model is given (gan_zoo.contract); 0 = none
    ):
        super().__init__()
        if channels not in (1, 3):
            raise UserError(f"data.channels must be 1 or 3, got {channels}")
        self.resolution, self.channels, self.batch_size = resolution, channels, batch_size
        self.num_workers, self.drop_last, self.seed = num_workers, drop_last, seed
        self.num_classes = num_classes
        self.batches_served = 0  # batches handed to the training step in the current epoch
        self.batch_size_fn = None  # set by a schedule that sets the batch size (PGGAN's): () -> int, per epoch
        self.epoch_batch_size = batch_size  # the batch size of the current epoch
        self._resume_batch_size, self._resume = None, None  # _resume: (epoch, items) to start the sampler at
        self._dataset_factory = dataset
        self.dataset = dataset(resolution=resolution, channels=channels)
        self.holdout, self.holdout_dataset = holdout, None
        if holdout:
            if not 0 < holdout < len(self.dataset):
                raise UserError(f"data.holdout={holdout} must be between 1 and the {len(self.dataset) - 1} images "
                                "that leave some for training (0 = no held-out images)")
            held_out = held_out_indices(len(self.dataset), holdout)
            kept = sorted(set(range(len(self.dataset))) - set(held_out))
            self.holdout_dataset = Subset(self.dataset, held_out)
            self.dataset = Subset(self.dataset, kept)
        if drop_last and len(self.dataset) < batch_size:
            raise UserError(f"the dataset has {len(self.dataset)} images, fewer than data.batch_size={batch_size}: "
                            "lower the batch size")

    def identity(self) -> dict:
        """What identifies the served images (keys the metrics' real-feature cache)."""
        dataset = self._dataset_factory
        name = getattr(dataset, "func", dataset)
        return {"dataset": f"{name.__module__}.{name.__qualname__}",
                "args": {k: str(v) for k, v in sorted(getattr(dataset, "keywords", {}).items())},
                "resolution": self.resolution, "channels": self.channels, "size": len(self.dataset),
                **({"holdout": self.holdout} if self.holdout else {})}

    def train_dataloader(self) -> DataLoader:
        if not hasattr(self, "sampler"):
            rank, world_size = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
            self.sampler = ResumableRandomSampler(len(self.dataset), self.seed, rank, world_size)
            if self._resume is not None:
                self.sampler.resume(*self._resume)
        if self._resume_batch_size is not None:  # resumed mid-epoch: keep that epoch's batch size
            self.epoch_batch_size, self._resume_batch_size = self._resume_batch_size, None
        elif self.batch_size_fn is not None:
            self.epoch_batch_size = self.batch_size_fn()
        # its own generator: creating an epoch's iterator must not draw from the global RNG
        return DataLoader(self.dataset, batch_size=self.epoch_batch_size, sampler=self.sampler,
                          num_workers=self.num_workers, drop_last=self.drop_last,
                          persistent_workers=self.num_workers > 0, generator=torch.Generator().manual_seed(self.seed))

    # The position within the epoch, for exact mid-epoch resume (saved in checkpoints by Lightning).
    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        if self.trainer is not None and self.trainer.training:
            epoch = self.trainer.current_epoch
            self.batches_served = self.batches_served + 1 if getattr(self, "_served_epoch", None) == epoch else 1
            self._served_epoch = epoch
        return batch

    def state_dict(self) -> dict:
        return {"epoch": getattr(self, "_served_epoch", 0), "batches_served": self.batches_served,
                "batch_size": self.epoch_batch_size}

    def load_state_dict(self, state: dict) -> None:
        self._served_epoch, self.batches_served = state["epoch"], state["batches_served"]
        batch_size = state.get("batch_size", self.batch_size)
        self._resume_batch_size = batch_size  # the rest of that epoch keeps its batch size (a schedule's, e.g.)
        self._resume = (state["epoch"], state["batches_served"] * batch_size)  # items into this process's share
        if hasattr(self, "sampler"):
            self.sampler.resume(*self._resume)
