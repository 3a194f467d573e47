"""`gan-zoo-eval ckpt=PATH [generator=raw] [metrics=inception ...] [memorization=true]`: FID / IS / KID and
precision / recall / density / coverage of a saved checkpoint's EMA generator (or its raw one), and optionally
the training-data copying check (`gan_zoo.metrics.memorization`).
`gan-zoo-eval images=FOLDER (ckpt=PATH | data=... metrics=...)`: the same metrics of a folder of images (another
tool's samples, a reference implementation's), under a run's protocol or a data set and protocol named here.
`gan-zoo-eval images=FOLDER neighbours=true metrics=...`: a collection's near-duplicates and images without a similar
neighbour, before training on it (gan_zoo.commands.collection_check).

The networks, data and (unless overridden) the metrics protocol come from the checkpoint's stored
config. Prints the result as JSON and writes it to `out` (default: <ckpt>.metrics.json, <folder>.metrics.json);
the copying check writes <ckpt>.memorization.json and a grid, <ckpt>.memorization.png.
"""
import json
import os
import sys
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torchvision.utils import make_grid

from gan_zoo import api
from gan_zoo.commands import cli
from gan_zoo.commands.collection_check import check_collection, report_paths
from gan_zoo.commands.config_checks import check_required, check_values, whole
from gan_zoo.data.image_folder import ImageFolder
from gan_zoo.errors import UserError
from gan_zoo.files import save_png, write_text
from gan_zoo.metrics.features import extract_features
from gan_zoo.metrics.memorization import copying_statistics
from gan_zoo.runs.checkpoints import epochs_of, kimg_of


def evaluate(cfg: DictConfig) -> dict:
    check_required(cfg)
    _check(cfg)
    device = cfg.device
    loaded = api.load_generator(ckpt=cfg.ckpt, pretrained=cfg.get("pretrained"), device=device, which=cfg.generator) \
        if cfg.ckpt or cfg.get("pretrained") else None
    _check_outputs(cfg, loaded)  # before any work
    if loaded is not None and loaded.checkpoint is not None and not cfg.images:  # (a damaged file is told before the work)
        epoch, kimg = epochs_of(loaded.checkpoint, cfg.ckpt)[0], kimg_of(loaded.checkpoint, cfg.ckpt)
    if cfg.get("metrics") is not None:  # a protocol chosen now, on the command line
        if "evaluate" not in cfg.metrics:
            raise UserError("metrics=none evaluates nothing: choose metrics=classifier or metrics=inception")
        evaluator = instantiate(cfg.metrics.evaluate.evaluator)
    else:  # the run's own, from its checkpoint
        evaluator = api.run_evaluator(loaded, cache_dir=cfg.paths.cache)
    datamodule = instantiate(cfg.data) if cfg.get("data") is not None else api.run_data(loaded)
    # the folder's files are checked before the real features are computed (and cached)
    images = ImageFolder(cfg.images, datamodule.resolution, datamodule.channels, cache_mib=0) if cfg.images else None
    # the run's own real set where it scored against images it did not train on (unless data= is given here)
    real_data = api.run_real_data(loaded) if loaded is not None and cfg.get("data") is None else None
    reals = real_data if real_data is not None else datamodule
    real = evaluator.real_features(reals.dataset, reals.identity(), device)
    if cfg.images:
        features, logits, scored = folder_features(images, evaluator, device)
    else:
        features, logits = evaluator.fake_features(loaded.generator, device)
        scored = {"checkpoint": str(Path(cfg.ckpt).expanduser().resolve()), "generator": cfg.generator,
                  "epoch": epoch, "kimg": kimg} if loaded.checkpoint is not None else {"pretrained": loaded.source}
    metrics = evaluator.compute(real, features, logits)
    if cfg.memorization:
        extractor = api.run_extractor(loaded, "pixels") if cfg.memorization_space == "pixels" else evaluator.extractor
        held_out = datamodule.holdout_dataset if real_data is None else real_data.dataset
        memorization_check(cfg, loaded.generator, datamodule, extractor, device, held_out)
    protocol = evaluator.protocol(len(real)) | {"num_fake": len(features),
                                                "real_data": real_data.identity() if real_data is not None else None}
    return {**scored, "metrics": {f"{k}_{evaluator.extractor.name}": v for k, v in metrics.items()},
            "protocol": protocol}


