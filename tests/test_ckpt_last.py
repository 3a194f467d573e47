"""ckpt=last means the same in every command that reads a checkpoint: the newest readable checkpoint of the runs
named name= (of every run without a name), said in one stderr line."""
import pytest

from tests.helpers import REPO, SMALL_METRICS, TINY, run_cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("last")
    args = [a for a in TINY if a != "metrics=none"] + SMALL_METRICS + [f"paths.cache={root}/cache"]
    result = run_cli(args, cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return root


def _taken(stderr: str, root) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("gan-zoo: ckpt=last: ")]
    assert len(lines) == 1, stderr[-3000:]
    path = lines[0].removeprefix("gan-zoo: ckpt=last: ")
    assert path.startswith("checkpoints/dcgan_embedded/") and (root / path).is_file()
    return path


@pytest.mark.slow
@pytest.mark.parametrize("module, args, written", [
    ("generate", ["num=4", "out=four.png"], "four.png"),
    ("evaluate", ["name=dcgan_embedded", "out=scores.json"], "scores.json"),
    ("export", ["out=shared"], "shared/generator.safetensors"),
    ("project", [f"images={REPO / 'tests' / 'data' / 'paintings'}", "projection.steps=1", "out=proj"],
     "proj/latents.pt"),
])
def test_every_command_takes_ckpt_last(trained, module, args, written):
    result = run_cli(["ckpt=last", *args, f"paths.cache={trained}/cache"] if module == "evaluate" else
                     ["ckpt=last", *args], cwd=trained, module=f"gan_zoo.commands.{module}")
    assert result.returncode == 0, result.stderr[-3000:]
    _taken(result.stderr, trained)
    assert (trained / written).is_file()


def test_ckpt_last_of_a_name_without_runs_is_one_line(trained):
    before = sorted(p for p in trained.rglob("*"))
    result = run_cli(["ckpt=last", "name=nobody", "out=none.png"], cwd=trained, module="gan_zoo.commands.generate")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gan-zoo: error: ckpt=last: no readable checkpoint under "
                                                   "'checkpoints/nobody'"), result.stderr
    assert sorted(p for p in trained.rglob("*")) == before
