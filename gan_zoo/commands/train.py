"""Train a GAN: `gan-zoo-train [overrides]` or `python -m gan_zoo.commands.train [overrides]`.

A straight line: data -> networks (sized by the data) -> GANModule -> callbacks, loggers, trainer -> fit.
"""
import logging
import sys
from pathlib import Path

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from omegaconf import DictConfig, OmegaConf, open_dict

from gan_zoo.commands import cli
from gan_zoo.commands.cli import CONFIG_DIR
from gan_zoo.commands.config_checks import (
    auto_precision,
    check_train_config,
    precision_advice,
    takes_argument,
    unread_additions,
)
from gan_zoo.commands.init_settings import keep_on_resume, start_from_source
from gan_zoo.commands.init_weights import take_weights
from gan_zoo.commands.resume_settings import take_stored_config
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
from gan_zoo.runs.run import best_fid, budget_past, continue_command, is_finished, run_summary

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> L.Trainer:
    cli.settle(cfg, "train")  # (a no-op after cli.command's; here for notebooks and tests that call train(cfg))
    _drop_metrics_settings_without_metrics(cfg)
    check_train_config(cfg)
    if cfg.trainer.get("threads"):  # before any work: a process's CPU threads are set once
        torch.set_num_threads(cfg.trainer.threads)
    for warning in [precision_advice(cfg), *unread_additions(cfg, HydraConfig.get().overrides.task, _top_level())]:
        if warning:
            log.warning(warning)
    plan = start_from_source(cfg)  # init=: the source read once, its architecture in cfg (before any folder)
    launch_dir = Path(HydraConfig.get().runtime.output_dir)
    resume = cfg.get("ckpt")
    paths = resolve_run(str(launch_dir), cfg.paths.experiments, cfg.paths.checkpoints, cfg.name, resume,
                        worker=rank_zero_only.rank != 0)
    # One writer per run; the other processes of a DDP run are that writer's helpers.
    lock = RunLock(paths.ckpt_dir).acquire() if rank_zero_only.rank == 0 else None
    started = False
    try:
        if lock is not None:
            remove_stale_temporaries(paths.ckpt_dir)
        trainer, fit = _build(cfg, paths, plan)
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


def _drop_metrics_settings_without_metrics(cfg: DictConfig) -> None:
    """metrics=none with an experiment that sets metrics.* (its evaluation schedule, N): those settings are left
    without a _target_ to build; nothing evaluates, and they are dropped."""
    orphans = [key for key, node in (cfg.get("metrics") or {}).items()
               if isinstance(node, DictConfig) and "_target_" not in node]
    if orphans:
        log.info(f"metrics=none: no evaluation; the settings given for it ({', '.join('metrics.' + k for k in orphans)}) "
                 "are not used")
        with open_dict(cfg):
            for key in orphans:
                del cfg.metrics[key]


def _top_level() -> set[str]:
    """The root config's own keys and groups (train.yaml): what a `+key` may extend."""
    root = OmegaConf.load(Path(CONFIG_DIR) / "train.yaml")
    groups = {next(iter(d)).split("@")[0].lstrip("/") for d in root.defaults if isinstance(d, DictConfig)}
    return {str(k) for k in root if k != "defaults"} | groups


