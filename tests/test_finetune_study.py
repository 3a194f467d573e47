"""The fine-tuning study (benchmarks/finetune_study.py): its commands compose into the settings the study needs, and
every step runs at tiny size into one gan-zoo-compare table (PGGAN's rows: they include every kind of step; DCGAN's
and StyleGAN's differ only in their settings, composed above)."""
import importlib.util
import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir

from gan_zoo.commands.cli import CONFIG_DIR
from gan_zoo.data.embedded import CLASSES
from tests.helpers import REPO

spec = importlib.util.spec_from_file_location("finetune_study", REPO / "benchmarks" / "finetune_study.py")
study = importlib.util.module_from_spec(spec)
spec.loader.exec_module(study)


def _compose(arguments: list[str]):
    overrides = [a for a in arguments if a != "-m" and not a.startswith("hydra.")]
    overrides = [o.replace("seed=0,1,2", "seed=0") for o in overrides]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=overrides)


def test_the_studys_commands_compose_into_its_settings(tmp_path):
    steps = study.commands(tmp_path)
    trains = [args for module, args in steps if module == "gan_zoo.commands.train"]
    # pretraining (StyleGAN's twice), five rows a model, PGGAN from a pytorch_GAN_zoo file, StyleGAN from a pickle
    assert len(trains) == 4 + 5 * 3 + 2
    for args in trains[:4]:  # pretraining: nine classes, bag never seen
        cfg = _compose(args)
        assert list(cfg.data.dataset.classes) == [c for c in CLASSES if c != "bag"] and cfg.budget.max_kimg == 45
    for args in trains[4:]:
        cfg = _compose(args)
        assert list(cfg.data.dataset.classes) == ["bag"] and cfg.data.dataset.images == "0:200"
        assert cfg.budget.max_kimg == 10 and cfg.metrics.evaluate.real_data.dataset.images == "200:500"
        assert ("init" in " ".join(args)) == (cfg.init is not None)
        assert (cfg.augment.get("_target_") is not None) == ("augment=ada" in args)
    assert [m for m, _ in steps[-2:]] == ["gan_zoo.commands.evaluate", "gan_zoo.commands.compare"]
    printed = subprocess.run([sys.executable, "benchmarks/finetune_study.py", "--out", str(tmp_path), "--print"],
                             cwd=REPO, capture_output=True, text=True, timeout=120)
    assert printed.returncode == 0 and printed.stdout.count("\n") == len(steps)
    assert not (tmp_path / "experiments").exists()  # --print runs nothing


@pytest.mark.slow
def test_every_step_of_the_study_runs_at_tiny_size(tmp_path):
    result = subprocess.run([sys.executable, "benchmarks/finetune_study.py", "--out", str(tmp_path / "study"), "--smoke",
                             "--models", "pggan", "--seeds", "0"], cwd=REPO, capture_output=True, text=True,
                            timeout=3000)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "init: took the generator, its EMA and the discriminator from the pytorch_GAN_zoo PGAN" in result.stdout
    table = (tmp_path / "study" / "comparison" / "comparison.md").read_text()
    assert "copying: flagged, C_T" in table
    assert "EmbeddedFashionMNIST(classes=['bag'], images=200:500), not the training data" in table
    rows = [line for line in table.splitlines() if line.startswith("| ") and "variant" not in line]
    assert len(rows) == 6 and all(" | 1 | " in row for row in rows)  # every row, its one seed
    assert all("/1, C_T" in row for row in rows)  # each with its copying check
