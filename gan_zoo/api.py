"""gan_zoo's Python API, for a notebook without Hydra: load a generator (a gan_zoo checkpoint, an exported folder,
another project's published weights), generate, and the workflows of the commands (projection, morphing), each a
thin door to where it lives.

    from gan_zoo import api
    loaded = api.load_generator(ckpt="checkpoints/dcgan_embedded/<run>/last.ckpt")
    images = api.generate_images(loaded.generator, 16)                  # [16, C, H, W] in [-1, 1]
    projector = Projector(space="z", steps=1000)                        # gan_zoo.latent.projection
    projected, files = api.project_folder(loaded, "~/paintings/early", projector, out="proj/early")
    result = api.morph(loaded, start="proj/early/latents.pt", end="~/paintings/late", out="morph",
                       projector=projector, middle="~/paintings/middle")
    # lower level: gan_zoo.data.image_folder.read_images, gan_zoo.metrics.features.extract_features, ...
"""
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from gan_zoo.contract import call, class_labels, device_of, num_classes
from gan_zoo.errors import UserError
from gan_zoo.latent import morph_files, projection_files
from gan_zoo.runs import stored
from gan_zoo.runs.checkpoints import ema_generator, load_checkpoint, run_config


@dataclass
class LoadedGenerator:
    generator: nn.Module  # eval mode, no gradients: the EMA generator of a checkpoint, or the shared / imported one
    source: str  # the checkpoint's path or the pretrained spec
    run: dict | None  # the run config stored in a gan_zoo checkpoint; None for an imported generator
    checkpoint: dict | None  # the whole checkpoint (tensors and plain values); None for an imported generator
    folders: list[str] = field(default_factory=list)  # the run's checkpoint and run folders: outputs may go there


def pretrained_generator(spec: str) -> nn.Module:
    """'pytorch_gan_zoo:<name or file>' -> an imported generator."""
    source, _, name = spec.partition(":")
    if source != "pytorch_gan_zoo" or not name:
        raise UserError(f"pretrained={spec!r}: expected pytorch_gan_zoo:<celebAHQ-256|celebAHQ-512|DTD|celeba|file>")
    from gan_zoo.pretrained.pytorch_gan_zoo import load_pgan_generator

    return load_pgan_generator(name)


def load_generator(ckpt: str | None = None, pretrained: str | None = None, device: str = "cpu",
                   shared: str | None = None, which: str = "ema") -> LoadedGenerator:
    """Exactly one of a gan_zoo checkpoint (`ckpt`), a pretrained spec (`pretrained`) or a shared-model folder that
    gan-zoo-export wrote (`shared`). From a checkpoint, `which` generator: "ema" (the averaged one, as samples and
    metrics use) or "raw" (the trained one). The generator comes in eval mode without gradients (for generating and
    projecting)."""
    if sum(map(bool, (ckpt, pretrained, shared))) != 1:
        raise UserError("give exactly one of ckpt=<gan_zoo checkpoint>, shared=<folder of gan-zoo-export> or "
                        "pretrained=pytorch_gan_zoo:<name>")
    if which != "ema" and not ckpt:
        raise UserError(f"which={which}: an imported or shared generator has only the weights it was published with; "
                        "use which=ema (a gan_zoo checkpoint has both)")
    if shared:
        from gan_zoo.runs.shared_model import load

        loaded = LoadedGenerator(load(shared)[0], str(Path(shared).expanduser()), None, None)
    elif pretrained:
        loaded = LoadedGenerator(pretrained_generator(pretrained), pretrained, None, None)
    else:
        checkpoint = load_checkpoint(ckpt)
        generator, run = ema_generator(checkpoint, ckpt, which), run_config(checkpoint, ckpt)
        stored_dir = (run.get("paths") or {}).get("run_dir")
        folders = [str(Path(ckpt).expanduser().parent), *([stored_dir] if isinstance(stored_dir, str) else [])]
        loaded = LoadedGenerator(generator, str(Path(ckpt).expanduser()), run, checkpoint, folders)
    loaded.generator.to(device).eval().requires_grad_(False)
    return loaded


@torch.no_grad()
def image_batches(generator: nn.Module, n: int, seed: int = 0, batch_size: int = 64, class_index: int | None = None,
                  **kwargs):
    """n images from latents drawn with `seed`, yielded batch by batch ([B, C, H, W] in [-1, 1], on CPU): never
    all in memory. A conditional generator draws class `class_index`, or its classes in turn; kwargs go to the
    generator."""
    z = torch.randn(n, generator.latent_dim, generator=torch.Generator().manual_seed(seed))
    c = class_labels(n, num_classes(generator), class_index)
    device = device_of(generator)
    for i, chunk in enumerate(z.split(batch_size)):
        labels = None if c is None else c[i * batch_size : i * batch_size + len(chunk)].to(device)
        yield call(generator, chunk.to(device), labels, **kwargs).float().cpu()


def generate_images(generator: nn.Module, n: int, seed: int = 0, batch_size: int = 64, class_index: int | None = None,
                    **kwargs) -> torch.Tensor:
    """n images [n, C, H, W] in [-1, 1] (on CPU) from latents drawn with `seed`; kwargs go to the generator."""
    return torch.cat(list(image_batches(generator, n, seed, batch_size, class_index, **kwargs)))


def run_extractor(loaded: LoadedGenerator, space: str = "run", key: str = "memorization_space") -> nn.Module:
    """The feature extractor of the run's metrics protocol (`space="run"`), or the pixels (`space="pixels"`)."""
    return stored.extractor(loaded.run, loaded.source, space, key)


def run_evaluator(loaded: LoadedGenerator, cache_dir: str | None):
    """The run's own metrics protocol (an Evaluator), its real-feature cache in `cache_dir` (the user's choice)."""
    return stored.evaluator(loaded.run, loaded.source, cache_dir)


def run_data(loaded: LoadedGenerator):
    """The run's data module (it never downloads)."""
    return stored.data(loaded.run, loaded.source)


def run_real_data(loaded: LoadedGenerator):
    """The data module of the run's real set where it is not its training data (metrics.evaluate.real_data), else None."""
    return stored.real_data(loaded.run, loaded.source)


def project_folder(loaded: LoadedGenerator, images: str, projector, out: str | None = None, rows: int = 16,
                   progress: bool = True):
    """Project every readable image of a folder (or one file) with a `Projector`; with `out`, write latents.pt,
    projection.png and projection.csv there. Returns (Projection, files)."""
    return projection_files.project_folder(loaded.generator, images, projector, out, rows, loaded.source, progress)


def morph(loaded: LoadedGenerator, start: str, end: str, out: str, projector=None, middle: str | None = None,
          pairing: str = "nearest", t=(0.0, 0.25, 0.5, 0.75, 1.0), method: str = "slerp", features: str = "run",
          media_pairs: int = 32, gif_frames: int = 24) -> dict:
    """Project (or reuse the latents.pt of) a start and an end set, pair them, generate the sets between them at
    each fraction of `t`, write them and their distances to the real sets in the run's metrics features
    (`features="run"`) or pixels."""
    return morph_files.morph(loaded.generator, start, end, out, run_extractor(loaded, features, key="features"),
                             projector, middle, pairing, t, method, media_pairs, gif_frames, loaded.source)
