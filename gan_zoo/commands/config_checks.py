"""Checks of a composed run config before anything is built or written: required values, and the type and
range of every documented setting. Each failure is one UserError naming the setting, the bad value and a
good one. (Unknown keys and groups are Hydra's to catch; `gan_zoo.commands.cli` words those errors the same way.)"""
import difflib
import importlib.util
import inspect
import math
from numbers import Number

import torch
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gan_zoo.errors import UserError
from gan_zoo.runs.resume import parse_duration

PRECISIONS = ("auto", "32-true", "32", "bf16-mixed", "16-mixed", "transformer-engine")
# Lightning's precisions that keep the weights in another dtype: the sampling and the metrics feed them float32
# latents, and on a CPU half weights train into NaN
TRUE_PRECISIONS = ("16-true", "bf16-true", "64-true", "64")
ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "tpu", "auto")
MAX_DAYS = 3650  # budget.max_time above this is a typo (and past what a timedelta holds, an overflow)


def _int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, Number) and not isinstance(value, bool)


def _finite(value) -> bool:
    return _number(value) and math.isfinite(value)


def whole(low: int):
    """A rule's test: a whole number >= low."""
    return lambda value: _int(value) and value >= low


def positive(value) -> bool:
    """A rule's test: a finite number > 0."""
    return _finite(value) and value > 0


def _duration(value) -> bool:
    try:
        duration = parse_duration(value)
    except (ValueError, OverflowError):  # (inf seconds, 99999999999d: past what a timedelta holds)
        return False
    return duration is None or 0 < duration.total_seconds() <= MAX_DAYS * 86400


def _devices(value) -> bool:
    if isinstance(value, str):  # a count ("2"), device indices ("0," or "0,1"), all (-1) or auto
        if value.strip().isdigit():
            return int(value) >= 1
        return value == "auto" or all(part.strip().isdigit() for part in value.strip(",").split(",")) or value == "-1"
    if _int(value):
        return value >= 1 or value == -1
    return isinstance(value, list) and all(_int(v) and v >= 0 for v in value) and len(value) > 0


