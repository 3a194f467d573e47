"""What a morph leaves in its folder: the generated set at each t (t_0.50/ ...), one strip per pair (real start |
generated at each t | real end), one GIF per pair, and the distances of each generated set to the real sets
(morph.csv, morph.json, morph.png)."""
import csv
import io
import json
from pathlib import Path

import torch
from torchvision.utils import make_grid

from gan_zoo.files import save_figure, save_png, write_text
from gan_zoo.media import save_animation, save_folder
from gan_zoo.metrics.features import extract_features, set_distances


def write_morph(out: Path, ts: list, pairs, images: torch.Tensor, frames: torch.Tensor, real: dict, extractor,
                start_files: list, end_files: list, media_pairs: int) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    for k, t in enumerate(ts):
        save_folder(images[:, k], out / f"t_{t:.2f}")
    for p in range(min(media_pairs, len(pairs.start))):
        strip = torch.cat([real["start"][pairs.start[p]][None], images[p], real["end"][pairs.end[p]][None]])
        save_png(make_grid(strip, nrow=len(strip), normalize=True, value_range=(-1, 1)),
                 out / "strips" / f"pair_{p:04d}.png", "morph strip")
        save_animation(frames[p : p + 1], out / "gifs" / f"pair_{p:04d}.gif", "gif", fps=12)

    reference = {name: extract_features(extractor, x) for name, x in real.items()}
    rows = []
    for k, t in enumerate(ts):
        generated = extract_features(extractor, images[:, k])
        for name, features in reference.items():
            rows.append({"set": "generated", "t": t, "reference": name, **set_distances(generated, features)})
    if "middle" in reference:
        for name in ("start", "end"):
            rows.append({"set": name, "t": None, "reference": "middle",
                         **set_distances(reference[name], reference["middle"])})
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=["set", "t", "reference", "fid", "kid"])
    writer.writeheader()
    writer.writerows({**r, "t": "" if r["t"] is None else r["t"]} for r in rows)
    write_text(out / "morph.csv", table.getvalue(), "morph table")
    summary = {"t": ts, "pairs": [[str(start_files[i]), str(end_files[j])] for i, j in zip(pairs.start, pairs.end)],
               "features": getattr(extractor, "name", type(extractor).__name__),
               "sizes": {name: len(x) for name, x in real.items()} | {"generated_per_t": len(images)},
               "distances": rows}
    write_text(out / "morph.json", json.dumps(summary, indent=2), "morph summary")
    _plot(out / "morph.png", rows, summary["features"])
    return summary


def _plot(path: Path, rows: list, features: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for reference, style in (("middle", "-o"), ("start", "--s"), ("end", "--^")):
        points = [(r["t"], r["fid"]) for r in rows if r["set"] == "generated" and r["reference"] == reference]
        if points:
            ax.plot(*zip(*points), style, label=f"generated vs real {reference}")
    for r in rows:
        if r["set"] != "generated":
            ax.axhline(r["fid"], color="gray", linestyle=":", linewidth=1)
            ax.annotate(f"real {r['set']} vs middle", (0.5, r["fid"]), fontsize=7, color="gray", ha="center",
                        va="bottom")
    ax.set_xlabel("t (0 = start set, 1 = end set)")
    ax.set_ylabel(f"FID ({features} features)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        save_figure(fig, path, "morph plot", dpi=120)
    finally:
        plt.close(fig)
