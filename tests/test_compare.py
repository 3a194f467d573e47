"""Budgets in images and the comparison of variants over seeds: one table, refusing mixed protocols, listing
runs that are not finished."""
import csv
import json

import pytest
import torch

from gan_zoo.commands.compare import main as compare_main
from gan_zoo.commands.train import train
from gan_zoo.errors import UserError
from gan_zoo.runs.lock import RunLock
from gan_zoo.runs.resume import StopTraining
from tests.helpers import SMALL_METRICS, TINY, compose_config, run_cli

METRICS = [a for a in TINY if a != "metrics=none"] + SMALL_METRICS
BUDGET = [*METRICS, "budget.max_kimg=0.1", "trainer.max_epochs=-1"]  # 100 images: 7 batches of 16


def _seen(tmp_path) -> int:
    (ckpt,) = (tmp_path / "checkpoints").rglob("last.ckpt")
    return int(torch.load(ckpt, weights_only=True)["state_dict"]["images_seen"])


def test_max_kimg_stops_after_the_batch_that_reaches_it_with_a_final_evaluation(tmp_path):
    train(compose_config(tmp_path, [*BUDGET, f"paths.cache={tmp_path}/cache"]))
    assert _seen(tmp_path) == 112  # 3 + 3 + 1 batches of 16: the first count >= 100
    records = [json.loads(line) for line in next((tmp_path / "experiments").rglob("metrics.jsonl")).open()]
    assert records[-1]["kimg"] == 0.112 and records[-1]["train_seconds"] > 0 and records[-1]["peak_memory_gib"] > 0
    with pytest.raises(UserError, match=r"has seen 0.112 kimg and budget.max_kimg=0.1; raise it"):
        train(compose_config(tmp_path, [*BUDGET, f"paths.cache={tmp_path}/cache", "ckpt=last"]))


def test_the_old_trainer_max_kimg_still_ends_the_run_with_a_deprecation_line(tmp_path, capsys):
    train(compose_config(tmp_path, [*TINY, "trainer.max_kimg=0.05", "trainer.max_epochs=-1"]))
    assert _seen(tmp_path) == 64  # 4 batches of 16: the first count >= 50
    assert "trainer.max_kimg= is now budget.max_kimg= (one meaning per name)" in capsys.readouterr().err
    (ckpt,) = (tmp_path / "checkpoints").rglob("last.ckpt")
    stored = torch.load(ckpt, weights_only=True)["gan_zoo_config"]
    assert stored["budget"]["max_kimg"] == 0.05 and "max_kimg" not in stored["trainer"]


def test_a_run_interrupted_and_resumed_stops_at_the_same_count(tmp_path):
    stop = ["+callbacks.stop._target_=tests.helpers.SignalAtBatch", "+callbacks.stop.epoch=1", "+callbacks.stop.batch=0"]
    with pytest.raises(StopTraining):
        train(compose_config(tmp_path, [*BUDGET, f"paths.cache={tmp_path}/cache", *stop]))
    assert _seen(tmp_path) == 64
    train(compose_config(tmp_path, [*BUDGET, f"paths.cache={tmp_path}/cache", "ckpt=last"]))
    assert _seen(tmp_path) == 112


