"""Values that used to pass the checks and then crash (often leaving a run folder), or that were accepted silently:
each is one line `gan-zoo: error: ...` naming the setting, exit 2, and nothing written. The commands run in this
process through their console entry (Hydra's command line, the one-line error, the exit code), as a user runs them."""
import os
import subprocess
import sys
from contextlib import contextmanager

import pytest
import torch
from hydra.core.global_hydra import GlobalHydra

from gan_zoo.commands import compare, evaluate, export, generate, morph, project, train
from gan_zoo.data.export_embedded import export_embedded
from tests.helpers import TINY, run_cli


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A finished tiny DCGAN run, a tiny StyleGAN-style generator exported (it takes psi=) and a few real images."""
    from gan_zoo.networks.stylegan import Generator
    from gan_zoo.runs.shared_model import describe, save

    root = tmp_path_factory.mktemp("values")
    result = run_cli([*TINY, "name=base", f"paths.cache={root}/cache"], cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    (ckpt,) = (root / "checkpoints").rglob("last.ckpt")
    (run_dir,) = (root / "experiments" / "base").iterdir()
    images = export_embedded(str(root / "images"), ["bag"], 2)["bag"]
    arguments = {"latent_dim": 8, "w_dim": 8, "mapping_layers": 1, "fmap_base": 64, "fmap_max": 8}
    stylegan = Generator(resolution=8, channels=1, **arguments).eval()
    save(stylegan, describe(stylegan, arguments, "made here", "ema", {}), root / "stylegan",
         stylegan(torch.randn(4, 8)).detach())
    return {"root": root, "ckpt": ckpt, "run_dir": run_dir, "images": images, "stylegan": root / "stylegan"}


def command(main, args, monkeypatch, capsys) -> tuple[int, str]:
    """(exit code, stderr) of a command's console entry run with `args`."""
    GlobalHydra.instance().clear()
    monkeypatch.setattr(sys, "argv", ["gan-zoo", *args])
    with pytest.raises(SystemExit) as stop:
        main()
    return stop.value.code, capsys.readouterr().err


def written(root, before: set) -> list[str]:
    """What appeared under `root` since `before`: files, and folders other than an empty experiments/ (the
    launch folder's parent, which the clean-up after a failed start keeps)."""
    paths = {p for p in root.rglob("*")} - before
    return sorted(str(p) for p in paths if p.is_file() or (p.name != "experiments" or any(p.iterdir())))


def assert_one_line(code: int, err: str, words: list[str]) -> None:
    assert code == 2, err[-3000:]
    assert len(err.strip().splitlines()) == 1 and err.startswith("gan-zoo: error: "), err[-3000:]
    for word in words:
        assert word in err, (word, err)


TRAIN = [a for a in TINY] + ["paths.experiments=experiments", "paths.checkpoints=checkpoints", "paths.cache=cache"]

EVAL = ["metrics=classifier", "metrics.evaluate.evaluator.num_real=64", "metrics.evaluate.evaluator.num_fake=64",
        "metrics.evaluate.evaluator.kid_subset_size=32", "paths.cache=cache"]  # (the world's run has no metrics)

