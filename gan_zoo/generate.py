"""`gan-zoo-generate`: images and latent interpolations from a gan_zoo checkpoint or a pretrained generator.

    gan-zoo-generate ckpt=checkpoints/<name>/<run>/last.ckpt num=64 out=samples.png
    gan-zoo-generate pretrained=pytorch_gan_zoo:celebAHQ-512 interpolate=true steps=10 out=morph.png
    gan-zoo-generate ckpt=<a StyleGAN run>/last.ckpt psi=0.7 out=truncated.png    # the truncation trick
"""
import inspect
import sys
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig
from torchvision.utils import make_grid, save_image

from gan_zoo import cli
from gan_zoo.api import load_generator
from gan_zoo.cli import CONFIG_DIR, report_user_error
from gan_zoo.errors import UserError


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between latents a, b [N, D] at fractions t [T] -> [N, T, D] (White 2016):
    it keeps interpolated Gaussian latents at the norm the generator was trained on."""
    a_n, b_n = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(1).clamp(-1 + 1e-7, 1 - 1e-7))[:, None, None]  # [N, 1, 1]
    t = t[None, :, None]
    return (torch.sin((1 - t) * omega) * a[:, None] + torch.sin(t * omega) * b[:, None]) / torch.sin(omega)


@torch.no_grad()
def generate(cfg: DictConfig) -> Path:
    device = torch.device("cuda" if torch.cuda.is_available() and cfg.device != "cpu" else "cpu")
    generator = load_generator(cfg.ckpt, cfg.pretrained, device).generator
    seed = torch.Generator().manual_seed(cfg.seed)
    if cfg.interpolate:  # each row morphs from one random latent to another
        a, b = (torch.randn(cfg.rows, generator.latent_dim, generator=seed) for _ in range(2))
        z = slerp(a, b, torch.linspace(0, 1, cfg.steps)).flatten(0, 1)
        nrow = cfg.steps
    else:
        z = torch.randn(cfg.num, generator.latent_dim, generator=seed)
        nrow = cfg.nrow
    kwargs = {}
    if cfg.psi != 1:  # the truncation trick: StyleGAN-style generators only
        if "psi" not in inspect.signature(generator.forward).parameters:
            raise UserError(f"psi={cfg.psi}: truncation needs a StyleGAN-style generator (it has a tracked average w)")
        kwargs["psi"] = cfg.psi
    images = torch.cat([generator(chunk.to(device), **kwargs).float().cpu() for chunk in z.split(cfg.batch_size)])
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_image(make_grid(images, nrow=nrow, normalize=True, value_range=(-1, 1)), out)
    return out


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="generate")
def _main(cfg: DictConfig) -> None:
    with report_user_error():
        print(f"wrote {generate(cfg)}", file=sys.stderr)


def main() -> None:
    cli.run(_main)


if __name__ == "__main__":
    main()
