"""PIL image -> tensor [C, R, R] in [-1, 1], whatever the image's mode."""
import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2


def to_mode(image: Image.Image, channels: int) -> Image.Image:
    """Convert any PIL image to 8-bit "L" (channels=1) or "RGB" (channels=3).

    Transparency is composited on white; 16/32-bit integer and float images are rescaled to 8 bits
    (PIL's own convert would clip them); CMYK, palette and the rest go through PIL's convert.
    """
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        array = np.asarray(image, dtype=np.float64)
        peak = 1.0 if image.mode == "F" else (65535.0 if array.max() > 255 else 255.0)
        image = Image.fromarray(np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode == "P" or image.mode in ("LA", "PA", "RGBA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return image.convert("L" if channels == 1 else "RGB")


class ToMode:
    """Picklable transform (DataLoader workers may be spawned) wrapping `to_mode`."""

    def __init__(self, channels: int):
        self.channels = channels

    def __call__(self, image: Image.Image) -> Image.Image:
        return to_mode(image, self.channels)


# The most pixels an image may have once its short side is resized to the resolution (Pillow's limit for a
# decoded image, ~89 M): a 1 x 20,000,000 strip passes Pillow's check but would be resized to 16 x 320,000,000.
MAX_RESIZED_PIXELS = 89_478_485


def resized_pixels(size: tuple[int, int], resolution: int) -> int:
    """Pixels of an image of `size` (width, height) once decode_transform resizes its short side to `resolution`
    (before the crop)."""
    short, long = sorted(size)
    return resolution * round(resolution * long / max(short, 1))


def decode_transform(resolution: int, channels: int) -> v2.Compose:
    """PIL image -> uint8 [C, R, R]: the short side resized to `resolution`, center-cropped to a square."""
    return v2.Compose([ToMode(channels), v2.PILToTensor(), v2.Resize(resolution, antialias=True),
                       v2.CenterCrop(resolution)])


def to_unit_range(channels: int) -> v2.Compose:
    """uint8 [..., C, R, R] -> float32 in [-1, 1]."""
    return v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize([0.5] * channels, [0.5] * channels)])


def image_transform(resolution: int, channels: int) -> v2.Compose:
    """Resize the short side to `resolution`, center-crop to a square, scale to [-1, 1]."""
    return v2.Compose([decode_transform(resolution, channels), to_unit_range(channels)])
