"""Projection throughput: images projected per second by batch size, and the speed-up of batching over one
image at a time, measured side by side in one process (median of --rounds).

    python benchmarks/projection_throughput.py                              # DCGAN and StyleGAN (embedded presets)
    python benchmarks/projection_throughput.py --steps 1000 --batch-sizes 1 8 32 64 --device cuda

The networks are the embedded presets' architectures at 32x32 (random weights: the cost of a step does not
depend on the values); the targets are the networks' own images. Figures are for `--steps` steps, extrapolated
to 1000 steps when --steps is smaller (the cost per step is constant).
"""
import argparse
import statistics
import time

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from gan_zoo.commands.cli import CONFIG_DIR
from gan_zoo.latent.projection import Projector
from gan_zoo.latent.spaces import render

PRESETS = {"dcgan": ("compare/dcgan", "z"), "stylegan": ("compare/stylegan", "w"),
           "stylegan_w_plus": ("compare/stylegan", "w_plus"), "pggan": ("compare/pggan", "z")}


def build(preset: str, device: str) -> torch.nn.Module:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[f"experiment={preset}"])
    generator = instantiate(cfg.model.generator, resolution=cfg.data.resolution, channels=cfg.data.channels)
    if hasattr(generator, "mapping"):  # a tracked average w, as after training
        with torch.no_grad():
            generator.w_avg.copy_(generator.mapping(torch.randn(1000, generator.latent_dim)).mean(0))
    return generator.eval().to(device)


def seconds(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["dcgan", "stylegan"], choices=sorted(PRESETS))
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 4, 16, 64])
    parser.add_argument("--steps", type=int, default=100, help="steps timed (figures are per 1000 steps)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {torch.get_num_threads()} threads"
    print(f"{name}; {args.steps} steps timed, median of {args.rounds}; images/s at 1000 steps")
    print("| model | space | batch | seconds per batch (1000 steps) | images/s | vs batch 1 |")
    print("|---|---|---|---|---|---|")
    for model in args.models:
        preset, space = PRESETS[model]
        generator = build(preset, args.device)
        largest = max(args.batch_sizes)
        z = torch.randn(largest, generator.latent_dim, generator=torch.Generator().manual_seed(0)).to(args.device)
        with torch.no_grad():
            targets = render(generator, z, "z")
        base = None
        for batch in args.batch_sizes:
            t = seconds(lambda: Projector(space, steps=args.steps, batch_size=batch)(generator, targets[:batch]),
                        args.rounds) * 1000 / args.steps
            rate = batch / t
            base = base or rate
            print(f"| {model} | {space} | {batch} | {t:.2f} | {rate:.2f} | {rate / base:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
