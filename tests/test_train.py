"""Short real training runs (tiny widths, CPU, a few batches) and the command line."""
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gan_zoo.commands.train import train
from tests.helpers import SMALL_METRICS, TINY, compose_config, run_cli


def _outputs(tmp_path: Path):
    run_dir = tmp_path / "experiments" / "dcgan_embedded" / "run"
    ckpt_dir = tmp_path / "checkpoints" / "dcgan_embedded" / "run"
    return run_dir, ckpt_dir


@pytest.mark.parametrize("loss", ["nonsaturating", "nonsaturating_r1", "hinge", "wgan_gp", "lsgan"])
def test_short_run_per_loss_writes_checkpoint_grid_and_csv(tmp_path, loss):
    extra = ["model.discriminator.batch_norm=false"] if loss == "wgan_gp" else []
    trainer = train(compose_config(tmp_path, [*TINY, f"loss={loss}", *extra]))
    run_dir, ckpt_dir = _outputs(tmp_path)
    assert (ckpt_dir / "last.ckpt").is_file()
    assert (run_dir / "samples" / "epoch_0000.png").is_file()
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    d_losses = [float(r["train/d_loss"]) for r in rows if r.get("train/d_loss")]
    assert len(d_losses) == 3 and all(map(torch.isfinite, torch.tensor(d_losses)))
    state = torch.load(ckpt_dir / "last.ckpt", weights_only=False)["state_dict"]
    assert int(state["images_seen"]) == 3 * 16
    assert trainer.lightning_module.images_seen.item() == 48


def test_fresh_run_refuses_a_folder_that_holds_another_run(tmp_path):
    cfg = compose_config(tmp_path, TINY)
    train(cfg)
    run_dir, ckpt_dir = _outputs(tmp_path)
    before = {p: p.stat().st_mtime_ns for p in [*run_dir.rglob("*"), *ckpt_dir.rglob("*")] if p.is_file()}
    with pytest.raises(Exception, match="already holds another run: resume it with ckpt=last"):
        train(compose_config(tmp_path, TINY))
    after = {p: p.stat().st_mtime_ns for p in [*run_dir.rglob("*"), *ckpt_dir.rglob("*")] if p.is_file()}
    assert before == after


def test_resume_continues_images_seen_and_csv(tmp_path):
    train(compose_config(tmp_path, TINY))
    train(compose_config(tmp_path, [*TINY, "trainer.max_epochs=2", "ckpt=last"]))
    run_dir, ckpt_dir = _outputs(tmp_path)
    state = torch.load(ckpt_dir / "last.ckpt", weights_only=False)
    assert int(state["state_dict"]["images_seen"]) == 2 * 3 * 16
    assert state["loops"]["fit_loop"]["epoch_progress"]["current"]["completed"] == 2
    epochs = {r["epoch"] for r in csv.DictReader((run_dir / "metrics.csv").open())}
    assert epochs == {"0", "1"}
    assert (run_dir / "samples" / "epoch_0001.png").is_file()


def test_wandb_logs_offline_without_an_account(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc credentials
    monkeypatch.setenv("WANDB_SILENT", "true")
    train(compose_config(tmp_path, [*TINY, "logger=wandb"]))
    run_dir, _ = _outputs(tmp_path)
    offline_runs = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(offline_runs) == 1
    assert list(offline_runs[0].rglob("*.wandb"))
    assert list(offline_runs[0].rglob("media/images/samples_*.png"))
    train(compose_config(tmp_path, [*TINY, "logger=wandb", "trainer.max_epochs=2", "ckpt=last"]))
    # offline-run-<date>_<time>-<id>, and "-1" appended when both runs started within the same second
    ids = {re.match(r"offline-run-\d{8}_\d{6}-([a-z0-9]+)", p.name).group(1)
           for p in (run_dir / "wandb").glob("offline-run-*")}
    assert len(ids) == 1  # the resumed run logs under the same wandb id


@pytest.mark.slow
def test_cli_default_command_runs_and_keeps_outputs(tmp_path):
    result = run_cli([*TINY, "trainer.max_epochs=2"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    (run_dir,) = (tmp_path / "experiments" / "dcgan_embedded").iterdir()
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert (run_dir / "metrics.csv").is_file()
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == ["epoch_0000.png", "epoch_0001.png", "real.png"]
    (ckpt_dir,) = (tmp_path / "checkpoints" / "dcgan_embedded").iterdir()
    assert ckpt_dir.name == run_dir.name and (ckpt_dir / "last.ckpt").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["data=image_folder", "data.dataset.root=/no/such/folder"], "image folder not found: '/no/such/folder'"),
        (["data=mnist", "data.dataset.root=nodata"], "could not load MNIST from 'nodata'"),
        (["data.resolution=28"], "DCGAN needs a power-of-two resolution >= 8, got 28"),
        (["ckpt=/no/such.ckpt"], "checkpoint not found: '/no/such.ckpt'"),
        (["ckpt=last"], "ckpt=last: no readable checkpoint under 'checkpoints/dcgan_embedded'"),
    ],
)
def test_cli_bad_input_is_one_clear_line_and_nonzero_exit(tmp_path, args, message):
    result = run_cli([*TINY, *args], cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("gan-zoo: error: ") and message in lines[-1], result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "checkpoints").exists() or not list((tmp_path / "checkpoints").rglob("*.ckpt"))


