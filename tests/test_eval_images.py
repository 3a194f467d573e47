"""gan-zoo-eval scores a folder of images (another tool's samples) under the same protocol as a generator, and the
raw generator beside the EMA one: known answers from a committed checkpoint."""
import json
import shutil
import sys

import numpy as np
import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from PIL import Image

from gan_zoo import api
from gan_zoo.commands.evaluate import main
from gan_zoo.metrics.features import quantize
from tests.helpers import REPO


@pytest.fixture
def ckpt(tmp_path):
    path = tmp_path / "run" / "last.ckpt"  # trained with metrics=classifier, num_real 64, num_fake 64
    path.parent.mkdir()
    shutil.copy(REPO / "tests" / "data" / "dcgan_before_the_move.ckpt", path)
    return path


def _eval(monkeypatch, args, code=0) -> str:
    GlobalHydra.instance().clear()
    monkeypatch.setattr(sys, "argv", ["gan-zoo-eval", *args])
    try:
        main()
        exit_code = 0
    except SystemExit as stop:
        exit_code = stop.code or 0
    assert exit_code == code
    return exit_code


def _write_pngs(folder, images):
    folder.mkdir()
    for i, image in enumerate(quantize(images)):  # uint8, as the evaluator quantizes generated images
        Image.fromarray(image[0].numpy()).save(folder / f"{i:04d}.png")


def test_a_folder_of_a_generators_images_scores_as_the_generator_does(tmp_path, monkeypatch, ckpt):
    generator = api.load_generator(ckpt=str(ckpt)).generator
    with torch.no_grad():  # the evaluator's latents: seed + 1, all at once
        images = generator(torch.randn(64, generator.latent_dim, generator=torch.Generator().manual_seed(1)))
    _write_pngs(tmp_path / "samples", images)
    _eval(monkeypatch, [f"ckpt={ckpt}", f"paths.cache={tmp_path}/cache", f"out={tmp_path}/generator.json"])
    _eval(monkeypatch, [f"images={tmp_path}/samples", f"ckpt={ckpt}", f"paths.cache={tmp_path}/cache"])
    from_generator = json.loads((tmp_path / "generator.json").read_text())
    from_folder = json.loads((tmp_path / "samples.metrics.json").read_text())  # the default out, beside the folder
    assert from_folder["images"] == str(tmp_path / "samples") and from_folder["num_images"] == 64
    assert from_folder["protocol"] == from_generator["protocol"]
    assert from_folder["metrics"].keys() == from_generator["metrics"].keys()
    for key, value in from_generator["metrics"].items():  # same images, same order: every metric equal
        assert from_folder["metrics"][key] == pytest.approx(value, rel=1e-5, abs=1e-7), key


def test_a_folder_against_a_data_set_named_on_the_command_line(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    (tmp_path / "noise").mkdir()
    for i in range(32):
        Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(tmp_path / "noise" / f"{i}.png")
    small = ["metrics.evaluate.evaluator.num_real=64", "metrics.evaluate.evaluator.num_fake=32",
             "metrics.evaluate.evaluator.batch_size=32", "metrics.evaluate.evaluator.kid_subset_size=16",
             f"paths.cache={tmp_path}/cache", "data.resolution=16"]
    _eval(monkeypatch, [f"images={tmp_path}/noise", "data=embedded", "metrics=classifier", *small])
    noise = json.loads((tmp_path / "noise.metrics.json").read_text())
    from gan_zoo.data.export_embedded import export_embedded

    export_embedded(str(tmp_path / "real"), ["bag", "sneaker", "trouser", "dress"], 8)
    _eval(monkeypatch, [f"images={tmp_path}/real", "data=embedded", "metrics=classifier", *small])
    real = json.loads((tmp_path / "real.metrics.json").read_text())
    assert noise["protocol"]["num_fake"] == real["protocol"]["num_fake"] == 32
    assert real["metrics"]["fid_fmnist_cnn"] < noise["metrics"]["fid_fmnist_cnn"] / 3  # real images score as real


def test_the_raw_generator_is_scored_on_request(tmp_path, monkeypatch, ckpt):
    state = torch.load(ckpt, weights_only=True)  # 48 images in, its EMA still equals G: make the raw one differ
    for key, value in state["state_dict"].items():
        if key.startswith("generator.") and value.is_floating_point() and "running_var" not in key:
            value.add_(torch.randn_like(value) * 0.5)  # (a negative running variance: NaN images, refused)
    torch.save(state, ckpt)
    _eval(monkeypatch, [f"ckpt={ckpt}", f"paths.cache={tmp_path}/cache", f"out={tmp_path}/ema.json"])
    _eval(monkeypatch, [f"ckpt={ckpt}", "generator=raw", f"paths.cache={tmp_path}/cache", f"out={tmp_path}/raw.json"])
    ema, raw = (json.loads((tmp_path / f"{g}.json").read_text()) for g in ("ema", "raw"))
    assert (ema["generator"], raw["generator"]) == ("ema", "raw")
    assert abs(raw["metrics"]["fid_fmnist_cnn"] - ema["metrics"]["fid_fmnist_cnn"]) > 1  # the perturbed one was scored


@pytest.mark.parametrize("args,message", [
    (["images=nowhere"], "images= without ckpt= needs the real data and the protocol: add data=<dataset>"),
    (["generator=best"], "generator='best': choose ema (the averaged generator) or raw (the trained one)"),
    (["images=nowhere", "data=embedded", "metrics=classifier"], "image folder not found:"),
])
def test_bad_eval_inputs_are_one_line(tmp_path, monkeypatch, capsys, ckpt, args, message):
    args = [f"ckpt={ckpt}", *args] if args[0].startswith("generator") else args
    _eval(monkeypatch, [*args, f"paths.cache={tmp_path}/cache"], code=2)
    err = capsys.readouterr().err
    assert err.startswith("gan-zoo: error: ") and message in err and len(err.strip().splitlines()) == 1, err
