"""Files from others choose no code: for every place gan_zoo reads a file, a malicious pickle and a weights_only-clean
file whose stored config names a function outside the allowed set. Each: exit 2, one line naming the file and the
name, no marker file, the canary unchanged, nothing written. The commands run in this process through their console
entry (Hydra's command line, the one-line error, the exit code), as a user runs them."""
import copy
import hashlib
import os
import sys

import pytest
import torch
from hydra.core.global_hydra import GlobalHydra

import hubconf
from gan_zoo import trusted
from gan_zoo.commands import compare, evaluate, generate, morph, project, train
from gan_zoo.data.export_embedded import export_embedded
from gan_zoo.errors import UserError
from tests.helpers import SMALL_METRICS, TINY, run_cli


class _RunsACommand:
    """Unpickling this calls os.system: what a malicious file does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A real run (the command line, so its folder has .hydra/ for gan-zoo-compare), a canary file, images."""
    root = tmp_path_factory.mktemp("hostile")
    args = [a for a in TINY if a != "metrics=none"] + SMALL_METRICS + [f"paths.cache={root}/cache"]
    result = run_cli(args, cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    (ckpt,) = (root / "checkpoints").rglob("last.ckpt")
    (run_dir,) = (root / "experiments").rglob(".hydra")
    canary = root / "canary.txt"
    canary.write_text("the user's file\n")
    images = export_embedded(str(root / "images"), ["bag"], 2)["bag"]
    return {"root": root, "ckpt": ckpt, "run_dir": run_dir.parent, "canary": canary, "images": images,
            "checkpoint": torch.load(ckpt, weights_only=True)}


def _payloads(world, tmp_path):
    """name asked for -> the config that asks for it (each would write a marker or the canary if built)."""
    marker, canary = tmp_path / "pwned", world["canary"]
    evil = tmp_path / "second.pt"
    torch.save({"x": _RunsACommand(marker)}, evil)
    dcgan = "gan_zoo.networks.dcgan.Generator"
    return {
        "builtins.open": {"_target_": "builtins.open", "file": str(canary), "mode": "w"},
        "torch.load": {"_target_": "torch.load", "f": str(evil), "weights_only": False},
        "os.system": {"_target_": "os.system", "command": f"touch {marker}"},
        "subprocess.run": {"_target_": "subprocess.run", "args": ["touch", str(marker)]},
        "importlib.import_module": {"_target_": "importlib.import_module", "name": "antigravity"},
        "nested os.system": {"_target_": dcgan, "latent_dim": 16, "width": {"_target_": "os.system",
                                                                             "command": f"touch {marker}"}},
        "_partial_": {"_target_": dcgan, "_partial_": True, "latent_dim": 16, "width": 8},
        "_args_": {"_target_": dcgan, "_args_": [{"_target_": "os.system", "command": f"touch {marker}"}]},
    }


def _words(name: str, node: str) -> str:
    """What the refusal names: the function, or the special key, or (where the place takes no generator) the
    class it names."""
    if name in ("_partial_", "_args_") and node != "model.generator":
        return "'gan_zoo.networks.dcgan.Generator'"
    if name == "nested os.system":
        return "special key '_target_'" if node == "model.generator" else "'gan_zoo.networks.dcgan.Generator'"
    return {"_partial_": "'_partial_'", "_args_": "'_args_'"}.get(name, f"'{name}'")


def _hostile(world, tmp_path, node: str, config) -> str:
    """A copy of the real checkpoint whose stored config has `config` at `node` (e.g. model.generator)."""
    checkpoint = copy.deepcopy(world["checkpoint"])
    parent = checkpoint["gan_zoo_config"]
    *path, last = node.split(".")
    for key in path:
        parent = parent[key]
    parent[last] = config
    ckpt = tmp_path / "checkpoints" / "shared" / "last.ckpt"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, ckpt)
    return str(ckpt)


def _state(tmp_path, world):
    files = sorted(str(p) for p in tmp_path.rglob("*") if p.is_file())
    canary = world["canary"]
    return files, hashlib.sha256(canary.read_bytes()).hexdigest(), canary.stat().st_mtime_ns


def _command(main, args, monkeypatch, capsys) -> tuple[int, str]:
    GlobalHydra.instance().clear()
    monkeypatch.setattr(sys, "argv", ["gan-zoo", *args])
    with pytest.raises(SystemExit) as stop:
        main()
    return stop.value.code, capsys.readouterr().err


