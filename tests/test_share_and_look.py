"""Sharing a generator (gan-zoo-export: safetensors, config.json, a model card; loaded in a fresh process by generate,
the API and torch.hub) and looking at runs in TensorBoard (scalars, sample grids, resume without a gap)."""
import json
import subprocess
import sys

import pytest
import torch

from gan_zoo.commands.train import train
from tests.helpers import BASE, SMALL_METRICS, TINY, compose_config, run_cli
from tests.test_pretrained import _their_checkpoint
from tests.test_progan import PGGAN_TINY
from tests.test_stylegan import STYLEGAN_TINY

MODELS = {"dcgan": [*TINY], "pggan": [*BASE, *PGGAN_TINY], "stylegan": [*BASE, *STYLEGAN_TINY]}


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """A briefly trained checkpoint of each model (with metrics, so the card has them), and an imported PGAN."""
    root = tmp_path_factory.mktemp("share")
    found = {}
    for name, overrides in MODELS.items():
        args = [a for a in overrides if a != "metrics=none"] + SMALL_METRICS
        train(compose_config(root / name, args))
        (ckpt,) = (root / name / "checkpoints").rglob("last.ckpt")
        found[name] = f"ckpt={ckpt}"
    from gan_zoo.networks.progan import Generator

    torch.manual_seed(0)
    _their_checkpoint(Generator(16, 1, latent_dim=12, widths=[8, 8, 8]), 0.0, root / "pgan.pth")
    found["imported"] = f"pretrained=pytorch_gan_zoo:{root / 'pgan.pth'}"
    return found


_SAME_IMAGES = """
import sys, torch
from gan_zoo import api
source, folder, out = sys.argv[1:]
key, value = source.split("=", 1)
reference = api.load_generator(**{key: value}).generator
shared = api.load_generator(shared=folder).generator
hub = torch.hub.load(".", "generator", source="local", shared=folder)  # hubconf.py of this checkout
z = torch.randn(8, reference.latent_dim, generator=torch.Generator().manual_seed(3))
from gan_zoo.contract import has_style_space
kwargs = {"noise_mode": "const"} if has_style_space(reference) else {}  # StyleGAN: its fixed noise maps
with torch.no_grad():
    a, b, c = reference(z, **kwargs), shared(z, **kwargs), hub(z, **kwargs)
torch.save({"equal": bool(torch.equal(a, b) and torch.equal(a, c)), "type": type(shared).__name__}, out)
"""


