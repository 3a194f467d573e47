"""Files from others that ran no code but were answered by a traceback, an allocation or silence: exported model
folders whose config.json asks for what the generator class does not take (or for gigabytes), links out of the
folder, NaN weights; checkpoints without their progress; stored datasets and evaluators with arguments their class
does not take; a dangling checkpoint link; metrics.jsonl records without a protocol; YAML python tags; Hydra-refused
callbacks; an image that is 1 x 20,000,000 pixels; latents files that lie. Each: one line naming the file and what
is wrong (exit 2 through the commands, a UserError through the API and the hub), nothing written."""
import json
import os
import shutil

import pytest
import torch
from PIL import Image

import hubconf
from gan_zoo import api
from gan_zoo.commands import compare, evaluate, export, generate, morph, project, train
from gan_zoo.data.export_embedded import export_embedded
from gan_zoo.data.image_folder import ImageFolder
from gan_zoo.errors import UserError
from gan_zoo.latent.spaces import identity, load_latents, save_latents
from gan_zoo.runs.run import records
from gan_zoo.runs.shared_model import checkpoint_facts, describe, save
from tests.helpers import TINY, run_cli
from tests.test_hostile_values import assert_one_line, command, written


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A finished tiny DCGAN run, its generator exported, a few real images and a 1 x 20,000,000-pixel PNG."""
    root = tmp_path_factory.mktemp("foreign")
    result = run_cli([*TINY, "name=base", f"paths.cache={root}/cache"], cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    (ckpt,) = (root / "checkpoints").rglob("last.ckpt")
    (run_dir,) = (root / "experiments" / "base").iterdir()
    loaded = api.load_generator(ckpt=str(ckpt))
    arguments, facts = checkpoint_facts(loaded.checkpoint, loaded.source)
    save(loaded.generator, describe(loaded.generator, arguments, loaded.source, "ema", facts), root / "shared",
         api.generate_images(loaded.generator, 4))
    images = export_embedded(str(root / "images"), ["bag"], 2)["bag"]
    strip = root / "strip" / "strip.png"
    strip.parent.mkdir()
    Image.new("L", (20_000_000, 1), 128).save(strip)  # under Pillow's pixel limit; 16 x 320,000,000 once resized
    return {"root": root, "ckpt": ckpt, "run_dir": run_dir, "shared": root / "shared", "images": images,
            "strip": strip, "checkpoint": torch.load(ckpt, weights_only=True), "generator": loaded.generator}


# --- exported model folders ----------------------------------------------------------------------------------------

def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


SHARED = {  # case -> (a change of config.json (or of the folder), words of the refusal)
    "unknown argument": (lambda c, d: c["arguments"].update(depth=3), ["'depth'", "does not take"]),
    "negative latent_dim": (lambda c, d: c["arguments"].update(latent_dim=-5), ["does not build", "negative"]),
    "zero latent_dim": (lambda c, d: c["arguments"].update(latent_dim=0), ["latent_dim=0"]),
    "float width": (lambda c, d: c["arguments"].update(width=8.5), ["width=8.5", "whole number"]),
    "NaN width": (lambda c, d: c["arguments"].update(width=float("nan")), ["width=nan"]),
    "infinite width": (lambda c, d: c["arguments"].update(width=float("inf")), ["width=inf"]),
    "width 10^6": (lambda c, d: c["arguments"].update(width=10**6), ["weights", "nothing was allocated"]),
    "width 10^9": (lambda c, d: c["arguments"].update(width=10**9), ["does not build"]),
    "resolution 2^30": (lambda c, d: c.update(resolution=2**30), ["resolution 1073741824"]),
    "channels 10^6": (lambda c, d: c.update(channels=10**6), ["channels=1000000"]),
    "a list 100,000 deep": (lambda c, d: None, ["not a readable shared-model config"]),
    "a list 500 deep": (lambda c, d: c["arguments"].update(width=json.loads(_deep(500))), ["width=[[["]),
    "weights linked out": (lambda c, d: None, ["link", "outside the folder"]),
    "NaN weights": (lambda c, d: None, ["non-finite weights"]),
    "Inf weights": (lambda c, d: None, ["non-finite weights"]),
}


def _shared_variant(world, tmp_path, case: str):
    folder = tmp_path / "shared"
    shutil.copytree(world["shared"], folder)
    config = json.loads((folder / "config.json").read_text())
    SHARED[case][0](config, folder)
    (folder / "config.json").write_text(json.dumps(config))
    if case == "a list 100,000 deep":  # (json.dumps itself cannot write it)
        (folder / "config.json").write_text(json.dumps(config)[:-1] + f', "deep": {_deep(100_000)}}}')
    if case == "weights linked out":
        elsewhere = tmp_path / "elsewhere.safetensors"
        os.replace(folder / "generator.safetensors", elsewhere)
        os.symlink(elsewhere, folder / "generator.safetensors")
    if case == "zero latent_dim":  # weights that fit it: what a forger writes
        from safetensors.torch import save_file

        from gan_zoo.networks.dcgan import Generator

        save_file(Generator(16, 1, latent_dim=0, width=8).state_dict(), folder / "generator.safetensors")
    if case in ("NaN weights", "Inf weights"):
        from safetensors.torch import load_file, save_file

        state = load_file(folder / "generator.safetensors")
        state = {k: torch.full_like(v, float("nan" if case == "NaN weights" else "inf")) if v.is_floating_point()
                 else v for k, v in state.items()}
        save_file(state, folder / "generator.safetensors", metadata={"format": "gan_zoo.shared_model/1"})
    return folder


@pytest.mark.parametrize("case", list(SHARED))
def test_a_hostile_exported_folder_is_one_line_in_generate_the_api_and_the_hub(world, tmp_path, monkeypatch, capsys,
                                                                               case):
    folder = _shared_variant(world, tmp_path, case)
    monkeypatch.chdir(tmp_path)
    before = set(tmp_path.rglob("*"))
    code, err = command(generate.main, [f"shared={folder}", "out=x.png", "num=4"], monkeypatch, capsys)
    assert_one_line(code, err, [str(folder), *SHARED[case][1]])
    for load in (lambda: api.load_generator(shared=str(folder)), lambda: hubconf.generator(shared=str(folder))):
        with pytest.raises(UserError) as error:
            load()
        assert "\n" not in str(error.value) and all(w in str(error.value) for w in SHARED[case][1])
    assert written(tmp_path, before) == []


def test_the_exported_folder_itself_still_loads(world):
    generator = api.load_generator(shared=str(world["shared"])).generator
    assert torch.equal(generator(torch.ones(2, 16)), world["generator"](torch.ones(2, 16)))


# --- checkpoints and their stored configs ---------------------------------------------------------------------------

def _checkpoint(world, tmp_path, change) -> str:
    """A copy of the run's checkpoint, changed, in a folder of its own."""
    import copy

    checkpoint = copy.deepcopy(world["checkpoint"])
    change(checkpoint)
    path = tmp_path / "checkpoints" / "other" / "run" / "last.ckpt"
    path.parent.mkdir(parents=True)
    torch.save(checkpoint, path)
    return str(path)


