"""Train the small Fashion-MNIST classifier shipped as gan_zoo/assets/fashion_classifier.pt.

It is the offline feature extractor for metrics on the embedded dataset (see
gan_zoo/metrics/fashion_classifier.py). Trains on the 60,000 official training images, reports
accuracy on the 10,000 test images, and saves a float16 state dict (well under 1 MB).

    python scripts/train_fashion_classifier.py --idx-dir ../shared/data/fashion-mnist
"""
import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_embedded_dataset import read_idx  # noqa: E402

from gan_zoo.metrics.fashion_classifier import FashionCNN  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "gan_zoo" / "assets" / "fashion_classifier.pt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idx-dir", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.manual_seed(0)

    def load(split):
        images = torch.from_numpy(read_idx(args.idx_dir / f"{split}-images-idx3-ubyte.gz").copy())[:, None]
        labels = torch.from_numpy(read_idx(args.idx_dir / f"{split}-labels-idx1-ubyte.gz").copy()).long()
        return images, labels  # uint8 [N, 1, 28, 28], [N]

    (x_train, y_train), (x_test, y_test) = load("train"), load("t10k")
    net = FashionCNN()
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    steps = args.epochs * (len(x_train) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    for epoch in range(args.epochs):
        net.train()
        for idx in torch.randperm(len(x_train)).split(128):
            if len(idx) < 128:
                continue
            x = x_train[idx]
            if torch.rand(()) < 0.5:
                x = x.flip(-1)  # horizontal flips: garments are roughly symmetric
            loss = F.cross_entropy(net(x)[1], y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        with torch.no_grad():
            correct = sum((net(x)[1].argmax(1) == y).sum().item() for x, y in zip(x_test.split(1000), y_test.split(1000)))
        print(f"epoch {epoch}: test accuracy {correct / len(x_test):.4f}", flush=True)
    state = {k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()}
    torch.save(state, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