# setting -> (is the value good?, what a good value looks like). Settings absent from a config are skipped.
RULES = {
    "seed": (lambda v: _int(v) and 0 <= v < 2**32, "a whole number from 0 to 2^32 - 1 (numpy's range)"),
    "trainer.max_epochs": (lambda v: _int(v) and (v >= 1 or v == -1), "a whole number >= 1 (-1 = no limit)"),
    "budget.max_kimg": (lambda v: v is None or (_finite(v) and v > 0),
                        "thousands of images > 0, e.g. 500 (null = no budget)"),
    "budget.max_time": (_duration, f"a duration such as 11h30m, 45m or 00:11:30:00, above 0 and at most {MAX_DAYS}d "
                                   "(null = no limit)"),
    "trainer.log_every_n_steps": (lambda v: _int(v) and v >= 1, "a whole number >= 1"),
    "trainer.limit_train_batches": (
        lambda v: v is None or (_int(v) and v >= 1) or (isinstance(v, float) and 0 < v <= 1),
        "a whole number of batches >= 1, a fraction in (0, 1], or null = all"),
    "trainer.threads": (lambda v: v is None or (_int(v) and v >= 1), "a whole number of CPU threads >= 1, or null = "
                        "torch's default"),
    "trainer.compile": (lambda v: isinstance(v, bool), "true or false"),
    "trainer.precision": (lambda v: str(v) in PRECISIONS,
                          f"one of {', '.join(PRECISIONS)} ({', '.join(TRUE_PRECISIONS)} keep the weights in a dtype "
                          "that gan_zoo's sampling and metrics do not feed: use the mixed ones)"),
    "trainer.accelerator": (lambda v: v in ACCELERATORS, f"one of {', '.join(ACCELERATORS)}"),
    "trainer.devices": (_devices, "a number of devices >= 1, -1 (all), auto, or a list of device indices"),
    "trainer.deterministic": (lambda v: isinstance(v, bool) or v == "warn", "true, false or warn"),
    "data.resolution": (lambda v: _int(v) and v >= 4, "a whole number >= 4 (a power of two for every model)"),
    "data.channels": (lambda v: v in (1, 3), "1 (grayscale) or 3 (RGB)"),
    "data.batch_size": (lambda v: _int(v) and v >= 1, "a whole number >= 1"),
    "data.num_workers": (lambda v: _int(v) and v >= 0, "a whole number >= 0 (0 = load in the main process)"),
    "data.holdout": (lambda v: _int(v) and v >= 0, "a whole number of images >= 0 (0 = none held out)"),
    "data.num_classes": (lambda v: _int(v) and v >= 0, "a whole number of classes >= 0 (0 = no labels)"),
    "data.dataset.cache_mib": (lambda v: _number(v) and v >= 0 and not math.isnan(v),
                               "a number of MiB >= 0, e.g. 4096 (0 = stream from disk)"),
    "model.generator.latent_dim": (lambda v: _int(v) and v >= 1, "a whole number >= 1"),
    "model.generator.width": (lambda v: _int(v) and v >= 1, "a whole number >= 1"),
    "model.discriminator.width": (lambda v: _int(v) and v >= 1, "a whole number >= 1"),
    "model.module.n_critic": (lambda v: _int(v) and v >= 1, "a whole number >= 1"),
    "model.module.ema_half_life_images": (lambda v: _number(v) and v >= 0, "a number of images >= 0 (0 = no EMA)"),
    "model.module.num_samples": (lambda v: _int(v) and v >= 1, "a whole number >= 1"),
    "model.module.freeze_d": (lambda v: _int(v) and v >= 0, "a whole number of discriminator blocks >= 0 (0 = none)"),
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
    "resume_changes": (lambda v: v in ("refuse", "accept"),
                       "refuse (a resume that changes what shaped the run stops) or accept (it goes on, recorded)"),
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
        if isinstance(value, ListConfig):  # (e.g. trainer.devices=[0,1]: the rules read plain lists)
            value = OmegaConf.to_container(value, resolve=True)
        if isinstance(value, DictConfig) or not good(value):
            raise UserError(f"{key}={OmegaConf.to_yaml(value).strip() if isinstance(value, DictConfig) else value!r} "
                            f"is not valid: give {expected}")


def check_devices(cfg: DictConfig) -> None:
    """A UserError when a device or precision is asked for that this machine does not have."""
    accelerator = OmegaConf.select(cfg, "trainer.accelerator")
    devices, precision = OmegaConf.select(cfg, "trainer.devices"), str(OmegaConf.select(cfg, "trainer.precision"))
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise UserError(f"trainer.accelerator={accelerator} but no CUDA GPU is visible to PyTorch: "
                        "use trainer=cpu (or check the driver with nvidia-smi)")
    if accelerator == "mps" and not torch.backends.mps.is_available():
        raise UserError("trainer.accelerator=mps but this machine has no Apple GPU that PyTorch sees (MPS): use "
                        "trainer=cpu, or trainer=gpu on a CUDA machine")
    if accelerator == "tpu" and importlib.util.find_spec("torch_xla") is None:
        raise UserError("trainer.accelerator=tpu needs a TPU machine with torch_xla installed: use trainer=cpu or "
                        "trainer=gpu here")
    if accelerator == "cpu" and devices != "auto" and not (_int(devices) and devices >= 1) \
            and not (isinstance(devices, str) and devices.strip().isdigit()):
        raise UserError(f"trainer.devices={devices!r} with trainer.accelerator=cpu: give a number of processes >= 1 "
                        "(e.g. trainer.devices=2 with trainer=ddp), or auto; device indices and -1 are for GPUs")
    if precision == "transformer-engine" and (not torch.cuda.is_available()
                                              or importlib.util.find_spec("transformer_engine") is None):
        raise UserError("trainer.precision=transformer-engine needs an NVIDIA GPU and the transformer_engine package: "
                        "use bf16-mixed (or 32-true) here")


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
                if key == "data.dataset.root":  # the embedded data has no folder
                    hint = "a folder of images is data=image_folder: add data=image_folder data.dataset.root=..."
                raise UserError(f"{override}: {node._target_} takes no argument '{name}' ({hint})")
    return lines


def _paths(cfg, prefix=()):
    for key in cfg:
        value = cfg._get_node(key)
        yield (*prefix, str(key))
        if isinstance(value, DictConfig):
            yield from _paths(value, (*prefix, str(key)))


def takes_argument(target: str, name: str) -> bool:
    """Whether the class or function a config names takes argument `name` (or any, through **kwargs)."""
    known = _arguments(target)
    return known is None or name in known


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
