"""Bad input on the command line: one line naming the setting and the fix, exit code 2, nothing written."""
import pytest

from tests.helpers import TINY, run_cli

BAD_OVERRIDES = [  # (overrides, what the one line must say)
    (["trainer.max_epochs=abc"], "trainer.max_epochs='abc' is not valid: give a whole number >= 1"),
    (["trainer.max_epochs=2.5"], "trainer.max_epochs=2.5 is not valid"),
    (["data.batch_size=0"], "data.batch_size=0 is not valid: give a whole number >= 1"),
    (["data.resolution=-3"], "data.resolution=-3 is not valid: give a whole number >= 4"),
    (["data.resolution=0"], "data.resolution=0 is not valid"),
    (["data.resolution=24"], "DCGAN needs a power-of-two resolution >= 8, got 24"),
    (["data.channels=2"], "data.channels=2 is not valid: give 1 (grayscale) or 3 (RGB)"),
    (["budget.max_time=banana"], "budget.max_time='banana' is not valid: give a duration such as 11h30m"),
    (["trainer.precision=bf17"], "trainer.precision='bf17' is not valid: give one of auto, 32-true"),
    (["trainer.limit_train_batches=0"], "trainer.limit_train_batches=0 is not valid"),
    (["model.module.g_optimizer.lr=-1"], "model.module.g_optimizer.lr=-1 is not valid: give a number > 0"),
    (["data=image_folder"], "data.dataset.root is required and was not given: add data.dataset.root=/path/to/images"),
    (["data=image_folder", "data.dataset.root=/etc/hostname"], "data.dataset.root='/etc/hostname' is a file, not a folder"),
    (["foo=1"], "unknown setting 'foo' (foo=1): check its spelling"),
    (["trainer.max_epoch=3"], "unknown setting 'trainer.max_epoch'"),
    (["model=nonexistent"], "no option 'nonexistent' in config group 'model' (model=nonexistent): choose one of dcgan, "
                            "pggan, stylegan"),
    (["trainer.max_epochs=["], "bad command-line override"),
    (["name=${nope}"], "Interpolation key 'nope' not found"),
    (["trainer=gpu"], "no CUDA GPU is visible"),
]


@pytest.mark.slow
@pytest.mark.parametrize("overrides, message", BAD_OVERRIDES, ids=[" ".join(o) for o, _ in BAD_OVERRIDES])
def test_bad_override_is_one_line_exit_2_and_writes_nothing(tmp_path, overrides, message):
    if overrides == ["trainer=gpu"]:
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU")
    args = [a for a in TINY if not a.startswith("data.resolution")] + overrides
    result = run_cli(args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.count("\n") == 1, result.stderr[-2000:]  # exactly one line
    assert result.stderr.startswith("gan-zoo: error: ") and message in result.stderr, result.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written == [], written


@pytest.mark.slow
def test_eval_without_a_checkpoint_is_one_line(tmp_path):
    result = run_cli([], cwd=tmp_path, module="gan_zoo.commands.evaluate")
    assert result.returncode == 2
    assert result.stderr == ("gan-zoo: error: ckpt is required and was not given: add ckpt=checkpoints/<name>/<run>/"
                             "last.ckpt to the command (or images=<folder> to score a folder of images)\n")


def test_bf16_advice_follows_the_cpus_instructions(tmp_path, monkeypatch):
    from gan_zoo.commands import config_checks
    from tests.helpers import compose_config

    cfg = compose_config(tmp_path, ["trainer.precision=bf16-mixed"])
    monkeypatch.setattr(config_checks, "cpu_has_bf16", lambda: False)
    assert "several times slower than 32-true" in config_checks.precision_advice(cfg)
    monkeypatch.setattr(config_checks, "cpu_has_bf16", lambda: True)
    assert config_checks.precision_advice(cfg) is None
    assert config_checks.precision_advice(compose_config(tmp_path, [])) is None  # fp32: nothing to say
