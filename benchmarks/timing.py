"""Shared by the benchmark scripts: time a Lightning fit of the shared step, warm-up batches excluded."""
import time

import lightning as L


class Timer(L.Callback):
    def __init__(self, warmup: int):
        self.warmup, self.start, self.end = warmup, None, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.warmup:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.end = time.perf_counter()


def fit_images_per_second(module, loader, steps: int, warmup: int, precision: str = "32-true",
                          accelerator: str = "cpu") -> float:
    """Images/s of `steps` timed training batches after `warmup` untimed ones (no checkpoints, loggers or bars)."""
    timer = Timer(warmup)
    trainer = L.Trainer(
        accelerator=accelerator, devices=1, max_epochs=1, limit_train_batches=warmup + steps, precision=precision,
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        callbacks=[timer],
    )
    trainer.fit(module, train_dataloaders=loader)
    return steps * loader.batch_size / (timer.end - timer.start)
