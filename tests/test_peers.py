"""The reference harnesses (benchmarks/peers/): they train on what gan_zoo trains on, follow its growth schedule,
refuse a source that is not the pinned one, and run end to end (with ../shared/peers/)."""
import io
import json
import subprocess
import sys
import tarfile

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from PIL import Image

from gan_zoo.errors import UserError
from gan_zoo.metrics.features import quantize
from gan_zoo.networks.progan import _levels
from gan_zoo.schedules import ProgressiveGrowing, level_and_alpha
from tests.helpers import REPO, compose_config

sys.path.insert(0, str(REPO / "benchmarks" / "peers"))
import common  # noqa: E402
import pytorch_gan_zoo  # noqa: E402

needs_peers = pytest.mark.skipif(
    not all((common.PEERS / r.archive).is_file() for r in (common.STYLEGAN2_ADA, common.PYTORCH_GAN_ZOO)),
    reason=f"the reference archives are not in {common.PEERS} (../shared/peers/, or set GAN_ZOO_SHARED_PEERS)")


@pytest.mark.parametrize("experiment", ["compare/stylegan_sg2ada", "compare/pggan"])
def test_exported_pngs_are_the_data_the_preset_trains_on(tmp_path, experiment):
    cfg = compose_config(tmp_path, [f"experiment={experiment}"])
    dataset = instantiate(cfg.data).dataset
    trained = quantize(torch.stack([dataset[i][0] for i in range(len(dataset))]))  # [5000, 1, 32, 32]
    folder = common.export_data(tmp_path / "data")
    files = sorted(folder.glob("*.png"))
    assert len(files) == len(dataset) == 5000
    read = np.stack([np.array(Image.open(f)) for f in files])  # as stylegan2-ada reads them: [N, H, W]
    assert Image.open(files[0]).mode == "L"
    assert torch.equal(torch.from_numpy(read)[:, None], trained)


@pytest.mark.parametrize("batch, phase_images", [(32, 2000), (8, 8), (32, 1000), (16, 600)])
def test_their_growth_is_the_presets(batch, phase_images):
    """Per batch, the scale and alpha the PGAN harness gives their trainer equal gan_zoo's ProgressiveGrowing at the
    same images seen (their alpha weighs the old level: 1 - ours)."""
    scales, kimg = 4, 45
    steps, jumps, values = pytorch_gan_zoo.growth(kimg, batch, phase_images, scales)
    schedule = ProgressiveGrowing(images_per_fade=phase_images, images_per_stable=phase_images)
    batch_index = 0
    for scale, n in enumerate(steps):
        alpha = 0.0
        for j in range(n):
            if j in jumps[scale]:
                alpha = values[scale][jumps[scale].index(j)]  # their inScaleUpdate: set when the index is reached
            level, ours = level_and_alpha(schedule.progress(batch_index * batch, _levels(32)))
            assert (level, pytest.approx(1.0 - ours, abs=1e-12)) == (scale, alpha), (scale, j)
            batch_index += 1
    assert batch_index * batch >= kimg * 1000 > (batch_index - 1) * batch  # gan_zoo stops after the budget's batch


