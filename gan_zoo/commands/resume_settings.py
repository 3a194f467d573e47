"""On resume, the run's stored config decides what shaped the run (`gan_zoo.runs.stored_config`): this module
finds what the command line gave (the settings it changed from the composed defaults, and those it named) and
applies the stored config to the one Hydra composed, before anything is built."""
import logging
from functools import lru_cache
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf, open_dict

from gan_zoo import trusted
from gan_zoo.commands.cli import CONFIG_DIR
from gan_zoo.commands.config_checks import check_values
from gan_zoo.errors import UserError
from gan_zoo.runs.checkpoints import ARCHITECTURE_KEYS
from gan_zoo.runs.stored_config import ABSENT, SHAPING, check_taken, describe, differences, plan, select

log = logging.getLogger(__name__)

ACCEPT = "accept"  # resume_changes=accept: the run goes on with the changed settings, recorded in its config


def _resolved(cfg: DictConfig) -> dict:
    """The shaping and budget settings of a composed config, resolved (the rest may need a running job)."""
    keys = [*SHAPING, "budget", "trainer"]
    return select({k: OmegaConf.to_container(cfg[k], resolve=True) if isinstance(cfg[k], DictConfig) else cfg[k]
                   for k in keys if k in cfg})


def composed(config_name: str, overrides=()) -> DictConfig:
    """The config this command composes without its overrides, or with `overrides` only (inside the app: with its
    --config-dir too)."""
    if GlobalHydra.instance().is_initialized():
        return compose(config_name, overrides=list(overrides))
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):  # a config composed by a test
        return compose(config_name, overrides=list(overrides))


def given_settings(cfg: DictConfig, baseline=()) -> set[str]:
    """The settings (dotted keys) and sections the command line gave: those it names (a group option gives its
    whole section) and those it changed from the defaults (an experiment's). `baseline`: group choices such as
    model=stylegan that the defaults are composed with, so that a section they fill is not given by that alone."""
    hydra = HydraConfig.get()
    choices = hydra.runtime.choices
    given = set()
    chosen = {option.split("=", 1)[0] for option in baseline}
    for override in OverridesParser.create().parse_overrides(list(hydra.overrides.task)):
        key = override.key_or_group
        if key in chosen and not override.package:  # its section counts by what differs from that option's own
            continue
        group = f"{key}@{override.package}" if override.package else key
        if group in choices or key in choices:  # a group option gives its section where that shaped the run
            section = override.package or key.replace("/", ".")  # (experiments, trainer: by the differences)
            if section.split(".")[0] in SHAPING:
                given.add(section)
        else:
            given.add(key)
    try:
        defaults = _resolved(composed(hydra.job.get("config_name") or "train", baseline))
    except Exception as e:  # noqa: BLE001  (a root config that needs its overrides to compose: names only)
        log.debug(f"the defaults did not compose without the overrides ({e}); only named settings count as given")
        return given
    return given | {key for key, _, _ in differences(defaults, _resolved(cfg))}


@lru_cache(maxsize=1)
def shipped_targets() -> dict[str, bool]:
    """Every `_target_` that gan_zoo's own configs (conf/) name, and the classes of `gan_zoo.trusted`'s tables and
    entry points, each with whether it is built `_partial_`: what a stored config may choose, and how."""
    found = {}

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("_target_"), str):
                found[node["_target_"]] = node.get("_partial_") is True
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in Path(CONFIG_DIR).rglob("*.yaml"):
        walk(OmegaConf.to_container(OmegaConf.load(path)))
    for place in trusted.PLACES:
        for name in trusted.allowed(place):
            found.setdefault(name, place in trusted.PARTIAL)
    return found


def take_stored_config(cfg: DictConfig, stored: dict, source: str, kimg: float) -> None:
    """Put the stored values of what the command line did not give into `cfg` (one line says which), after
    refusing in one line a change of what shaped the run, unless resume_changes=accept (then the changes are
    recorded in the run's config, `changed_on_resume`)."""
    changes, taken = plan(stored, OmegaConf.to_container(cfg, resolve=True), given_settings(cfg))
    lines = [f"{key}: {describe(old)} -> {describe(new)}" for key, old, new in changes]
    listed = "; ".join(lines)
    if networks := [line for line, (key, _, _) in zip(lines, changes) if key.startswith(ARCHITECTURE_KEYS)]:
        raise UserError(f"'{source}' was trained with other networks than this config builds: {'; '.join(networks)} "
                        "(drop these overrides to resume, or start a fresh run)")  # its weights fit no other
    if changes and cfg.get("resume_changes") != ACCEPT:
        raise UserError(f"'{source}' was trained with other settings than this command gives: {listed} (drop these "
                        "overrides to resume the run as it was trained, or add resume_changes=accept to go on with "
                        "them; the change is recorded in the run's config)")
    history = stored.get("changed_on_resume") or []
    history = history if isinstance(history, list) else [history]
    check_taken([*taken, ("changed_on_resume", history, None)], shipped_targets(), source)
    with open_dict(cfg):
        for key, value, _ in taken:
            parent, _, leaf = key.rpartition(".")
            node = OmegaConf.select(cfg, parent) if parent else cfg
            if value is ABSENT:
                node.pop(leaf, None)
            else:
                node[leaf] = value
        cfg.changed_on_resume = [*map(str, history), *(f"{line} (at {kimg:g} kimg)" for line in lines)]
    try:  # the values taken pass the checks the command line's did
        check_values(cfg)
    except UserError as e:
        raise UserError(f"'{source}': its stored config does not pass the checks: {e}") from e
    if taken:
        shown = ", ".join(f"{key}={describe(value)}" for key, value, _ in taken[:6])
        more = f" and {len(taken) - 6} more" if len(taken) > 6 else ""
        log.info(f"resuming with the run's own settings where this command gives none: {shown}{more}")
    if changes:
        log.warning(f"resume_changes=accept: the run goes on with {listed}")
