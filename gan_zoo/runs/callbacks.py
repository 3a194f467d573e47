"""Callbacks: sample grids from the fixed latent batch, plots of the run, and images/s in the progress bar."""
import time
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from PIL import Image
from torchvision.transforms.functional import to_pil_image
from torchvision.utils import make_grid

from gan_zoo.files import save_png
from gan_zoo.runs.plots import plot_losses, plot_metrics


def log_images(trainer: L.Trainer, key: str, images: list[Image.Image], caption: str) -> None:
    """Send PIL images to every wandb and TensorBoard logger of the run (PIL: wandb reads float tensors as 0-255)."""
    from lightning.pytorch.loggers import TensorBoardLogger
    from torchvision.transforms.functional import pil_to_tensor

    # at an epoch's end, the step Lightning logs that epoch's scalars at (so images and curves line up)
    step = max(trainer.fit_loop.epoch_loop._batches_that_stepped - 1, 0)
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key, images, step=step, caption=[caption] * len(images))
        elif isinstance(logger, TensorBoardLogger):
            for i, image in enumerate(images):
                logger.experiment.add_image(key if len(images) == 1 else f"{key}/{i}", pil_to_tensor(image), step)


class SampleGrid(L.Callback):
    """At the end of every `every_n_epochs` epochs, save a PNG grid of the EMA generator's images for
    the module's fixed latents (`sample_z`), and send it to wandb when a WandbLogger is in use."""

    def __init__(self, out_dir: str, every_n_epochs: int = 1, nrow: int = 8):  # samples/ folder, images per row
        self.out_dir, self.every_n_epochs, self.nrow = Path(out_dir), every_n_epochs, nrow

    @rank_zero_only
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """samples/real.png once per run: real training images to compare the samples with."""
        path = self.out_dir / "real.png"
        dataset = getattr(trainer.datamodule, "dataset", None)
        if path.exists() or dataset is None:
            return
        n = min(len(pl_module.sample_z), len(dataset))
        picks = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0))[:n]
        images = torch.stack([dataset[int(i)][0] for i in picks])  # [N, C, H, W] in [-1, 1]
        save_png(make_grid(images, nrow=self.nrow, normalize=True, value_range=(-1, 1)), path, "real images")

    @rank_zero_only
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        was_training = pl_module.generator_ema.training
        pl_module.generator_ema.eval()
        with torch.no_grad():
            images = pl_module(pl_module.sample_z, getattr(pl_module, "sample_c", None)).float().cpu()  # [N, C, H, W]
        pl_module.generator_ema.train(was_training)
        grid = make_grid(images, nrow=self.nrow, normalize=True, value_range=(-1, 1))
        save_png(grid, self.out_dir / f"epoch_{trainer.current_epoch:04d}.png", "sample grid")
        log_images(trainer, "samples", [to_pil_image(grid.clamp(0, 1))], f"epoch {trainer.current_epoch}")


class RunPlots(L.Callback):
    """After every epoch's evaluation: <run_dir>/plots/metrics.png (FID, KID, IS, precision/recall... against
    kimg) and plots/losses.png, refreshed, and sent to wandb when it is on. Listed after the metrics callback
    (train.py builds the metrics callbacks first), so each epoch's plot holds that epoch's evaluation."""

    def __init__(self, run_dir: str):
        self.run_dir = Path(run_dir)

    @rank_zero_only
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for logger in trainer.loggers:
            logger.save()  # the CSV rows of this epoch, before reading them
        for name, plot in (("metrics", plot_metrics), ("losses", plot_losses)):
            if (path := plot(self.run_dir)) is not None:
                with Image.open(path) as image:
                    log_images(trainer, f"plots/{name}", [image.copy()], f"epoch {trainer.current_epoch}")


class ImagesPerSecond(L.Callback):
    """Training throughput, data loading included: a smoothed images/s in the progress bar and the
    epoch's mean in the logs (`train/images_per_sec`), from the epoch's start to its last batch's end (what runs
    at the epoch's end, such as an evaluation or a checkpoint, is not training)."""

    def __init__(self, smoothing: float = 0.9):
        self.smoothing = smoothing  # weight of the previous value in the running average

    def on_train_start(self, trainer, pl_module) -> None:
        self.on_train_epoch_start(trainer, pl_module)  # a run resumed mid-epoch starts with no epoch start

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.rate = None
        self.epoch_images = 0
        self.epoch_start = self.last = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        images = len(batch[0] if isinstance(batch, (list, tuple)) else batch) * trainer.world_size
        rate = images / max(now - self.last, 1e-9)
        self.rate = rate if self.rate is None else self.smoothing * self.rate + (1 - self.smoothing) * rate
        self.epoch_images += images
        self.last = now
        pl_module.log("img/s", self.rate, prog_bar=True, logger=False, on_step=True, on_epoch=False)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        seconds = self.last - self.epoch_start
        if self.epoch_images:  # already counts every process's images; no sync_dist: see gan_zoo/commands/console.py
            pl_module.log("train/images_per_sec", self.epoch_images / seconds, on_step=False, on_epoch=True)


class LogEveryEpoch(L.Callback):
    """Lowers the logging interval to the number of batches in an epoch when an epoch is shorter (a few hundred
    paintings, or `trainer.limit_train_batches`): otherwise no loss would ever reach metrics.csv."""

    def on_train_start(self, trainer, pl_module) -> None:
        batches = trainer.num_training_batches
        if isinstance(batches, int) and 0 < batches < trainer.log_every_n_steps:
            trainer.log_every_n_steps = batches


class StoreConfig(L.Callback):
    """Puts the run's resolved config into every checkpoint (`checkpoint["gan_zoo_config"]`), so that
    a checkpoint alone rebuilds its networks and data (gan-zoo-eval, resume checks)."""

    def __init__(self, config: dict):
        self.config = config

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        checkpoint["gan_zoo_config"] = self.config
