"""Train a GAN: `gan-zoo-train [overrides]` or `python -m gan_zoo.train [overrides]`.

A straight line: data -> networks (sized by the data) -> GANModule -> callbacks, loggers, trainer -> fit.
"""
import logging
import sys
from contextlib import contextmanager
from pathlib import Path

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from gan_zoo.callbacks import StoreConfig
from gan_zoo.checkpoints import AtomicCheckpointIO, architecture_differences, load_checkpoint, run_config
from gan_zoo.errors import UserError
from gan_zoo.resume import RNGState, SafeStop, StopTraining
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
    config = OmegaConf.to_container(cfg, resolve=True)
    if paths.ckpt_path is not None:  # the networks come from the checkpoint: today's config must agree
        stored = run_config(load_checkpoint(paths.ckpt_path), paths.ckpt_path)
        if differences := architecture_differences(stored, config):
            raise UserError(
                f"'{paths.ckpt_path}' was trained with other networks than this config builds: "
                + "; ".join(differences) + " (drop these overrides to resume, or start a fresh run)"
            )
        log.info(f"resuming from {paths.ckpt_path}")
    L.seed_everything(cfg.seed, workers=True)

    datamodule = instantiate(cfg.data)
    sizes = dict(resolution=datamodule.resolution, channels=datamodule.channels)  # from the data, once
    module = instantiate(
        cfg.model.module,
        generator=instantiate(cfg.model.generator, **sizes),
        discriminator=instantiate(cfg.model.discriminator, **sizes),
        objective=instantiate(cfg.loss.objective),
        regularizers={name: instantiate(r) for name, r in (cfg.loss.regularizers or {}).items()},
        g_regularizers={name: instantiate(r) for name, r in (cfg.loss.get("g_regularizers") or {}).items()},
        augment=instantiate(cfg.augment) if cfg.get("augment") else None,
    )
    trainer_overrides = {}
    if getattr(module.schedule, "batch_sizes", None):  # batch size per resolution: a new loader each epoch
        datamodule.batch_size_fn = lambda: module.schedule.batch_size(
            int(module.images_seen), len(datamodule.dataset), module.generator.max_level, datamodule.batch_size)
        trainer_overrides["reload_dataloaders_every_n_epochs"] = 1
    callbacks = [instantiate(c) for c in [*(cfg.callbacks or {}).values(), *(cfg.metrics or {}).values()]]
    callbacks += [StoreConfig(config), RNGState(), SafeStop(str(paths.ckpt_dir), cfg.trainer.max_time)]
    loggers = [instantiate(lg) for lg in (cfg.logger or {}).values()]
    for logger in loggers:
        logger.log_hyperparams(config)
    # max_time is SafeStop's (a resumable mid-epoch checkpoint), not Lightning's Timer (which ends the epoch early)
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers, max_time=None, plugins=[AtomicCheckpointIO()],
                          **trainer_overrides)
    log.info(f"run folder: {paths.run_dir}  checkpoints: {paths.ckpt_dir}")
    trainer.fit(module, datamodule=datamodule, ckpt_path=paths.ckpt_path)
    return trainer


@contextmanager
def report_user_error():
    """Turn a UserError (also one wrapped by Hydra's instantiate) into one line on stderr and exit 2."""
    try:
        yield
    except Exception as e:
        cause = e
        while cause is not None and not isinstance(cause, UserError):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            raise
        print("gan-zoo: error: " + " ".join(str(cause).split()), file=sys.stderr)
        sys.exit(2)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> None:
    with report_user_error():
        try:
            train(cfg)
        except StopTraining as stop:
            print(f"gan-zoo: {stop}", file=sys.stderr)
            sys.exit(stop.exit_code)


if __name__ == "__main__":
    main()