RULES = {  # setting -> (is the value good?, what a good value looks like)
    "memorization_num": (whole(1), "a whole number of generated images >= 1, e.g. 1000"),
    "memorization_rows": (whole(1), "a whole number of rows >= 1"),
}


def _check(cfg: DictConfig) -> None:
    check_values(cfg, RULES)
    if cfg.memorization_space not in ("run", "pixels"):
        raise UserError(f"memorization_space={cfg.memorization_space!r}: choose run (the evaluation's extractor) or "
                        "pixels")
    if cfg.generator not in ("ema", "raw"):
        raise UserError(f"generator={cfg.generator!r}: choose ema (the averaged generator) or raw (the trained one)")
    imported = cfg.get("pretrained") or str(cfg.ckpt or "").endswith(".pkl")  # no run config: no data, no protocol
    if imported and (cfg.get("data") is None or cfg.get("metrics") is None or cfg.memorization):
        raise UserError("an imported generator has no run (data, metrics protocol): add data=<dataset> and "
                        "metrics=<protocol> (e.g. metrics=inception), without memorization=true")
    if not cfg.ckpt and not cfg.images and not cfg.get("pretrained"):
        raise UserError("ckpt is required and was not given: add ckpt=checkpoints/<name>/<run>/last.ckpt to the "
                        "command (or images=<folder> to score a folder of images)")
    if cfg.images and cfg.memorization:
        raise UserError("memorization=true checks a checkpoint's generator: drop images= (or memorization=true)")
    if not cfg.ckpt and (cfg.get("data") is None or cfg.get("metrics") is None):
        raise UserError("images= without ckpt= needs the real data and the protocol: add data=<dataset> (e.g. "
                        "data=embedded) and metrics=<protocol> (e.g. metrics=classifier), or ckpt=<a run's checkpoint> "
                        "to use that run's")


def outputs(cfg: DictConfig) -> tuple[Path, list[Path]]:
    """Where the command writes: the result (out=, or <ckpt | images folder>.metrics.json) and the copying check's
    files (with memorization=true)."""
    source = Path(cfg.images).expanduser().resolve() if cfg.images else Path(cfg.ckpt or "").expanduser()
    if cfg.get("pretrained") and not cfg.images:  # beside its file, or (a name) here
        name = cfg.pretrained.partition(":")[2]
        source = Path(name).expanduser() if Path(name).expanduser().is_file() else Path(name.rsplit("/", 1)[-1])
    result = Path(cfg.out).expanduser() if cfg.out else Path(str(source) + ".metrics.json")
    base = str(Path(cfg.ckpt).expanduser()) if cfg.ckpt else ""
    return result, [Path(base + ".memorization.json"), Path(base + ".memorization.png")] if cfg.memorization else []


def _check_outputs(cfg: DictConfig, loaded) -> None:
    """An earlier result is replaced only with overwrite=true; out= is not written into another run's folder."""
    result, copying = outputs(cfg)
    if cfg.out:
        cli.check_output(result, cfg.overwrite, own=loaded.folders if loaded is not None else ())
    for path in [result, *copying]:
        if os.path.lexists(path) and not cfg.overwrite:
            raise UserError(f"'{path}' already exists (an earlier evaluation): add overwrite=true to replace it"
                            + ("" if path in copying else ", or choose another out="))


def folder_features(images: ImageFolder, evaluator, device) -> tuple:
    """(features, logits, what was scored) of the images of a folder, read as the training data is (resized and
    center-cropped to its resolution, its channels), then quantized like generated images: `num_fake` of them,
    a subset drawn with the protocol's seed when the folder has more."""
    folder = images.root
    chosen = torch.randperm(len(images), generator=torch.Generator().manual_seed(evaluator.seed))[: evaluator.num_fake]
    if len(chosen) < evaluator.num_fake:
        print(f"gan-zoo: warning: '{folder}' has {len(images)} images, fewer than the protocol's num_fake="
              f"{evaluator.num_fake}: all are scored (FID is biased upwards at smaller N; compare at equal N)",
              file=sys.stderr)
    features, logits = evaluator.dataset_features(images, chosen.sort().values, device)
    return features, logits, {"images": str(folder.resolve()), "num_images": len(images)}


