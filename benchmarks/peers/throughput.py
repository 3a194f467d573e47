"""Training speed of gan_zoo beside the reference implementations, in one run on this machine: img/s of each, the
median of alternated rounds, and the ratios gan_zoo / reference.

    python benchmarks/peers/throughput.py                         # StyleGAN and PGGAN, 3 rounds, 16 timed batches
    python benchmarks/peers/throughput.py --models pggan --rounds 5 --steps 32
    python benchmarks/peers/throughput.py --threads 1    # on a machine others share: no waits between 2 threads

Equal settings: the embedded data at 32x32, batch 32, fp32 on both sides; gan_zoo's networks and losses are its
comparison presets', composed from conf/ as gan-zoo-train composes them, the references' are their harnesses'
(benchmarks/peers/stylegan2_ada.py, pytorch_gan_zoo.py: the same sizes). Then gan_zoo again in trainer.precision=auto
(bf16-mixed where the CPU has bf16 arithmetic), the references staying in fp32 (stylegan2-ada's mixed precision is
fp16 for CUDA; pytorch_GAN_zoo has none).
- StyleGAN: stylegan2-ada-pytorch's own training_loop (its phases Gmain, Greg, Dmain, Dreg with lazy regularization,
  R1 every 16 and path length every 4, G_ema, its data loader), timed by its own per-tick clock: tick 0 is one batch,
  tick 1 `--steps` batches of warm-up, tick 2 `--steps` timed batches (maintenance excluded). gan_zoo:
  experiment=compare/stylegan_sg2ada (z = w = 128, 2 mapping layers, channels 128/128/128/64, FIR, R1 every 16, path
  length every 4) through Lightning, `--warmup` batches then `--steps` timed (benchmarks/timing.py); the timed
  windows hold the same number of R1 and path-length passes.
- PGGAN at 32x32, its last level (no fade): pytorch_GAN_zoo's ProgressiveGAN built by its trainer with the harness's
  config and grown by its addScale to 32x32; its optimizeParameters (D step with WGAN-GP and drift, G step, averaged G)
  on batches of the embedded images, `--warmup` untimed then `--steps` timed. gan_zoo: experiment=compare/pggan at
  its last level (+model.module.schedule.start_level=3).
"""
import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torch.utils.data import DataLoader, TensorDataset

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
import pytorch_gan_zoo  # noqa: E402
import stylegan2_ada  # noqa: E402
from common import PYTORCH_GAN_ZOO, STYLEGAN2_ADA, embedded_pixels, export_data, prepare  # noqa: E402
from timing import fit  # noqa: E402

from gan_zoo.commands.cli import CONFIG_DIR, report_user_error  # noqa: E402
from gan_zoo.commands.config_checks import auto_precision  # noqa: E402

PRESETS = {"stylegan": ["experiment=compare/stylegan_sg2ada"],
           "pggan": ["experiment=compare/pggan", "+model.module.schedule.start_level=3"]}