def _sweep(tmp_path, extra=()):
    result = run_cli(["-m", *BUDGET, f"paths.cache={tmp_path}/cache", "loss=hinge,lsgan", "seed=0,1", *extra],
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    return sorted((tmp_path / "experiments" / "multirun").iterdir())[-1]


@pytest.mark.slow
def test_compare_a_sweep_refuse_mixed_protocols_and_list_unfinished_runs(tmp_path, capsys):
    sweep = _sweep(tmp_path)
    out = tmp_path / "cmp"
    compare_main([str(sweep), f"out={out}"])
    table = (out / "comparison.md").read_text()
    assert "Metrics protocol: extractor `fmnist_cnn`" in table and "64 real (train) / 64 generated" in table
    rows = list(csv.DictReader((out / "comparison.csv").open()))
    assert sorted(r["variant"] for r in rows) == ["loss=hinge", "loss=lsgan"]
    assert all(r["seeds"] == "2" and float(r["kimg"]) == 0.112 for r in rows)
    assert float(rows[0]["fid_median"]) <= float(rows[1]["fid_median"])  # sorted by median FID
    assert all(float(r["g_params"]) > 0 and float(r["minutes"]) > 0 for r in rows)
    assert (out / "fid_vs_kimg.png").stat().st_size > 1000 and (out / "samples.png").stat().st_size > 500

    # a run of another protocol is refused, naming what differs and where
    other = run_cli([*BUDGET, f"paths.cache={tmp_path}/cache", "metrics.evaluate.evaluator.num_fake=32"], cwd=tmp_path)
    assert other.returncode == 0, other.stderr[-2000:]
    (other_run,) = (tmp_path / "experiments" / "dcgan_embedded").iterdir()
    with pytest.raises(SystemExit) as refused:
        compare_main([str(sweep), str(other_run), f"out={tmp_path / 'cmp2'}"])
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert "different metrics protocols" in err and "num_fake=64 in" in err and f"num_fake=32 in {other_run.name}" in err

    # a run that is still going, and one stopped early, are listed as such
    (ckpt_dir,) = [p for p in (tmp_path / "checkpoints" / "multirun" / sweep.name).iterdir() if p.name.startswith("0_")]
    lock = RunLock(ckpt_dir).acquire()
    try:
        (tmp_path / "checkpoints" / "multirun" / sweep.name / sorted(
            p.name for p in (tmp_path / "checkpoints" / "multirun" / sweep.name).iterdir() if p.name.startswith("1_"))[0]
         / "last.ckpt").unlink()
        compare_main([str(sweep), f"out={tmp_path / 'cmp3'}", "samples=false"])
    finally:
        lock.release()
    table = (tmp_path / "cmp3" / "comparison.md").read_text()
    assert "Not in the table:" in table and ": running" in table and ": stopped early" in table
    assert "| loss=lsgan | 2 |" in table and "| loss=hinge |" not in table  # labels stay those of the sweep


def test_compare_bad_input_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as missing:
        compare_main([str(tmp_path / "nope")])
    assert missing.value.code == 2 and "not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as empty:
        compare_main([str(tmp_path)])
    assert empty.value.code == 2 and "no gan_zoo runs under" in capsys.readouterr().err


def test_the_training_entry_returns_the_best_fid_for_optimising_sweepers(tmp_path):
    from gan_zoo.commands.train import main

    value = main.job(compose_config(tmp_path, [*METRICS, "trainer.max_epochs=2", f"paths.cache={tmp_path}/cache"]))
    records = [json.loads(line) for line in next((tmp_path / "experiments").rglob("metrics.jsonl")).open()]
    assert value == min(r["metrics"]["fid"] for r in records) and len(records) == 2


def test_the_fid_interval_is_never_below_zero_and_uses_students_t_at_every_size():
    from scipy.stats import t

    from gan_zoo.commands.compare import _mean_std_ci, log_interval

    low, high = log_interval([16.1, 15.8, 120.0])  # one seed collapsed: the plain t interval went below 0
    assert 0 < low < 15.8 and high > 120.0 * 0.5
    assert _mean_std_ci([16.1, 15.8, 120.0])[0] - _mean_std_ci([16.1, 15.8, 120.0])[2] < 0  # what it replaced
    values = [10.0 + i % 3 for i in range(40)]
    half = _mean_std_ci(values)[2]
    assert half == pytest.approx(t.ppf(0.975, 39) * _mean_std_ci(values)[1] / 40**0.5)  # not 1.96


def test_a_collapsed_seed_is_flagged_and_the_table_shows_median_range_and_every_seed():
    from gan_zoo.commands.compare import collapsed, markdown

    assert collapsed([16.1, 15.8, 120.0]) == [False, False, True]
    assert collapsed([16.1, 15.8, 30.0]) == [False, False, False]  # under twice the median
    assert collapsed([16.1, 120.0]) == [False, False]  # two seeds: no odd one out
    row = {"variant": "experiment=compare/pggan", "seeds": 3, "fid_median": 16.1, "fid_min": 15.8, "fid_max": 120.0,
           "fid_per_seed": [16.1, 15.8, 120.0], "collapsed": [False, False, True], "fid_low95": 3.9,
           "fid_high95": 490.0,
           "fid_raw_median": 12.5, "best_fid_mean": 15.0, "best_fid_min": 14.0, "kimg": 15.0, "minutes": 2.0,
           "images_per_sec": 100.0, "g_params": 1e6, "d_params": 1e6, "peak_memory_gib": 1.0}
    table = markdown([row], {"extractor": "fmnist_cnn"}, [])
    assert ("| experiment=compare/pggan | 3 | 16.10 (15.80 .. 120.00) | 16.1, 15.8, 120.0* | 3.90 .. 490.00 | 12.50 |"
            in table)
    assert "FID raw G" in table and "-40" not in table
    one_seed = {**row, "seeds": 1, "fid_per_seed": [16.1], "collapsed": [False], "fid_low95": float("nan"),
                "kid": 0.1588, "kid_std": float("nan")}  # as summarize gives it: one value has no spread
    single = markdown([one_seed], {"extractor": "fmnist_cnn"}, [])
    assert "| 0.1588 |" in single and "+- 0.0000" not in single and "+- nan" not in single


def test_the_raw_generator_is_evaluated_beside_the_ema_one_where_asked(tmp_path):
    train(compose_config(tmp_path, [*METRICS, "metrics.evaluate.generators=[ema,raw]", "model.module.ema_rampup=null",
                                    f"paths.cache={tmp_path}/cache"]))
    record = json.loads(next((tmp_path / "experiments").rglob("metrics.jsonl")).read_text().splitlines()[-1])
    assert record["metrics_raw"].keys() == record["metrics"].keys()
    assert record["metrics_raw"]["fid"] != record["metrics"]["fid"]  # two networks (no ramp-up: the EMA lags G)
    header = next((tmp_path / "experiments").rglob("metrics.csv")).read_text().splitlines()[0]
    assert "metrics/fid_raw_fmnist_cnn" in header and "metrics/fid_fmnist_cnn" in header


def test_scoring_only_the_raw_generator_is_one_line(tmp_path):
    result = run_cli([*METRICS, "metrics.evaluate.generators=[raw]", f"paths.cache={tmp_path}/cache"], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("gan-zoo: error: metrics.evaluate.generators=['raw']: use [ema] or [ema,raw]")
    assert result.stderr.count("\n") == 1, result.stderr
