"""gan_zoo's Python API: the pieces the commands are made of (generate, eval, the copying check), for use in
a notebook without Hydra.

    from gan_zoo import api
    loaded = api.load_generator(ckpt="checkpoints/dcgan_embedded/<run>/last.ckpt")
    images = api.generate_images(loaded.generator, 16)                  # [16, C, H, W] in [-1, 1]
    paintings, files = api.read_images("~/paintings", 64, 3)           # the training loader's checks
    features = api.extract_features(api.run_extractor(loaded.run), paintings)
    projector = Projector(space="z", steps=1000)                        # gan_zoo.latent.projection
    projected = api.project_folder(loaded, "~/paintings/early", projector, out="proj/early")  # latents.pt ...
    result = api.morph(loaded, start="proj/early", end="proj/late", out="morph", projector=projector,
                       middle="~/paintings/middle")
"""
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gan_zoo import trusted
from gan_zoo.contract import call, class_labels, device_of, num_classes
from gan_zoo.errors import UserError
from gan_zoo.metrics.extractors import PixelExtractor
from gan_zoo.metrics.features import extract_features  # noqa: F401 (part of the API)
from gan_zoo.runs.checkpoints import ema_generator, load_checkpoint, run_config


@dataclass
class LoadedGenerator:
    generator: nn.Module  # the EMA generator (or the imported one), in eval mode: z [N, latent_dim] -> images
    source: str  # the checkpoint's path or the pretrained spec
    run: dict | None  # the run config stored in a gan_zoo checkpoint; None for an imported generator
    checkpoint: dict | None  # the whole checkpoint (tensors and plain values); None for an imported generator
    imported: dict | None = None  # an imported generator's {"arguments", "provenance"} (gan_zoo.pretrained.spec)


def pretrained_generator(spec: str) -> nn.Module:
    """'pytorch_gan_zoo:<name or file>' or 'stylegan2-ada:<name, URL or file.pkl>' -> an imported generator."""
    from gan_zoo.pretrained.spec import load

    return load(spec)[0]


def load_generator(ckpt: str | None = None, pretrained: str | None = None, device: str = "cpu",
                   shared: str | None = None, which: str = "ema") -> LoadedGenerator:
    """Exactly one of a gan_zoo checkpoint (`ckpt`), a pretrained spec (`pretrained`) or a shared-model folder that
    gan-zoo-export wrote (`shared`). From a checkpoint, `which` generator: "ema" (the averaged one, as samples and
    metrics use) or "raw" (the trained one). A `ckpt` ending in .pkl is a stylegan2-ada-pytorch network pickle."""
    if ckpt and str(ckpt).endswith(".pkl"):  # read by the allow-list importer, never by torch.load
        ckpt, pretrained = None, f"stylegan2-ada:{ckpt}"
    if sum(map(bool, (ckpt, pretrained, shared))) != 1:
        raise UserError("give exactly one of ckpt=<gan_zoo checkpoint or stylegan2-ada-pytorch .pkl>, "
                        "shared=<folder of gan-zoo-export> or pretrained=<pytorch_gan_zoo|stylegan2-ada>:<name>")
    if which != "ema" and not ckpt:
        raise UserError(f"which={which}: an imported or shared generator has only the weights it was published with; "
                        "use which=ema (a gan_zoo checkpoint has both)")
    if shared:
        from gan_zoo.runs.shared_model import load

        generator, config = load(shared)
        provenance = config.get("imported")  # an imported generator's: its class names, its license
        imported = {"arguments": config["arguments"], "provenance": provenance} if provenance else None
        return LoadedGenerator(generator.to(device), str(Path(shared).expanduser()), None, None, imported)
    if pretrained:
        from gan_zoo.pretrained.spec import load

        generator, imported = load(pretrained)
        return LoadedGenerator(generator.to(device), pretrained, None, None, imported)
    checkpoint = load_checkpoint(ckpt)
    generator = ema_generator(checkpoint, ckpt, which).to(device)
    return LoadedGenerator(generator, str(Path(ckpt).expanduser()), run_config(checkpoint, ckpt), checkpoint)


