"""StyleGAN-style networks after StyleGAN2 (Karras et al. 2020): a mapping network z -> w, a learned constant
input, modulated convolutions with weight demodulation, per-pixel noise with learned strength, skip toRGB
outputs, and a residual discriminator with minibatch stddev. Equalized learning rate throughout
(gan_zoo.networks.layers, shared with PGGAN).

Notation: z latent [N, latent_dim]; w intermediate latent [N, w_dim]; ws one w per synthesis layer
[N, num_ws, w_dim]; s the style (per input channel scale) of a modulated convolution (eq. 1-3).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gan_zoo.errors import UserError
from gan_zoo.networks.layers import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm
from gan_zoo.networks.resample import conv_down, conv_up, downsample

RESAMPLE = ("bilinear", "fir")  # how resolution changes: see Generator's `resample`


def _levels(resolution: int) -> int:
    if resolution < 8 or 2 ** round(math.log2(resolution)) != resolution:
        raise UserError(f"StyleGAN needs a power-of-two resolution >= 8, got {resolution}: set data.resolution")
    return int(math.log2(resolution)) - 2


class MappingNetwork(nn.Module):
    def __init__(
        self,
        latent_dim: int = 512,
        w_dim: int = 512,
        num_layers: int = 8,
        lr_multiplier: float = 0.01,  # the mapping network learns 100x slower (StyleGAN, Sec. C)
        w_avg_beta: float = 0.995,  # decay of the tracked average w, used by the truncation trick
    ):
        super().__init__()
        dims = [latent_dim] + [w_dim] * num_layers
        layers = [PixelNorm()]
        for d_in, d_out in zip(dims[:-1], dims[1:]):
            layers += [EqualizedLinear(d_in, d_out, lr_multiplier=lr_multiplier), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)
        self.w_avg_beta = w_avg_beta
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        w = self.net(z)  # [N, w_dim]
        if self.training:  # track the average w (never used for truncation while training)
            self.w_avg.copy_(w.detach().float().mean(0).lerp(self.w_avg, self.w_avg_beta))
        return w


class ModulatedConv2d(nn.Module):
    """StyleGAN2 eq. 1-3: w'_ijk = s_i w_ijk; demodulated w''_ijk = w'_ijk / sqrt(sum_ik w'_ijk^2 + eps).

    Two ways to compute it, equal up to float rounding (tests/test_stylegan.py):
    fused: one grouped convolution of per-image weights (groups=N); non-fused: scale the input channels by s,
    convolve the whole batch with the shared weight, scale the output channels by the demodulation
    coefficients d_j = 1 / sqrt(sum_ik (s_i w_ijk)^2 + eps). `fused=None` picks per call as measured on CPU
    (benchmarks/RESULTS.md, 32x32 preset): non-fused whenever N > 1, where the grouped convolution costs
    1.5-1.8x with or without gradients; for a single image both cost the same and the grouped one is kept.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, w_dim: int, demodulate: bool = True,
                 up: bool = False, fused: bool | None = None, resample: str = "bilinear"):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.affine = EqualizedLinear(w_dim, in_channels, gain=1)  # w -> s
        nn.init.ones_(self.affine.bias)  # styles start at 1
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        self.demodulate, self.up, self.padding, self.fused = demodulate, up, kernel_size // 2, fused
        self.fir_up = up and resample == "fir"  # convolve at the low resolution (gan_zoo.networks.resample)

    def _conv(self, x: torch.Tensor, weight: torch.Tensor, groups: int = 1) -> torch.Tensor:
        if self.fir_up:
            return conv_up(x, weight, groups)
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return F.conv2d(x, weight, padding=self.padding, groups=groups)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        s = self.affine(w)  # [N, C_in]
        weight = self.weight * self.scale  # [C_out, C_in, k, k]
        if not (self.fused if self.fused is not None else n == 1):
            out = self._conv(x * s[:, :, None, None], weight)  # [N, C_out, H', W']
            if self.demodulate:  # d_j for each image: [N, C_out]
                d = torch.rsqrt(s.square() @ weight.square().sum(dim=(2, 3)).t() + 1e-8)
                out = out * d[:, :, None, None]
            return out
        weight = weight[None] * s[:, None, :, None, None]  # [N, C_out, C_in, k, k]
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        out = self._conv(x.reshape(1, n * c, *x.shape[2:]), weight.reshape(-1, c, *weight.shape[3:]), groups=n)
        return out.reshape(n, -1, *out.shape[2:])  # one grouped convolution for the whole batch


