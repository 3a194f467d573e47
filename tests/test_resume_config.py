"""A resume takes the run's stored config: what shaped the run (seed, model, loss, augment, data) and its budget
come from the checkpoint unless the command line gives them; a given change is refused in one line, or accepted
with resume_changes=accept and recorded; a value taken from the file never chooses code."""
import shutil

import pytest
import torch

from gan_zoo.commands.train import train
from gan_zoo.errors import UserError
from gan_zoo.losses import Hinge, LeastSquares
from tests.helpers import TINY, compose_config, run_cli


def _files(root):
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def hinge_run(tmp_path_factory):
    """A finished tiny run trained with loss=hinge (the default DCGAN loss is non-saturating)."""
    root = tmp_path_factory.mktemp("hinge")
    train(compose_config(root, [*TINY, "loss=hinge", "seed=3"]))
    (ckpt,) = (root / "checkpoints").rglob("last.ckpt")
    return root, ckpt


@pytest.mark.slow
def test_a_resume_without_repeating_the_loss_trains_on_with_the_runs_own(hinge_run, tmp_path):
    root, ckpt = hinge_run
    work = tmp_path / "copy"
    shutil.copytree(root, work)  # the module's run stays as it was for the other tests (mtimes too: ckpt=last)
    trainer = train(compose_config(work, [*TINY, "trainer.max_epochs=2", "ckpt=last"]))  # no loss=, no seed=
    assert type(trainer.lightning_module.objective) is Hinge
    stored = torch.load(next(work.rglob("last.ckpt")), weights_only=True)["gan_zoo_config"]
    assert stored["loss"]["objective"]["_target_"] == "gan_zoo.losses.Hinge"
    assert stored["seed"] == 3 and stored["data"]["seed"] == 3  # the data order of seed=3 goes on
    assert stored["changed_on_resume"] == []


@pytest.mark.slow
def test_a_resume_that_changes_the_loss_is_refused_in_one_line_and_writes_nothing(hinge_run):
    root, ckpt = hinge_run
    before = _files(root)
    result = run_cli([*TINY, f"paths.experiments={root}/experiments", f"paths.checkpoints={root}/checkpoints",
                      f"paths.cache={root}/cache", "loss=lsgan", "trainer.max_epochs=2", f"ckpt={ckpt}"], cwd=root)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gan-zoo: error: "), result.stderr
    assert "loss.objective._target_: gan_zoo.losses.Hinge -> gan_zoo.losses.LeastSquares" in lines[0]
    assert "resume_changes=accept" in lines[0]
    assert _files(root) == before


@pytest.mark.slow
def test_an_accepted_change_trains_on_with_it_and_is_recorded(hinge_run, tmp_path):
    root, _ = hinge_run
    work = tmp_path / "copy"
    shutil.copytree(root, work)
    trainer = train(compose_config(work, [*TINY, "loss=lsgan", "resume_changes=accept", "trainer.max_epochs=2",
                                          "ckpt=last"]))
    assert type(trainer.lightning_module.objective) is LeastSquares
    stored = torch.load(next(work.rglob("last.ckpt")), weights_only=True)["gan_zoo_config"]
    assert stored["resume_changes"] == "accept" and stored["loss"]["objective"]["_target_"] == "gan_zoo.losses.LeastSquares"
    assert stored["changed_on_resume"] == [
        "loss.objective._target_: gan_zoo.losses.Hinge -> gan_zoo.losses.LeastSquares (at 0.048 kimg)"]


@pytest.mark.slow
def test_the_budget_comes_from_the_checkpoint_and_a_given_one_raises_it(hinge_run, tmp_path):
    root, _ = hinge_run
    work = tmp_path / "copy"
    shutil.copytree(root, work)
    longer = [a for a in TINY if not a.startswith("trainer.max_epochs")]
    with pytest.raises(UserError, match=r"trained 1 epochs and trainer.max_epochs=1; raise it to continue: "
                                        r"gan-zoo-train .*ckpt=.*last.ckpt trainer.max_epochs=2$"):
        train(compose_config(work, [*longer, "ckpt=last"]))  # the stored 1, not the default 10


@pytest.mark.slow
@pytest.mark.parametrize("key, value, words", [
    ("loss.objective._target_", "os.system", "the class 'os.system', which none of gan_zoo's configs names"),
    ("model.module.g_optimizer.lr", "${oc.env:HOME}", "the interpolation"),
    ("loss.objective._args_", ["rm"], "the special key '_args_'"),
])
def test_a_stored_value_that_would_choose_code_is_refused(hinge_run, tmp_path, key, value, words):
    root, ckpt = hinge_run
    checkpoint = torch.load(ckpt, weights_only=True)
    *parents, leaf = key.split(".")
    node = checkpoint["gan_zoo_config"]
    for part in parents:
        node = node[part]
    node[leaf] = value
    hostile = tmp_path / "checkpoints" / "elsewhere" / "last.ckpt"
    hostile.parent.mkdir(parents=True)
    torch.save(checkpoint, hostile)
    with pytest.raises(UserError, match="refusing to resume from") as refused:
        train(compose_config(tmp_path, [*TINY, "trainer.max_epochs=2", f"ckpt={hostile}"]))
    assert words in str(refused.value) and key.rpartition(".")[0] in str(refused.value)
    assert not any(tmp_path.rglob("metrics.csv"))


def test_the_plan_takes_what_was_not_given_and_keeps_arguments_added_since():
    from gan_zoo.runs.stored_config import ABSENT, plan

    stored = {"seed": 1, "model": {"module": {"_target_": "M", "lr": 1}}, "loss": {"objective": {"_target_": "H"},
              "regularizers": {"gp": {"_target_": "GP"}}}, "data": {"batch_size": 8, "num_workers": 4}}
    today = {"seed": 0, "model": {"module": {"_target_": "M", "lr": 1, "new_argument": 2}},
             "loss": {"objective": {"_target_": "N"}, "regularizers": {}}, "data": {"batch_size": 8, "num_workers": 0}}
    changes, taken = plan(stored, today, given={"seed"})
    assert changes == [("seed", 1, 0)]
    assert ("loss.objective._target_", "H", "N") in taken and ("loss.regularizers", {"gp": {"_target_": "GP"}}, {}) in taken
    assert not any(key.startswith(("model.module.new_argument", "data.num_workers")) for key, _, _ in taken)
    _, taken = plan(today, stored, given=set())  # a setting the stored run has none of, in no class of both: dropped
    assert ("loss.regularizers", {}, {"gp": {"_target_": "GP"}}) in taken
    assert ABSENT not in [value for _, value, _ in taken]
