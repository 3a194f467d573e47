"""Any folder of images (recursive): a painter's few hundred works, or a large scraped set.

Files are checked once at start-up: zero-byte, unreadable and corrupt files are skipped with one
warning that counts them and names the first few. A file that still fails to decode mid-epoch is
replaced by the next good one (never a crash). Small folders are decoded once and kept in memory.
"""
import logging
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from gan_zoo.data.transforms import image_transform
from gan_zoo.errors import UserError

log = logging.getLogger(__name__)

EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def _check(path: Path) -> str | None:
    """Why `path` is not a usable image, or None if it is."""
    if path.stat().st_size == 0:
        return "empty file"
    try:
        with Image.open(path) as image:
            image.verify()
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as e:
        return f"{type(e).__name__}: {e}"
    return None


class ImageFolder(Dataset):
    """Items are (image [C, R, R] in [-1, 1], 0)."""

    def __init__(
        self,
        root: str,  # folder searched recursively for .png .jpg .jpeg .webp .bmp
        resolution: int,  # output size (short side resized, then center-cropped)
        channels: int,  # 1 = grayscale, 3 = RGB
        cache_limit: int = 10_000,  # keep decoded images in memory when there are at most this many, 0 = never
    ):
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise UserError(f"image folder not found: '{self.root}' (set data.dataset.root to a folder of images)")
        files = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file())
        if not files:
            raise UserError(
                f"no images in '{self.root}': expected files ending in {', '.join(EXTENSIONS)} (searched recursively)"
            )
        bad = [(p, why) for p in files if (why := _check(p)) is not None]
        if bad:
            names = "; ".join(f"{p.relative_to(self.root)} ({why})" for p, why in bad[:3])
            log.warning(f"skipping {len(bad)} of {len(files)} files in '{self.root}' that are not readable images: {names}")
        self.files = [p for p in files if p not in {b for b, _ in bad}]
        if not self.files:
            raise UserError(f"none of the {len(files)} image files in '{self.root}' could be read: all are empty or corrupt")
        self.transform = image_transform(resolution, channels)
        self.cache = None
        if len(self.files) <= cache_limit:
            self.cache = torch.stack([self._load_any(i)[0] for i in range(len(self.files))])

    def _load(self, index: int) -> torch.Tensor:
        with Image.open(self.files[index]) as image:
            return self.transform(image)

    def _load_any(self, index: int) -> tuple[torch.Tensor, int]:
        """The image at `index`, or the next one that decodes."""
        for offset in range(len(self.files)):
            i = (index + offset) % len(self.files)
            try:
                return self._load(i), i
            except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as e:
                log.warning(f"could not decode '{self.files[i]}' ({e}); using the next image instead")
        raise UserError(f"no image in '{self.root}' could be decoded")

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int):
        image = self.cache[index] if self.cache is not None else self._load_any(index)[0]
        return image, 0
