"""Every bad file and environment is one line, exit 2, nothing written or lost: a lock that is a link, caches that
lie, decompression bombs, odd third-party and latents files, cut-off metrics.jsonl, full and read-only disks,
corrupt or foreign checkpoints in a sweep; and the documented features that failed (TorchScript distance network,
a metrics protocol chosen at evaluation time), and the small ones (out=, augment.target, unread + keys)."""
import contextlib
import json
import os
import struct
import subprocess
import sys
import zlib

import pytest
import torch
from hydra.core.global_hydra import GlobalHydra

from gan_zoo.commands import compare, evaluate, generate, project
from gan_zoo.data.export_embedded import export_embedded
from gan_zoo.errors import UserError
from gan_zoo.latent.spaces import load_latents
from gan_zoo.runs.checkpoints import AtomicCheckpointIO
from gan_zoo.runs.lock import RunLock
from tests.helpers import SMALL_METRICS, TINY, run_cli

TRAIN_METRICS = [a for a in TINY if a != "metrics=none"] + SMALL_METRICS


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A real run with metrics (its folder has .hydra/ for gan-zoo-compare) and one trained with metrics=none."""
    root = tmp_path_factory.mktemp("bad")
    for name, args in (("with", TRAIN_METRICS), ("none", TINY)):
        result = run_cli([*args, f"name={name}", f"paths.cache={root}/cache"], cwd=root)
        assert result.returncode == 0, result.stderr[-3000:]
    runs = {name: next((root / "checkpoints" / name).rglob("last.ckpt")) for name in ("with", "none")}
    (run_dir,) = (root / "experiments" / "with").iterdir()
    images = export_embedded(str(root / "images"), ["bag"], 4)["bag"]
    return {"root": root, "ckpt": runs["with"], "no_metrics": runs["none"], "run_dir": run_dir, "images": images}


def _command(main, args, monkeypatch, capsys, code=2) -> str:
    GlobalHydra.instance().clear()
    monkeypatch.setattr(sys, "argv", ["gan-zoo", *args])
    with pytest.raises(SystemExit) as stop:
        main()
    err = capsys.readouterr().err
    assert stop.value.code == code, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("gan-zoo: error: "), err
    return err


def _files(folder):
    return sorted(str(p) for p in folder.rglob("*") if p.is_file())


# --- path tricks -------------------------------------------------------------------------------------------------

def test_the_run_lock_never_writes_through_a_link(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    folder = tmp_path / "checkpoints" / "run"
    folder.parent.mkdir()
    os.symlink(victim, folder.parent / ".run.lock")
    with pytest.raises(UserError, match="is a symbolic link"):
        RunLock(folder).acquire()
    assert victim.read_text() == "precious\n"


def test_a_save_never_writes_through_a_planted_temporary_link(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    target = tmp_path / "ckpt" / "last.ckpt"
    target.parent.mkdir()
    os.symlink(victim, target.parent / f".last.ckpt.tmp{os.getpid()}")
    AtomicCheckpointIO().save_checkpoint({"w": torch.ones(2)}, target)
    assert victim.read_text() == "precious\n" and torch.load(target)["w"].sum() == 2


# --- caches ------------------------------------------------------------------------------------------------------

def test_a_cache_that_lies_is_recomputed_with_one_warning(tmp_path, caplog):
    from gan_zoo.data.embedded import EmbeddedFashionMNIST
    from gan_zoo.metrics.evaluator import Evaluator
    from gan_zoo.metrics.extractors import FashionClassifierExtractor

    dataset = EmbeddedFashionMNIST(resolution=16, channels=1)
    evaluator = Evaluator(FashionClassifierExtractor(), num_real=64, num_fake=64, batch_size=64, kid_subset_size=32,
                          cache_dir=str(tmp_path))
    fake = torch.randn(64, 128) + 0.5
    clean = evaluator.compute(evaluator.real_features(dataset, {"d": 1}), fake, None)["fid"]
    (path,) = tmp_path.glob("*.pt")
    good = torch.load(path)
    forged = {**good, "features": good["features"] * 3}  # right shape and key, other numbers
    cases = {"forged": lambda: torch.save(forged, path),
             "wrong shape": lambda: torch.save({**good, "features": torch.zeros(5, 7)}, path),
             "truncated": lambda: path.write_bytes(path.read_bytes()[:100])}
    for case, spoil in cases.items():
        spoil()
        caplog.clear()
        with caplog.at_level("WARNING"):
            fid = evaluator.compute(evaluator.real_features(dataset, {"d": 1}), fake, None)["fid"]
        warnings = [r for r in caplog.records if r.levelname == "WARNING"]
        assert fid == pytest.approx(clean, rel=1e-6), case
        assert len(warnings) == 1 and "real-feature cache" in warnings[0].getMessage(), case
    caplog.clear()
    with caplog.at_level("WARNING"):
        evaluator.real_features(dataset, {"d": 1})  # rewritten whole: used again without a warning
    assert not caplog.records


# --- images ------------------------------------------------------------------------------------------------------

def _bomb(path):
    """A PNG whose header claims 20000 x 20000 pixels: Pillow refuses it as a decompression bomb."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 10))
                     + chunk(b"IEND", b""))


