"""DCGAN training throughput: gan_zoo (Lightning, the shared step) vs. a plain PyTorch loop.

Same networks, data, batch, resolution, optimizers, objective and EMA; the two are run alternately
in one invocation, `--rounds` times each, and the median images/s of each is compared. Warm-up
batches are not timed. Checkpointing, sample grids, loggers and the progress bar are off in both.

    python benchmarks/dcgan_throughput.py                    # 64x64, batch 64, fp32 and bf16, CPU
    python benchmarks/dcgan_throughput.py --resolution 32 --precision 32
"""
import argparse
import logging
import statistics
import time

import torch
from timing import fit_images_per_second
from torch.utils.data import DataLoader

from gan_zoo.data.embedded import EmbeddedFashionMNIST
from gan_zoo.ema import EMA
from gan_zoo.gan_module import GANModule
from gan_zoo.losses import NonSaturating
from gan_zoo.networks.dcgan import Discriminator, Generator


def build(args):
    torch.manual_seed(0)
    g = Generator(args.resolution, args.channels, latent_dim=100, width=args.width)
    d = Discriminator(args.resolution, args.channels, width=args.width)
    return g, d


def adam(params):
    return torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999))


def loader(dataset, batch):
    return DataLoader(dataset, batch_size=batch, shuffle=True, drop_last=True, num_workers=0)


def plain_loop(args, dataset, bf16: bool) -> float:
    g, d = build(args)
    ema = EMA(g, half_life_images=10_000)
    g_opt, d_opt = adam(g.parameters()), adam(d.parameters())
    objective = NonSaturating()
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
    images_seen, start = 0, None
    for i, (real, _) in enumerate(loader(dataset, args.batch)):
        if i == args.warmup:
            start = time.perf_counter()
        if i == args.warmup + args.steps:
            break
        n = real.shape[0]
        # D step (G frozen)
        g.requires_grad_(False)
        with torch.no_grad(), autocast:
            fake = g(torch.randn(n, 100))
        with autocast:
            d_loss = objective.d_loss(d(real), d(fake))
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        g.requires_grad_(True)
        # G step (D frozen)
        d.requires_grad_(False)
        with autocast:
            g_loss = objective.g_loss(d(g(torch.randn(n, 100))))
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        d.requires_grad_(True)
        ema.update(g, n, images_seen)
        images_seen += n
    return args.steps * args.batch / (time.perf_counter() - start)


def gan_zoo_run(args, dataset, bf16: bool) -> float:
    g, d = build(args)
    module = GANModule(g, d, NonSaturating(), adam, adam, ema_half_life_images=10_000)
    return fit_images_per_second(module, loader(dataset, args.batch), args.steps, args.warmup,
                                 precision="bf16-mixed" if bf16 else "32-true")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--width", type=int, default=64, help="DCGAN width (64 = the paper's)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="timed batches per run")
    parser.add_argument("--warmup", type=int, default=2, help="untimed batches per run")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each, alternated")
    parser.add_argument("--precision", choices=["32", "bf16", "both"], default="both")
    args = parser.parse_args()
    logging.getLogger("lightning").setLevel(logging.ERROR)
    dataset = EmbeddedFashionMNIST(args.resolution, args.channels)
    print(f"DCGAN {args.resolution}x{args.resolution}x{args.channels}, width {args.width}, batch {args.batch}, "
          f"{args.steps} timed steps x {args.rounds} rounds, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| precision | plain PyTorch img/s | gan_zoo img/s | gan_zoo / plain |")
    print("|---|---|---|---|")
    for bf16 in {"32": [False], "bf16": [True], "both": [False, True]}[args.precision]:
        plain, ours = [], []
        for _ in range(args.rounds):
            plain.append(plain_loop(args, dataset, bf16))
            ours.append(gan_zoo_run(args, dataset, bf16))
        p, o = statistics.median(plain), statistics.median(ours)
        print(f"| {'bf16 autocast' if bf16 else 'fp32'} | {p:.1f} | {o:.1f} | {o / p:.3f} |", flush=True)


if __name__ == "__main__":
    main()
