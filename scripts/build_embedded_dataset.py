"""Build gan_zoo's embedded default dataset: a class-balanced Fashion-MNIST subset.

Reads the official IDX files (Debian's `dataset-fashion-mnist` installs them to
/usr/share/datasets/fashion-mnist/) and writes the first N training images of each class
to gan_zoo/assets/fashion_mnist_subset.npz (uint8 images [N, 28, 28], uint8 labels [N]).

    python scripts/build_embedded_dataset.py --idx-dir ../shared/data/fashion-mnist
"""
import argparse
import gzip
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "gan_zoo" / "assets" / "fashion_mnist_subset.npz"


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped): magic, dims as big-endian int32, then uint8 data."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">i4", count=ndim, offset=4)
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idx-dir", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    parser.add_argument("--per-class", type=int, default=500)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    images = read_idx(args.idx_dir / "train-images-idx3-ubyte.gz")  # [60000, 28, 28]
    labels = read_idx(args.idx_dir / "train-labels-idx1-ubyte.gz")  # [60000]
    keep = np.concatenate([np.flatnonzero(labels == c)[: args.per_class] for c in range(10)])
    keep.sort()  # keep the official order, classes interleaved
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, images=images[keep], labels=labels[keep])
    print(f"wrote {len(keep)} images ({args.out.stat().st_size / 1e6:.2f} MB) to {args.out}")


if __name__ == "__main__":
    main()
