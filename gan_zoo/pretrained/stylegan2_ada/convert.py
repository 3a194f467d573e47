"""stylegan2-ada-pytorch's G_ema and D (as reader.py reads them) as gan_zoo's StyleGAN Generator and Discriminator,
set with the options that make them compute what the reference computes (gan_zoo.networks.stylegan):

    reference                                    gan_zoo option
    FIR up/down convolutions, [1, 3, 3, 1]       resample=fir
    the skip generator's upsample2d of the RGB   rgb_resample=fir
    bias_act: sqrt(2) lrelu(W x + b)             activation_gain=output (G's mapping; every D layer)
    conv_clamp, c_dim, mbstd_*, cmap_dim, D's    conv_clamp, num_classes, mbstd_group_size / mbstd_num_channels,
    architecture (resnet / orig), mapping lr     cmap_dim, architecture, mapping_lr_multiplier
    num_fp16_res, fp16_channels_last            not needed: gan_zoo computes in fp32 (or bf16 with the trainer's)

With these options every tensor keeps its value and only its name changes (generator_names, discriminator_names):
the equalized layers scale the same weights by the same 1 / sqrt(fan_in) (a synthesis layer's weight scale cancels
in the demodulation), the mapping networks by their lr_multiplier. What gan_zoo cannot compute (StyleGAN3, the
orig / resnet generator, the skip discriminator, other filters or activations, no noise) is refused in one line.
"""
import json
from dataclasses import dataclass

import torch
from torch import nn

from gan_zoo.errors import UserError
from gan_zoo.networks.resample import fir_filter
from gan_zoo.networks.stylegan import Discriminator, Generator
from gan_zoo.pretrained.stylegan2_ada.reader import Persistent

# The reference's defaults for what it may leave out of its init kwargs, and what gan_zoo computes of each
G_MAPPING = {"num_layers": 8, "embed_features": None, "layer_features": None, "activation": "lrelu",
             "lr_multiplier": 0.01, "w_avg_beta": 0.995}
G_SYNTHESIS = {"channel_base": 32768, "channel_max": 512, "num_fp16_res": 0, "conv_clamp": None,
               "architecture": "skip", "resample_filter": [1, 3, 3, 1], "use_noise": True, "activation": "lrelu",
               "kernel_size": 3, "fp16_channels_last": False}
D_TOP = {"architecture": "resnet", "channel_base": 32768, "channel_max": 512, "num_fp16_res": 0, "conv_clamp": None,
         "cmap_dim": None, "block_kwargs": {}, "mapping_kwargs": {}, "epilogue_kwargs": {}}
D_BLOCK = {"activation": "lrelu", "resample_filter": [1, 3, 3, 1], "freeze_layers": 0, "fp16_channels_last": False}
D_MAPPING = {"num_layers": 8, "embed_features": None, "layer_features": None, "activation": "lrelu",
             "lr_multiplier": 0.01}
D_EPILOGUE = {"mbstd_group_size": 4, "mbstd_num_channels": 1, "activation": "lrelu"}
SUPPORTED = {"activation": ("lrelu",), "resample_filter": ([1, 3, 3, 1],), "use_noise": (True,), "kernel_size": (3,)}


@dataclass
class Imported:
    generator: Generator  # G_ema, in eval mode
    discriminator: Discriminator | None  # D (None when the file has none)
    arguments: dict  # the Generator's arguments besides resolution and channels (what config.json stores)
    discriminator_arguments: dict | None
    facts: dict  # what the file tells: its classes' module, the dataset kwargs, the reference's own kwargs
    trained: Generator | None = None  # G, the trained generator G_ema averages (asked for by init=; None otherwise)


def _settings(kwargs: dict, defaults: dict, where: str, source: str) -> dict:
    """kwargs over the defaults; a UserError for an argument gan_zoo does not know or a value it cannot compute."""
    unknown = sorted(set(kwargs) - set(defaults))
    if unknown:
        raise UserError(f"'{source}': its {where} has arguments gan_zoo's StyleGAN does not compute "
                        f"({', '.join(unknown)}); gan_zoo imports stylegan2-ada-pytorch's networks")
    settings = {**defaults, **kwargs}
    for key, allowed in SUPPORTED.items():
        if key in settings and settings[key] not in allowed:
            raise UserError(f"'{source}': {where} {key}={settings[key]!r} is not supported (gan_zoo's StyleGAN "
                            f"computes {key}={allowed[0]!r})")
    return settings


