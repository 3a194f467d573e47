"""What a run tells its user: the end-of-run summary, a finished run that is asked to continue, the real-image
grid, losses in metrics.csv however short the epoch, and one epoch numbering in every output."""
import csv
import json

import pytest
import torch

from gan_zoo.commands.train import train
from gan_zoo.errors import UserError
from gan_zoo.runs.checkpoints import epochs_of
from tests.helpers import SMALL_METRICS, TINY, compose_config, run_cli

METRICS = [a for a in TINY if a != "metrics=none"] + SMALL_METRICS


def test_a_run_ends_with_a_summary_of_what_it_achieved(tmp_path, capsys):
    train(compose_config(tmp_path, [*METRICS, "trainer.max_epochs=2", f"paths.cache={tmp_path}/cache"]))
    out = capsys.readouterr().out
    assert "gan-zoo: run finished: 2 epochs, 0.1 kimg" in out
    assert "FID (fmnist_cnn): final " in out and "(epoch 1, 0.1 kimg), best " in out
    assert "best checkpoint: " in out and "best-epoch000" in out
    assert f"run folder: {tmp_path}/experiments/dcgan_embedded/run" in out
    ckpt = tmp_path / "checkpoints" / "dcgan_embedded" / "run" / "last.ckpt"
    assert "continue: gan-zoo-train " in out and f"ckpt={ckpt} trainer.max_epochs=4" in out
    assert (tmp_path / "experiments" / "dcgan_embedded" / "run" / "samples" / "real.png").is_file()


def test_continuing_a_finished_run_says_which_setting_to_raise(tmp_path):
    train(compose_config(tmp_path, TINY))
    with pytest.raises(UserError, match=r"is finished: it trained 1 epochs and trainer.max_epochs=1; raise it to "
                                        r"continue: gan-zoo-train .* trainer.max_epochs=2$"):
        train(compose_config(tmp_path, [*TINY, "ckpt=last"]))


def test_losses_reach_the_csv_when_an_epoch_is_shorter_than_the_log_interval(tmp_path):
    train(compose_config(tmp_path, [*TINY, "trainer.log_every_n_steps=10", "trainer.limit_train_batches=3"]))
    with open(tmp_path / "experiments" / "dcgan_embedded" / "run" / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("train/d_loss")]
    assert len(rows) >= 1 and rows[0]["train/g_loss"]


@pytest.mark.slow
def test_gan_zoo_eval_numbers_epochs_as_metrics_jsonl_does(tmp_path):
    train(compose_config(tmp_path, [*METRICS, "trainer.max_epochs=2", f"paths.cache={tmp_path}/cache"]))
    run_dir = tmp_path / "experiments" / "dcgan_embedded" / "run"
    last_epoch = [json.loads(line) for line in (run_dir / "metrics.jsonl").open()][-1]["epoch"]
    ckpt_dir = tmp_path / "checkpoints" / "dcgan_embedded" / "run"
    for ckpt in (ckpt_dir / "last.ckpt", ckpt_dir / f"epoch{last_epoch:04d}-kimg0.1.ckpt"):
        assert epochs_of(torch.load(ckpt, weights_only=True))[0] == last_epoch
    result = run_cli([f"ckpt={ckpt_dir / 'last.ckpt'}"], cwd=tmp_path, module="gan_zoo.commands.evaluate")
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((ckpt_dir / "last.ckpt.metrics.json").read_text())["epoch"] == last_epoch == 1
