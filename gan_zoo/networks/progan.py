"""Progressive-growing GAN networks (Karras et al. 2018), built at full resolution from step 0.

Growth is a schedule, not surgery: both networks hold every level from the start and read the
current `progress` p (a buffer) that gan_zoo.schedules.ProgressiveGrowing derives from images seen:
p = L means level L (resolution 4 * 2^L) alone, L - 1 < p < L fades level L in with alpha = p - (L - 1)
(Sec. 3, Fig. 2). The optimizer never changes and resume needs nothing extra. Images enter and leave at
full resolution (lower levels nearest-upsampled), as in the official implementation, so data, sample
grids and metrics need no special case.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from gan_zoo.errors import UserError
from gan_zoo.networks.layers import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm
from gan_zoo.schedules import level_and_alpha


def _levels(resolution: int) -> int:
    if resolution < 4 or 2 ** round(math.log2(resolution)) != resolution:
        raise UserError(f"PGGAN needs a power-of-two resolution >= 4, got {resolution}: set data.resolution")
    return int(math.log2(resolution)) - 2  # the top level; level 0 is 4x4


class _Network(nn.Module):
    def __init__(self, resolution: int, fmap_base: int, fmap_max: int, widths: list[int] | None):
        super().__init__()
        self.resolution = resolution
        self.max_level = _levels(resolution)
        self.widths = list(widths) if widths else [
            min(fmap_max, fmap_base // (4 * 2**level)) for level in range(self.max_level + 1)]
        if len(self.widths) != self.max_level + 1:
            raise UserError(f"widths needs one entry per level 4x4 ... {resolution}x{resolution}, got {self.widths}")
        self.register_buffer("progress", torch.tensor(float(self.max_level)))  # the schedule sets it

    def current(self) -> tuple[int, float]:
        return level_and_alpha(float(self.progress))


class Generator(_Network):
    num_classes = 0  # unconditional (gan_zoo.contract)

    def __init__(
        self,
        resolution: int,  # final output size, a power of two (from the data)
        channels: int,  # output image channels (from the data)
        latent_dim: int = 512,
        fmap_base: int = 8192,  # feature maps at level L: min(fmap_max, fmap_base / resolution_L)
        fmap_max: int = 512,
        widths: list[int] | None = None,  # feature maps per level, 4x4 first; overrides fmap_base / fmap_max
    ):
        super().__init__(resolution, fmap_base, fmap_max, widths)
        self.latent_dim, self.channels = latent_dim, channels  # the generator contract (with resolution)
        act = nn.LeakyReLU(0.2)
        w = self.widths
        # Level 0: z -> 4x4 (a dense layer, i.e. a 4x4 transposed convolution), then a 3x3 conv.
        self.dense = EqualizedLinear(latent_dim, w[0] * 16, gain=math.sqrt(2) / 4)
        self.blocks = nn.ModuleList([nn.Sequential(act, PixelNorm(), EqualizedConv2d(w[0], w[0], 3), act, PixelNorm())])
        for level in range(1, self.max_level + 1):  # nearest 2x up, two 3x3 convs
            self.blocks.append(nn.Sequential(
                nn.Upsample(scale_factor=2, mode="nearest"),
                EqualizedConv2d(w[level - 1], w[level], 3), act, PixelNorm(),
                EqualizedConv2d(w[level], w[level], 3), act, PixelNorm(),
            ))
        self.to_rgb = nn.ModuleList([EqualizedConv2d(w[level], channels, 1, gain=1) for level in range(self.max_level + 1)])
        self.norm = PixelNorm()

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        level, alpha = self.current()
        x = self.dense(self.norm(z)).reshape(len(z), self.widths[0], 4, 4)  # [N, C0, 4, 4]
        previous = None
        for i in range(level + 1):
            if i == level:
                previous = x
            x = self.blocks[i](x)
        image = self.to_rgb[level](x)  # [N, C, R_L, R_L]
        if alpha < 1:  # fade-in: blend with the previous level's image, nearest-upsampled (Fig. 2b)
            image = torch.lerp(F.interpolate(self.to_rgb[level - 1](previous), scale_factor=2), image, alpha)
        return F.interpolate(image, scale_factor=2 ** (self.max_level - level)) if level < self.max_level else image


class Discriminator(_Network):
    def __init__(
        self,
        resolution: int,  # input size, a power of two (from the data)
        channels: int,  # input image channels (from the data)
        fmap_base: int = 8192,
        fmap_max: int = 512,
        mbstd_group_size: int = 4,
        widths: list[int] | None = None,  # feature maps per level, 4x4 first; overrides fmap_base / fmap_max
    ):
        super().__init__(resolution, fmap_base, fmap_max, widths)
        act = nn.LeakyReLU(0.2)
        w = self.widths
        self.from_rgb = nn.ModuleList([nn.Sequential(EqualizedConv2d(channels, w[level], 1), act)
                                       for level in range(self.max_level + 1)])
        self.blocks = nn.ModuleList([nn.Sequential(  # level 0: minibatch stddev, conv, dense, logit
            MinibatchStdDev(mbstd_group_size), EqualizedConv2d(w[0] + 1, w[0], 3), act, nn.Flatten(),
            EqualizedLinear(w[0] * 16, w[0]), act, EqualizedLinear(w[0], 1, gain=1),
        )])
        for level in range(1, self.max_level + 1):  # two 3x3 convs, 2x average-pool down
            self.blocks.append(nn.Sequential(
                EqualizedConv2d(w[level], w[level], 3), act, EqualizedConv2d(w[level], w[level - 1], 3), act,
                nn.AvgPool2d(2),
            ))

    def forward(self, images: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        level, alpha = self.current()
        x = F.avg_pool2d(images, 2 ** (self.max_level - level)) if level < self.max_level else images  # [N, C, R_L, R_L]
        h = self.from_rgb[level](x)
        if alpha < 1:  # fade-in: blend with the previous level's input path (Fig. 2b)
            h = torch.lerp(self.from_rgb[level - 1](F.avg_pool2d(x, 2)), self.blocks[level](h), alpha)
            level -= 1
        for i in range(level, -1, -1):
            h = self.blocks[i](h)
        return h.flatten()  # [N]

    def blocks_from_image(self) -> list[nn.Module]:
        """The levels from the top down, every fromRGB with the first; level 0 (4x4, with the logit) is the head."""
        top = nn.ModuleList([self.from_rgb, self.blocks[self.max_level]])
        return [top, *(self.blocks[level] for level in range(self.max_level - 1, 0, -1))][: self.max_level]


def level_of(key: str) -> int | None:
    """The level a state-dict key of these networks belongs to (blocks.L, to_rgb.L, from_rgb.L), None for the rest."""
    parts = key.split(".")
    return int(parts[1]) if len(parts) > 2 and parts[0] in ("blocks", "to_rgb", "from_rgb") else None
