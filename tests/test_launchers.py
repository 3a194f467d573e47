"""Sweeps on other engines: `-m` with trainer=ddp, Hydra's joblib and submitit launchers (the cluster extra)."""
import json

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import MissingConfigException
from omegaconf import OmegaConf

from gan_zoo.commands.cli import CONFIG_DIR, hydra_error_message
from gan_zoo.runs.ddp_sweeps import command_line_flags
from tests.helpers import SMALL_METRICS, TINY, run_cli

# The README's DDP command (progress bar and classifier metrics on), swept over two seeds.
DDP = [a for a in TINY if a not in ("callbacks.progress_bar.refresh_rate=0", "metrics=none")] + [
    *SMALL_METRICS, "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"]


def _jobs(tmp_path):
    (sweep,) = (tmp_path / "experiments" / "multirun").iterdir()  # one sweep: no worker started its own
    return sweep, sorted(p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images_seen(tmp_path, job):
    ckpt = tmp_path / "checkpoints" / "multirun" / job.parent.name / job.name / "last.ckpt"
    return int(torch.load(ckpt, weights_only=True)["state_dict"]["images_seen"])


@pytest.mark.slow
def test_multirun_with_ddp_runs_every_job_in_its_own_folder_with_both_processes(tmp_path):
    result = run_cli(["-m", *DDP, f"paths.cache={tmp_path}/cache", "seed=0,1"], cwd=tmp_path, timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    _, jobs = _jobs(tmp_path)
    assert [j.name for j in jobs] == ["0_seed-0", "1_seed-1"]
    samples = []
    for job in jobs:
        assert _images_seen(tmp_path, job) == 3 * 16 * 2  # 3 batches of 16 on each of the 2 processes
        assert [json.loads(line)["epoch"] for line in (job / "metrics.jsonl").open()] == [0]
        # the job's worker ran this job: it logged into this job's folder
        assert str(job) in (job / "train_ddp_process_1.log").read_text()
        samples.append((job / "samples" / "epoch_0000.png").read_bytes())
    assert samples[0] != samples[1]  # each job ran with its own seed
    assert (result.stdout + result.stderr).count("Launching 2 jobs") == 1  # no worker started a sweep of its own


@pytest.mark.slow
@pytest.mark.parametrize("launcher", [["hydra/launcher=submitit_local"], ["hydra/launcher=local", "hydra.launcher.n_jobs=2"]])
def test_launchers_of_the_cluster_extra_run_a_sweep(tmp_path, launcher):
    result = run_cli(["-m", *launcher, *TINY, "seed=0,1"], cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    _, jobs = _jobs(tmp_path)
    assert [j.name for j in jobs] == ["0_seed-0", "1_seed-1"]  # swept values name the folders in job processes too
    for job in jobs:
        assert _images_seen(tmp_path, job) == 3 * 16
        assert (job / "metrics.csv").is_file()


def test_slurm_launcher_takes_tasks_gpus_and_nodes_from_the_trainer():
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["hydra/launcher=slurm", "trainer=ddp", "trainer.devices=4",
                                          "trainer.num_nodes=2"], return_hydra_config=True)
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=False)
    launcher = {key: OmegaConf.select(cfg, f"hydra.launcher.{key}") for key in launcher}
    assert launcher["_target_"].endswith("SlurmLauncher")
    assert (launcher["tasks_per_node"], launcher["gpus_per_node"], launcher["nodes"]) == (4, 4, 2)


@pytest.mark.parametrize("asked, plugin", [("local", "joblib"), ("slurm", "submitit"), ("submitit_local", "submitit")])
def test_a_launcher_without_the_cluster_extra_says_what_to_install(asked, plugin):
    error = MissingConfigException(f"In 'hydra/launcher/{asked}': Could not load 'hydra/launcher/x'.", None)
    message = hydra_error_message(error)
    assert f"'{plugin}' is not installed" in message and '.[cluster]' in message


def test_workers_keep_the_flags_that_find_the_configs_and_drop_the_sweep():
    argv = ["-m", "--config-dir", "my_conf", "-cn=train", "seed=0,1", "experiment=mine"]
    assert command_line_flags(argv) == ["--config-dir", "my_conf", "-cn=train"]
