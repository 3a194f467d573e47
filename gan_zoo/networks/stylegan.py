"""StyleGAN-style networks after StyleGAN2 (Karras et al. 2020): a mapping network z (and c) -> w
(gan_zoo.networks.stylegan_mapping), a learned constant input, modulated convolutions with weight demodulation,
per-pixel noise with learned strength, skip toRGB outputs (gan_zoo.networks.stylegan_synthesis), and a residual
discriminator with minibatch stddev, conditioned by projection when it has classes. Equalized learning rate
throughout (gan_zoo.networks.layers, shared with PGGAN).

The options that differ from gan_zoo's defaults are those of NVIDIA's stylegan2-ada-pytorch (its networks are
imported with them, gan_zoo.pretrained.stylegan2_ada): FIR resampling everywhere (`resample`, `rgb_resample`), the
activation gain after the bias (`activation_gain`), `conv_clamp`, labels (`num_classes`), the discriminator's
`architecture`, `mbstd_num_channels` and `cmap_dim`. The defaults compute what gan_zoo always computed.

Notation: z latent [N, latent_dim]; c labels [N, num_classes]; w intermediate latent [N, w_dim]; ws one w per
synthesis layer [N, num_ws, w_dim].
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gan_zoo.errors import UserError
from gan_zoo.networks.layers import BiasAct, EqualizedConv2d, EqualizedLinear, MinibatchStdDev
from gan_zoo.networks.resample import conv_down, downsample, upsample
from gan_zoo.networks.stylegan_mapping import ACTIVATION_GAINS, MappingNetwork, dense, project
from gan_zoo.networks.stylegan_synthesis import ModulatedConv2d, SynthesisLayer, ToRGB  # noqa: F401 (part of the API)

RESAMPLE = ("bilinear", "fir")  # how resolution changes: see Generator's `resample`
ARCHITECTURES = ("resnet", "orig")  # the discriminator's: residual blocks (StyleGAN2 Fig. 7c) or plain ones


def _choice(value: str, choices: tuple, key: str) -> str:
    if value not in choices:
        raise UserError(f"{key}={value!r}: use one of {', '.join(choices)}")
    return value


def _levels(resolution: int) -> int:
    if resolution < 8 or 2 ** round(math.log2(resolution)) != resolution:
        raise UserError(f"StyleGAN needs a power-of-two resolution >= 8, got {resolution}: set data.resolution")
    return int(math.log2(resolution)) - 2


class Generator(nn.Module):
    """Meets the generator contract and its style space (gan_zoo.contract)."""

    def __init__(
        self,
        resolution: int,  # output size, a power of two >= 8 (from the data)
        channels: int,  # output image channels (from the data)
        latent_dim: int = 512,
        w_dim: int = 512,
        mapping_layers: int = 8,
        mapping_lr_multiplier: float = 0.01,  # the mapping network learns 100x slower (StyleGAN, Sec. C)
        fmap_base: int = 16384,  # feature maps at resolution r: min(fmap_max, fmap_base / r)
        fmap_max: int = 512,
        mixing_prob: float = 0.9,  # style mixing regularization while training, 0 = off
        conv_clamp: float | None = None,  # e.g. 256 with fp16 (StyleGAN2-ADA), None = off
        resample: str = "bilinear",  # bilinear: upsample, then convolve; fir: StyleGAN2's (a quarter of the cost)
        rgb_resample: str = "bilinear",  # how the skip outputs' RGB sum grows: bilinear, or fir (StyleGAN2's)
        num_classes: int = 0,  # labels: c is one-hot [N, num_classes] (label embedding in mapping), 0 = none
        activation_gain: str = "weight",  # the mapping's: weight (gan_zoo's) or output (StyleGAN2-ADA's bias_act)
    ):
        super().__init__()
        _choice(resample, RESAMPLE, "model.generator.resample")
        self.rgb_resample = _choice(rgb_resample, RESAMPLE, "model.generator.rgb_resample")
        _choice(activation_gain, ACTIVATION_GAINS, "model.generator.activation_gain")
        self.latent_dim, self.resolution, self.channels, self.mixing_prob = latent_dim, resolution, channels, mixing_prob
        self.w_dim, self.num_classes = w_dim, num_classes
        levels = _levels(resolution)
        widths = [min(fmap_max, fmap_base // (4 * 2**i)) for i in range(levels + 1)]
        self.mapping = MappingNetwork(latent_dim, w_dim, mapping_layers, mapping_lr_multiplier, num_classes=num_classes,
                                      activation_gain=activation_gain)
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
            image = self._grow(image) + self.to_rgbs[level](x, ws[:, j + 2])  # skip architecture (StyleGAN2 Fig. 7b)
        return image  # [N, C, R, R]

    def _grow(self, image: torch.Tensor) -> torch.Tensor:
        if self.rgb_resample == "fir":
            return upsample(image)
        return F.interpolate(image, scale_factor=2, mode="bilinear", align_corners=False)

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
    minibatch stddev, conv, dense, logit; with classes, the logit is the projection of the last features on the
    mapped label (StyleGAN2-ADA's cmap)."""

    def __init__(
        self,
        resolution: int,
        channels: int,
        fmap_base: int = 16384,
        fmap_max: int = 512,
        mbstd_group_size: int | None = 4,  # samples per minibatch-stddev group, None = the whole minibatch
        resample: str = "bilinear",  # bilinear: convolve, then average-pool; fir: StyleGAN2's blur + stride-2 conv
        architecture: str = "resnet",  # resnet: residual blocks; orig: plain ones (StyleGAN2-ADA's cifar config)
        mbstd_num_channels: int = 1,  # minibatch-stddev feature maps, 0 = no minibatch stddev
        conv_clamp: float | None = None,  # clamp the convolutions' activations to +-conv_clamp, None = off
        num_classes: int = 0,  # labels: c is one-hot [N, num_classes], 0 = unconditional
        cmap_dim: int | None = None,  # the projection's size (conditional), None = the 4x4 features' width
        mapping_layers: int = 8,  # dense layers mapping c to the projection vector (conditional)
        mapping_lr_multiplier: float = 0.01,  # their learning-rate multiplier
        activation_gain: str = "weight",  # weight (gan_zoo's) or output (StyleGAN2-ADA's bias_act): see BiasAct
    ):
        super().__init__()
        _choice(resample, RESAMPLE, "model.discriminator.resample")
        _choice(architecture, ARCHITECTURES, "model.discriminator.architecture")
        _choice(activation_gain, ACTIVATION_GAINS, "model.discriminator.activation_gain")
        self.num_classes = num_classes
        levels = _levels(resolution)
        widths = [min(fmap_max, fmap_base // (4 * 2**i)) for i in range(levels + 1)]
        act = nn.LeakyReLU(0.2)

        def conv(c_in: int, c_out: int, kernel: int, clamp: float | None = conv_clamp) -> list[nn.Module]:
            if activation_gain == "output":
                return [EqualizedConv2d(c_in, c_out, kernel, bias=False, gain=1), BiasAct(c_out, clamp=clamp)]
            return [EqualizedConv2d(c_in, c_out, kernel), act if clamp is None else BiasAct(0, gain=1, clamp=clamp)]

        down = DownConv if resample == "fir" else PoolAfter
        self.from_rgb = nn.Sequential(*conv(channels, widths[-1], 1))
        self.blocks = nn.ModuleList()
        self.skips = nn.ModuleList() if architecture == "resnet" else None
        for i in range(levels, 0, -1):
            self.blocks.append(nn.Sequential(*conv(widths[i], widths[i], 3), *down(*conv(widths[i], widths[i - 1], 3))))
            if self.skips is not None:
                self.skips.append(nn.Sequential(Downsample() if resample == "fir" else nn.AvgPool2d(2),
                                                EqualizedConv2d(widths[i], widths[i - 1], 1, bias=False, gain=1)))
        cmap_dim = (cmap_dim or widths[0]) if num_classes else 0
        stddev = MinibatchStdDev(mbstd_group_size, num_channels=mbstd_num_channels) if mbstd_num_channels \
            else nn.Identity()
        self.out = nn.Sequential(stddev, *conv(widths[0] + mbstd_num_channels, widths[0], 3), nn.Flatten(),
                                 *dense(widths[0] * 16, widths[0], activation_gain),
                                 EqualizedLinear(widths[0], cmap_dim or 1, gain=1))
        # the label's projection vector (Miyato & Koyama 2018): c mapped like StyleGAN2-ADA's, without z
        self.mapping = MappingNetwork(0, cmap_dim, mapping_layers, mapping_lr_multiplier, w_avg_beta=None,
                                      num_classes=num_classes, activation_gain=activation_gain) if num_classes else None

    def forward(self, images: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = self.from_rgb(images)
        if self.blocks[0][0].weight.is_contiguous(memory_format=torch.channels_last):  # fromRGB's 1x1 weight can't say
            x = x.contiguous(memory_format=torch.channels_last)
        for i, block in enumerate(self.blocks):
            x = block(x) if self.skips is None else (block(x) + self.skips[i](x)) * np.sqrt(0.5)
        x = self.out(x)  # [N, 1], or [N, cmap_dim] with classes
        if self.mapping is not None:
            if c is None:
                raise ValueError(f"this discriminator is conditional: give c [N, {self.num_classes}]")
            x = project(x, self.mapping(None, c))
        return x.flatten()  # [N]

    def blocks_from_image(self) -> list[nn.Module]:
        """Each resolution's block (with its skip, resnet), fromRGB with the first; `out` and the label mapping are
        the head (contract)."""
        skips = self.skips if self.skips is not None else [None] * len(self.blocks)
        blocks = [nn.ModuleList([b for b in (block, skip) if b is not None]) for block, skip in zip(self.blocks, skips)]
        return [nn.ModuleList([self.from_rgb, *blocks[0]]), *blocks[1:]] if blocks else []
