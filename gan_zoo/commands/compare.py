"""`gan-zoo-compare <sweep folder | run folders...> [out=<folder>]`: one table of GAN variants over seeds.

Runs are grouped by what differs between their command lines apart from the seed (the variant). Per variant:
the number of seeds; FID at the end (the budget) as mean +- std and a 95% interval (Student's t on log FID:
never below 0); the best FID over training (mean, min); KID and IS likewise; kimg, wall-clock time, images/s, parameters of G and D,
peak memory. Rows sorted by FID; the metrics protocol stated once above the table. Runs evaluated with
different protocols are refused (they are not comparable); runs still going, stopped early, or without
metrics are listed as such, not dropped. Where every seed of a variant has its copying check (gan-zoo-eval
ckpt=<last.ckpt> memorization=true), a column says how many were flagged and their mean C_T. Writes comparison.md, comparison.csv, fid_vs_kimg.png and
samples.png (one row per variant, the same latent seed, each variant's final EMA generator).
"""
import csv
import io
import json
import math
import statistics
import sys
import textwrap
from pathlib import Path

import torch
from omegaconf import OmegaConf

from gan_zoo.commands import cli
from gan_zoo.errors import UserError
from gan_zoo.files import save_figure, save_png, write_text
from gan_zoo.metrics.registry import METRICS
from gan_zoo.runs.checkpoints import load_checkpoint
from gan_zoo.runs.run import Run

PROTOCOL_KEYS = ("extractor", "weights_sha256", "num_real", "num_fake", "real_split", "prdc_k", "real_data")
TABLE_METRICS = ("kid", "is", "precision", "recall")  # columns beside FID (names, labels, digits: metrics.registry)
NOT_A_VARIANT = ("seed", "paths.", "ckpt", "name", "hydra.")  # override keys that do not make a variant


def variant(run: Run) -> dict:
    """What makes a run's variant: its command line without the keys that do not (seed, paths, ...)."""
    return {k: v for k, v in run.overrides.items() if not k.startswith(NOT_A_VARIANT)}


def read_run(run_dir: Path) -> Run:
    """The run in `run_dir`, with everything compare needs read now: a damaged folder is one line."""
    run = Run(run_dir)
    try:
        run.overrides, run.records, run.status  # noqa: B018 (read now, not while the table is written)
    except Exception as e:  # YAML or records that are damaged or not a run's: a folder of others
        raise UserError(f"'{run_dir}' is not a readable gan_zoo run folder ({type(e).__name__}: "
                        f"{str(e).splitlines()[0][:120] if str(e) else ''}): remove it from the folders given") from e
    return run


def find_runs(paths: list[str]) -> list[Path]:
    found = []
    for path in map(lambda p: Path(p).expanduser(), paths):
        if not path.is_dir():
            raise UserError(f"not a folder: '{path}' (give run folders or a sweep folder under experiments/)")
        runs = [p.parent.parent for p in sorted(path.rglob(".hydra/overrides.yaml"))]
        if not runs:
            raise UserError(f"no gan_zoo runs under '{path}' (a run folder holds .hydra/overrides.yaml)")
        found += runs
    return sorted(set(found))


def check_protocols(runs: list[Run]) -> dict:
    """The one metrics protocol of all runs with metrics; a UserError saying which runs differ in what."""
    groups = {}
    for run in runs:
        if run.records:
            protocol = {k: run.records[-1]["protocol"].get(k) for k in PROTOCOL_KEYS}
            groups.setdefault(json.dumps(protocol, sort_keys=True), []).append(run)
    if len(groups) > 1:
        keys = [json.loads(k) for k in groups]
        differing = [k for k in PROTOCOL_KEYS if len({str(p[k]) for p in keys}) > 1]
        parts = ["; ".join(f"{k}={p[k]}" for k in differing) + " in " + ", ".join(r.folder.name for r in group)
                 for p, group in zip(keys, groups.values())]
        raise UserError("the runs were evaluated with different metrics protocols, so their numbers are not "
                        f"comparable: {' | '.join(parts)} (compare runs evaluated alike, or evaluate them again "
                        "with gan-zoo-eval metrics=...)")
    return json.loads(next(iter(groups))) if groups else {}


def _mean_std_ci(values: list[float]) -> tuple[float, float, float]:
    """Mean, standard deviation and the half-width of a 95% interval (Student's t with n - 1 degrees of freedom);
    one value has neither (nan: printed as no spread, not as a spread of 0)."""
    from scipy.stats import t

    mean, n = statistics.fmean(values), len(values)
    std = statistics.stdev(values) if n > 1 else float("nan")
    return mean, std, (float(t.ppf(0.975, n - 1)) * std / math.sqrt(n) if n > 1 else float("nan"))


