"""Wall-clock time and peak memory of the README's default command, run several times (medians).

    python benchmarks/default_run.py                 # gan-zoo-train, 3 times, in a scratch folder
    python benchmarks/default_run.py --runs 5 -- trainer.max_epochs=2

Each run is a fresh process in its own scratch folder (no cached real features); the machine should be quiet.
Also prints each run's images/s per epoch (metrics.csv), to see whether the first epochs are slower.
"""
import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_run(overrides: list[str]) -> tuple[float, float, list[float]]:
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "gan_zoo.commands.train", f"paths.cache={scratch}/cache", *overrides],
                                   cwd=scratch, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        if status != 0:
            raise SystemExit(f"the run failed (status {status})")
        (metrics,) = Path(scratch).rglob("metrics.csv")
        with metrics.open(newline="") as f:
            rates = [float(r["train/images_per_sec"]) for r in csv.DictReader(f) if r.get("train/images_per_sec")]
        return seconds, usage.ru_maxrss / 2**20, rates  # ru_maxrss: kB on Linux


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("overrides", nargs="*", help="gan-zoo-train overrides (after --)")
    args = parser.parse_args()
    results = [one_run(args.overrides) for _ in range(args.runs)]
    print(f"gan-zoo-train {' '.join(args.overrides)}: {args.runs} runs, {os.cpu_count()} cores")
    print("| run | wall clock | peak RSS GiB | images/s per epoch |")
    print("|---|---|---|---|")
    for i, (seconds, rss, rates) in enumerate(results, 1):
        print(f"| {i} | {seconds // 60:.0f} min {seconds % 60:.0f} s | {rss:.2f} | {', '.join(f'{r:.0f}' for r in rates)} |")
    median = statistics.median(r[0] for r in results)
    print(f"median: {median // 60:.0f} min {median % 60:.0f} s, peak RSS {statistics.median(r[1] for r in results):.2f} GiB")


if __name__ == "__main__":
    main()
