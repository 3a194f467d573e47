"""Peak memory of one training epoch on a folder of images: gan_zoo's run against a plain PyTorch loop.

5,000 PNGs of 64x64 RGB (made once in --folder), DCGAN at width 64, batch 64, fp32, 2 loader workers, one epoch,
no metrics. Each side runs in its own process; its peak resident memory (the kernel's high-water mark of the
largest process, as `/usr/bin/time -v` reports it) and wall clock are printed side by side.

    python benchmarks/peak_memory.py
    python benchmarks/peak_memory.py --images 10000 --resolution 128
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_folder(folder: Path, images: int, resolution: int) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.glob("*.png"))) == images:
        return
    rng = np.random.default_rng(0)
    for i in range(images):  # smooth random images: PNG sizes of real photos, not of noise
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((resolution, resolution), Image.BILINEAR).save(folder / f"{i:05d}.png")


def plain_loop(folder: str, resolution: int, batch: int) -> None:
    """The reference: a Dataset that decodes each PNG when asked, the two steps and an EMA, nothing else."""
    import copy

    import torch
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from torchvision.transforms import v2

    from gan_zoo.networks.dcgan import Discriminator, Generator

    class Folder(Dataset):
        def __init__(self):
            self.files = sorted(Path(folder).glob("*.png"))
            self.transform = v2.Compose([v2.PILToTensor(), v2.Resize(resolution, antialias=True),
                                         v2.CenterCrop(resolution), v2.ToDtype(torch.float32, scale=True),
                                         v2.Normalize([0.5] * 3, [0.5] * 3)])

        def __len__(self):
            return len(self.files)

        def __getitem__(self, i):
            with Image.open(self.files[i]) as image:
                return self.transform(image.convert("RGB"))

    torch.manual_seed(0)
    g, d = Generator(resolution, 3, latent_dim=100, width=64), Discriminator(resolution, 3, width=64)
    ema = copy.deepcopy(g).requires_grad_(False)
    g_opt = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    softplus = torch.nn.functional.softplus
    for real in DataLoader(Folder(), batch_size=batch, shuffle=True, drop_last=True, num_workers=2):
        with torch.no_grad():
            fake = g(torch.randn(len(real), 100))
        d_loss = softplus(-d(real)).mean() + softplus(d(fake)).mean()
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        g_loss = softplus(-d(g(torch.randn(len(real), 100)))).mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        with torch.no_grad():
            for e, p in zip(ema.parameters(), g.parameters()):
                e.lerp_(p, 0.01)


def measure(command: list[str], cwd: str) -> tuple[float, float]:
    """(peak RSS in MiB, seconds) of a command run in its own process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(command)}\n{process.stderr.read()[-2000:]}")
    return usage.ru_maxrss / 1024, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--folder", default=None, help="where the PNGs are made (default: a temporary folder)")
    parser.add_argument("--plain", default=None, help=argparse.SUPPRESS)  # internal: run the plain loop on this folder
    args = parser.parse_args()
    if args.plain:
        return plain_loop(args.plain, args.resolution, args.batch)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder or Path(tmp) / "images")
        make_folder(folder, args.images, args.resolution)
        plain = measure([sys.executable, __file__, "--plain", str(folder), "--resolution", str(args.resolution),
                         "--batch", str(args.batch)], tmp)
        ours = measure([sys.executable, "-m", "gan_zoo.commands.train", "data=image_folder",
                        f"data.dataset.root={folder}", f"data.resolution={args.resolution}",
                        f"data.batch_size={args.batch}",
                        "trainer.max_epochs=1", "metrics=none", f"paths.experiments={tmp}/experiments",
                        f"paths.checkpoints={tmp}/checkpoints", f"paths.cache={tmp}/cache"], tmp)
    print(f"{args.images} PNGs {args.resolution}x{args.resolution} RGB, DCGAN width 64, batch {args.batch}, fp32, "
          "2 loader workers, one epoch")
    print("| run | peak RSS MiB | wall clock s |\n|---|---|---|")
    print(f"| plain PyTorch loop (decodes each file per item) | {plain[0]:.0f} | {plain[1]:.0f} |")
    print(f"| gan-zoo-train data=image_folder | {ours[0]:.0f} | {ours[1]:.0f} |")
    print(f"gan_zoo / plain peak memory: {ours[0] / plain[0]:.2f}")


if __name__ == "__main__":
    main()
