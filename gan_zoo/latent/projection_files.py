"""What a projection leaves in its folder: latents.pt, projection.png (target | reconstruction pairs) and
projection.csv (per image: file, distance at the start and at the end, MSE, PSNR)."""
import csv
import io
import math
from pathlib import Path

import torch
from torchvision.utils import make_grid

from gan_zoo.files import save_png, write_text
from gan_zoo.latent.spaces import save_latents


def pairs_grid(targets: torch.Tensor, reconstructions: torch.Tensor, rows: int, columns: int = 4) -> torch.Tensor:
    """A grid of `rows` pairs, `columns` pairs per line: target, then its reconstruction."""
    n = min(rows, len(targets))
    pairs = torch.stack([targets[:n], reconstructions[:n]], 1).flatten(0, 1)  # t0 r0 t1 r1 ...
    return make_grid(pairs, nrow=2 * columns, normalize=True, value_range=(-1, 1), padding=2)


def psnr(images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB of images in [-1, 1] (peak-to-peak 2)."""
    mse = (images.clamp(-1, 1) - targets).square().flatten(1).mean(1)
    return 10 * torch.log10(4.0 / mse.clamp_min(1e-12))


def write_projection(out, result, targets: torch.Tensor, files: list, loaded, rows: int = 16) -> Path:
    out = Path(out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    save_latents(out / "latents.pt", result.latents, result.space, loaded.generator, loaded.source, files,
                 result.distances, result.noise)
    save_png(pairs_grid(targets, result.reconstructions, rows), out / "projection.png", "projection grid")
    mse = (result.reconstructions.clamp(-1, 1) - targets).square().flatten(1).mean(1)
    values = psnr(result.reconstructions, targets)
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["file", "start_distance", "distance", "mse", "psnr_db"])
    for i, file in enumerate(files):
        writer.writerow([str(file), f"{result.start_distances[i]:.6g}", f"{result.distances[i]:.6g}",
                         f"{mse[i]:.6g}", f"{values[i]:.2f}" if math.isfinite(values[i]) else "inf"])
    write_text(out / "projection.csv", table.getvalue(), "projection table")
    return out
