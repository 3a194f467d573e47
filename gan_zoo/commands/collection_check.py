"""`gan-zoo-eval images=FOLDER neighbours=true metrics=...`: before training on a small collection, its near-duplicate
pairs and its images with no similar neighbour (gan_zoo.metrics.collection, thresholds documented there), in the
features of the protocol named (or of a run's, with ckpt=). Writes <folder>.neighbours.json and a grid beside it
(<folder>.neighbours.png: each row a finding's image, then its nearest images in the folder) and says each finding
in one line on stderr."""
import json
import sys
from pathlib import Path

import torch
from torchvision.utils import make_grid, save_image

from gan_zoo.data.image_folder import read_images
from gan_zoo.errors import UserError
from gan_zoo.files import atomic_write, write_text
from gan_zoo.metrics.collection import collection_report
from gan_zoo.metrics.features import extract_features

SHOWN = 20  # findings said one line each on stderr (all are in the JSON)
ROWS = 16  # findings in the grid


def report_paths(folder: str, out: str | None) -> tuple[Path, Path]:
    """Where the report goes: out= (default <folder>.neighbours.json), and its grid beside it (.png)."""
    json_path = Path(out).expanduser() if out else Path(str(Path(folder).expanduser().resolve()) + ".neighbours.json")
    return json_path, json_path.with_suffix(".png")


def check_collection(folder: str, extractor, resolution: int, channels: int, out: str | None, device,
                     duplicate: float, outlier: float) -> dict:
    """The report of `folder` (read as the training data would be, at `resolution` and `channels`), written to `out`
    (default <folder>.neighbours.json) and its grid beside it."""
    images, files = read_images(folder, resolution, channels)
    if len(images) < 3:
        raise UserError(f"images='{folder}' holds {len(images)} readable images: a neighbour check needs 3 or more")
    features = extract_features(extractor, images, device=str(device))
    report = collection_report(features, duplicate, outlier)
    root = Path(folder).expanduser().resolve()
    name = [str(f.resolve().relative_to(root)) if f.resolve().is_relative_to(root) else str(f) for f in files]
    distances, indices = report["nearest"]
    result = {
        "images": str(root), "num_images": len(files), "features": extractor.name,
        "scale": report["scale"], "thresholds": report["thresholds"],
        "definition": "distances in the features' space, relative to the scale (the median distance of an image to "
                      "its nearest other image): near-duplicates at <= thresholds.duplicate, no similar neighbour at "
                      ">= thresholds.outlier (gan_zoo/metrics/collection.py)",
        "near_duplicates": [{"a": name[i], "b": name[j], "relative_distance": round(d, 4)}
                            for i, j, d in report["duplicates"]],
        "no_similar_neighbour": [{"image": name[i], "nearest": name[int(indices[i, 0])],
                                  "relative_distance": round(d, 4)} for i, d in report["outliers"]],
        "nearest": {name[i]: [{"image": name[int(j)], "relative_distance": round(float(d) / report["scale"], 4)}
                              for d, j in zip(distances[i], indices[i])] for i in range(len(files))},
    }
    lines = [f"near-duplicates: {p['a']} ~ {p['b']} ({p['relative_distance']:.2f} x the typical nearest distance)"
             for p in result["near_duplicates"]]
    lines += [f"no similar neighbour: {o['image']} (its nearest, {o['nearest']}, at {o['relative_distance']:.2f} x "
              "the typical nearest distance)" for o in result["no_similar_neighbour"]]
    json_path, grid_path = report_paths(folder, out)
    rows = [i for i, _, _ in report["duplicates"]] + [i for i, _ in report["outliers"]]
    result["grid"] = {"file": str(grid_path), "rows": [name[i] for i in rows[:ROWS]],
                      "row": "an image, then its nearest images in the folder"} if rows else None
    write_text(json_path, json.dumps(result, indent=2) + "\n", "neighbour report")
    if rows:
        grid = torch.cat([torch.stack([images[i], *(images[int(j)] for j in indices[i])]) for i in rows[:ROWS]])
        picture = make_grid(grid, nrow=1 + indices.shape[1], normalize=True, value_range=(-1, 1))
        atomic_write(grid_path, lambda f: save_image(picture, f, format="png"), "neighbour grid")
    for line in lines[:SHOWN]:
        print(f"gan-zoo: {line}", file=sys.stderr)
    if len(lines) > SHOWN:
        print(f"gan-zoo: ... and {len(lines) - SHOWN} more findings in {json_path}", file=sys.stderr)
    print(f"gan-zoo: {len(files)} images: {len(result['near_duplicates'])} near-duplicate pairs, "
          f"{len(result['no_similar_neighbour'])} without a similar neighbour; written to {json_path}"
          + (f" and {grid_path}" if rows else ""), file=sys.stderr)
    return result