def log_interval(values: list[float]) -> tuple[float, float]:
    """A 95% interval of a positive quantity (FID) from seeds: Student's t on log values, back-transformed, so it is
    never below 0 and a collapsed seed widens it upwards (the geometric mean is at its centre)."""
    if len(values) < 2 or min(values) <= 0:
        return float("nan"), float("nan")
    logs = [math.log(v) for v in values]
    mean, _, half = _mean_std_ci(logs)
    return math.exp(mean - half), math.exp(mean + half)


def _csv_mean(run: Run, column: str) -> float | None:
    path = run.folder / "metrics.csv"
    if not path.is_file():
        return None
    with path.open(newline="") as f:
        values = [float(r[column]) for r in csv.DictReader(f) if r.get(column)]
    return statistics.fmean(values) if values else None


def _parameters(checkpoint: Path) -> tuple[int, int]:
    state = load_checkpoint(checkpoint).get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"'{checkpoint}' is not a gan_zoo checkpoint (no state dict of tensors): remove it from the "
                        "sweep or train the run again")
    count = lambda prefix: sum(v.numel() for k, v in state.items() if k.startswith(prefix) and v.is_floating_point())  # noqa: E731
    return count("generator."), count("discriminator.")


COLLAPSE_RATIO = 2.0  # a seed whose final FID is over twice its variant's median is flagged as collapsed


def collapsed(fids: list[float]) -> list[bool]:
    """Which seeds look collapsed: final FID above COLLAPSE_RATIO x the variant's median (needs 3 seeds or more:
    with two, neither is the odd one out). Flagged in the table, never dropped."""
    if len(fids) < 3:
        return [False] * len(fids)
    median = statistics.median(fids)
    return [f > COLLAPSE_RATIO * median for f in fids]


def copying_check(run: Run) -> dict | None:
    """The run's copying check, where it was made (gan-zoo-eval ckpt=<its last.ckpt> memorization=true writes
    <last.ckpt>.memorization.json); None otherwise or where the file is not one."""
    path = Path(f"{run.checkpoint}.memorization.json") if run.checkpoint is not None else None
    try:
        record = json.loads(path.read_text()) if path is not None and path.is_file() else None
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("copying_suspected"), bool) else None


def variant_label(variant: dict, differing: set) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(variant.items()) if k in differing) or "(all alike)"


def summarize(runs: list[Run]) -> list[dict]:
    """One row per variant over its finished runs, sorted by FID at the budget."""
    done = [r for r in runs if r.status == "done"]
    keys = {k for r in runs for k in variant(r)}
    differing = {k for k in keys if len({variant(r).get(k) for r in runs}) > 1}  # labels as in the whole sweep
    variants = {}
    for run in done:
        variants.setdefault(variant_label(variant(run), differing), []).append(run)
    rows = []
    for label, group in variants.items():
        final = [r.records[-1]["metrics"] for r in group]
        best = [min(rec["metrics"]["fid"] for rec in r.records) for r in group]
        fids = [m["fid"] for m in final]
        fid, fid_std, _ = _mean_std_ci(fids)
        low, high = log_interval(fids)
        row = {"variant": label, "seeds": len(group), "fid_median": statistics.median(fids), "fid_min": min(fids),
               "fid_max": max(fids), "fid_per_seed": fids, "collapsed": collapsed(fids), "fid": fid, "fid_std": fid_std,
               "fid_low95": low, "fid_high95": high, "best_fid_mean": statistics.fmean(best), "best_fid_min": min(best)}
        raw = [r.records[-1].get("metrics_raw", {}).get("fid") for r in group]
        if None not in raw:  # the raw generator evaluated beside the EMA one (metrics.evaluate.generators)
            row["fid_raw_median"] = statistics.median(raw)
        for name in TABLE_METRICS:
            if all(name in m for m in final):
                row[name], row[f"{name}_std"], _ = _mean_std_ci([m[name] for m in final])
        row["kimg"] = statistics.fmean(r.records[-1]["kimg"] for r in group)
        seconds = [r.records[-1].get("train_seconds") for r in group]
        row["minutes"] = statistics.fmean(seconds) / 60 if None not in seconds else None
        rates = [_csv_mean(r, "train/images_per_sec") for r in group]
        row["images_per_sec"] = statistics.fmean(rates) if None not in rates else None
        row["g_params"], row["d_params"] = _parameters(group[0].checkpoint)
        peaks = [r.records[-1].get("peak_memory_gib") for r in group]
        row["peak_memory_gib"] = max(peaks) if None not in peaks else None
        checks = [copying_check(r) for r in group]
        if None not in checks:  # every seed checked: how many were flagged, and the mean C_T (held-out images)
            c_t = [c.get("c_t") for c in checks]
            row["copying_flagged"] = sum(c["copying_suspected"] for c in checks)
            row["c_t"] = statistics.fmean(c_t) if None not in c_t else None
        row["runs"] = [str(r.folder) for r in group]
        rows.append(row)
    return sorted(rows, key=lambda r: r["fid_median"])


