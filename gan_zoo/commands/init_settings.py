"""A new run from another one's weights (`init=`, read by gan_zoo.commands.init_sources): what the run's config
takes from the source before anything is built, and what is refused.

Taken where the command line does not give it (`given_settings`, counted from the chosen model and data options'
own defaults, so model=stylegan alone gives no network argument): the source's model (without model=, the model
option whose generator is the source's class, with that option's training settings and default loss), its
networks' arguments, data.resolution and data.channels. Defined adaptations, each said in the start line: a
progressive (PGGAN) source that reached a lower resolution than the data grows on from its level (the schedule
starts there, the levels above start fresh); data.channels given other than the source's re-initialises only the
layers that read or write the image (toRGB / fromRGB); a generator-only source gets a fresh discriminator.
Refused in one line each: init= with ckpt=, a conditional source on unconditional data or the reverse, another
network class than model= builds, another resolution (but PGGAN's growth), a layer whose shape differs (by
gan_zoo.commands.init_weights, naming the setting that would match). Nothing else is guessed.

A resumed fine-tuned run never reads its source again: what init= took is in its stored config (`keep_on_resume`).
"""
import math
from contextlib import contextmanager
from dataclasses import dataclass, field

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from gan_zoo.commands.cli import CONFIG_DIR
from gan_zoo.commands.config_checks import check_values, takes_argument
from gan_zoo.commands.init_sources import Source, read_source
from gan_zoo.commands.resume_settings import composed, given_settings
from gan_zoo.errors import UserError
from gan_zoo.runs.stored_config import PLAIN, describe

NETWORKS = ("generator", "discriminator")
SIZES = ("data.resolution", "data.channels")
START_LEVEL = "model.module.schedule.start_level"
_ABSENT = object()


@dataclass
class Plan:
    """What a fine-tuned run takes from its source, decided before anything is built; init_weights loads it."""

    source: Source
    taken: list[str] = field(default_factory=list)  # settings from the source: "model.generator.fmap_base=2048", ...
    conflicts: list[str] = field(default_factory=list)  # given network settings other than the source's
    grow_from: int | None = None  # a progressive source at a lower resolution: its top level (those above: fresh)
    start_level: int | None = None  # the progressive networks' level at the start (the schedule's start_level)
    reinit_channels: bool = False  # data.channels given other than the source's: toRGB / fromRGB start fresh


def start_from_source(cfg: DictConfig) -> Plan | None:
    """The plan of a run given init= (its source read once, its architecture taken into `cfg`), None without."""
    init = cfg.get("init")
    if init is None or init == "":
        return None
    if cfg.get("ckpt"):
        raise UserError(f"init={init} starts a new run from another one's weights and ckpt={cfg.ckpt} continues a run: "
                        "give one of them (a fine-tuned run continues with ckpt= alone; it never reads its source again)")
    if not isinstance(init, str):
        raise UserError(f"init={describe(init)}: give a path or pytorch_gan_zoo:<name or file>")
    return take_architecture(cfg, read_source(init))


def take_architecture(cfg: DictConfig, source: Source) -> Plan:
    """Put the source's architecture into `cfg` where the command line does not give it (see the module)."""
    _check_labels(cfg, source)
    plan = Plan(source)
    option = _model_to_switch_to(cfg, source)
    if option is not None:
        _switch_model(cfg, option)
        plan.taken.append(f"model={option}")
    _check_classes(cfg, source)
    given = _given(cfg, option)
    with open_dict(cfg):
        for key, value in zip(SIZES, (source.resolution, source.channels)):
            if not _named(key, given) and OmegaConf.select(cfg, key) != value:
                OmegaConf.update(cfg, key, value, merge=False)
                plan.taken.append(f"{key}={value}")
        for net in NETWORKS:
            for arg, value in (source.networks.get(net) or {}).items():
                if not arg.startswith("_"):
                    _take(cfg, plan, given, f"model.{net}.{arg}", value)
        _resolution(cfg, plan, given)
        plan.reinit_channels = source.channels != cfg.data.channels
        cfg.init = source.record()
    try:  # the values taken pass the checks the command line's did
        check_values(cfg)
    except UserError as e:
        raise UserError(f"init='{source.spec}': the settings taken from it do not pass the checks: {e}") from e
    return plan


