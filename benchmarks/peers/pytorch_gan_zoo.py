"""facebookresearch/pytorch_GAN_zoo's PGAN trained on the comparison's data and budget, at compare/pggan's sizes and
growth schedule; 2,000 PNGs from its averaged generator and 2,000 from its raw one, scored under the comparison's
protocol.

    python benchmarks/peers/pytorch_gan_zoo.py --out experiments/peers/pgan_s0 --seed 0   # 45 kimg
    python benchmarks/peers/pytorch_gan_zoo.py --out /tmp/pgan_smoke --smoke                # a few steps, tiny

Their source comes from the pinned archive in ../shared/peers/ (or --checkout, a checkout at the pinned commit) and
is extracted into a scratch folder for the run (BSD-3-Clause); nothing of theirs is kept in this repository. It
trains through their own trainer, as their `train.py PGAN -c config.json` would build it
(models.trainer.progressive_gan_trainer.ProgressiveGANTrainer, no visualisation, no checkpoints), with the config:
- depthScales [64, 64, 64, 32] (4x4 .. 32x32), dimLatentVector 128, dimOutput 1, miniBatchSize 32: compare/pggan's
  latent 128 and fmap_base 1024, fmap_max 64 at batch 32.
- WGANGP, lambdaGP 10, epsilonD 0.001, baseLearningRate 1e-3 (their Adam's betas are (0, 0.99)), miniBatchStdDev:
  their defaults, the same as compare/pggan's.
- the growth of compare/pggan (ProgressiveGrowing, 2,000 images per fade and per stable phase) in their "custom"
  alpha mode: each scale trains for the batches gan_zoo spends at that level (63, 125, 125 batches, then the rest
  of the budget at 32x32) and alpha at each fading batch is 1 - gan_zoo's fade-in fraction at the same images seen
  (theirs weighs the old level).
- maxIterAtScale compensates their iteration count, which advances by len(loader) per epoch while the last,
  partial batch (5,000 = 156 x 32 + 8) is skipped: the number of optimizer steps is the budget's.
Their own choices kept (differences from gan_zoo's preset): G's moving average is 0.999 per step (a half-life of
693 steps = 22k images, no ramp-up) and restarts from G at each new scale; the optimizers restart at each scale;
losses are sums over the batch (the same ratios as gan_zoo's means); reals at the lower scales are PIL-bilinear
resizes of the 32x32 PNGs (gan_zoo: average pooling); minibatch stddev over groups of 4 with the unbiased variance.

Run-time patches to the extracted copy (torch 2.x and grayscale), each a textual substitution that must match the
pinned source:
1. models/progressive_gan.py: Adam betas [0, 0.99] -> [0.0, 0.99] (torch 2 wants both floats or both tensors).
2. models/progressive_gan.py, updateAlpha: the averaged generator's alpha set through getOriginalAvgG() (it used
   avgG.module, which exists only when the model is wrapped in DataParallel on a GPU).
3. models/trainer/gan_trainer.py: the images' Normalize has dimOutput channels (it had 3, which fails on
   grayscale tensors).
And one monkeypatch: where h5py is not installed, an empty module stands in for it (their HDF5 dataset imports it
at the top; a folder of PNGs never uses it).

An experiment, not their code's behaviour: `--average-half-life IMAGES` replaces their moving average's 0.999 per
step by the decay with that half-life at their batch (0.5 ** (32 / IMAGES); 10000 is compare/pggan's), one more
substitution in models/base_GAN.py; it still restarts at each scale, with no ramp-up. result.json's "variant" says so.

Training images/s: the wall clock of their trainOnEpoch calls (data loading and steps, without start-up and the
per-scale set-up), over the optimizer steps taken.
"""
import importlib.util
import math
import random
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import torch

from gan_zoo.commands.cli import report_user_error
from gan_zoo.errors import UserError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    PYTORCH_GAN_ZOO,
    Patch,
    export_data,
    finish,
    harness_arguments,
    output_folder,
    peak_memory_gib,
    prepare,
    reset_peak_memory,
)

