"""Does a generator copy its training images? Three statistics on features (any space: the run's extractor,
or pixels), each computed with blocked nearest-neighbour search.

Notation: generated g, training images T, held-out real images H (never trained on); d1(x), d2(x) = the
distances from x to its nearest and second-nearest training image t*(x); nn(t) = the distance from training
image t to its nearest other training image.

1. authenticity copy share (Alaa et al. 2022, "How Faithful is your Synthetic Data?", Sec. 3.3): the share
   of generated images with d1(g) < nn(t*(g)): nearer to a training image than any other training image is.
   authenticity = 1 - that share. Reported for H too: real unseen images set the baseline to compare with.
2. ratio share: the share with d1(g) / d2(g) < 1/3: one training image much nearer than the next (the
   nearest-neighbour ratio test used to find near-duplicates).
3. C_T (Meehan et al. 2020, "A Non-Parametric Test to Detect Data-Copying in Generative Models", eq. 3),
   with held-out images only: T is split into cells by k-means; in each cell pi with enough held-out and
   generated images, Z_U(pi) is the Mann-Whitney U z-score of {d1(h)} against {d1(g)}; C_T is the average of
   Z_U weighted by the held-out share of each cell. C_T well below 0 (e.g. < -3): generated images sit closer
   to the training images than unseen real ones do (copying); near 0: no difference; > 0: underfitting.

`copying_suspected` is true when C_T < -3, or the ratio share is above 0.05, or (with held-out images) the
authenticity copy share exceeds the held-out images' own by more than 0.2. On the embedded data a generator
that returns training images (plus faint noise) scores C_T about -9, ratio share 0.98, copy share 1.0;
one that returns held-out images scores about 0, 0.002 and 0.42, like the held-out images themselves.
"""
import math

import torch

from gan_zoo.metrics.neighbours import nearest


def _kmeans(x: torch.Tensor, k: int, iterations: int = 20, seed: int = 0) -> torch.Tensor:
    """Centroids [k, D] (Lloyd's algorithm from k points chosen with `seed`)."""
    centroids = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:k]].clone()
    for _ in range(iterations):
        cell = nearest(x, centroids, 1)[1][:, 0]
        for c in range(k):
            members = x[cell == c]
            if len(members):
                centroids[c] = members.mean(0)
    return centroids


def mann_whitney_z(a: torch.Tensor, b: torch.Tensor) -> float:
    """z-score of the Mann-Whitney U statistic U = #{(i, j): a_i < b_j} under its normal approximation;
    negative when b tends to be smaller than a."""
    a_sorted = a.sort().values
    u = torch.searchsorted(a_sorted, b, right=False).sum().item()  # for each b_j: the a_i below it
    m, n = len(a), len(b)
    return (u - m * n / 2) / math.sqrt(m * n * (m + n + 1) / 12)


def c_t(train: torch.Tensor, holdout_d1: torch.Tensor, holdout: torch.Tensor, generated_d1: torch.Tensor,
        generated: torch.Tensor, cells: int = 10, min_count: int = 5, seed: int = 0) -> float | None:
    """Meehan et al.'s C_T; None when no cell has `min_count` held-out and generated images."""
    centroids = _kmeans(train, min(cells, len(train)), seed=seed)
    h_cell = nearest(holdout, centroids, 1)[1][:, 0]
    g_cell = nearest(generated, centroids, 1)[1][:, 0]
    weighted, weights = 0.0, 0.0
    for c in range(len(centroids)):
        h, g = holdout_d1[h_cell == c], generated_d1[g_cell == c]
        if len(h) >= min_count and len(g) >= min_count:
            share = len(h) / len(holdout)
            weighted += share * mann_whitney_z(h, g)
            weights += share
    return weighted / weights if weights else None


def copying_statistics(
    train: torch.Tensor,  # [M, D] features of every training image
    generated: torch.Tensor,  # [N, D]
    holdout: torch.Tensor | None = None,  # [H, D] real images kept out of training, None = no C_T
    ratio: float = 1 / 3,  # threshold of the d1/d2 ratio test
    cells: int = 10,  # k-means cells of C_T
    neighbours: int = 3,  # nearest training images returned per generated image
) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """(numbers, distances [N, neighbours], training indices [N, neighbours]) of each generated image."""
    train_nn = nearest(train, train, 1, exclude_self=True)[0][:, 0]  # [M] nn(t)
    g_dist, g_idx = nearest(generated, train, max(2, neighbours))  # [N, >=2]

    def shares(dist, idx):
        copy = dist[:, 0] < train_nn[idx[:, 0]]
        near_duplicate = dist[:, 0] < ratio * dist[:, 1]
        return copy.float().mean().item(), near_duplicate.float().mean().item()

    copy_share, ratio_share = shares(g_dist, g_idx)
    numbers = {"n_train": len(train), "n_generated": len(generated), "authenticity_copy_share": copy_share,
               "authenticity": 1 - copy_share, "ratio_share": ratio_share, "ratio": ratio}
    if holdout is not None and len(holdout):
        h_dist, h_idx = nearest(holdout, train, 2)
        h_copy, h_ratio = shares(h_dist, h_idx)
        numbers |= {"n_holdout": len(holdout), "holdout_authenticity_copy_share": h_copy,
                    "holdout_ratio_share": h_ratio, "c_t_cells": cells,
                    "c_t": c_t(train, h_dist[:, 0], holdout, g_dist[:, 0], generated, cells)}
    reasons = []
    if numbers.get("c_t") is not None and numbers["c_t"] < -3:
        reasons.append("C_T < -3")
    if ratio_share > 0.05:
        reasons.append("ratio share > 0.05")
    if "holdout_authenticity_copy_share" in numbers and copy_share > numbers["holdout_authenticity_copy_share"] + 0.2:
        reasons.append("authenticity copy share > held-out share + 0.2")
    numbers |= {"copying_suspected": bool(reasons), "copying_reasons": reasons}
    return numbers, g_dist[:, :neighbours], g_idx[:, :neighbours]
