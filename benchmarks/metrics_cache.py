"""Time saved by the real-feature cache: one metrics evaluation with a cold cache, then warm.

    python benchmarks/metrics_cache.py                               # the shipped classifier, N = 2000
    python benchmarks/metrics_cache.py --inception ../shared/data/inception-2015-12-05-fid-only.pth --num 100
"""
import argparse
import tempfile
import time
import warnings

import torch

from gan_zoo.data.embedded import EmbeddedFashionMNIST
from gan_zoo.metrics.evaluator import Evaluator
from gan_zoo.metrics.extractors import FashionClassifierExtractor, InceptionExtractor
from gan_zoo.networks.dcgan import Generator


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num", type=int, default=2000, help="real and fake images")
    parser.add_argument("--inception", default=None, help="InceptionV3 weights file; default: the shipped classifier")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
    extractor = InceptionExtractor(weights_path=args.inception) if args.inception else FashionClassifierExtractor()
    dataset = EmbeddedFashionMNIST(resolution=32, channels=1)
    generator = Generator(resolution=32, channels=1)
    print(f"extractor {extractor.name}, N = {args.num} real + {args.num} fake, {torch.get_num_threads()} threads")
    print("| evaluation | real features | seconds |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory() as cache:
        times = []
        for label in ("first (cold cache)", "second (warm cache)"):
            ev = Evaluator(extractor, num_real=args.num, num_fake=args.num, batch_size=100,
                           kid_subset_size=min(1000, args.num), cache_dir=cache)
            start = time.perf_counter()
            real = ev.real_features(dataset, {"name": "embedded"})
            ev.compute(real, *ev.fake_features(generator, "cpu"))
            times.append(time.perf_counter() - start)
            print(f"| {label} | {'extracted' if len(times) == 1 else 'from cache'} | {times[-1]:.2f} |", flush=True)
    print(f"time saved per evaluation: {times[0] - times[1]:.2f} s ({times[0] / times[1]:.2f}x faster)")


if __name__ == "__main__":
    main()