def _places(world, tmp_path):
    images, out = world["images"], tmp_path / "out"
    return {  # place -> (node of the stored config, command main, arguments ({ckpt} = the hostile file))
        "generate": ("model.generator", generate.main, ["ckpt={ckpt}", f"out={out}.png"]),
        "project": ("model.generator", project.main, ["ckpt={ckpt}", f"images={images}", f"out={out}", "projection.steps=1"]),
        "morph": ("model.generator", morph.main, ["ckpt={ckpt}", f"start={images}", f"end={images}", f"out={out}"]),
        "morph features": ("metrics.evaluate.evaluator.extractor", morph.main,
                           ["ckpt={ckpt}", f"start={images}", f"end={images}", f"out={out}", "projection.steps=1"]),
        "eval": ("model.generator", evaluate.main, ["ckpt={ckpt}", f"out={out}.json"]),
        "eval data": ("data", evaluate.main, ["ckpt={ckpt}", f"out={out}.json"]),
        "eval evaluator": ("metrics.evaluate.evaluator", evaluate.main, ["ckpt={ckpt}", f"out={out}.json"]),
        "eval extractor": ("metrics.evaluate.evaluator.extractor", evaluate.main, ["ckpt={ckpt}", f"out={out}.json"]),
        "resume": ("model.generator", train.main, [*TINY, f"paths.experiments={tmp_path}/experiments",
                                                    f"paths.checkpoints={tmp_path}/checkpoints", "ckpt={ckpt}"]),
    }


PLACES = ["generate", "project", "morph", "morph features", "eval", "eval data", "eval evaluator", "eval extractor",
          "resume"]
NAMES = ["builtins.open", "torch.load", "os.system", "subprocess.run", "importlib.import_module", "nested os.system",
         "_partial_", "_args_"]


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("name", NAMES)
def test_a_stored_config_naming_code_is_refused_by_every_command(world, tmp_path, monkeypatch, capsys, place, name):
    monkeypatch.chdir(tmp_path)
    node, main, args = _places(world, tmp_path)[place]
    config = _payloads(world, tmp_path)[name]
    if node == "data":  # a dataset factory of the data module
        config = {**world["checkpoint"]["gan_zoo_config"]["data"], "dataset": {**config, "_partial_": True}}
    ckpt = _hostile(world, tmp_path, node, config)
    before = _state(tmp_path, world)
    code, err = _command(main, [a.format(ckpt=ckpt) for a in args], monkeypatch, capsys)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("gan-zoo: error: ")
    if place == "resume":  # the networks of a resume come from today's config: the stored one differs from it
        assert "other networks" in err or "refusing" in err
    else:
        assert f"refusing '{ckpt}'" in err and _words(name, node) in err and "nothing was built or run" in err, err
    assert not (tmp_path / "pwned").exists()
    assert _state(tmp_path, world) == before  # no file written or changed, the canary untouched


