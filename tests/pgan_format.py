"""pytorch_GAN_zoo's PGAN file format, for tests and the fine-tuning study: `write_pgan_file` writes gan_zoo PGGAN
networks as their checkpoint (netG, avgG, netD and a pickled BaseConfig, their layer names and output-scaled
equalized layers), and `their_code` imports their own networks from the archive in shared/peers (extracted at test
time, never copied into the repository).

    python -m tests.pgan_format <gan_zoo PGGAN checkpoint> <out.pth>   # the study's pytorch_GAN_zoo-format file
"""
import math
import sys
import tarfile
import types
from contextlib import contextmanager
from pathlib import Path

import torch

from tests.helpers import SHARED_DATA

ARCHIVE = SHARED_DATA.parent / "peers" / "pytorch_GAN_zoo-b75dee4.tar.gz"


def _layer(ours, their_name: str) -> dict:
    """An equalized layer of ours as theirs: y = c (W x + b) with c = sqrt(2 / fan_in)."""
    c = math.sqrt(2.0 / ours.weight[0].numel())
    return {f"{their_name}.module.weight": ours.weight.detach() * ours.scale / c,
            f"{their_name}.module.bias": ours.bias.detach() / c}


def generator_state(g) -> dict:
    net = _layer(g.dense, "formatLayer") | _layer(g.blocks[0][2], "groupScale0.0")
    for i in range(1, g.max_level + 1):
        net |= _layer(g.blocks[i][1], f"scaleLayers.{i - 1}.0") | _layer(g.blocks[i][4], f"scaleLayers.{i - 1}.1")
    for i in range(g.max_level + 1):
        net |= _layer(g.to_rgb[i], f"toRGBLayers.{i}")
    return net


def discriminator_state(d) -> dict:
    net = {}
    for i in range(d.max_level + 1):
        net |= _layer(d.from_rgb[i][0], f"fromRGBLayers.{i}")
    for i in range(1, d.max_level + 1):
        net |= _layer(d.blocks[i][0], f"scaleLayers.{i - 1}.0") | _layer(d.blocks[i][2], f"scaleLayers.{i - 1}.1")
    return net | (_layer(d.blocks[0][1], "groupScaleZero.0") | _layer(d.blocks[0][4], "groupScaleZero.1")
                  | _layer(d.blocks[0][6], "decisionLayer"))


def write_pgan_file(path, generator, average=None, discriminator=None, alpha: float = 0.0) -> Path:
    """Their checkpoint layout: {"config": BaseConfig, "netG", "avgG", "netD"}; their BaseConfig class exists only
    while saving (a stand-in of the same module and name)."""
    fake = types.ModuleType("models.utils.config")
    base_config = type("BaseConfig", (), {"__module__": fake.__name__, "__qualname__": "BaseConfig"})
    fake.BaseConfig = base_config
    config = base_config()
    config.alpha = alpha
    modules = {"models": types.ModuleType("models"), "models.utils": types.ModuleType("models.utils"), fake.__name__: fake}
    saved = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    try:
        state = {"config": config, "netG": generator_state(generator),
                 "avgG": generator_state(average if average is not None else generator)}
        if discriminator is not None:
            state["netD"] = discriminator_state(discriminator)
        torch.save(state, path)
    finally:
        for name, module in saved.items():
            sys.modules.pop(name, None) if module is None else sys.modules.__setitem__(name, module)
    return Path(path)


@contextmanager
def their_code(folder: Path):
    """Their `models` package, imported from the archive extracted into `folder` (removed from sys.modules after)."""
    import pytest

    if not ARCHIVE.is_file():
        pytest.skip(f"needs pytorch_GAN_zoo's archive at {ARCHIVE} (set GAN_ZOO_SHARED_DATA to shared/data)")
    with tarfile.open(ARCHIVE) as archive:
        archive.extractall(folder, filter="data")
    (root,) = [p for p in Path(folder).iterdir() if (p / "models").is_dir()]
    before = set(sys.modules)
    sys.path.insert(0, str(root))
    try:
        from models.networks import progressive_conv_net
        from models.utils import config

        yield progressive_conv_net, config
    finally:
        sys.path.remove(str(root))
        for name in set(sys.modules) - before:
            if name == "models" or name.startswith("models."):
                del sys.modules[name]


def main() -> None:
    """Write a gan_zoo PGGAN checkpoint's networks (G, its EMA as avgG, D) as a pytorch_GAN_zoo file."""
    from gan_zoo.commands.init_sources import read_source
    from gan_zoo.networks.progan import Discriminator
    from tests.helpers import checkpoint_networks

    ckpt, out = sys.argv[1:3]
    _, _, networks = checkpoint_networks(ckpt, Discriminator)
    write_pgan_file(out, **networks)
    print(f"{out}: pytorch_GAN_zoo PGAN file of '{ckpt}' ({read_source('pytorch_gan_zoo:' + out).kind})")


if __name__ == "__main__":
    main()