# (command, arguments ({ckpt}, {images}, {stylegan}: the world's), words the one line must hold)
CASES = [
    ("train", ["trainer.precision=16-true"], ["trainer.precision='16-true'", "mixed"]),
    ("train", ["trainer.precision=bf16-true"], ["trainer.precision='bf16-true'", "mixed"]),
    ("train", ["trainer.precision=64"], ["trainer.precision=64", "mixed"]),
    ("train", ["trainer.precision=64-true"], ["trainer.precision='64-true'"]),
    ("train", ["trainer.precision=transformer-engine"], ["transformer-engine", "transformer_engine"]),
    ("train", ["trainer.accelerator=mps"], ["trainer.accelerator=mps", "trainer=cpu"]),
    ("train", ["trainer.accelerator=tpu"], ["trainer.accelerator=tpu", "torch_xla"]),
    ("train", ["trainer.devices='0'"], ["trainer.devices='0'"]),
    ("train", ["trainer.devices=-1"], ["trainer.devices=-1", "trainer.accelerator=cpu"]),
    ("train", ["trainer.devices=[0]"], ["trainer.devices", "trainer.accelerator=cpu"]),
    ("train", ["budget.max_kimg=inf"], ["budget.max_kimg=inf", "> 0"]),
    ("train", ["budget.max_kimg=nan"], ["budget.max_kimg=nan"]),
    ("train", ["budget.max_time=inf"], ["budget.max_time=inf", "11h30m"]),
    ("train", ["budget.max_time=99999999999d"], ["budget.max_time='99999999999d'", "3650d"]),
    ("train", ["budget.max_time=-5"], ["budget.max_time=-5", "above 0"]),
    ("train", ["budget.max_time=0"], ["budget.max_time=0"]),
    ("train", ["seed=4294967296"], ["seed=4294967296", "2^32 - 1"]),
    ("train", ["seed=-1"], ["seed=-1", "2^32 - 1"]),
    ("train", ["data=image_folder", "data.dataset.root={images}", "data.dataset.cache_mib=abc"],
     ["data.dataset.cache_mib='abc'", "MiB"]),
    ("train", ["data=image_folder", "data.dataset.root={images}", "data.dataset.cache_mib=-1"],
     ["data.dataset.cache_mib=-1", "MiB"]),
    ("generate", ["ckpt={ckpt}", "out=x.png", "num=0"], ["num=0", ">= 1"]),
    ("generate", ["ckpt={ckpt}", "out=x.png", "num=-3"], ["num=-3"]),
    ("generate", ["ckpt={ckpt}", "out=xdir", "num=0"], ["num=0"]),
    ("generate", ["ckpt={ckpt}", "out=x.png", "batch_size=0"], ["batch_size=0"]),
    ("generate", ["ckpt={ckpt}", "out=x.png", "nrow=0"], ["nrow=0"]),
    ("generate", ["ckpt={ckpt}", "out=x.png", "interpolate=true", "frames=0"], ["frames=0"]),
    ("generate", ["ckpt={ckpt}", "out=x.png", "interpolate=true", "frames=0"], ["frames=0"]),
    ("generate", ["ckpt={ckpt}", "out=x.png", "interpolate=true", "rows=0"], ["rows=0"]),
    ("generate", ["ckpt={ckpt}", "out=x.gif", "interpolate=true", "fps=0"], ["fps=0", "> 0"]),
    ("generate", ["shared={stylegan}", "out=x.png", "num=4", "psi=nan"], ["psi=nan", "finite"]),
    ("generate", ["shared={stylegan}", "out=x.png", "num=4", "psi=inf"], ["psi=inf", "finite"]),
    ("project", ["ckpt={ckpt}", "images={images}", "out=proj", "projection.lr=-1"], ["projection.lr=-1", "> 0"]),
    ("project", ["ckpt={ckpt}", "images={images}", "out=proj", "projection.lr=nan"], ["projection.lr=nan"]),
    ("project", ["ckpt={ckpt}", "images={images}", "out=proj", "projection.noise_weight=-1"],
     ["projection.noise_weight=-1"]),
    ("morph", ["ckpt={ckpt}", "start={images}", "end={images}", "out=m", "features=pixels", "projection.steps=2",
               "gif_frames=0"], ["gif_frames=0", ">= 1"]),
    ("morph", ["ckpt={ckpt}", "start={images}", "end={images}", "out=m", "features=pixels", "projection.lr=-1"],
     ["projection.lr=-1"]),
    ("eval", ["ckpt={ckpt}", "out=m.json", *EVAL, "memorization=true", "memorization_num=0"], ["memorization_num=0"]),
    ("eval", ["ckpt={ckpt}", "out=m.json", *EVAL, "memorization=true", "memorization_rows=0"], ["memorization_rows=0"]),
]
MAINS = {"train": train.main, "generate": generate.main, "project": project.main, "morph": morph.main,
         "eval": evaluate.main}


