"""Nothing of the user's is deleted or written through (issue 34): a failed start removes only what its launch made;
a link planted where gan_zoo writes is replaced (or, for a file it appends to, refused), its target unchanged;
name= is a plain folder name; eval and compare keep an earlier result; a checkpoint failing its CRC is refused; a
forged real-feature cache is computed again, never a crash."""
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from gan_zoo.errors import UserError
from tests.helpers import REPO, SMALL_METRICS, TINY, run_cli

TRAIN = [a for a in TINY if a != "metrics=none"] + SMALL_METRICS  # 1 epoch, evaluated (metrics.jsonl, plots)
PRECIOUS = "the user's own file\n"


def _roots(folder: Path) -> list[str]:
    return [f"paths.experiments={folder}/experiments", f"paths.checkpoints={folder}/checkpoints",
            f"paths.cache={folder}/cache"]


def _listing(folder: Path) -> dict:
    """Every path under `folder` with its content (a link: where it points), links never followed."""
    found = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        found[key] = (f"-> {os.readlink(path)}" if path.is_symlink() else
                      "<folder>" if path.is_dir() else path.read_bytes())
    return found


def _refused(result, *words) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("gan-zoo: error:"), result.stderr[-3000:]
    assert all(w in lines[0] for w in words), lines[0]
    return lines[0]


def _user_files(*folders: Path) -> None:
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("app.log", "train.log", "notes.txt"):
            (folder / name).write_text(PRECIOUS)


