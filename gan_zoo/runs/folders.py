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

    if ckpt_path == "last":
        ckpt = newest_readable((checkpoints / name).glob("**/*.ckpt"))
        if ckpt is None:
            raise UserError(f"ckpt=last: no readable checkpoint under '{checkpoints / name}' (is name= or "
                            "paths.checkpoints= different from the run you want to resume?)")
    else:
        ckpt = Path(ckpt_path).expanduser()
        if not ckpt.is_file():
            raise UserError(f"checkpoint not found: '{ckpt}' (ckpt must be a .ckpt file or 'last')")
    ckpt_dir = ckpt.parent
    try:  # continue writing logs in the resumed run's own folder
        run_dir = experiments / ckpt_dir.resolve().relative_to(checkpoints.resolve())
    except ValueError:
        pass  # a checkpoint from elsewhere: log into this launch's folder
    return RunPaths(run_dir, ckpt_dir, str(ckpt))
