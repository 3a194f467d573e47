"""Training throughput of the zoo's models side by side at 32x32 and 64x64 (CPU, or a GPU with --device cuda).

Each model with its default loss and the embedded-preset widths (conf/experiment/*_embedded.yaml); PGGAN at
its final level. Printed as one table.

    python benchmarks/zoo_throughput.py
    python benchmarks/zoo_throughput.py --resolutions 32 --precisions 32-true bf16-mixed --rounds 3
    python benchmarks/zoo_throughput.py --resolutions 32 --channels 1 --phases   # where a batch's time goes
    python benchmarks/zoo_throughput.py --resolutions 32 --channels 1 --precisions 32-true auto --before --rounds 3

`--precisions auto` is what `trainer.precision=auto` picks on this machine (bf16-mixed with bf16 arithmetic).
"""
import argparse
import logging
import statistics

import torch
from timing import fit
from torch.utils.data import DataLoader, TensorDataset

from gan_zoo.commands.config_checks import auto_precision
from gan_zoo.gan_module import GANModule
from gan_zoo.losses import NonSaturating, Wasserstein
from gan_zoo.networks import dcgan, progan, stylegan
from gan_zoo.regularizers import R1, Drift, GradientPenalty, PathLength
from gan_zoo.schedules import ProgressiveGrowing


def adam(lr, betas):
    return lambda params: torch.optim.Adam(params, lr=lr, betas=betas)


def stylegan_module(resolution: int, channels: int, conv_clamp=None, resample="bilinear", fused=None,
                    channels_last=True):
    """StyleGAN at the embedded preset's widths with its loss (R1 every 16, path length every 4); the defaults are
    the model's training paths (fused=True, channels_last=False: before 2026-11; resample="fir": StyleGAN2's)."""
    generator = stylegan.Generator(resolution, channels, 128, 128, 4, fmap_base=2048, fmap_max=128,
                                   conv_clamp=conv_clamp, resample=resample)
    for module in generator.modules():
        if isinstance(module, stylegan.ModulatedConv2d):
            module.fused = fused
    return GANModule(generator, stylegan.Discriminator(resolution, channels, fmap_base=2048, fmap_max=128,
                                                       resample=resample),
                     NonSaturating(), adam(2.5e-3, (0.0, 0.99)), adam(2.5e-3, (0.0, 0.99)), {"r1": R1(10.0, 16)},
                     {"pl": PathLength()}, channels_last=channels_last)


PRESET = "StyleGAN, resample=fir (the comparison preset's)"
BILINEAR = "StyleGAN, bilinear (the model's default)"


def models(resolution: int, channels: int, conv_clamp: float | None = None, before: bool = False):
    """(name, builder) of each model at the embedded presets' widths; `conv_clamp` for StyleGAN in 16-mixed;
    `before`: also StyleGAN as it trained before 2026-11, for the ratio in the same run."""
    yield "DCGAN (width 64)", lambda: GANModule(
        dcgan.Generator(resolution, channels), dcgan.Discriminator(resolution, channels), NonSaturating(),
        adam(2e-4, (0.5, 0.999)), adam(2e-4, (0.5, 0.999)))
    yield "PGGAN (final level)", lambda: GANModule(
        progan.Generator(resolution, channels, 128, fmap_base=1024, fmap_max=64),
        progan.Discriminator(resolution, channels, fmap_base=1024, fmap_max=64), Wasserstein(),
        adam(1e-3, (0.0, 0.99)), adam(1e-3, (0.0, 0.99)), {"gp": GradientPenalty(), "drift": Drift()},
        schedule=ProgressiveGrowing(images_per_stable=10**12, start_level=progan._levels(resolution)))
    yield PRESET, lambda: stylegan_module(resolution, channels, conv_clamp, resample="fir")
    yield BILINEAR, lambda: stylegan_module(resolution, channels, conv_clamp)
    if before:
        yield "StyleGAN before 2026-11 (fused, bilinear, NCHW)", lambda: stylegan_module(
            resolution, channels, conv_clamp, resample="bilinear", fused=True, channels_last=False)


