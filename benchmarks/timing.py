"""Shared by the benchmark scripts: time a Lightning fit of the shared step, warm-up batches excluded, and say
where the time of a batch goes (data, D step, R1, G step, path length, EMA)."""
import statistics
import time
from collections import defaultdict

import lightning as L
import torch


class Timer(L.Callback):
    """Wall clock of the batches after `warmup`, and per batch the phases' seconds (with `phases`)."""

    def __init__(self, warmup: int, phases: bool = False):
        self.warmup, self.start, self.end, self.phases = warmup, None, None, phases
        self.active, self.last_end = False, None
        self.records = defaultdict(list)  # phase -> [(seconds, names of the regularizers it ran)]

    def on_train_start(self, trainer, pl_module):
        self.train_start = time.perf_counter()
        if self.phases:
            self._wrap(pl_module)

    def _sync(self, module):
        if module.device.type == "cuda":
            torch.cuda.synchronize(module.device)

    def _wrap(self, module):
        def timed(phase, fn):
            def run(*args, **kwargs):
                self._sync(module)
                start = time.perf_counter()
                out = fn(*args, **kwargs)
                self._sync(module)
                if self.active:
                    ran = tuple(sorted(k[len("train/reg_"):] for k in (out or {}) if k.startswith("train/reg_")))
                    self.records[phase].append((time.perf_counter() - start, ran))
                return out
            return run
        module.d_step = timed("D", module.d_step)
        module.g_step = timed("G", module.g_step)
        module.generator_ema.update = timed("EMA", module.generator_ema.update)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.warmup:
            self.start = time.perf_counter()
        self.active = batch_idx >= self.warmup
        if self.active and self.last_end is not None:
            self.records["data + loop"].append((time.perf_counter() - self.last_end, ()))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.end = self.last_end = time.perf_counter()

    def warmup_seconds(self) -> float:
        """Wall clock of the untimed warm-up batches (with torch.compile: mostly compiling)."""
        return self.start - self.train_start

    def breakdown(self, batches: int) -> dict[str, float]:
        """Milliseconds per batch of each phase. A lazy regularizer's cost is the extra time of the steps that ran it
        over the steps that did not, times the share of steps that ran it (so it is amortized like its interval)."""
        ms = {}
        for phase, records in self.records.items():
            plain = [s for s, ran in records if not ran]
            if not plain:  # regularizers every step (e.g. PGGAN's gradient penalty): not separable, shown together
                names = "+".join(sorted({n for _, ran in records for n in ran}))
                ms[f"{phase} + {names}"] = 1000 * sum(s for s, _ in records) / batches
                continue
            base = statistics.mean(plain)
            ms[phase] = 1000 * base * len(records) / batches
            for name in {n for _, ran in records for n in ran}:
                extra = [s - base for s, ran in records if name in ran]
                ms[name] = 1000 * sum(extra) / batches
        ms["other"] = 1000 * (self.end - self.start) / batches - sum(ms.values())
        return ms


def fit(module, loader, steps: int, warmup: int, precision: str = "32-true", accelerator: str = "cpu",
        phases: bool = False) -> Timer:
    """Fit `warmup` untimed and `steps` timed training batches (no checkpoints, loggers or bars); the timer."""
    timer = Timer(warmup, phases)
    trainer = L.Trainer(
        accelerator=accelerator, devices=1, max_epochs=1, limit_train_batches=warmup + steps, precision=precision,
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        callbacks=[timer],
    )
    trainer.fit(module, train_dataloaders=loader)
    return timer


def fit_images_per_second(module, loader, steps: int, warmup: int, precision: str = "32-true",
                          accelerator: str = "cpu") -> float:
    """Images/s of `steps` timed training batches after `warmup` untimed ones."""
    timer = fit(module, loader, steps, warmup, precision, accelerator)
    return steps * loader.batch_size / (timer.end - timer.start)