# The README's DDP command keeps its defaults that matter here: progress bar on, classifier metrics on.
DDP = [a for a in TINY if a not in ("callbacks.progress_bar.refresh_rate=0", "metrics=none")] + [
    *SMALL_METRICS, "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"]


@pytest.mark.slow
def test_ddp_on_cpu_with_two_processes_and_the_readme_defaults(tmp_path):
    result = run_cli([*DDP, f"paths.cache={tmp_path}/cache", "trainer.max_epochs=2"], cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Epoch 1: 100%" in result.stdout + result.stderr  # the progress bar was on
    (ckpt,) = (tmp_path / "checkpoints" / "dcgan_embedded").glob("*/last.ckpt")
    state = torch.load(ckpt, weights_only=True)
    # 2 epochs x 3 batches x 16 images x 2 processes
    assert int(state["state_dict"]["images_seen"]) == 2 * 3 * 16 * 2
    (run_dir,) = (tmp_path / "experiments" / "dcgan_embedded").iterdir()
    assert (run_dir / "samples" / "epoch_0001.png").is_file() and (run_dir / "metrics.csv").is_file()
    # metrics computed once per epoch over both processes' samples, not once per process
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").open()]
    assert [r["epoch"] for r in records] == [0, 1] and records[0]["protocol"]["num_fake"] == 64


@pytest.mark.slow
def test_ddp_run_given_sigterm_mid_epoch_stops_with_a_resumable_checkpoint(tmp_path):
    args = [a for a in DDP if not a.startswith("trainer.limit_train_batches")]
    cmd = [sys.executable, "-m", "gan_zoo.commands.train", *args, f"paths.cache={tmp_path}/cache", "trainer.max_epochs=1000"]
    process = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONWARNINGS": "ignore"})
    deadline = time.time() + 180
    while not list(tmp_path.glob("checkpoints/*/*/epoch0000*.ckpt")) and time.time() < deadline:
        time.sleep(0.5)  # past the first epoch's end (evaluation and all), into the second
    time.sleep(1)
    process.send_signal(signal.SIGTERM)  # to the launching process only, as a scheduler would
    sent = time.monotonic()
    _, stderr = process.communicate(timeout=120)
    assert time.monotonic() - sent < 60, "took too long to stop"
    assert process.returncode == 128 + signal.SIGTERM, stderr[-3000:]
    assert stderr.count("received SIGTERM: saved") == 1  # said once, by rank 0
    (ckpt,) = tmp_path.glob("checkpoints/dcgan_embedded/*/last.ckpt")
    seen = int(torch.load(ckpt, weights_only=True)["state_dict"]["images_seen"])
    assert seen > 5000 / 16 // 2 * 16 * 2  # beyond the first epoch: stopped mid-epoch
    resumed = run_cli([*DDP, f"paths.cache={tmp_path}/cache", "trainer.max_epochs=3", "trainer.limit_train_batches=2",
                       "ckpt=last"], cwd=tmp_path, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert int(torch.load(ckpt, weights_only=True)["state_dict"]["images_seen"]) > seen


def test_cli_inception_metrics_offline_without_weights_fail_at_start_up(tmp_path):
    paintings = Path(__file__).parent / "data" / "paintings"
    args = [a for a in TINY if a != "metrics=none"] + ["data=image_folder", f"data.dataset.root={paintings}"]
    result = run_cli(args, cwd=tmp_path, env={"TORCH_HOME": str(tmp_path / "torch_home")})
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("gan-zoo: error: could not get the InceptionV3 weights")
    assert "metrics.evaluate.evaluator.extractor.weights_path=" in last and "metrics=none" in last
    assert not (tmp_path / "checkpoints").exists()  # failed before training started


@pytest.mark.slow
def test_multirun_sweep_runs_each_variant_in_its_own_folders(tmp_path):
    result = run_cli(["-m", *TINY, "loss=hinge,lsgan", "seed=range(1,3)"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    (sweep,) = (tmp_path / "experiments" / "multirun").iterdir()
    jobs = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert jobs == ["0_loss-hinge+seed-1", "1_loss-hinge+seed-2", "2_loss-lsgan+seed-1", "3_loss-lsgan+seed-2"]
    for job in jobs:
        assert (sweep / job / "metrics.csv").is_file()
        assert (tmp_path / "checkpoints" / "multirun" / sweep.name / job / "last.ckpt").is_file()
    for job in jobs:  # each folder's name says its job's values
        key, value = job.split("_", 1)[1].split("+")[0].split("-", 1)
        assert f"{key}={value}" in (sweep / job / ".hydra" / "overrides.yaml").read_text()