@needs_peers
@pytest.mark.slow
def test_their_trainer_follows_the_schedule(tmp_path):
    """Their trainer, given the harness's config, trains each scale for the schedule's steps with the schedule's
    alphas, although its iteration index skips the partial batch at each epoch end (here 20 images at batch 8:
    2 steps an epoch, so every scale but the first crosses epoch ends)."""
    source = common.prepare(common.PYTORCH_GAN_ZOO, tmp_path, pytorch_gan_zoo.PATCHES)
    common.write_pngs(common.embedded_pixels(32)[:20], tmp_path / "data")
    settings, total = pytorch_gan_zoo.config(0.16, 8, 16, [4, 4, 4, 4], 8, 20)
    script = f"""
import json, sys, types
sys.path.insert(0, {str(source)!r})
sys.modules.setdefault("h5py", types.ModuleType("h5py"))
from models.trainer.progressive_gan_trainer import ProgressiveGANTrainer
trainer = ProgressiveGANTrainer({str(tmp_path / "data")!r}, useGPU=False, checkPointDir=None,
                                config=json.loads(sys.argv[1]))
seen, step = [], trainer.model.optimizeParameters
def counted(*a, **k):
    seen.append((len(trainer.model.getOriginalG().toRGBLayers) - 1, trainer.model.config.alpha))  # scale, alpha
    return step(*a, **k)
trainer.model.optimizeParameters = counted
trainer.train()
print(json.dumps(seen))
"""
    ran = subprocess.run([sys.executable, "-c", script, json.dumps(settings)], capture_output=True, text=True,
                         timeout=300)
    assert ran.returncode == 0, ran.stderr[-2000:]
    seen = [tuple(x) for x in json.loads(ran.stdout.strip().splitlines()[-1])]
    steps, jumps, values = pytorch_gan_zoo.growth(0.16, 8, 16, 4)
    expected = [(s, values[s][min(j, len(values[s]) - 1)] if values[s] else 0)  # alpha stays at its last jump
                for s in range(4) for j in range(steps[s])]
    assert seen == expected and len(seen) == total == 20
    assert steps == [3, 4, 4, 9] and 0.0 < values[1][0] < 1.0


def test_a_source_that_is_not_the_pinned_one_is_refused(tmp_path):
    fake = tmp_path / "stylegan2-ada-pytorch-d72cc7d.tar.gz"
    with tarfile.open(fake, "w:gz") as tar:
        data = b"print('not theirs')\n"
        info = tarfile.TarInfo("stylegan2-ada-pytorch/train.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(UserError, match="is not the pinned archive of NVlabs/stylegan2-ada-pytorch"):
        common.prepare(common.STYLEGAN2_ADA, tmp_path / "scratch", [], archive=str(fake))
    with pytest.raises(UserError, match="no archive of NVlabs/stylegan2-ada-pytorch"):
        common.prepare(common.STYLEGAN2_ADA, tmp_path / "scratch", [], archive=str(tmp_path / "absent.tar.gz"))
    with pytest.raises(UserError, match="is not a git checkout of facebookresearch/pytorch_GAN_zoo"):
        common.prepare(common.PYTORCH_GAN_ZOO, tmp_path / "scratch", [], checkout=str(tmp_path))


def test_a_patch_that_does_not_match_their_source_is_refused(tmp_path, monkeypatch):
    archive = tmp_path / "a.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        data = b"x = 1\n"
        info = tarfile.TarInfo("pytorch_GAN_zoo/a.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    monkeypatch.setattr(common, "PYTORCH_GAN_ZOO", common.Reference(
        "facebookresearch/pytorch_GAN_zoo", "a.tar.gz", common.sha256(archive), "0" * 40, "pytorch_GAN_zoo"))
    source = common.prepare(common.PYTORCH_GAN_ZOO, tmp_path / "s", [common.Patch("a.py", "x = 1", "x = 2")],
                            archive=str(archive))
    assert (source / "a.py").read_text() == "x = 2\n"
    with pytest.raises(UserError, match="a run-time patch no longer applies to a.py"):
        common.prepare(common.PYTORCH_GAN_ZOO, tmp_path / "s", [common.Patch("a.py", "x = 3", "x = 2")],
                       archive=str(archive))


