"""What `init=` reads: another run's weights and the architecture they need, from a gan_zoo checkpoint, a folder of
gan-zoo-export, pytorch_GAN_zoo's PGAN or a stylegan2-ada-pytorch network pickle. Each kind is one reader function
(spec, path) -> Source, through the project's safe readers (weights_only checkpoints, safetensors, the
pytorch_GAN_zoo importer, the stylegan2-ada allow-list unpickler): nothing in a file runs, and a file never chooses
code (its class names are only compared with the configs', gan_zoo.commands.init_settings).

A new kind is one more reader: `PREFIXES` for `init=<prefix>:<name or file>`, `SUFFIXES` for a file known by its
suffix.
"""
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from gan_zoo.contract import num_classes
from gan_zoo.errors import UserError
from gan_zoo.files import sha256
from gan_zoo.runs import shared_model
from gan_zoo.runs.checkpoints import load_checkpoint

KINDS = ("a checkpoint of gan-zoo-train (checkpoints/<name>/<run>/last.ckpt), a folder of gan-zoo-export, "
         "pytorch_gan_zoo:<name or file> or a stylegan2-ada-pytorch pickle (stylegan2-ada:<name, URL or file.pkl>)")


@dataclass
class Source:
    """A source's weights (state dicts on the CPU) and what builds the networks they fit."""

    spec: str  # init= as given
    kind: str  # what it is, for the start line
    path: Path  # the file read (an exported model: its folder)
    sha256: str  # of the file read (an exported model: of its weights file)
    networks: dict  # {"generator": {"_target_", arguments...}, "discriminator": {...} or None}, sizes apart
    resolution: int
    channels: int
    num_classes: int  # 0 = unconditional
    generator: dict  # the trained generator's state dict
    generator_ema: dict  # its average (the generator's own where the source has none)
    discriminator: dict | None  # None: a generator-only source (the run gets a fresh discriminator)
    level: int | None = None  # progressive networks: the level (4 * 2^level pixels) their training reached

    def record(self) -> dict:
        """What the run's stored config says of its source."""
        return {"source": self.spec, "kind": self.kind, "path": str(self.path), "sha256": self.sha256}



def _level(state: dict) -> int | None:
    """The level progressive networks were trained up to (their `progress`: L, or L-1 < p < L while L fades in)."""
    progress = state.get("progress")
    return math.floor(float(progress)) if isinstance(progress, torch.Tensor) and progress.numel() == 1 else None


def _wrong_kind(spec: str, why: str) -> UserError:
    return UserError(f"init='{spec}' {why}: init= takes {KINDS}")


def gan_zoo_checkpoint(spec: str, path: Path) -> Source:
    """G, its EMA and D of a checkpoint gan-zoo-train wrote, with the model and data settings stored in it."""
    try:
        checkpoint = load_checkpoint(path)
    except UserError as e:
        raise _wrong_kind(spec, f"could not be read as a checkpoint ({e})") from e
    run, state = checkpoint.get("gan_zoo_config"), checkpoint.get("state_dict")
    if not isinstance(run, dict) or not isinstance(state, dict):
        raise _wrong_kind(spec, "is not a gan_zoo checkpoint (it has no stored run config and weights)")
    prefixes = {"generator": "generator.", "generator_ema": "generator_ema.module.", "discriminator": "discriminator."}
    parts = {name: {k[len(p):]: v for k, v in state.items() if str(k).startswith(p) and isinstance(v, torch.Tensor)}
             for name, p in prefixes.items()}
    try:
        model, data = run["model"], run["data"]
        networks = {net: dict(model[net]) for net in ("generator", "discriminator")}
        sizes = int(data["resolution"]), int(data["channels"]), int(data.get("num_classes") or 0)
    except (KeyError, TypeError, ValueError) as e:
        raise _wrong_kind(spec, f"has no readable model and data settings ({type(e).__name__}: {e})") from e
    if not parts["generator"] or not parts["generator_ema"] or not parts["discriminator"]:
        raise _wrong_kind(spec, "holds no generator, EMA generator and discriminator weights")
    return Source(spec, "gan_zoo checkpoint", path, sha256(path), networks, *sizes, parts["generator"],
                  parts["generator_ema"], parts["discriminator"], _level(parts["generator"]))


