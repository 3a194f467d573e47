"""Checks of a composed run config before anything is built or written: required values, and the type and
range of every documented setting. Each failure is one UserError naming the setting, the bad value and a
good one. (Unknown keys and groups are Hydra's to catch; `gan_zoo.commands.cli` words those errors the same way.)"""
import difflib
import inspect
from numbers import Number

import torch
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gan_zoo.errors import UserError
from gan_zoo.runs.resume import parse_duration

PRECISIONS = ("auto", "32-true", "32", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true", "64",
              "transformer-engine")
ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "tpu", "auto")


def _int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, Number) and not isinstance(value, bool)


def _duration(value) -> bool:
    try:
        parse_duration(value)
        return True
    except ValueError:
        return False


def _devices(value) -> bool:
    if isinstance(value, str):
        return value == "auto" or all(part.strip().isdigit() for part in value.strip(",").split(",")) or value == "-1"
    if _int(value):
        return value >= 1 or value == -1
    return isinstance(value, list) and all(_int(v) and v >= 0 for v in value) and len(value) > 0


# setting -> (is the value good?, what a good value looks like). Settings absent from a config are skipped.
RULES = {
    "seed": (_int, "a whole number"),
    "trainer.max_epochs": (lambda v: _int(v) and (v >= 1 or v == -1), "a whole number >= 1 (-1 = no limit)"),
    "budget.max_kimg": (lambda v: v is None or (_number(v) and v > 0),
                        "thousands of images > 0, e.g. 500 (null = no budget)"),
    "budget.max_time": (_duration, "a duration such as 11h30m, 45m or 00:11:30:00 (null = no limit)"),
    "trainer.log_every_n_steps": (lambda v: _int(v) and v >= 1, "a whole number >= 1"),
    "trainer.limit_train_batches": (
        lambda v: v is None or (_int(v) and v >= 1) or (isinstance(v, float) and 0 < v <= 1),
        "a whole number of batches >= 1, a fraction in (0, 1], or null = all"),
    "trainer.compile": (lambda v: isinstance(v, bool), "true or false"),
    "trainer.precision": (lambda v: str(v) in PRECISIONS, f"one of {', '.join(PRECISIONS)}"),
    "trainer.accelerator": (lambda v: v in ACCELERATORS, f"one of {', '.join(ACCELERATORS)}"),
    "trainer.devices": (_devices, "a number of devices >= 1, -1 (all), auto, or a list of device indices"),
    "trainer.deterministic": (lambda v: isinstance(v, bool) or v == "warn", "true, false or warn"),
    "data.resolution": (lambda v: _int(v) and v >= 4, "a whole number >= 4 (a power of two for every model)"),
    "data.channels": (lambda v: v in (1, 3), "1 (grayscale) or 3 (RGB)"),
    "data.batch_size": (lambda v: _int(v) and v >= 1, "a whole number >= 1"),
    "data.num_workers": (lambda v: _int(v) and v >= 0, "a whole number >= 0 (0 = load in the main process)"),
    "data.holdout": (lambda v: _int(v) and v >= 0, "a whole number of images >= 0 (0 = none held out)"),
    "model.generator.latent_dim": (lambda v: _int(v) and v >= 1, "a whole number >= 1"),
    "model.generator.width": (lambda v: _int(v) and v >= 1, "a whole number >= 1"),
    "model.discriminator.width": (lambda v: _int(v) and v >= 1, "a whole number >= 1"),
    "model.module.n_critic": (lambda v: _int(v) and v >= 1, "a whole number >= 1"),
    "model.module.ema_half_life_images": (lambda v: _number(v) and v >= 0, "a number of images >= 0 (0 = no EMA)"),
    "model.module.num_samples": (lambda v: _int(v) and v >= 1, "a whole number >= 1"),
    "model.module.g_optimizer.lr": (lambda v: _number(v) and v > 0, "a number > 0, e.g. 2e-4"),
    "model.module.d_optimizer.lr": (lambda v: _number(v) and v > 0, "a number > 0, e.g. 2e-4"),
    "metrics.evaluate.every_n_epochs": (lambda v: _int(v) and v >= 1, "a whole number >= 1"),
    "metrics.evaluate.evaluator.num_real": (lambda v: _int(v) and v >= 2, "a whole number >= 2"),
    "metrics.evaluate.evaluator.num_fake": (lambda v: _int(v) and v >= 2, "a whole number >= 2"),
    "metrics.evaluate.evaluator.batch_size": (lambda v: _int(v) and v >= 1, "a whole number >= 1"),
    "callbacks.checkpoint.save_top_k": (lambda v: _int(v) and v >= -1, "a whole number >= 0, or -1 = keep all"),
    "callbacks.samples.every_n_epochs": (lambda v: _int(v) and v >= 1, "a whole number >= 1"),
    "augment.p": (lambda v: _number(v) and 0 <= v <= 1, "a probability in [0, 1]"),
    "augment.target": (lambda v: _number(v) and 0 < v < 1,
                       "ADA's target overfitting r_t in (0, 1), e.g. 0.6 (outside it, p never adapts)"),
    "augment.adjust_interval": (lambda v: _int(v) and v >= 1, "a whole number of D steps >= 1"),
    "augment.adjust_images": (lambda v: _number(v) and v > 0, "a number of images > 0"),
    "model.module.ema_rampup": (lambda v: v is None or (_number(v) and 0 < v <= 1),
                                "a fraction in (0, 1], e.g. 0.05 (null = no ramp-up)"),
    "model.generator.mixing_prob": (lambda v: _number(v) and 0 <= v <= 1, "a probability in [0, 1]"),
    "model.discriminator.mbstd_group_size": (lambda v: _int(v) and v >= 0, "a whole number >= 0 (0 = off)"),
    "name": (lambda v: isinstance(v, str) and v.strip() not in ("", ".", "..") and not set(v) & set("/\\\0"),
             "a plain folder name: not empty, '.' or '..', without '/', '\\' or NUL (e.g. name=dcgan_faces)"),
}