def _f(value, digits=2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _mean_pm(row: dict, name: str) -> str:
    """A metric's mean +- std over seeds; the mean alone where there is no spread (one seed); - where absent."""
    digits, std = METRICS[name].digits, row.get(f"{name}_std", math.nan)
    return "-" if name not in row else _f(row[name], digits) + ("" if math.isnan(std) else f" +- {_f(std, digits)}")


def markdown(rows: list[dict], protocol: dict, runs: list[Run]) -> str:
    extractor = protocol.get("extractor", "?")
    raw = any("fid_raw_median" in r for r in rows)
    copying = any("copying_flagged" in r for r in rows)
    lines = [f"Rows sorted by median FID at the budget; samples.png shows one row per variant in this order. "
             f"Metrics protocol: extractor `{extractor}` (weights sha256 {str(protocol.get('weights_sha256'))[:12]}), "
             f"{protocol.get('num_real')} real ({_real_set(protocol)}) / {protocol.get('num_fake')} generated "
             "images. FID at the budget of the EMA generator: median (range) and each seed's, a seed marked * looks "
             f"collapsed (over {COLLAPSE_RATIO:g}x the median; kept in every number); 95% interval: Student's t on log "
             "FID, so never below 0. Other metrics: mean +- std over seeds.", "",
             "| variant | seeds | FID at budget | per seed | 95% interval | " + ("FID raw G | " if raw else "")
             + "best FID mean / min | " + " | ".join(METRICS[m].label for m in TABLE_METRICS)
             + (" | copying: flagged, C_T" if copying else "") + " | kimg | minutes | img/s | G params | D params | "
             "peak GiB |", "|---" * (12 + raw + copying + len(TABLE_METRICS)) + "|"]
    for r in rows:
        interval = "-" if math.isnan(r["fid_low95"]) else f"{r['fid_low95']:.2f} .. {r['fid_high95']:.2f}"
        seeds = ", ".join(f"{f:.1f}{'*' if c else ''}" for f, c in zip(r["fid_per_seed"], r["collapsed"]))
        lines.append(
            f"| {r['variant']} | {r['seeds']} | {r['fid_median']:.2f} ({r['fid_min']:.2f} .. {r['fid_max']:.2f}) | "
            f"{seeds} | {interval} | " + (f"{_f(r.get('fid_raw_median'))} | " if raw else "")
            + f"{r['best_fid_mean']:.2f} / {r['best_fid_min']:.2f} | "
            + " | ".join(_mean_pm(r, m) for m in TABLE_METRICS) + " | " + (f"{_copying(r)} | " if copying else "")
            + f"{r['kimg']:.1f} | {_f(r['minutes'], 1)} | {_f(r['images_per_sec'], 1)} | "
            f"{r['g_params'] / 1e6:.2f} M | {r['d_params'] / 1e6:.2f} M | {_f(r['peak_memory_gib'])} |")
    others = [r for r in runs if r.status != "done"]
    if others:
        lines += ["", "Not in the table:"] + [f"- `{r.folder}`: {r.status}" for r in others]
    return "\n".join(lines) + "\n"


def _real_set(protocol: dict) -> str:
    """Where the real images came from: the training data's split, or the real set the runs named."""
    real = protocol.get("real_data")
    if not isinstance(real, dict):
        return str(protocol.get("real_split"))
    args = ", ".join(f"{k}={v}" for k, v in (real.get("args") or {}).items())
    return f"{str(real.get('dataset')).rsplit('.', 1)[-1]}({args}), not the training data"


def _copying(row: dict) -> str:
    """'1/3, C_T -0.4': seeds whose copying check flagged copying, and their mean C_T; - where not checked."""
    if "copying_flagged" not in row:
        return "-"
    return f"{row['copying_flagged']}/{row['seeds']}, C_T {_f(row['c_t'], 1)}"


def write_csv(rows: list[dict], path: Path) -> None:
    columns = [k for k in rows[0] if k != "runs"] + ["runs"] if rows else ["variant"]
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "runs": " ".join(row["runs"])})
    write_text(path, table.getvalue(), "comparison table")