def test_a_decompression_bomb_is_skipped_and_counted_in_train_and_project(world, tmp_path, monkeypatch, capsys):
    import shutil

    folder = tmp_path / "imgs"
    shutil.copytree(world["images"], folder)
    _bomb(folder / "bomb.png")
    from gan_zoo.data.image_folder import read_images

    images, files = read_images(str(folder), 16, 1)
    assert len(images) == 4 and "bomb.png" not in {f.name for f in files}
    result = run_cli([*TINY, "data=image_folder", f"data.dataset.root={folder}", "data.channels=1",
                      "data.batch_size=2", "trainer.limit_train_batches=1"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr  # (Hydra's log goes to stdout)
    assert "skipping 1 of 5 files" in output and "DecompressionBomb" in output, output[-3000:]


# --- third-party and latents files ----------------------------------------------------------------------------------

@pytest.mark.parametrize("content", [
    [1, 2, 3],
    {"config": None},
    {"netG": {"formatLayer.weight": torch.zeros(3)}},
    {"netG": "not a state dict"},
])
def test_an_odd_pgan_file_is_one_line(tmp_path, monkeypatch, capsys, content):
    path = tmp_path / "pgan.pth"
    torch.save(content, path)
    monkeypatch.chdir(tmp_path)
    err = _command(generate.main, [f"pretrained=pytorch_gan_zoo:{path}", "out=x.png"], monkeypatch, capsys)
    assert str(path) in err and "PGAN" in err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("record", [
    {"latents": "abc", "space": "z", "model": {"identity": "x", "source": "y"}, "files": []},
    {"latents": torch.zeros(2, 4), "space": "nowhere", "model": {"identity": "x", "source": "y"}, "files": []},
    {"latents": torch.zeros(2, 4), "space": "z", "model": ["x"], "files": []},
    {"latents": torch.zeros(2, 4), "space": "z", "model": {"identity": 3, "source": "y"}, "files": [1]},
])
def test_a_latents_file_with_fields_of_the_wrong_type_is_one_line(world, tmp_path, monkeypatch, capsys, record):
    path = tmp_path / "latents.pt"
    torch.save(record, path)
    with pytest.raises(UserError, match="not a gan_zoo latents file"):
        load_latents(path)
    monkeypatch.chdir(tmp_path)
    err = _command(generate.main, [f"ckpt={world['ckpt']}", "interpolate=true", f"latents={path}", "out=x.png"],
                   monkeypatch, capsys)
    assert str(path) in err and not (tmp_path / "x.png").exists()


# --- gan-zoo-compare -----------------------------------------------------------------------------------------------

def _sweep_copy(world, tmp_path, checkpoint_bytes=None):
    sweep = tmp_path / "experiments" / "sweep"
    run = sweep / "0"
    (run / ".hydra").mkdir(parents=True)
    for f in (world["run_dir"] / ".hydra").iterdir():
        (run / ".hydra" / f.name).write_bytes(f.read_bytes())
    (run / "metrics.jsonl").write_bytes((world["run_dir"] / "metrics.jsonl").read_bytes())
    (tmp_path / "checkpoints" / "sweep" / "0").mkdir(parents=True)
    (tmp_path / "checkpoints" / "sweep" / "0" / "last.ckpt").write_bytes(
        world["ckpt"].read_bytes() if checkpoint_bytes is None else checkpoint_bytes)
    return sweep, run


def test_compare_reads_the_whole_lines_of_a_cut_off_metrics_jsonl(world, tmp_path, capsys, caplog):
    sweep, run = _sweep_copy(world, tmp_path)
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 1, "kimg": 0.1, "metr')  # a run killed while writing
    with caplog.at_level("WARNING"):
        out = compare.compare([str(sweep)], str(tmp_path / "cmp"), samples=False)
    assert "skipped 1 unreadable line" in caplog.text
    table = (out / "comparison.md").read_text()
    assert "| (all alike) | 1 |" in table


@pytest.mark.parametrize("content", [b"garbage, not a zip", "foreign"])
def test_compare_refuses_a_corrupt_or_foreign_checkpoint_before_writing_a_table(world, tmp_path, monkeypatch, capsys,
                                                                              content):
    if content == "foreign":
        foreign = tmp_path / "foreign.ckpt"
        torch.save({"state_dict": {"layer.weight": torch.zeros(2)}, "epoch": 3}, foreign)
        content = foreign.read_bytes()
    sweep, _ = _sweep_copy(world, tmp_path, content)
    with pytest.raises(SystemExit) as stop:
        compare.main([str(sweep), f"out={tmp_path / 'cmp'}"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.strip().splitlines()) == 1 and "last.ckpt" in err, err
    assert not (tmp_path / "cmp").exists()


# --- full and read-only disks ----------------------------------------------------------------------------------------

@contextlib.contextmanager
def _small_disk(path, size="96k"):
    """A tmpfs of `size` at `path` (root only; the test is skipped where mounting is not allowed)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here to fill a disk ({mounted.stderr.decode().strip()})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_a_full_disk_during_a_save_keeps_the_previous_checkpoint_and_says_how_much(tmp_path):
    with _small_disk(tmp_path / "disk", "256k") as disk:
        io = AtomicCheckpointIO()
        io.save_checkpoint({"w": torch.zeros(1000)}, disk / "last.ckpt")  # ~4 KB: fits
        before = (disk / "last.ckpt").read_bytes()
        with pytest.raises(UserError) as error:
            io.save_checkpoint({"w": torch.zeros(200_000)}, disk / "last.ckpt")  # 800 KB: does not
        message = str(error.value)
        assert "disk is full" in message and str(disk) in message and "previous one is unchanged" in message
        assert "\n" not in message
        assert (disk / "last.ckpt").read_bytes() == before and sorted(os.listdir(disk)) == ["last.ckpt"]


def test_a_read_only_folder_during_a_save_keeps_the_previous_checkpoint(tmp_path):
    with _small_disk(tmp_path / "disk", "1m") as disk:
        io = AtomicCheckpointIO()
        io.save_checkpoint({"w": torch.zeros(10)}, disk / "last.ckpt")
        before = (disk / "last.ckpt").read_bytes()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        with pytest.raises(UserError, match="not writable"):
            io.save_checkpoint({"w": torch.ones(10)}, disk / "last.ckpt")
        assert (disk / "last.ckpt").read_bytes() == before


@pytest.mark.parametrize("state", ["full", "read-only"])
def test_train_on_a_full_or_read_only_checkpoint_disk_is_one_line_and_leaves_nothing(tmp_path, state):
    with _small_disk(tmp_path / "disk", "16k") as disk:
        if state == "full":  # a save needs ~100 KB here
            subprocess.run(["dd", "if=/dev/zero", f"of={disk}/filler", "bs=1k", "count=12"], capture_output=True)
        else:
            subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        before = _files(disk)
        result = run_cli([*TINY, f"paths.checkpoints={disk}", f"paths.experiments={tmp_path}/experiments"],
                         cwd=tmp_path)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, result.stderr[-3000:]
        assert lines[-1].startswith("gan-zoo: error: ") and str(disk) in lines[-1], result.stderr[-3000:]
        assert "Traceback" not in result.stderr
        assert ("disk is full" in lines[-1] or "No space" in lines[-1]) if state == "full" else \
            ("not writable" in lines[-1] or "Read-only" in lines[-1])
        assert _files(disk) == before


# --- documented features ---------------------------------------------------------------------------------------------

def test_a_torchscript_feature_network_projects(world, tmp_path, monkeypatch, capsys):
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2))
    torch.jit.save(torch.jit.script(net), tmp_path / "net.pt")
    GlobalHydra.instance().clear()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["gan-zoo-project", f"ckpt={world['ckpt']}", f"images={world['images']}",
                                      "out=proj", "projection.steps=3", "distance=features", f"distance.network={tmp_path / 'net.pt'}"])
    project.main()
    assert "features:net.pt" in capsys.readouterr().err
    assert (tmp_path / "proj" / "latents.pt").is_file()


@pytest.mark.parametrize("memorization", [False, True])
def test_eval_chooses_a_protocol_for_a_run_trained_without_metrics(world, tmp_path, monkeypatch, capsys, memorization):
    GlobalHydra.instance().clear()
    monkeypatch.chdir(tmp_path)
    args = [f"ckpt={world['no_metrics']}", "metrics=classifier", f"out={tmp_path / 'm.json'}",
            f"paths.cache={tmp_path / 'cache'}", "metrics.evaluate.evaluator.num_real=64",
            "metrics.evaluate.evaluator.num_fake=64", "metrics.evaluate.evaluator.kid_subset_size=32",
            *(["memorization=true", "memorization_num=32"] if memorization else [])]
    monkeypatch.setattr(sys, "argv", ["gan-zoo-eval", *args])
    evaluate.main()
    result = json.loads((tmp_path / "m.json").read_text())
    assert result["metrics"]["fid_fmnist_cnn"] > 0 and result["protocol"]["num_fake"] == 64
    assert (tmp_path / "cache").is_dir()  # the real-feature cache goes where this command says
    if memorization:
        assert json.loads(open(f"{world['no_metrics']}.memorization.json").read())["space"] == "fmnist_cnn"
    # without a protocol, the run's own is missing: one line
    capsys.readouterr()
    err = _command(evaluate.main, [f"ckpt={world['no_metrics']}", f"out={tmp_path / 'n.json'}"], monkeypatch, capsys)
    assert "metrics=classifier" in err


# --- small ones -----------------------------------------------------------------------------------------------------

def test_generate_refuses_to_replace_a_file_or_write_into_a_run(world, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    existing = tmp_path / "mine.png"
    existing.write_bytes(b"my own picture")
    err = _command(generate.main, [f"ckpt={world['ckpt']}", f"out={existing}"], monkeypatch, capsys)
    assert "already exists" in err and "overwrite=true" in err and existing.read_bytes() == b"my own picture"
    inside = world["ckpt"].parent / "samples.png"  # the folder of another run than the checkpoint's
    err = _command(generate.main, [f"ckpt={world['no_metrics']}", f"out={inside}"], monkeypatch, capsys)
    assert "inside the folder of another run" in err and not inside.exists()
    err = _command(generate.main, [f"ckpt={world['no_metrics']}", f"out={world['run_dir'] / 'x'}"], monkeypatch,
                   capsys)
    assert "inside the folder of another run" in err
    GlobalHydra.instance().clear()  # its own run's folders are fine (the notebook writes samples there)
    monkeypatch.setattr(sys, "argv", ["gan-zoo-generate", f"ckpt={world['ckpt']}", f"out={world['run_dir'] / 'g.png'}",
                                      "num=4"])
    generate.main()
    assert (world["run_dir"] / "g.png").is_file()
    GlobalHydra.instance().clear()
    monkeypatch.setattr(sys, "argv", ["gan-zoo-generate", f"ckpt={world['ckpt']}", f"out={existing}", "num=4",
                                      "overwrite=true"])
    generate.main()
    assert existing.read_bytes() != b"my own picture"


def test_train_range_checks_augment_and_warns_of_unread_additions(tmp_path):
    bad = run_cli([*TINY, "augment=ada", "augment.target=1.5"], cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [bad.stderr.strip()], bad.stderr[-2000:]
    assert "augment.target=1.5" in bad.stderr and "(0, 1)" in bad.stderr
    typo = run_cli([*TINY, "+model.generator.widht=3"], cwd=tmp_path)
    assert typo.returncode == 2 and "did you mean 'model.generator.width'" in typo.stderr, typo.stderr[-2000:]
    result = run_cli([*TINY, "+foo.bar=1", "+regularizer@loss.regularizers.r1=r1"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    warned = [line for line in (result.stdout + result.stderr).splitlines() if "nothing gan_zoo builds reads" in line]
    assert len(warned) == 1 and "+foo.bar=1" in warned[0]  # the regularizer is read: no warning


@pytest.mark.parametrize("main, args, words", [
    (project.main, ["ckpt=x", "images=a", "out=c", "steps=5"], "'steps' is now 'projection.steps': projection.steps=5"),
    (project.main, ["ckpt=x", "images=a", "out=c", "batch_size=4"], "'batch_size' is now 'projection.batch_size'"),
])
def test_a_setting_that_moved_says_where(monkeypatch, capsys, main, args, words):
    assert words in _command(main, args, monkeypatch, capsys)
