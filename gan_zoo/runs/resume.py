"""Callbacks for long runs: RNG states in checkpoints, and stopping safely on signals or a time limit."""
import logging
import os
import random
import re
import signal
import socket
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import lightning as L
import numpy as np
import torch

log = logging.getLogger(__name__)


def _numpy_state() -> dict:
    """NumPy's RNG state as tensors and numbers (loadable with torch.load(weights_only=True))."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached": float(cached)}


class RNGState(L.Callback):
    """Saves the Python, NumPy, torch and CUDA RNG states in checkpoints and restores them right before
    the first training batch after a resume (after Lightning and the data loaders have set up), so a
    resumed run draws the same noise as an uninterrupted one."""

    def __init__(self):
        self._pending = None

    def state_dict(self) -> dict:
        return {"python": random.getstate(), "numpy": _numpy_state(), "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}

    def load_state_dict(self, state: dict) -> None:
        self._pending = state

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self._pending is None:
            return
        state, self._pending = self._pending, None
        random.setstate(state["python"])
        n = state["numpy"]
        np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
        torch.set_rng_state(state["torch"])
        if state["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])


class StopTraining(Exception):
    """Training stopped early after saving a resumable checkpoint (a signal or the time limit)."""

    def __init__(self, reason: str, checkpoint: Path, exit_code: int, continue_command: str | None = None):
        how = f"continue: {continue_command}" if continue_command else f"continue with ckpt={checkpoint}"
        super().__init__(f"{reason}: saved '{checkpoint}'; {how}")
        self.exit_code = exit_code


def parse_duration(value) -> timedelta | None:
    """'11h30m', '90m', '1d2h', '00:11:30:00' (DD:HH:MM:SS, Lightning's form), seconds, or None."""
    if value is None or isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)):
        return timedelta(seconds=value)
    text = str(value).strip()
    if re.fullmatch(r"\d+:\d+:\d+:\d+", text):
        d, h, m, s = map(int, text.split(":"))
        return timedelta(days=d, hours=h, minutes=m, seconds=s)
    parts = re.findall(r"(\d+(?:\.\d+)?)([dhms])", text)
    if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        raise ValueError(f"not a duration: {value!r} (e.g. 11h30m, 45m, 00:11:30:00)")
    unit = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
    return timedelta(**{unit[u]: sum(float(n) for n, uu in parts if uu == u) for _, u in parts})


class _SignalWatcher:
    """Sees signals in a thread, through the wakeup fd that Python's C-level handler writes to at once: it
    works while the main thread is blocked in C code (a collective waiting on another process, a long
    evaluation), where a Python-level handler would not run until that call returns."""

    def __init__(self, on_signal):
        self.on_signal = on_signal
        self._read, self._write = socket.socketpair()
        self._write.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._write.fileno(), warn_on_full_buffer=False)
        threading.Thread(target=self._run, name="gan-zoo-signals", daemon=True).start()

    def _run(self) -> None:
        while data := self._read.recv(64):
            for signum in data:
                self.on_signal(signum)

    def close(self) -> None:
        signal.set_wakeup_fd(self._previous_fd)
        self._write.close()  # ends the thread's recv
        self._read.close()


class SafeStop(L.Callback):
    """Ends training with a resumable checkpoint when the time limit is reached or on SIGTERM, SIGINT or
    SIGUSR1. The check runs at batch boundaries: `last.ckpt` is written (atomically) exactly as a
    mid-epoch checkpoint, then training stops. Exit code: 0 for the time limit, 128 + signal number.

    A signal is acknowledged on stderr at once, even while the main thread waits in a collective or an
    evaluation; a second one ends the process at once, without a new checkpoint."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)

    def __init__(
        self,
        ckpt_dir: str,  # last.ckpt's folder
        max_time: str | None = None,  # e.g. "11h30m"; None = no limit
        continue_command: str | None = None,  # the command that resumes from last.ckpt, for the stop's message
    ):
        self.ckpt_dir = Path(ckpt_dir)
        self.max_time = parse_duration(max_time)
        self.continue_command = continue_command
        self._signal, self._stop, self._watcher, self._previous, self._rank = None, None, None, {}, 0

    def _handler(self, signum, frame) -> None:  # in the main thread, between bytecodes: the stop is exact
        if self._signal is None:
            self._signal = signum

    def _on_signal(self, signum: int) -> None:  # in the watcher thread, at once, for every signal
        if signum not in self.SIGNALS:
            return
        self._received += 1
        name = signal.Signals(signum).name
        if self._received == 1:
            self._handler(signum, None)
            if self._rank == 0:
                print(f"gan-zoo: received {name}: stopping after this batch with a checkpoint "
                      f"(send it again to stop at once, without one)", file=sys.stderr, flush=True)
            return
        how = self.continue_command or f"ckpt=<the newest checkpoint in '{self.ckpt_dir}'>"
        print(f"gan-zoo: second {name}: stopping now without a new checkpoint; continue from the last one saved: "
              f"{how}", file=sys.stderr, flush=True)
        os._exit(128 + signum)

    def on_train_start(self, trainer, pl_module) -> None:
        self._start, self._rank, self._received = time.monotonic(), trainer.global_rank, 0
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handler)
        self._watcher = _SignalWatcher(self._on_signal)

    def on_train_end(self, trainer, pl_module) -> None:
        self._restore_handlers()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self._restore_handlers()

    def _restore_handlers(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        signum = self._signal
        if trainer.world_size > 1:  # every process stops at the same batch (one collective, on every rank)
            signum = int(trainer.strategy.reduce(torch.tensor(signum or 0, device=pl_module.device), reduce_op="max"))
        timed_out = self.max_time is not None and time.monotonic() - self._start >= self.max_time.total_seconds()
        if self._stop is not None or (not signum and not timed_out):
            return
        path = self.ckpt_dir / "last.ckpt"
        trainer.save_checkpoint(path, weights_only=False)  # the full state: optimizers, loops, callbacks
        reason = f"received {signal.Signals(signum).name}" if signum else f"time limit {self.max_time} reached"
        self._stop = StopTraining(reason, path, 128 + signum if signum else 0, self.continue_command)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        # Stop before the next batch, not in the previous one's end hooks: that batch's logs are written by then.
        if self._stop is not None:
            raise self._stop

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._stop is not None and trainer.current_epoch + 1 < trainer.max_epochs:
            raise self._stop  # the signal came with the epoch's last batch: stop before the epoch-end work


class KimgBudget(L.Callback):
    """Ends training when images seen reach `max_kimg` thousand (the field's budget unit), after the batch that
    reaches it (so in whole batches). It ends the epoch there, so the epoch's evaluation and checkpoints run as
    at any epoch end: the run ends with a final evaluation and a final checkpoint. Images seen are saved in
    checkpoints, so a resumed run stops at the same count."""

    def __init__(self, max_kimg: float):
        self.max_images = round(max_kimg * 1000)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if int(pl_module.images_seen) >= self.max_images:
            trainer.should_stop = True  # the same on every DDP process: images seen count all of them
