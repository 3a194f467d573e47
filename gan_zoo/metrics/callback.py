"""Evaluate FID / IS / KID at the end of every N epochs, on the EMA generator (and the raw one, where asked)."""
import json
import resource
import time
from pathlib import Path

import lightning as L
import torch

from gan_zoo.errors import UserError
from gan_zoo.files import append_text, refuse_link
from gan_zoo.metrics.evaluator import Evaluator


def _resident_high_water_mark_gib() -> float:
    """VmHWM of /proc/self/status (reset at each run's start where allowed), else the process's ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB on Linux


class MetricsCallback(L.Callback):
    """Logs `metrics/<fid|kid|is>_<extractor>` (CSV, wandb, progress bar) and appends each result with
    its protocol to <run_dir>/metrics.jsonl. Real features are computed (or read from the cache) once,
    at the start of fit, from the training data or from `real_data` (a small-data study scores against the
    images it did not train on; the protocol records which, so gan-zoo-compare never mixes the two). Under DDP every process generates its share of the fake images; the features
    are gathered and the metrics computed once, on rank 0, then broadcast."""

    def __init__(
        self,
        evaluator: Evaluator,
        run_dir: str,  # where metrics.jsonl goes
        every_n_epochs: int = 1,
        generators: tuple = ("ema",),  # which generators: ema (the averaged one), raw (the trained one), or both
        real_data=None,  # a data module whose images are the real set (images not trained on), None = the training data
    ):
        if not generators or set(generators) - {"ema", "raw"} or list(generators)[0] != "ema":
            raise UserError(f"metrics.evaluate.generators={list(generators)}: use [ema] or [ema,raw] (the EMA "
                            "generator is always scored: the best checkpoint and the progress bar follow it)")
        self.generators, self.evaluator, self.every_n_epochs = list(generators), evaluator, every_n_epochs
        self.run_dir, self.real, self.real_data = Path(run_dir), None, real_data
        refuse_link(self.run_dir / "metrics.jsonl", "metrics file")  # now, not after the first epoch's training
        self.train_seconds = 0.0  # before this process's start: the earlier sessions of a resumed run
        self.peak_memory_gib = 0.0

    def state_dict(self) -> dict:
        return {"train_seconds": self._seconds_so_far(), "peak_memory_gib": self._peak_memory()}

    def load_state_dict(self, state: dict) -> None:
        self.train_seconds = state.get("train_seconds", 0.0)
        self.peak_memory_gib = state.get("peak_memory_gib", 0.0)

    def on_train_start(self, trainer, pl_module) -> None:
        self._start = time.monotonic()
        try:  # this run's peak, not the process's: Hydra's sweeps run their jobs in one process
            Path("/proc/self/clear_refs").write_text("5")  # Linux: resets VmHWM, the resident high-water mark
        except OSError:
            pass

    def _seconds_so_far(self) -> float:
        return self.train_seconds + (time.monotonic() - self._start if hasattr(self, "_start") else 0.0)

    def _peak_memory(self) -> float:
        """GiB: the GPU's peak allocation on a GPU, else this process's peak resident memory."""
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            now = torch.cuda.max_memory_allocated() / 2**30
        else:
            now = _resident_high_water_mark_gib()
        return max(self.peak_memory_gib, now)

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            data = self.real_data if self.real_data is not None else trainer.datamodule
            self.real = self.evaluator.real_features(data.dataset, data.identity(), pl_module.device)
        trainer.strategy.barrier()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        last = trainer.should_stop or trainer.current_epoch + 1 == trainer.max_epochs  # a budget or the last epoch
        if (trainer.current_epoch + 1) % self.every_n_epochs and not last:
            return
        networks = {"ema": pl_module.generator_ema.module, "raw": pl_module.generator}
        results = {}
        for which in self.generators:  # each generator in eval mode while it is scored, then as it was
            training = networks[which].training
            results[which] = self._evaluate(trainer, pl_module, networks[which].eval())
            networks[which].train(training)
        if trainer.is_global_zero:
            record = {"epoch": trainer.current_epoch, "kimg": pl_module.images_seen.item() / 1000,
                      "metrics": results["ema"], **({"metrics_raw": results["raw"]} if "raw" in results else {}),
                      "protocol": self.evaluator.protocol(len(self.real)) | {"real_data": self.real_data_identity()},
                      "train_seconds": round(self._seconds_so_far(), 1), "peak_memory_gib": round(self._peak_memory(), 3)}
            append_text(self.run_dir / "metrics.jsonl", json.dumps(record) + "\n", "metrics file")
        results = trainer.strategy.broadcast(results, src=0)
        name = self.evaluator.extractor.name
        for which, values in results.items():
            for key, value in values.items():
                logged = f"metrics/{key}_{name}" if which == "ema" else f"metrics/{key}_raw_{name}"
                pl_module.log(logged, torch.tensor(value), prog_bar=logged == f"metrics/fid_{name}", on_epoch=True)

    def real_data_identity(self) -> dict | None:
        """What the real set is when it is not the training data (None: the training data's images)."""
        return None if self.real_data is None else self.real_data.identity()

    def _evaluate(self, trainer, pl_module, generator) -> dict | None:
        """The metrics of one generator (on rank 0; None elsewhere): every process generates its share."""
        features, logits = self.evaluator.fake_features(generator, pl_module.device, trainer.global_rank,
                                                        trainer.world_size)
        if trainer.world_size > 1:  # [world, n, D] -> [world * n, D]; the shares are equal-sized chunks
            features = pl_module.all_gather(features.to(pl_module.device)).flatten(0, 1).cpu()
            if logits is not None:
                logits = pl_module.all_gather(logits.to(pl_module.device)).flatten(0, 1).cpu()
        return self.evaluator.compute(self.real, features, logits) if trainer.is_global_zero else None
