"""NVIDIA's stylegan2-ada-pytorch, extracted at test time from ../shared/peers (never copied into this repository),
imported on the CPU (its custom ops fall back to PyTorch), its networks built small with their weights moved off
their initial values, and pickled as its training loop pickles a snapshot."""
import copy
import importlib
import os
import pickle
import sys
import tarfile
from contextlib import contextmanager
from pathlib import Path

import torch

from tests.helpers import REPO

ARCHIVE = Path(os.environ.get("GAN_ZOO_SHARED", REPO.parent / "shared")) / "peers" / \
    "stylegan2-ada-pytorch-d72cc7d.tar.gz"


def require_archive() -> None:
    """Skip the calling test where ../shared (the reference's archive) is absent."""
    if not ARCHIVE.is_file():
        import pytest

        pytest.skip(f"the stylegan2-ada-pytorch archive is not at {ARCHIVE} (../shared/peers, or $GAN_ZOO_SHARED/"
                    "peers): the tests that run the reference need it (CI has it)")


@contextmanager
def reference(folder: Path):
    """(networks, augment, dnnlib) of the reference, importable while inside; its modules are forgotten after."""
    if not ARCHIVE.is_file():
        raise FileNotFoundError(f"the stylegan2-ada-pytorch archive is not at {ARCHIVE} (../shared/peers)")
    with tarfile.open(ARCHIVE) as archive:
        archive.extractall(folder, filter="data")
    root = str(folder / "stylegan2-ada-pytorch")
    sys.path.insert(0, root)
    try:
        yield (importlib.import_module("training.networks"), importlib.import_module("training.augment"),
               importlib.import_module("dnnlib"))
    finally:
        sys.path.remove(root)
        for name in [n for n, m in sys.modules.items() if str(getattr(m, "__file__", None) or "").startswith(root)]:
            del sys.modules[name]


def perturb(module: torch.nn.Module, scale: float = 0.2, seed: int = 0) -> None:
    """Every parameter and buffer (noise strengths, w_avg, noise maps) moved off its initial value, the resampling
    filters kept."""
    rng = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
            if not name.endswith("resample_filter"):
                tensor.add_(torch.randn(tensor.shape, generator=rng) * scale)


def build(networks, dnnlib, resolution, channels, c_dim=0, mapping_layers=8, mbstd_group_size=4, architecture="resnet",
          channel_base=512, channel_max=16, conv_clamp=256, z_dim=16, w_dim=16, mapping_kwargs=None,
          d_mapping_kwargs=None, epilogue_kwargs=None, synthesis_kwargs=None):
    """(G, G_ema, D) as train.py configures them (num_fp16_res=4, conv_clamp), small, weights perturbed."""
    torch.manual_seed(0)
    G = networks.Generator(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=resolution, img_channels=channels,
                           mapping_kwargs=dnnlib.EasyDict(num_layers=mapping_layers, **(mapping_kwargs or {})),
                           synthesis_kwargs=dnnlib.EasyDict(channel_base=channel_base, channel_max=channel_max,
                                                            num_fp16_res=4, conv_clamp=conv_clamp,
                                                            **(synthesis_kwargs or {})))
    D = networks.Discriminator(c_dim=c_dim, img_resolution=resolution, img_channels=channels,
                               architecture=architecture, channel_base=channel_base, channel_max=channel_max,
                               num_fp16_res=4, conv_clamp=conv_clamp, block_kwargs=dnnlib.EasyDict(),
                               mapping_kwargs=dnnlib.EasyDict(**(d_mapping_kwargs or {})),
                               epilogue_kwargs=dnnlib.EasyDict(mbstd_group_size=mbstd_group_size,
                                                               **(epilogue_kwargs or {})))
    G_ema = copy.deepcopy(G).eval()
    for seed, module in enumerate((G, G_ema, D)):
        perturb(module, seed=seed)
    return G, G_ema, D


def snapshot(path: Path, G, G_ema, D, augment_pipe, dnnlib, resolution: int, labels: bool) -> Path:
    """Pickle the networks as training/training_loop.py writes network-snapshot-*.pkl."""
    with open(path, "wb") as f:
        pickle.dump(snapshot_data(G, G_ema, D, augment_pipe, dnnlib, resolution, labels), f)
    return path


def snapshot_data(G, G_ema, D, augment_pipe, dnnlib, resolution: int, labels: bool) -> dict:
    """What training/training_loop.py pickles: the dataset kwargs, and each module deep-copied, in eval mode,
    without gradients, on the CPU."""
    data = dict(training_set_kwargs=dict(dnnlib.EasyDict(class_name="training.dataset.ImageFolderDataset",
                                                         path="~/datasets/data.zip", use_labels=labels, max_size=100,
                                                         xflip=False, resolution=resolution)))
    for name, module in [("G", G), ("D", D), ("G_ema", G_ema), ("augment_pipe", augment_pipe)]:
        if module is not None:
            module = copy.deepcopy(module).eval().requires_grad_(False).cpu()
        data[name] = module
    return data
