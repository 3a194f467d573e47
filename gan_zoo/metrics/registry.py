"""The metrics gan_zoo reports, each named once: its label, whether lower is better, how many digits to print.
The training callback, the plots, gan-zoo-eval and gan-zoo-compare read this table; a new metric is a row here
(and its computation in `evaluator.py`)."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str  # key in metrics.jsonl and the logged name metrics/<name>_<extractor>
    label: str
    lower_is_better: bool
    digits: int  # printed precision


METRICS = {m.name: m for m in (
    Metric("fid", "FID", True, 2),
    Metric("kid", "KID", True, 4),
    Metric("is", "IS", False, 2),
    Metric("precision", "precision", False, 3),
    Metric("recall", "recall", False, 3),
    Metric("density", "density", False, 3),
    Metric("coverage", "coverage", False, 3),
)}