def _evaluator(**extra) -> dict:
    return {"_target_": "gan_zoo.metrics.evaluator.Evaluator", "extractor": {
        "_target_": "gan_zoo.metrics.extractors.PixelExtractor"}, "num_real": 8, "num_fake": 8, "batch_size": 8,
        "kid_subset_size": 4, **extra}


def _set(path: str, value):
    def change(checkpoint):
        *keys, last = path.split(".")
        node = checkpoint
        for key in keys:
            node = node[key]
        node[last] = value
    return change


def _without(path: str):
    def change(checkpoint):
        *keys, last = path.split(".")
        node = checkpoint
        for key in keys:
            node = node[key]
        del node[last]
    return change


CHECKPOINTS = [  # (case, change, command, arguments ({ckpt}), words)
    ("no loops: eval", _without("loops"), "eval", ["out=m.json", "metrics=classifier"], ["training progress"]),
    ("no loops: export", _without("loops"), "export", ["out=exported"], ["training progress"]),
    ("no loops: resume", _without("loops"), "train", TINY, ["training progress"]),
    ("float images_seen: eval", _set("state_dict.images_seen", torch.tensor(3.5)), "eval",
     ["out=m.json", "metrics=classifier"], ["images_seen", "torch.float32"]),
    ("string images_seen: export", _set("state_dict.images_seen", "many"), "export", ["out=exported"],
     ["images_seen", "a str"]),
    ("two images_seen: resume", _set("state_dict.images_seen", torch.tensor([1, 2])), "train", TINY,
     ["images_seen", "shape [2]"]),
    ("evaluator argument", _set("gan_zoo_config.metrics", {"evaluate": {"evaluator": _evaluator(bogus=1)}}), "eval",
     ["out=m.json"], ["'bogus'", "gan_zoo.metrics.evaluator.Evaluator"]),
    ("evaluator type", _set("gan_zoo_config.metrics", {"evaluate": {"evaluator": _evaluator(num_real="all")}}), "eval",
     ["out=m.json"], ["num_real='all'", "whole number"]),
    ("dataset argument", _set("gan_zoo_config.data.dataset.bogus", 1), "eval", ["out=m.json", "metrics=classifier"],
     ["'bogus'", "EmbeddedFashionMNIST"]),
    ("data module argument", _set("gan_zoo_config.data.bogus", 1), "eval", ["out=m.json", "metrics=classifier"],
     ["'bogus'", "GANDataModule"]),
    ("generator of 10^6 channels", _set("gan_zoo_config.model.generator.width", 10**6), "generate", ["out=x.png"],
     ["weights", "nothing was allocated"]),
]
MAINS = {"eval": evaluate.main, "export": export.main, "train": train.main, "generate": generate.main}


