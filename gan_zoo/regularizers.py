"""Discriminator regularizers, applied by the shared step when due.

Each has `weight` (its factor in the D loss), `interval` (apply every `interval` D steps; lazy
regularization, Karras et al. 2020 Sec. 3.1: the term is then scaled by `interval` so its
expected strength is unchanged) and `needs_real_grad` (the step must make the real batch require
grad before the D forward, so the penalty can reuse that forward), and `second_order` (its gradient goes through
a gradient, which `torch.compile` cannot do: the step runs eagerly when it is due).

`__call__(discriminator, real, fake, real_logits, c)` returns the unweighted penalty (a scalar).
Shapes: real, fake [N, C, H, W]; real_logits [N] or [N, 1]; c the batch's labels [N, num_classes] (None when
unconditional: gan_zoo.contract).
"""
import math

import torch
from torch import nn


def _grad_norm_sq(outputs: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """||d sum(outputs) / d inputs||^2 per sample, kept in the graph (create_graph)."""
    (grad,) = torch.autograd.grad(outputs.sum(), inputs, create_graph=True)
    return grad.square().flatten(1).sum(1)  # [N]


class R1:
    """R1 penalty (Mescheder et al. 2018, eq. 9): gamma/2 * E_x[ ||grad_x D(x)||^2 ] on real data.

    Here `weight` plays gamma/2's role: weight = gamma / 2.
    """

    needs_real_grad = True
    second_order = True

    def __init__(
        self,
        gamma: float = 10.0,  # R1 strength gamma; the penalty is gamma/2 * E||grad||^2
        interval: int = 1,  # lazy regularization: apply every `interval` D steps (StyleGAN2 uses 16)
    ):
        self.weight, self.interval = gamma / 2, interval

    def __call__(self, discriminator, real, fake, real_logits, c=None) -> torch.Tensor:
        return _grad_norm_sq(real_logits, real).mean()


class GradientPenalty:
    """WGAN-GP (Gulrajani et al. 2017, eq. 3): E_xhat[ (||grad D(xhat)|| - target)^2 ],
    xhat = eps * x + (1 - eps) * G(z), eps ~ U[0, 1] per sample."""

    needs_real_grad = False
    second_order = True

    def __init__(
        self,
        weight: float = 10.0,  # lambda in the paper
        target: float = 1.0,  # the gradient norm to pull towards (1 = 1-Lipschitz)
        interval: int = 1,  # apply every `interval` D steps
    ):
        self.weight, self.target, self.interval = weight, target, interval

    def __call__(self, discriminator, real, fake, real_logits, c=None) -> torch.Tensor:
        eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
        # fake is bf16 under bf16-mixed autocast, real is fp32: mix in the reals' precision
        mixed = torch.lerp(fake.detach().to(real.dtype), real.detach(), eps).requires_grad_(True)  # [N, C, H, W]
        norm = _grad_norm_sq(discriminator(mixed) if c is None else discriminator(mixed, c), mixed).add(1e-12).sqrt()
        return (norm - self.target).square().mean()


class Drift:
    """Drift penalty (Karras et al. 2018, Sec. A.1): eps_drift * E_x[ D(x)^2 ], keeps the critic's
    output near zero; PGGAN uses weight 0.001."""

    needs_real_grad = False
    second_order = False

    def __init__(self, weight: float = 0.001, interval: int = 1):  # weight: epsilon_drift
        self.weight, self.interval = weight, interval

    def __call__(self, discriminator, real, fake, real_logits, c=None) -> torch.Tensor:
        return real_logits.float().square().mean()


class PathLength(nn.Module):
    """Path length regularization of G (StyleGAN2 Sec. 3.2, eq. 4):
    E_{w, y}[ (||J_w^T y||_2 - a)^2 ], y ~ N(0, I) / sqrt(H W) in image space, a a running mean of the
    lengths (decay `decay`). Needs a generator with `forward(z, c, return_ws=True) -> (images, ws)`.
    A generator regularizer: `__call__(generator, batch_size, latents, c)` with latents(n) -> z [n, latent_dim] and c
    the batch's labels (None when unconditional).
    """

    second_order = True

    def __init__(
        self,
        weight: float = 2.0,  # StyleGAN2's pl_weight
        interval: int = 4,  # lazy: every `interval` G steps, scaled by `interval`
        decay: float = 0.01,  # of the running mean a
        batch_shrink: int = 2,  # use batch_size / batch_shrink latents (StyleGAN2: 2)
    ):
        super().__init__()
        self.weight, self.interval, self.decay, self.batch_shrink = weight, interval, decay, batch_shrink
        self.register_buffer("mean", torch.zeros(()))  # a, saved in checkpoints

    def forward(self, generator, batch_size: int, latents, c=None) -> torch.Tensor:
        n = max(batch_size // self.batch_shrink, 1)
        images, ws = generator(latents(n), return_ws=True) if c is None else generator(latents(n), c[:n], return_ws=True)
        y = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
        (grad,) = torch.autograd.grad((images * y).sum(), ws, create_graph=True)  # J_w^T y, [N, num_ws, w_dim]
        lengths = grad.square().sum(2).mean(1).sqrt()  # [N]
        self.mean.copy_(self.mean.lerp(lengths.detach().float().mean(), self.decay))
        return (lengths - self.mean).square().mean()
