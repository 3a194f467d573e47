"""stylegan2-ada-pytorch's network-snapshot pickle, written by the reference's own code (tests/stylegan2_ada_reference:
its archive in shared/peers, extracted at run time, never copied here): a gan_zoo StyleGAN checkpoint trained with the
options that compute what the reference computes (resample=fir, rgb_resample=fir, activation_gain=output on both
networks; conf/model/stylegan.yaml) has its G, EMA and D copied into the reference's Generator / Discriminator, each
tensor under the reference's name (the inverse of gan_zoo.pretrained.stylegan2_ada.convert's name maps), and pickled
as its training loop pickles a snapshot. For the fine-tuning study's `init=stylegan2-ada:<pkl>` row.

    python -m tests.sg2ada_format <gan_zoo StyleGAN checkpoint> <out.pkl>
"""
import sys
import tempfile
from pathlib import Path

import torch

REFERENCE_OPTIONS = {"generator": {"resample": "fir", "rgb_resample": "fir", "activation_gain": "output"},
                     "discriminator": {"resample": "fir", "activation_gain": "output"}}


def reference_kwargs(g: dict, d: dict, resolution: int, channels: int) -> tuple[dict, dict]:
    """The reference's Generator and Discriminator init kwargs for gan_zoo's StyleGAN arguments `g` and `d`."""
    for name, config in (("generator", g), ("discriminator", d)):
        wrong = {k: config.get(k) for k, v in REFERENCE_OPTIONS[name].items() if config.get(k) != v}
        if wrong:
            raise ValueError(f"the checkpoint's {name} has {wrong}: the reference computes "
                             f"{REFERENCE_OPTIONS[name]} (train with model.{name}.<option>=...)")
    generator = dict(z_dim=g["latent_dim"], c_dim=g.get("num_classes", 0), w_dim=g["w_dim"], img_resolution=resolution,
                     img_channels=channels,
                     mapping_kwargs=dict(num_layers=g["mapping_layers"], lr_multiplier=g["mapping_lr_multiplier"]),
                     synthesis_kwargs=dict(channel_base=g["fmap_base"], channel_max=g["fmap_max"], num_fp16_res=0,
                                           conv_clamp=g.get("conv_clamp")))
    discriminator = dict(c_dim=d.get("num_classes", 0), img_resolution=resolution, img_channels=channels,
                         architecture=d["architecture"], channel_base=d["fmap_base"], channel_max=d["fmap_max"],
                         num_fp16_res=0, conv_clamp=d.get("conv_clamp"), cmap_dim=d.get("cmap_dim"),
                         block_kwargs={},
                         mapping_kwargs=dict(num_layers=d["mapping_layers"], lr_multiplier=d["mapping_lr_multiplier"]),
                         epilogue_kwargs=dict(mbstd_group_size=d["mbstd_group_size"],
                                              mbstd_num_channels=d["mbstd_num_channels"]))
    return generator, discriminator


def copy_into(theirs: torch.nn.Module, ours: torch.nn.Module, names: dict) -> None:
    """Each reference tensor (but its fixed resampling filters) set from gan_zoo's tensor of the mapped name."""
    state, mine = theirs.state_dict(), ours.state_dict()
    targets = [k for k in state if not k.endswith("resample_filter")]
    if sorted(targets) != sorted(names):
        raise ValueError(f"the reference's tensors differ from the name map: {sorted(set(targets) ^ set(names))[:4]}")
    theirs.load_state_dict({**state, **{k: mine[names[k]].detach().clone() for k in targets}})


def write(path: Path, generator, average, discriminator, g_config: dict, d_config: dict, resolution: int,
          channels: int) -> Path:
    """The three gan_zoo networks as a reference snapshot pickle at `path`."""
    from gan_zoo.pretrained.stylegan2_ada.convert import discriminator_names, generator_names
    from tests.stylegan2_ada_reference import reference, snapshot

    g_kwargs, d_kwargs = reference_kwargs(g_config, d_config, resolution, channels)
    with tempfile.TemporaryDirectory() as folder, reference(Path(folder)) as (networks, _, dnnlib):
        g_kwargs = {k: dnnlib.EasyDict(v) if isinstance(v, dict) else v for k, v in g_kwargs.items()}
        d_kwargs = {k: dnnlib.EasyDict(v) if isinstance(v, dict) else v for k, v in d_kwargs.items()}
        built = {}
        for name, ours in (("G", generator), ("G_ema", average)):
            built[name] = networks.Generator(**g_kwargs)
            copy_into(built[name], ours, generator_names(ours, g_config["mapping_layers"]))
        built["D"] = networks.Discriminator(**d_kwargs)
        copy_into(built["D"], discriminator, discriminator_names(discriminator, d_config["mapping_layers"]))
        return snapshot(Path(path), built["G"], built["G_ema"], built["D"], None, dnnlib, resolution,
                        labels=g_kwargs["c_dim"] > 0)


def main() -> None:
    """Write a gan_zoo StyleGAN checkpoint's networks (G, its EMA as G_ema, D) as a reference snapshot pickle."""
    from gan_zoo.commands.init_sources import read_source
    from gan_zoo.networks.stylegan import Discriminator
    from tests.helpers import checkpoint_networks

    ckpt, out = sys.argv[1:3]
    sizes, configs, nets = checkpoint_networks(ckpt, Discriminator)
    write(Path(out), **nets, g_config=configs["generator"], d_config=configs["discriminator"], **sizes)
    print(f"{out}: stylegan2-ada-pytorch snapshot of '{ckpt}' ({read_source('stylegan2-ada:' + out).kind})")


if __name__ == "__main__":
    main()