@pytest.mark.parametrize("case, change, name, args, words", CHECKPOINTS, ids=[c[0] for c in CHECKPOINTS])
def test_a_checkpoint_that_does_not_match_is_one_line(world, tmp_path, monkeypatch, capsys, case, change, name, args,
                                                      words):
    ckpt = _checkpoint(world, tmp_path, change)
    monkeypatch.chdir(tmp_path)
    paths = [f"paths.experiments={tmp_path}/experiments", f"paths.checkpoints={tmp_path}/checkpoints",
             f"paths.cache={tmp_path}/cache"]
    before = set(tmp_path.rglob("*"))
    code, err = command(MAINS[name], [f"ckpt={ckpt}", *args, *(paths if name in ("train", "eval") else [])],
                        monkeypatch, capsys)
    assert_one_line(code, err, [ckpt, *words])
    assert written(tmp_path, before) == []


def test_a_dangling_checkpoint_link_is_skipped(world, tmp_path, monkeypatch, capsys):
    """Beside a damaged checkpoint (its message names the newest readable one) and under ckpt=last."""
    folder = tmp_path / "checkpoints" / "base" / "run"
    folder.mkdir(parents=True)
    shutil.copy(world["ckpt"], folder / "epoch0000.ckpt")
    (folder / "last.ckpt").write_bytes(world["ckpt"].read_bytes()[:200])  # cut off
    os.symlink(tmp_path / "gone.ckpt", folder / "dangling.ckpt")
    monkeypatch.chdir(tmp_path)
    code, err = command(generate.main, [f"ckpt={folder / 'last.ckpt'}", "out=x.png"], monkeypatch, capsys)
    assert_one_line(code, err, ["truncated or corrupt", str(folder / "epoch0000.ckpt")])
    before = set(tmp_path.rglob("*"))  # ckpt=last: the finished run (dangling link and all) is found and told so
    code, err = command(train.main, [*TINY, "name=base", "ckpt=last", f"paths.experiments={tmp_path}/experiments",
                                     f"paths.checkpoints={tmp_path}/checkpoints"], monkeypatch, capsys)
    assert_one_line(code, err, ["is finished", "epoch0000.ckpt"])
    assert written(tmp_path, before) == []


