"""Projecting a folder of images, and what a projection leaves in its folder: latents.pt, projection.png (target |
reconstruction pairs) and projection.csv (per image: file, distance at the start and at the end, MSE, PSNR)."""
import csv
import io
import math
from pathlib import Path

import torch
from torchvision.utils import make_grid

from gan_zoo.data.image_folder import read_images
from gan_zoo.files import save_png, write_text
from gan_zoo.latent.spaces import check_space, save_latents


def pairs_grid(targets: torch.Tensor, reconstructions: torch.Tensor, rows: int, columns: int = 4) -> torch.Tensor:
    """A grid of `rows` pairs, `columns` pairs per line: target, then its reconstruction."""
    n = min(rows, len(targets))
    pairs = torch.stack([targets[:n], reconstructions[:n]], 1).flatten(0, 1)  # t0 r0 t1 r1 ...
    return make_grid(pairs, nrow=2 * columns, normalize=True, value_range=(-1, 1), padding=2)


def psnr(images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB of images in [-1, 1] (peak-to-peak 2)."""
    mse = (images.clamp(-1, 1) - targets).square().flatten(1).mean(1)
    return 10 * torch.log10(4.0 / mse.clamp_min(1e-12))


def project_folder(generator, images: str, projector, out: str | None = None, rows: int = 16, source: str = "",
                   progress: bool = True):
    """Project every readable image of a folder (or one file) with a `Projector` (its space checked first, before
    any reading); with `out`, write latents.pt, projection.png and projection.csv there (`source`: where the
    generator came from, recorded in latents.pt). Returns (Projection, files)."""
    check_space(generator, projector.space)
    targets, files = read_images(images, generator.resolution, generator.channels)
    return project_images(generator, targets, files, projector, out, rows, source, progress), files


def project_images(generator, targets: torch.Tensor, files: list, projector, out: str | None = None, rows: int = 16,
                   source: str = "", progress: bool = True):
    """project_folder for images already read ([N, C, R, R] in [-1, 1], and the files they came from)."""
    from tqdm import tqdm

    # counts optimisation steps (every batch of images takes projector.steps of them), so it moves from the start
    bar = tqdm(total=projector.total_steps(len(targets)), desc=f"projecting {len(targets)} images into "
               f"{projector.space}", unit="step", dynamic_ncols=True, disable=not progress)
    result = projector(generator, targets, progress=bar.update)
    bar.close()
    if out is not None:
        write_projection(out, result, targets, files, generator, source, rows)
    return result


def write_projection(out, result, targets: torch.Tensor, files: list, generator, source: str, rows: int = 16) -> Path:
    out = Path(out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    save_latents(out / "latents.pt", result.latents, result.space, generator, source, files, result.distances,
                 result.noise)
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
