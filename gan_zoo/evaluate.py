"""`gan-zoo-eval ckpt=PATH [metrics=inception ...]`: FID / IS / KID of a saved checkpoint's EMA generator.

The networks, data and (unless overridden) the metrics protocol come from the checkpoint's stored
config. Prints the result as JSON and writes it to `out` (default: <ckpt>.metrics.json).
"""
import json
import sys
from pathlib import Path

import hydra
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from gan_zoo.checkpoints import ema_generator, load_checkpoint, run_config
from gan_zoo.config_checks import check_required
from gan_zoo.errors import UserError
from gan_zoo import cli
from gan_zoo.cli import CONFIG_DIR, report_user_error


def evaluate(cfg: DictConfig) -> dict:
    check_required(cfg)
    checkpoint = load_checkpoint(cfg.ckpt)
    run = OmegaConf.create(run_config(checkpoint, cfg.ckpt))
    if cfg.get("metrics"):  # a protocol chosen now, resolved against the run's data and paths
        run.metrics = OmegaConf.create(OmegaConf.to_container(cfg.metrics, resolve=False))
    if not run.get("metrics") or "evaluate" not in run.metrics:
        raise UserError("the checkpoint's run had no metrics: choose them, e.g. metrics=classifier or metrics=inception")
    device = torch.device(cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))

    datamodule = instantiate(run.data)
    generator = ema_generator(checkpoint, cfg.ckpt).to(device)

    evaluator = instantiate(run.metrics.evaluate.evaluator)
    real = evaluator.real_features(datamodule.dataset, datamodule.identity(), device)
    features, logits = evaluator.fake_features(generator, generator.latent_dim, device)
    metrics = evaluator.compute(real, features, logits)
    return {
        "checkpoint": str(Path(cfg.ckpt).expanduser().resolve()),
        "epoch": checkpoint.get("epoch"),
        "kimg": int(checkpoint["state_dict"]["images_seen"]) / 1000,
        "metrics": {f"{k}_{evaluator.extractor.name}": v for k, v in metrics.items()},
        "protocol": evaluator.protocol(len(real)),
    }


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def _main(cfg: DictConfig) -> None:
    with report_user_error():
        result = evaluate(cfg)
        out = Path(cfg.out) if cfg.out else Path(str(Path(cfg.ckpt).expanduser()) + ".metrics.json")
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        print(f"written to {out}", file=sys.stderr)


def main() -> None:
    cli.run(_main)


if __name__ == "__main__":
    main()