# --- metrics.jsonl, config files, Hydra callbacks ---------------------------------------------------------------------

@pytest.mark.parametrize("field", ["protocol", "epoch", "kimg"])
def test_a_metrics_record_without_a_field_is_skipped_with_a_warning(world, tmp_path, caplog, field):
    """The run's own records come back; one without `field` (a file from elsewhere) is skipped and counted, and
    compare, the plots and the run summary read on."""
    run = tmp_path / "experiments" / "sweep" / "0"
    shutil.copytree(world["run_dir"] / ".hydra", run / ".hydra")
    good = {"epoch": 0, "kimg": 0.048, "metrics": {"fid": 300.0, "kid": 0.3}, "protocol": {"extractor": "pixels"}}
    bad = {k: v for k, v in good.items() if k != field}
    (run / "metrics.jsonl").write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with caplog.at_level("WARNING"):
        assert records(run) == [good]
    assert "skipped 1 unreadable line" in caplog.text
    (tmp_path / "checkpoints" / "sweep" / "0").mkdir(parents=True)
    shutil.copy(world["ckpt"], tmp_path / "checkpoints" / "sweep" / "0" / "last.ckpt")
    out = compare.compare([str(run.parent)], str(tmp_path / "cmp"), samples=False)
    assert "300.00" in (out / "comparison.md").read_text()


def test_a_yaml_python_tag_in_a_config_dir_is_one_line_and_runs_nothing(tmp_path, monkeypatch, capsys):
    configs = tmp_path / "configs" / "experiment"
    configs.mkdir(parents=True)
    (configs / "evil.yaml").write_text(f'# @package _global_\nseed: !!python/object/apply:os.system ["touch '
                                       f'{tmp_path}/pwned"]\n')
    monkeypatch.chdir(tmp_path)
    before = set(tmp_path.rglob("*"))
    code, err = command(train.main, ["--config-dir", str(tmp_path / "configs"), "+experiment=evil", *TINY],
                        monkeypatch, capsys)
    assert_one_line(code, err, [str(configs / "evil.yaml"), "line 2", "python/object/apply:os.system", "plain"])
    assert not (tmp_path / "pwned").exists() and written(tmp_path, before) == []


@pytest.mark.parametrize("target", ["os.system", "subprocess.Popen", "builtins.eval"])
def test_a_hydra_callback_hydra_refuses_is_one_line(tmp_path, monkeypatch, capsys, target):
    monkeypatch.chdir(tmp_path)
    code, err = command(train.main, [f"+hydra.callbacks.x._target_={target}", *TINY], monkeypatch, capsys)
    assert_one_line(code, err, ["hydra.callbacks.x", f"'{target}'"])
    assert list(tmp_path.iterdir()) == []


# --- an image of 1 x 20,000,000 pixels --------------------------------------------------------------------------

@pytest.mark.parametrize("cache_mib", [4096, 0])
def test_an_image_too_large_once_resized_is_skipped_and_counted(world, tmp_path, caplog, cache_mib):
    folder = tmp_path / "images"
    shutil.copytree(world["images"], folder)
    shutil.copy(world["strip"], folder)
    with caplog.at_level("WARNING"):
        dataset = ImageFolder(str(folder), resolution=16, channels=1, cache_mib=cache_mib)
    assert len(dataset) == 2 and "strip.png" not in {f.name for f in dataset.files}
    assert "skipping 1 of 3 files" in caplog.text and "20000000 x 1" in caplog.text
    assert dataset[1][0].shape == (1, 16, 16)
    for image in world["images"].iterdir():  # only the strip left: the one line that exists
        (folder / image.name).unlink()
    with pytest.raises(UserError, match="none of the 1 image files"):
        ImageFolder(str(folder), resolution=16, channels=1, cache_mib=cache_mib)


