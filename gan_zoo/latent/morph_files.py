"""Morphing from a start set of images to an end set (`morph`: project or read the sets, pair them, generate the
sets between them), and what a morph leaves in its folder: the generated set at each t (t_0.50/ ...), one strip per
pair (real start | generated at each t | real end), one GIF per pair, and the distances of each generated set to
the real sets (morph.csv, morph.json, morph.png)."""
import csv
import io
import json
from pathlib import Path

import torch
from torchvision.utils import make_grid

from gan_zoo.data.image_folder import read_images
from gan_zoo.errors import UserError
from gan_zoo.files import save_figure, save_png, write_text
from gan_zoo.latent.morphing import check_pairing, intermediates, pair
from gan_zoo.latent.projection_files import project_images
from gan_zoo.latent.spaces import check_space, load_latents
from gan_zoo.media import save_animation, save_folder
from gan_zoo.metrics.evaluator import set_distances
from gan_zoo.metrics.features import extract_features


def morph(generator, start: str, end: str, out: str, extractor, projector=None, middle: str | None = None,
          pairing: str = "nearest", t=(0.0, 0.25, 0.5, 0.75, 1.0), method: str = "slerp", media_pairs: int = 32,
          gif_frames: int = 24, source: str = "") -> dict:
    """Project a start and an end set (folders of images; or reuse their latents.pt), pair them, generate the sets
    between them at each of the fractions `t`, write them (folders per t, strips, GIFs) and the distances of each
    to the real sets in `extractor`'s features (the caller's choice: a run's metrics extractor, or pixels).
    Everything is checked before any work."""
    from gan_zoo.latent.projection import Projector

    projector = projector or Projector()
    check_space(generator, projector.space)
    ts = [float(x) for x in t]
    if not ts or any(not 0 <= x <= 1 for x in ts):
        raise UserError(f"t={list(t)}: give fractions between 0 and 1, e.g. [0,0.25,0.5,0.75,1]")
    check_pairing(pairing)
    if not isinstance(media_pairs, int) or isinstance(media_pairs, bool) or media_pairs < 0:
        raise UserError(f"media_pairs={media_pairs!r}: must be an integer >= 0")
    if not isinstance(gif_frames, int) or isinstance(gif_frames, bool) or gif_frames < 1:
        raise UserError(f"gif_frames={gif_frames!r}: must be an integer >= 1 (frames of each pair's GIF)")
    middle_images = read_images(middle, generator.resolution, generator.channels, key="middle")[0] if middle else None
    out = Path(out).expanduser()
    a, start_images, start_files = projected_set(generator, source, start, "start", out / "start", projector)
    b, end_images, end_files = projected_set(generator, source, end, "end", out / "end", projector)
    pairs = pair(pairing, a, b, start_files, end_files)
    images = intermediates(generator, a, b, pairs, ts, projector.space, method)
    shown = type(pairs)(pairs.start[:media_pairs], pairs.end[:media_pairs])
    frames = intermediates(generator, a, b, shown, torch.linspace(0, 1, gif_frames).tolist(), projector.space, method)
    real = {"start": start_images, "end": end_images} | ({"middle": middle_images} if middle_images is not None else {})
    return write_morph(out, ts, pairs, images, frames, real, extractor, start_files, end_files, media_pairs)


def projected_set(generator, source: str, given: str, key: str, out: Path, projector):
    """(latents, images, files) of a set given as a folder of images (projected now, written to `out`) or as a
    latents.pt of an earlier projection (its images read back from the files it lists)."""
    path = Path(given).expanduser()
    if path.is_file() and path.suffix == ".pt":
        record = load_latents(path, generator)
        if record["space"] != projector.space:
            raise UserError(f"{key}='{path}' holds latents in {record['space']}, not {projector.space}: set "
                            f"space={record['space']}")
        files = [Path(f).expanduser() for f in record["files"]]  # one image file per latent; nothing else is read
        if not files or len(files) != len(record["latents"]):
            raise UserError(f"{key}='{path}' lists {len(files)} image files for {len(record['latents'])} latents: "
                            "project a folder with gan-zoo-project")
        if missing := [f for f in files if not f.is_file()]:
            raise UserError(f"{key}='{path}' lists '{missing[0]}', which is not an image file ({len(missing)} such): "
                            "the images must stay where they were projected from; project them again")
        images = [read_images(str(f), generator.resolution, generator.channels,
                              key=f"{key} (listed in {path.name})")[0] for f in files]
        return record["latents"], torch.cat(images), record["files"]
    targets, files = read_images(given, generator.resolution, generator.channels, key=key)
    result = project_images(generator, targets, files, projector, out, source=source)
    return result.latents, targets, [str(f) for f in files]


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
