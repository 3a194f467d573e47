"""DCGAN (Radford et al. 2015): strided (transposed) convolutions, BatchNorm, ReLU / LeakyReLU.

The generator maps z [N, latent_dim] to images [N, C, R, R] in [-1, 1] (tanh); the discriminator
maps images to one logit per image [N] (no sigmoid: the objective works on logits).
"""
import math

import torch
from torch import nn

from gan_zoo.errors import UserError


def _num_stages(resolution: int) -> int:
    """Number of 2x up/down-sampling stages between 4x4 and `resolution`."""
    if resolution < 8 or 2 ** round(math.log2(resolution)) != resolution:
        raise UserError(f"DCGAN needs a power-of-two resolution >= 8, got {resolution}: set data.resolution to 32 "
                        "or 64 (28x28 data is resized)")
    return int(math.log2(resolution)) - 2


def _init_weights(module: nn.Module) -> None:
    # Radford et al. 2015, Sec. 4: weights from N(0, 0.02); BatchNorm scale from N(1, 0.02).
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Generator(nn.Module):
    num_classes = 0  # unconditional (gan_zoo.contract)

    def __init__(
        self,
        resolution: int,  # output height = width, a power of two >= 8 (from the data)
        channels: int,  # output image channels, 1 or 3 (from the data)
        latent_dim: int = 100,  # size of z
        width: int = 64,  # channels of the last hidden layer; doubled at each lower resolution
    ):
        super().__init__()
        self.latent_dim, self.resolution, self.channels = latent_dim, resolution, channels  # the generator contract
        stages = _num_stages(resolution)
        widths = [width * 2 ** (stages - 1 - i) for i in range(stages)]  # 4x4 ... R/2 x R/2
        layers = [  # z as [N, latent_dim, 1, 1] -> [N, widths[0], 4, 4]
            nn.ConvTranspose2d(latent_dim, widths[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        ]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(_init_weights)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z[:, :, None, None])  # [N, C, R, R]


class Discriminator(nn.Module):
    def __init__(
        self,
        resolution: int,  # input height = width, a power of two >= 8 (from the data)
        channels: int,  # input image channels (from the data)
        width: int = 64,  # channels of the first layer; doubled at each lower resolution
        batch_norm: bool = True,  # BatchNorm after every conv but the first; False for gradient penalties
    ):
        super().__init__()
        stages = _num_stages(resolution)
        widths = [width * 2**i for i in range(stages)]  # R/2 ... 4x4
        layers = [nn.Conv2d(channels, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not batch_norm)]
            layers += [nn.BatchNorm2d(c_out)] if batch_norm else []
            layers += [nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(widths[-1], 1, 4, 1, 0)]  # [N, 1, 1, 1]
        self.net = nn.Sequential(*layers)
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x).flatten()  # [N]

    def blocks_from_image(self) -> list[nn.Module]:
        """Each stride-2 stage (conv, BatchNorm, LeakyReLU), the image's first; the output conv is the head (contract)."""
        starts = [i for i, layer in enumerate(self.net) if isinstance(layer, nn.Conv2d)]
        return [self.net[a:b] for a, b in zip(starts[:-1], starts[1:])]