def exported_folder(spec: str, folder: Path) -> Source:
    """The generator of a folder gan-zoo-export wrote (its class and arguments in config.json, read through the
    allowed classes); it is the EMA generator too, and the run gets a fresh discriminator."""
    if not (folder / shared_model.CONFIG).is_file() or not (folder / shared_model.WEIGHTS).is_file():
        raise _wrong_kind(spec, f"is a folder without {shared_model.CONFIG} and {shared_model.WEIGHTS}")
    generator, config = shared_model.load(folder)
    state = {k: v.detach().clone() for k, v in generator.state_dict().items()}
    networks = {"generator": {"_target_": config["class"], **config["arguments"]}, "discriminator": None}
    return Source(spec, "exported model", folder, sha256(folder / shared_model.WEIGHTS), networks, config["resolution"],
                  config["channels"], num_classes(generator), state, state, None, _level(state))


def _state(network) -> dict | None:
    return None if network is None else {k: v.detach().clone() for k, v in network.state_dict().items()}


def pytorch_gan_zoo(spec: str, name: str) -> Source:
    """pytorch_GAN_zoo's PGAN (a published name or a file): netG, avgG and netD, converted into gan_zoo's PGGAN."""
    from gan_zoo.pretrained.pytorch_gan_zoo import load_pgan

    parts = load_pgan(name)
    g, d = parts["generator"], parts["discriminator"]

    def target(network) -> str:
        return f"{type(network).__module__}.{type(network).__name__}"

    networks = {"generator": {"_target_": target(g), "latent_dim": g.latent_dim, "widths": g.widths},
                "discriminator": None if d is None else {"_target_": target(d), "widths": d.widths}}
    generator = _state(g)
    average = generator if parts["average"] is g else _state(parts["average"])
    return Source(spec, "pytorch_GAN_zoo PGAN", parts["path"], sha256(parts["path"]), networks, g.resolution,
                  g.channels, 0, generator, average, _state(d), _level(generator))


def stylegan2_ada(spec: str, name: str) -> Source:
    """A stylegan2-ada-pytorch network pickle (NVIDIA's name, a URL or a file): its G, G_ema and D as gan_zoo's
    StyleGAN (G_ema also as G where the file has no G), read by the allow-list unpickler."""
    from gan_zoo.pretrained.stylegan2_ada import load

    imported = load(str(name), trained=True)
    g, d = imported.generator, imported.discriminator
    sizes = ("resolution", "channels")
    networks = {"generator": {"_target_": "gan_zoo.networks.stylegan.Generator", **imported.arguments},
                "discriminator": None if d is None else {"_target_": "gan_zoo.networks.stylegan.Discriminator",
                                                         **{k: v for k, v in imported.discriminator_arguments.items()
                                                            if k not in sizes}}}
    average = _state(g)
    return Source(spec, "stylegan2-ada-pytorch pickle", Path(imported.facts["file"]), imported.facts["sha256"],
                  networks, g.resolution, g.channels, num_classes(g),
                  average if imported.trained is None else _state(imported.trained), average, _state(d))


PREFIXES = {"pytorch_gan_zoo": pytorch_gan_zoo, "stylegan2-ada": stylegan2_ada}  # init=<prefix>:<name or file>
SUFFIXES = {".pkl": lambda spec, path: stylegan2_ada(spec, str(path))}  # a file's suffix -> its reader; any other
# file is read as a gan_zoo checkpoint


def read_source(spec: str) -> Source:
    """The Source that `init=<spec>` names, read once, or a UserError naming what is wrong with it."""
    spec = str(spec)
    prefix, colon, rest = spec.partition(":")
    if colon and prefix in PREFIXES:
        if not rest:
            raise _wrong_kind(spec, f"names no {prefix} model")
        return PREFIXES[prefix](spec, rest)
    path = Path(spec).expanduser()
    if path.is_dir():
        return exported_folder(spec, path)
    if not path.is_file():
        raise UserError(f"init='{spec}': no such file or folder (init= takes {KINDS})")
    return SUFFIXES.get(path.suffix.lower(), gan_zoo_checkpoint)(spec, path)
