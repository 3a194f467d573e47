"""Precision and recall (Kynkaanniemi et al. 2019) and density and coverage (Naeem et al. 2020), from the
features the FID evaluation already extracted.

Notation (code -> paper): real features X_i (i < N), fake features Y_j (j < M); `real_radius[i]` = distance
from X_i to its k-th nearest other real point, NND_k(X_i); `fake_radius[j]` likewise within the fakes;
B(x, r) = the ball of radius r around x.

1. precision = 1/M sum_j 1[Y_j in some B(X_i, NND_k(X_i))]          (fakes that land on the real manifold)
2. recall    = 1/N sum_i 1[X_i in some B(Y_j, NND_k(Y_j))]          (reals that the fake manifold covers)
3. density   = 1/(kM) sum_j sum_i 1[Y_j in B(X_i, NND_k(X_i))]     (Naeem eq. 3: can exceed 1)
4. coverage  = 1/N sum_i 1[min_j ||X_i - Y_j|| < NND_k(X_i)]       (Naeem eq. 4)

One pass over the real x fake distances, in blocks (`gan_zoo.metrics.neighbours`).
"""
import torch

from gan_zoo.metrics.neighbours import blocks, knn_radii


def prdc(real: torch.Tensor, fake: torch.Tensor, k: int = 5, block: int = 2048) -> dict:
    """{"precision", "recall", "density", "coverage"} of fake [M, D] against real [N, D] features."""
    real, fake = real.float(), fake.float()
    real_radius = knn_radii(real, k, block)  # [N]
    fake_radius = knn_radii(fake, k, block)  # [M]
    on_real = torch.zeros(len(fake), dtype=torch.bool)  # [M] precision
    balls = torch.zeros(len(fake))  # [M] density: real balls each fake is in
    covered = torch.zeros(len(real), dtype=torch.bool)  # [N] recall
    nearest_fake = torch.full((len(real),), float("inf"))  # [N] coverage
    for rows in blocks(len(fake), block):
        for cols in blocks(len(real), block):
            d = torch.cdist(fake[rows], real[cols])  # [m, n]
            inside = d <= real_radius[None, cols]
            on_real[rows] |= inside.any(1)
            balls[rows] += inside.sum(1).float()
            covered[cols] |= (d <= fake_radius[rows, None]).any(0)
            nearest_fake[cols] = torch.minimum(nearest_fake[cols], d.min(0).values)
    return {"precision": on_real.float().mean().item(), "recall": covered.float().mean().item(),
            "density": (balls.sum() / (k * len(fake))).item(),
            "coverage": (nearest_fake < real_radius).float().mean().item()}
