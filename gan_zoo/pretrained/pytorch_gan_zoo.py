"""Import facebookresearch/pytorch_GAN_zoo's pretrained PGAN into gan_zoo's PGGAN Generator and Discriminator.

Their checkpoints (as published for torch.hub) are `{"config": BaseConfig, "netG": ..., "netD": ..., "avgG": ...}`.
Their equalized layers scale a layer's *output*, bias included, by He's constant c = sqrt(2 / fan_in):
y = c (W x + b). Ours scale the weight by gain / sqrt(fan_in) and leave the bias alone, with gain 1 for
toRGB and sqrt(2)/4 for the 4x4 dense layer, so: W_ours = W_theirs * c_theirs / c_ours, b_ours = c_theirs * b.
Their alpha weighs the *old* level; ours weighs the new one: alpha_ours = 1 - alpha_theirs.

Layer map (theirs -> ours):  formatLayer -> dense;  groupScale0.0 -> blocks.0.2;
scaleLayers.i.0 / .1 -> blocks.(i+1).1 / .4;  toRGBLayers.i -> to_rgb.i.
Their DNet (netD):  fromRGBLayers.i -> from_rgb.i.0;  scaleLayers.i.0 / .1 -> blocks.(i+1).0 / .2;
groupScaleZero.0 / .1 -> blocks.0.1 / .4;  decisionLayer -> blocks.0.6 (our output layer has gain 1).
One difference stays: their minibatch standard deviation takes groups of consecutive images and the unbiased
variance, ours (the paper's) strided groups and the biased one, so D's logits equal theirs except through that one
feature (a D without it gets a zero weight for ours: then they are equal); fine-tuning adapts D to it.
"""
import math
from pathlib import Path

import torch

from gan_zoo.errors import UserError
from gan_zoo.files import read
from gan_zoo.networks.progan import Discriminator, Generator

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


def convert_discriminator_state_dict(netD: dict, alpha: float = 0.0, mbstd_group_size: int = 4) -> tuple:
    """A gan_zoo Discriminator shaped like their DNet, and its state dict converted from `netD`."""
    theirs = {k.replace(".module.", "."): v for k, v in netD.items()}
    n_scales = 1 + len({k.split(".")[1] for k in theirs if k.startswith("scaleLayers.")})
    widths = [theirs["groupScaleZero.0.weight"].shape[0]] + [theirs[f"scaleLayers.{i}.0.weight"].shape[0]
                                                             for i in range(n_scales - 1)]
    channels = theirs["fromRGBLayers.0.weight"].shape[1]
    if theirs["decisionLayer.weight"].shape[0] != 1:
        raise ValueError(f"a decision layer of {theirs['decisionLayer.weight'].shape[0]} outputs (a conditional "
                         "PGAN): gan_zoo's PGGAN discriminator gives one logit")
    discriminator = Discriminator(4 * 2 ** (n_scales - 1), channels, mbstd_group_size=mbstd_group_size, widths=widths)

    def layer(their_name, our_name, our_scale):
        w, b = theirs[f"{their_name}.weight"], theirs[f"{their_name}.bias"]
        c = math.sqrt(2.0 / w[0].numel())
        return {f"{our_name}.weight": w * (c / our_scale), f"{our_name}.bias": b * c}

    blocks = discriminator.blocks
    ours = {}
    for i in range(n_scales):
        ours |= layer(f"fromRGBLayers.{i}", f"from_rgb.{i}.0", discriminator.from_rgb[i][0].scale)
    for i in range(n_scales - 1):
        ours |= layer(f"scaleLayers.{i}.0", f"blocks.{i + 1}.0", blocks[i + 1][0].scale)
        ours |= layer(f"scaleLayers.{i}.1", f"blocks.{i + 1}.2", blocks[i + 1][2].scale)
    conv = theirs["groupScaleZero.0.weight"]
    if conv.shape[1] == widths[0]:  # their D without minibatch stddev: our extra input channel gets a zero weight
        theirs["groupScaleZero.0.weight"] = torch.cat([conv, conv.new_zeros(conv.shape[0], 1, *conv.shape[2:])], 1)
        c_theirs = math.sqrt(2.0 / conv[0].numel())  # their scale was computed without the extra channel
        ours |= {"blocks.0.1.weight": theirs["groupScaleZero.0.weight"] * (c_theirs / blocks[0][1].scale),
                 "blocks.0.1.bias": theirs["groupScaleZero.0.bias"] * c_theirs}
    else:
        ours |= layer("groupScaleZero.0", "blocks.0.1", blocks[0][1].scale)
    ours |= layer("groupScaleZero.1", "blocks.0.4", blocks[0][4].scale)
    ours |= layer("decisionLayer", "blocks.0.6", blocks[0][6].scale)
    ours["progress"] = torch.tensor(float(discriminator.max_level) - alpha)
    return discriminator, ours


def _read(name_or_path: str) -> tuple[Path, dict]:
    path = _fetch(name_or_path)
    with torch.serialization.safe_globals(_THEIR_CLASSES):
        checkpoint = read(path, "pytorch_GAN_zoo checkpoint", ": download it again")
    if not isinstance(checkpoint, dict):
        raise UserError(f"'{path}' is not a pytorch_GAN_zoo PGAN checkpoint (it holds a {type(checkpoint).__name__}): "
                        "give one of their published PGAN files")
    return path, checkpoint


def _state(checkpoint: dict, key: str, path: Path) -> dict:
    state = checkpoint.get(key)
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"'{path}' is not a pytorch_GAN_zoo PGAN checkpoint (no '{key}' state dict of tensors in a "
                        f"{type(checkpoint).__name__}): give one of their published PGAN files")
    return state


def _alpha(checkpoint: dict) -> float:
    alpha = getattr(checkpoint.get("config"), "alpha", 0.0)
    return float(alpha or 0.0) if isinstance(alpha, (int, float)) else 0.0


def _converted(convert, state: dict, key: str, path: Path, alpha: float):
    try:
        network, converted = convert(state, alpha)
        network.load_state_dict(converted)
    except (KeyError, IndexError, ValueError, RuntimeError, TypeError) as e:
        raise UserError(f"'{path}': its '{key}' is not a PGAN {'generator' if key != 'netD' else 'discriminator'}'s "
                        f"state dict ({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}); give one "
                        "of their published PGAN files") from e
    return network.eval()


def load_pgan(name_or_path: str) -> dict:
    """Everything of a pytorch_GAN_zoo PGAN file: {"path", "generator" (netG), "average" (avgG, else netG),
    "discriminator" (netD, None where the file has none)}, as gan_zoo networks in eval mode."""
    path, checkpoint = _read(name_or_path)
    alpha = _alpha(checkpoint)
    parts = {"path": path, "generator": _converted(convert_state_dict, _state(checkpoint, "netG", path), "netG", path,
                                                   alpha)}
    parts["average"] = (_converted(convert_state_dict, _state(checkpoint, "avgG", path), "avgG", path, alpha)
                        if checkpoint.get("avgG") else parts["generator"])
    parts["discriminator"] = (_converted(convert_discriminator_state_dict, _state(checkpoint, "netD", path), "netD",
                                         path, alpha) if checkpoint.get("netD") else None)
    return parts


def load_pgan_generator(name_or_path: str, average: bool = True) -> Generator:
    """pytorch_GAN_zoo's PGAN generator as a gan_zoo Generator (their averaged generator if `average`)."""
    path, checkpoint = _read(name_or_path)
    key = "avgG" if average and "avgG" in checkpoint else "netG"
    return _converted(convert_state_dict, _state(checkpoint, key, path), key, path, _alpha(checkpoint))
