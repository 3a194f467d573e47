"""One writer per run: a second resume of a running run is refused; a crashed holder leaves no stuck lock."""
import hashlib
import signal
import subprocess
import sys
import time

import pytest

from gan_zoo.commands.train import train
from gan_zoo.errors import UserError
from gan_zoo.runs.lock import RunLock
from tests.helpers import TINY, compose_config, run_cli


def _digest(folder):
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_second_writer_is_refused_with_the_holders_pid_and_nothing_changes(tmp_path):
    train(compose_config(tmp_path, TINY))
    (ckpt_dir,) = [p for p in (tmp_path / "checkpoints" / "dcgan_embedded").iterdir() if p.is_dir()]
    before = _digest(tmp_path)
    holder = RunLock(ckpt_dir).acquire()  # this process, as the first writer
    try:
        with pytest.raises(UserError, match=rf"the run in '{ckpt_dir}' is in use by process {__import__('os').getpid()}"):
            train(compose_config(tmp_path, [*TINY, "trainer.max_epochs=2", "ckpt=last"]))
    finally:
        holder.release()
    assert _digest(tmp_path) == before


def test_a_killed_holder_leaves_no_stuck_lock(tmp_path):
    code = ("import sys, time; from gan_zoo.runs.lock import RunLock; RunLock(sys.argv[1]).acquire(); "
            "print('locked', flush=True); time.sleep(600)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "run")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(UserError, match=f"in use by process {holder.pid}"):
        RunLock(tmp_path / "run").acquire()
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert (tmp_path / ".run.lock").exists()  # a killed holder cannot remove its file, but its lock is gone:
    RunLock(tmp_path / "run").acquire().release()
    assert not (tmp_path / ".run.lock").exists()


@pytest.mark.slow
def test_two_concurrent_resumes_of_one_run(tmp_path):
    train(compose_config(tmp_path, TINY))
    args = [a for a in TINY if not a.startswith(("trainer.max_epochs", "trainer.limit_train_batches"))]
    first = subprocess.Popen([sys.executable, "-m", "gan_zoo.commands.train", *args, "trainer.max_epochs=1000", "ckpt=last"],
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not any(
            f"process {first.pid}" in p.read_text() for p in (tmp_path / "checkpoints" / "dcgan_embedded").glob(".*.lock")):
        time.sleep(0.2)  # until the first holds the lock
    second = run_cli([*TINY, "trainer.max_epochs=2", "ckpt=last"], cwd=tmp_path)
    assert second.returncode == 2, second.stderr[-2000:]
    assert second.stderr.startswith("gan-zoo: error: the run in") and f"in use by process {first.pid}" in second.stderr
    assert len(list((tmp_path / "experiments" / "dcgan_embedded").iterdir())) == 1  # no folder of the refused one
    assert first.poll() is None  # the first goes on
    first.send_signal(signal.SIGTERM)
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    (run_dir,) = (tmp_path / "experiments" / "dcgan_embedded").iterdir()
    steps = [line.split(",") for line in (run_dir / "metrics.csv").read_text().splitlines()[1:]]
    header = (run_dir / "metrics.csv").read_text().splitlines()[0].split(",")
    step_values = [row[header.index("step")] for row in steps if row[header.index("train/d_loss")]]
    assert len(step_values) == len(set(step_values))  # one writer: no step logged twice