@pytest.mark.parametrize("name", ["builtins.open", "os.system", "nested os.system", "_partial_"])
def test_hub_and_compare_refuse_a_stored_config_naming_code(world, tmp_path, monkeypatch, capsys, name):
    ckpt = _hostile(world, tmp_path, "model.generator", _payloads(world, tmp_path)[name])
    before = _state(tmp_path, world)
    with pytest.raises(UserError, match="refusing"):
        hubconf.generator(ckpt)
    # gan-zoo-compare on a sweep whose run's last.ckpt is the hostile file
    sweep = tmp_path / "experiments" / "sweep"
    run_dir = sweep / "0_seed=0"
    (run_dir / ".hydra").mkdir(parents=True)
    for f in (world["run_dir"] / ".hydra").iterdir():
        (run_dir / ".hydra" / f.name).write_bytes(f.read_bytes())
    (run_dir / "metrics.jsonl").write_bytes((world["run_dir"] / "metrics.jsonl").read_bytes())
    (tmp_path / "checkpoints" / "sweep" / "0_seed=0").mkdir(parents=True)
    os.replace(ckpt, tmp_path / "checkpoints" / "sweep" / "0_seed=0" / "last.ckpt")
    monkeypatch.chdir(tmp_path)
    before = _state(tmp_path, world)
    with pytest.raises(SystemExit) as stop:
        compare.main([str(sweep), f"out={tmp_path / 'cmp'}"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.strip().splitlines()) == 1 and "refusing" in err, err
    assert not (tmp_path / "cmp").exists() and not (tmp_path / "pwned").exists()
    assert _state(tmp_path, world) == before


@pytest.mark.parametrize("place", ["resume", "generate", "eval", "project", "morph", "compare", "pgan", "latents",
                                   "vgg", "inception", "torchscript", "cache"])
def test_a_malicious_pickle_is_refused_everywhere_a_file_is_read(world, tmp_path, monkeypatch, capsys, caplog, place):
    """Files whose unpickling would run a command: one line naming the file (exit 2 through the commands);
    a real-feature cache is recomputed with one warning instead."""
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "pwned"
    evil = tmp_path / "checkpoints" / "x" / "evil.pt"
    evil.parent.mkdir(parents=True)
    torch.save({"state_dict": {}, "gan_zoo_config": {}, "payload": _RunsACommand(marker)}, evil)
    images, out = world["images"], tmp_path / "out"
    commands = {
        "resume": (train.main, [*TINY, f"paths.experiments={tmp_path}/e", f"paths.checkpoints={tmp_path}/c",
                                f"ckpt={evil}"]),
        "generate": (generate.main, [f"ckpt={evil}", f"out={out}.png"]),
        "eval": (evaluate.main, [f"ckpt={evil}", f"out={out}.json"]),
        "project": (project.main, [f"ckpt={evil}", f"images={images}", f"out={out}"]),
        "morph": (morph.main, [f"ckpt={world['ckpt']}", f"start={evil}", f"end={images}", f"out={out}"]),
        "pgan": (generate.main, [f"pretrained=pytorch_gan_zoo:{evil}", f"out={out}.png"]),
        "latents": (generate.main, [f"ckpt={world['ckpt']}", "interpolate=true", f"latents={evil}", f"out={out}.png"]),
        "vgg": (project.main, [f"ckpt={world['ckpt']}", f"images={images}", f"out={out}", "distance=lpips",
                               f"distance.vgg16_weights={evil}"]),
        "torchscript": (project.main, [f"ckpt={world['ckpt']}", f"images={images}", f"out={out}",
                                       "distance=features", f"distance.network={evil}"]),
        "inception": (evaluate.main, [f"ckpt={world['ckpt']}", f"out={out}.json", "metrics=inception",
                                      f"metrics.evaluate.evaluator.extractor.weights_path={evil}"]),
    }
    before = _state(tmp_path, world)
    if place == "compare":
        sweep = tmp_path / "experiments" / "sweep" / "0"
        (sweep / ".hydra").mkdir(parents=True)
        for f in (world["run_dir"] / ".hydra").iterdir():
            (sweep / ".hydra" / f.name).write_bytes(f.read_bytes())
        (sweep / "metrics.jsonl").write_bytes((world["run_dir"] / "metrics.jsonl").read_bytes())
        (tmp_path / "checkpoints" / "sweep" / "0").mkdir(parents=True)
        os.replace(evil, tmp_path / "checkpoints" / "sweep" / "0" / "last.ckpt")
        before = _state(tmp_path, world)
        with pytest.raises(SystemExit) as stop:
            compare.main([str(sweep.parent), f"out={out}"])
        code, err = stop.value.code, capsys.readouterr().err
    elif place == "cache":
        from gan_zoo.metrics.evaluator import Evaluator
        from gan_zoo.metrics.extractors import PixelExtractor

        evaluator = Evaluator(PixelExtractor(), num_real=8, batch_size=8, cache_dir=str(tmp_path / "cache"))
        dataset = [(torch.rand(1, 4, 4) * 2 - 1, 0) for _ in range(8)]
        clean = evaluator.real_features(dataset, {"d": 1})  # writes the cache file
        (cached,) = (tmp_path / "cache").glob("*.pt")
        torch.save({"features": torch.zeros(8, 16), "payload": _RunsACommand(marker)}, cached)
        with caplog.at_level("WARNING"):
            assert torch.equal(evaluator.real_features(dataset, {"d": 1}), clean)
        assert [r.getMessage() for r in caplog.records if "ignoring the real-feature cache" in r.getMessage()]
        assert not marker.exists()
        return
    else:
        code, err = _command(*commands[place], monkeypatch, capsys)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "nothing in it was run" in err or "not a TorchScript file" in err, err
    assert not marker.exists()
    assert _state(tmp_path, world) == before


def test_the_allowed_table_names_real_classes_and_entry_points_add_a_users_own(tmp_path, monkeypatch):
    for place in trusted.PLACES:
        names = trusted.allowed(place)
        assert any(name.startswith("gan_zoo.") for name in names), place  # gan_zoo declares its own
        for name in names:
            assert callable(trusted._resolve(name)), name
    # a package of the user's, installed (a dist-info with an entry point), opts its generator in
    package = tmp_path / "my_nets"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from gan_zoo.networks.dcgan import Generator\n\nclass MyGenerator(Generator):\n    pass\n")
    info = tmp_path / "my_nets-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my_nets\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[gan_zoo.generators]\nmine = my_nets:MyGenerator\n")
    config = {"_target_": "my_nets.MyGenerator", "latent_dim": 8, "width": 4}
    with pytest.raises(UserError, match="'my_nets.MyGenerator'.*gan_zoo.generators"):
        trusted.build(config, "generator", "shared.ckpt", resolution=16, channels=1)
    monkeypatch.syspath_prepend(str(tmp_path))
    generator = trusted.build(config, "generator", "mine.ckpt", resolution=16, channels=1)
    assert type(generator).__name__ == "MyGenerator" and generator(torch.zeros(2, 8)).shape == (2, 1, 16, 16)