def _label_features(mapping: dict, w_dim: int, where: str, source: str) -> None:
    for key in ("embed_features", "layer_features"):
        if mapping[key] not in (None, w_dim):
            raise UserError(f"'{source}': {where} {key}={mapping[key]} differs from its w_dim {w_dim}, which "
                            "gan_zoo's mapping network does not support")


def _refuse_stylegan3(record: Persistent, source: str) -> None:
    synthesis = record.children().get("synthesis")
    if record.module == "training.networks_stylegan3" or (synthesis and "input" in synthesis.children()):
        kwargs = record.init_kwargs().get("synthesis_kwargs") or {}
        kind = "stylegan3-r" if kwargs.get("conv_kernel") == 1 or kwargs.get("use_radial_filters") else "stylegan3-t"
        raise UserError(f"'{source}' is a StyleGAN3 network ({kind}, alias-free): gan_zoo computes StyleGAN2 "
                        "networks only (stylegan2-ada-pytorch's, or the stylegan3 repository's --cfg=stylegan2)")


def generator_arguments(record: Persistent, source: str) -> tuple[dict, dict]:
    """(gan_zoo Generator arguments, resolution and channels included; the reference mapping kwargs)."""
    _refuse_stylegan3(record, source)
    kwargs = record.init_kwargs()
    if record.class_name != "Generator" or not {"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"} \
            <= set(kwargs):
        raise UserError(f"'{source}': its G_ema is a '{record.class_name}' with arguments {sorted(kwargs)[:8]}, not "
                        "a stylegan2-ada-pytorch Generator (z_dim, c_dim, w_dim, img_resolution, img_channels)")
    mapping = _settings(kwargs.get("mapping_kwargs") or {}, G_MAPPING, "generator's mapping_kwargs", source)
    synthesis = _settings(kwargs.get("synthesis_kwargs") or {}, G_SYNTHESIS, "generator's synthesis_kwargs", source)
    _label_features(mapping, kwargs["w_dim"], "generator's mapping_kwargs", source)
    if synthesis["architecture"] != "skip":
        raise UserError(f"'{source}': its generator's architecture is {synthesis['architecture']!r}; gan_zoo's "
                        "StyleGAN computes the skip generator (stylegan2-ada-pytorch's default) only")
    if kwargs["z_dim"] == 0:
        raise UserError(f"'{source}': its generator has no latent (z_dim=0), which gan_zoo's contract needs")
    return {"resolution": kwargs["img_resolution"], "channels": kwargs["img_channels"], "latent_dim": kwargs["z_dim"],
            "w_dim": kwargs["w_dim"], "mapping_layers": mapping["num_layers"],
            "mapping_lr_multiplier": mapping["lr_multiplier"], "fmap_base": synthesis["channel_base"],
            "fmap_max": synthesis["channel_max"], "conv_clamp": synthesis["conv_clamp"], "resample": "fir",
            "rgb_resample": "fir", "num_classes": kwargs["c_dim"], "activation_gain": "output"}, mapping


