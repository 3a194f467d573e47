"""Long runs: bit-exact resume, signals and time limits, atomic and damaged checkpoints."""
import csv
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gan_zoo.commands.train import train
from gan_zoo.errors import UserError
from gan_zoo.runs.checkpoints import AtomicCheckpointIO
from gan_zoo.runs.resume import StopTraining, parse_duration
from tests.helpers import TINY, compose_config

EXACT = [*TINY, "trainer.limit_train_batches=4", "trainer.deterministic=true", "model.module.num_samples=8"]


def _ckpt_dir(root: Path) -> Path:
    return root / "checkpoints" / "dcgan_embedded" / "run"


def _losses(root: Path) -> dict:
    rows = csv.DictReader((root / "experiments" / "dcgan_embedded" / "run" / "metrics.csv").open())
    return {r["step"]: (r["train/d_loss"], r["train/g_loss"]) for r in rows if r.get("train/d_loss")}


def _assert_same_training_state(a: Path, b: Path):
    sa = torch.load(_ckpt_dir(a) / "last.ckpt", weights_only=False)
    sb = torch.load(_ckpt_dir(b) / "last.ckpt", weights_only=False)
    assert sa["state_dict"].keys() == sb["state_dict"].keys()
    for key, value in sa["state_dict"].items():  # G, EMA, D, images seen, sample latents
        assert torch.equal(value, sb["state_dict"][key]), key
    for opt_a, opt_b in zip(sa["optimizer_states"], sb["optimizer_states"]):
        for pa, pb in zip(opt_a["state"].values(), opt_b["state"].values()):
            assert all(torch.equal(pa[k], pb[k]) for k in pa), "optimizer state differs"
    assert (sa["epoch"], sa["global_step"]) == (sb["epoch"], sb["global_step"])


def test_resume_at_an_epoch_boundary_is_bit_exact(tmp_path):
    train(compose_config(tmp_path / "straight", [*EXACT, "trainer.max_epochs=2"]))
    train(compose_config(tmp_path / "resumed", [*EXACT, "trainer.max_epochs=1"]))
    train(compose_config(tmp_path / "resumed", [*EXACT, "trainer.max_epochs=2", "ckpt=last"]))
    _assert_same_training_state(tmp_path / "straight", tmp_path / "resumed")
    assert _losses(tmp_path / "straight") == _losses(tmp_path / "resumed")
    assert len(_losses(tmp_path / "straight")) == 8


def test_resume_mid_epoch_after_a_signal_is_bit_exact(tmp_path):
    train(compose_config(tmp_path / "straight", [*EXACT, "trainer.max_epochs=2"]))
    stop = ["+callbacks.stop._target_=tests.helpers.SignalAtBatch", "+callbacks.stop.epoch=1",
            "+callbacks.stop.batch=1"]
    with pytest.raises(StopTraining, match="received SIGUSR1: saved .*last.ckpt") as stopped:
        train(compose_config(tmp_path / "resumed", [*EXACT, "trainer.max_epochs=2", *stop]))
    assert stopped.value.exit_code == 128 + signal.SIGUSR1
    interrupted = torch.load(_ckpt_dir(tmp_path / "resumed") / "last.ckpt", weights_only=False)
    assert int(interrupted["state_dict"]["images_seen"]) == 6 * 16  # 4 batches of epoch 0, 2 of epoch 1
    train(compose_config(tmp_path / "resumed", [*EXACT, "trainer.max_epochs=2", "ckpt=last"]))
    _assert_same_training_state(tmp_path / "straight", tmp_path / "resumed")
    assert _losses(tmp_path / "straight") == _losses(tmp_path / "resumed")


def test_time_limit_ends_with_a_resumable_checkpoint(tmp_path):
    with pytest.raises(StopTraining, match="time limit 0:00:00.001000 reached") as stopped:
        train(compose_config(tmp_path, [*TINY, "budget.max_time=0.001s"]))  # (the least positive budget: ends after one step)
    assert stopped.value.exit_code == 0
    state = torch.load(_ckpt_dir(tmp_path) / "last.ckpt", weights_only=False)
    assert int(state["state_dict"]["images_seen"]) == 16
    train(compose_config(tmp_path, [*TINY, "ckpt=last"]))
    assert int(torch.load(_ckpt_dir(tmp_path) / "last.ckpt", weights_only=False)["state_dict"]["images_seen"]) == 48


@pytest.mark.parametrize("text, seconds", [("11h30m", 41400), ("45m", 2700), ("1d2h", 93600), ("00:11:30:00", 41400),
                                           ("90s", 90), (120, 120)])
