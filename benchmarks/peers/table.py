"""The reference rows of the comparison table, from the harnesses' output folders (one per seed), in the columns of
gan-zoo-compare's comparison.md; and the raw generators' FIDs as in RESULTS.md's raw-generator table.

    python benchmarks/peers/table.py experiments/peers/*     # the harnesses' --out folders, one per seed

gan-zoo-compare itself cannot take these runs: it reads gan_zoo checkpoints (parameter counts, samples.png) and
per-evaluation records. Their rows are scored once, at the budget, so "best FID" is that FID. Minutes: the training
loop's wall clock with its own start-up (no evaluations ran in it; gan_zoo's minutes include its evaluations every
2,560 images); img/s: training batches only, as train/images_per_sec; peak GiB: the process's resident peak during
training (VmHWM), as gan_zoo's on CPU.
"""
import argparse
import json
import math
import statistics
import sys
from pathlib import Path

from gan_zoo.commands.cli import report_user_error
from gan_zoo.commands.compare import PROTOCOL_KEYS, TABLE_METRICS, _mean_std_ci, collapsed, log_interval
from gan_zoo.errors import UserError
from gan_zoo.metrics.registry import METRICS


def read(folder: Path) -> dict:
    result = json.loads((folder / "result.json").read_text())
    for name in ("ema", "raw"):
        scored = json.loads((folder / f"{name}.metrics.json").read_text())
        extractor = scored["protocol"]["extractor"]
        result[name] = {k[: -len(extractor) - 1]: v for k, v in scored["metrics"].items()}
        result[f"{name}_protocol"] = {k: scored["protocol"].get(k) for k in PROTOCOL_KEYS}
    return result


def cell(values: list[float], name: str) -> str:
    mean, std, _ = _mean_std_ci(values)
    digits = METRICS[name].digits
    return f"{mean:.{digits}f}" + ("" if math.isnan(std) else f" +- {std:.{digits}f}")


def rows(runs: list[dict]) -> tuple[list[str], list[str]]:
    """(comparison rows, raw-generator rows), one per reference and experiment variant (result.json "variant")."""
    table, raw = [], []
    key = lambda r: (r["reference"], r.get("variant"))  # noqa: E731
    for reference, variant in dict.fromkeys(map(key, runs)):
        group = sorted((r for r in runs if key(r) == (reference, variant)), key=lambda r: r["seed"])
        fids = [r["ema"]["fid"] for r in group]
        low, high = log_interval(fids)
        seeds = ", ".join(f"{f:.1f}{'*' if c else ''}" for f, c in zip(fids, collapsed(fids)))
        label = f"{reference} (benchmarks/peers{', ' + variant if variant else ''})"
        mean = lambda key: statistics.fmean(r[key] for r in group)  # noqa: E731
        peaks = [r.get("peak_memory_gib") for r in group]
        table.append(
            f"| {label} | {len(group)} | {statistics.median(fids):.2f} ({min(fids):.2f} .. {max(fids):.2f}) | "
            + f"{seeds} | " + ("-" if math.isnan(low) else f"{low:.2f} .. {high:.2f}") + " | "
            + f"{statistics.fmean(fids):.2f} / {min(fids):.2f} | "
            + " | ".join(cell([r["ema"][m] for r in group], m) for m in TABLE_METRICS) + " | "
            + f"{mean('kimg'):.1f} | {mean('wall_seconds_with_startup') / 60:.1f} | "
            + f"{mean('train_images_per_sec'):.1f} | {group[0]['g_params'] / 1e6:.2f} M | "
            + f"{group[0]['d_params'] / 1e6:.2f} M | " + ("-" if None in peaks else f"{max(peaks):.2f}") + " |")
        raws = [r["raw"]["fid"] for r in group]
        raw.append(f"| {label} | {', '.join(f'{f:.2f}' for f in raws)} | {statistics.median(raws):.2f} | "
                   f"{statistics.median(fids):.2f} |")
    return table, raw


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", help="the harnesses' --out folders")
    args = parser.parse_args()
    runs = [read(Path(f)) for f in args.folders]
    protocols = {json.dumps(r[p], sort_keys=True) for r in runs for p in ("ema_protocol", "raw_protocol")}
    if len(protocols) > 1:
        raise UserError(f"the folders were scored under different protocols: {' | '.join(sorted(protocols))}")
    smoke = [f for f, r in zip(args.folders, runs) if r.get("smoke")]
    if smoke:
        print(f"warning: --smoke runs, not comparable: {', '.join(smoke)}", file=sys.stderr)
    table, raw = rows(runs)
    print(f"Protocol: {next(iter(protocols))}\n")
    print("| variant | seeds | FID at budget | per seed | 95% interval | best FID mean / min | "
          + " | ".join(METRICS[m].label for m in TABLE_METRICS)
          + " | kimg | minutes | img/s | G params | D params | peak GiB |")
    print("|---" * (12 + len(TABLE_METRICS)) + "|")
    print("\n".join(table))
    print("\n| variant | FID raw G, per seed | median raw | median EMA (table) |\n|---|---|---|---|")
    print("\n".join(raw))


if __name__ == "__main__":
    with report_user_error():  # bad input: one line, exit 2
        main()
