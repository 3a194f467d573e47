"""`gan-zoo-generate`: images and latent interpolations from a gan_zoo checkpoint or a pretrained generator.

    gan-zoo-generate ckpt=checkpoints/<name>/<run>/last.ckpt num=64 out=samples.png
    gan-zoo-generate ckpt=... num=50000 out=fid_images/                   # one PNG per image, for other tools
    gan-zoo-generate pretrained=pytorch_gan_zoo:celebAHQ-512 interpolate=true frames=10 out=morph.png
    gan-zoo-generate ckpt=... interpolate=true format=gif frames=30 out=morph.gif
    gan-zoo-generate ckpt=... interpolate=true latents=proj/latents.pt out=between.png   # between projections
    gan-zoo-generate ckpt=<a StyleGAN run>/last.ckpt psi=0.7 out=truncated.png    # the truncation trick
"""
import math
import sys
from pathlib import Path

import torch
from omegaconf import DictConfig

from gan_zoo.api import generate_images, image_batches, load_generator
from gan_zoo.commands import cli
from gan_zoo.commands.config_checks import check_values, positive, whole
from gan_zoo.contract import has_style_space
from gan_zoo.errors import UserError
from gan_zoo.latent.spaces import check_space, from_z, interpolate, load_latents, render
from gan_zoo.media import FORMATS, save_animation, save_folder, save_grid

# setting -> (is the value good?, what a good value looks like)
RULES = {
    "num": (whole(1), "a whole number of images >= 1"),
    "batch_size": (whole(1), "a whole number >= 1"),
    "nrow": (whole(1), "a whole number of images per row >= 1"),
    "rows": (whole(1), "a whole number of interpolations >= 1"),
    "frames": (whole(1), "a whole number of images per interpolation >= 1"),
    "steps": (lambda v: v is None or whole(1)(v), "a whole number >= 1 (the old name of frames)"),
    "fps": (positive, "a number of frames per second > 0, e.g. 10"),
    "psi": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
            "a finite number: 1 = off, 0.7 = the usual truncation"),
}


def _format(cfg: DictConfig, out: Path) -> str:
    fmt = cfg.format or ("folder" if not out.suffix else out.suffix.lstrip(".").lower())
    fmt = "png" if fmt in ("jpg", "jpeg") else fmt
    if fmt not in FORMATS:
        raise UserError(f"format={fmt!r} (from out='{out}'): choose one of {', '.join(FORMATS)} "
                        "(a folder: out=<name>/ or format=folder)")
    if fmt in ("gif", "mp4") and not cfg.interpolate:
        raise UserError(f"format={fmt} animates an interpolation: add interpolate=true (or write png / a folder)")
    return fmt


def _endpoints(cfg: DictConfig, generator, space: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Start and end latents [rows, ...] in `space`: random, or consecutive entries of a latents.pt."""
    if cfg.latents:
        record = load_latents(cfg.latents, generator)
        if record["space"] != space:
            raise UserError(f"'{cfg.latents}' holds latents in {record['space']}, not {space}: set space={record['space']}")
        latents = record["latents"]
        if len(latents) < 2:
            raise UserError(f"'{cfg.latents}' holds {len(latents)} latent; interpolation needs at least 2")
        return latents[:-1], latents[1:]  # image i -> image i + 1
    seed = torch.Generator().manual_seed(cfg.seed)
    z = torch.randn(2 * cfg.rows, generator.latent_dim, generator=seed)
    device = next(generator.parameters()).device
    with torch.no_grad():
        latents = from_z(generator, z.to(device), space, cfg.psi).cpu()
    return latents[: cfg.rows], latents[cfg.rows :]


@torch.no_grad()
def generate(cfg: DictConfig) -> Path:
    check_values(cfg, RULES)
    out = Path(cfg.out).expanduser()
    fmt = _format(cfg, out)
    device = cfg.device
    loaded = load_generator(cfg.ckpt, cfg.pretrained, device, shared=cfg.shared)
    generator = loaded.generator
    cli.check_output(out, cfg.overwrite, own=loaded.folders)
    if fmt == "folder" and out.is_dir() and any(out.glob("*.png")) and not cfg.overwrite:
        raise UserError(f"out='{out}' already holds PNG images: choose another folder or add overwrite=true")
    space = cfg.space
    check_space(generator, space)
    kwargs = {}
    if cfg.psi != 1:  # the truncation trick: StyleGAN-style generators only
        if not has_style_space(generator):
            raise UserError(f"psi={cfg.psi}: truncation needs a StyleGAN-style generator (it has a tracked average w)")
        kwargs["psi"] = cfg.psi
    if cfg.interpolate:  # each row morphs from one latent to another
        a, b = _endpoints(cfg, generator, space)
        frames = cfg.frames
        latents = interpolate(a, b, torch.linspace(0, 1, frames), cfg.method)  # [rows, frames, ...]
        images = torch.cat([render(generator, chunk.to(device), space, psi=cfg.psi).float().cpu()
                            for chunk in latents.flatten(0, 1).split(cfg.batch_size)])
        if fmt in ("gif", "mp4"):
            return save_animation(images.unflatten(0, (len(latents), frames)), out, fmt, cfg.fps)  # [rows, frames, ...]
        if fmt == "folder":
            return save_folder(images, out)
        return save_grid(images, out, nrow=frames)
    if cfg.latents:
        raise UserError("latents=... is read by interpolate=true; to see projections, look at projection.png")
    if fmt == "folder":  # many images, in batches: never all in memory
        return save_folder(image_batches(generator, cfg.num, cfg.seed, cfg.batch_size, **kwargs), out, total=cfg.num,
                           progress=True)
    images = generate_images(generator, cfg.num, cfg.seed, cfg.batch_size, **kwargs)
    return save_grid(images, out, nrow=cfg.nrow)


def _run(cfg: DictConfig) -> None:
    print(f"wrote {generate(cfg)}", file=sys.stderr)


main = cli.command("generate", _run)


if __name__ == "__main__":
    main()
