"""Any folder of images (recursive): a painter's few hundred works, or a large scraped set.

Every file type Pillow opens is read (PNG, JPEG, WebP, BMP, GIF's first frame, TIFF, ...); files of other
types are listed once as ignored. Files are checked once at start-up: zero-byte, unreadable and corrupt
files are skipped with one warning that counts them and names the first few. A folder whose decoded images fit
in `cache_mib` is decoded whole at start-up into one preallocated uint8 tensor (1 byte per value, no second
copy; each item is scaled to [-1, 1] when served), so a truncated file is found there too; a larger folder
streams from disk, and a file that only fails when decoded mid-epoch is replaced by the next good one (never a
crash), with a warning.
"""
import logging
from collections import Counter
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from gan_zoo.data.transforms import MAX_RESIZED_PIXELS, decode_transform, resized_pixels, to_unit_range
from gan_zoo.errors import UserError

log = logging.getLogger(__name__)


def pillow_extensions() -> tuple[str, ...]:
    """The file extensions of every format Pillow can open."""
    Image.init()
    return tuple(sorted(ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN))


EXTENSIONS = pillow_extensions()
DECODE_ERRORS = (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombError)


def _why(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def check_image(path: Path, resolution: int) -> str | None:
    """Why `path` is not a usable image (by its header and structure, and its size once resized to `resolution`),
    or None if it is."""
    if path.stat().st_size == 0:
        return "empty file"
    try:
        with Image.open(path) as image:
            image.verify()
            size = image.size
    except DECODE_ERRORS as e:
        return _why(e)
    if (pixels := resized_pixels(size, resolution)) > MAX_RESIZED_PIXELS:
        return (f"{size[0]} x {size[1]} pixels would be {pixels:.3g} once its short side is resized to {resolution} "
                f"(over {MAX_RESIZED_PIXELS:.3g}): crop it to a less elongated shape")
    return None


class ImageFolder(Dataset):
    """Items are (image [C, R, R] in [-1, 1], 0)."""

    def __init__(
        self,
        root: str,  # folder searched recursively for every file type Pillow opens
        resolution: int,  # output size (short side resized, then center-cropped)
        channels: int,  # 1 = grayscale, 3 = RGB
        cache_mib: float = 4096,  # keep the decoded images in memory (uint8) when they fit in this many MiB, 0 = never
    ):
        self.root = Path(root).expanduser()
        if self.root.is_file():
            raise UserError(f"data.dataset.root='{self.root}' is a file, not a folder: give the folder that holds the images")
        if not self.root.is_dir():
            raise UserError(f"image folder not found: '{self.root}' (set data.dataset.root to a folder of images)")
        found = [p for p in self.root.rglob("*") if p.is_file()]
        files = sorted(p for p in found if p.suffix.lower() in EXTENSIONS)
        if ignored := Counter(p.suffix.lower() or "(none)" for p in found if p.suffix.lower() not in EXTENSIONS):
            log.info(f"ignoring {sum(ignored.values())} files in '{self.root}' that are not images Pillow reads: "
                     + ", ".join(f"{ext} ({n})" for ext, n in ignored.most_common(5)))
        if not files:
            raise UserError(f"no images in '{self.root}': expected image files (.png, .jpg, .webp, .bmp, .gif, .tif, "
                            "...), searched recursively")
        bad = [(p, why) for p in files if (why := check_image(p, resolution)) is not None]
        good = [p for p in files if p not in {b for b, _ in bad}]
        self.decode, self.to_float = decode_transform(resolution, channels), to_unit_range(channels)
        self.cache = None  # uint8 [N, C, R, R]
        if len(good) * channels * resolution**2 <= cache_mib * 2**20:
            good, self.cache = self._decode_all(good, bad, (channels, resolution, resolution))
        if bad:
            names = "; ".join(f"{p.relative_to(self.root)} ({why})" for p, why in bad[:3])
            log.warning(f"skipping {len(bad)} of {len(files)} files in '{self.root}' that are not readable images: {names}")
        self.files = good
        if not self.files:
            raise UserError(f"none of the {len(files)} image files in '{self.root}' could be read: all are empty or corrupt")
        self.failed_mid_epoch = 0

    def _decode_all(self, paths: list[Path], bad: list, shape: tuple) -> tuple[list[Path], torch.Tensor | None]:
        """Decode every file now, in place into one uint8 tensor (finds what the structural check misses, such as
        truncation; a file that fails is added to `bad` and the next one takes its slot)."""
        cache, kept = torch.empty(len(paths), *shape, dtype=torch.uint8), []
        for path in paths:
            try:
                cache[len(kept)] = self._decode(path)
                kept.append(path)
            except DECODE_ERRORS as e:
                bad.append((path, _why(e)))
        return kept, (cache[: len(kept)] if kept else None)

    def _decode(self, path: Path) -> torch.Tensor:
        """uint8 [C, R, R]"""
        with Image.open(path) as image:
            return self.decode(image)

    def images(self) -> torch.Tensor:
        """All images, float [N, C, R, R] in [-1, 1] (decoded now when not cached)."""
        if self.cache is not None:
            return self.to_float(self.cache)
        return torch.stack([self[i][0] for i in range(len(self))])

    def _load_any(self, index: int) -> torch.Tensor:
        """The image at `index`, or the next one that decodes (a large folder's file that broke mid-run)."""
        for offset in range(len(self.files)):
            i = (index + offset) % len(self.files)
            try:
                return self._decode(self.files[i])
            except DECODE_ERRORS as e:
                self.failed_mid_epoch += 1
                log.warning(f"could not decode '{self.files[i]}' ({_why(e)}); using the next image instead "
                            f"({self.failed_mid_epoch} such files so far in this process)")
        raise UserError(f"no image in '{self.root}' could be decoded")

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int):
        image = self.cache[index] if self.cache is not None else self._load_any(index)
        return self.to_float(image), 0


def read_images(folder: str, resolution: int, channels: int, key: str = "images") -> tuple[torch.Tensor, list[Path]]:
    """Every readable image under `folder` (or the one image file `folder`) as [N, C, R, R] in [-1, 1], with the
    training loader's resizing, cropping and bad-file handling, and the files they came from. `key` names the
    setting in error messages."""
    from gan_zoo.data.transforms import image_transform

    path = Path(folder).expanduser()
    if path.is_file():
        if (why := check_image(path, resolution)) is not None:
            raise UserError(f"{key}='{path}' is not a usable image ({why}): give an image file or a folder of images")
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