class SynthesisLayer(nn.Module):
    def __init__(self, in_channels, out_channels, w_dim, resolution, up=False, conv_clamp=None, resample="bilinear"):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, up=up, resample=resample)
        self.noise_strength = nn.Parameter(torch.zeros([]))  # learned, starts at 0
        self.register_buffer("noise_const", torch.randn(resolution, resolution))  # for noise_mode="const"
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.act = nn.LeakyReLU(0.2)
        self.conv_clamp = conv_clamp  # clamp activations (fp16 safety), None = off

    def forward(self, x, w, noise_mode="random", noise=None):
        x = self.conv(x, w)
        if noise is None:  # given noise [N, 1, r, r]: a projection's optimised noise maps
            noise = torch.randn_like(x[:, :1]) if noise_mode == "random" else self.noise_const.to(x.dtype)
        x = self.act(x + noise * self.noise_strength + self.bias.to(x.dtype)[None, :, None, None]) * math.sqrt(2)
        return x.clamp(-self.conv_clamp, self.conv_clamp) if self.conv_clamp else x


class ToRGB(nn.Module):
    def __init__(self, in_channels, channels, w_dim, conv_clamp=None):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(channels))
        self.conv_clamp = conv_clamp

    def forward(self, x, w):
        x = self.conv(x, w) + self.bias[None, :, None, None]
        return x.clamp(-self.conv_clamp, self.conv_clamp) if self.conv_clamp else x


