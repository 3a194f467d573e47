"""`gan-zoo-eval ckpt=PATH [metrics=inception ...] [memorization=true]`: FID / IS / KID and
precision / recall / density / coverage of a saved checkpoint's EMA generator, and optionally the
training-data copying check (`gan_zoo.metrics.memorization`).

The networks, data and (unless overridden) the metrics protocol come from the checkpoint's stored
config. Prints the result as JSON and writes it to `out` (default: <ckpt>.metrics.json); the copying check
writes <ckpt>.memorization.json and a grid, <ckpt>.memorization.png.
"""
import json
import sys
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torchvision.utils import make_grid, save_image

from gan_zoo import api
from gan_zoo.commands import cli
from gan_zoo.commands.config_checks import check_required
from gan_zoo.errors import UserError
from gan_zoo.files import write_text
from gan_zoo.metrics.memorization import copying_statistics
from gan_zoo.runs.checkpoints import epochs_of, kimg_of


def evaluate(cfg: DictConfig) -> dict:
    check_required(cfg)
    if cfg.memorization_space not in ("run", "pixels"):
        raise UserError(f"memorization_space={cfg.memorization_space!r}: choose run (the evaluation's extractor) or pixels")
    device = cli.pick_device(cfg.device)
    loaded = api.load_generator(ckpt=cfg.ckpt, device=device)
    checkpoint, generator = loaded.checkpoint, loaded.generator
    if cfg.get("metrics") is not None:  # a protocol chosen now, on the command line
        if "evaluate" not in cfg.metrics:
            raise UserError("metrics=none evaluates nothing: choose metrics=classifier or metrics=inception")
        evaluator = instantiate(cfg.metrics.evaluate.evaluator)
    else:  # the run's own, from its checkpoint
        evaluator = api.run_evaluator(loaded, cache_dir=cfg.paths.cache)
    datamodule = api.run_data(loaded)
    real = evaluator.real_features(datamodule.dataset, datamodule.identity(), device)
    features, logits = evaluator.fake_features(generator, generator.latent_dim, device)
    metrics = evaluator.compute(real, features, logits)
    if cfg.memorization:
        extractor = api.run_extractor(loaded, "pixels") if cfg.memorization_space == "pixels" else evaluator.extractor
        memorization_check(cfg, generator, datamodule, extractor, device)
    return {
        "checkpoint": str(Path(cfg.ckpt).expanduser().resolve()),
        "epoch": epochs_of(checkpoint)[0],
        "kimg": kimg_of(checkpoint),
        "metrics": {f"{k}_{evaluator.extractor.name}": v for k, v in metrics.items()},
        "protocol": evaluator.protocol(len(real)),
    }


def memorization_check(cfg: DictConfig, generator, datamodule, extractor, device) -> dict:
    """The copying check: numbers to <ckpt>.memorization.json, the generated images nearest to a training image
    beside their 3 nearest training images to <ckpt>.memorization.png."""
    generated = api.generate_images(generator, cfg.memorization_num, seed=cfg.memorization_seed)
    train = api.extract_features(extractor, datamodule.dataset, device=device)
    held_out = datamodule.holdout_dataset
    holdout = api.extract_features(extractor, held_out, device=device) if held_out is not None else None
    numbers, dist, idx = copying_statistics(train, api.extract_features(extractor, generated, device=device), holdout)
    numbers = {"checkpoint": str(Path(cfg.ckpt).expanduser().resolve()), "space": extractor.name, **numbers}
    order = dist[:, 0].argsort()[: cfg.memorization_rows]  # the generated images nearest to a training image
    rows = [torch.stack([generated[i], *(datamodule.dataset[int(j)][0] for j in idx[i])]) for i in order]
    base = str(Path(cfg.ckpt).expanduser())
    save_image(make_grid(torch.cat(rows), nrow=1 + idx.shape[1], normalize=True, value_range=(-1, 1)),
               base + ".memorization.png")
    write_text(base + ".memorization.json", json.dumps(numbers, indent=2) + "\n", "copying check")
    print(json.dumps(numbers, indent=2))
    print(f"copying check written to {base}.memorization.json and .png (rows: a generated image, then its 3 "
          "nearest training images)", file=sys.stderr)
    return numbers


def _run(cfg: DictConfig) -> dict:
    result = evaluate(cfg)
    out = Path(cfg.out) if cfg.out else Path(str(Path(cfg.ckpt).expanduser()) + ".metrics.json")
    write_text(out, json.dumps(result, indent=2) + "\n", "evaluation")
    print(json.dumps(result, indent=2))
    print(f"written to {out}", file=sys.stderr)
    return result


main = cli.command("eval", _run)


if __name__ == "__main__":
    main()
