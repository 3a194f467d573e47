"""StyleGAN's mapping network (Karras et al. 2019, Sec. 2; StyleGAN2-ADA's label embedding): z, and the label c
of a conditional model, to the intermediate latent w. The discriminator of a conditional StyleGAN2-ADA maps c
with the same network (no z) to its projection vector.

Notation: z [N, latent_dim]; c [N, num_classes] (one-hot labels); w [N, w_dim]. z and the embedded c are each
normalised to unit second moment (PixelNorm), concatenated, then go through `num_layers` dense layers.
"""
import math

import torch
from torch import nn

from gan_zoo.errors import UserError
from gan_zoo.networks.layers import BiasAct, EqualizedLinear, PixelNorm

ACTIVATION_GAINS = ("weight", "output")  # where lrelu's gain sqrt(2) goes: see BiasAct


def dense(d_in: int, d_out: int, activation_gain: str, lr_multiplier: float = 1.0) -> list[nn.Module]:
    """An equalized dense layer and its leaky ReLU: lrelu(sqrt(2) W x + b) ("weight", gan_zoo's), or
    sqrt(2) lrelu(W x + b) ("output", StyleGAN2-ADA's, in its order of operations)."""
    if activation_gain == "weight":
        return [EqualizedLinear(d_in, d_out, lr_multiplier=lr_multiplier), nn.LeakyReLU(0.2)]
    return [EqualizedLinear(d_in, d_out, bias=False, gain=1, lr_multiplier=lr_multiplier),
            BiasAct(d_out, lr_multiplier=lr_multiplier)]


class MappingNetwork(nn.Module):
    def __init__(
        self,
        latent_dim: int = 512,  # z's size, 0 = no z (the discriminator's label mapping)
        w_dim: int = 512,
        num_layers: int = 8,
        lr_multiplier: float = 0.01,  # the mapping network learns 100x slower (StyleGAN, Sec. C)
        w_avg_beta: float | None = 0.995,  # decay of the tracked average w (the truncation trick), None = none
        num_classes: int = 0,  # c's size, 0 = unconditional
        activation_gain: str = "weight",  # "weight" or "output": see `dense`
    ):
        super().__init__()
        if activation_gain not in ACTIVATION_GAINS:
            raise UserError(f"activation_gain={activation_gain!r}: use one of {', '.join(ACTIVATION_GAINS)}")
        if latent_dim + num_classes == 0:
            raise UserError("a mapping network needs a latent (latent_dim > 0) or labels (num_classes > 0)")
        self.latent_dim, self.num_classes = latent_dim, num_classes
        dims = [latent_dim + (w_dim if num_classes else 0)] + [w_dim] * num_layers
        layers = [PixelNorm()]
        for d_in, d_out in zip(dims[:-1], dims[1:]):
            layers += dense(d_in, d_out, activation_gain, lr_multiplier)
        self.net = nn.Sequential(*layers)
        # the label embedding, a linear layer (StyleGAN2-ADA's: c -> w_dim features, normalised like z)
        self.embed = EqualizedLinear(num_classes, w_dim, gain=1) if num_classes else None
        self.w_avg_beta = w_avg_beta
        if w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor | None, c: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is None:
            w = self.net(z)  # [N, w_dim]
        else:
            if c is None:
                raise ValueError(f"this mapping network is conditional: give c [N, {self.num_classes}]")
            x = self.net[0](self.embed(c.float()))  # [N, w_dim]: the normalised label embedding
            x = torch.cat([self.net[0](z.float()), x], dim=1) if self.latent_dim else x
            w = self.net[1:](x)
        if self.training and self.w_avg_beta is not None:  # track the average w (never used while training)
            self.w_avg.copy_(w.detach().float().mean(0).lerp(self.w_avg, self.w_avg_beta))
        return w


def project(x: torch.Tensor, cmap: torch.Tensor) -> torch.Tensor:
    """The projection discriminator's logit (Miyato & Koyama 2018, as StyleGAN2-ADA): <x, cmap> / sqrt(dim),
    x and cmap [N, dim] -> [N, 1]."""
    return (x * cmap).sum(dim=1, keepdim=True) * (1 / math.sqrt(cmap.shape[1]))
