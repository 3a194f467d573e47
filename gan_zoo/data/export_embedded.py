"""Write images of the embedded Fashion-MNIST subset as PNG folders, one per class: start, end and middle sets
for trying gan-zoo-project / gan-zoo-morph offline.

    python -m gan_zoo.data.export_embedded --out sets --classes sandal sneaker ankle_boot --num 64 --holdout 500

With --holdout N only the images that `data.holdout=N` keeps out of training are written (the same fixed subset).
"""
import argparse
from pathlib import Path

from PIL import Image

from gan_zoo.data.datamodule import held_out_indices
from gan_zoo.data.embedded import CLASSES, load_embedded_images
from gan_zoo.errors import UserError
from gan_zoo.files import save_png


def export_embedded(out: str, classes: list[str], num: int, holdout: int = 0) -> dict[str, Path]:
    images, labels = load_embedded_images()
    unknown = [c for c in classes if c not in CLASSES]
    if unknown:
        raise UserError(f"unknown class {unknown[0]!r}: choose from {', '.join(CLASSES)}")
    indices = held_out_indices(len(images), holdout) if holdout else list(range(len(images)))
    folders = {}
    for name in classes:
        folder = Path(out) / name
        folder.mkdir(parents=True, exist_ok=True)
        chosen = [i for i in indices if labels[i] == CLASSES.index(name)][:num]
        for i in chosen:
            save_png(Image.fromarray(images[i]), folder / f"{i:04d}.png", "image", durable=False)
        folders[name] = folder
    return folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--classes", nargs="+", required=True, choices=CLASSES)
    parser.add_argument("--num", type=int, default=64, help="images per class (at most)")
    parser.add_argument("--holdout", type=int, default=0, help="only the images data.holdout=N keeps out of training")
    args = parser.parse_args()
    for name, folder in export_embedded(args.out, args.classes, args.num, args.holdout).items():
        print(f"{folder}: {len(list(folder.glob('*.png')))} images of {name}")


if __name__ == "__main__":
    main()