SMOKE_IMAGES = 256  # --smoke trains on the first images only (writing 5,000 PNGs is a third of its time)
PATCHES = [
    Patch("models/progressive_gan.py", "betas=[0, 0.99]", "betas=[0.0, 0.99]", count=2),
    Patch("models/progressive_gan.py", "self.avgG.module.setNewAlpha(newAlpha)",
          "self.getOriginalAvgG().setNewAlpha(newAlpha)"),
    Patch("models/trainer/gan_trainer.py", "Transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))",
          "Transforms.Normalize((0.5,) * self.modelConfig.dimOutput, (0.5,) * self.modelConfig.dimOutput)"),
]


def average_patch(half_life_images: float, batch: int) -> tuple[Patch, float]:
    """The substitution that gives their generator average a half-life in images at `batch`; its decay per step."""
    beta = 0.5 ** (batch / half_life_images)
    return Patch("models/base_GAN.py", "avg_p.mul_(0.999).add_(0.001, p.data)",
                 f"avg_p.mul_({beta!r}).add_({1.0 - beta!r}, p.data)"), beta


def growth(kimg: float, batch: int, phase_images: int, scales: int) -> tuple[list[int], list[list], list[list]]:
    """compare/pggan's schedule in their terms: (optimizer steps per scale, iterAlphaJump, alphaJumpVals).
    As gan_zoo's ProgressiveGrowing: the images seen at a batch's start decide its level; level s >= 1 fades in over
    images ((2s - 1) P, 2s P) (at the fade's first image it is still level s - 1) and trains alone until (2s + 1) P."""
    total = math.ceil(kimg * 1000 / batch)  # gan_zoo stops after the batch that reaches the budget
    first = [0] + [(2 * s - 1) * phase_images // batch + 1 for s in range(1, scales)]  # a scale's first batch
    stable = [0] + [math.ceil(2 * s * phase_images / batch) for s in range(1, scales)]  # its first without fade
    if total <= stable[-1]:
        raise UserError(f"--kimg {kimg} ends before the growth does ({stable[-1] * batch} images)")
    steps = [end - start for start, end in zip(first, first[1:] + [total])]
    jumps, values = [[]], [[]]
    for s in range(1, scales):
        fade = range(first[s], stable[s])
        fraction = [(b * batch - (2 * s - 1) * phase_images) / phase_images for b in fade]  # gan_zoo's alpha
        jumps.append(list(range(len(fade) + 1)))
        values.append([1.0 - f for f in fraction] + [0.0])
    return steps, jumps, values


def their_iterations(steps: int, batches_per_epoch: int) -> int:
    """maxIterAtScale that gives `steps` optimizer steps: their index skips one per epoch boundary crossed."""
    return steps + (steps - 1) // batches_per_epoch


def config(kimg: float, batch: int, phase_images: int, depths: list[int], latent: int, images: int) -> tuple[dict, int]:
    """Their trainer's config at these sizes and compare/pggan's schedule (for `images` training images); the
    number of optimizer steps it makes."""
    steps, jumps, values = growth(kimg, batch, phase_images, len(depths))
    return {"depthScales": depths, "dimLatentVector": latent, "dimOutput": 1, "miniBatchSize": batch,
            "maxIterAtScale": [their_iterations(n, images // batch) for n in steps], "alphaJumpMode": "custom",
            "iterAlphaJump": jumps, "alphaJumpVals": values, "lossMode": "WGANGP", "lambdaGP": 10.0,
            "epsilonD": 0.001, "baseLearningRate": 1e-3, "miniBatchStdDev": True, "GDPP": False}, sum(steps)


def main():
    args = harness_arguments(__doc__, "pytorch_GAN_zoo", experiments=[
        (("--average-half-life",), dict(type=float, metavar="IMAGES", help="an experiment: their generator average "
                                        "with this half-life in images instead of their 0.999 per step"))])
    half_life = args.average_half_life
    if half_life is not None and not (math.isfinite(half_life) and half_life > 0):
        raise UserError(f"--average-half-life {half_life} must be a finite number of images above 0")
    if args.smoke:  # phases of 16 images at batch 8 (a fade is one batch at alpha 0.5): 3, 4, 4 and 2 steps
        settings, steps = config(0.104, 8, 16, [8, 8, 8, 8], 16, SMOKE_IMAGES)
        count = 64
    else:
        settings, steps = config(args.kimg, 32, 2000, [64, 64, 64, 32], 128, 5000)
        count = args.num_images
    patches, variant = PATCHES, None
    if half_life is not None:
        patch, beta = average_patch(half_life, settings["miniBatchSize"])
        patches, variant = [*PATCHES, patch], f"average half-life {half_life:g} images ({beta:.6f} a step)"
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    random.seed(args.seed)
    with tempfile.TemporaryDirectory() as temp:
        scratch = Path(args.scratch or temp)
        source = prepare(PYTORCH_GAN_ZOO, scratch, patches, args.archive, args.checkout)
        out = output_folder(args.out)  # made once the schedule and their source are there: a refused start leaves none
        data = export_data(scratch / "data", count=SMOKE_IMAGES if args.smoke else None)
        sys.path.insert(0, str(source))
        if importlib.util.find_spec("h5py") is None:
            sys.modules["h5py"] = types.ModuleType("h5py")
        from models.trainer.progressive_gan_trainer import ProgressiveGANTrainer

        trainer = ProgressiveGANTrainer(str(data), useGPU=False, visualisation=None, lossIterEvaluation=100,
                                        checkPointDir=None, config=settings)
        seconds, counts = [0.0] * len(settings["depthScales"]), [0] * len(settings["depthScales"])  # per scale
        epoch, optimize = trainer.trainOnEpoch, trainer.model.optimizeParameters

        def timed_epoch(loader, scale, **kwargs):
            start = time.perf_counter()
            try:
                return epoch(loader, scale, **kwargs)
            finally:
                seconds[scale] += time.perf_counter() - start

        def counted_step(*a, **k):
            counts[len(trainer.model.getOriginalG().toRGBLayers) - 1] += 1
            return optimize(*a, **k)

        trainer.trainOnEpoch, trainer.model.optimizeParameters = timed_epoch, counted_step
        reset_peak_memory()
        start = time.perf_counter()
        trainer.train()
        wall, peak = time.perf_counter() - start, peak_memory_gib()
    model, batch = trainer.model, settings["miniBatchSize"]
    if sum(counts) != steps:
        sys.exit(f"error: their trainer took {sum(counts)} steps, the schedule {steps}")
    samplers = {name: (lambda n, average=average: model.test(model.buildNoiseData(n)[0], getAvG=average))
                for name, average in (("ema", True), ("raw", False))}
    result = {"reference": PYTORCH_GAN_ZOO.name, "commit": PYTORCH_GAN_ZOO.commit, "seed": args.seed,
              **({"variant": variant} if variant else {}), "kimg": steps * batch / 1000, "smoke": args.smoke,
              "train_images_per_sec": steps * batch / sum(seconds), "timed_images": steps * batch,
              "timed_seconds": sum(seconds), "wall_seconds_with_startup": wall, "peak_memory_gib": peak,
              "per_scale": [{"resolution": 4 * 2**s, "steps": n, "seconds": t, "images_per_sec": n * batch / t}
                            for s, (n, t) in enumerate(zip(counts, seconds))],
              "g_params": sum(p.numel() for p in model.getOriginalG().parameters()),
              "d_params": sum(p.numel() for p in model.getOriginalD().parameters()), "config": settings}
    finish(out, result, samplers, count, args.smoke, not args.no_score)

if __name__ == "__main__":
    with report_user_error():  # bad input: one line, exit 2
        main()