def run_folders(loaded: LoadedGenerator) -> list[str]:
    """The folders of the run a loaded checkpoint belongs to (its checkpoint folder and its run folder): outputs
    made from it may go there."""
    if loaded.run is None:
        return []
    stored = (loaded.run.get("paths") or {}).get("run_dir")
    return [str(Path(loaded.source).parent), *([stored] if isinstance(stored, str) else [])]


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


def read_images(folder: str, resolution: int, channels: int, key: str = "images") -> tuple[torch.Tensor, list[Path]]:
    """Every readable image under `folder` (or the one image file `folder`) as [N, C, R, R] in [-1, 1], with the
    training loader's resizing, cropping and bad-file handling, and the files they came from. `key` names the
    setting in error messages."""
    from gan_zoo.data.image_folder import DECODE_ERRORS, ImageFolder
    from gan_zoo.data.transforms import image_transform

    path = Path(folder).expanduser()
    if path.is_file():
        from PIL import Image

        try:
            with Image.open(path) as image:
                return image_transform(resolution, channels)(image)[None], [path]
        except DECODE_ERRORS as e:
            raise UserError(f"{key}='{path}' is not a readable image ({type(e).__name__}): give an image file or a "
                            "folder of images") from e
    if not path.is_dir():
        raise UserError(f"{key}='{path}': no such folder or file (give a folder of images or one image)")
    dataset = ImageFolder(str(path), resolution, channels, cache_mib=float("inf"))  # all decoded now: bad files found
    return dataset.images(), list(dataset.files)


def run_extractor(loaded: LoadedGenerator, space: str = "run", key: str = "memorization_space") -> nn.Module:
    """The feature extractor of the run's metrics protocol (`space="run"`), or the pixels (`space="pixels"`);
    `key` names the setting in error messages."""
    if space == "pixels":
        return PixelExtractor()
    if space != "run":
        raise UserError(f"{key}={space!r}: choose run (the run's metrics extractor) or pixels")
    evaluator = _stored_evaluator(loaded, f"use the pixels ({key}=pixels), or train with metrics=classifier / inception")
    return trusted.build(evaluator.get("extractor"), "extractor", loaded.source).eval()


def _stored_evaluator(loaded: LoadedGenerator, instead: str) -> dict:
    evaluate = ((loaded.run or {}).get("metrics") or {}).get("evaluate")
    if not isinstance(evaluate, dict) or not isinstance(evaluate.get("evaluator"), dict):
        what = "the run has no metrics protocol" if loaded.run else "a pretrained generator has no run metrics protocol"
        raise UserError(f"{what}: {instead}")
    return evaluate["evaluator"]


def run_evaluator(loaded: LoadedGenerator, cache_dir: str | None):
    """The run's own metrics protocol (an Evaluator) from the config stored in its checkpoint; the real-feature
    cache goes to `cache_dir`, the user's choice, never a folder the file names."""
    config = _stored_evaluator(loaded, "choose one for this evaluation, e.g. metrics=classifier or metrics=inception")
    return trusted.build(config, "evaluator", loaded.source, cache_dir=cache_dir)


def run_data(loaded: LoadedGenerator):
    """The run's data module, from the config stored in its checkpoint; it reads the files that are there and
    never downloads (a download would write where the file says)."""
    config = dict((loaded.run or {}).get("data") or {})
    if isinstance(config.get("dataset"), dict) and "download" in config["dataset"]:
        config["dataset"] = {**config["dataset"], "download": False}
    return trusted.build(config, "data", loaded.source)


def image_shape(generator: nn.Module) -> tuple[int, int]:
    """(resolution, channels) of the generator's images: the generator contract (gan_zoo.networks)."""
    return generator.resolution, generator.channels


def project_folder(loaded: LoadedGenerator, images: str, projector, out: str | None = None, rows: int = 16,
                   progress: bool = True):
    """Project every readable image of a folder (or one file) with a `Projector`; with `out`, write latents.pt,
    projection.png and projection.csv there. Returns (Projection, files)."""
    from gan_zoo.latent.spaces import check_space

    check_space(loaded.generator, projector.space)  # before any reading or work
    targets, files = read_images(images, *image_shape(loaded.generator))
    return project_images(loaded, targets, files, projector, out, rows, progress), files


