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
import inspect
import math
import types
import typing
import warnings
from importlib.metadata import entry_points

import torch

from gan_zoo.errors import UserError

PLACES = ("generator", "data", "dataset", "evaluator", "extractor")  # where a file may name a class
NESTED = {"dataset": "dataset", "extractor": "extractor"}  # argument name -> the place of the config it holds
PARTIAL = {"dataset"}  # places where a factory (`_partial_: true`) is expected
PLAIN = (type(None), bool, int, float, str)
# A generator read from a file is refused above these sizes (before it is built): its parameters and buffers
# (2^28 values: 1 GiB in float32, 8x the largest published StyleGAN) and its image side.
MAX_GENERATOR_VALUES = 2**28
MAX_RESOLUTION = 8192
AGAIN = "nothing was built. Write the file again with this gan_zoo (gan-zoo-train, gan-zoo-export)"


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
    try:
        check(config, place, source)
    except RecursionError as e:
        raise UserError(f"refusing '{source}': its stored config is nested thousands of levels deep; nothing was "
                        "built") from e
    return _build(config, place, given, source, place)


def _build(config: dict, place: str, given: dict, source: str, where: str):
    kwargs = {k: (_build(v, NESTED[k], {}, source, f"{where}.{k}") if k in NESTED and isinstance(v, dict) else v)
              for k, v in config.items() if not k.startswith("_")}
    factory = _resolve(config["_target_"])
    kwargs |= given
    _check_arguments(factory, {k: v for k, v in kwargs.items() if k not in NESTED}, source, where, config["_target_"])
    if config.get("_partial_"):
        return functools.partial(factory, **kwargs)
    if place == "generator":
        _check_size(factory, kwargs, source, config["_target_"])
    try:
        return factory(**kwargs)
    except TypeError as e:  # a file written for another version of the class
        raise UserError(f"'{source}' does not match {config['_target_']} ({_first_line(e)}); {AGAIN}") from e


def _first_line(error: Exception) -> str:
    return f"{type(error).__name__}: {str(error).splitlines()[0][:160] if str(error) else ''}"


def _check_arguments(factory, kwargs: dict, source: str, where: str, target: str) -> None:
    """A UserError for an argument `factory` does not take, or a value of another type than its signature says."""
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # (a builtin without a signature: nothing to check against)
        return
    try:
        hints = typing.get_type_hints(factory.__init__ if isinstance(factory, type) else factory)
    except (TypeError, NameError):  # annotations that do not resolve: the defaults' types only
        hints = {}
    takes_any = any(p.kind == p.VAR_KEYWORD for p in parameters.values())
    for name, value in kwargs.items():
        if name not in parameters:
            if takes_any:
                continue
            raise UserError(f"'{source}' does not match {target}: its stored config gives {where} the argument "
                            f"'{name}', which {target} does not take (it takes {', '.join(parameters)}); {AGAIN}")
        default = parameters[name].default
        expected = hints.get(name, type(default) if default not in (inspect.Parameter.empty, None) else None)
        if expected is not None and not _is_of(value, expected):
            raise UserError(f"'{source}': its stored config gives {where}.{name}={_short(value)}, not "
                            f"{_name(expected)} as {target} takes; {AGAIN}")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_of(value, expected) -> bool:
    """Whether a plain value fits a type annotation (int, float, bool, str, None, unions, lists, dicts); a float
    is a number that is not NaN; annotations of other kinds accept anything."""
    origin, args = typing.get_origin(expected), typing.get_args(expected)
    if origin in (typing.Union, types.UnionType):
        return any(_is_of(value, a) for a in args)
    if origin in (list, tuple):
        return isinstance(value, (list, tuple)) and all(_is_of(v, args[0]) for v in value) if args else \
            isinstance(value, (list, tuple))
    if origin is dict or expected is dict:
        return isinstance(value, dict)
    if expected is type(None):
        return value is None
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
    if expected is str:
        return isinstance(value, str)
    return True


def _name(expected) -> str:
    origin, args = typing.get_origin(expected), typing.get_args(expected)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_name(a) for a in args)
    if origin in (list, tuple) and args:
        return f"a list ({_name(args[0])} each)"
    names = {int: "a whole number", float: "a number", bool: "true or false", str: "a string", type(None): "null"}
    return names.get(expected, getattr(expected, "__name__", str(expected)))


def _check_size(factory, kwargs: dict, source: str, target: str) -> None:
    """Build the generator on the meta device (no memory) and refuse it when it is too large or broken: before the
    real build allocates what a file asks for."""
    resolution = kwargs.get("resolution")
    if isinstance(resolution, int) and not 4 <= resolution <= MAX_RESOLUTION:
        raise UserError(f"'{source}' asks for a {target} of resolution {resolution}; gan_zoo builds 4 to "
                        f"{MAX_RESOLUTION} from a file: a damaged or hostile file, nothing was built")
    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (PyTorch's note on zero-size tensors: the checks below say more)
            network = factory(**kwargs)
    except UserError:
        raise
    except Exception as e:  # e.g. a negative size: a file that does not match the class
        raise UserError(f"'{source}': its stored {target} does not build ({_first_line(e)}); {AGAIN}") from e
    values = sum(t.numel() for t in (*network.parameters(), *network.buffers()))
    if values > MAX_GENERATOR_VALUES:
        raise UserError(f"'{source}' asks for a {target} of {values:.3g} weights (over {MAX_GENERATOR_VALUES:.3g}, "
                        f"{values * 4 / 2**30:.3g} GiB): a damaged or hostile file, nothing was allocated")
    sizes = {"latent_dim": getattr(network, "latent_dim", None), "channels": getattr(network, "channels", None)}
    if not isinstance(sizes["latent_dim"], int) or sizes["latent_dim"] < 1 or sizes["channels"] not in (1, 3):
        raise UserError(f"'{source}' asks for a {target} with latent_dim={sizes['latent_dim']!r} and channels="
                        f"{sizes['channels']!r}: a generator takes latents of a size >= 1 and makes images of 1 or 3 "
                        "channels; nothing was built")