class Generator(nn.Module):
    """Meets the generator contract and its style space (gan_zoo.contract)."""

    num_classes = 0  # unconditional

    def __init__(
        self,
        resolution: int,  # output size, a power of two >= 8 (from the data)
        channels: int,  # output image channels (from the data)
        latent_dim: int = 512,
        w_dim: int = 512,
        mapping_layers: int = 8,
        fmap_base: int = 16384,  # feature maps at resolution r: min(fmap_max, fmap_base / r)
        fmap_max: int = 512,
        mixing_prob: float = 0.9,  # style mixing regularization while training, 0 = off
        conv_clamp: float | None = None,  # e.g. 256 with fp16 (StyleGAN2-ADA), None = off
        resample: str = "bilinear",  # bilinear: upsample, then convolve; fir: StyleGAN2's (a quarter of the cost)
    ):
        super().__init__()
        if resample not in RESAMPLE:
            raise UserError(f"model.generator.resample={resample!r}: use one of {', '.join(RESAMPLE)}")
        self.latent_dim, self.resolution, self.channels, self.mixing_prob = latent_dim, resolution, channels, mixing_prob
        self.w_dim = w_dim
        levels = _levels(resolution)
        widths = [min(fmap_max, fmap_base // (4 * 2**i)) for i in range(levels + 1)]
        self.mapping = MappingNetwork(latent_dim, w_dim, mapping_layers)
        self.const = nn.Parameter(torch.randn(widths[0], 4, 4))
        self.convs = nn.ModuleList([SynthesisLayer(widths[0], widths[0], w_dim, 4, conv_clamp=conv_clamp)])
        self.to_rgbs = nn.ModuleList([ToRGB(widths[0], channels, w_dim, conv_clamp)])
        for i in range(1, levels + 1):
            r = 4 * 2**i
            self.convs.append(SynthesisLayer(widths[i - 1], widths[i], w_dim, r, up=True, conv_clamp=conv_clamp,
                                             resample=resample))
            self.convs.append(SynthesisLayer(widths[i], widths[i], w_dim, r, conv_clamp=conv_clamp))
            self.to_rgbs.append(ToRGB(widths[i], channels, w_dim, conv_clamp))
        self.num_ws = len(self.convs) + 1  # conv layer j reads ws[:, j]; toRGB at level i reads the w after its convs

    @property
    def w_avg(self) -> torch.Tensor:
        """[w_dim] the tracked average w (a buffer of the mapping network)."""
        return self.mapping.w_avg

    @property
    def noise_shapes(self) -> list[tuple[int, int]]:
        """(H, W) of each conv layer's noise input, in the order synthesis takes `noise`."""
        return [tuple(layer.noise_const.shape) for layer in self.convs]

    def mix_styles(self, w1: torch.Tensor, w2: torch.Tensor, crossover: int) -> torch.Tensor:
        """ws [N, num_ws, w_dim]: w1 for layers before `crossover`, w2 from it on."""
        ws = w1[:, None].repeat(1, self.num_ws, 1)
        ws[:, crossover:] = w2[:, None]
        return ws

    def styles(self, z: torch.Tensor, psi: float = 1.0, c: torch.Tensor | None = None) -> torch.Tensor:
        """ws for latents z, with style mixing while training and the truncation trick (psi < 1) otherwise."""
        w = self.mapping(z, c)
        if psi != 1:  # truncation: w_avg + psi (w - w_avg), never while training
            w = self.mapping.w_avg.to(w.dtype).lerp(w, psi)
        if self.training and self.mixing_prob > 0 and torch.rand([]).item() < self.mixing_prob:
            crossover = int(torch.randint(1, self.num_ws, []))
            return self.mix_styles(w, self.mapping(torch.randn_like(z), c), crossover)
        return w[:, None].repeat(1, self.num_ws, 1)

    def synthesis(self, ws: torch.Tensor, noise: list | None = None, noise_mode: str = "random") -> torch.Tensor:
        """ws [N, num_ws, w_dim] -> images; `noise`: one map [N, 1, r, r] per conv layer (else by noise_mode)."""
        noise = noise or [None] * len(self.convs)
        x = self.const[None].expand(len(ws), -1, -1, -1)
        x = self.convs[0](x, ws[:, 0], noise_mode, noise[0])
        image = self.to_rgbs[0](x, ws[:, 1])
        for level in range(1, len(self.to_rgbs)):
            j = 2 * level - 1
            x = self.convs[j](x, ws[:, j], noise_mode, noise[j])
            x = self.convs[j + 1](x, ws[:, j + 1], noise_mode, noise[j + 1])
            image = F.interpolate(image, scale_factor=2, mode="bilinear", align_corners=False) \
                + self.to_rgbs[level](x, ws[:, j + 2])  # skip architecture (StyleGAN2 Fig. 7b)
        return image  # [N, C, R, R]

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, psi: float = 1.0, noise_mode: str = "random",
                return_ws: bool = False):
        ws = self.styles(z, psi, c)
        image = self.synthesis(ws, noise_mode=noise_mode)
        return (image, ws) if return_ws else image


def PoolAfter(conv: EqualizedConv2d, act: nn.Module) -> list[nn.Module]:
    """conv at the high resolution, act, 2x2 average pool."""
    return [conv, act, nn.AvgPool2d(2)]


def DownConv(conv: EqualizedConv2d, act: nn.Module) -> list[nn.Module]:
    """blur and a stride-2 conv (the same parameters, a quarter of the cost), act."""
    return [StridedConv(conv), act]


class StridedConv(nn.Module):
    def __init__(self, conv: EqualizedConv2d):
        super().__init__()
        self.weight, self.bias, self.scale = conv.weight, conv.bias, conv.scale  # the same parameter names

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return conv_down(x, self.weight * self.scale, self.bias)


class Downsample(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return downsample(x)


class Discriminator(nn.Module):
    """Residual discriminator (StyleGAN2 Fig. 7c): fromRGB at full resolution, residual blocks down to 4x4,
    minibatch stddev, conv, dense, logit."""

    def __init__(
        self,
        resolution: int,
        channels: int,
        fmap_base: int = 16384,
        fmap_max: int = 512,
        mbstd_group_size: int = 4,
        resample: str = "bilinear",  # bilinear: convolve, then average-pool; fir: StyleGAN2's blur + stride-2 conv
    ):
        super().__init__()
        if resample not in RESAMPLE:
            raise UserError(f"model.discriminator.resample={resample!r}: use one of {', '.join(RESAMPLE)}")
        levels = _levels(resolution)
        widths = [min(fmap_max, fmap_base // (4 * 2**i)) for i in range(levels + 1)]
        act = nn.LeakyReLU(0.2)
        down = DownConv if resample == "fir" else PoolAfter
        self.from_rgb = nn.Sequential(EqualizedConv2d(channels, widths[-1], 1), act)
        self.blocks = nn.ModuleList()
        self.skips = nn.ModuleList()
        for i in range(levels, 0, -1):
            self.blocks.append(nn.Sequential(EqualizedConv2d(widths[i], widths[i], 3), act,
                                             *down(EqualizedConv2d(widths[i], widths[i - 1], 3), act)))
            self.skips.append(nn.Sequential(Downsample() if resample == "fir" else nn.AvgPool2d(2),
                                            EqualizedConv2d(widths[i], widths[i - 1], 1, bias=False, gain=1)))
        self.out = nn.Sequential(MinibatchStdDev(mbstd_group_size), EqualizedConv2d(widths[0] + 1, widths[0], 3), act,
                                 nn.Flatten(), EqualizedLinear(widths[0] * 16, widths[0]), act,
                                 EqualizedLinear(widths[0], 1, gain=1))

    def forward(self, images: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = self.from_rgb(images)
        if self.blocks[0][0].weight.is_contiguous(memory_format=torch.channels_last):  # fromRGB's 1x1 weight can't say
            x = x.contiguous(memory_format=torch.channels_last)
        for block, skip in zip(self.blocks, self.skips):
            x = (block(x) + skip(x)) * np.sqrt(0.5)
        return self.out(x).flatten()  # [N]

    def blocks_from_image(self) -> list[nn.Module]:
        """Each resolution's residual block with its skip, fromRGB with the first; `out` is the head (contract)."""
        blocks = [nn.ModuleList([block, skip]) for block, skip in zip(self.blocks, self.skips)]
        return [nn.ModuleList([self.from_rgb, *blocks[0]]), *blocks[1:]] if blocks else []