def test_an_image_too_large_once_resized_is_one_line_in_the_commands(world, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, err = command(project.main, [f"ckpt={world['ckpt']}", f"images={world['strip']}", "out=proj"], monkeypatch,
                        capsys)
    assert_one_line(code, err, [str(world["strip"]), "20000000 x 1"])
    assert list(tmp_path.iterdir()) == []
    # a folder of only such images: the count of skipped files, then the one line that exists (a process of its own:
    # the warning goes to stderr there)
    result = run_cli([f"images={world['strip'].parent}", "data=embedded", "metrics=classifier", "out=m.json",
                      f"paths.cache={tmp_path}/cache"], cwd=tmp_path, module="gan_zoo.commands.evaluate")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert len(lines) == 2 and "skipping 1 of 1 files" in lines[0] and "20000000 x 1" in lines[0], lines
    assert lines[1].startswith("gan-zoo: error: none of the 1 image files"), lines
    assert list(tmp_path.iterdir()) == []


# --- latents files ---------------------------------------------------------------------------------------------------

def _latents(world, tmp_path, latents, files=None) -> str:
    path = tmp_path / "latents.pt"
    save_latents(path, latents, "z", world["generator"], "here", files)
    return str(path)


@pytest.mark.parametrize("case", ["NaN", "Inf", "too wide", "too narrow", "w_plus shape in z"])
def test_latents_that_are_not_finite_or_of_another_width_are_one_line(world, tmp_path, monkeypatch, capsys, case):
    latents = {"NaN": torch.full((3, 16), float("nan")), "Inf": torch.full((3, 16), float("inf")),
               "too wide": torch.randn(3, 17), "too narrow": torch.randn(3, 4),
               "w_plus shape in z": torch.randn(3, 2, 16)}[case]
    path = _latents(world, tmp_path, latents)
    words = ["NaN or infinite"] if case in ("NaN", "Inf") else ["shape", "[16]"]
    with pytest.raises(UserError) as error:
        load_latents(path, world["generator"])
    assert all(w in str(error.value) for w in words)
    monkeypatch.chdir(tmp_path)
    before = set(tmp_path.rglob("*"))
    code, err = command(generate.main, [f"ckpt={world['ckpt']}", "interpolate=true", f"latents={path}", "out=x.png"],
                        monkeypatch, capsys)
    assert_one_line(code, err, [path, *words])
    assert written(tmp_path, before) == []


@pytest.mark.parametrize("case", ["a folder", "fewer files", "more files", "a missing file"])
def test_the_files_a_latents_file_lists_are_one_image_file_per_latent(world, tmp_path, monkeypatch, capsys, case):
    """A latents.pt naming /usr/share made morph read every image there: only one listed image file per latent is
    read."""
    images = sorted(str(p) for p in world["images"].iterdir())
    files = {"a folder": ["/usr/share", "/usr/share"], "fewer files": images[:1], "more files": [*images, images[0]],
             "a missing file": [images[0], str(tmp_path / "gone.png")]}[case]
    latents = torch.randn(2, 16) * 4
    path = tmp_path / "latents.pt"
    torch.save({"latents": latents, "space": "z", "files": files, "model": {
        "identity": identity(world["generator"]), "class": "Generator", "source": "here"}, "distances": None,
        "noise": None}, path)
    monkeypatch.chdir(tmp_path)
    before = set(tmp_path.rglob("*"))
    code, err = command(morph.main, [f"ckpt={world['ckpt']}", f"start={path}", f"end={path}", "out=m",
                                     "features=pixels"], monkeypatch, capsys)
    words = {"a folder": ["/usr/share", "not an image file"], "a missing file": ["gone.png", "not an image file"]}
    assert_one_line(code, err, [str(path), *words.get(case, ["not a gan_zoo latents file"])])
    assert written(tmp_path, before) == []
