"""gan_zoo's Python API: the pieces the commands are made of (generate, eval, the copying check), for use in
a notebook without Hydra.

    from gan_zoo import api
    loaded = api.load_generator(ckpt="checkpoints/dcgan_embedded/<run>/last.ckpt")
    images = api.generate_images(loaded.generator, 16)                  # [16, C, H, W] in [-1, 1]
    paintings, files = api.read_images("~/paintings", 64, 3)           # the training loader's checks
    features = api.extract_features(api.run_extractor(loaded.run), paintings)
"""
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from gan_zoo.checkpoints import ema_generator, load_checkpoint, run_config
from gan_zoo.errors import UserError
from gan_zoo.metrics.evaluator import quantize
from gan_zoo.metrics.extractors import PixelExtractor


@dataclass
class LoadedGenerator:
    generator: nn.Module  # the EMA generator (or the imported one), in eval mode: z [N, latent_dim] -> images
    source: str  # the checkpoint's path or the pretrained spec
    run: dict | None  # the run config stored in a gan_zoo checkpoint; None for an imported generator
    checkpoint: dict | None  # the whole checkpoint (tensors and plain values); None for an imported generator


def pretrained_generator(spec: str) -> nn.Module:
    """'pytorch_gan_zoo:<name or file>' -> an imported generator."""
    source, _, name = spec.partition(":")
    if source != "pytorch_gan_zoo" or not name:
        raise UserError(f"pretrained={spec!r}: expected pytorch_gan_zoo:<celebAHQ-256|celebAHQ-512|DTD|celeba|file>")
    from gan_zoo.pretrained.pytorch_gan_zoo import load_pgan_generator

    return load_pgan_generator(name)


def load_generator(ckpt: str | None = None, pretrained: str | None = None, device: str = "cpu") -> LoadedGenerator:
    """Exactly one of a gan_zoo checkpoint (`ckpt`) or a pretrained spec (`pretrained`)."""
    if bool(ckpt) == bool(pretrained):
        raise UserError("give exactly one of ckpt=<gan_zoo checkpoint> or pretrained=pytorch_gan_zoo:<name>")
    if pretrained:
        return LoadedGenerator(pretrained_generator(pretrained).to(device), pretrained, None, None)
    checkpoint = load_checkpoint(ckpt)
    generator = ema_generator(checkpoint, ckpt).to(device)
    return LoadedGenerator(generator, str(Path(ckpt).expanduser()), run_config(checkpoint, ckpt), checkpoint)


@torch.no_grad()
def generate_images(generator: nn.Module, n: int, seed: int = 0, batch_size: int = 64, **kwargs) -> torch.Tensor:
    """n images [n, C, H, W] in [-1, 1] (on CPU) from latents drawn with `seed`; kwargs go to the generator."""
    z = torch.randn(n, generator.latent_dim, generator=torch.Generator().manual_seed(seed))
    device = next((t.device for t in (*generator.parameters(), *generator.buffers())), torch.device("cpu"))
    return torch.cat([generator(chunk.to(device), **kwargs).float().cpu() for chunk in z.split(batch_size)])


def read_images(folder: str, resolution: int, channels: int) -> tuple[torch.Tensor, list[Path]]:
    """Every readable image under `folder` as [N, C, R, R] in [-1, 1], with the training loader's resizing,
    cropping and bad-file handling, and the files they came from."""
    from gan_zoo.data.image_folder import ImageFolder

    dataset = ImageFolder(folder, resolution, channels, cache_limit=0)
    return torch.stack([dataset[i][0] for i in range(len(dataset))]), list(dataset.files)


def run_extractor(run: dict | None, space: str = "run") -> nn.Module:
    """The feature extractor of the run's metrics protocol (`space="run"`), or the pixels (`space="pixels"`)."""
    if space == "pixels":
        return PixelExtractor()
    if space != "run":
        raise UserError(f"feature space {space!r}: choose run (the run's metrics extractor) or pixels")
    evaluate = ((run or {}).get("metrics") or {}).get("evaluate")
    if not evaluate:
        raise UserError("the run has no metrics extractor: choose the pixels (space=pixels) or metrics=classifier")
    from hydra.utils import instantiate

    return instantiate(evaluate["evaluator"]["extractor"]).eval()


@torch.no_grad()
def extract_features(extractor: nn.Module, images: torch.Tensor | Dataset, batch_size: int = 256,
                     device: str = "cpu") -> torch.Tensor:
    """Features [N, D] of images in [-1, 1] (a tensor, or a dataset of (image, label) items), after the same
    uint8 quantization the metrics use; the images are read in batches, never all at once from a dataset."""
    extractor = extractor.to(device)
    chunks = []
    for start in range(0, len(images), batch_size):
        if isinstance(images, torch.Tensor):
            batch = images[start : start + batch_size]
        else:
            batch = torch.stack([images[i][0] for i in range(start, min(start + batch_size, len(images)))])
        chunks.append(extractor(quantize(batch).to(device))[0].float().cpu())
    return torch.cat(chunks)
