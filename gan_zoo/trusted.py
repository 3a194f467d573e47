"""What a file may name. A config read back from a file (the run config a checkpoint stores, a shared model's
config.json) is untrusted input: `torch.load(weights_only=True)` keeps its pickle from running code, and this
module keeps its values from choosing code. A stored `_target_` is a key into the table of its place, never an
import path; nothing from a file goes through Hydra's `instantiate`. The tables are the installed packages' entry
points: gan_zoo declares its own classes in its pyproject.toml, a package of yours declares its own the same way.

Rules, checked over the whole config before anything is built: every `_target_` (nested ones too) is in the
table of its place; `_partial_` only where a factory is expected (a data module's dataset); no other special key
(`_args_`, `_recursive_`, `_convert_`, ...); every other value is plain data (numbers, strings, booleans, null,
lists and dicts of them). A refusal is one UserError naming the file and the name it asked for.

Your own classes (a network of your package, trained with `model.generator=<your conf/model file>`) opt in through
an entry point of your installed package, in the group of their place (CONTRIBUTING.md, "Add a model"):

    [project.entry-points."gan_zoo.generators"]
    my_generator = "my_pkg.nets:MyGenerator"

Configs you give on the command line are yours and are built by Hydra as usual; the tables only guard files.
"""
import functools
import importlib
from importlib.metadata import entry_points

from gan_zoo.errors import UserError

PLACES = ("generator", "data", "dataset", "evaluator", "extractor")  # where a file may name a class
NESTED = {"dataset": "dataset", "extractor": "extractor"}  # argument name -> the place of the config it holds
PARTIAL = {"dataset"}  # places where a factory (`_partial_: true`) is expected
PLAIN = (type(None), bool, int, float, str)


def entry_point_group(place: str) -> str:
    return f"gan_zoo.{place}s"


def allowed(place: str) -> set[str]:
    """The names a file may give for `place`: those installed packages declare in the place's entry-point group,
    gan_zoo's own included (its pyproject.toml declares its networks, data, evaluator and extractors there, where
    a package of yours declares its own: a new model edits no file of gan_zoo)."""
    names = {entry.value.replace(":", ".") for entry in entry_points(group=entry_point_group(place))}
    if not any(name.startswith("gan_zoo.") for name in names):
        raise UserError(f"gan_zoo's own classes are not declared (no '{entry_point_group(place)}' entry points of "
                        "gan_zoo): it is not installed; install it with pip install -e . (or pip install .)")
    return names


def _refuse(source: str, what: str, where: str, place: str) -> UserError:
    return UserError(
        f"refusing '{source}': its stored config asks for {what} at {where}, which gan_zoo does not build from a "
        f"file (allowed {place}s: {', '.join(sorted(allowed(place)))}); nothing was built or run. A class of your "
        f"own opts in through the '{entry_point_group(place)}' entry point of its package (README: 'Checkpoints "
        "from others are safe to open')")


def check(config, place: str, source: str, where: str = "") -> None:
    """Raise a UserError unless `config` describes an allowed object for `place` (see the module's rules)."""
    where = where or place
    if not isinstance(config, dict) or not isinstance(config.get("_target_"), str):
        raise _refuse(source, f"a {type(config).__name__} without a _target_ string", where, place)
    if config["_target_"] not in allowed(place):
        raise _refuse(source, f"'{config['_target_']}'", f"{where}._target_", place)
    for key, value in config.items():
        if key == "_target_" or (key == "_partial_" and value is True and place in PARTIAL):
            continue
        if not isinstance(key, str) or not key.isidentifier() or key.startswith("_"):
            raise _refuse(source, f"the special key {key!r}", where, place)
        if key in NESTED and isinstance(value, dict):
            check(value, NESTED[key], source, f"{where}.{key}")
        else:
            _check_plain(value, source, f"{where}.{key}", place)


def _check_plain(value, source: str, where: str, place: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, PLAIN) or (isinstance(key, str) and key.startswith("_") and key.endswith("_")):
                raise _refuse(source, f"the special key {key!r}", where, place)
            _check_plain(item, source, f"{where}.{key}", place)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, source, f"{where}[{i}]", place)
    elif not isinstance(value, PLAIN):
        raise _refuse(source, f"a value of type {type(value).__name__}", where, place)


def _resolve(name: str):
    module, _, attribute = name.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def build(config: dict, place: str, source: str, **given):
    """The object a stored config describes, after `check`; `given` adds or replaces arguments (sizes that come
    from elsewhere, paths that are the user's to choose, never the file's)."""
    check(config, place, source)
    return _build(config, place, given)


def _build(config: dict, place: str, given: dict):
    kwargs = {k: (_build(v, NESTED[k], {}) if k in NESTED and isinstance(v, dict) else v)
              for k, v in config.items() if not k.startswith("_")}
    factory = _resolve(config["_target_"])
    kwargs |= given
    return functools.partial(factory, **kwargs) if config.get("_partial_") else factory(**kwargs)