def zoo_module(overrides: list[str]):
    """gan_zoo's GANModule of a preset, built as gan-zoo-train builds it (networks sized by the data)."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    sizes = dict(resolution=cfg.data.resolution, channels=cfg.data.channels)
    return instantiate(
        cfg.model.module, generator=instantiate(cfg.model.generator, **sizes),
        discriminator=instantiate(cfg.model.discriminator, **sizes), objective=instantiate(cfg.loss.objective),
        regularizers={name: instantiate(r) for name, r in (cfg.loss.regularizers or {}).items()},
        g_regularizers={name: instantiate(r) for name, r in (cfg.loss.get("g_regularizers") or {}).items()})


def zoo_rate(model: str, images: torch.Tensor, precision: str, steps: int, warmup: int, batch: int) -> float:
    module = zoo_module(PRESETS[model])
    loader = DataLoader(TensorDataset(images), batch_size=batch, shuffle=True, drop_last=True)
    timer = fit(module, loader, steps, warmup, precision)
    return steps * batch / (timer.end - timer.start)


class StyleGAN2ADA:
    """stylegan2-ada-pytorch's training loop at the harness's settings, timed by its per-tick clock."""

    def __init__(self, source: Path, data: Path, scratch: Path):
        sys.path.insert(0, str(source))
        import train
        from torch_utils import training_stats
        from training import training_loop

        training_stats.init_multiprocessing(rank=0, sync_device=None)
        self.train, self.loop, self.data, self.scratch, self.runs = train, training_loop, data, scratch, 0

    def rate(self, steps: int, batch: int) -> float:
        self.runs += 1
        run_dir = self.scratch / f"sg2ada_run{self.runs}"
        run_dir.mkdir()
        images = batch * (1 + 2 * steps)  # tick 0: one batch; tick 1: warm-up; tick 2: timed
        settings = stylegan2_ada.options(self.train, self.data, run_dir, (images - 0.5) / 1000, 0,
                                         stylegan2_ada.SIZES, batch)
        settings.kimg_per_tick = (steps * batch - 0.5) / 1000
        self.loop.training_loop(rank=0, **settings)
        ticks = (run_dir / "stats.jsonl").read_text().splitlines()
        last, before = json.loads(ticks[-1]), json.loads(ticks[-2])
        timed = 1000 * (last["Progress/kimg"]["mean"] - before["Progress/kimg"]["mean"])
        return timed / last["Timing/sec_per_tick"]["mean"]


class PGAN:
    """pytorch_GAN_zoo's PGAN at 32x32: its optimizeParameters on batches of the embedded images."""

    def __init__(self, source: Path, data: Path):
        sys.path.insert(0, str(source))
        if "h5py" not in sys.modules:
            try:
                import h5py  # noqa: F401
            except ImportError:
                sys.modules["h5py"] = types.ModuleType("h5py")  # as the harness: unused for PNG folders
        from models.trainer.progressive_gan_trainer import ProgressiveGANTrainer

        self.trainer_class, self.data = ProgressiveGANTrainer, data

    def rate(self, images: torch.Tensor, steps: int, warmup: int, batch: int) -> float:
        settings, _ = pytorch_gan_zoo.config(45, batch, 2000, [64, 64, 64, 32], 128, len(images))
        trainer = self.trainer_class(str(self.data), useGPU=False, visualisation=None, checkPointDir=None,
                                     config=settings)
        for depth in settings["depthScales"][1:]:  # grown as their train() grows it
            trainer.model.addScale(depth)
        order = torch.randperm(len(images))
        batches = [images[order[i * batch:(i + 1) * batch]] for i in range(warmup + steps)]
        for real in batches[:warmup]:
            trainer.model.optimizeParameters(real)
        start = time.perf_counter()
        for real in batches[warmup:]:
            trainer.model.optimizeParameters(real)
        return steps * batch / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["stylegan", "pggan"], choices=list(PRESETS))
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds; the median is shown")
    parser.add_argument("--steps", type=int, default=16, help="timed batches (a multiple of 16: whole R1 intervals)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed batches before them (gan_zoo, PGAN)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's); 1 steadies a shared machine")
    parser.add_argument("--stylegan2-ada", dest="sg2ada", help="its pinned archive (default: ../shared/peers/)")
    parser.add_argument("--pytorch-gan-zoo", dest="pgan", help="its pinned archive (default: ../shared/peers/)")
    args = parser.parse_args()
    logging.getLogger("lightning").setLevel(logging.ERROR)
    if args.threads:
        torch.set_num_threads(args.threads)
    auto = auto_precision("cpu")
    pixels = embedded_pixels(32)
    images = pixels.float() / 127.5 - 1  # [5000, 1, 32, 32]: the PNGs' values, as both references read them
    rates = {}  # (model, side) -> [img/s per round]
    with tempfile.TemporaryDirectory() as temp:
        scratch = Path(temp)
        data = export_data(scratch / "data")
        sides = {}
        if "stylegan" in args.models:
            reference = StyleGAN2ADA(prepare(STYLEGAN2_ADA, scratch, stylegan2_ada.PATCHES, args.sg2ada), data,
                                     scratch)
            sides["stylegan"] = lambda: reference.rate(args.steps, args.batch)
        if "pggan" in args.models:
            pgan = PGAN(prepare(PYTORCH_GAN_ZOO, scratch, pytorch_gan_zoo.PATCHES, args.pgan), data)
            sides["pggan"] = lambda: pgan.rate(images, args.steps, args.warmup, args.batch)
        for _ in range(args.rounds):
            for model, reference_rate in sides.items():
                torch.manual_seed(0)
                rates.setdefault((model, "reference"), []).append(reference_rate())
                for precision in ("32-true", auto):
                    torch.manual_seed(0)
                    rate = zoo_rate(model, images, precision, args.steps, args.warmup, args.batch)
                    rates.setdefault((model, precision), []).append(rate)
                print(" ".join(f"{m} {s} {v[-1]:.1f}" for (m, s), v in rates.items() if m == model), flush=True)
    print(f"\nbatch {args.batch}, 32x32x1, {args.steps} timed batches, {torch.get_num_threads()} threads, median of "
          f"{args.rounds} alternated rounds (img/s); trainer.precision=auto is {auto} here")
    print(f"| model | reference fp32 | gan_zoo 32-true | gan_zoo {auto} | gan_zoo / reference, fp32 | "
          f"gan_zoo {auto} / reference fp32 | rounds (reference; gan_zoo 32-true; {auto}) |")
    print("|---|---|---|---|---|---|---|")
    for model in sides:
        ref, fp32, mixed = (rates[(model, side)] for side in ("reference", "32-true", auto))
        median = [statistics.median(v) for v in (ref, fp32, mixed)]
        each = "; ".join(", ".join(f"{x:.1f}" for x in v) for v in (ref, fp32, mixed))
        name = {"stylegan": "StyleGAN (stylegan2-ada-pytorch)", "pggan": "PGGAN 32x32 (pytorch_GAN_zoo)"}[model]
        print(f"| {name} | {median[0]:.1f} | {median[1]:.1f} | {median[2]:.1f} | {median[1] / median[0]:.2f}x | "
              f"{median[2] / median[0]:.2f}x | {each} |")


if __name__ == "__main__":
    with report_user_error():  # bad input (a source, an --out folder): one line, exit 2
        main()
