"""A new model is its network file and its configs (CONTRIBUTING.md, "Add a model"): the toy model of
tests/toy_model, installed as a package of its own (a folder on the path with a dist-info that declares its
generator in the `gan_zoo.generators` entry-point group) with its `conf/model` file and default loss file given by
`--config-dir`, trains, evaluates, generates, projects (z and w: it has a style space with names of its own),
morphs, exports and loads back through `shared=` and the hub entry point, with no file of gan_zoo touched."""
import json
import os
import shutil
import sys

import pytest
import torch

from tests.helpers import REPO, SMALL_METRICS, run_cli

TOY = REPO / "tests" / "toy_model"


def install_toy(root):
    """The toy package as an installed one: its module and a dist-info declaring its generator."""
    package = root / "site"
    package.mkdir()
    shutil.copy(TOY / "toy_nets.py", package / "toy_nets.py")
    info = package / "toy_nets-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy_nets\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[gan_zoo.generators]\ntoy = toy_nets:Generator\n")
    return package


@pytest.mark.slow
def test_a_model_from_its_own_package_and_configs_runs_every_command(tmp_path, monkeypatch):
    site = install_toy(tmp_path)
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}

    def run(module, *args):
        result = run_cli(list(args), cwd=tmp_path, module=f"gan_zoo.commands.{module}", env=env)
        assert result.returncode == 0, f"{module} {args}:\n{result.stderr[-3000:]}"
        return result

    run("train", f"--config-dir={TOY / 'conf'}", "model=toy", "name=toy", "data.resolution=16", "data.batch_size=16",
        "trainer.max_epochs=1", "trainer.limit_train_batches=2", "callbacks.progress_bar.refresh_rate=0",
        f"paths.cache={tmp_path / 'cache'}", *SMALL_METRICS)
    (ckpt,) = (tmp_path / "checkpoints" / "toy").rglob("last.ckpt")
    evaluated = json.loads(run("evaluate", f"ckpt={ckpt}", f"paths.cache={tmp_path / 'cache'}",
                               f"out={tmp_path / 'eval.json'}").stdout)
    assert evaluated["metrics"]["fid_fmnist_cnn"] > 0
    run("generate", f"ckpt={ckpt}", "num=8", f"out={tmp_path / 'eight.png'}")
    run("generate", f"ckpt={ckpt}", "interpolate=true", "space=w", "rows=2", "frames=3", "psi=0.7",
        f"out={tmp_path / 'w.png'}")
    run_cli(["--out", str(tmp_path / "sets"), "--classes", "sandal", "ankle_boot", "--num", "4"], cwd=tmp_path,
            module="gan_zoo.data.export_embedded", env=env)
    for space in ("z", "w"):
        run("project", f"ckpt={ckpt}", f"images={tmp_path / 'sets' / 'sandal'}", f"space={space}",
            "projection.steps=3", f"out={tmp_path / ('proj_' + space)}")
    run("morph", f"ckpt={ckpt}", f"start={tmp_path / 'proj_w' / 'latents.pt'}", f"end={tmp_path / 'sets' / 'ankle_boot'}",
        "space=w", "projection.steps=3", "t=[0,0.5,1]", "gif_frames=3", f"out={tmp_path / 'morph'}")
    assert (tmp_path / "morph" / "morph.json").is_file()
    run("export", f"ckpt={ckpt}", f"out={tmp_path / 'shared'}")
    run("generate", f"shared={tmp_path / 'shared'}", "num=4", f"out={tmp_path / 'four.png'}")

    monkeypatch.syspath_prepend(str(site))
    sys.modules.pop("toy_nets", None)
    from gan_zoo import api

    trained = api.load_generator(ckpt=str(ckpt)).generator
    hub = torch.hub.load(str(REPO), "generator", source="local", trust_repo=True, shared=str(tmp_path / "shared"))
    assert type(hub).__name__ == "Generator" and type(hub).__module__ == "toy_nets"
    z = torch.randn(4, hub.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(hub(z, noise_mode="const"), trained(z, noise_mode="const"))