def plot_fid(rows: list[dict], runs: list[Run], path: Path) -> None:
    from gan_zoo.runs.plots import plt

    by_folder = {str(r.folder): r for r in runs}
    fig, ax = plt.subplots(figsize=(6, 4))
    for row in rows:
        series = [[(rec["kimg"], rec["metrics"]["fid"]) for rec in by_folder[f].records] for f in row["runs"]]
        length = min(len(s) for s in series)
        kimg = [statistics.fmean(s[i][0] for s in series) for i in range(length)]
        fids = [[s[i][1] for s in series] for i in range(length)]
        mean = [statistics.fmean(v) for v in fids]
        spread = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in fids]
        label = textwrap.fill(f"{row['variant']} (n={row['seeds']})", 90, subsequent_indent="  ")
        ax.plot(kimg, mean, label=label)
        ax.fill_between(kimg, [m - s for m, s in zip(mean, spread)], [m + s for m, s in zip(mean, spread)], alpha=0.2)
    ax.set(xlabel="kimg", ylabel="FID (mean +- std over seeds)", yscale="log")
    ax.grid(alpha=0.3)
    # below the axes, labels wrapped: long command-line labels inside the axes covered the curves
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.15), frameon=False)
    try:
        save_figure(fig, path, "comparison plot", dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)


def sample_images(rows: list[dict], runs: list[Run], n: int = 8) -> list[torch.Tensor]:
    """n images of each variant's first run's final EMA generator, the same latent seed for every variant."""
    from gan_zoo import api

    by_folder = {str(r.folder): r for r in runs}
    return [api.generate_images(api.load_generator(ckpt=str(by_folder[row["runs"][0]].checkpoint)).generator, n, seed=0)
            for row in rows]


def sample_rows(images: list[torch.Tensor], path: Path, n: int = 8) -> None:
    from torchvision.utils import make_grid

    channels = max(x.shape[1] for x in images)
    grid = torch.cat([x.expand(-1, channels, -1, -1) for x in images])  # rows in the table's order
    if grid.shape[-1] < 64:  # small images: enlarge (nearest) so that a person can see them
        grid = torch.nn.functional.interpolate(grid, scale_factor=64 // grid.shape[-1], mode="nearest")
    save_png(make_grid(grid, nrow=n, normalize=True, value_range=(-1, 1)), path, "sample rows")


def compare(paths: list[str], out: str = "comparison", samples: bool = True, overwrite: bool = False) -> Path:
    """The comparison of the runs in `paths` written to the folder `out`; one there already is replaced only with
    `overwrite`."""
    out = cli.check_output(out, overwrite, "comparison.md")
    runs = [read_run(p) for p in find_runs(paths)]
    protocol = check_protocols(runs)
    rows = summarize(runs)
    images = sample_images(rows, runs) if samples and rows else None  # every checkpoint read before any writing
    write_text(out / "comparison.md", markdown(rows, protocol, runs), "comparison")
    write_csv(rows, out / "comparison.csv")
    if rows:
        plot_fid(rows, runs, out / "fid_vs_kimg.png")
    if images:
        sample_rows(images, out / "samples.png")
    return out


def _run(cfg) -> Path:
    runs = [str(r) for r in cfg.runs] if OmegaConf.is_list(cfg.runs) else [str(cfg.runs)]
    out = compare(runs, cfg.out, cfg.samples, cfg.overwrite)
    print((out / "comparison.md").read_text())
    written = ["comparison.md", "comparison.csv"] + [name for name, made in (
        ("fid_vs_kimg.png", (out / "fid_vs_kimg.png").is_file()), ("samples.png", cfg.samples)) if made]
    print(f"written to {out}/ ({', '.join(written)})", file=sys.stderr)
    return out


_command = cli.command("compare", _run)


def main(argv: list[str] | None = None) -> None:
    """The Hydra command; folders given alone (gan-zoo-compare <folder>... out=...) become runs=[...]."""
    args = list(sys.argv[1:] if argv is None else argv)
    folders = [a for a in args if not a.startswith("-") and ("=" not in a or Path(a).exists())]
    settings = [a for a in args if a not in folders]
    if folders:
        quoted = ",".join("'" + a.replace("\\", "\\\\").replace("'", "\\'") + "'" for a in folders)
        settings.append(f"runs=[{quoted}]")
    saved = sys.argv
    sys.argv = [saved[0], *settings]
    try:
        _command()
    finally:
        sys.argv = saved


if __name__ == "__main__":
    main()