def _id(case) -> str:
    return " ".join([case[0], *(a for a in case[1] if "{" not in a and not a.startswith("out=") and a not in EVAL)])


@pytest.mark.parametrize("name, args, words", CASES, ids=[_id(c) for c in CASES])
def test_a_bad_value_is_one_line_and_writes_nothing(world, tmp_path, monkeypatch, capsys, name, args, words):
    if "transformer" in " ".join(args) and torch.cuda.is_available():
        pytest.skip("a CUDA machine: transformer-engine may be usable here")
    if "mps" in " ".join(args) and torch.backends.mps.is_available():
        pytest.skip("an Apple GPU is here")
    monkeypatch.chdir(tmp_path)
    given = [a.format(ckpt=world["ckpt"], images=world["images"], stylegan=world["stylegan"]) for a in args]
    before = set(tmp_path.rglob("*")) | set(world["root"].rglob("*"))
    code, err = command(MAINS[name], [*(TRAIN if name == "train" else []), *given], monkeypatch, capsys)
    assert_one_line(code, err, words)
    assert written(tmp_path, before) == [] and written(world["root"], before) == []


@pytest.mark.parametrize("args, words", [(["-m", "seed="], "seed=''"), (["name=a/b"], "name='a/b'")])
def test_refusals_whose_folders_the_launch_clean_up_removes_are_one_line(tmp_path, args, words):
    """`-m seed=` (Hydra's multirun) and a name with a '/': one line (the folders Hydra made before the refusal are
    the launch clean-up's to remove)."""
    result = run_cli([*args, *TINY], cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr
    assert result.stderr.startswith(f"gan-zoo: error: {words}")


def test_the_readme_cache_setting_works_without_a_plus(world, tmp_path, monkeypatch):
    """data.dataset.cache_mib= (as the README writes it) is a setting of data=image_folder, read by the folder."""
    from tests.helpers import compose_config

    cfg = compose_config(tmp_path, ["data=image_folder", f"data.dataset.root={world['images']}",
                                    "data.dataset.cache_mib=0", "data.batch_size=2"])
    from hydra.utils import instantiate

    data = instantiate(cfg.data)
    assert cfg.data.dataset.cache_mib == 0 and data.dataset.cache is None  # streamed, as asked


# --- read-only folders ------------------------------------------------------------------------------------------

@contextmanager
def read_only_folder(path):
    """A read-only tmpfs at `path` (root only; the test is skipped where mounting is not allowed): as root, a chmod
    would not stop a write."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here ({mounted.stderr.decode().strip()})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.mark.parametrize("name", ["generate png", "generate folder", "generate subfolder", "export", "compare",
                                  "train experiments"])
def test_a_read_only_output_folder_is_one_line(world, tmp_path, monkeypatch, capsys, name):
    monkeypatch.chdir(tmp_path)
    with read_only_folder(tmp_path / "ro") as ro:
        ckpt = world["ckpt"]
        calls = {
            "generate png": (generate.main, [f"ckpt={ckpt}", f"out={ro}/x.png", "num=4"]),
            "generate folder": (generate.main, [f"ckpt={ckpt}", f"out={ro}/x", "num=4"]),
            "generate subfolder": (generate.main, [f"ckpt={ckpt}", f"out={ro}/sub/x.png", "num=4"]),
            "export": (export.main, [f"ckpt={ckpt}", f"out={ro}/exported"]),
            "train experiments": (train.main, [*TINY, f"paths.experiments={ro}/experiments",
                                               f"paths.checkpoints={tmp_path}/checkpoints"]),
        }
        if name == "compare":
            with pytest.raises(SystemExit) as stop:
                compare.main([str(world["run_dir"]), f"out={ro}/cmp"])
            code, err = stop.value.code, capsys.readouterr().err
        else:
            code, err = command(*calls[name], monkeypatch, capsys)
        assert_one_line(code, err, [str(ro)])
        assert "read-only" in err.lower(), err
        assert os.listdir(ro) == []
