"""A plain (non-editable) install works from any folder: the wheel carries every config of conf/, and the
commands run from the installed copy, not from this repository."""
import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import REPO, TINY


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel built from this checkout, installed (without its dependencies, which this environment has)
    into a folder of its own."""
    root = tmp_path_factory.mktemp("wheel")
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation, "-w", str(root / "dist"),
                    str(REPO)], check=True, capture_output=True, timeout=300)
    (wheel,) = (root / "dist").glob("gan_zoo-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(root / "site"),
                    str(wheel)], check=True, capture_output=True, timeout=300)
    return wheel, root / "site"


def _run(site: Path, cwd: Path, module: str, args: list[str]) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(site), "PYTHONWARNINGS": "ignore", "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def test_every_package_folder_is_listed_for_the_wheel():
    """pyproject.toml lists the packages by name: a new folder of gan_zoo/ missing there is missing from the wheel."""
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "gan_zoo").rglob("__init__.py")}
    assert folders - listed == set()


@pytest.mark.slow
def test_the_wheel_holds_every_config(installed):
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (REPO / "conf").rglob("*.yaml"):
        assert f"gan_zoo/conf/{path.relative_to(REPO / 'conf')}" in names, path


@pytest.mark.slow
def test_train_generate_and_eval_from_an_unrelated_folder(installed, tmp_path):
    _, site = installed
    probe = subprocess.run([sys.executable, "-c", "import gan_zoo.commands.cli as c; print(c.__file__, c.CONFIG_DIR)"],
                           cwd=tmp_path, env={"PYTHONPATH": str(site)}, capture_output=True, text=True)
    # the installed copy, not this checkout
    assert probe.stdout.split() == [str(site / "gan_zoo" / "commands" / "cli.py"), str(site / "gan_zoo" / "conf")]

    small = ["metrics=classifier", "metrics.evaluate.evaluator.num_real=64", "metrics.evaluate.evaluator.num_fake=64",
             "metrics.evaluate.evaluator.kid_subset_size=32"]
    trained = _run(site, tmp_path, "gan_zoo.commands.train", [t for t in TINY if t != "metrics=none"] + small)
    assert trained.returncode == 0, trained.stderr[-2000:]
    (ckpt,) = (tmp_path / "checkpoints").rglob("last.ckpt")
    generated = _run(site, tmp_path, "gan_zoo.commands.generate", [f"ckpt={ckpt}", "num=4", "out=four.png"])
    assert generated.returncode == 0 and (tmp_path / "four.png").is_file(), generated.stderr[-2000:]
    evaluated = _run(site, tmp_path, "gan_zoo.commands.evaluate", [f"ckpt={ckpt}"])
    assert evaluated.returncode == 0 and '"fid_fmnist_cnn"' in evaluated.stdout, evaluated.stderr[-2000:]


@pytest.mark.slow
def test_a_users_own_experiment_file_with_config_dir(installed, tmp_path):
    _, site = installed
    mine = tmp_path / "my_configs" / "experiment"
    mine.mkdir(parents=True)
    (mine / "tiny_lsgan.yaml").write_text("# @package _global_\ndefaults:\n  - override /loss: lsgan\n"
                                         "name: my_tiny_lsgan\ntrainer:\n  max_epochs: 1\n")
    result = _run(site, tmp_path, "gan_zoo.commands.train",
                  ["--config-dir", str(tmp_path / "my_configs"), "experiment=tiny_lsgan", *TINY])
    assert result.returncode == 0, result.stderr[-2000:]
    (run_dir,) = (tmp_path / "experiments" / "my_tiny_lsgan").iterdir()
    assert "gan_zoo.losses.LeastSquares" in (run_dir / ".hydra" / "config.yaml").read_text()