# How to give a required value that has no default.
REQUIRED_HINTS = {"data.dataset.root": "data.dataset.root=/path/to/images",
                  "ckpt": "ckpt=checkpoints/<name>/<run>/last.ckpt"}


def check_required(cfg: DictConfig, prefix: str = "") -> None:
    """A UserError for the first required value (`???`) that was not given."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        key = prefix + missing[0]
        how = REQUIRED_HINTS.get(key, f"{key}=<value>")
        raise UserError(f"{key} is required and was not given: add {how} to the command")


def check_values(cfg: DictConfig, rules: dict = RULES) -> None:
    """A UserError for the first setting whose value is of the wrong type or out of range."""
    for key, (good, expected) in rules.items():
        value = OmegaConf.select(cfg, key, default="<absent>")
        if isinstance(value, str) and value == "<absent>":
            continue
        if isinstance(value, DictConfig) or not good(value):
            raise UserError(f"{key}={OmegaConf.to_yaml(value).strip() if isinstance(value, DictConfig) else value!r} "
                            f"is not valid: give {expected}")


def check_devices(cfg: DictConfig) -> None:
    """A UserError when a GPU is asked for and none is visible."""
    accelerator = OmegaConf.select(cfg, "trainer.accelerator")
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise UserError(f"trainer.accelerator={accelerator} but no CUDA GPU is visible to PyTorch: "
                        "use trainer=cpu (or check the driver with nvidia-smi)")


def check_train_config(cfg: DictConfig) -> None:
    """Everything that can be told from the config alone, before a folder is made or data is read."""
    check_required(cfg)
    try:
        check_values(cfg)
        OmegaConf.to_container(cfg, resolve=True)  # every ${...} resolves
    except OmegaConfBaseException as e:  # e.g. an interpolation to a key that does not exist
        raise UserError(f"{e.full_key or 'config'}: {str(e).splitlines()[0]} (check the ${{...}} references given)") from e
    check_devices(cfg)


def unread_additions(cfg: DictConfig, task_overrides, top_level: set) -> list[str]:
    """One warning line per `+key=value` that nothing gan_zoo builds reads: a key under a new top-level name (not
    in `top_level`, the root config's keys and groups), or an argument that the class it is added to does not take
    (with the closest known name). Additions that are read (a regularizer, a callback, an argument of a class,
    anything inside a group read as a whole) give none."""
    lines = []
    for override in task_overrides:
        if not override.startswith("+") or override.startswith("++") or "=" not in override:
            continue
        key = override[1:].split("=", 1)[0].split("@")[-1]
        parent, _, name = key.rpartition(".")
        if name.startswith("_") and name.endswith("_"):  # Hydra's own keys (_target_, _partial_...)
            continue
        node = OmegaConf.select(cfg, parent) if parent else None
        if key.split(".")[0] not in top_level:
            known = [".".join(k) for k in _paths(cfg) if k[0] in top_level]
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            lines.append(f"{override}: nothing gan_zoo builds reads '{key}'{hint}; it is ignored")
        elif isinstance(node, DictConfig) and "_target_" in node and (known := _arguments(node._target_)) is not None:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"did you mean '{parent}.{close[0]}'?" if close else f"it takes {', '.join(known)}"
                raise UserError(f"{override}: {node._target_} takes no argument '{name}' ({hint})")
    return lines


def _paths(cfg, prefix=()):
    for key in cfg:
        value = cfg._get_node(key)
        yield (*prefix, str(key))
        if isinstance(value, DictConfig):
            yield from _paths(value, (*prefix, str(key)))


def _arguments(target: str) -> list[str] | None:
    """The argument names a class or function of a config takes; None when it takes any (**kwargs) or is unknown."""
    from hydra._internal.utils import _locate

    try:
        parameters = inspect.signature(_locate(target)).parameters.values()
    except (ImportError, ValueError, TypeError, AttributeError):
        return None
    if any(p.kind == p.VAR_KEYWORD for p in parameters):
        return None
    return [p.name for p in parameters]


def cpu_has_bf16() -> bool | None:
    """Whether this CPU has bf16 instructions (avx512_bf16 or amx_bf16), None where Linux does not say."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next(line for line in f if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return None
    return "avx512_bf16" in flags or "amx_bf16" in flags


def auto_precision(accelerator: str) -> str:
    """What `trainer.precision=auto` runs: bf16-mixed where the hardware has bf16 arithmetic (a CUDA GPU with native
    bf16, Ampere and later; a CPU with avx512_bf16 or amx_bf16), 32-true elsewhere (no emulated bf16)."""
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        native = torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
        return "bf16-mixed" if native else "32-true"
    return "bf16-mixed" if accelerator in ("cpu", "auto") and cpu_has_bf16() else "32-true"


def precision_advice(cfg: DictConfig) -> str | None:
    """A warning for bf16 where it is slow: a CPU without bf16 instructions, or a GPU without bf16 (e.g. T4)."""
    precision, accelerator = str(OmegaConf.select(cfg, "trainer.precision")), OmegaConf.select(cfg, "trainer.accelerator")
    if not precision.startswith("bf16"):
        return None
    if accelerator == "cpu" and cpu_has_bf16() is False:
        return ("trainer.precision=bf16-mixed on a CPU without bf16 instructions (avx512_bf16, amx_bf16): expect it to "
                "be several times slower than 32-true (benchmarks/zoo_throughput.py --precisions 32-true bf16-mixed)")
    if accelerator in ("gpu", "cuda") and torch.cuda.is_available() and not torch.cuda.is_bf16_supported():
        return "this GPU has no native bf16 (e.g. a T4): use trainer.precision=16-mixed instead"
    return None