def _check_labels(cfg: DictConfig, source: Source) -> None:
    classes = int(OmegaConf.select(cfg, "data.num_classes", default=0) or 0)
    if source.num_classes == classes:
        return
    if not classes:
        what = f"a conditional model ({source.num_classes} classes) and the data gives no labels (data.num_classes=0)"
    elif not source.num_classes:
        what = f"an unconditional model and data.num_classes={classes} gives labels"
    else:
        what = f"a model of {source.num_classes} classes and data.num_classes={classes}"
    raise UserError(f"init='{source.spec}' is {what}: fine-tune a conditional model on labelled data of its classes, "
                    "an unconditional one on data.num_classes=0")


def _class(cfg: DictConfig, net: str):
    return OmegaConf.select(cfg, f"model.{net}._target_")


def _model_to_switch_to(cfg: DictConfig, source: Source) -> str | None:
    """Without model=, the model option that builds the source's generator (None: the configured one does)."""
    wanted = source.networks["generator"].get("_target_")
    if _class(cfg, "generator") == wanted:
        return None
    hydra = HydraConfig.get()
    named = any(o.key_or_group == "model" for o in OverridesParser.create().parse_overrides(list(hydra.overrides.task)))
    default = composed(hydra.job.get("config_name") or "train").model.generator.get("_target_")
    option = _option_building(wanted)
    if named or _class(cfg, "generator") != default:  # the model was chosen (model= or an experiment)
        raise UserError(f"init='{source.spec}' holds a {wanted} generator and model={hydra.runtime.choices.get('model')} "
                        f"builds {_class(cfg, 'generator')}: give model={option or '<the option that builds it>'} (the "
                        "source's weights fit its own networks only)")
    if option is None:
        raise UserError(f"init='{source.spec}' holds a {wanted} generator, which no model option of this command "
                        "builds: give model=<your option that builds it> (--config-dir, CONTRIBUTING.md)")
    return option


@contextmanager
def _hydra():
    if GlobalHydra.instance().is_initialized():
        yield
        return
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):  # a config composed by a test
        yield


def _option_building(target: str) -> str | None:
    """The option of the model group whose generator is `target`."""
    with _hydra():
        config_name = HydraConfig.get().job.get("config_name") or "train"
        for option in sorted(GlobalHydra.instance().config_loader().get_group_options("model")):
            try:
                built = compose(config_name, overrides=[f"model={option}"]).model.generator.get("_target_")
            except Exception:  # noqa: BLE001  (an option that does not compose alone cannot be the one)
                continue
            if built == target:
                return option
    return None


def _switch_model(cfg: DictConfig, option: str) -> None:
    """cfg's model and loss as the command line composes them with model=<option> (its default loss unless loss= is
    given)."""
    hydra = HydraConfig.get()
    switched = composed(hydra.job.get("config_name") or "train", [*hydra.overrides.task, f"model={option}"])
    with open_dict(cfg):
        cfg.model = switched.model
        cfg.loss = switched.loss


def _check_classes(cfg: DictConfig, source: Source) -> None:
    for net in NETWORKS:
        wanted = (source.networks.get(net) or {}).get("_target_")
        if wanted is not None and wanted != _class(cfg, net):
            raise UserError(f"init='{source.spec}' holds a {wanted} {net} and this config builds {_class(cfg, net)}: "
                            f"drop model.{net}._target_ (the source's weights fit its own networks only)")


def _given(cfg: DictConfig, model_option: str | None) -> set[str]:
    """The settings the command line gives, counted from the chosen model and data options' own defaults."""
    choices = HydraConfig.get().runtime.choices
    baseline = [f"model={model_option or choices.get('model')}", f"data={choices.get('data')}"]
    return given_settings(cfg, [b for b in baseline if not b.endswith("=None")])


def _named(key: str, given: set[str]) -> bool:
    return any(g == key or key.startswith(g + ".") or g.startswith(key + ".") for g in given)


