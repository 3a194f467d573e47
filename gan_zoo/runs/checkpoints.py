"""Checkpoint files: atomic writes, safe loading (tensors and plain values only: nothing in a file runs),
clear errors for missing, damaged or unsafe files, finding the newest good one, and checking that a
checkpoint's networks match the config it is resumed with."""
import logging
import zipfile
from pathlib import Path

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from gan_zoo import trusted
from gan_zoo.errors import UserError
from gan_zoo.files import read, save

log = logging.getLogger(__name__)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves through `files.save`: a kill, a full disk or a read-only folder during a save leaves the previous
    checkpoint whole; loads through `files.read` (weights_only, whatever the caller asks)."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        save(checkpoint, path, "checkpoint")

    def load_checkpoint(self, path, map_location=None, weights_only=None) -> dict:
        return load_checkpoint(path)


def remove_stale_temporaries(folder: Path) -> int:
    """Delete the temporary files of saves that were killed before their rename; returns bytes freed.
    Call it only while holding the run's lock: then no save of another process is under way."""
    freed = 0
    for tmp in Path(folder).glob(".*.ckpt.tmp*"):
        freed += tmp.lstat().st_size
        tmp.unlink(missing_ok=True)
    if freed:
        log.info(f"removed temporary files of interrupted saves in '{folder}' ({freed / 2**20:.0f} MiB)")
    return freed


def is_readable(path: Path) -> bool:
    """Cheap check that `path` is a whole torch zip archive (a truncated file loses its central directory)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (OSError, zipfile.BadZipFile):
        return False


def load_checkpoint(path: str | Path) -> dict:
    """The checkpoint dict at `path` (on CPU), or a UserError naming the file and what is wrong (a damaged file:
    also the newest readable checkpoint beside it). Lightning's resume reads through here too."""
    path = Path(path).expanduser()
    hint = ""
    if path.is_file() and not is_readable(path):
        good = newest_readable(path.parent.glob("*.ckpt"), exclude=path)
        hint = f"; the newest readable one there is '{good}'" if good else "; no readable checkpoint is beside it"
        if zipfile.is_zipfile(path):  # whole, but a member fails its CRC: torch.load would read it without a word
            raise UserError(f"checkpoint '{path}' is corrupt (a CRC check of its zip archive fails){hint}")
    checkpoint = read(path, "checkpoint", hint)
    if not isinstance(checkpoint, dict):
        raise UserError(f"'{path}' is not a checkpoint (it holds a {type(checkpoint).__name__}, not a dict)")
    return checkpoint


def newest_readable(candidates, exclude: Path | None = None) -> Path | None:
    """The newest readable checkpoint among `candidates`; unreadable newer ones are skipped with a warning, links
    to nothing (no checkpoint at all) without one."""
    for path in sorted((p for p in candidates if p.exists()), key=lambda p: p.stat().st_mtime, reverse=True):
        if exclude is not None and path.resolve() == exclude.resolve():
            continue
        if is_readable(path):
            return path
        log.warning(f"skipping '{path}': truncated or corrupt")
    return None


def run_config(checkpoint: dict, path: str | Path) -> dict:
    """The resolved config a gan_zoo run stored in its checkpoint."""
    if not isinstance(checkpoint.get("gan_zoo_config"), dict):
        raise UserError(f"'{path}' is not a gan_zoo checkpoint (it has no stored run config)")
    return checkpoint["gan_zoo_config"]


def epochs_of(checkpoint: dict, path: str | Path = "the checkpoint") -> tuple[int, int]:
    """(the epoch its weights come from, 0-based: the last epoch trained, in part for a mid-epoch save; the
    number of whole epochs completed). The same epoch that metrics.jsonl and the file names give, whether
    the file was saved in an epoch's end hooks (Lightning's `epoch` field equals it) or after training
    ended (where that field is one more)."""
    try:
        progress = checkpoint["loops"]["fit_loop"]["epoch_progress"]["current"]
        started, completed = progress["started"], progress["completed"]
    except (KeyError, TypeError, IndexError):
        started = completed = None
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (started, completed)):
        raise UserError(f"'{path}' holds no training progress (loops.fit_loop.epoch_progress of whole epochs): "
                        "not a checkpoint gan-zoo-train wrote, or a damaged one; give another checkpoint of the run")
    return started - 1, completed


def kimg_of(checkpoint: dict, path: str | Path = "the checkpoint") -> float:
    """Thousands of images the run had seen when the checkpoint was saved."""
    seen = (checkpoint.get("state_dict") or {}).get("images_seen") if isinstance(checkpoint, dict) else None
    if isinstance(seen, torch.Tensor) and seen.numel() == 1 and not seen.is_floating_point() \
            and not seen.is_complex() and int(seen) >= 0:
        return int(seen) / 1000
    raise UserError(f"'{path}' holds no count of the images seen (state_dict.images_seen, a whole number >= 0; it "
                    f"has {_described(seen)}): not a checkpoint gan-zoo-train wrote, or a damaged one")


def _described(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {list(value.shape)}"
    return "none" if value is None else f"a {type(value).__name__}"


def ema_generator(checkpoint: dict, path: str | Path, which: str = "ema") -> torch.nn.Module:
    """The EMA generator (or with which="raw", the trained generator itself) of a gan_zoo checkpoint, built from
    the config stored in it (through the allowed classes of `gan_zoo.trusted`: the file never chooses code), in
    eval mode."""
    state = checkpoint.get("state_dict")
    prefix = {"ema": "generator_ema.module.", "raw": "generator."}[which]
    if not isinstance(state, dict) or not any(str(k).startswith(prefix) for k in state):
        raise UserError(f"'{path}' holds no generator (no generator_ema weights): give a checkpoint that "
                        "gan-zoo-train wrote (checkpoints/<name>/<run>/last.ckpt), or pretrained=...")
    run = run_config(checkpoint, path)
    try:
        sizes = {"resolution": int(run["data"]["resolution"]), "channels": int(run["data"]["channels"])}
        generator = trusted.build(run["model"]["generator"], "generator", str(path), **sizes)
        generator.load_state_dict({k[len(prefix):]: v for k, v in state.items() if str(k).startswith(prefix)})
    except UserError:
        raise
    except Exception as e:  # a config or weights of the wrong shape or type: a damaged or foreign file
        raise UserError(f"'{path}': its stored generator does not build from its config and weights "
                        f"({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}); give a checkpoint "
                        "that gan-zoo-train wrote") from e
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
