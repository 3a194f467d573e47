"""Latent spaces of the zoo's generators, interpolation in them, and latents.pt files.

Spaces: `z` (the prior's Gaussian input: DCGAN, PGGAN, the imported PGAN, StyleGAN), `w` (StyleGAN's mapped
latent, one vector for every layer) and `w_plus` (one w per layer, [num_ws, w_dim]: Abdal et al. 2019).
A latents.pt file holds plain values only (read with weights_only=True): file names, latents, space, the
generator's identity (a hash of its weights), final distances.
"""
from pathlib import Path

import torch
from torch import nn

from gan_zoo.contract import has_style_space, truncate
from gan_zoo.errors import UserError
from gan_zoo.files import read, save

SPACES = ("z", "w", "w_plus")
METHODS = ("slerp", "lerp")


def check_space(generator: nn.Module, space: str) -> None:
    if space not in SPACES:
        raise UserError(f"space={space!r}: choose one of {', '.join(SPACES)}")
    if space != "z" and not has_style_space(generator):
        raise UserError(f"space={space}: {type(generator).__module__}.{type(generator).__name__} has no mapping "
                        "network (w and w_plus belong to StyleGAN-style generators); use space=z")


def from_z(generator: nn.Module, z: torch.Tensor, space: str, psi: float = 1.0,
           c: torch.Tensor | None = None) -> torch.Tensor:
    """Latents in `space` for prior samples z [N, latent_dim] (and labels c of a conditional generator)."""
    if space == "z":
        return z
    w = truncate(generator, generator.mapping(z, c), psi)  # [N, w_dim]
    return w if space == "w" else w[:, None].repeat(1, generator.num_ws, 1)


def render(generator: nn.Module, latents: torch.Tensor, space: str, noise: list | None = None,
           noise_mode: str = "const", psi: float = 1.0, c: torch.Tensor | None = None) -> torch.Tensor:
    """Images [N, C, R, R] in about [-1, 1] from latents in `space` (differentiable: projection uses it).
    A style-space generator's per-pixel noise is its fixed noise unless `noise` maps are given; `psi` truncates z;
    c: the labels of a conditional generator (z only: w already holds them)."""
    if space == "z" and not has_style_space(generator):
        return generator(latents) if c is None else generator(latents, c)
    if space == "z":
        latents, space = from_z(generator, latents, "w", psi, c), "w"
    ws = latents[:, None].expand(-1, generator.num_ws, -1) if space == "w" else latents
    return generator.synthesis(ws, noise=noise, noise_mode=noise_mode)


def interpolate(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor, method: str = "slerp") -> torch.Tensor:
    """Latents between a and b [N, ...] at fractions t [T] -> [N, T, ...]. slerp (White 2016) keeps Gaussian z
    at the norm the generator was trained on; lerp is StyleGAN's choice in w."""
    if method not in METHODS:
        raise UserError(f"method={method!r}: choose slerp or lerp")
    shape = a.shape[1:]
    a, b = a.flatten(1).float(), b.flatten(1).float()
    tt = t.float()[None, :, None]
    if method == "lerp":
        out = a[:, None] + tt * (b - a)[:, None]
    else:
        a_n, b_n = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
        omega = torch.acos((a_n * b_n).sum(1).clamp(-1 + 1e-7, 1 - 1e-7))[:, None, None]  # [N, 1, 1]
        out = (torch.sin((1 - tt) * omega) * a[:, None] + torch.sin(tt * omega) * b[:, None]) / torch.sin(omega)
    return out.reshape(len(a), len(t), *shape)


def identity(generator: nn.Module) -> str:
    """A hash of the generator's weights: latents belong to one generator."""
    from gan_zoo.metrics.extractors import state_dict_sha256

    return state_dict_sha256(generator)[:16]


def save_latents(path: str | Path, latents: torch.Tensor, space: str, generator: nn.Module, source: str,
                 files: list | None = None, distances: torch.Tensor | None = None, noise: list | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"latents": latents.detach().cpu(), "space": space, "files": [str(f) for f in (files or [])],
              "model": {"identity": identity(generator), "class": type(generator).__name__, "source": str(source)},
              "distances": None if distances is None else distances.detach().cpu(),
              "noise": None if noise is None else [n.detach().cpu() for n in noise]}
    return save(record, path, "latents file")


def _is_latents_record(record) -> bool:
    """Whether a file's content has the fields and types save_latents writes."""
    if not isinstance(record, dict) or not {"latents", "space", "model", "files"} <= set(record):
        return False
    model, latents, noise, files = record["model"], record["latents"], record.get("noise"), record["files"]
    return (isinstance(latents, torch.Tensor) and latents.is_floating_point() and latents.dim() >= 2
            and record["space"] in SPACES and isinstance(model, dict)
            and all(isinstance(model.get(k), str) for k in ("identity", "source"))
            and isinstance(files, list) and all(isinstance(f, str) for f in files)
            and len(files) in (0, len(latents))  # the image each latent was projected from, or none
            and (noise is None or (isinstance(noise, list) and all(isinstance(n, torch.Tensor) for n in noise))))


def latent_shape(generator: nn.Module, space: str) -> tuple[int, ...]:
    """The shape of one latent of `generator` in `space`."""
    if space == "z":
        return (generator.latent_dim,)
    return (generator.w_dim,) if space == "w" else (generator.num_ws, generator.w_dim)  # (the contract's names)


def load_latents(path: str | Path, generator: nn.Module | None = None) -> dict:
    """A latents.pt file; with `generator`, refused unless it was made for that generator."""
    path = Path(path).expanduser()
    record = read(path, "latents file", ": project the images again with gan-zoo-project")
    if not _is_latents_record(record):
        raise UserError(f"'{path}' is not a gan_zoo latents file (written by gan-zoo-project or gan_zoo.api.project_folder): "
                        "project the images again with gan-zoo-project")
    if not torch.isfinite(record["latents"]).all():
        raise UserError(f"'{path}' holds latents that are NaN or infinite: a damaged file; project the images again "
                        "with gan-zoo-project")
    if generator is not None and record["model"]["identity"] != identity(generator):
        raise UserError(f"'{path}' holds latents of another generator ({record['model']['source']}): project the "
                        "images with this checkpoint first (gan-zoo-project), or give the checkpoint they came from")
    if generator is not None:
        check_space(generator, record["space"])
        shape, expected = list(record["latents"].shape[1:]), list(latent_shape(generator, record["space"]))
        if shape != expected:
            raise UserError(f"'{path}' holds latents of shape {shape} in {record['space']}, but this generator's are "
                            f"{expected}: a damaged file; project the images again with gan-zoo-project")
    return record
