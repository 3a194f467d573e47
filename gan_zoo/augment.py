"""Differentiable augmentation of the discriminator's inputs, real and fake alike (DiffAugment, Zhao et al.
2020), with an optional adaptive probability driven by the discriminator's overfitting (ADA, Karras et al.
2020a, Sec. 3): r_t = E[sign(D(x_real))], p rises when r_t > target and falls otherwise.

Every op is differentiable in the images, so G learns through it; with p = 0 the module is the identity.
"""
import torch
import torch.nn.functional as F
from torch import nn


def _color(x: torch.Tensor) -> torch.Tensor:
    n = len(x)
    x = x + (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)  # brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean  # saturation
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean  # contrast


def _translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift by up to `ratio` of the size, zeros coming in (bilinear sampling at integer shifts)."""
    n, _, h, w = x.shape
    shift = (torch.rand(n, 2, device=x.device) * 2 - 1) * ratio * 2  # in [-1, 1] grid units: 2 = the full size
    shift = torch.stack([torch.round(shift[:, 0] * w / 2) * 2 / w, torch.round(shift[:, 1] * h / 2) * 2 / h], 1)
    theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, :, 2] = shift.to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero a random square of `ratio` times the size."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + 1 - ch % 2, (n, 1, 1), device=x.device)
    cx = torch.randint(0, w + 1 - cw % 2, (n, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = ((ys - cy).abs() < ch / 2) & ((xs - cx).abs() < cw / 2)  # [N, H, W]
    return x * (~inside)[:, None].to(x.dtype)


OPS = {"color": _color, "translation": _translation, "cutout": _cutout}


class DiffAugment(nn.Module):
    def __init__(
        self,
        policy: str = "color,translation,cutout",  # comma-separated ops, applied in this order
        p: float = 1.0,  # probability that an image goes through each op; the start value when adaptive
        target: float | None = None,  # ADA's target r_t (0.6), None = fixed p
        adjust_interval: int = 4,  # D steps between adjustments of p
        adjust_images: int = 100_000,  # images over which p can move by 1 (ADA's 500k; smaller for tiny sets)
    ):
        super().__init__()
        self.ops = [OPS[name.strip()] for name in policy.split(",") if name.strip()]
        self.register_buffer("p", torch.tensor(float(p)))  # saved in checkpoints, logged
        self.target, self.adjust_interval, self.adjust_images = target, adjust_interval, adjust_images
        self.register_buffer("sign_sum", torch.zeros(()))
        self.register_buffer("sign_count", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = float(self.p)
        if p <= 0 or not self.ops:
            return x
        for op in self.ops:
            augmented = op(x)
            if p >= 1:
                x = augmented
            else:  # per image: augmented with probability p (in the op's dtype: under autocast, grid_sample's is fp32)
                keep = (torch.rand(len(x), 1, 1, 1, device=x.device) < p).to(augmented.dtype)
                x = torch.lerp(x.to(augmented.dtype), augmented, keep)
        return x

    @torch.no_grad()
    def update(self, real_logits: torch.Tensor) -> dict:
        """Called by the D step with D's logits on (augmented) reals; adapts p when a target is set."""
        if self.target is None:
            return {}
        self.sign_sum += real_logits.sign().sum()
        self.sign_count += real_logits.numel()
        logs = {}
        if self.sign_count >= self.adjust_interval * real_logits.numel():
            r_t = self.sign_sum / self.sign_count  # the overfitting heuristic r_t (ADA eq. 1)
            step = self.sign_count / self.adjust_images
            self.p.copy_((self.p + torch.sign(r_t - self.target) * step).clamp(0, 1))
            self.sign_sum.zero_()
            self.sign_count.zero_()
            logs["augment/r_t"] = r_t
        # p after this step's adjustment: the value the next D steps use (logged before it, a rise that was undone
        # before the next logged step never showed)
        logs["augment/p"] = self.p.clone()
        return logs
