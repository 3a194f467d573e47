"""Projection: find latents whose images match target images, by gradient descent on an image distance, many
images at once (a batch is one optimisation: the distance is summed over images, each latent gets its own
gradient).

- `z` (DCGAN, PGGAN, the imported PGAN, StyleGAN's input): start from the best of `starts` prior samples per
  image (one forward pass without gradients; z projection has many poor local minima) and renormalise each z to
  the prior's shell (norm sqrt(dim)) after every step, so that interpolating between projections stays meaningful.
- `w`, `w_plus` (StyleGAN-style): StyleGAN2's projector recipe (Karras et al. 2020, Appendix D): start at the
  tracked average w; Adam with the learning rate ramped up over the first 5% of steps and down (cosine) over the
  last 25%; Gaussian noise added to w, scaled by the spread of w and decaying to zero by 75% of the steps;
  the per-pixel noise maps optimised too, normalised after each step and regularised towards no spatial
  autocorrelation at every octave (weight 1e5).
"""
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gan_zoo.contract import device_of
from gan_zoo.errors import UserError
from gan_zoo.latent.spaces import SPACES, render


@dataclass
class Projection:
    latents: torch.Tensor  # [N, latent_dim] (z), [N, w_dim] (w) or [N, num_ws, w_dim] (w_plus), on CPU
    space: str
    distances: torch.Tensor  # [N] the final image distance
    start_distances: torch.Tensor  # [N] the distance at the starting latents
    reconstructions: torch.Tensor  # [N, C, R, R] in [-1, 1], on CPU
    noise: list | None  # StyleGAN: the optimised noise maps, one [N, 1, r, r] per conv layer


def _learning_rate(step: int, steps: int, base: float, rampdown: float = 0.25, rampup: float = 0.05) -> float:
    t = step / steps
    ramp = min(1.0, (1.0 - t) / rampdown)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    return base * ramp * min(1.0, t / rampup)


def _noise_regularisation(noise: list) -> torch.Tensor:
    """Squared autocorrelation of each noise map at shifts of one pixel, at every octave down to 8x8."""
    total = 0.0
    for n in noise:
        while True:
            total = total + (n * torch.roll(n, 1, dims=3)).mean([1, 2, 3]).square() \
                + (n * torch.roll(n, 1, dims=2)).mean([1, 2, 3]).square()
            if n.shape[-1] <= 8:
                break
            n = F.avg_pool2d(n, 2)
    return total


