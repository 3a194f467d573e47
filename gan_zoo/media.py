"""Writing images: a grid (PNG), a folder of PNGs (one per image), an animation (GIF with Pillow, MP4 with PyAV).
Images come in [-1, 1]. Every file is written through `gan_zoo.files` (atomically, never through a link)."""
from collections.abc import Iterable
from pathlib import Path

import torch
from torchvision.utils import make_grid

from gan_zoo.errors import UserError
from gan_zoo.files import atomic_write, save_png, write_by_name

FORMATS = ("png", "folder", "gif", "mp4")


def save_grid(images: torch.Tensor, out: Path, nrow: int) -> Path:
    return save_png(make_grid(images, nrow=nrow, normalize=True, value_range=(-1, 1)), out, "image grid")


def save_folder(batches: torch.Tensor | Iterable[torch.Tensor], out: Path, total: int | None = None,
                progress: bool = False, prefix: str = "") -> Path:
    """One PNG per image, numbered from 000000, written batch by batch."""
    from tqdm import tqdm

    out.mkdir(parents=True, exist_ok=True)
    batches = [batches] if isinstance(batches, torch.Tensor) else batches
    bar = tqdm(total=total, desc=f"writing {out}", unit="img", disable=not progress, dynamic_ncols=True)
    index = 0
    for batch in batches:
        for image in batch:
            save_png(image, out / f"{prefix}{index:06d}.png", "image", durable=False, normalize=True,
                     value_range=(-1, 1))
            index += 1
        bar.update(len(batch))
    bar.close()
    return out


def save_animation(frames: torch.Tensor, out: Path, fmt: str, fps: int = 10, boomerang: bool = True) -> Path:
    """frames [rows, T, C, H, W]: each frame shows every row side by side; played forth and back (boomerang)."""
    sequence = frames.transpose(0, 1)  # [T, rows, C, H, W]
    grids = torch.stack([make_grid(step, nrow=len(step), normalize=True, value_range=(-1, 1), padding=2)
                         for step in sequence])  # [T, 3, H', W'] in [0, 1]
    if boomerang and len(grids) > 2:
        grids = torch.cat([grids, grids.flip(0)[1:-1]])
    pixels = (grids * 255).round().to(torch.uint8).movedim(1, -1).contiguous()  # [T, H', W', 3]
    if fmt == "gif":
        from PIL import Image

        images = [Image.fromarray(frame.numpy()) for frame in pixels]
        return atomic_write(out, lambda f: images[0].save(f, format="GIF", save_all=True, append_images=images[1:],
                                                          duration=max(1, round(1000 / fps)), loop=0), "animation")
    try:
        import av  # noqa: F401  (torchvision.io.write_video's encoder)
    except ImportError as e:
        raise UserError("format=mp4 needs PyAV: pip install av (or write format=gif)") from e
    from torchvision.io import write_video

    even = pixels[:, : pixels.shape[1] // 2 * 2, : pixels.shape[2] // 2 * 2]  # H.264 wants even sizes
    return write_by_name(out, lambda name: write_video(name, even, fps=fps), "video")
