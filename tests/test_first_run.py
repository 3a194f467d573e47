"""What a newcomer meets in the first hour: the README's `~` paths and a folder given without data=image_folder
answered with the fix, a comparison preset without metrics, the thread setting, wandb as an optional extra."""
import pytest
import torch

from gan_zoo.commands.train import train
from tests.helpers import TINY, compose_config, run_cli


def _one_line_and_nothing_written(result, tmp_path) -> str:
    assert result.returncode == 2, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gan-zoo: error: "), result.stderr
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and "no_wandb" not in p.parts]  # nothing written
    return lines[0]


def test_a_tilde_after_key_says_to_write_home_or_quote(tmp_path):
    line = _one_line_and_nothing_written(run_cli(["data=image_folder", "data.dataset.root=~/paintings"], cwd=tmp_path),
                                         tmp_path)
    assert "data.dataset.root=$HOME/paintings" in line and "\"data.dataset.root='~/paintings'\"" in line


@pytest.mark.parametrize("override", ["data.dataset.root=/some/folder", "+data.dataset.root=/some/folder"])
def test_a_folder_without_data_image_folder_says_to_add_it(tmp_path, override):
    line = _one_line_and_nothing_written(run_cli([override], cwd=tmp_path), tmp_path)
    assert "add data=image_folder" in line and "add a new key with +" not in line


@pytest.mark.slow
def test_a_comparison_preset_runs_without_metrics(tmp_path):
    small = ["model.generator.width=8", "model.generator.latent_dim=16", "model.discriminator.width=8",
             "trainer.precision=32-true", "callbacks.progress_bar.refresh_rate=0", "budget.max_kimg=0.05"]
    trainer = train(compose_config(tmp_path, ["experiment=compare/dcgan", "metrics=none", *small]))
    assert int(trainer.lightning_module.images_seen) >= 50
    assert not list(tmp_path.rglob("metrics.jsonl"))  # nothing evaluated


@pytest.mark.slow
def test_threads_set_the_process_threads_and_a_bad_value_is_one_line(tmp_path):
    before = torch.get_num_threads()
    try:
        train(compose_config(tmp_path, [*TINY, "trainer.threads=1"]))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    bad = tmp_path / "bad"
    bad.mkdir()
    line = _one_line_and_nothing_written(run_cli(["trainer.threads=0"], cwd=bad), bad)
    assert "trainer.threads=0 is not valid" in line


def test_logger_wandb_without_wandb_names_the_install(tmp_path):
    stub = tmp_path / "no_wandb" / "wandb"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('No module named wandb')\n")  # as if not installed
    work = tmp_path / "work"
    work.mkdir()
    result = run_cli([*TINY, "logger=wandb"], cwd=work, env={"PYTHONPATH": str(stub.parent)})
    line = _one_line_and_nothing_written(result, work)
    assert 'pip install -e ".[wandb]"' in line