@torch.no_grad()
def _w_statistics(generator: nn.Module, samples: int = 10_000, seed: int = 0) -> tuple[torch.Tensor, float]:
    device = device_of(generator)
    z = torch.randn(samples, generator.latent_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    w = generator.mapping(z)
    w_avg = generator.w_avg.to(w) if generator.w_avg.abs().sum() > 0 else w.mean(0)
    return w_avg, float((w - w_avg).square().sum(1).mean().sqrt())


@torch.no_grad()
def _best_starts(generator, targets, distance, starts: int, rng: torch.Generator) -> torch.Tensor:
    n = len(targets)
    candidates = torch.randn(starts, n, generator.latent_dim, generator=rng).to(targets.device)
    scores = torch.stack([distance(render(generator, c, "z"), targets) for c in candidates])  # [starts, n]
    return candidates[scores.argmin(0), torch.arange(n)]


def _project_batch(generator, targets, space, distance, steps, lr, seed, noise_weight, starts, w_stats, progress):
    n, device = len(targets), targets.device
    rng = torch.Generator().manual_seed(seed)
    noise = None
    if space == "z":
        latent = _best_starts(generator, targets, distance, starts, rng)
        w_std = 0.0
    else:
        w_avg, w_std = w_stats
        latent = w_avg[None].repeat(n, 1) if space == "w" else w_avg[None, None].repeat(n, generator.num_ws, 1)
        noise = [torch.randn(n, 1, *shape, generator=rng).to(device) for shape in generator.noise_shapes]
        for nmap in noise:
            nmap.requires_grad_(True)
    latent = latent.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([latent, *(noise or [])], betas=(0.9, 0.999), lr=lr)
    with torch.no_grad():
        start = distance(render(generator, latent, space, noise), targets)
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(step, steps, lr)
        perturbed = latent
        if space != "z":  # decaying exploration noise in w (the projector's noise ramp over 75% of the steps)
            scale = w_std * 0.05 * max(0.0, 1.0 - step / (0.75 * steps)) ** 2
            perturbed = latent + torch.randn_like(latent) * scale
        images = render(generator, perturbed, space, noise)
        loss = distance(images, targets).sum()
        if noise is not None:
            loss = loss + noise_weight * _noise_regularisation(noise).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward(inputs=[latent, *(noise or [])])  # the latents' gradients only: the generator is left as it is
        optimizer.step()
        if progress:
            progress(1)
        with torch.no_grad():
            if space == "z":  # back onto the prior's shell
                latent.mul_(math.sqrt(latent.shape[1]) / latent.norm(dim=1, keepdim=True))
            for nmap in noise or []:
                nmap.sub_(nmap.mean([1, 2, 3], keepdim=True)).div_(nmap.square().mean([1, 2, 3], keepdim=True).sqrt())
    with torch.no_grad():
        images = render(generator, latent, space, noise)
        final = distance(images, targets)
    return latent.detach(), final, start, images, noise


@dataclass
class Projector:
    """Settings at construction, images at the call: `Projector(space="w", steps=500)(generator, images)`.
    Built from the `projection:` section that gan-zoo-project and gan-zoo-morph share."""

    space: str = "z"  # z, w or w_plus (StyleGAN-style)
    distance: nn.Module | None = None  # gan_zoo.latent.distances; None = pixels
    steps: int = 1000  # optimisation steps per batch
    lr: float | None = None  # None = 0.1 in w / w_plus (StyleGAN2's projector), 0.05 in z
    batch_size: int = 16  # images optimised at once (each latent its own gradient)
    seed: int = 0  # starting latents in z, the noise maps in w / w_plus
    noise_weight: float = 1e5  # StyleGAN: the noise maps' autocorrelation regularisation
    starts: int = 32  # z: random starts tried per image, the best kept

    def __post_init__(self):
        from gan_zoo.latent.distances import PixelDistance

        self.distance = self.distance or PixelDistance()
        if self.space not in SPACES:
            raise UserError(f"space={self.space!r}: choose one of {', '.join(SPACES)}")
        for key, low in (("steps", 1), ("batch_size", 1), ("starts", 1)):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < low:
                raise UserError(f"projection.{key}={getattr(self, key)!r}: must be an integer >= {low}")
        number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)  # noqa: E731
        if self.lr is not None and not (number(self.lr) and self.lr > 0):
            raise UserError(f"projection.lr={self.lr!r}: must be a number > 0 (null = 0.05 in z, 0.1 in w)")
        if not (number(self.noise_weight) and self.noise_weight >= 0):
            raise UserError(f"projection.noise_weight={self.noise_weight!r}: must be a number >= 0")

    def total_steps(self, images: int) -> int:
        """The optimisation steps that projecting `images` images takes (what a progress bar counts)."""
        return -(-images // self.batch_size) * self.steps

    def __call__(self, generator: nn.Module, targets: torch.Tensor,
                 progress: Callable[[int], None] | None = None) -> Projection:
        """Latents for target images [N, C, R, R] in [-1, 1] (the generator's resolution and channels), the generator
        in eval mode and offering the space (gan_zoo.latent.spaces.check_space: the workflows check it once, before
        any work); `progress(1)` is called after each optimisation step: `steps` per batch of `batch_size` images."""
        lr = self.lr if self.lr is not None else (0.05 if self.space == "z" else 0.1)
        device = device_of(generator)
        self.distance.to(device)  # the projector's own
        w_stats = _w_statistics(generator, seed=self.seed) if self.space != "z" else None  # once, not per batch
        parts = []
        for i, batch in enumerate(targets.split(self.batch_size)):
            parts.append(_project_batch(generator, batch.to(device), self.space, self.distance, self.steps, lr,
                                        self.seed + i, self.noise_weight, self.starts, w_stats, progress))
        latents, final, start, images, noise = zip(*parts)
        return Projection(torch.cat(latents).cpu(), self.space, torch.cat(final).cpu(), torch.cat(start).cpu(),
                          torch.cat(images).float().cpu(),
                          None if noise[0] is None else [torch.cat(maps).cpu() for maps in zip(*noise)])
