"""One LightningDataModule for every dataset: it builds the dataset at the configured resolution
and channels and exposes both, so the networks take their sizes from the data."""
from typing import Callable

import lightning as L
from torch.utils.data import DataLoader, Dataset

from gan_zoo.errors import UserError


class GANDataModule(L.LightningDataModule):
    def __init__(
        self,
        dataset: Callable[..., Dataset],  # partial dataset, called with resolution= and channels=
        resolution: int = 32,  # image height = width served to the networks
        channels: int = 1,  # 1 = grayscale, 3 = RGB
        batch_size: int = 64,  # per process
        num_workers: int = 0,  # DataLoader worker processes, 0 = load in the main process
        drop_last: bool = True,  # keep every batch the same size (BatchNorm, EMA decay)
    ):
        super().__init__()
        if channels not in (1, 3):
            raise UserError(f"data.channels must be 1 or 3, got {channels}")
        self.resolution = resolution
        self.channels = channels
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.drop_last = drop_last
        self._dataset_factory = dataset
        self.dataset = dataset(resolution=resolution, channels=channels)
        if drop_last and len(self.dataset) < batch_size:
            raise UserError(
                f"the dataset has {len(self.dataset)} images, fewer than data.batch_size={batch_size}: lower the batch size"
            )

    def identity(self) -> dict:
        """What identifies the served images (keys the metrics' real-feature cache)."""
        dataset = self._dataset_factory
        name = getattr(dataset, "func", dataset)
        return {
            "dataset": f"{name.__module__}.{name.__qualname__}",
            "args": {k: str(v) for k, v in sorted(getattr(dataset, "keywords", {}).items())},
            "resolution": self.resolution,
            "channels": self.channels,
            "size": len(self.dataset),
        }

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            shuffle=True,
            num_workers=self.num_workers,
            drop_last=self.drop_last,
            persistent_workers=self.num_workers > 0,
        )
