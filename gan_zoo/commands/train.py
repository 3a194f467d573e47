"""Train a GAN: `gan-zoo-train [overrides]` or `python -m gan_zoo.commands.train [overrides]`.

A straight line: data -> networks (sized by the data) -> GANModule -> callbacks, loggers, trainer -> fit.
"""
import logging
import sys
from pathlib import Path

import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from omegaconf import DictConfig, OmegaConf, open_dict

from gan_zoo.commands import cli
from gan_zoo.commands.cli import CONFIG_DIR
from gan_zoo.commands.config_checks import auto_precision, check_train_config, precision_advice, unread_additions
from gan_zoo.errors import UserError
from gan_zoo.runs.callbacks import LogEveryEpoch, StoreConfig
from gan_zoo.runs.checkpoints import (
    AtomicCheckpointIO,
    architecture_differences,
    epochs_of,
    kimg_of,
    load_checkpoint,
    remove_stale_temporaries,
    run_config,
)
from gan_zoo.runs.ddp_sweeps import workers_join_this_job
from gan_zoo.runs.folders import resolve_run
from gan_zoo.runs.launch import discard_launch
from gan_zoo.runs.lock import RunLock
from gan_zoo.runs.loggers import finish as finish_loggers
from gan_zoo.runs.resume import KimgBudget, RNGState, SafeStop, StopTraining
from gan_zoo.runs.run import best_fid, continue_command, is_finished, run_summary

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> L.Trainer:
    _move_old_budget_keys(cfg)
    check_train_config(cfg)
    for warning in [precision_advice(cfg), *unread_additions(cfg, HydraConfig.get().overrides.task, _top_level())]:
        if warning:
            log.warning(warning)
    launch_dir = Path(HydraConfig.get().runtime.output_dir)
    if cfg.get("ckpt_path") is not None:  # the old name
        log.warning("ckpt_path= is now ckpt= (one name in every command); ckpt_path= still works for now")
    resume = cfg.get("ckpt") or cfg.get("ckpt_path")
    paths = resolve_run(str(launch_dir), cfg.paths.experiments, cfg.paths.checkpoints, cfg.name, resume,
                        worker=rank_zero_only.rank != 0)
    # One writer per run; the other processes of a DDP run are that writer's helpers.
    lock = RunLock(paths.ckpt_dir).acquire() if rank_zero_only.rank == 0 else None
    started = False
    try:
        if lock is not None:
            remove_stale_temporaries(paths.ckpt_dir)
        trainer, fit = _build(cfg, paths)
        if paths.run_dir.resolve() != launch_dir.resolve():  # a resume logs into its run's own folder
            discard_launch(launch_dir)
        started = True
        try:
            with workers_join_this_job():  # in a -m sweep, DDP workers run this job, not a sweep of their own
                fit()
        finally:
            finish_loggers(trainer.loggers)
        if rank_zero_only.rank == 0:
            print(_summary(cfg, trainer, paths))
        return trainer
    finally:
        if lock is not None:
            lock.release(remove_folders=not started and paths.ckpt_path is None)


def _move_old_budget_keys(cfg: DictConfig) -> None:
    """trainer.max_kimg / trainer.max_time (the old names) into the budget section, with a deprecation line."""
    with open_dict(cfg):
        for key in ("max_kimg", "max_time"):
            old = cfg.trainer.pop(key, None)
            if old is not None:
                log.warning(f"trainer.{key} is now budget.{key}; trainer.{key}= still works for now")
                cfg.budget[key] = old


def _top_level() -> set[str]:
    """The root config's own keys and groups (train.yaml): what a `+key` may extend."""
    root = OmegaConf.load(Path(CONFIG_DIR) / "train.yaml")
    groups = {next(iter(d)).split("@")[0].lstrip("/") for d in root.defaults if isinstance(d, DictConfig)}
    return {str(k) for k in root if k != "defaults"} | groups