@needs_peers
@pytest.mark.slow
@pytest.mark.parametrize("harness", ["stylegan2_ada.py", "pytorch_gan_zoo.py"])
def test_harness_runs_end_to_end(tmp_path, harness):
    """--smoke: their source extracted and patched, a few training steps at tiny sizes, 64 PNGs from each generator,
    both scored by gan-zoo-eval under the comparison's protocol (with 64 images)."""
    out = tmp_path / "out"
    ran = subprocess.run([sys.executable, str(REPO / "benchmarks" / "peers" / harness), "--out", str(out), "--smoke"],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr[-3000:]
    result = json.loads((out / "result.json").read_text())
    assert result["train_images_per_sec"] > 0 and result["g_params"] > 0 and result["d_params"] > 0
    for name in ("ema", "raw"):
        files = sorted((out / name).glob("*.png"))
        assert len(files) == 64 and Image.open(files[0]).size == (32, 32) and Image.open(files[0]).mode == "L"
        scored = json.loads((out / f"{name}.metrics.json").read_text())
        assert scored["protocol"]["extractor"] == "fmnist_cnn" and scored["protocol"]["num_fake"] == 64
        assert np.isfinite(result["scores"][name]["fid_fmnist_cnn"]) and result["scores"][name]["fid_fmnist_cnn"] > 0
    assert list(tmp_path.iterdir()) == [out]  # their source and the data went to a scratch folder, now gone


def _fake_run(folder, seed, fid, raw_fid, num_real=2000, variant=None):
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps({
        "reference": "NVlabs/stylegan2-ada-pytorch", "seed": seed, "kimg": 45.024, "smoke": False,
        "train_images_per_sec": 30.0 + seed, "wall_seconds_with_startup": 1500.0, "g_params": 1_050_000,
        "d_params": 1_150_000, "peak_memory_gib": 1.5, **({"variant": variant} if variant else {})}))
    for name, value in (("ema", fid), ("raw", raw_fid)):
        metrics = {f"{m}_fmnist_cnn": value if m == "fid" else 0.5 for m in ("fid", "kid", "is", "precision", "recall")}
        protocol = {"extractor": "fmnist_cnn", "weights_sha256": "a1", "num_real": num_real, "num_fake": 2000,
                    "real_split": "train", "prdc_k": 5}
        (folder / f"{name}.metrics.json").write_text(json.dumps({"metrics": metrics, "protocol": protocol}))


