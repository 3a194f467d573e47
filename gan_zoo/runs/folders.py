"""Where a run writes: logs under <experiments>/<name>/<run id>/, checkpoints under
<checkpoints>/<name>/<run id>/. A fresh run never writes into another run's folders; a resumed run
(ckpt=last or a path) writes into the folders of the run it resumes."""
from dataclasses import dataclass
from pathlib import Path

from gan_zoo.errors import UserError
from gan_zoo.runs.checkpoints import newest_readable


@dataclass
class RunPaths:
    run_dir: Path  # CSV, sample grids, wandb
    ckpt_dir: Path  # checkpoints
    ckpt_path: str | None  # the checkpoint to resume from, None = fresh run


def _checkpoint_dir_for(run_dir: Path, experiments: Path, checkpoints: Path, name: str) -> Path:
    try:
        return checkpoints / run_dir.resolve().relative_to(experiments.resolve())
    except ValueError:  # hydra.run.dir set outside the experiments folder
        return checkpoints / name / run_dir.name


def resolve_run(
    hydra_run_dir: str,  # the folder Hydra made for this launch
    experiments: str,  # root of run folders (paths.experiments)
    checkpoints: str,  # root of checkpoint folders (paths.checkpoints)
    name: str,  # run name (a folder under both roots)
    ckpt_path: str | None,  # None = fresh run; "last" = the newest readable checkpoint of runs named `name`; or a file
    worker: bool = False,  # a DDP worker (local rank > 0): it joins the run its rank 0 has started in that folder
) -> RunPaths:
    experiments, checkpoints, run_dir = Path(experiments), Path(checkpoints), Path(hydra_run_dir)
    if ckpt_path is None:
        ckpt_dir = _checkpoint_dir_for(run_dir, experiments, checkpoints, name)
        if not worker and ((run_dir / "metrics.csv").exists() or any(ckpt_dir.glob("*.ckpt"))):
            raise UserError(f"'{run_dir}' already holds another run: resume it with ckpt=last, or leave "
                            "hydra.run.dir unset")
        return RunPaths(run_dir, ckpt_dir, None)

    ckpt = find_checkpoint(ckpt_path, checkpoints, name)
    ckpt_dir = ckpt.parent
    try:  # continue writing logs in the resumed run's own folder
        run_dir = experiments / ckpt_dir.resolve().relative_to(checkpoints.resolve())
    except ValueError:
        pass  # a checkpoint from elsewhere: log into this launch's folder
    return RunPaths(run_dir, ckpt_dir, str(ckpt))


def find_checkpoint(
    ckpt: str,  # "last", or a path to a .ckpt file
    checkpoints: str | Path,  # root of checkpoint folders (paths.checkpoints)
    name: str | None,  # "last" looks in the runs of this name; None = in every run (sweep jobs included)
) -> Path:
    """The checkpoint file `ckpt` means, the same in every command: "last" is the newest readable checkpoint of
    the runs named `name` (of every run when None); anything else a path to a file."""
    if ckpt != "last":
        path = Path(ckpt).expanduser()
        if not path.is_file():
            raise UserError(f"checkpoint not found: '{path}' (ckpt must be a .ckpt file or 'last')")
        return path
    if name is not None and (name in ("", ".", "..") or "/" in name or "\\" in name):
        raise UserError(f"name={name!r}: give a run's name, a plain folder name under paths.checkpoints")
    folder = Path(checkpoints).expanduser() / name if name is not None else Path(checkpoints).expanduser()
    found = newest_readable(folder.glob("**/*.ckpt"))
    if found is None:
        raise UserError(f"ckpt=last: no readable checkpoint under '{folder}' (is name= or paths.checkpoints= "
                        "different from the run you mean?)")
    return found