def test_durations(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


def test_bad_duration():
    with pytest.raises(ValueError, match="not a duration: '11 hours'"):
        parse_duration("11 hours")


@pytest.mark.slow
def test_sigterm_leaves_a_checkpoint_that_resumes(tmp_path):
    args = [a for a in TINY if not a.startswith(("trainer.max_epochs", "trainer.limit_train_batches"))]
    cmd = [sys.executable, "-m", "gan_zoo.commands.train", *args, "trainer.max_epochs=1000"]
    process = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not list(tmp_path.glob("experiments/*/*/metrics.csv")) and time.time() < deadline:
        time.sleep(0.5)  # the CSV appears once training has logged
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    assert "received SIGTERM: saved" in stderr and "continue: gan-zoo-train " in stderr
    (ckpt,) = tmp_path.glob("checkpoints/dcgan_embedded/*/last.ckpt")
    seen = int(torch.load(ckpt, weights_only=False)["state_dict"]["images_seen"])
    assert seen > 0
    resumed = subprocess.run([*cmd[:-1], "trainer.max_epochs=1", "trainer.limit_train_batches=2", "ckpt=last"],
                             cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert int(torch.load(ckpt, weights_only=False)["state_dict"]["images_seen"]) >= seen


def test_a_crash_between_write_and_rename_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    io, path = AtomicCheckpointIO(), tmp_path / "last.ckpt"
    io.save_checkpoint({"state_dict": {"w": torch.ones(3)}}, path)

    def killed(*args):
        raise KeyboardInterrupt("killed between write and rename")

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"state_dict": {"w": torch.zeros(3)}}, path)
    assert torch.equal(torch.load(path, weights_only=True)["state_dict"]["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary file left behind


def _two_checkpoints(tmp_path):
    train(compose_config(tmp_path, [*TINY, "trainer.max_epochs=2"]))
    ckpt_dir = _ckpt_dir(tmp_path)
    older = sorted(ckpt_dir.glob("epoch*.ckpt"))[0]
    os.utime(older, (time.time() - 100, time.time() - 100))
    last = ckpt_dir / "last.ckpt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # truncated, the newest file
    return older, last


def test_truncated_checkpoint_is_a_clear_error_naming_the_newest_good_one(tmp_path):
    older, last = _two_checkpoints(tmp_path)
    with pytest.raises(UserError, match=f"checkpoint '{last}' is truncated or corrupt.*newest readable one there is"):
        train(compose_config(tmp_path, [*TINY, f"ckpt={last}", "trainer.max_epochs=3"]))


def test_last_skips_a_corrupt_newest_checkpoint_and_says_so(tmp_path, caplog):
    older, last = _two_checkpoints(tmp_path)
    with caplog.at_level(logging.INFO):
        train(compose_config(tmp_path, [*TINY, "ckpt=last", "trainer.max_epochs=3"]))
    newest_good = sorted(_ckpt_dir(tmp_path).glob("epoch0001*.ckpt"))[0]
    assert f"skipping '{last}': truncated or corrupt" in caplog.text
    assert f"resuming from {newest_good}" in caplog.text
    state = torch.load(last, weights_only=False)  # rewritten whole by the resumed run
    assert int(state["state_dict"]["images_seen"]) == 3 * 3 * 16


def test_resuming_with_other_networks_lists_the_differences(tmp_path):
    train(compose_config(tmp_path, TINY))
    with pytest.raises(UserError, match=r"other networks than this config builds: model.generator.latent_dim: 16 -> 32; "
                                        r"model.generator.width: 8 -> 16 \(drop these overrides") as error:
        train(compose_config(tmp_path, [*TINY, "model.generator.width=16", "model.generator.latent_dim=32",
                                        "ckpt=last"]))
    assert "data.resolution" not in str(error.value)


def _read_until(stream, text: str, timeout: float = 120) -> str:
    """Lines of `stream` up to the first that holds `text`."""
    seen, deadline = [], time.time() + timeout
    while time.time() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"{text!r} never came; got: {''.join(seen)[-2000:]}")


@pytest.mark.slow
def test_a_signal_is_acknowledged_while_blocked_and_a_second_one_exits_at_once(tmp_path):
    """The main thread blocks as in a collective that never completes: the first SIGTERM is still
    acknowledged within seconds, the second ends the process at once."""
    cmd = [sys.executable, "-m", "gan_zoo.commands.train", *TINY, "trainer.max_epochs=1000",
           "+callbacks.block._target_=tests.helpers.BlockForever"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "PYTHONWARNINGS": "ignore"}
    process = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _read_until(process.stdout, "blocked")
    process.send_signal(signal.SIGTERM)
    assert "received SIGTERM: stopping after this batch" in _read_until(process.stderr, "received SIGTERM", 10)
    assert process.poll() is None  # still waiting: one signal asks for a checkpoint first
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)
    assert time.monotonic() - sent < 10
    assert process.returncode == 128 + signal.SIGTERM
    assert "second SIGTERM: stopping now without a new checkpoint" in process.stderr.read()


def test_temporary_files_of_killed_saves_are_removed_at_the_next_start(tmp_path):
    train(compose_config(tmp_path, TINY))
    ckpt_dir = _ckpt_dir(tmp_path)
    for pid in (111, 222):  # what saves killed between write and rename leave
        (ckpt_dir / f".last.ckpt.tmp{pid}").write_bytes(b"\0" * 1000)
    train(compose_config(tmp_path, [*TINY, "trainer.max_epochs=2", "ckpt=last"]))
    assert not list(ckpt_dir.glob(".*.tmp*")) and (ckpt_dir / "last.ckpt").is_file()


def test_csv_rows_are_on_disk_as_soon_as_they_are_logged(tmp_path):
    from hydra.utils import instantiate

    cfg = compose_config(tmp_path, TINY)
    (logger,) = [instantiate(lg, save_dir=str(tmp_path)) for lg in cfg.logger.values()]
    logger.log_metrics({"train/d_loss": 1.5}, step=0)  # no save(), no finalize(): as if killed next
    assert "1.5" in (tmp_path / "metrics.csv").read_text()
