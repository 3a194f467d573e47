"""torchvision's datasets by name (MNIST, FashionMNIST, CIFAR10, CelebA, ...), images in [-1, 1]."""
import inspect
from pathlib import Path

import torchvision.datasets

from gan_zoo.data.transforms import image_transform
from gan_zoo.errors import UserError


def torchvision_dataset(
    name: str,  # a class in torchvision.datasets: MNIST, FashionMNIST, CIFAR10, CelebA, ...
    resolution: int,  # output size (short side resized, then center-cropped)
    channels: int,  # 1 or 3; the images are converted
    root: str = "data",  # where the files are, or go when downloaded
    download: bool = False,  # fetch the files if missing (needs internet)
    split: str = "train",  # "train"/"test" (MNIST-like, CIFAR: as train=True/False) or CelebA's "train"/"valid"/"test"/"all"
):
    cls = getattr(torchvision.datasets, name, None)
    if not inspect.isclass(cls):
        raise UserError(f"torchvision has no dataset '{name}' (e.g. MNIST, FashionMNIST, CIFAR10, CelebA)")
    kwargs = {"root": str(Path(root).expanduser()), "download": download, "transform": image_transform(resolution, channels)}
    params = inspect.signature(cls).parameters
    if "split" in params:
        kwargs["split"] = split
    elif "train" in params:
        kwargs["train"] = split == "train"
    try:
        return cls(**kwargs)
    except (RuntimeError, OSError) as e:  # torchvision: "Dataset not found..."; URLError is an OSError
        how = ("the download failed (no internet?): put the files there by hand" if download
               else "put the files there, or set data.dataset.download=true (needs internet)")
        raise UserError(f"could not load {name} from '{kwargs['root']}' ({e}); {how}") from e
