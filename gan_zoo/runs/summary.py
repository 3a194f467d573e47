"""What a run says when it ends: what it achieved, where its files are, and how to continue it."""
import json
import logging
import shlex
from pathlib import Path

log = logging.getLogger(__name__)


def records(run_dir: Path) -> list[dict]:
    """The evaluations in a run's metrics.jsonl; a line that is cut off (a run killed while writing) or not an
    evaluation is skipped with one warning."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    good, skipped = [], 0
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
            if isinstance(record, dict) and isinstance(record["metrics"]["fid"], (int, float)):
                good.append(record)
                continue
        except (ValueError, KeyError, TypeError):
            pass
        skipped += bool(line.strip())
    if skipped:
        log.warning(f"'{path}': skipped {skipped} unreadable line(s) (cut off, or not an evaluation)")
    return good


def best_fid(run_dir: Path) -> float | None:
    """The run's lowest FID over training (what `gan-zoo-train` returns to Hydra's optimising sweepers)."""
    fids = [r["metrics"]["fid"] for r in records(run_dir)]
    return min(fids) if fids else None


def _fmt(record: dict, name: str) -> str:
    return f"{record['metrics']['fid']:.2f} (epoch {record['epoch']}, {record['kimg']:.1f} kimg)" if record else name


def continue_command(task_overrides: list[str], max_epochs: int, max_kimg: float | None = None) -> str:
    """The command line that continues this run for as long again (its budget in kimg, or else in epochs)."""
    kept = [o for o in task_overrides if not o.startswith(("ckpt=", "ckpt_path=", "trainer.max_epochs=", "trainer.max_kimg="))]
    if max_kimg:
        more = f"trainer.max_kimg={2 * max_kimg:g}"
    else:
        more = f"trainer.max_epochs={2 * max_epochs}" if max_epochs > 0 else None
    return shlex.join(["gan-zoo-train", *kept, "ckpt=last", *([more] if more else [])])


def run_summary(
    run_dir: Path,  # the run's folder (metrics.jsonl, samples/, plots/)
    best_checkpoint: str | None,  # the best-FID checkpoint, if metrics ran
    epochs: int,  # whole epochs trained so far
    kimg: float,  # thousands of images seen so far
    command: str,  # the command that continues the run
) -> str:
    evaluations = records(run_dir)
    lines = [f"gan-zoo: run finished: {epochs} epochs, {kimg:.1f} kimg"]
    if evaluations:
        extractor = evaluations[-1]["protocol"]["extractor"]
        best = min(evaluations, key=lambda r: r["metrics"]["fid"])
        lines.append(f"  FID ({extractor}): final {_fmt(evaluations[-1], '-')}, best {_fmt(best, '-')}")
    if best_checkpoint:
        lines.append(f"  best checkpoint: {best_checkpoint}")
    lines.append(f"  run folder: {run_dir}  (samples/: sample grids and real.png, plots/: FID and losses)")
    lines.append(f"  continue: {command}")
    return "\n".join(lines)
