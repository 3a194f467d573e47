"""Morphing between two sets of images: pair start and end images, interpolate their latents, and evaluate the
generated intermediates against a real middle set (or against the start and end sets).

Pairing:
- `nearest`: a one-to-one matching of start and end images that minimises the total latent distance (the
  assignment problem, scipy's linear_sum_assignment; with sets of different sizes, min(n_start, n_end) pairs);
- `all`: every start image with every end image;
- a CSV file with columns `start,end` (file names or paths as projection recorded them, or 0-based indices).
"""
import csv
from dataclasses import dataclass
from pathlib import Path

import torch

from gan_zoo.contract import device_of
from gan_zoo.errors import UserError
from gan_zoo.latent.spaces import interpolate, render


@dataclass
class Pairs:
    start: list[int]  # indices into the start set
    end: list[int]  # indices into the end set


def _match(name: str, files: list[str], where: str) -> int:
    if name.isdigit() and int(name) < len(files):
        return int(name)
    hits = [i for i, f in enumerate(files) if f == name or Path(f).name == name]
    if len(hits) != 1:
        raise UserError(f"pairing CSV: {name!r} {'matches no' if not hits else 'matches several'} image of the "
                        f"{where} set (give a file name, a path as in its projection.csv, or an index)")
    return hits[0]


def check_pairing(pairing: str) -> None:
    """A UserError unless `pairing` is nearest, all, or an existing CSV file."""
    if pairing not in ("nearest", "all") and not Path(pairing).expanduser().is_file():
        raise UserError(f"pairing={pairing!r}: choose nearest, all, or a CSV file with columns start,end")


def pair(pairing: str, start: torch.Tensor, end: torch.Tensor, start_files: list[str], end_files: list[str]) -> Pairs:
    """Pairs of (start index, end index) by `pairing`: nearest, all, or a CSV file of start,end."""
    if pairing == "all":
        return Pairs([i for i in range(len(start)) for _ in range(len(end))], list(range(len(end))) * len(start))
    if pairing == "nearest":
        from scipy.optimize import linear_sum_assignment

        cost = torch.cdist(start.flatten(1).double(), end.flatten(1).double())
        rows, cols = linear_sum_assignment(cost.numpy())
        return Pairs(rows.tolist(), cols.tolist())
    check_pairing(pairing)
    path = Path(pairing).expanduser()
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"start", "end"} <= set(reader.fieldnames):
            raise UserError(f"pairing CSV '{path}' needs a header with columns start,end (got {reader.fieldnames})")
        rows = list(reader)
    if not rows:
        raise UserError(f"pairing CSV '{path}' holds no pairs")
    return Pairs([_match(r["start"].strip(), start_files, "start") for r in rows],
                 [_match(r["end"].strip(), end_files, "end") for r in rows])


@torch.no_grad()
def intermediates(generator, start: torch.Tensor, end: torch.Tensor, pairs: Pairs, ts: list[float], space: str,
                  method: str, batch_size: int = 64) -> torch.Tensor:
    """Images [pairs, T, C, H, W] at each t of `ts` between each pair's latents."""
    device = device_of(generator)
    latents = interpolate(start[pairs.start], end[pairs.end], torch.tensor(ts), method)  # [P, T, ...]
    images = torch.cat([render(generator, chunk.to(device), space).float().cpu()
                        for chunk in latents.flatten(0, 1).split(batch_size)])
    return images.unflatten(0, (len(pairs.start), len(ts)))