def cpu_features() -> str:
    """The CPU's bf16 support, as Linux reports it: avx512_bf16 / amx_bf16 make bf16 matmuls fast on CPU."""
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return "unknown"
    return ", ".join(f for f in ("avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in flags) or "no avx512"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--precisions", nargs="+", default=["32-true"], help="e.g. 32-true bf16-mixed")
    parser.add_argument("--rounds", type=int, default=1, help="measurements of each, alternated; the median is shown")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--compile", action="store_true", help="torch.compile G and D, as trainer.compile=true does")
    parser.add_argument("--before", action="store_true", help="also StyleGAN as it trained before 2026-11")
    parser.add_argument("--phases", action="store_true", help="also print ms per batch of each phase (last round)")
    args = parser.parse_args()
    accelerator = "gpu" if args.device == "cuda" else "cpu"
    args.precisions = [auto_precision(accelerator) if p == "auto" else p for p in args.precisions]
    logging.getLogger("lightning").setLevel(logging.ERROR)
    print(f"batch {args.batch}, {args.channels} channels, {args.steps} timed steps, {args.device}, "
          f"{'torch.compile, ' if args.compile else ''}"
          f"{torch.get_num_threads()} threads, CPU: {cpu_features()}, median of {args.rounds} alternated rounds")
    rates, phases, warmups = {}, {}, {}  # (model, resolution, precision) -> [img/s]; -> {phase: ms per batch}
    for resolution in args.resolutions:
        n = args.batch * (args.steps + args.warmup)
        loader = DataLoader(TensorDataset(torch.rand(n, args.channels, resolution, resolution) * 2 - 1),
                            batch_size=args.batch, drop_last=True)
        for _ in range(args.rounds):
            for name, build in models(resolution, args.channels, before=args.before):
                for precision in args.precisions:
                    torch.manual_seed(0)
                    key = (name, resolution, precision)
                    module = build()
                    if args.compile:
                        module.generator.compile()
                        module.discriminator.compile()
                    timer = fit(module, loader, args.steps, args.warmup, precision, accelerator, args.phases)
                    warmups.setdefault(key, []).append(timer.warmup_seconds())
                    rates.setdefault(key, []).append(args.steps * args.batch / (timer.end - timer.start))
                    phases[key] = timer.breakdown(args.steps) if args.phases else {}
    ratio = len(args.precisions) == 2
    print("| model | resolution | " + " | ".join(f"{p} img/s" for p in args.precisions)
          + (f" | {args.precisions[1]} / {args.precisions[0]}" if ratio else "")
          + f" | warm-up s ({args.warmup} batches) |")
    print("|---|---|" + "---|" * (len(args.precisions) + ratio + 1))
    for name, _ in models(args.resolutions[0], args.channels, before=args.before):
        for resolution in args.resolutions:
            medians = [statistics.median(rates[(name, resolution, p)]) for p in args.precisions]
            cells = " | ".join(f"{m:.1f}" for m in medians) + (f" | {medians[1] / medians[0]:.2f}x" if ratio else "")
            warmup = [statistics.median(warmups[(name, resolution, p)]) for p in args.precisions]
            cells += " | " + " / ".join(f"{w:.1f}" for w in warmup)
            print(f"| {name} | {resolution}x{resolution} | {cells} |", flush=True)
    print_ratios(rates, args.resolutions, args.precisions)
    if args.phases:
        print_phases(phases)


def print_ratios(rates: dict, resolutions, precisions) -> None:
    """The ratios the speed targets are stated in, from this run's medians."""
    median = {key: statistics.median(values) for key, values in rates.items()}
    before, dc, pg = "StyleGAN before 2026-11 (fused, bilinear, NCHW)", "DCGAN (width 64)", "PGGAN (final level)"
    for resolution in resolutions:
        for p in precisions:
            parts = [f"StyleGAN {kind} / DCGAN {median[(style, resolution, p)] / median[(dc, resolution, p)]:.3f}"
                     for kind, style in (("fir", PRESET), ("bilinear", BILINEAR))]
            parts.append(f"PGGAN / DCGAN {median[(pg, resolution, p)] / median[(dc, resolution, p)]:.3f}")
            if (before, resolution, precisions[0]) in median:
                parts += [f"StyleGAN {kind} / StyleGAN before in {precisions[0]} "
                          f"{median[(style, resolution, p)] / median[(before, resolution, precisions[0])]:.2f}x"
                          for kind, style in (("fir", PRESET), ("bilinear", BILINEAR))]
            print(f"{resolution}x{resolution} {p}: " + ", ".join(parts))


def print_phases(phases: dict) -> None:
    """One row per model, resolution and precision: ms per batch of each phase and its share of the batch."""
    names = list(dict.fromkeys(n for ms in phases.values() for n in ms))
    print("\nms per batch (share of the batch); a lazy regularizer amortized over its interval")
    print("| model | resolution | precision | " + " | ".join(names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    for (name, resolution, precision), ms in phases.items():
        total = sum(ms.values())
        cells = " | ".join(f"{ms[n]:.0f} ({100 * ms[n] / total:.0f}%)" if n in ms else "" for n in names)
        print(f"| {name} | {resolution}x{resolution} | {precision} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
