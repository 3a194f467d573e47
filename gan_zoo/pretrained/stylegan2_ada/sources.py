"""Where stylegan2-ada-pytorch network pickles come from: NVIDIA's published ones by name (downloaded where there is
internet into torch.hub's cache), a URL, or a file; and what is known of each (license, class names, sha256).

NVIDIA publishes no checksums for these files (none found in their repository or elsewhere), so SHA256 is empty:
a download is checked by its structure (the reader and the converter accept only the networks' tensors) and its
sha256 is recorded in the model card of an export. Add an entry to SHA256 to pin a file.
"""
import shutil
import urllib.request
from pathlib import Path

import torch

from gan_zoo.errors import UserError
from gan_zoo.files import atomic_write, sha256

BASE = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/"
TRANSFER = BASE + "transfer-learning-source-nets/"
URLS = {  # the repository's README ("Data repository") and train.py's transfer-learning sources
    **{name: f"{BASE}{name}.pkl" for name in ("ffhq", "metfaces", "afhqcat", "afhqdog", "afhqwild", "brecahad",
                                               "cifar10")},
    "ffhq256": TRANSFER + "ffhq-res256-mirror-paper256-noaug.pkl",
    "ffhq512": TRANSFER + "ffhq-res512-mirror-stylegan2-noaug.pkl",
    "ffhq1024": TRANSFER + "ffhq-res1024-mirror-stylegan2-noaug.pkl",
    "celebahq256": TRANSFER + "celebahq-res256-mirror-paper256-kimg100000-ada-target0.5.pkl",
    "lsundog256": TRANSFER + "lsundog-res256-paper256-kimg100000-noaug.pkl",
}
SHA256: dict[str, str] = {}  # name -> the file's sha256 where known (none is published)
NVIDIA_LICENSE = "NVIDIA Source Code License-NC"
LICENSE_URL = "https://nvlabs.github.io/stylegan2-ada-pytorch/license.html"
# CIFAR-10's labels in the order of its data batches (the reference's dataset tool keeps it)
CLASS_NAMES = {"cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]}
TIMEOUT_S = 30  # offline, a download fails within this



def _download(name: str, url: str) -> Path:
    path = Path(torch.hub.get_dir()) / "checkpoints" / "stylegan2-ada-pytorch" / url.rsplit("/", 1)[-1]
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
                atomic_write(path, lambda f: shutil.copyfileobj(response, f), "downloaded network pickle")
        except OSError as e:
            raise UserError(f"could not download stylegan2-ada-pytorch's '{name}' ({type(e).__name__}: "
                            f"{str(e)[:100]}): download {url} where there is internet and pass its path instead") from e
    if name in SHA256 and sha256(path) != SHA256[name]:
        raise UserError(f"'{path}' (stylegan2-ada-pytorch's '{name}') does not have the published sha256: delete it "
                        "and download it again")
    return path


def locate(name_or_path: str) -> tuple[Path, dict]:
    """(the pickle's path, what is known of it: name, url, license, class names)."""
    if name_or_path in URLS or name_or_path.startswith(("https://", "http://")):
        url = URLS.get(name_or_path, name_or_path)
        nvidia = url.startswith(BASE)
        return _download(name_or_path, url), {
            "name": name_or_path, "url": url, "license": NVIDIA_LICENSE if nvidia else None,
            "license_url": LICENSE_URL if nvidia else None, "class_names": CLASS_NAMES.get(name_or_path)}
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        raise UserError(f"no stylegan2-ada-pytorch network pickle '{name_or_path}': give a file, a URL or one of "
                        f"{', '.join(URLS)}")
    return path, {"name": path.name, "url": None, "license": None, "license_url": None, "class_names": None}
