"""Shared by the reference harnesses: the pinned source (found, checked, extracted to a scratch folder and patched
there at run time; nothing of theirs is kept in this repository), the training data as the PNGs they read, their
generated images as PNGs, and the scoring of those under the comparison's protocol."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from gan_zoo.errors import UserError
from gan_zoo.files import sha256

REPO = Path(__file__).resolve().parents[2]
PEERS = Path(os.environ.get("GAN_ZOO_SHARED_PEERS", REPO.parent / "shared" / "peers"))

# The protocol of the 45-kimg comparison (conf/fair_setting/embedded.yaml + conf/metrics/classifier.yaml), stated
# here in full so that a later change of a default cannot make the reference rows score differently.
PROTOCOL = ["data=embedded", "data.resolution=32", "data.channels=1", "metrics=classifier",
            "metrics.evaluate.evaluator.num_real=2000", "metrics.evaluate.evaluator.num_fake=2000", "seed=0"]
SMOKE_PROTOCOL = [*PROTOCOL, "metrics.evaluate.evaluator.num_real=64", "metrics.evaluate.evaluator.num_fake=64",
                  "metrics.evaluate.evaluator.batch_size=32", "metrics.evaluate.evaluator.kid_subset_size=32"]


def harness_arguments(doc: str, reference: str, out_help: str = "result.json, ema/ and raw/ PNGs, scores",
                      experiments: list[tuple[tuple, dict]] = ()):
    """The command line both harnesses take (their docstring as --help), and a harness's own `experiments` options
    (argparse's add_argument arguments)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help=out_help)
    parser.add_argument("--kimg", type=float, default=45.0, help="training budget in thousands of images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-images", type=int, default=2000, help="PNGs written per generator")
    parser.add_argument("--archive", help="the pinned archive (default: ../shared/peers/)")
    parser.add_argument("--checkout", help=f"a checkout of {reference} at the pinned commit instead")
    parser.add_argument("--scratch", help="where their source and the data PNGs go (default: a temporary folder)")
    parser.add_argument("--no-score", action="store_true", help="write the PNGs only")
    parser.add_argument("--smoke", action="store_true", help="a few steps at tiny sizes, 64 PNGs each (for tests)")
    for flags, options in experiments:
        parser.add_argument(*flags, **options)
    return parser.parse_args()


def output_folder(path: str) -> Path:
    """A harness's --out folder, made; one that already holds a run is refused (its PNGs would mix with new ones)."""
    out = Path(path)
    if (out / "result.json").exists() or any(any((out / name).glob("*.png")) for name in ("ema", "raw")):
        raise UserError(f"--out {out} already holds a run (result.json or PNGs): give a new folder")
    out.mkdir(parents=True, exist_ok=True)
    return out


@dataclass(frozen=True)
class Reference:
    """A reference implementation at its pinned commit, as archived in ../shared/peers/."""

    name: str  # its repository
    archive: str  # the archive's file name in PEERS
    sha256: str  # of the archive
    commit: str  # of a checkout given instead (git rev-parse HEAD)
    folder: str  # the archive's top folder


STYLEGAN2_ADA = Reference("NVlabs/stylegan2-ada-pytorch", "stylegan2-ada-pytorch-d72cc7d.tar.gz",
                          "cc0159e5e52372c12e5a0fdad595458e84ed4b94604976d71ca6b4bd59b22140",
                          "d72cc7d041b42ec8e806021a205ed9349f87c6a4", "stylegan2-ada-pytorch")
PYTORCH_GAN_ZOO = Reference("facebookresearch/pytorch_GAN_zoo", "pytorch_GAN_zoo-b75dee4.tar.gz",
                            "3df02945b40c8a38f4380d9377aeed30f37abaecf68634e501291b9ded0f6821",
                            "b75dee40918caabb4fe7ec561522717bf096a8cb", "pytorch_GAN_zoo")


@dataclass(frozen=True)
class Patch:
    """A textual substitution in the extracted copy; `count` occurrences of `old` must be there (else their code
    is not the pinned one and the patch would change something else)."""

    file: str  # relative to the reference's folder
    old: str
    new: str
    count: int = 1



def prepare(reference: Reference, scratch: Path, patches: list[Patch], archive: str | None = None,
            checkout: str | None = None) -> Path:
    """The reference's source copied into `scratch` (from the pinned archive, or from a checkout at the pinned
    commit), patched; its folder. Exits with one line when the source is missing or not the pinned one."""
    target = scratch / reference.folder
    if target.exists():
        shutil.rmtree(target)
    if checkout:
        head = subprocess.run(["git", "-C", checkout, "rev-parse", "HEAD"], capture_output=True, text=True)
        if head.returncode != 0 or head.stdout.strip() != reference.commit:
            raise UserError(f"--checkout {checkout} is not a git checkout of {reference.name} at "
                            f"{reference.commit} (HEAD: {head.stdout.strip() or head.stderr.strip()})")
        shutil.copytree(checkout, target, ignore=shutil.ignore_patterns(".git"))
    else:
        path = Path(archive) if archive else PEERS / reference.archive
        if not path.is_file():
            raise UserError(f"no archive of {reference.name} at {path}: give --archive PATH or --checkout PATH (a "
                            f"checkout at {reference.commit}), or set GAN_ZOO_SHARED_PEERS")
        if sha256(path) != reference.sha256:
            raise UserError(f"{path} is not the pinned archive of {reference.name} (sha256 {sha256(path)[:12]}, "
                            f"expected {reference.sha256[:12]})")
        with tarfile.open(path) as tar:
            tar.extractall(scratch, filter="data")
    for patch in patches:
        file = target / patch.file
        text = file.read_text(encoding="utf-8")
        if text.count(patch.old) != patch.count:
            raise UserError(f"a run-time patch no longer applies to {patch.file} ({text.count(patch.old)} "
                            f"occurrences of {patch.old!r}, expected {patch.count}): is this {reference.name} at "
                            f"{reference.commit}?")
        file.write_text(text.replace(patch.old, patch.new), encoding="utf-8")
    return target


def embedded_pixels(resolution: int = 32) -> torch.Tensor:
    """uint8 [5000, 1, R, R]: the embedded Fashion-MNIST images as gan_zoo trains on them
    (data.embedded.EmbeddedFashionMNIST at this resolution), quantized as gan_zoo quantizes images."""
    from gan_zoo.data.embedded import EmbeddedFashionMNIST
    from gan_zoo.metrics.features import quantize

    return quantize(EmbeddedFashionMNIST(resolution, 1).tensors[0])


def write_pngs(pixels: torch.Tensor, folder: Path, start: int = 0) -> None:
    """uint8 [N, C, H, W] (C = 1 or 3) -> folder/00000.png, ... (numbered from `start`)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(pixels.cpu()):
        array = image[0].numpy() if image.shape[0] == 1 else image.permute(1, 2, 0).numpy()
        Image.fromarray(array, "L" if image.shape[0] == 1 else "RGB").save(folder / f"{start + i:05d}.png")


def export_data(folder: Path, resolution: int = 32, count: int | None = None) -> Path:
    """The training images the references read: one grayscale PNG per embedded image (the first `count` of them,
    None = all)."""
    write_pngs(embedded_pixels(resolution)[:count], folder)
    return folder


def write_generated(sample, count: int, folder: Path, batch: int = 250) -> None:
    """`count` images of `sample(n) -> [n, C, H, W] in [-1, 1]` (a reference's generator) as PNGs, quantized as
    gan_zoo quantizes its own generated images."""
    from gan_zoo.metrics.features import quantize

    with torch.no_grad():
        for start in range(0, count, batch):
            write_pngs(quantize(sample(min(batch, count - start))), folder, start)


def score(folder: Path, out: Path, protocol: list[str] = PROTOCOL) -> dict:
    """`gan-zoo-eval images=<folder> out=<out>` under the comparison's protocol; its result."""
    command = [sys.executable, "-m", "gan_zoo.commands.evaluate", f"images={folder}", f"out={out}", *protocol]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def reset_peak_memory() -> None:
    """Restart the process's resident high-water mark (Linux), as gan_zoo's metrics callback does at a run's start."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_memory_gib() -> float | None:
    """The process's resident high-water mark (VmHWM) since reset_peak_memory; None where there is no /proc."""
    try:
        line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return None
    return int(line.split()[1]) / 2**20  # kB


def finish(out: Path, result: dict, samplers: dict, count: int, smoke: bool = False, scored: bool = True) -> dict:
    """Write `count` PNGs of each generator (name -> sample(n)) to out/<name>/, score each folder under the
    comparison's protocol (out/<name>.metrics.json; --smoke's: 64 images), and write it all to out/result.json."""
    torch.manual_seed(result["seed"])
    result["folders"] = {}
    for name, sample in samplers.items():
        write_generated(sample, count, out / name)
        result["folders"][name] = str(out / name)
    if scored:
        protocol = SMOKE_PROTOCOL if smoke else PROTOCOL
        result["scores"] = {name: score(out / name, out / f"{name}.metrics.json", protocol)["metrics"]
                            for name in samplers}
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("options", "config")}, indent=2))
    return result
