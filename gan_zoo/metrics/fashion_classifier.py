"""A small Fashion-MNIST classifier used as the feature extractor for the embedded dataset.

Offline and fast on CPU, but its FID/IS/KID are NOT Inception FID/IS/KID: they are named with the
suffix `_fmnist_cnn` and only comparable with each other. Trained by
scripts/train_fashion_classifier.py; weights shipped in gan_zoo/assets/fashion_classifier.pt.
"""
from importlib import resources

import torch
import torch.nn.functional as F
from torch import nn


class FashionCNN(nn.Module):
    """uint8 or [0, 1] images [N, 1 or 3, H, W] -> (features [N, 128], logits [N, 10])."""

    num_features = 128
    num_classes = 10

    def __init__(self):
        super().__init__()

        def block(c_in, c_out):
            return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(True))

        self.body = nn.Sequential(
            block(1, 32), block(32, 32), nn.MaxPool2d(2),  # 14x14
            block(32, 64), block(64, 64), nn.MaxPool2d(2),  # 7x7
            block(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # [N, 128]
        )
        self.head = nn.Linear(128, 10)

    @staticmethod
    def prepare(images: torch.Tensor) -> torch.Tensor:
        """Any images -> float [N, 1, 28, 28] in [-1, 1] (grayscale mean, antialiased bilinear resize)."""
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        x = x.mean(1, keepdim=True)
        if x.shape[-1] != 28:
            x = F.interpolate(x, size=(28, 28), mode="bilinear", antialias=True, align_corners=False)
        return x * 2 - 1

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(self.prepare(images))
        return features, self.head(features)


def load_fashion_classifier() -> FashionCNN:
    net = FashionCNN()
    with resources.files("gan_zoo.assets").joinpath("fashion_classifier.pt").open("rb") as f:
        net.load_state_dict(torch.load(f, map_location="cpu", weights_only=True))
    return net.eval().requires_grad_(False)
