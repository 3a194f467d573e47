"""The embedded default dataset: 5,000 Fashion-MNIST images (500 a class) shipped in the package.

Built by scripts/build_embedded_dataset.py; license in gan_zoo/assets/FASHION_MNIST_LICENSE.txt.
Works offline on a fresh machine. The whole set is resized once, up front: it is small.

A part of it for small-data studies: `classes` keeps some classes (e.g. nine, holding `bag` out entirely) and
`images="0:200"` a slice of each kept class's images, in the shipped order (so "200:500" is every other one).
"""
import re
from importlib import resources

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from gan_zoo.errors import UserError

CLASSES = ("t_shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot")


def load_embedded_images() -> tuple[np.ndarray, np.ndarray]:
    """uint8 images [5000, 28, 28] and labels [5000]."""
    with resources.files("gan_zoo.assets").joinpath("fashion_mnist_subset.npz").open("rb") as f:
        data = np.load(f)
        return data["images"], data["labels"]


def chosen_indices(labels: np.ndarray, classes=None, images: str | None = None) -> np.ndarray:
    """The indices of the images of `classes` (names, None = all), `images` ("start:stop") of each class, in the
    shipped order."""
    if classes is not None:
        names = [classes] if isinstance(classes, str) else list(classes)
        if unknown := [c for c in names if c not in CLASSES]:
            raise UserError(f"data.dataset.classes: unknown class {unknown[0]!r}: choose from {', '.join(CLASSES)}")
        if not names:
            raise UserError("data.dataset.classes=[]: give at least one class (null = all ten)")
        kept = np.isin(labels, [CLASSES.index(c) for c in names])
    else:
        kept = np.ones(len(labels), dtype=bool)
    if images is not None:
        found = re.fullmatch(r"\s*(\d*)\s*:\s*(\d*)\s*", str(images))
        if not found:
            raise UserError(f"data.dataset.images={images!r}: give a slice of each class's images, e.g. '0:200' "
                            "(null = all)")
        start, stop = (int(v) if v else None for v in found.groups())
        in_slice = np.zeros(len(labels), dtype=bool)
        for label in np.unique(labels[kept]):
            in_slice[np.flatnonzero(kept & (labels == label))[start:stop]] = True
        kept &= in_slice
    if not kept.any():
        raise UserError(f"data.dataset.classes={classes} images={images!r} leaves no image: choose another slice")
    return np.flatnonzero(kept)


class EmbeddedFashionMNIST(TensorDataset):
    """Items are (image [C, R, R] in [-1, 1], label)."""

    def __init__(
        self,
        resolution: int,  # output size (from the data config)
        channels: int,  # 1, or 3 (the gray image repeated)
        classes: list[str] | None = None,  # class names to keep (e.g. all but bag), None = all ten
        images: str | None = None,  # "start:stop": a slice of each kept class's images in the shipped order, None = all
    ):
        images_uint8, labels = load_embedded_images()
        keep = chosen_indices(labels, classes, images)
        x = torch.from_numpy(images_uint8[keep]).float().div(127.5).sub(1.0)[:, None]  # [N, 1, 28, 28]
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)
        x = x.clamp(-1.0, 1.0).expand(-1, channels, -1, -1).contiguous()  # [N, C, R, R]
        super().__init__(x, torch.from_numpy(labels[keep]).long())
