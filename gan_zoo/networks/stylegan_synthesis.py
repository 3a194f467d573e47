"""StyleGAN2's synthesis layers (Karras et al. 2020): modulated convolutions with weight demodulation, per-pixel
noise with learned strength, and the toRGB outputs of the skip generator. Equalized learning rate throughout.

Notation: w [N, w_dim]; s the style (per input channel scale) of a modulated convolution (eq. 1-3).
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from gan_zoo.networks.layers import EqualizedLinear
from gan_zoo.networks.resample import conv_up


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
