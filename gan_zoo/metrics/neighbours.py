"""Nearest neighbours between feature sets, in blocks: never an N x M distance matrix in memory at once
(60,000 training features against 10,000 generated ones is 2.4 GB as one float32 matrix)."""
import torch


def blocks(n: int, size: int):
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def nearest(
    query: torch.Tensor,  # [N, D]
    reference: torch.Tensor,  # [M, D]
    k: int,  # neighbours per query
    exclude_self: bool = False,  # query is reference: skip each point's zero distance to itself
    block: int = 2048,  # rows and columns per distance block: memory is block^2 floats
) -> tuple[torch.Tensor, torch.Tensor]:
    """Distances [N, k] (ascending) and indices [N, k] of each query's k nearest reference points (L2)."""
    query, reference = query.float(), reference.float()
    k_all = k + 1 if exclude_self else k
    dists, idx = [], []
    for rows in blocks(len(query), block):
        best_d = torch.full((rows.stop - rows.start, 0), float("inf"))
        best_i = torch.zeros((rows.stop - rows.start, 0), dtype=torch.long)
        for cols in blocks(len(reference), block):
            d = torch.cdist(query[rows], reference[cols])  # [n, m]
            best_d = torch.cat([best_d, d], 1)
            best_i = torch.cat([best_i, torch.arange(cols.start, cols.stop).expand(len(d), -1)], 1)
            keep = min(k_all, best_d.shape[1])
            best_d, order = best_d.topk(keep, dim=1, largest=False)  # sorted ascending
            best_i = best_i.gather(1, order)
        if exclude_self:  # drop the point itself (distance 0), wherever ties put it
            own = best_i == torch.arange(rows.start, rows.stop)[:, None]
            own[own.sum(1) == 0, -1] = True  # no self found (duplicates): drop the farthest instead
            best_d = best_d[~own].view(len(best_d), k)
            best_i = best_i[~own].view(len(best_i), k)
        dists.append(best_d)
        idx.append(best_i)
    return torch.cat(dists), torch.cat(idx)


def knn_radii(features: torch.Tensor, k: int, block: int = 2048) -> torch.Tensor:
    """[N]: each point's distance to its k-th nearest other point of the same set."""
    return nearest(features, features, k, exclude_self=True, block=block)[0][:, -1]