def test_reference_rows_in_the_comparisons_columns(tmp_path, capsys, monkeypatch):
    import table

    for seed, (fid, raw) in enumerate([(12.0, 10.0), (10.0, 11.0), (14.0, 30.0)]):
        _fake_run(tmp_path / f"s{seed}", seed, fid, raw)
    monkeypatch.setattr(sys, "argv", ["table.py", *(str(tmp_path / f"s{s}") for s in range(3))])
    table.main()
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("| variant | seeds"))
    row = next(line for line in lines if line.startswith("| NVlabs/stylegan2-ada-pytorch") and " | 3 | " in line)
    assert len(header.split("|")) == len(row.split("|"))  # the same columns as gan-zoo-compare's
    assert "| 3 | 12.00 (10.00 .. 14.00) | 12.0, 10.0, 14.0 |" in row and "| 31.0 | 1.05 M | 1.15 M | 1.50 |" in row
    assert any(line.endswith("| 10.00, 11.00, 30.00 | 11.00 | 12.00 |") for line in lines)
    _fake_run(tmp_path / "x0", 0, 20.0, 21.0, variant="average half-life 10000 images")  # an experiment: its own row
    monkeypatch.setattr(sys, "argv", ["table.py", *(str(tmp_path / f"s{s}") for s in range(3)), str(tmp_path / "x0")])
    table.main()
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("| NVlabs/stylegan2-ada-pytorch (benchmarks/peers) | 3 | 12.00") for line in lines) == 1
    assert any(line.startswith("| NVlabs/stylegan2-ada-pytorch (benchmarks/peers, average half-life 10000 images) "
                               "| 1 | 20.00 (20.00 .. 20.00) |") for line in lines)
    _fake_run(tmp_path / "other", 3, 9.0, 9.0, num_real=1000)
    monkeypatch.setattr(sys, "argv", ["table.py", str(tmp_path / "s0"), str(tmp_path / "other")])
    with pytest.raises(UserError, match="scored under different protocols"):
        table.main()
    ran = subprocess.run([sys.executable, str(REPO / "benchmarks" / "peers" / "table.py"), str(tmp_path / "s0"),
                          str(tmp_path / "other")], capture_output=True, text=True, timeout=300)
    assert ran.returncode == 2 and ran.stderr.startswith("gan-zoo: error: the folders were scored under different ")
    assert len(ran.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("value", ["0", "nan", "inf"])
def test_an_average_half_life_that_is_no_number_of_images_is_refused(tmp_path, value):
    ran = subprocess.run([sys.executable, str(REPO / "benchmarks" / "peers" / "pytorch_gan_zoo.py"), "--out",
                          str(tmp_path / "out"), "--smoke", f"--average-half-life={value}"],
                         capture_output=True, text=True, timeout=300)
    assert ran.returncode == 2 and ran.stderr.strip() == \
        f"gan-zoo: error: --average-half-life {float(value)} must be a finite number of images above 0"
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("harness", ["stylegan2_ada.py", "pytorch_gan_zoo.py"])
def test_a_refused_start_leaves_no_output_folder(tmp_path, harness):
    ran = subprocess.run([sys.executable, str(REPO / "benchmarks" / "peers" / harness), "--out", str(tmp_path / "out"),
                          "--smoke", "--archive", str(tmp_path / "absent.tar.gz")], capture_output=True, text=True,
                         timeout=300)
    assert ran.returncode == 2 and len(ran.stderr.strip().splitlines()) == 1
    assert ran.stderr.startswith("gan-zoo: error: no archive of ") and str(tmp_path / "absent.tar.gz") in ran.stderr
    assert list(tmp_path.iterdir()) == []  # no --out folder made


@needs_peers
def test_the_average_half_life_experiment_changes_their_average_and_nothing_else(tmp_path):
    """--average-half-life: their moving average of G takes the decay of that half-life at their batch (as gan_zoo's
    EMA with no ramp-up), in their own optimizeParameters; without it their 0.999 stays."""
    from gan_zoo.ema import EMA

    patch, beta = pytorch_gan_zoo.average_patch(10_000, 32)
    assert beta == pytest.approx(EMA(torch.nn.Linear(1, 1), 10_000).decay(32, 10**9), abs=1e-15)
    script = """
import sys, types, torch
sys.path.insert(0, sys.argv[1])
sys.modules.setdefault("h5py", types.ModuleType("h5py"))
from models.progressive_gan import ProgressiveGAN
torch.manual_seed(0)
model = ProgressiveGAN(dimLatentVector=8, depthScale0=8, useGPU=False, dimOutput=1, miniBatchSize=4)
before = [p.detach().clone() for p in model.getOriginalAvgG().parameters()]
model.optimizeParameters(torch.randn(4, 1, 4, 4))
after = [p.detach() for p in model.getOriginalAvgG().parameters()]
new = [p.detach() for p in model.getOriginalG().parameters()]
betas = [((a - n) / (b - n)).flatten() for a, b, n in zip(after, before, new)]
betas = torch.cat([x[(b - n).abs().flatten() > 1e-3] for x, b, n in zip(betas, before, new)])
print(betas.median().item(), (betas - betas.median()).abs().max().item())
"""
    for patches, expected in ((pytorch_gan_zoo.PATCHES, 0.999), ([*pytorch_gan_zoo.PATCHES, patch], beta)):
        source = common.prepare(common.PYTORCH_GAN_ZOO, tmp_path / str(expected), patches)
        ran = subprocess.run([sys.executable, "-c", script, str(source)], capture_output=True, text=True, timeout=300)
        assert ran.returncode == 0, ran.stderr[-2000:]
        median, spread = map(float, ran.stdout.split())
        assert median == pytest.approx(expected, abs=1e-4) and spread < 1e-3, (expected, median, spread)


@pytest.mark.parametrize("harness", ["stylegan2_ada.py", "pytorch_gan_zoo.py"])
def test_an_output_folder_that_holds_a_run_is_refused(tmp_path, harness):
    (tmp_path / "ema").mkdir()
    Image.new("L", (32, 32)).save(tmp_path / "ema" / "00000.png")
    ran = subprocess.run([sys.executable, str(REPO / "benchmarks" / "peers" / harness), "--out", str(tmp_path),
                          "--smoke"], capture_output=True, text=True, timeout=300)
    assert ran.returncode == 2 and ran.stderr.strip() == \
        f"gan-zoo: error: --out {tmp_path} already holds a run (result.json or PNGs): give a new folder"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["00000.png", "ema"]  # nothing written
