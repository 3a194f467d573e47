"""What a resumed run takes from the config its checkpoint stored. The settings that shaped the run (its seed,
model with its optimizers, schedule and EMA, loss with its regularizers, augmentation, data) and its budget come
from the checkpoint unless the command line gives them; given with another value, a shaping setting is a change
of the run, refused unless the user accepts it (the commands say how). The checkpoint is a file: a value taken
from it may not choose code, so a `_target_` is taken only where the caller's list of targets names it."""
from gan_zoo.errors import UserError

# what shaped the run: a value given on the command line that differs from the stored one changes the run
SHAPING = ("seed", "model", "loss", "augment", "data")
# the run's budget and the length of its epochs (its evaluation schedule): stored values are taken when not
# given; a given value is how a run is continued further, never a change of the run
BUDGET = ("budget.max_kimg", "trainer.max_epochs", "trainer.limit_train_batches")
# this machine's business, never taken nor compared: loader processes, the decoded-image cache, downloading
MACHINE = ("data.num_workers", "data.dataset.cache_mib", "data.dataset.download")
PLAIN = (type(None), bool, int, float, str)


class _Absent:
    def __repr__(self) -> str:
        return "(none)"


ABSENT = _Absent()  # a setting one side does not have


def select(config: dict) -> dict:
    """The shaping and budget settings of a resolved config, as nested dicts (the old trainer.max_kimg read as
    budget.max_kimg), without the machine's settings."""
    picked = {key: config[key] for key in SHAPING if key in config}
    trainer, budget = (config.get(k) if isinstance(config.get(k), dict) else {} for k in ("trainer", "budget"))
    max_kimg = budget.get("max_kimg", trainer.get("max_kimg"))
    picked["budget"] = {"max_kimg": max_kimg}
    picked["trainer"] = {k: trainer[k] for k in ("max_epochs", "limit_train_batches") if k in trainer}
    for key in MACHINE:
        *parents, leaf = key.split(".")
        node = picked
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node = node.copy()  # never edit the caller's config
            node.pop(leaf, None)
            _put(picked, ".".join(parents), node)
    return picked


def _put(tree: dict, key: str, value) -> None:
    *parents, leaf = key.split(".")
    for part in parents:
        tree[part] = dict(tree[part])
        tree = tree[part]
    tree[leaf] = value


def differences(old: dict, new: dict, prefix: str = ""):
    """(key, old value, new value) for every setting that differs, a whole section where one side has none of it
    (`loss.regularizers.gp: (none) -> {...}`)."""
    if isinstance(old, dict) and isinstance(new, dict) and old and new:
        for key in sorted(old.keys() | new.keys(), key=str):
            yield from differences(old.get(key, ABSENT), new.get(key, ABSENT), f"{prefix}{key}.")
    elif old != new:
        yield prefix[:-1], old, new


def _within(key: str, prefixes) -> bool:
    return any(p == key or key.startswith(p + ".") or p.startswith(key + ".") for p in prefixes)


def _newer_argument(key: str, stored: dict, current: dict) -> bool:
    """Whether `key` is an argument of a class that both configs build (same `_target_`) that the stored one
    lacks: a setting added since the run was written, whose default then was the class's default."""
    parent = key.rpartition(".")[0]
    old, new = _get(stored, parent), _get(current, parent)
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return False
    return "_target_" in old and old["_target_"] == new.get("_target_")


def _get(tree, key: str):
    for part in key.split(".") if key else []:
        if not isinstance(tree, dict) or part not in tree:
            return ABSENT
        tree = tree[part]
    return tree


def plan(stored: dict, current: dict, given: set[str]) -> tuple[list, list]:
    """(changes, taken) between a checkpoint's stored config and today's, both resolved: `changes` are the shaping
    settings the command line gives (`given`: keys and sections it set) with another value; `taken` the settings
    it does not give, whose stored values (or absence) replace today's, as (key, stored value, today's value)."""
    old, new = select(stored), select(current)
    changes, taken = [], []
    for key, before, now in differences(old, new):
        if _within(key, given):
            if key.split(".")[0] in SHAPING:
                changes.append((key, before, now))
        elif not (before is ABSENT and _newer_argument(key, old, new)):
            taken.append((key, before, now))
    return changes, taken


def check_taken(taken: list, targets: dict[str, bool], source: str) -> None:
    """A UserError unless every value taken from the file is plain data that chooses no code: a `_target_` among
    `targets` (what the package's own configs name, -> whether they build it `_partial_`), `_partial_` as those
    configs have it, no other special key, no `${...}`."""
    for key, value, _ in taken:
        _check_value(key, value, targets, source)


def _check_value(key: str, value, targets: dict[str, bool], source: str) -> None:
    leaf = key.rpartition(".")[2]
    problem = None
    if value is ABSENT:  # dropping a setting chooses nothing
        return
    if leaf.startswith("_") and leaf.endswith("_") and leaf != "_target_":
        problem = f"the special key '{leaf}'"  # (a `_partial_` of gan_zoo's configs comes with its _target_)
    elif leaf == "_target_" and (not isinstance(value, str) or value not in targets):
        problem = f"the class {describe(value)!r}, which none of gan_zoo's configs names"
    elif isinstance(value, dict):
        target, partial = value.get("_target_"), value.get("_partial_", False)
        if target in targets and partial is not targets[target]:
            problem = f"_partial_={partial!r} for {target}, which gan_zoo's configs build otherwise"
        for k, v in value.items():
            if problem is None and k != "_partial_":
                _check_value(f"{key}.{k}", v, targets, source)
        if "_partial_" in value and target not in targets:
            problem = problem or "the special key '_partial_'"
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_value(f"{key}.{i}", v, targets, source)
    elif not isinstance(value, PLAIN):
        problem = f"a value of type {type(value).__name__}"
    elif isinstance(value, str) and ("${" in value or value == "???"):
        problem = f"the interpolation {value!r}"
    if problem:
        raise UserError(f"refusing to resume from '{source}': its stored config gives {key} {problem}; nothing was "
                        f"built or run. Give {key} on the command line if the run is yours")


def describe(value) -> str:
    """A stored or given value as one short piece of a line."""
    text = repr(value) if isinstance(value, str) and (value == "" or " " in value) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."
