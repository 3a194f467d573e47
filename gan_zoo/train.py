"""Train a GAN: `gan-zoo-train [overrides]` or `python -m gan_zoo.train [overrides]`.

A straight line: data -> networks (sized by the data) -> GANModule -> callbacks, loggers, trainer -> fit.
"""
import logging
import sys
from pathlib import Path

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from gan_zoo.errors import UserError
from gan_zoo.run_dirs import resolve_run

log = logging.getLogger(__name__)

CONFIG_DIR = str(Path(__file__).resolve().parents[1] / "conf")  # the repository's conf/ (editable install)


def train(cfg: DictConfig) -> L.Trainer:
    paths = resolve_run(
        HydraConfig.get().runtime.output_dir, cfg.paths.experiments, cfg.paths.checkpoints, cfg.name, cfg.ckpt_path
    )
    with open_dict(cfg):
        cfg.paths.run_dir = str(paths.run_dir)
        cfg.paths.ckpt_dir = str(paths.ckpt_dir)
    L.seed_everything(cfg.seed, workers=True)

    datamodule = instantiate(cfg.data)
    sizes = dict(resolution=datamodule.resolution, channels=datamodule.channels)  # from the data, once
    module = instantiate(
        cfg.model.module,
        generator=instantiate(cfg.model.generator, **sizes),
        discriminator=instantiate(cfg.model.discriminator, **sizes),
        objective=instantiate(cfg.loss.objective),
        regularizers={name: instantiate(r) for name, r in (cfg.loss.regularizers or {}).items()},
    )
    callbacks = [instantiate(c) for c in (cfg.callbacks or {}).values()]
    loggers = [instantiate(lg) for lg in (cfg.logger or {}).values()]
    for logger in loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers)
    log.info(f"run folder: {paths.run_dir}  checkpoints: {paths.ckpt_dir}")
    trainer.fit(module, datamodule=datamodule, ckpt_path=paths.ckpt_path)
    return trainer


def _user_error(e: BaseException) -> UserError | None:
    """The UserError behind `e`, also when Hydra's instantiate wrapped it."""
    while e is not None:
        if isinstance(e, UserError):
            return e
        e = e.__cause__ or e.__context__
    return None


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> None:
    try:
        train(cfg)
    except Exception as e:
        if (user_error := _user_error(e)) is None:
            raise
        print("gan-zoo: error: " + " ".join(str(user_error).split()), file=sys.stderr)  # one line
        sys.exit(2)


if __name__ == "__main__":
    main()
