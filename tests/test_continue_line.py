"""The continue line a run prints resumes exactly that run when pasted into bash as printed: a sweep job (whose
folder ckpt=last never looks in), a run of a --config-dir experiment; the budget it asks for goes past what the run
has seen. Sweep job folders need no quoting on the command line."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.core.override_parser.overrides_parser import OverridesParser

from tests.helpers import TINY, run_cli

# a kimg budget, so that the continue line raises budget.max_kimg (two batches of 16 reach 0.03 kimg)
BUDGET = [a for a in TINY if not a.startswith("trainer.max_epochs")] + ["trainer.max_epochs=-1", "budget.max_kimg=0.03"]


def _continue_line(output: str) -> str:
    lines = re.findall(r"^  continue: (.*)$", output, re.M)
    assert lines, output[-3000:]
    return lines[-1]


def _paste(line: str, cwd: Path) -> subprocess.CompletedProcess:
    """The printed line run by bash, with this venv's console scripts on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    return subprocess.run(["bash", "-c", line], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONWARNINGS": "ignore"})


def _seen(ckpt: Path) -> int:
    return int(torch.load(ckpt, weights_only=True)["state_dict"]["images_seen"])


@pytest.mark.slow
def test_the_continue_line_of_a_sweep_job_resumes_that_job(tmp_path):
    result = run_cli(["-m", *BUDGET, "loss=hinge,lsgan"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep,) = (tmp_path / "checkpoints" / "multirun").iterdir()
    job = sweep / "0_loss-hinge"
    ckpt = job / "last.ckpt"
    line = re.findall(r"^  continue: (.*0_loss-hinge/last.ckpt.*)$", result.stdout, re.M)[0]
    assert f"ckpt=checkpoints/multirun/{sweep.name}/0_loss-hinge/last.ckpt" in line and "loss=hinge" in line
    assert line.endswith(f"budget.max_kimg={_seen(ckpt) / 1000 + 0.03:g}")  # past what it has seen
    before, runs = _seen(ckpt), sorted(p.name for p in (tmp_path / "experiments").rglob("metrics.csv"))
    resumed = _paste(line, tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _seen(ckpt) > before  # the job's own checkpoint went on
    assert sorted(p.name for p in (tmp_path / "experiments").rglob("metrics.csv")) == runs  # no new run
    # the job folder pastes unquoted, and a resume without loss=hinge trains on with the job's hinge loss
    again = _paste(f"gan-zoo-train ckpt={ckpt.relative_to(tmp_path)} budget.max_kimg={_seen(ckpt) / 1000 + 0.01:g}",
                   tmp_path)  # one batch more; the rest (its batches per epoch, the loss) from the checkpoint
    assert again.returncode == 0, again.stderr[-3000:]
    stored = torch.load(ckpt, weights_only=True)["gan_zoo_config"]
    assert stored["loss"]["objective"]["_target_"] == "gan_zoo.losses.Hinge"
    assert "loss.objective._target_=gan_zoo.losses.Hinge" in again.stdout + again.stderr  # said in one line


@pytest.mark.slow
def test_the_continue_line_of_a_config_dir_run_resumes_it(tmp_path):
    configs = tmp_path / "my configs"  # a space: the line quotes it for bash
    (configs / "experiment").mkdir(parents=True)
    (configs / "experiment" / "mine.yaml").write_text("# @package _global_\nname: mine\ndefaults:\n"
                                                      "  - override /loss: hinge\n")
    result = run_cli([f"--config-dir={configs}", "experiment=mine", *BUDGET], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    line = _continue_line(result.stdout)
    assert "--config-dir" in line and "experiment=mine" in line
    (ckpt,) = (tmp_path / "checkpoints" / "mine").glob("*/last.ckpt")
    before = _seen(ckpt)
    resumed = _paste(line, tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _seen(ckpt) > before
    assert len(list((tmp_path / "experiments" / "mine").iterdir())) == 1  # the same run folder, no other
    assert "run finished" in resumed.stdout and _continue_line(resumed.stdout) != line  # a budget further again


def test_a_printed_checkpoint_path_reads_back_through_bash_and_hydra(tmp_path):
    from gan_zoo.runs.run import continue_command

    parser = OverridesParser.create()
    for path in ["checkpoints/multirun/2026-12-06_01-02-03-000001/0_loss-hinge+seed-0/last.ckpt",
                 "old/0_loss=hinge,seed=0/last.ckpt", "my runs/it's/last.ckpt", "a\\b/last.ckpt", "123", "null"]:
        line = continue_command(["loss=hinge", "ckpt=last", "budget.max_kimg=2"], path, ["budget.max_kimg=4.1"],
                                [str(tmp_path / "my configs")])
        words = subprocess.run(["bash", "-c", "printf '%s\\0' " + line], capture_output=True, text=True).stdout
        words = words.split("\0")[:-1]
        assert words[:3] == ["gan-zoo-train", "--config-dir", str(tmp_path / "my configs")]
        assert words[3:] == ["loss=hinge", words[4], "budget.max_kimg=4.1"]
        assert parser.parse_override(words[4]).value() == path


def test_the_budget_advice_goes_past_what_the_run_has_seen():
    from gan_zoo.runs.run import budget_past

    assert budget_past(4.032, 3, -1, 2) == ["budget.max_kimg=6.032"]  # not 2 x 2 = 4 (below 4.032)
    assert budget_past(0, 8, 4, None) == ["trainer.max_epochs=12"]
    assert budget_past(1.0, 10, 10, 45) == ["budget.max_kimg=46", "trainer.max_epochs=20"]  # epochs ran out first
    assert budget_past(1.0, 3, -1, None) == []