@pytest.mark.parametrize("name", ["dcgan", "pggan", "stylegan", "imported"])
def test_export_then_load_in_a_fresh_process_gives_the_same_images(sources, tmp_path, name):
    out = tmp_path / "shared"
    result = run_cli([sources[name], f"out={out}", "samples=16"], cwd=tmp_path, module="gan_zoo.commands.export")
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "generator.safetensors", "samples.png"]
    config = json.loads((out / "config.json").read_text())
    assert config["class"].startswith("gan_zoo.networks.") and config["resolution"] == 16 and config["channels"] == 1
    assert config["w_space"] == (name == "stylegan")
    # the weights file: the generator's tensors and a small header, nothing else (no optimizer, no discriminator)
    from gan_zoo import api

    key, value = sources[name].split("=", 1)
    generator = api.load_generator(**{key: value}).generator
    tensor_bytes = sum(t.numel() * t.element_size() for t in generator.state_dict().values())
    assert tensor_bytes <= (out / "generator.safetensors").stat().st_size <= tensor_bytes + 64 * 1024
    card = (out / "README.md").read_text()
    assert "samples.png" in card and "gan-zoo-generate shared=" in card
    if name != "imported":
        assert config["metrics"]["protocol"]["extractor"] == "fmnist_cnn" and "fid" in config["metrics"]["last"]
        assert "| last |" in card and "| best |" in card
    # a fresh process: the checkpoint's EMA generator, the exported one and torch.hub's give the same images
    check = subprocess.run([sys.executable, "-c", _SAME_IMAGES, sources[name], str(out), str(tmp_path / "r.pt")],
                           cwd=str(api.__file__).rsplit("/gan_zoo/", 1)[0], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr[-3000:]
    assert torch.load(tmp_path / "r.pt")["equal"]
    # and the command that users run
    generated = run_cli([f"shared={out}", "num=4", f"out={tmp_path / 'g.png'}"], cwd=tmp_path,
                        module="gan_zoo.commands.generate")
    assert generated.returncode == 0 and (tmp_path / "g.png").is_file(), generated.stderr[-2000:]


def test_a_shared_config_naming_another_class_is_refused_in_one_line(sources, tmp_path):
    out = tmp_path / "shared"
    assert run_cli([sources["dcgan"], f"out={out}"], cwd=tmp_path, module="gan_zoo.commands.export").returncode == 0
    config = json.loads((out / "config.json").read_text())
    marker = tmp_path / "pwned"
    for target, arguments in (("os.system", {"command": f"touch {marker}"}),
                              ("builtins.open", {"file": str(tmp_path / "canary"), "mode": "w"})):
        (out / "config.json").write_text(json.dumps({**config, "class": target, "arguments": arguments}))
        result = run_cli([f"shared={out}", f"out={tmp_path / 'x.png'}"], cwd=tmp_path, module="gan_zoo.commands.generate")
        assert result.returncode == 2 and result.stderr.strip().count("\n") == 0, result.stderr[-2000:]
        assert f"'{target}'" in result.stderr and "config.json" in result.stderr
    assert not marker.exists() and not (tmp_path / "canary").exists() and not (tmp_path / "x.png").exists()


def test_export_refuses_raw_for_an_imported_generator_and_an_existing_export(sources, tmp_path):
    out = tmp_path / "shared"
    raw = run_cli([sources["imported"], f"out={out}", "which=raw"], cwd=tmp_path, module="gan_zoo.commands.export")
    assert raw.returncode == 2 and "which=raw" in raw.stderr and not out.exists()
    assert run_cli([sources["dcgan"], f"out={out}", "which=raw"], cwd=tmp_path,
                   module="gan_zoo.commands.export").returncode == 0
    again = run_cli([sources["dcgan"], f"out={out}"], cwd=tmp_path, module="gan_zoo.commands.export")
    assert again.returncode == 2 and "overwrite=true" in again.stderr
    assert json.loads((out / "config.json").read_text())["generator"] == "raw"


@pytest.mark.slow
def test_tensorboard_logs_fid_and_samples_and_resume_continues_the_same_run(tmp_path):
    pytest.importorskip("tensorboard", reason="TensorBoard is the tensorboard extra: pip install -e '.[tensorboard]'")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    args = [a for a in TINY if a not in ("metrics=none", "callbacks.progress_bar.refresh_rate=0")] + SMALL_METRICS + [
        "logger=tensorboard", "trainer.max_epochs=2", f"paths.cache={tmp_path}/cache"]
    assert run_cli(args, cwd=tmp_path).returncode == 0
    resumed = run_cli([*args[:-2], "trainer.max_epochs=3", f"paths.cache={tmp_path}/cache", "ckpt=last"], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    (folder,) = (tmp_path / "experiments" / "dcgan_embedded").glob("*/tensorboard")
    events = EventAccumulator(str(folder), size_guidance={"images": 0, "scalars": 0}).Reload()
    fid = events.Scalars("metrics/fid_fmnist_cnn")
    steps = [e.step for e in fid]
    assert len(fid) == 3 and steps == sorted(steps) and len(set(steps)) == 3  # one per epoch, no restart
    assert steps[2] - steps[1] == steps[1] - steps[0]  # no gap: the resumed epoch follows on
    images = [e.step for e in events.Images("samples")]  # a sample grid per epoch, at the scalars' steps
    assert images == steps
    assert "train/loss_d" in events.Tags()["scalars"] or any(t.startswith("train/") for t in events.Tags()["scalars"])