def project_images(loaded: LoadedGenerator, targets: torch.Tensor, files: list, projector, out: str | None = None,
                   rows: int = 16, progress: bool = True):
    """project_folder for images already read ([N, C, R, R] in [-1, 1], and the files they came from)."""
    from tqdm import tqdm

    bar = tqdm(total=len(targets), desc=f"projecting into {projector.space}", unit="img", dynamic_ncols=True,
               disable=not progress)
    result = projector(loaded.generator, targets, progress=bar.update)
    bar.close()
    if out is not None:
        from gan_zoo.latent.projection_files import write_projection

        write_projection(out, result, targets, files, loaded, rows)
    return result


def projected_set(loaded: LoadedGenerator, source: str, key: str, out: Path, projector):
    """(latents, images, files) of a set given as a folder of images (projected now, written to `out`) or as a
    latents.pt of an earlier projection (its images read back from the files it lists)."""
    from gan_zoo.latent.spaces import load_latents

    path = Path(source).expanduser()
    if path.is_file() and path.suffix == ".pt":
        record = load_latents(path, loaded.generator)
        if record["space"] != projector.space:
            raise UserError(f"{key}='{path}' holds latents in {record['space']}, not {projector.space}: set "
                            f"space={record['space']}")
        resolution, channels = image_shape(loaded.generator)
        images = [read_images(f, resolution, channels, key=f"{key} (listed in {path.name})")[0] for f in record["files"]]
        if not images:
            raise UserError(f"{key}='{path}' lists no image files: project a folder with gan-zoo-project")
        return record["latents"], torch.cat(images), record["files"]
    targets, files = read_images(source, *image_shape(loaded.generator), key=key)
    result = project_images(loaded, targets, files, projector, out)
    return result.latents, targets, [str(f) for f in files]


def morph(loaded: LoadedGenerator, start: str, end: str, out: str, projector=None, middle: str | None = None,
          pairing: str = "nearest", t=(0.0, 0.25, 0.5, 0.75, 1.0), method: str = "slerp", features: str = "run",
          media_pairs: int = 32, gif_frames: int = 24):
    """Project a start and an end set (or reuse their latents.pt), pair them, generate the sets between them at
    each of the fractions `t`, write them (folders per t, strips, GIFs) and their distances to the real sets."""
    from gan_zoo.latent.morph_files import write_morph
    from gan_zoo.latent.morphing import intermediates, pair
    from gan_zoo.latent.projection import Projector
    from gan_zoo.latent.spaces import check_space

    projector = projector or Projector()
    space = projector.space
    check_space(loaded.generator, space)
    ts = [float(x) for x in t]
    if not ts or any(not 0 <= x <= 1 for x in ts):
        raise UserError(f"t={list(t)}: give fractions between 0 and 1, e.g. [0,0.25,0.5,0.75,1]")
    if pairing not in ("nearest", "all") and not Path(pairing).expanduser().is_file():
        raise UserError(f"pairing={pairing!r}: choose nearest, all, or a CSV file with columns start,end")
    extractor = run_extractor(loaded, features, key="features")  # before any work: a run without metrics says so now
    resolution, channels = image_shape(loaded.generator)
    middle_images = read_images(middle, resolution, channels, key="middle")[0] if middle else None
    out = Path(out).expanduser()
    a, start_images, start_files = projected_set(loaded, start, "start", out / "start", projector)
    b, end_images, end_files = projected_set(loaded, end, "end", out / "end", projector)
    pairs = pair(pairing, a, b, start_files, end_files)
    images = intermediates(loaded.generator, a, b, pairs, ts, space, method)
    frames = intermediates(loaded.generator, a, b, type(pairs)(pairs.start[:media_pairs], pairs.end[:media_pairs]),
                           torch.linspace(0, 1, gif_frames).tolist(), space, method)
    real = {"start": start_images, "end": end_images} | ({"middle": middle_images} if middle_images is not None else {})
    return write_morph(out, ts, pairs, images, frames, real, extractor, start_files, end_files, media_pairs)