def memorization_check(cfg: DictConfig, generator, datamodule, extractor, device, held_out=None) -> dict:
    """The copying check: numbers to <ckpt>.memorization.json, the generated images nearest to a training image
    beside their 3 nearest training images to <ckpt>.memorization.png. `held_out`: real images never trained on
    (data.holdout's, or the run's real set), for C_T."""
    generated = api.generate_images(generator, cfg.memorization_num, seed=cfg.memorization_seed)
    train = extract_features(extractor, datamodule.dataset, device=device)
    holdout = extract_features(extractor, held_out, device=device) if held_out is not None else None
    numbers, dist, idx = copying_statistics(train, extract_features(extractor, generated, device=device), holdout)
    numbers = {"checkpoint": str(Path(cfg.ckpt).expanduser().resolve()), "space": extractor.name, **numbers}
    order = dist[:, 0].argsort()[: cfg.memorization_rows]  # the generated images nearest to a training image
    rows = [torch.stack([generated[i], *(datamodule.dataset[int(j)][0] for j in idx[i])]) for i in order]
    numbers_path, grid_path = outputs(cfg)[1]
    save_png(make_grid(torch.cat(rows), nrow=1 + idx.shape[1], normalize=True, value_range=(-1, 1)), grid_path,
             "copying check grid")
    write_text(numbers_path, json.dumps(numbers, indent=2) + "\n", "copying check")
    print(json.dumps(numbers, indent=2))
    print(f"copying check written to {numbers_path} and {grid_path.name} (rows: a generated image, then its 3 "
          "nearest training images)", file=sys.stderr)
    return numbers


def neighbours(cfg: DictConfig) -> dict:
    """The neighbour check of a folder (gan_zoo.commands.collection_check) in the features of metrics= or of the
    run of ckpt=, the images read at data='s size, the run's, or neighbours_resolution (RGB)."""
    if not cfg.images:
        raise UserError("neighbours=true checks a folder of images: add images=<folder>")
    if cfg.memorization:
        raise UserError("neighbours=true checks a folder, memorization=true a generator: give one of them")
    for path in report_paths(cfg.images, cfg.out):  # an earlier report is kept unless overwrite=true
        if os.path.lexists(path) and not cfg.overwrite:
            raise UserError(f"'{path}' already exists (an earlier neighbour check): add overwrite=true to replace it, "
                            "or choose another out=")
    loaded = api.load_generator(ckpt=cfg.ckpt, device="cpu") if cfg.ckpt else None
    if cfg.get("metrics") is not None and "evaluate" in cfg.metrics:
        extractor = instantiate(cfg.metrics.evaluate.evaluator.extractor).eval()
    elif loaded is not None:
        extractor = api.run_extractor(loaded)
    else:
        raise UserError("neighbours=true needs features to measure with: add metrics=inception (metrics=classifier for "
                        "Fashion-MNIST-like images), or ckpt=<a run's checkpoint> for its protocol's")
    data = cfg.get("data") or ((loaded.run or {}).get("data") if loaded is not None else None)
    resolution, channels = (data["resolution"], data["channels"]) if data else (cfg.neighbours_resolution, 3)
    return check_collection(cfg.images, extractor.to(cfg.device), resolution, channels, cfg.out, cfg.device,
                            cfg.neighbours_duplicate, cfg.neighbours_outlier)


def _run(cfg: DictConfig) -> dict:
    if cfg.neighbours:
        return neighbours(cfg)
    result = evaluate(cfg)
    out = outputs(cfg)[0]
    write_text(out, json.dumps(result, indent=2) + "\n", "evaluation")
    print(json.dumps(result, indent=2))
    print(f"written to {out}", file=sys.stderr)
    return result


main = cli.command("eval", _run)


if __name__ == "__main__":
    main()
