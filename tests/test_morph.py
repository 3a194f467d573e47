"""gan-zoo-morph end to end on the embedded data, pairing, gan-zoo-generate's new outputs, and the bad inputs of
the latent toolkit (one line, exit 2, nothing written)."""
import csv
import json
import re

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from PIL import Image

from gan_zoo.api import load_generator
from gan_zoo.commands.cli import CONFIG_DIR
from gan_zoo.commands.train import train
from gan_zoo.data.export_embedded import export_embedded
from gan_zoo.errors import UserError
from gan_zoo.latent.morphing import pair
from tests.helpers import SMALL_METRICS, TINY, compose_config, run_cli

# A DCGAN at 16x16 that learns coarse garment shapes in ~15 s on 2 cores: a trouser and a bag are told apart.
DCGAN_SHORT = [a for a in TINY if not a.startswith(("trainer.limit_train_batches", "trainer.max_epochs",
                                                       "model.generator.width", "model.discriminator.width"))] + [
    "trainer.max_epochs=3", "model.generator.width=24", "model.discriminator.width=24", "data.batch_size=32"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("morph")
    train(compose_config(root, [*DCGAN_SHORT, *SMALL_METRICS, "data.holdout=500"]))
    (ckpt,) = (root / "checkpoints").rglob("last.ckpt")
    sets = export_embedded(str(root / "sets"), ["trouser", "bag", "dress"], 16, holdout=500)  # never trained on
    return ckpt, sets


def _one_line_error(result, *words):
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("gan-zoo: error: ") and "Traceback" not in result.stderr, result.stderr[-2000:]
    for word in words:
        assert word in last, last
    return last


@pytest.mark.slow
def test_morph_from_trousers_to_bags_against_dresses(run, tmp_path):
    ckpt, sets = run
    out = tmp_path / "morph"
    result = run_cli([f"ckpt={ckpt}", f"start={sets['trouser']}", f"end={sets['bag']}", f"middle={sets['dress']}",
                      f"out={out}", "projection.steps=150", "t=[0,0.5,1]", "media_pairs=3", "gif_frames=6"],
                     cwd=tmp_path, module="gan_zoo.commands.morph")
    assert result.returncode == 0, result.stderr[-3000:]
    for t in ("0.00", "0.50", "1.00"):
        assert len(list((out / f"t_{t}").glob("*.png"))) == 16  # nearest pairing: one-to-one, 16 pairs
    assert len(list((out / "strips").glob("*.png"))) == 3
    gif = Image.open(out / "gifs" / "pair_0000.gif")
    assert gif.n_frames == 6 + 4  # forth and back
    assert (out / "start" / "latents.pt").is_file() and (out / "end" / "projection.png").is_file()
    assert (out / "morph.png").is_file()
    rows = list(csv.DictReader((out / "morph.csv").read_text().splitlines()))
    fid = {(r["set"], r["t"], r["reference"]): float(r["fid"]) for r in rows}
    assert ("start", "", "middle") in fid and ("end", "", "middle") in fid  # the baselines
    # the generated set at t=0 sits closer to the start set than to the end set, and at t=1 the other way round
    assert fid["generated", "0.0", "start"] < fid["generated", "0.0", "end"]
    assert fid["generated", "1.0", "end"] < fid["generated", "1.0", "start"]
    summary = json.loads((out / "morph.json").read_text())
    assert summary["features"] == "fmnist_cnn" and len(summary["pairs"]) == 16

    # the projections are reused: the same pairs and the same generated sets without projecting again
    again = run_cli([f"ckpt={ckpt}", f"start={out / 'start' / 'latents.pt'}", f"end={out / 'end' / 'latents.pt'}",
                     f"out={tmp_path / 'again'}", "t=[0,0.5,1]", "media_pairs=0"], cwd=tmp_path,
                    module="gan_zoo.commands.morph")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "projecting" not in again.stderr
    assert (tmp_path / "again" / "t_0.50" / "000000.png").read_bytes() == (out / "t_0.50" / "000000.png").read_bytes()


def test_pairing_nearest_is_one_to_one_and_minimal_all_and_csv(tmp_path):
    start = torch.tensor([[0.0], [10.0], [20.0]])
    end = torch.tensor([[21.0], [1.0], [9.0]])
    files = (["a.png", "b.png", "c.png"], ["x.png", "y.png", "z.png"])
    nearest = pair("nearest", start, end, *files)
    assert sorted(zip(nearest.start, nearest.end)) == [(0, 1), (1, 2), (2, 0)]
    everything = pair("all", start, end, *files)
    assert len(everything.start) == 9 and len(set(zip(everything.start, everything.end))) == 9
    given = tmp_path / "pairs.csv"
    given.write_text("start,end\na.png,z.png\n2,0\n")
    by_csv = pair(str(given), start, end, *files)
    assert list(zip(by_csv.start, by_csv.end)) == [(0, 2), (2, 0)]
    given.write_text("start,end\nnope.png,x.png\n")
    with pytest.raises(UserError, match="nope.png"):
        pair(str(given), start, end, *files)


def test_generate_writes_a_folder_of_pngs_and_an_animated_gif(run, tmp_path):
    ckpt, _ = run
    folder = run_cli([f"ckpt={ckpt}", "num=70", "batch_size=32", f"out={tmp_path / 'many'}"], cwd=tmp_path,
                     module="gan_zoo.commands.generate")
    assert folder.returncode == 0, folder.stderr[-2000:]
    files = sorted((tmp_path / "many").glob("*.png"))
    assert len(files) == 70 and Image.open(files[-1]).size == (16, 16)
    gif = run_cli([f"ckpt={ckpt}", "interpolate=true", "rows=2", "steps=5", "method=lerp", f"out={tmp_path / 'm.gif'}"],
                  cwd=tmp_path, module="gan_zoo.commands.generate")
    assert gif.returncode == 0, gif.stderr[-2000:]
    assert "steps= is now frames= (one meaning per name); steps= still works until gan_zoo 0.2.0" in gif.stderr  # the old name
    frames = Image.open(tmp_path / "m.gif")
    assert frames.n_frames == 5 + 3 and frames.size == (2 + 2 * 18, 2 + 18)
    mp4 = run_cli([f"ckpt={ckpt}", "interpolate=true", f"out={tmp_path / 'm.mp4'}"], cwd=tmp_path,
                  module="gan_zoo.commands.generate")
    try:
        import av  # noqa: F401
    except ImportError:
        _one_line_error(mp4, "pip install av")
    else:
        assert mp4.returncode == 0 and (tmp_path / "m.mp4").stat().st_size > 0


def test_generate_interpolates_between_projected_images(run, tmp_path):
    ckpt, sets = run
    proj = run_cli([f"ckpt={ckpt}", f"images={sets['bag']}", f"out={tmp_path / 'p'}", "projection.steps=5"], cwd=tmp_path,
                   module="gan_zoo.commands.project")
    assert proj.returncode == 0, proj.stderr[-2000:]
    result = run_cli([f"ckpt={ckpt}", "interpolate=true", f"latents={tmp_path / 'p' / 'latents.pt'}", "frames=4",
                      f"out={tmp_path / 'between.png'}"], cwd=tmp_path, module="gan_zoo.commands.generate")
    assert result.returncode == 0, result.stderr[-2000:]
    assert Image.open(tmp_path / "between.png").size == (2 + 4 * 18, 2 + 15 * 18)  # 16 images -> 15 rows


def _command_config(name: str, overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(name, overrides=overrides)


def test_bad_inputs_of_the_latent_toolkit(run, tmp_path):
    """Each is refused before any work; through the commands: one line, exit 2, nothing written."""
    from gan_zoo.commands import cli, generate, morph, project
    from gan_zoo.latent.spaces import save_latents
    from gan_zoo.networks.dcgan import Generator

    ckpt, sets = run
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    (empty / "broken.png").write_bytes(b"not a png")
    no_generator = tmp_path / "no_generator.ckpt"
    torch.save({"state_dict": {"discriminator.w": torch.zeros(1)}, "epoch": 0}, no_generator)
    other = tmp_path / "other.pt"  # latents of another generator
    save_latents(other, torch.randn(3, 16), "z", Generator(16, 1, latent_dim=16, width=8), "elsewhere", ["a", "b", "c"])
    out = tmp_path / "out"
    # the command line: one line, exit 2
    for module, args, words in [
        ("gan_zoo.commands.project", [f"ckpt={ckpt}", f"images={empty}", f"out={out}"], ["none of the 1 image files"]),
        ("gan_zoo.commands.project", [f"ckpt={ckpt}", f"images={sets['bag']}", f"out={out}", "space=w"],
         ["space=w", "use space=z"]),
        ("gan_zoo.commands.morph", [f"ckpt={ckpt}", f"start={other}", f"end={sets['bag']}", f"out={out}"],
         ["another generator", "gan-zoo-project"]),
    ]:
        _one_line_error(run_cli(args, cwd=tmp_path, module=module), *words)
        assert not out.exists()
    # the same code path in this process, for the other cases
    for command, name, args, words in [
        (project.run, "project", [f"ckpt={ckpt}", f"images={tmp_path / 'missing'}"], "no such folder"),
        (project.run, "project", [f"ckpt={no_generator}", f"images={sets['bag']}"], "holds no generator"),
        (project.run, "project", [f"ckpt={ckpt}", f"images={sets['bag']}", "projection.steps=0"], "projection.steps=0"),
        (morph.run, "morph", [f"ckpt={ckpt}", f"start={sets['bag']}", f"end={sets['dress']}", "pairing=nope"],
         "pairing='nope'"),
        (morph.run, "morph", [f"ckpt={ckpt}", f"start={sets['bag']}", f"end={sets['dress']}", "t=[0,2]"],
         "between 0 and 1"),
        (generate.generate, "generate", [f"ckpt={ckpt}", "interpolate=true", f"latents={other}", f"out={out}.png"],
         "another generator"),
        (generate.generate, "generate", [f"ckpt={ckpt}", f"out={out}.gif"], "interpolate=true"),
        (generate.generate, "generate", [f"ckpt={ckpt}", f"out={out}.webm"], "format='webm'"),
    ]:
        cfg = _command_config(name, args if name == "generate" else [*args, f"out={out}"])
        with pytest.raises(UserError, match=re.escape(words)):
            cli.settle(cfg, name)  # what cli.command does before every body
            command(cfg)
        assert not out.exists() and not list(tmp_path.glob("out.*"))


def test_lpips_without_its_weights_fails_at_start_up_naming_the_file(run, tmp_path, monkeypatch):
    ckpt, sets = run
    # an empty torch hub folder and no network: the weights can be neither found nor downloaded
    env = {"TORCH_HOME": str(tmp_path / "torch_home"), "https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    result = run_cli([f"ckpt={ckpt}", f"images={sets['bag']}", f"out={tmp_path / 'p'}", "distance=lpips"],
                     cwd=tmp_path, module="gan_zoo.commands.project", env=env, timeout=120)
    _one_line_error(result, "vgg16-397923af.pth", "distance.vgg16_weights", "distance=pixels")
    assert "projecting" not in result.stderr and not (tmp_path / "p").exists()
    given = run_cli([f"ckpt={ckpt}", f"images={sets['bag']}", f"out={tmp_path / 'p'}", "distance=lpips",
                     f"distance.vgg16_weights={tmp_path / 'vgg.pth'}"], cwd=tmp_path, module="gan_zoo.commands.project")
    _one_line_error(given, "vgg.pth", "no such file")


def test_lpips_distance_with_a_given_vgg16_file(tmp_path):
    """LPIPS built from a VGG16 state dict file (random weights here: the real ones are a 528 MB download)."""
    import torchvision

    from gan_zoo.latent.distances import LPIPSDistance

    torch.manual_seed(0)
    features = torchvision.models.vgg16(weights=None).features.state_dict()
    torch.save({f"features.{k}": v for k, v in features.items()}, tmp_path / "vgg16.pth")
    distance = LPIPSDistance(str(tmp_path / "vgg16.pth"))
    first = next(distance.lpips.net.children())[0]
    torch.testing.assert_close(first.weight, features["0.weight"])  # the file's weights are the ones used
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    y = (x + 0.5 * torch.randn_like(x)).clamp(-1, 1)
    same, different = distance(x, x), distance(x, y)
    assert same.shape == (2,) and torch.all(same < 1e-6) and torch.all(different > same)
    x.requires_grad_(True)
    distance(x, y).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # differentiable: projection can use it


def test_checkpoint_without_generator_is_refused_by_the_api(tmp_path):
    path = tmp_path / "d.ckpt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(UserError, match="holds no generator"):
        load_generator(str(path))


def test_untrusted_latents_and_weights_files_are_never_executed(run, tmp_path):
    """A latents.pt or VGG16 file that would run a command when unpickled is refused (weights_only); a damaged
    one is named as such. One line, exit 2, the command never runs."""
    from gan_zoo.latent.distances import vgg16_state_dict
    from tests.test_safe_loading import _CreatesAFile

    ckpt, sets = run
    marker = tmp_path / "pwned"
    evil = tmp_path / "latents.pt"
    torch.save({"latents": torch.zeros(2, 16), "space": "z", "model": {}, "payload": _CreatesAFile(marker)}, evil)
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(b"\x80\x02garbage")
    result = run_cli([f"ckpt={ckpt}", "interpolate=true", f"latents={evil}", f"out={tmp_path / 'x.png'}"],
                     cwd=tmp_path, module="gan_zoo.commands.generate")
    _one_line_error(result, str(evil))
    result = run_cli([f"ckpt={ckpt}", f"start={damaged}", f"end={sets['bag']}", f"out={tmp_path / 'm'}"],
                     cwd=tmp_path, module="gan_zoo.commands.morph")
    _one_line_error(result, "truncated or corrupt")
    for path in (evil, damaged):
        with pytest.raises(UserError, match=re.escape(str(path))):
            vgg16_state_dict(str(path))
    assert not marker.exists() and not (tmp_path / "x.png").exists() and not (tmp_path / "m").exists()
