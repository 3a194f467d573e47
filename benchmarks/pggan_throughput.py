"""PGGAN training throughput per resolution (each level trained alone), printed as a table.

    python benchmarks/pggan_throughput.py                     # up to 64x64 on CPU, the pggan_embedded widths
    python benchmarks/pggan_throughput.py --resolution 256 --fmap-base 8192 --fmap-max 512 --device cuda
"""
import argparse
import logging

import torch
from timing import fit_images_per_second
from torch.utils.data import DataLoader, TensorDataset

from gan_zoo.gan_module import GANModule
from gan_zoo.losses import Wasserstein
from gan_zoo.networks.progan import Discriminator, Generator
from gan_zoo.regularizers import Drift, GradientPenalty
from gan_zoo.schedules import ProgressiveGrowing


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--fmap-base", type=int, default=1024)
    parser.add_argument("--fmap-max", type=int, default=64)
    parser.add_argument("--latent-dim", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    logging.getLogger("lightning").setLevel(logging.ERROR)
    data = TensorDataset(torch.rand(args.batch * (args.steps + args.warmup), args.channels, args.resolution,
                                    args.resolution) * 2 - 1)
    loader = DataLoader(data, batch_size=args.batch, drop_last=True)
    print(f"PGGAN to {args.resolution}x{args.resolution}x{args.channels}, fmap_base {args.fmap_base}, fmap_max "
          f"{args.fmap_max}, batch {args.batch}, WGAN-GP + drift, {args.device}, {torch.get_num_threads()} threads")
    print("| level | resolution | img/s |")
    print("|---|---|---|")
    g0 = Generator(args.resolution, args.channels, args.latent_dim, args.fmap_base, args.fmap_max)
    for level in range(g0.max_level + 1):
        torch.manual_seed(0)
        g = Generator(args.resolution, args.channels, args.latent_dim, args.fmap_base, args.fmap_max)
        d = Discriminator(args.resolution, args.channels, args.fmap_base, args.fmap_max)
        adam = lambda params: torch.optim.Adam(params, lr=1e-3, betas=(0.0, 0.99))  # noqa: E731
        module = GANModule(g, d, Wasserstein(), adam, adam, {"gp": GradientPenalty(), "drift": Drift()},
                           schedule=ProgressiveGrowing(images_per_stable=10**12, start_level=level))
        rate = fit_images_per_second(module, loader, args.steps, args.warmup,
                                     accelerator="gpu" if args.device == "cuda" else "cpu")
        print(f"| {level} | {4 * 2**level}x{4 * 2**level} | {rate:.1f} |", flush=True)


if __name__ == "__main__":
    main()