def _plant(link: Path, target: Path) -> None:
    """A link at `link` to `target`, a file of someone else's that must stay unchanged."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(PRECIOUS)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.unlink(missing_ok=True)
    link.symlink_to(target)


# --- a failed start ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("run_dir", ["mylogs", "."])
def test_a_failed_start_leaves_every_user_file_in_place(tmp_path, run_dir):
    _user_files(tmp_path, tmp_path / "mylogs")
    before = _listing(tmp_path)
    result = run_cli([f"hydra.run.dir={run_dir}", "data.batch_size=0", *_roots(tmp_path)], cwd=tmp_path)
    _refused(result, "data.batch_size=0")
    assert _listing(tmp_path) == before  # nothing removed, nothing left behind


@pytest.mark.parametrize("args, words", [
    (["data.batch_size=0"], ["data.batch_size=0"]),  # the default folder, experiments/<name>/<date_time>
    (["-m", "seed="], ["seed=''"]),  # a refused sweep leaves no multirun.yaml
    (["name=a/b"], ["name='a/b'"]),  # nor the folders a name with a separator made
    (["name=."], ["name='.'"]),
    (["name=.", "ckpt=last"], ["name='.'"]),  # resumed any run under checkpoints/ and rewrote its checkpoints
    (["name=.."], ["name='..'"]),  # searched the whole working tree; wrote outside experiments/
    (["name=a\\b"], ["plain folder name"]),
])
def test_refused_values_leave_nothing_behind(tmp_path, args, words):
    work = tmp_path / "work"
    _user_files(work)
    before = _listing(tmp_path)
    _refused(run_cli([*args, *_roots(work)], cwd=work), *words)
    assert _listing(tmp_path) == before


def test_the_clean_up_removes_what_its_launch_made_and_keeps_what_was_there(tmp_path, monkeypatch):
    """The record, without a process: a folder that existed keeps its files; one the launch made goes."""
    from gan_zoo.runs import launch

    monkeypatch.chdir(tmp_path)
    _user_files(tmp_path / "mine")
    for folder, kept in (("mine", True), ("new/deeper", False)):
        before = launch.snapshot(folder)
        (tmp_path / folder / ".hydra").mkdir(parents=True)
        for name in launch.HYDRA_FILES:
            (tmp_path / folder / ".hydra" / name).write_text("hydra")
        (tmp_path / folder / "cli.log").write_text("log")
        monkeypatch.setattr(launch, "_launch", launch.Launch(before, ".hydra", ("cli.log",), None))
        assert launch.discard_launch(folder)
        assert (tmp_path / folder).exists() == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]
    assert {p.name: p.read_text() for p in (tmp_path / "mine").iterdir()} == dict.fromkeys(
        ["app.log", "train.log", "notes.txt"], PRECIOUS)
    # a job that wrote anything else there is a run: nothing is removed
    before = launch.snapshot("run")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "cli.log").write_text("log")
    (tmp_path / "run" / "metrics.csv").write_text("step\n")
    monkeypatch.setattr(launch, "_launch", launch.Launch(before, None, ("cli.log",), None))
    assert not launch.discard_launch("run") and (tmp_path / "run" / "cli.log").exists()


# --- writes never follow a link -------------------------------------------------------------------------------------


def _png(path: Path, value: float = 0.5):
    from gan_zoo.files import save_png

    return save_png(torch.full((3, 4, 4), value), path)


def _figure(path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gan_zoo.files import save_figure

    fig = plt.figure()
    save_figure(fig, path)
    plt.close(fig)


def _grid(path: Path):
    from gan_zoo.media import save_grid

    save_grid(torch.rand(4, 3, 8, 8) * 2 - 1, path, nrow=2)


def _gif(path: Path):
    from gan_zoo.media import save_animation

    save_animation(torch.rand(1, 3, 3, 8, 8) * 2 - 1, path, "gif")


def _csv_table(path: Path):
    from gan_zoo.commands.compare import write_csv

    write_csv([{"variant": "a", "fid": 1.0, "runs": ["x"]}], path)


WRITERS = {  # a writer of the project -> the file name it writes
    "text": (lambda p: __import__("gan_zoo.files").files.write_text(p, "ours"), "out.json"),
    "bytes": (lambda p: __import__("gan_zoo.files").files.write_bytes(p, b"ours"), "out.bin"),
    "png": (_png, "epoch_0002.png"),
    "figure": (_figure, "metrics.png"),
    "grid": (_grid, "samples.png"),
    "gif": (_gif, "pair_0000.gif"),
    "compare csv": (_csv_table, "comparison.csv"),
}


@pytest.mark.parametrize("writer", WRITERS)
def test_a_write_replaces_a_planted_link_and_leaves_its_target_unchanged(tmp_path, writer):
    write, name = WRITERS[writer]
    _plant(tmp_path / "out" / name, tmp_path / "elsewhere" / "target")
    write(tmp_path / "out" / name)
    assert (tmp_path / "elsewhere" / "target").read_text() == PRECIOUS
    assert not (tmp_path / "out" / name).is_symlink() and (tmp_path / "out" / name).stat().st_size > 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [name]  # no temporary file left


def test_a_folder_of_images_replaces_planted_links(tmp_path):
    from gan_zoo.media import save_folder

    _plant(tmp_path / "out" / "000001.png", tmp_path / "target")
    save_folder(torch.rand(3, 1, 8, 8) * 2 - 1, tmp_path / "out")
    assert (tmp_path / "target").read_text() == PRECIOUS
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["000000.png", "000001.png", "000002.png"]


def test_an_append_refuses_a_planted_link(tmp_path):
    from gan_zoo.files import append_text

    append_text(tmp_path / "metrics.jsonl", "one\n")
    append_text(tmp_path / "metrics.jsonl", "two\n")
    assert (tmp_path / "metrics.jsonl").read_text() == "one\ntwo\n"
    _plant(tmp_path / "metrics.jsonl", tmp_path / "target")
    with pytest.raises(UserError, match="metrics.jsonl' is a symbolic link"):
        append_text(tmp_path / "metrics.jsonl", "three\n", "metrics file")
    assert (tmp_path / "target").read_text() == PRECIOUS


def test_plots_of_a_run_replace_planted_links_and_their_old_temporary_names(tmp_path):
    from gan_zoo.runs.plots import plot_losses

    (tmp_path / "metrics.csv").write_text("kimg,train/g_loss\n0.1,1.0\n0.2,0.5\n")
    for i, name in enumerate(["losses.png", ".losses.png.tmp.png"]):
        _plant(tmp_path / "plots" / name, tmp_path / f"target{i}")
    plot_losses(tmp_path)
    assert [(tmp_path / f"target{i}").read_text() for i in range(2)] == [PRECIOUS] * 2
    assert not (tmp_path / "plots" / "losses.png").is_symlink()


def test_the_csv_logger_writes_through_no_link_of_a_resumed_run(tmp_path):
    from gan_zoo.runs.loggers import CSVLogger

    logger = CSVLogger(str(tmp_path))
    logger.log_metrics({"a": 1.0}, step=0)
    logger.save()
    logger.log_metrics({"a": 2.0, "b": 3.0}, step=1)  # a new column: the file rewritten with the wider header
    logger.save()
    assert (tmp_path / "metrics.csv").read_text().splitlines() == ["a,b,step", "1.0,,0", "2.0,3.0,1"]
    resumed = CSVLogger(str(tmp_path))  # the same folder, as a resume has it
    _plant(tmp_path / "hparams.yaml", tmp_path / "target")
    resumed.log_hyperparams({"seed": 0})
    resumed.log_metrics({"a": 4.0, "b": 5.0}, step=2)
    resumed.save()
    assert (tmp_path / "target").read_text() == PRECIOUS
    assert (tmp_path / "hparams.yaml").read_text() == "seed: 0\n"
    assert (tmp_path / "metrics.csv").read_text().splitlines()[-1] == "4.0,5.0,2"
    _plant(tmp_path / "metrics.csv", tmp_path / "target")
    with pytest.raises(UserError, match="metrics.csv' is a symbolic link"):
        CSVLogger(str(tmp_path)).experiment  # refused when the run starts, not after its first epoch
    assert (tmp_path / "target").read_text() == PRECIOUS


def test_the_tensorboard_logger_writes_its_hparams_through_no_link(tmp_path):
    pytest.importorskip("tensorboard")
    from gan_zoo.runs.loggers import TensorBoardLogger

    _plant(tmp_path / "hparams.yaml", tmp_path / "elsewhere" / "target")
    logger = TensorBoardLogger(str(tmp_path), name="", version="", default_hp_metric=False)
    logger.log_hyperparams({"seed": 0})
    logger.save()
    assert (tmp_path / "elsewhere" / "target").read_text() == PRECIOUS
    assert (tmp_path / "hparams.yaml").read_text() == "seed: 0\n"


# --- a trained run: resume, project, eval, compare -----------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny run, one epoch, evaluated (metrics.jsonl, plots), with its real-feature cache."""
    root = tmp_path_factory.mktemp("trained")
    result = run_cli([*TRAIN, *_roots(root)], cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return root


def _copy(trained: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A copy of the trained roots that a test may change: (the roots' folder, the run folder, last.ckpt)."""
    work = tmp_path / "work"
    shutil.copytree(trained, work, symlinks=True)
    (run,) = (work / "experiments" / "dcgan_embedded").iterdir()
    (ckpt,) = (work / "checkpoints").rglob("last.ckpt")
    return work, run, ckpt


def _resume(work: Path, *args: str):
    overrides = [a for a in TRAIN if not a.startswith("trainer.max_epochs=")]
    return run_cli([*overrides, *_roots(work), "ckpt=last", "trainer.max_epochs=2", *args], cwd=work)


@pytest.mark.slow
@pytest.mark.parametrize("run_dir", ["mylogs", ".", None])  # None: the default launch folder, a new one
def test_a_resume_keeps_the_users_files_and_writes_through_no_planted_link(trained, tmp_path, run_dir):
    work, run, _ = _copy(trained, tmp_path)
    _user_files(work, work / "mylogs")
    users = {name: (work / name).read_bytes() for name in ("app.log", "train.log", "notes.txt")}
    mylogs, top = _listing(work / "mylogs"), sorted(os.listdir(work))
    links = [run / "samples" / "epoch_0001.png", run / "plots" / "metrics.png", run / "plots" / "losses.png",
             run / "plots" / ".metrics.png.tmp.png", run / "plots" / ".losses.png.tmp.png", run / "hparams.yaml"]
    for i, link in enumerate(links):
        _plant(link, tmp_path / "elsewhere" / f"target{i}")
    result = _resume(work, *([f"hydra.run.dir={run_dir}"] if run_dir else []))
    assert result.returncode == 0, result.stderr[-3000:]
    assert list((work / "experiments" / "dcgan_embedded").iterdir()) == [run]  # the launch folder is gone
    assert [(tmp_path / "elsewhere" / f"target{i}").read_text() for i in range(len(links))] == [PRECIOUS] * len(links)
    assert (run / "samples" / "epoch_0001.png").is_file() and not (run / "samples" / "epoch_0001.png").is_symlink()
    assert "seed: 0" in (run / "hparams.yaml").read_text()
    # the launch folder (the user's) keeps every file it held, and nothing of the launch is left in it
    assert _listing(work / "mylogs") == mylogs and sorted(os.listdir(work)) == top
    assert {name: (work / name).read_bytes() for name in users} == users


@pytest.mark.slow
@pytest.mark.parametrize("name", ["metrics.csv", "metrics.jsonl"])
def test_a_resume_refuses_a_link_planted_at_a_file_it_appends_to(trained, tmp_path, name):
    work, run, _ = _copy(trained, tmp_path)
    _plant(run / name, tmp_path / "target")
    _refused(_resume(work), name, "symbolic link")
    assert (tmp_path / "target").read_text() == PRECIOUS


@pytest.mark.slow
def test_a_projection_writes_through_no_link_planted_in_its_out_folder(trained, tmp_path):
    from gan_zoo.data.export_embedded import export_embedded

    work, _, ckpt = _copy(trained, tmp_path)
    images = export_embedded(str(tmp_path / "sets"), ["bag"], 4)["bag"]
    out = tmp_path / "proj"
    for i, name in enumerate(["projection.csv", "projection.png"]):
        _plant(out / name, tmp_path / f"target{i}")
    result = run_cli([f"ckpt={ckpt}", f"images={images}", f"out={out}", "projection.steps=2", "device=cpu"],
                     cwd=work, module="gan_zoo.commands.project")
    assert result.returncode == 0, result.stderr[-3000:]
    assert [(tmp_path / f"target{i}").read_text() for i in range(2)] == [PRECIOUS] * 2
    assert (out / "projection.csv").read_text().startswith("file,start_distance")


@pytest.mark.slow
def test_the_copying_check_writes_through_no_link_and_keeps_an_earlier_result(trained, tmp_path):
    work, _, ckpt = _copy(trained, tmp_path)
    grid = Path(f"{ckpt}.memorization.png")
    _plant(grid, tmp_path / "target")
    args = [f"ckpt={ckpt}", "memorization=true", "memorization_num=64", f"out={tmp_path / 'result.json'}",
            "device=cpu"]
    first = run_cli(args, cwd=work, module="gan_zoo.commands.evaluate")
    assert (tmp_path / "target").read_text() == PRECIOUS  # refused (an earlier grid is there), or written beside
    _refused(first, "memorization.png", "overwrite=true")
    again = run_cli([*args, "overwrite=true"], cwd=work, module="gan_zoo.commands.evaluate")
    assert again.returncode == 0, again.stderr[-3000:]
    assert (tmp_path / "target").read_text() == PRECIOUS
    assert not grid.is_symlink() and grid.stat().st_size > 100


@pytest.mark.slow
def test_eval_and_compare_refuse_to_overwrite_an_earlier_result(trained, tmp_path):
    work, run, ckpt = _copy(trained, tmp_path)
    mine = tmp_path / "mine.json"
    default = Path(f"{ckpt}.metrics.json")
    comparison = tmp_path / "cmp"
    for path in (mine, default, comparison / "comparison.md"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(PRECIOUS)
    before = _listing(tmp_path)
    evaluate = "gan_zoo.commands.evaluate"
    _refused(run_cli([f"ckpt={ckpt}", f"out={mine}", "device=cpu"], cwd=work, module=evaluate), "mine.json",
             "overwrite=true")
    _refused(run_cli([f"ckpt={ckpt}", "device=cpu"], cwd=work, module=evaluate), "last.ckpt.metrics.json",
             "overwrite=true")
    _refused(run_cli([str(run), f"out={comparison}"], cwd=work, module="gan_zoo.commands.compare"),
             "comparison.md", "overwrite=true")
    assert _listing(tmp_path) == before
    again = run_cli([str(run), f"out={comparison}", "overwrite=true", "samples=false"], cwd=work,
                    module="gan_zoo.commands.compare")
    assert again.returncode == 0, again.stderr[-3000:]
    assert (comparison / "comparison.md").read_text() != PRECIOUS


# --- a checkpoint that fails its CRC ---------------------------------------------------------------------------------


def _spoil_a_tensor(path: Path) -> None:
    """One byte changed inside the largest tensor of a torch zip file: the archive stays whole, its CRC fails."""
    with zipfile.ZipFile(path) as archive:
        info = max((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    with open(path, "r+b") as f:
        f.seek(info.header_offset + 26)
        name_length, extra_length = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
        middle = info.header_offset + 30 + name_length + extra_length + info.file_size // 2
        f.seek(middle)
        byte = f.read(1)
        f.seek(middle)
        f.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.slow
def test_a_checkpoint_failing_its_crc_is_refused_naming_a_good_one(trained, tmp_path):
    from gan_zoo.runs.checkpoints import AtomicCheckpointIO

    work, _, ckpt = _copy(trained, tmp_path)
    damaged = ckpt.parent / "damaged.ckpt"
    shutil.copy(ckpt, damaged)
    os.utime(damaged)  # the newest file there
    _spoil_a_tensor(damaged)
    assert zipfile.is_zipfile(damaged)  # still a whole archive: only the CRC tells
    with pytest.raises(UserError, match="CRC"):
        AtomicCheckpointIO().load_checkpoint(damaged)  # Lightning's resume reads through here
    line = _refused(run_cli([f"ckpt={damaged}", f"out={tmp_path / 'x.json'}", "device=cpu"], cwd=work,
                            module="gan_zoo.commands.evaluate"), "damaged.ckpt", "CRC")
    assert "the newest readable one there is" in line and ".ckpt'" in line.split("there is")[1]
    _refused(run_cli([*TRAIN, *_roots(work), f"ckpt={damaged}"], cwd=work), "damaged.ckpt", "CRC")


# --- the real-feature cache and non-finite images ---------------------------------------------------------------------


FORGE = """
import sys, torch
from gan_zoo.data.embedded import EmbeddedFashionMNIST
from gan_zoo.metrics.evaluator import Evaluator, _digest
from gan_zoo.metrics.extractors import FashionClassifierExtractor

folder, case = sys.argv[1], sys.argv[2]
dataset = EmbeddedFashionMNIST(resolution=16, channels=1)
evaluator = Evaluator(FashionClassifierExtractor(), num_real=64, num_fake=64, batch_size=64, kid_subset_size=32,
                      cache_dir=folder)
fake = torch.randn(64, 128, generator=torch.Generator().manual_seed(1)) + 0.5
clean = evaluator.compute(evaluator.real_features(dataset, {"d": 1}), fake, None)["fid"]
(path,) = __import__("pathlib").Path(folder).glob("*.pt")
record = torch.load(path)
features = record["features"].clone()
if case == "nan":
    features[3, 5] = float("nan")
elif case == "inf":
    features[0, 0] = float("inf")
elif case == "zeros":
    features.zero_()
elif case == "float64":
    features = features.double()
torch.save({**record, "features": features, "sha256": _digest(features)}, path)  # the right key, a new digest
print(clean, evaluator.compute(evaluator.real_features(dataset, {"d": 1}), fake, None)["fid"])
"""


@pytest.mark.parametrize("case", ["nan", "inf", "zeros", "float64"])
def test_a_forged_cache_with_its_digest_recomputed_is_computed_again_never_a_crash(tmp_path, case):
    result = subprocess.run([sys.executable, "-c", FORGE, str(tmp_path), case], capture_output=True, text=True,
                            cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]  # was 139 (a segmentation fault in torchmetrics' FID)
    clean, forged = map(float, result.stdout.split())
    assert forged == pytest.approx(clean, rel=1e-6)  # zeros were used silently (another FID)
    assert "ignoring the real-feature cache" in result.stderr


def test_the_cache_is_read_when_a_sample_of_its_images_agrees(tmp_path, caplog):
    from gan_zoo.data.embedded import EmbeddedFashionMNIST
    from gan_zoo.metrics.evaluator import Evaluator
    from gan_zoo.metrics.extractors import FashionClassifierExtractor

    dataset = EmbeddedFashionMNIST(resolution=16, channels=1)
    first = Evaluator(FashionClassifierExtractor(), num_real=64, batch_size=64, cache_dir=str(tmp_path))
    features = first.real_features(dataset, {"d": 1})
    second = Evaluator(FashionClassifierExtractor(), num_real=64, batch_size=16, cache_dir=str(tmp_path))
    with caplog.at_level("WARNING"):
        assert torch.equal(second.real_features(dataset, {"d": 1}), features)  # another batch size: still agrees
    assert not caplog.records


def test_non_finite_generated_images_are_refused_not_scored(tmp_path):
    from torch import nn

    from gan_zoo.metrics.evaluator import Evaluator
    from gan_zoo.metrics.extractors import PixelExtractor

    evaluator = Evaluator(PixelExtractor(), num_real=16, num_fake=16, batch_size=8, kid_subset_size=8, prdc_k=0,
                          cache_dir=None)
    generator = nn.Sequential(nn.Linear(4, 48), nn.Unflatten(1, (3, 4, 4)))
    generator.latent_dim = 4  # the contract's attribute fake_features draws z with
    nn.init.constant_(generator[0].weight, float("nan"))
    with pytest.raises(UserError, match="generator's images are not finite"):
        evaluator.fake_features(generator.eval(), "cpu")
    real = torch.rand(16, 48)
    with pytest.raises(UserError, match="generator's images are not finite"):
        evaluator.compute(real, torch.full((16, 48), float("nan")), None)
