"""2x resampling with a FIR low-pass filter, as StyleGAN2 resamples (Karras et al. 2020, App. B; after
Zhang 2019, "Making convolutional networks shift-invariant again"): a convolution that changes the resolution
runs at the low resolution (a stride-2 transposed convolution up, a stride-2 convolution down) and a separable
[1, 3, 3, 1] blur removes the aliasing. Against resampling first and convolving at the high resolution it costs a
quarter of the multiply-adds.

Notation: k = outer([1, 3, 3, 1]) / 64, the 4x4 filter (sum 1); x [N, C, H, W].
"""
import torch
import torch.nn.functional as F


def fir_filter(device=None, dtype=torch.float32) -> torch.Tensor:
    """k [4, 4], summing to 1."""
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0], device=device, dtype=dtype)
    return torch.outer(taps, taps) / taps.sum() ** 2


def blur(x: torch.Tensor, pad: int, gain: float = 1.0, stride: int = 1) -> torch.Tensor:
    """x padded by `pad` zeros on each side, convolved per channel with gain * k (then every `stride`-th pixel)."""
    if stride > 1 and x.device.type == "cpu" and x.dtype != torch.float32:  # the same values: CPU's strided
        return blur(x, pad, gain)[:, :, ::stride, ::stride]  # depthwise convolution is 4x slower in bf16/fp16
    kernel = (fir_filter(x.device, x.dtype) * gain).expand(x.shape[1], 1, 4, 4)
    return F.conv2d(F.pad(x, [pad] * 4), kernel, stride=stride, groups=x.shape[1])


def conv_up(x: torch.Tensor, weight: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """The convolution with `weight` [C_out, C_in / groups, 3, 3] of x upsampled 2x: a stride-2 transposed
    convolution at x's resolution ([N, C_out, 2H + 1, 2W + 1]), then the blur with gain 4 (the stride inserts
    three zeros for each value): [N, C, H, W] -> [N, C_out, 2H, 2W]."""
    c_out, c_in = weight.shape[:2]
    w = weight.reshape(groups, c_out // groups, c_in, *weight.shape[2:]).transpose(1, 2)
    x = F.conv_transpose2d(x, w.reshape(groups * c_in, c_out // groups, *weight.shape[2:]), stride=2, groups=groups)
    return blur(x, pad=1, gain=4.0)  # 2H + 1 + 2 - 3 = 2H


def conv_down(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """The blur, then a stride-2 convolution with `weight` [C_out, C_in, 3, 3]: [N, C, H, W] -> [N, C_out, H/2, W/2]."""
    return F.conv2d(blur(x, pad=2), weight, bias, stride=2)


def downsample(x: torch.Tensor) -> torch.Tensor:
    """The blur, every second pixel: [N, C, H, W] -> [N, C, H/2, W/2]."""
    return blur(x, pad=1, stride=2)


def upsample(x: torch.Tensor) -> torch.Tensor:
    """2x upsampling of an image with the filter (StyleGAN2's skip generator grows its RGB sum so): a zero after
    every pixel, 2 zeros padded before and 1 after, the blur with gain 4: [N, C, H, W] -> [N, C, 2H, 2W]."""
    n, c, h, w = x.shape
    x = F.pad(x.reshape(n, c, h, 1, w, 1), [0, 1, 0, 0, 0, 1]).reshape(n, c, 2 * h, 2 * w)
    return blur(F.pad(x, [2, 1, 2, 1]), pad=0, gain=4.0)
