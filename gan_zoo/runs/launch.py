"""What a launch made, so that a start that fails removes exactly that and nothing of the user's.

Hydra makes the run's folder (in a `-m` sweep: the sweep's folder, its multirun.yaml, then each job's folder) and
writes `.hydra/` and the job's `.log` into it before gan_zoo's code runs. `LaunchRecord`, a Hydra callback
(conf/hydra/default.yaml), notes before Hydra makes anything which of those folders exist and what they hold;
`discard_launch` then removes only what was not there: Hydra's files of this launch, and the folders it made once
they are empty. A folder given as `hydra.run.dir` (`mylogs`, `.`) keeps every file it held, whatever its name.

The record reaches the task through this module (`_launch`, one per process): Hydra gives its callbacks no other
way to talk to the job they surround. A job started without the callback (a config without it, a test calling
the task itself) has no record, and nothing is removed.
"""
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import OmegaConf

HYDRA_FILES = ("config.yaml", "hydra.yaml", "overrides.yaml")  # what Hydra writes into hydra.output_subdir
SWEEP_FILES = ("multirun.yaml",)  # what Hydra's sweeper writes into the sweep's folder


@dataclass(frozen=True)
class Before:
    """A folder as it was before the launch."""

    folder: Path  # absolute, as Hydra's runtime.output_dir gives it (links not resolved)
    made: tuple[Path, ...]  # the folder and the folders above it that did not exist yet, deepest first
    entries: frozenset[str]  # the names it held (none when it did not exist)
    inner: dict = field(default_factory=dict)  # a sweep's folder: name -> the names held by each folder in it

    def child(self, name: str) -> "Before":
        """A job's folder in this sweep folder, as it was before the sweep."""
        if name in self.entries:
            return Before(self.folder / name, (), self.inner.get(name, frozenset()))
        return Before(self.folder / name, (self.folder / name, *self.made), frozenset())


def _missing(folder: str) -> tuple[Path, ...]:
    """The folders that making `folder` with its parents creates, the last made first. Taken along the path as
    written: `experiments/../x` makes `experiments` too."""
    raw = Path(os.path.join(os.getcwd(), folder))
    prefixes = [Path(*raw.parts[: i + 1]) for i in range(len(raw.parts))]
    made = [Path(os.path.abspath(p)) for p in prefixes if p.name not in ("", "..") and not os.path.lexists(p)]
    return tuple(reversed(list(dict.fromkeys(made))))


def snapshot(folder, inner: bool = False) -> Before:
    """`folder` now; with `inner`, also what each folder in it holds (a sweep's job folders may be there already)."""
    made = _missing(str(folder))
    folder = Path(os.path.abspath(folder))
    if made or not folder.is_dir():
        return Before(folder, made, frozenset())
    with os.scandir(folder) as entries:
        entries = list(entries)
    held = {e.name: frozenset(os.listdir(e.path)) for e in entries if inner and e.is_dir(follow_symlinks=False)}
    return Before(folder, (), frozenset(e.name for e in entries), held)


@dataclass
class Launch:
    """What this process's job made: its folder's state before, and Hydra's files that were not there."""

    before: Before
    hydra_dir: str | None  # hydra.output_subdir, where it is new
    logs: tuple[str, ...]  # the job's log files (the root logger's files in the folder), where they are new
    sweep: Before | None  # the sweep's folder before the sweep, for a job of a sweep


_launch: Launch | None = None


class LaunchRecord(Callback):
    """Notes which folders exist, and what they hold, before Hydra makes a run's or a sweep's folder; at each job's
    start, hands the job its record (`discard_launch` reads it)."""

    def __init__(self):
        self.run: Before | None = None
        self.sweep: Before | None = None

    def on_run_start(self, config, **kwargs) -> None:
        self.run = _record(config, "hydra.run.dir")

    def on_multirun_start(self, config, **kwargs) -> None:
        self.sweep = _record(config, "hydra.sweep.dir", inner=True)

    def on_job_start(self, config, **kwargs) -> None:
        global _launch
        folder = Path(os.path.abspath(config.hydra.runtime.output_dir))
        if self.run is not None and self.run.folder == folder:
            before, sweep = self.run, None
        elif self.sweep is not None and folder.parent == self.sweep.folder:
            before, sweep = self.sweep.child(folder.name), self.sweep
        else:  # not the folder recorded: nothing known, nothing to remove
            _launch = None
            return
        subdir = config.hydra.output_subdir
        logs = tuple(Path(h.baseFilename).name for h in logging.getLogger().handlers
                     if isinstance(h, logging.FileHandler) and Path(h.baseFilename).parent == folder)
        _launch = Launch(before, subdir if subdir and subdir not in before.entries else None,
                         tuple(name for name in logs if name not in before.entries), sweep)


def _record(config, key: str, inner: bool = False) -> Before | None:
    """The snapshot of the folder `key` names; None where it cannot be resolved yet (then Hydra fails on it too,
    and nothing is removed)."""
    try:
        with _hydra_config(config):
            return snapshot(OmegaConf.select(config, key, throw_on_missing=True), inner)
    except Exception:
        return None


@contextmanager
def _hydra_config(config):
    """HydraConfig set to `config` while the folder is resolved (`${name}` reads `${hydra:runtime.choices...}`;
    Hydra sets it only later, in run_job), as before afterwards. The folder's `${now:...}` is cached in `config`:
    Hydra's own resolution then gives the same folder."""
    instance = HydraConfig.instance()
    previous = instance.cfg
    instance.cfg = OmegaConf.masked_copy(config, "hydra")  # as HydraConfig.set_config, without making it read-only
    instance.cfg.hydra._set_parent(config)
    try:
        yield
    finally:
        instance.cfg = previous


def discard_launch(output_dir) -> bool:
    """Remove what this launch made for the job whose folder is `output_dir` (a start that failed, or a resume that
    logs into its run's own folder): Hydra's files that were not there, then the folders it made if left empty.
    Nothing is removed when the job wrote anything else there (then it is a run's folder) or when the launch was
    not recorded. Returns whether anything was removed."""
    global _launch
    launch = _launch
    folder = Path(os.path.abspath(output_dir))
    if launch is None or launch.before.folder != folder or not folder.is_dir():
        return False
    ours = {launch.hydra_dir, *launch.logs} - {None}
    if {p.name for p in folder.iterdir()} - launch.before.entries - ours:
        return False
    _launch = None
    for handler in list(logging.getLogger().handlers):
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename) in {folder / n for n in launch.logs}:
            logging.getLogger().removeHandler(handler)
            handler.close()
    for name in launch.logs:
        _unlink(folder / name)
    if launch.hydra_dir is not None:
        for name in HYDRA_FILES:
            _unlink(folder / launch.hydra_dir / name)
        _remove_empty([folder / launch.hydra_dir])
    _remove_empty(launch.before.made)
    sweep = launch.sweep
    if sweep is not None and sweep.folder.is_dir():
        new = {p.name for p in sweep.folder.iterdir()} - sweep.entries
        if new and new <= set(SWEEP_FILES):  # no other job's folder: the sweep made nothing else
            for name in new:
                _unlink(sweep.folder / name)
            _remove_empty(sweep.made)
    return True


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _remove_empty(folders) -> None:
    """Remove each folder in turn (the last made first) that is empty; one that is not empty stays."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty (then neither are the folders above it), or already gone
            continue
