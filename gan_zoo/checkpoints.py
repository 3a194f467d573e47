"""Checkpoint files: atomic writes, safe loading (tensors and plain values only: nothing in a file runs),
clear errors for missing, damaged or unsafe files, finding the newest good one, and checking that a
checkpoint's networks match the config it is resumed with."""
import logging
import os
import pickle
import re
import zipfile
from pathlib import Path

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from gan_zoo.errors import UserError

log = logging.getLogger(__name__)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes to a temporary file in the same folder, then renames it over the target: a kill during a
    save leaves the previous checkpoint whole."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        try:
            with open(tmp, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def load_checkpoint(self, path, map_location=None, weights_only=None) -> dict:
        # Lightning's resume goes through here: always weights_only, whatever the caller asks.
        return load_checkpoint(path)


def remove_stale_temporaries(folder: Path) -> int:
    """Delete the temporary files of saves that were killed before their rename; returns bytes freed.
    Call it only while holding the run's lock: then no save of another process is under way."""
    freed = 0
    for tmp in Path(folder).glob(".*.ckpt.tmp*"):
        freed += tmp.stat().st_size
        tmp.unlink(missing_ok=True)
    if freed:
        log.info(f"removed temporary files of interrupted saves in '{folder}' ({freed / 2**20:.0f} MiB)")
    return freed


def safe_load(path: Path, what: str = "checkpoint", **kwargs):
    """torch.load with weights_only=True: tensors, numbers, strings and plain containers, and nothing in the
    file is executed. A file that needs more is refused with a UserError saying what it tried to load."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, **kwargs)
    except pickle.UnpicklingError as e:
        # A refusal names the global, function or class the file asked for; anything else (e.g. "Unsupported
        # operand") is a file that is not a pickle at all: damaged, for the caller to report as such.
        reason = next((line.strip() for line in str(e).splitlines()
                       if re.search(r"GLOBAL|unrecognized function|Can only create", line)), None)
        if reason is None:
            raise
        raise UserError(
            f"refusing {what} '{path}': it holds Python objects or code, not only tensors and plain values "
            f"({reason}); nothing in it was run. Load only files from people you trust, and ask for a plain "
            "state dict"
        ) from e


def is_readable(path: Path) -> bool:
    """Cheap check that `path` is a whole torch zip archive (a truncated file loses its central directory)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (OSError, zipfile.BadZipFile):
        return False


def load_checkpoint(path: str | Path) -> dict:
    """The checkpoint dict at `path` (on CPU), or a UserError naming the file and what is wrong."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"checkpoint not found: '{path}'")
    try:
        return safe_load(path)
    except UserError:
        raise
    except Exception as e:  # truncated zip, garbage bytes
        good = newest_readable(path.parent.glob("*.ckpt"), exclude=path)
        hint = f"; the newest readable one there is '{good}'" if good else "; no readable checkpoint is beside it"
        raise UserError(f"checkpoint '{path}' is truncated or corrupt ({type(e).__name__}){hint}") from e


def newest_readable(candidates, exclude: Path | None = None) -> Path | None:
    """The newest readable checkpoint among `candidates`; unreadable newer ones are skipped with a warning."""
    for path in sorted(candidates, key=lambda p: p.stat().st_mtime, reverse=True):
        if exclude is not None and path.resolve() == exclude.resolve():
            continue
        if is_readable(path):
            return path
        log.warning(f"skipping '{path}': truncated or corrupt")
    return None


def run_config(checkpoint: dict, path: str | Path) -> dict:
    """The resolved config a gan_zoo run stored in its checkpoint."""
    if "gan_zoo_config" not in checkpoint:
        raise UserError(f"'{path}' is not a gan_zoo checkpoint (it has no stored run config)")
    return checkpoint["gan_zoo_config"]


def epochs_of(checkpoint: dict) -> tuple[int, int]:
    """(the epoch its weights come from, 0-based: the last epoch trained, in part for a mid-epoch save; the
    number of whole epochs completed). The same epoch that metrics.jsonl and the file names give, whether
    the file was saved in an epoch's end hooks (Lightning's `epoch` field equals it) or after training
    ended (where that field is one more)."""
    progress = checkpoint["loops"]["fit_loop"]["epoch_progress"]["current"]
    return progress["started"] - 1, progress["completed"]


def ema_generator(checkpoint: dict, path: str | Path) -> torch.nn.Module:
    """The EMA generator of a gan_zoo checkpoint, built from the config stored in it, in eval mode."""
    from hydra.utils import instantiate

    state = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    prefix = "generator_ema.module."
    if not isinstance(state, dict) or not any(str(k).startswith(prefix) for k in state):
        raise UserError(f"'{path}' holds no generator (no generator_ema weights): give a checkpoint that "
                        "gan-zoo-train wrote (checkpoints/<name>/<run>/last.ckpt), or pretrained=...")
    run = run_config(checkpoint, path)
    generator = instantiate(run["model"]["generator"], resolution=run["data"]["resolution"],
                            channels=run["data"]["channels"])
    generator.load_state_dict({k[len(prefix):]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)})
    return generator.eval()


def _flatten(tree, prefix: str = "") -> dict:
    if isinstance(tree, dict):
        return {k: v for key, value in tree.items() for k, v in _flatten(value, f"{prefix}{key}.").items()}
    return {prefix[:-1]: tree}


ARCHITECTURE_KEYS = ("model.generator", "model.discriminator", "data.resolution", "data.channels")


def architecture_differences(stored: dict, current: dict) -> list[str]:
    """'key: checkpoint -> config' for every setting that shapes the networks and differs."""
    old, new = _flatten(stored), _flatten(current)
    keys = sorted(k for k in old.keys() | new.keys() if k.startswith(ARCHITECTURE_KEYS))
    return [f"{k}: {old.get(k, '<absent>')} -> {new.get(k, '<absent>')}" for k in keys if old.get(k) != new.get(k)]
