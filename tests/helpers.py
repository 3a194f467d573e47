"""Shared test helpers: compose the real config from conf/ and shrink it (tiny widths, CPU, few batches)."""
import os
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict, read_write

from gan_zoo.commands.cli import CONFIG_DIR

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("GAN_ZOO_SHARED_DATA", REPO.parent / "shared" / "data"))

# Tiny DCGAN at 16x16 on the embedded data: a training step takes milliseconds on 2 cores.
BASE = [  # any model: small data, CPU, few batches, quiet
    "data.resolution=16",
    "data.batch_size=16",
    "model.module.num_samples=16",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=3",
    "trainer.log_every_n_steps=1",
    "trainer.enable_model_summary=false",
    "callbacks.progress_bar.refresh_rate=0",
    "metrics=none",
]
TINY = [*BASE, "model.generator.width=8", "model.generator.latent_dim=16", "model.discriminator.width=8"]

# The default metrics (the shipped Fashion-MNIST CNN), shrunk.
SMALL_METRICS = [
    "metrics=classifier",
    "metrics.evaluate.evaluator.num_real=64",
    "metrics.evaluate.evaluator.num_fake=64",
    "metrics.evaluate.evaluator.batch_size=32",
    "metrics.evaluate.evaluator.kid_subset_size=32",
]


def compose_config(tmp_path: Path, overrides: list[str] = ()):
    """The real composed config, its output folders under tmp_path, HydraConfig set as a run would."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                f"paths.experiments={tmp_path}/experiments",
                f"paths.checkpoints={tmp_path}/checkpoints",
                f"paths.cache={tmp_path}/cache",
                *overrides,
            ],
            return_hydra_config=True,
        )
    HydraConfig.instance().set_config(cfg)  # so that ${name} resolves
    with read_write(cfg.hydra.runtime):
        cfg.hydra.runtime.output_dir = f"{tmp_path}/experiments/{cfg.name}/run"
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]  # as in a real run, where the task sees no `hydra` node
    return cfg


def run_cli(args: list[str], cwd: Path, module: str = "gan_zoo.commands.train", timeout: float = 600,
            env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m MODULE ARGS` in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})},
    )


class SignalAtBatch:
    """A callback (for configs: tests.helpers.SignalAtBatch) that sends this process a signal at the end
    of the given batch index of the given epoch, as a scheduler or the user would."""

    def __new__(cls, epoch: int, batch: int, signum: int = 10):
        import signal

        import lightning as L

        class _Send(L.Callback):
            def on_train_batch_end(self, trainer, pl_module, outputs, b, batch_idx):
                if trainer.current_epoch == epoch and batch_idx == batch:
                    os.kill(os.getpid(), signal.Signals(signum))

        return _Send()


class BlockForever:
    """A callback (for configs: tests.helpers.BlockForever) whose first batch end blocks the main thread in a
    wait that never ends, as a collective does when another process never enters it."""

    def __new__(cls):
        import threading

        import lightning as L

        class _Block(L.Callback):
            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
                print("blocked", flush=True)
                threading.Event().wait()

        return _Block()


def checkpoint_networks(ckpt: str | Path, discriminator_class) -> tuple[dict, dict, dict]:
    """The networks of a checkpoint gan-zoo-train wrote, rebuilt from its stored config through the project's safe
    readers (the generators through gan_zoo.trusted; the discriminator, which no file may name, as
    `discriminator_class`): ({"resolution", "channels"}, the generator / discriminator configs without '_' keys,
    {"generator", "average" (the EMA generator), "discriminator"}: modules in eval mode)."""
    from gan_zoo.commands.init_sources import read_source
    from gan_zoo.trusted import build

    source = read_source(str(ckpt))
    sizes = {"resolution": source.resolution, "channels": source.channels}
    configs = {place: {k: v for k, v in source.networks[place].items() if not k.startswith("_")}
               for place in ("generator", "discriminator")}
    networks = {"generator": build(source.networks["generator"], "generator", str(ckpt), **sizes),
                "average": build(source.networks["generator"], "generator", str(ckpt), **sizes),
                "discriminator": discriminator_class(**configs["discriminator"], **sizes)}
    for name, state in (("generator", source.generator), ("average", source.generator_ema),
                        ("discriminator", source.discriminator)):
        networks[name].load_state_dict(state)
        networks[name].eval()
    return sizes, configs, networks
