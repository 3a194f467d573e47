"""Layers shared by the PGGAN and StyleGAN-style networks (Karras et al. 2018, Sec. 4).

Notation: w = stored weight ~ N(0, 1); c = He's constant gain / sqrt(fan_in), applied at run time
("equalized learning rate", Sec. 4.1), so Adam's per-parameter step size is the same for every layer.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


class EqualizedLinear(nn.Module):
    # gain: sqrt(2) before a (leaky) ReLU, 1 for an output layer; lr_multiplier scales this layer's effective
    # learning rate (StyleGAN's mapping: 0.01)
    def __init__(self, in_features: int, out_features: int, bias: bool = True, gain: float = math.sqrt(2),
                 lr_multiplier: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.scale = gain / math.sqrt(in_features) * lr_multiplier  # c
        self.lr_multiplier = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias * self.lr_multiplier if self.bias is not None else None
        return F.linear(x, self.weight * self.scale, bias)


class EqualizedConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 gain: float = math.sqrt(2)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)  # c
        self.padding = kernel_size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class BiasAct(nn.Module):
    """A bias, the leaky ReLU, a gain and a clamp, in StyleGAN2-ADA's order (its `bias_act`):
    clamp(gain * lrelu(x + b), +-clamp). After a layer without bias and with gain 1, the same function as an
    equalized layer with gain sqrt(2) followed by lrelu, lrelu(sqrt(2) W x + b'), with b' = sqrt(2) b: the bias
    learns at 1/sqrt(2) the rate (the `activation_gain="output"` of the StyleGAN networks)."""

    def __init__(
        self,
        channels: int,  # the bias's length, 0 = no bias (the leaky ReLU, gain and clamp only)
        gain: float = math.sqrt(2),  # He's gain for the leaky ReLU
        clamp: float | None = None,  # clamp the output to +-clamp (fp16 safety), None = off
        lr_multiplier: float = 1.0,  # the bias's learning-rate multiplier (StyleGAN's mapping: 0.01)
    ):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels)) if channels else None
        self.gain, self.clamp, self.lr_multiplier = gain, clamp, lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bias is not None:
            bias = self.bias.to(x.dtype) * self.lr_multiplier if self.lr_multiplier != 1 else self.bias.to(x.dtype)
            x = x + bias.reshape(1, -1, *[1] * (x.dim() - 2))
        x = F.leaky_relu(x, 0.2)
        x = x * self.gain if self.gain != 1 else x
        return x.clamp(-self.clamp, self.clamp) if self.clamp is not None else x


class PixelNorm(nn.Module):
    """Pixelwise feature normalization (Sec. 4.2): b = a / sqrt(mean_c(a^2) + eps)."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + self.eps)


class MinibatchStdDev(nn.Module):
    """Minibatch standard deviation (Sec. 3): append one feature map holding the mean over features and
    pixels of the standard deviation across each group of `group_size` samples; with `num_channels` F > 1
    (StyleGAN2-ADA's mbstd_num_channels), F maps, each from one of F equal slices of the features."""

    def __init__(self, group_size: int | None = 4, eps: float = 1e-8, num_channels: int = 1):
        super().__init__()
        self.group_size = group_size  # None = the whole minibatch
        self.eps = eps
        self.num_channels = num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        size = n if self.group_size is None else min(self.group_size, n)
        g = max(d for d in range(1, size + 1) if n % d == 0)  # a group size that divides N
        if self.num_channels != 1:
            return torch.cat([x, self._slices(x, g)], dim=1)
        y = x.reshape(g, n // g, c, h, w).float()  # sample i is in group i % (N / g); fp32 under autocast too
        y = ((y - y.mean(dim=0)).square().mean(dim=0) + self.eps).sqrt()  # [N/g, C, H, W]: std over each group
        y = y.to(x.dtype)  # (written out: Tensor.var over dim 0 is 10x slower here on CPU)
        y = y.mean(dim=(1, 2, 3))  # [N/g]
        y = y.repeat(g).reshape(n, 1, 1, 1).expand(n, 1, h, w)  # [N, 1, H, W]
        return torch.cat([x, y], dim=1)

    def _slices(self, x: torch.Tensor, g: int) -> torch.Tensor:
        """[N, F, H, W]: the stddev map of each of the F feature slices."""
        n, c, h, w = x.shape
        f = self.num_channels
        y = x.reshape(g, n // g, f, c // f, h, w).float()
        y = ((y - y.mean(dim=0)).square().mean(dim=0) + self.eps).sqrt()  # [N/g, F, C/F, H, W]
        y = y.to(x.dtype).mean(dim=(2, 3, 4))  # [N/g, F]
        return y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)
