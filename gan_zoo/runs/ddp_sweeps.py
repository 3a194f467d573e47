"""`-m` sweeps with trainer=ddp: each DDP worker joins its own job of the sweep.

Lightning starts the workers of a DDP run (local ranks 1..N-1) by running the command line again with
`hydra.run.dir` pointing at the launch folder. In a `-m` sweep that command line still holds `-m` and every swept
value, so each worker would start a sweep of its own. Here, while a job of a sweep fits, a worker is started with
that job's own overrides (one value per key, no `-m`) and the job's folder as its run folder.
"""
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

# Lightning's fabric module defines the function; its pytorch module imports it by name: both are replaced.
_LAUNCHER_MODULES = ("lightning.fabric.strategies.launchers.subprocess_script",
                     "lightning.pytorch.strategies.launchers.subprocess_script")
# What Lightning's launcher sets in the launching process: left set, the next job of the sweep would take itself for
# a worker started from outside and start no workers of its own.
_LAUNCH_ENVIRONMENT = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")
_VALUE_FLAGS = {"--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd"}


def command_line_flags(argv: Sequence[str]) -> list[str]:
    """The flags of a command line that choose where configs come from (kept for the workers); not -m, not overrides."""
    kept, args = [], iter(argv)
    for arg in args:
        if arg in _VALUE_FLAGS:
            kept += [arg, next(args, "")]
        elif arg.split("=", 1)[0] in _VALUE_FLAGS:
            kept.append(arg)
    return kept


def worker_command(local_rank: int) -> tuple[list[str], str]:
    """The command and working folder of DDP worker `local_rank` of the job that runs now."""
    from hydra.utils import get_original_cwd, to_absolute_path

    import __main__

    hydra_cfg = HydraConfig.get()
    if __main__.__spec__ is None:
        head = [sys.executable, to_absolute_path(sys.argv[0])]
    else:
        head = [sys.executable, "-m", __main__.__spec__.name]
    return [*head, *command_line_flags(sys.argv[1:]), *hydra_cfg.overrides.task,
            f'hydra.run.dir="{hydra_cfg.runtime.output_dir}"', f"hydra.job.name=train_ddp_process_{local_rank}",
            "hydra.output_subdir=null"], get_original_cwd()


@contextmanager
def workers_join_this_job() -> Iterator[None]:
    """Within a `-m` sweep, have Lightning start DDP workers with worker_command, and leave no process group or
    launch environment behind for the next job; outside a sweep, change nothing."""
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        yield
        return
    import importlib

    import torch.distributed

    environment = {key: os.environ.get(key) for key in _LAUNCH_ENVIRONMENT}
    modules = [importlib.import_module(name) for name in _LAUNCHER_MODULES]
    originals = [module._hydra_subprocess_cmd for module in modules]
    for module in modules:
        module._hydra_subprocess_cmd = worker_command
    try:
        yield
    finally:
        for module, original in zip(modules, originals):
            module._hydra_subprocess_cmd = original
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        for key, value in environment.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
