"""Is a small collection ready to train on? Its near-duplicate pairs, and its images with no similar neighbour in
it (the painting study's "narrow the collection down"), from the features the metrics use (any extractor).

Distances are measured against the collection's own scale m: the median over its images of the distance to their
nearest other image. So one pair of thresholds serves every feature space (Inception's 2048-d pool features, the
Fashion-MNIST CNN's 128, pixels):

- near-duplicates: pairs i, j with d(i, j) <= duplicate * m (default 0.2: a copy, a re-toned or lightly retouched
  one; how far a crop or a JPEG re-encoding moves an image depends on the features: on the embedded Fashion-MNIST
  with its CNN, 5% less contrast is at 0.1, JPEG at quality 90 at 0.45, a one-pixel shift at 0.7, two different
  sneakers at 0.7 and more, so raise it only where the features' own distances allow);
- no similar neighbour: images whose nearest other image is at >= outlier * m (default 2.0: twice as far as a
  typical image's nearest; a work in another medium, a detail photograph, a mislabelled file).
Where more than half the images have an exact twin (m = 0), m is the median of the non-zero distances.
"""
import torch

from gan_zoo.metrics.neighbours import nearest


def collection_report(
    features: torch.Tensor,  # [N, D], N >= 2
    duplicate: float = 0.2,  # near-duplicate pairs: d <= duplicate * m
    outlier: float = 2.0,  # no similar neighbour: nearest d >= outlier * m
    neighbours: int = 3,  # nearest other images kept per image (for the report's rows)
) -> dict:
    """{"scale": m, "duplicates": [(i, j, d / m)], "outliers": [(i, d_nearest / m)], "nearest": (distances [N, k],
    indices [N, k]), "thresholds": ...}; pairs sorted by distance, outliers farthest first."""
    k = min(neighbours, len(features) - 1)
    distances, indices = nearest(features, features, k, exclude_self=True)  # [N, k] ascending
    first = distances[:, 0]
    scale = float(first.median())
    if scale == 0:
        nonzero = first[first > 0]
        scale = float(nonzero.median()) if len(nonzero) else 1.0
    pairs = {}
    for i in range(len(features)):
        for d, j in zip(distances[i].tolist(), indices[i].tolist()):
            if d <= duplicate * scale:
                pairs[tuple(sorted((i, j)))] = d / scale
    outliers = [(i, float(first[i]) / scale) for i in range(len(features)) if first[i] >= outlier * scale]
    return {"scale": scale, "duplicates": sorted(((i, j, d) for (i, j), d in pairs.items()), key=lambda p: p[2]),
            "outliers": sorted(outliers, key=lambda o: -o[1]), "nearest": (distances, indices),
            "thresholds": {"duplicate": duplicate, "outlier": outlier}}