def _plain(value, key: str, spec: str):
    """`value` itself, when it is plain data that chooses no code (else a UserError)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str) or (k.startswith("_") and k.endswith("_")):
                raise UserError(f"refusing init='{spec}': its {key} holds the special key {k!r}; nothing was built")
            _plain(v, f"{key}.{k}", spec)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _plain(v, f"{key}[{i}]", spec)
    elif not isinstance(value, PLAIN) or (isinstance(value, str) and ("${" in value or value == "???")):
        raise UserError(f"refusing init='{spec}': its {key} is {describe(value)!r}, not a plain setting; nothing was "
                        "built")
    return value


def _current(cfg: DictConfig, key: str):
    value = OmegaConf.select(cfg, key, default=_ABSENT)
    return OmegaConf.to_container(value, resolve=True) if isinstance(value, (DictConfig, ListConfig)) else value


def _take(cfg: DictConfig, plan: Plan, given: set[str], key: str, value) -> None:
    """The source's value of a network setting, unless given (then a difference is a conflict, named if the
    networks' shapes differ)."""
    value, current = _plain(value, key, plan.source.spec), _current(cfg, key)
    if current == value:
        return
    if _named(key, given):
        plan.conflicts.append(f"{key}={describe(value)} (the source's; this command gives {describe(current)})")
        return
    parent, _, argument = key.rpartition(".")
    if not takes_argument(OmegaConf.select(cfg, f"{parent}._target_"), argument):
        raise UserError(f"init='{plan.source.spec}': its {key}={describe(value)} is no argument of "
                        f"{OmegaConf.select(cfg, f'{parent}._target_')} in this gan_zoo: its networks cannot be built")
    OmegaConf.update(cfg, key, value, merge=False, force_add=True)
    plan.taken.append(f"{key}={describe(value)}")


def _resolution(cfg: DictConfig, plan: Plan, given: set[str]) -> None:
    """The data's resolution against the source's: equal, or a progressive source's growth; the start level."""
    source, resolution = plan.source, int(cfg.data.resolution)
    progressive = source.level is not None
    if source.resolution != resolution and not (progressive and source.resolution < resolution):
        why = "a PGGAN source grows to higher resolutions only" if progressive else "its networks fit that size only"
        raise UserError(f"init='{source.spec}' was trained at {source.resolution}x{source.resolution} and "
                        f"data.resolution={resolution}: give data.resolution={source.resolution} ({why})")
    if not progressive:
        return
    top = round(math.log2(resolution)) - 2
    if source.resolution < resolution:
        plan.grow_from = round(math.log2(source.resolution)) - 2
        for net in NETWORKS:  # explicit widths (pytorch_GAN_zoo's): the new levels' by the config's fmap_base/max
            widths = _current(cfg, f"model.{net}.widths")
            if isinstance(widths, list) and len(widths) < top + 1:
                base, most = (_current(cfg, f"model.{net}.{k}") for k in ("fmap_base", "fmap_max"))
                base, most = (base if isinstance(base, int) else 8192), (most if isinstance(most, int) else 512)
                widths = widths + [min(most, base // (4 * 2**level)) for level in range(len(widths), top + 1)]
                OmegaConf.update(cfg, f"model.{net}.widths", widths, merge=False)
    if OmegaConf.select(cfg, "model.module.schedule") is not None:
        if not _named(START_LEVEL, given) and _current(cfg, START_LEVEL) != min(source.level, top):
            OmegaConf.update(cfg, START_LEVEL, min(source.level, top), merge=False, force_add=True)
            plan.taken.append(f"{START_LEVEL}={min(source.level, top)}")
        plan.start_level = int(_current(cfg, START_LEVEL) or 0)


def keep_on_resume(cfg: DictConfig, stored: dict, source: str) -> None:
    """A fine-tuned run resumed (its continue line gives model= but not what init= took): its networks' settings,
    data sizes and start level are the stored ones where the command line does not give them, and its stored
    config keeps the record of its source. The source itself is never read again."""
    record = stored.get("init")
    if not isinstance(record, dict):
        return
    _plain(record, "init", source)
    given = _given(cfg, None)
    model, data = stored.get("model") or {}, stored.get("data") or {}
    with open_dict(cfg):
        for net in NETWORKS:
            settings = model.get(net)
            if isinstance(settings, dict) and settings.get("_target_") == _class(cfg, net):
                for arg, value in settings.items():
                    key = f"model.{net}.{arg}"
                    if not arg.startswith("_") and not _named(key, given):
                        OmegaConf.update(cfg, key, _plain(value, key, source), merge=False, force_add=True)
        start = ((model.get("module") or {}).get("schedule") or {}).get("start_level", _ABSENT)
        if start is not _ABSENT and OmegaConf.select(cfg, "model.module.schedule") is not None \
                and not _named(START_LEVEL, given):
            OmegaConf.update(cfg, START_LEVEL, _plain(start, START_LEVEL, source), merge=False, force_add=True)
        for key in SIZES:
            if key.split(".")[1] in data and not _named(key, given):
                OmegaConf.update(cfg, key, _plain(data[key.split(".")[1]], key, source), merge=False)
        cfg.init = record
