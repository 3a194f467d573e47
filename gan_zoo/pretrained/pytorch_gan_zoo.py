"""Import facebookresearch/pytorch_GAN_zoo's pretrained PGAN generators into gan_zoo's PGGAN Generator.

Their checkpoints (as published for torch.hub) are `{"config": BaseConfig, "netG": ..., "netD": ..., "avgG": ...}`.
Their equalized layers scale a layer's *output*, bias included, by He's constant c = sqrt(2 / fan_in):
y = c (W x + b). Ours scale the weight by gain / sqrt(fan_in) and leave the bias alone, with gain 1 for
toRGB and sqrt(2)/4 for the 4x4 dense layer, so: W_ours = W_theirs * c_theirs / c_ours, b_ours = c_theirs * b.
Their alpha weighs the *old* level; ours weighs the new one: alpha_ours = 1 - alpha_theirs.

Layer map (theirs -> ours):  formatLayer -> dense;  groupScale0.0 -> blocks.0.2;
scaleLayers.i.0 / .1 -> blocks.(i+1).1 / .4;  toRGBLayers.i -> to_rgb.i.
"""
import math
from pathlib import Path

import torch

from gan_zoo.errors import UserError
from gan_zoo.files import read
from gan_zoo.networks.progan import Generator

# The published checkpoints (their hubconf.py).
URLS = {
    "celebAHQ-256": "https://dl.fbaipublicfiles.com/gan_zoo/PGAN/celebaHQ_s6_i80000-6196db68.pth",
    "celebAHQ-512": "https://dl.fbaipublicfiles.com/gan_zoo/PGAN/celebaHQ16_december_s7_i96000-9c72988c.pth",
    "DTD": "https://dl.fbaipublicfiles.com/gan_zoo/PGAN/testDTD_s5_i96000-04efa39f.pth",
    "celeba": "https://dl.fbaipublicfiles.com/gan_zoo/PGAN/celebaCropped_s5_i83000-2b0acc76.pth",
}


class _Config:
    """Stands in for their pickled `models.utils.config.BaseConfig` (we need only its attributes). It is the
    one class allowed beside tensors and plain values when their file is read with weights_only=True; its
    state is set as plain attributes, so nothing in the file runs."""

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


_THEIR_CLASSES = [(_Config, "models.utils.config.BaseConfig")]


def _fetch(name_or_path: str) -> Path:
    if name_or_path in URLS:
        url = URLS[name_or_path]
        path = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                torch.hub.download_url_to_file(url, str(path))
            except OSError as e:
                raise UserError(
                    f"could not download pytorch_GAN_zoo's '{name_or_path}' PGAN ({e}): download {url} "
                    "where there is internet and pass its path instead"
                ) from e
        return path
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        raise UserError(f"no pytorch_GAN_zoo checkpoint '{name_or_path}': give a file or one of {', '.join(URLS)}")
    return path


def convert_state_dict(netG: dict, alpha: float = 0.0) -> tuple[Generator, dict]:
    """A gan_zoo Generator shaped like their GNet, and its state dict converted from `netG`."""
    theirs = {k.replace(".module.", "."): v for k, v in netG.items()}  # older files lack ".module."
    n_scales = 1 + len({k.split(".")[1] for k in theirs if k.startswith("scaleLayers.")})
    widths = [theirs["groupScale0.0.weight"].shape[0]] + [theirs[f"scaleLayers.{i}.1.weight"].shape[0]
                                                          for i in range(n_scales - 1)]
    latent_dim = theirs["formatLayer.weight"].shape[1]
    channels = theirs["toRGBLayers.0.weight"].shape[0]
    generator = Generator(4 * 2 ** (n_scales - 1), channels, latent_dim, widths=widths)

    def c(weight):  # their runtime scale: He's constant sqrt(2 / fan_in)
        return math.sqrt(2.0 / weight[0].numel())

    def layer(their_name, our_name, our_scale):
        w, b = theirs[f"{their_name}.weight"], theirs[f"{their_name}.bias"]
        return {f"{our_name}.weight": w * (c(w) / our_scale), f"{our_name}.bias": b * c(w)}

    ours = {}
    ours |= layer("formatLayer", "dense", generator.dense.scale)
    ours |= layer("groupScale0.0", "blocks.0.2", generator.blocks[0][2].scale)
    for i in range(n_scales - 1):
        ours |= layer(f"scaleLayers.{i}.0", f"blocks.{i + 1}.1", generator.blocks[i + 1][1].scale)
        ours |= layer(f"scaleLayers.{i}.1", f"blocks.{i + 1}.4", generator.blocks[i + 1][4].scale)
    for i in range(n_scales):
        ours |= layer(f"toRGBLayers.{i}", f"to_rgb.{i}", generator.to_rgb[i].scale)
    ours["progress"] = torch.tensor(float(generator.max_level) - alpha)
    return generator, ours


def load_pgan_generator(name_or_path: str, average: bool = True) -> Generator:
    """pytorch_GAN_zoo's PGAN generator as a gan_zoo Generator (their averaged generator if `average`)."""
    path = _fetch(name_or_path)
    with torch.serialization.safe_globals(_THEIR_CLASSES):
        checkpoint = read(path, "pytorch_GAN_zoo checkpoint", ": download it again")
    key = "avgG" if average and isinstance(checkpoint, dict) and "avgG" in checkpoint else "netG"
    netG = checkpoint.get(key) if isinstance(checkpoint, dict) else None
    if not isinstance(netG, dict) or not all(isinstance(v, torch.Tensor) for v in netG.values()):
        raise UserError(f"'{path}' is not a pytorch_GAN_zoo PGAN checkpoint (no '{key}' state dict of tensors in a "
                        f"{type(checkpoint).__name__}): give one of their published PGAN files")
    alpha = getattr(checkpoint.get("config"), "alpha", 0.0)
    try:
        generator, state = convert_state_dict(netG, float(alpha or 0.0) if isinstance(alpha, (int, float)) else 0.0)
        generator.load_state_dict(state)
    except (KeyError, IndexError, ValueError, RuntimeError, TypeError) as e:
        raise UserError(f"'{path}': its '{key}' is not a PGAN generator's state dict ({type(e).__name__}: "
                        f"{str(e).splitlines()[0][:200] if str(e) else ''}); give one of their published PGAN files") from e
    return generator.eval()
