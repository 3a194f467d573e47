"""The embedded default dataset: 5,000 Fashion-MNIST images (500 a class) shipped in the package.

Built by scripts/build_embedded_dataset.py; license in gan_zoo/assets/FASHION_MNIST_LICENSE.txt.
Works offline on a fresh machine. The whole set is resized once, up front: it is small.
"""
from importlib import resources

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset


def load_embedded_images() -> tuple[np.ndarray, np.ndarray]:
    """uint8 images [5000, 28, 28] and labels [5000]."""
    with resources.files("gan_zoo.assets").joinpath("fashion_mnist_subset.npz").open("rb") as f:
        data = np.load(f)
        return data["images"], data["labels"]


class EmbeddedFashionMNIST(TensorDataset):
    """Items are (image [C, R, R] in [-1, 1], label)."""

    def __init__(self, resolution: int, channels: int):
        images, labels = load_embedded_images()
        x = torch.from_numpy(images).float().div(127.5).sub(1.0)[:, None]  # [N, 1, 28, 28]
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)
        x = x.clamp(-1.0, 1.0).expand(-1, channels, -1, -1).contiguous()  # [N, C, R, R]
        super().__init__(x, torch.from_numpy(labels).long())
