"""Cost of precision/recall/density/coverage and of the copying check's neighbour search, beside the FID
evaluation they come with (median of --repeats runs each, one process, same machine).

    python benchmarks/evaluation_cost.py                      # the classifier protocol of the embedded data
    python benchmarks/evaluation_cost.py --features 2048 --num 10000 --train 60000   # Inception-sized sets

Features are the classifier's real features (embedded data) or, for Inception sizes, random vectors of that
shape: the cost of these metrics depends only on the shapes. Extraction itself is timed with the classifier.
"""
import argparse
import resource
import statistics
import time
import warnings

import torch

from gan_zoo.data.embedded import EmbeddedFashionMNIST
from gan_zoo.metrics.evaluator import Evaluator
from gan_zoo.metrics.extractors import FashionClassifierExtractor
from gan_zoo.metrics.features import extract_features
from gan_zoo.metrics.memorization import copying_statistics
from gan_zoo.metrics.prdc import prdc


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num", type=int, default=2000, help="real and fake features (the metrics protocol's N)")
    parser.add_argument("--features", type=int, default=0, help="feature size; 0 = the classifier's real features")
    parser.add_argument("--train", type=int, default=5000, help="training features for the copying check")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
    g = torch.Generator().manual_seed(0)
    extractor = FashionClassifierExtractor()
    if args.features:
        real, fake = torch.randn(args.num, args.features, generator=g), torch.randn(args.num, args.features, generator=g)
        train = torch.randn(args.train, args.features, generator=g)
        extraction = None
    else:
        images = EmbeddedFashionMNIST(resolution=32, channels=1).tensors[0]
        extraction = median_seconds(lambda: extract_features(extractor, images[: 2 * args.num]), args.repeats)
        train = extract_features(extractor, images[: args.train])
        real, fake = train[: args.num], extract_features(extractor, images.flip(0)[: args.num])
    evaluator = Evaluator(extractor, num_real=args.num, num_fake=args.num, prdc_k=0, cache_dir=None)
    fid_kid = median_seconds(lambda: evaluator.compute(real, fake, None), args.repeats)
    prdc_time = median_seconds(lambda: prdc(real, fake, 5), args.repeats)
    copying = median_seconds(lambda: copying_statistics(train, fake, real[: args.num // 4]), args.repeats)
    print(f"N = {args.num} real + {args.num} fake features of size {real.shape[1]}, {args.train} training features, "
          f"{torch.get_num_threads()} threads, median of {args.repeats}")
    print("| step | seconds | vs FID+KID |")
    print("|---|---|---|")
    if extraction is not None:
        print(f"| extract features of {2 * args.num} images (classifier) | {extraction:.2f} | {extraction / fid_kid:.1f}x |")
    print(f"| FID + KID (torchmetrics) | {fid_kid:.2f} | 1.0x |")
    print(f"| precision, recall, density, coverage (k=5) | {prdc_time:.2f} | {prdc_time / fid_kid:.2f}x |")
    print(f"| copying check: neighbours of {args.num} in {args.train}, C_T with {args.num // 4} held out | "
          f"{copying:.2f} | {copying / fid_kid:.2f}x |")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
