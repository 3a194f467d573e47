"""What a run shows its user: a console without noise, plots in the run folder, real images in wandb."""
import os
import subprocess
import sys
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from gan_zoo.commands.train import train
from gan_zoo.runs.callbacks import ImagesPerSecond
from tests.helpers import SMALL_METRICS, TINY, compose_config


@pytest.mark.slow
def test_the_first_30_lines_of_a_default_run_carry_no_warning(tmp_path):
    args = [a for a in TINY if a not in ("callbacks.progress_bar.refresh_rate=0", "metrics=none",
                                         "trainer.enable_model_summary=false")] + SMALL_METRICS
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}  # warnings on, as for a user
    result = subprocess.run([sys.executable, "-m", "gan_zoo.commands.train", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    head = result.stdout.replace("\r", "\n").splitlines()[:30]
    noisy = [line for line in head if any(w in line.lower() for w in ("warn", "deprecat", "litlogger", "tip:"))]
    assert noisy == [], noisy
    assert not any("generator.net.0" in line for line in head)  # no layer table (trainer.enable_model_summary=true)
    assert any("parameters: generator " in line and ", EMA generator " in line for line in head)  # one line instead


def test_plots_are_written_each_epoch(tmp_path):
    train(compose_config(tmp_path, [a for a in TINY if a != "metrics=none"] + SMALL_METRICS +
                         ["trainer.max_epochs=2", f"paths.cache={tmp_path}/cache"]))
    plots = tmp_path / "experiments" / "dcgan_embedded" / "run" / "plots"
    for name in ("metrics.png", "losses.png"):
        image = np.asarray(Image.open(plots / name).convert("L"))
        assert image.shape[0] > 100 and image.std() > 5  # a drawn figure, not an empty canvas


def test_wandb_gets_sample_grids_and_plots_as_real_images(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc credentials
    monkeypatch.setenv("WANDB_SILENT", "true")
    train(compose_config(tmp_path, [a for a in TINY if a != "metrics=none"] + SMALL_METRICS +
                         ["logger=wandb", f"paths.cache={tmp_path}/cache"]))
    media = list((tmp_path / "experiments").rglob("media/images/**/*.png"))
    samples = [p for p in media if p.name.startswith("samples_")]
    assert samples and any(p.name.startswith("metrics_") for p in media)
    pixels = np.asarray(Image.open(samples[0]).convert("L")).astype(float)
    assert pixels.max() > 100 and pixels.std() > 10  # not black: wandb got 0-255 pixels, not 0-1 floats


def test_images_per_second_counts_the_batches_not_the_evaluation_at_the_epochs_end():
    logged = {}
    module = SimpleNamespace(log=lambda name, value, **kwargs: logged.__setitem__(name, value))
    trainer = SimpleNamespace(world_size=1)
    callback = ImagesPerSecond()
    callback.on_train_epoch_start(trainer, module)
    for i in range(4):
        callback.on_train_batch_end(trainer, module, None, torch.zeros(8, 1, 4, 4), i)
    time.sleep(0.5)  # an evaluation or a checkpoint after the last batch
    callback.on_train_epoch_end(trainer, module)
    assert logged["train/images_per_sec"] > 32 / 0.25  # 32 images in far less than the 0.5 s spent after them