def discriminator_arguments(record: Persistent, source: str) -> tuple[dict, dict]:
    """(gan_zoo Discriminator arguments, resolution and channels included; the reference mapping kwargs)."""
    kwargs = dict(record.init_kwargs())
    if record.class_name != "Discriminator" or not {"c_dim", "img_resolution", "img_channels"} <= set(kwargs):
        raise UserError(f"'{source}': its D is a '{record.class_name}', not a stylegan2-ada-pytorch Discriminator")
    sizes = {k: kwargs.pop(k) for k in ("c_dim", "img_resolution", "img_channels")}
    top = _settings(kwargs, D_TOP, "discriminator's kwargs", source)
    _settings(top["block_kwargs"], D_BLOCK, "discriminator's block_kwargs", source)
    mapping = _settings(top["mapping_kwargs"], D_MAPPING, "discriminator's mapping_kwargs", source)
    epilogue = _settings(top["epilogue_kwargs"], D_EPILOGUE, "discriminator's epilogue_kwargs", source)
    if top["architecture"] not in ("resnet", "orig"):
        raise UserError(f"'{source}': its discriminator's architecture is {top['architecture']!r}; gan_zoo's "
                        "StyleGAN computes the resnet and orig discriminators only")
    width4 = min(top["channel_base"] // 4, top["channel_max"])
    cmap_dim = top["cmap_dim"] or width4
    _label_features(mapping, cmap_dim, "discriminator's mapping_kwargs", source)
    return {"resolution": sizes["img_resolution"], "channels": sizes["img_channels"], "fmap_base": top["channel_base"],
            "fmap_max": top["channel_max"], "mbstd_group_size": epilogue["mbstd_group_size"], "resample": "fir",
            "architecture": top["architecture"], "mbstd_num_channels": epilogue["mbstd_num_channels"],
            "conv_clamp": top["conv_clamp"], "num_classes": sizes["c_dim"],
            "cmap_dim": cmap_dim if cmap_dim != width4 else None, "mapping_layers": mapping["num_layers"],
            "mapping_lr_multiplier": mapping["lr_multiplier"],
            "activation_gain": "output"}, mapping


def _mapping_names(prefix: str, layers: int, conditional: bool) -> dict:
    names = {f"{prefix}fc{i}.weight": f"{prefix}net.{1 + 2 * i}.weight" for i in range(layers)}
    names |= {f"{prefix}fc{i}.bias": f"{prefix}net.{2 + 2 * i}.bias" for i in range(layers)}
    if conditional:
        names |= {f"{prefix}embed.weight": f"{prefix}embed.weight", f"{prefix}embed.bias": f"{prefix}embed.bias"}
    return names


def _synthesis_layer(theirs: str, ours: str) -> dict:
    names = {f"{theirs}.{k}": f"{ours}.{k}" for k in ("bias", "noise_strength", "noise_const")}
    return names | {f"{theirs}.weight": f"{ours}.conv.weight", f"{theirs}.affine.weight": f"{ours}.conv.affine.weight",
                    f"{theirs}.affine.bias": f"{ours}.conv.affine.bias"}


def generator_names(generator: Generator, mapping_layers: int) -> dict:
    """Reference tensor name -> gan_zoo tensor name (NAMES for the generator)."""
    names = _mapping_names("mapping.", mapping_layers, generator.num_classes > 0) | {"mapping.w_avg": "mapping.w_avg"}
    for level in range(len(generator.to_rgbs)):
        block = f"synthesis.b{4 * 2**level}"
        if level == 0:
            names |= {f"{block}.const": "const"} | _synthesis_layer(f"{block}.conv1", "convs.0")
        else:
            names |= _synthesis_layer(f"{block}.conv0", f"convs.{2 * level - 1}")
            names |= _synthesis_layer(f"{block}.conv1", f"convs.{2 * level}")
        rgb = f"to_rgbs.{level}"
        names |= {f"{block}.torgb.weight": f"{rgb}.conv.weight", f"{block}.torgb.bias": f"{rgb}.bias",
                  f"{block}.torgb.affine.weight": f"{rgb}.conv.affine.weight",
                  f"{block}.torgb.affine.bias": f"{rgb}.conv.affine.bias"}
    return names


def discriminator_names(discriminator: Discriminator, mapping_layers: int) -> dict:
    """Reference tensor name -> gan_zoo tensor name (NAMES for the discriminator, activation_gain=output)."""
    levels = len(discriminator.blocks)
    top = f"b{4 * 2**levels}"
    names = {f"{top}.fromrgb.weight": "from_rgb.0.weight", f"{top}.fromrgb.bias": "from_rgb.1.bias"}
    for k in range(levels):
        block = f"b{4 * 2 ** (levels - k)}"
        names |= {f"{block}.conv0.weight": f"blocks.{k}.0.weight", f"{block}.conv0.bias": f"blocks.{k}.1.bias",
                  f"{block}.conv1.weight": f"blocks.{k}.2.weight", f"{block}.conv1.bias": f"blocks.{k}.3.bias"}
        if discriminator.skips is not None:
            names[f"{block}.skip.weight"] = f"skips.{k}.1.weight"
    names |= {"b4.conv.weight": "out.1.weight", "b4.conv.bias": "out.2.bias", "b4.fc.weight": "out.4.weight",
              "b4.fc.bias": "out.5.bias", "b4.out.weight": "out.6.weight", "b4.out.bias": "out.6.bias"}
    return names | (_mapping_names("mapping.", mapping_layers, True) if discriminator.mapping is not None else {})


def _load(network: nn.Module, theirs: dict, names: dict, what: str, source: str) -> None:
    """Copy the reference's tensors into `network` by `names`, checking that they are exactly the expected ones."""
    filters = {k: v for k, v in theirs.items() if k.endswith("resample_filter")}
    if any(v.shape != (4, 4) or not torch.equal(v.float(), fir_filter()) for v in filters.values()):
        raise UserError(f"'{source}': its {what} resamples with another filter than [1, 3, 3, 1], which gan_zoo's "
                        "StyleGAN does not compute")
    tensors = {k: v for k, v in theirs.items() if k not in filters}
    ours = network.state_dict()
    extra, missing = sorted(set(tensors) - set(names)), sorted(set(names) - set(tensors))
    wrong = [k for k in set(tensors) & set(names) if tensors[k].shape != ours[names[k]].shape]
    if extra or missing or wrong:
        detail = "; ".join(f"{label}: {', '.join(keys[:4])}" for label, keys in
                           (("unexpected", extra), ("missing", missing), ("other shapes", wrong)) if keys)
        raise UserError(f"'{source}': its {what} does not have the tensors of the network its kwargs describe "
                        f"({detail}); it is not a stylegan2-ada-pytorch network gan_zoo can compute")
    network.load_state_dict({names[k]: v.detach().float().clone() for k, v in tensors.items()})


def convert(snapshot: dict, source: str, trained: bool = False) -> Imported:
    """The snapshot's G_ema (or G) and D as gan_zoo networks, in eval mode; `trained`: its G too (where it has both),
    for a run that continues training it."""
    record = snapshot.get("G_ema", snapshot.get("G"))
    if not isinstance(record, Persistent):
        raise UserError(f"'{source}' holds no G_ema network (keys: {', '.join(map(str, list(snapshot)[:6]))}): give "
                        "a stylegan2-ada-pytorch network-snapshot-*.pkl")
    arguments, mapping = generator_arguments(record, source)
    generator = Generator(**arguments)
    _load(generator, record.tensors(), generator_names(generator, mapping["num_layers"]), "G_ema", source)
    discriminator, d_arguments = None, None
    if isinstance(snapshot.get("D"), Persistent):
        d_arguments, d_mapping = discriminator_arguments(snapshot["D"], source)
        discriminator = Discriminator(**d_arguments)
        _load(discriminator, snapshot["D"].tensors(), discriminator_names(discriminator, d_mapping["num_layers"]),
              "D", source)
        discriminator = discriminator.eval().requires_grad_(False)
    dataset = snapshot.get("training_set_kwargs")
    facts = {"module": record.module, "source_sha256": record.source_sha256,
             "G_kwargs": json.loads(json.dumps(record.init_kwargs(), default=str)),  # plain values for config.json
             "training_set_kwargs": {k: v for k, v in dataset.items() if isinstance(v, (str, int, float, bool))}
             if isinstance(dataset, dict) else None}
    g = snapshot.get("G") if trained and record is not snapshot.get("G") else None
    if isinstance(g, Persistent):  # the same class and arguments as G_ema's (the training loop deep-copies G)
        trained_generator = Generator(**generator_arguments(g, source)[0])
        _load(trained_generator, g.tensors(), generator_names(trained_generator, mapping["num_layers"]), "G", source)
        g = trained_generator.eval().requires_grad_(False)
    return Imported(generator.eval().requires_grad_(False), discriminator,
                    {k: v for k, v in arguments.items() if k not in ("resolution", "channels")}, d_arguments, facts,
                    g if isinstance(g, Generator) else None)
