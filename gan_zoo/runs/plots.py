"""Plots of a run from its own files: the metrics against kimg (from metrics.jsonl) and the losses against kimg
(from metrics.csv). Plain functions over a run folder, so a notebook can draw any run, finished or not."""
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed (Colab, servers)
import matplotlib.pyplot as plt  # noqa: E402

from gan_zoo.files import save_figure  # noqa: E402
from gan_zoo.metrics.registry import METRICS  # noqa: E402
from gan_zoo.runs.run import records  # noqa: E402


def plot_metrics(run_dir: str | Path, out: str | Path | None = None) -> Path | None:
    """FID, KID, IS (and precision/recall/density/coverage when there) against kimg; None without metrics."""
    run_dir = Path(run_dir)
    evaluations = records(run_dir)
    if not evaluations:
        return None
    names = [m for m in METRICS if any(m in r["metrics"] for r in evaluations)]
    extractor = evaluations[-1]["protocol"]["extractor"]
    fig, axes = _panels(len(names))
    for ax, name in zip(axes, names):
        points = [(r["kimg"], r["metrics"][name]) for r in evaluations if name in r["metrics"]]
        ax.plot(*zip(*points), marker="o", markersize=3)
        better = "lower" if METRICS[name].lower_is_better else "higher"
        ax.set(title=f"{METRICS[name].label} ({extractor}, {better} is better)", xlabel="kimg")
        ax.grid(alpha=0.3)
    return _save(fig, out or run_dir / "plots" / "metrics.png")


def plot_losses(run_dir: str | Path, out: str | Path | None = None) -> Path | None:
    """Every `train/*` loss and regularizer logged to metrics.csv against kimg; None before the first row."""
    run_dir = Path(run_dir)
    path = run_dir / "metrics.csv"
    if not path.is_file():
        return None
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("kimg")]
    columns = [c for c in (rows[0].keys() if rows else []) if c.startswith("train/") and c != "train/images_per_sec"]
    series = {c: [(float(r["kimg"]), float(r[c])) for r in rows if r.get(c)] for c in columns}
    series = {c: points for c, points in series.items() if points}
    if not series:
        return None
    fig, axes = _panels(len(series))
    for ax, (name, points) in zip(axes, series.items()):
        ax.plot(*zip(*points), linewidth=0.8)
        ax.set(title=name.removeprefix("train/"), xlabel="kimg")
        ax.grid(alpha=0.3)
    return _save(fig, out or run_dir / "plots" / "losses.png")


def _panels(n: int, per_row: int = 4):
    rows = -(-n // per_row)
    cols = min(n, per_row)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes.flat


def _save(fig, out) -> Path:
    fig.tight_layout()
    try:  # atomic: a reader (a notebook, wandb) never sees half a file; never through a link
        return save_figure(fig, out, "plot", dpi=100)
    finally:
        plt.close(fig)
