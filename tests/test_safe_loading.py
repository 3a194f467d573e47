"""Files from others are untrusted: every checkpoint gan_zoo writes loads with weights_only=True, and a file
whose pickle would run code is refused by every command, with nothing in it run."""
import os
import zipfile

import pytest
import torch

from gan_zoo.commands.train import train
from gan_zoo.errors import UserError
from gan_zoo.pretrained.pytorch_gan_zoo import load_pgan_generator
from gan_zoo.runs.checkpoints import load_checkpoint
from tests.helpers import SMALL_METRICS, TINY, compose_config, run_cli


class _CreatesAFile:
    """Unpickling this calls os.system: what a malicious checkpoint does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _malicious_checkpoint(path, marker):
    torch.save({"state_dict": {"w": torch.zeros(1)}, "gan_zoo_config": {}, "payload": _CreatesAFile(marker)}, path)
    return path


def test_every_checkpoint_a_run_writes_loads_with_weights_only(tmp_path):
    train(compose_config(tmp_path, [t for t in TINY if t != "metrics=none"] + SMALL_METRICS +
                         ["trainer.max_epochs=2", f"paths.cache={tmp_path}/cache"]))
    checkpoints = sorted((tmp_path / "checkpoints").rglob("*.ckpt"))
    assert {p.name.split("-")[0] for p in checkpoints} >= {"last.ckpt", "best", "epoch0000", "epoch0001"}
    for path in checkpoints:
        state = torch.load(path, map_location="cpu", weights_only=True)
        assert "optimizer_states" in state and "gan_zoo_config" in state and "callbacks" in state


def test_loading_a_malicious_checkpoint_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = _malicious_checkpoint(tmp_path / "evil.ckpt", marker)
    with pytest.raises(UserError, match=r"refusing checkpoint '.*evil.ckpt'.*(posix|os)\.system.*nothing in it was run"):
        load_checkpoint(path)
    assert not marker.exists()
    with pytest.raises(UserError, match="refusing pytorch_GAN_zoo checkpoint"):
        load_pgan_generator(str(path))
    assert not marker.exists()


@pytest.mark.slow
@pytest.mark.parametrize("module, args", [
    ("gan_zoo.commands.train", [*TINY, "ckpt={ckpt}"]),
    ("gan_zoo.commands.generate", ["ckpt={ckpt}", "out={tmp}/out.png"]),
    ("gan_zoo.commands.evaluate", ["ckpt={ckpt}"]),
    ("gan_zoo.commands.generate", ["pretrained=pytorch_gan_zoo:{ckpt}", "out={tmp}/out.png"]),
])
def test_every_command_refuses_a_malicious_checkpoint(tmp_path, module, args):
    marker = tmp_path / "pwned"
    ckpt = _malicious_checkpoint(tmp_path / "evil.ckpt", marker)
    result = run_cli([a.format(ckpt=ckpt, tmp=tmp_path) for a in args], cwd=tmp_path, module=module)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line
    assert result.stderr.startswith("gan-zoo: error: refusing") and "nothing in it was run" in result.stderr
    assert not marker.exists()
    assert not (tmp_path / "out.png").exists()
    assert not [p for p in (tmp_path / "experiments").rglob("*") if p.is_file()]  # no run folder left behind


def test_a_damaged_file_is_still_called_damaged_not_unsafe(tmp_path):
    path = tmp_path / "garbage.ckpt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="truncated or corrupt"):
        load_checkpoint(path)
    with zipfile.ZipFile(tmp_path / "empty.ckpt", "w"):
        pass
    with pytest.raises(UserError, match="truncated or corrupt"):
        load_checkpoint(tmp_path / "empty.ckpt")