def _build(cfg: DictConfig, paths):
    """The trainer and a function that fits it: data, networks (sized by the data), module, callbacks, loggers."""
    with open_dict(cfg):
        cfg.paths.run_dir = str(paths.run_dir)
        cfg.paths.ckpt_dir = str(paths.ckpt_dir)
        if cfg.trainer.get("precision") == "auto":  # the run's config records what ran
            cfg.trainer.precision = auto_precision(cfg.trainer.accelerator)
            log.info(f"trainer.precision=auto: {cfg.trainer.precision} on this machine")
    config = OmegaConf.to_container(cfg, resolve=True)
    if paths.ckpt_path is not None:  # the networks come from the checkpoint: today's config must agree
        checkpoint = load_checkpoint(paths.ckpt_path)
        if differences := architecture_differences(run_config(checkpoint, paths.ckpt_path), config):
            raise UserError(f"'{paths.ckpt_path}' was trained with other networks than this config builds: "
                            + "; ".join(differences) + " (drop these overrides to resume, or start a fresh run)")
        completed, kimg = epochs_of(checkpoint)[1], kimg_of(checkpoint)
        max_epochs, max_kimg = cfg.trainer.max_epochs, cfg.budget.max_kimg
        if is_finished(completed, kimg, max_epochs, max_kimg):
            raise UserError(f"the run of '{paths.ckpt_path}' is finished: it has seen {kimg:g} kimg and "
                            f"budget.max_kimg={max_kimg}; raise it to continue (e.g. budget.max_kimg={2 * max_kimg:g})"
                            if max_kimg else
                            f"the run of '{paths.ckpt_path}' is finished: it trained {completed} epochs and "
                            f"trainer.max_epochs={max_epochs}; raise it to continue (e.g. trainer.max_epochs={2 * completed})")
        log.info(f"resuming from {paths.ckpt_path}")
    L.seed_everything(cfg.seed, workers=True, verbose=False)

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
    trainer_cfg, compile_networks = lightning_trainer_config(cfg)
    if compile_networks:  # in place: the state dicts (so checkpoints) keep their keys
        module.generator.compile()
        module.discriminator.compile()
    trainer_overrides = {}
    if getattr(module.schedule, "batch_sizes", None):  # batch size per resolution: a new loader each epoch
        datamodule.batch_size_fn = lambda: module.schedule.batch_size(
            int(module.images_seen), len(datamodule.dataset), module.generator.max_level, datamodule.batch_size)
        trainer_overrides["reload_dataloaders_every_n_epochs"] = 1
    # metrics first: the progress bar, the plots and the best checkpoint then see this epoch's evaluation
    callbacks = [instantiate(c) for c in [*(cfg.get("metrics") or {}).values(), *(cfg.get("callbacks") or {}).values()]]
    callbacks += [StoreConfig(config), RNGState(), SafeStop(str(paths.ckpt_dir), cfg.budget.max_time), LogEveryEpoch()]
    if cfg.budget.max_kimg:
        callbacks.append(KimgBudget(cfg.budget.max_kimg))
    loggers = [instantiate(lg) for lg in (cfg.get("logger") or {}).values()]
    for logger in loggers:
        logger.log_hyperparams(config)
    # budget.max_time is SafeStop's (a resumable mid-epoch checkpoint), not Lightning's Timer (ends the epoch early)
    # use_distributed_sampler=False: the data module's sampler shards itself (exact mid-epoch resume under DDP)
    trainer = instantiate(trainer_cfg, callbacks=callbacks, logger=loggers, max_time=None, plugins=[AtomicCheckpointIO()],
                          use_distributed_sampler=False, **trainer_overrides)
    log.info(f"run folder: {paths.run_dir}  checkpoints: {paths.ckpt_dir}")
    return trainer, lambda: trainer.fit(module, datamodule=datamodule, ckpt_path=paths.ckpt_path, weights_only=True)


def lightning_trainer_config(cfg: DictConfig) -> tuple[dict, bool]:
    """The `trainer` group as Lightning's Trainer takes it, and gan_zoo's own key in it: compile (torch.compile the
    generator and discriminator)."""
    trainer_cfg = OmegaConf.to_container(cfg.trainer, resolve=True)
    for old in ("max_kimg", "max_time"):  # moved to budget (train() moves what a user set)
        trainer_cfg.pop(old, None)
    return trainer_cfg, bool(trainer_cfg.pop("compile", False))


def _summary(cfg: DictConfig, trainer: L.Trainer, paths) -> str:
    best = next((c.best_model_path for c in trainer.checkpoint_callbacks
                 if str(c.monitor).startswith("metrics/") and c.best_model_path), None)
    module = trainer.lightning_module
    command = continue_command(list(HydraConfig.get().overrides.task), cfg.trainer.max_epochs, cfg.budget.max_kimg)
    return run_summary(paths.run_dir, best, trainer.current_epoch, int(module.images_seen) / 1000, command)


def _run(cfg: DictConfig) -> float | None:
    """Returns the run's best FID: Hydra's optimising sweepers (Optuna, Ax, Nevergrad) minimise it."""
    try:
        trainer = train(cfg)
        return best_fid(Path(trainer.default_root_dir)) if trainer.is_global_zero else None
    except StopTraining as stop:
        if rank_zero_only.rank == 0:
            print(f"gan-zoo: {stop}", file=sys.stderr)
        sys.exit(stop.exit_code)


# a failed start leaves nothing it made (and everything that was there before)
main = cli.command("train", _run, on_error=lambda: discard_launch(HydraConfig.get().runtime.output_dir))


if __name__ == "__main__":
    main()
