"""A fine-tuned run's first weights: the source's generator, its EMA and its discriminator loaded into the networks
the run built (gan_zoo.commands.init_settings decided how), layer by layer in the networks' own order, so that the
first layer whose shape differs is the one named. What the plan adapts starts fresh: the levels above a smaller
PGGAN source's, the layers that read or write the image channels when data.channels differs. Everything else the
run does not take (optimizers, step and image counts, the EMA ramp-up, the schedule) is fresh by construction."""
from torch import nn

from gan_zoo.commands.init_settings import Plan
from gan_zoo.errors import UserError
from gan_zoo.networks.progan import level_of

SET_BY_THE_SCHEDULE = ("progress",)  # progressive networks' level: the run's schedule sets it, from its start level
FRESH = "optimizers, step and image counts, the EMA ramp-up, the schedule"


def _channels_only(theirs: tuple, ours: tuple, channels: set[int]) -> bool:
    """Shapes that differ in one dimension only, between the source's and the data's image channels."""
    differ = [i for i, (a, b) in enumerate(zip(theirs, ours)) if a != b]
    return len(theirs) == len(ours) and len(differ) == 1 and {theirs[differ[0]], ours[differ[0]]} == channels


def _mismatch(plan: Plan, name: str, key: str, theirs, ours) -> UserError:
    hint = ("give " + "; ".join(plan.conflicts) if plan.conflicts else
            "the source's networks differ from what its settings build here: give its settings, or drop those given")
    return UserError(f"init='{plan.source.spec}': the {name}'s {key} is {theirs} in the source and {ours} in the "
                     f"networks this config builds; {hint}")


def load(network: nn.Module, state: dict, name: str, plan: Plan, channels: int) -> list[str]:
    """Load `state` into `network` (which reads or writes images of `channels`); returns the layers whose channels
    were re-initialised. The plan's other adaptation (levels above a smaller PGGAN source's) stays fresh silently;
    any other difference is refused in one line."""
    own, fresh, reinitialised = network.state_dict(), set(), []
    for key, mine in own.items():
        if key.split(".")[-1] in SET_BY_THE_SCHEDULE:
            continue
        theirs = state.get(key)
        if theirs is None:
            if plan.grow_from is not None and (level_of(key) or 0) > plan.grow_from:
                fresh.add(key)
                continue
            raise _mismatch(plan, name, key, "absent", list(mine.shape))
        if tuple(theirs.shape) != tuple(mine.shape):
            if plan.reinit_channels and _channels_only(tuple(theirs.shape), tuple(mine.shape),
                                                       {plan.source.channels, channels}):
                fresh.add(key)
                reinitialised.append(key)
                continue
            raise _mismatch(plan, name, key, list(theirs.shape), list(mine.shape))
    if extra := [k for k in state if k not in own and k.split(".")[-1] not in SET_BY_THE_SCHEDULE]:
        raise _mismatch(plan, name, extra[0], list(state[extra[0]].shape), "absent")
    network.load_state_dict({k: (v if k in fresh or k not in state else state[k]) for k, v in own.items()})
    return reinitialised


def take_weights(module: nn.Module, plan: Plan) -> str:
    """The source's networks into a GANModule's; returns the start line (what was taken from where, what adapted,
    what starts fresh)."""
    source, channels = plan.source, module.generator.channels  # (the data's)
    reinitialised = load(module.generator, source.generator, "generator", plan, channels)
    load(module.generator_ema.module, source.generator_ema, "EMA generator", plan, channels)
    if source.discriminator is not None:
        reinitialised += [f"discriminator {k}" for k in load(module.discriminator, source.discriminator,
                                                             "discriminator", plan, channels)]
    for network in (module.generator, module.generator_ema.module, module.discriminator):
        if plan.start_level is not None and hasattr(network, "progress"):
            network.progress.fill_(float(plan.start_level))
    ema = "its EMA" if source.generator_ema is not source.generator else "(also as its EMA)"
    taken = f"the generator, {ema} and the discriminator" if source.discriminator is not None else \
        f"the generator {ema}"
    parts = [f"init: took {taken} from the {source.kind} '{source.path}' (sha256 {source.sha256[:16]})"]
    if plan.taken:
        parts.append("its architecture: " + ", ".join(plan.taken))
    if plan.grow_from is not None:
        parts.append(f"grows on from its {4 * 2**plan.grow_from}x{4 * 2**plan.grow_from} networks (the levels above "
                     "start fresh)")
    if plan.start_level is not None:
        parts.append(f"the schedule starts at level {plan.start_level} ({4 * 2**plan.start_level}x"
                     f"{4 * 2**plan.start_level})")
    if reinitialised:
        layers = sorted({k.rsplit(".", 1)[0] for k in reinitialised})
        parts.append(f"{source.channels} -> {channels} channels: re-initialised {', '.join(layers)}")
    start_fresh = FRESH + ("" if source.discriminator is not None else ", the discriminator")
    return "; ".join(parts) + f"; fresh: {start_fresh}"