def _build(cfg: DictConfig, paths, plan=None):
    """The trainer and a function that fits it: data, networks (sized by the data), module (its first weights from
    init='s source, by `plan`), callbacks, loggers."""
    with open_dict(cfg):
        cfg.paths.run_dir = str(paths.run_dir)
        cfg.paths.ckpt_dir = str(paths.ckpt_dir)
        if cfg.trainer.get("precision") == "auto":  # the run's config records what ran
            cfg.trainer.precision = auto_precision(cfg.trainer.accelerator)
            log.info(f"trainer.precision=auto: {cfg.trainer.precision} on this machine")
    if paths.ckpt_path is not None:  # what shaped the run comes from its checkpoint, unless given here
        checkpoint = load_checkpoint(paths.ckpt_path)
        keep_on_resume(cfg, run_config(checkpoint, paths.ckpt_path), paths.ckpt_path)  # a fine-tuned run's
        take_stored_config(cfg, run_config(checkpoint, paths.ckpt_path), paths.ckpt_path,
                           kimg_of(checkpoint, paths.ckpt_path))
    config = OmegaConf.to_container(cfg, resolve=True)
    if paths.ckpt_path is not None:  # the networks come from the checkpoint: today's config must agree
        if differences := architecture_differences(run_config(checkpoint, paths.ckpt_path), config):
            raise UserError(f"'{paths.ckpt_path}' was trained with other networks than this config builds: "
                            + "; ".join(differences) + " (drop these overrides to resume, or start a fresh run)")
        completed, kimg = epochs_of(checkpoint, paths.ckpt_path)[1], kimg_of(checkpoint, paths.ckpt_path)
        max_epochs, max_kimg = cfg.trainer.max_epochs, cfg.budget.max_kimg
        if is_finished(completed, kimg, max_epochs, max_kimg):
            seen = (f"it has seen {kimg:g} kimg and budget.max_kimg={max_kimg:g}" if max_kimg else
                    f"it trained {completed} epochs and trainer.max_epochs={max_epochs}")
            command = _continue_command(paths.ckpt_path, budget_past(kimg, completed, max_epochs, max_kimg))
            raise UserError(f"the run of '{paths.ckpt_path}' is finished: {seen}; raise it to continue: {command}")
        log.info(f"resuming from {paths.ckpt_path}")
    L.seed_everything(cfg.seed, workers=True, verbose=False)

    datamodule = instantiate(cfg.data)
    sizes = dict(resolution=datamodule.resolution, channels=datamodule.channels)  # from the data, once
    if datamodule.num_classes:  # a conditional model: its labels' classes come from the data too
        sizes["num_classes"] = datamodule.num_classes
        for net in ("generator", "discriminator"):
            if not takes_argument(cfg.model[net]._target_, "num_classes"):
                raise UserError(f"data.num_classes={datamodule.num_classes} gives labels, but the {net} "
                                f"{cfg.model[net]._target_} takes none (num_classes): use a conditional model, or "
                                "data.num_classes=0")
    module = instantiate(
        cfg.model.module,
        generator=instantiate(cfg.model.generator, **sizes),
        discriminator=instantiate(cfg.model.discriminator, **sizes),
        objective=instantiate(cfg.loss.objective),
        regularizers={name: instantiate(r) for name, r in (cfg.loss.regularizers or {}).items()},
        g_regularizers={name: instantiate(r) for name, r in (cfg.loss.get("g_regularizers") or {}).items()},
        augment=instantiate(cfg.augment) if cfg.get("augment") else None,
    )
    if plan is not None:
        log.info(take_weights(module, plan))
    log.info(_parameter_counts(module))
    trainer_cfg, compile_networks = lightning_trainer_config(cfg)
    if compile_networks:  # in place: the state dicts (so checkpoints) keep their keys
        module.generator.compile()
        module.discriminator.compile()
    # metrics first: the progress bar, the plots and the best checkpoint then see this epoch's evaluation
    callbacks = [instantiate(c) for c in [*(cfg.get("metrics") or {}).values(), *(cfg.get("callbacks") or {}).values()]]
    stop = SafeStop(str(paths.ckpt_dir), cfg.budget.max_time, _continue_command(paths.ckpt_dir / "last.ckpt"))
    callbacks += [StoreConfig(config), RNGState(), stop, LogEveryEpoch()]
    if cfg.budget.max_kimg:
        callbacks.append(KimgBudget(cfg.budget.max_kimg))
    loggers = [instantiate(lg) for lg in (cfg.get("logger") or {}).values()]
    for logger in loggers:
        logger.log_hyperparams(config)
    # budget.max_time is SafeStop's (a resumable mid-epoch checkpoint), not Lightning's Timer (ends the epoch early)
    # use_distributed_sampler=False: the data module's sampler shards itself (exact mid-epoch resume under DDP)
    trainer = instantiate(trainer_cfg, callbacks=callbacks, logger=loggers, max_time=None, plugins=[AtomicCheckpointIO()],
                          use_distributed_sampler=False)
    log.info(f"run folder: {paths.run_dir}  checkpoints: {paths.ckpt_dir}")
    return trainer, lambda: trainer.fit(module, datamodule=datamodule, ckpt_path=paths.ckpt_path, weights_only=True)


def _parameter_counts(module) -> str:
    """One line instead of Lightning's layer table (trainer.enable_model_summary=true prints that)."""
    def count(net):
        n = sum(p.numel() for p in net.parameters())
        return f"{n / 1e6:.2f} M" if n >= 100_000 else f"{n:,}"

    return (f"parameters: generator {count(module.generator)}, discriminator {count(module.discriminator)}, "
            f"EMA generator {count(module.generator_ema)}")


def lightning_trainer_config(cfg: DictConfig) -> tuple[dict, bool]:
    """The `trainer` group as Lightning's Trainer takes it, and gan_zoo's own keys in it: compile (torch.compile
    the generator and discriminator) and threads (set by train() at start)."""
    trainer_cfg = OmegaConf.to_container(cfg.trainer, resolve=True)
    trainer_cfg.pop("threads", None)  # set by train()
    for old in ("max_kimg", "max_time"):  # the deprecated names' placeholders (settle moves a value to budget.*)
        trainer_cfg.pop(old, None)
    return trainer_cfg, bool(trainer_cfg.pop("compile", False))


def _continue_command(ckpt, more: list[str] = ()) -> str:
    """The command that resumes this run from `ckpt`: this command line's overrides and --config-dir."""
    hydra = HydraConfig.get()
    config_dirs = [s.path for s in hydra.runtime.get("config_sources") or [] if s.provider == "command-line"]
    config_name = hydra.job.get("config_name") or "train"
    return continue_command(list(hydra.overrides.task), str(ckpt), more, config_dirs, config_name)


def _summary(cfg: DictConfig, trainer: L.Trainer, paths) -> str:
    best = next((c.best_model_path for c in trainer.checkpoint_callbacks
                 if str(c.monitor).startswith("metrics/") and c.best_model_path), None)
    module = trainer.lightning_module
    kimg = int(module.images_seen) / 1000
    more = budget_past(kimg, trainer.current_epoch, cfg.trainer.max_epochs, cfg.budget.max_kimg)
    command = _continue_command(Path(paths.ckpt_dir) / "last.ckpt", more)
    return run_summary(paths.run_dir, best, trainer.current_epoch, kimg, command)


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
