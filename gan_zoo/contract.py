"""What a model is: the attributes and calls that every tool above `networks/` codes against (the training step, the
metrics, generate, project, morph, export, the hub). A class meets the contract by having them; it inherits nothing.

Generator (every model)
    latent_dim, resolution, channels  ints: z is [N, latent_dim]; images are [N, channels, resolution, resolution]
    num_classes                       int, 0 = unconditional (then c is always None)
    forward(z, c=None)                -> images in [-1, 1]; c [N, num_classes] float (one-hot for class labels)

Style space (generators with a mapping network, e.g. StyleGAN; optional)
    w_dim, num_ws                     ints: ws is [N, num_ws, w_dim], one w per synthesis input
    w_avg                             [w_dim] the tracked average w (the truncation trick's centre)
    mapping(z, c=None)                -> w [N, w_dim], one w per image (no truncation, no mixing)
    synthesis(ws, noise=None, noise_mode=...)  -> images; noise_mode "const" (the model's fixed maps) or "random"
    noise_shapes                      list of (H, W): the model's per-pixel noise inputs, in order; `noise` given to
                                      synthesis is a list of [N, 1, H, W] maps in that order (projection optimises them)

Discriminator
    forward(x, c=None)                -> logits [N]; x [N, channels, resolution, resolution]
    blocks_from_image()               optional: its blocks in the order the image meets them (fromRGB with the first),
                                      without the output head: list of modules; FreezeD (model.module.freeze_d=K)
                                      keeps the first K fixed (Mo et al. 2020)

Labels: `c` is a float tensor [N, num_classes] (StyleGAN2-ADA's c), made from integer labels by `one_hot`. An
unconditional model is always called without c (None), so unconditional runs compute exactly as before labels
had a road.
"""
import torch
from torch import nn

from gan_zoo.errors import UserError

GENERATOR = ("latent_dim", "resolution", "channels")
STYLE_SPACE = ("w_dim", "num_ws", "w_avg", "mapping", "synthesis", "noise_shapes")


def num_classes(module: nn.Module) -> int:
    """The classes a generator or discriminator is conditioned on (0 = unconditional)."""
    return int(getattr(module, "num_classes", 0) or 0)


def has_style_space(generator: nn.Module) -> bool:
    """Whether the generator offers the style space (w, w_plus latents; truncation around w_avg)."""
    return all(hasattr(generator, name) for name in STYLE_SPACE)


def check_generator(generator: nn.Module, source: str = "the generator") -> nn.Module:
    """The generator itself, or a UserError naming what of the contract it lacks."""
    missing = [name for name in GENERATOR if not isinstance(getattr(generator, name, None), int)]
    if missing:
        raise UserError(f"{source} ({type(generator).__name__}) does not meet gan_zoo's generator contract: it lacks "
                        f"{', '.join(missing)} (gan_zoo.contract)")
    return generator


def discriminator_blocks(discriminator: nn.Module, setting: str = "model.module.freeze_d") -> list[nn.Module]:
    """The discriminator's blocks from the image side, or a UserError naming what it lacks."""
    if not callable(getattr(discriminator, "blocks_from_image", None)):
        raise UserError(f"{setting}: the discriminator {type(discriminator).__name__} does not say which blocks meet the "
                        "image first (it lacks blocks_from_image(), gan_zoo.contract): add it, or drop the setting")
    return list(discriminator.blocks_from_image())


def call(network: nn.Module, x: torch.Tensor, c: torch.Tensor | None, **kwargs):
    """network(x) for an unconditional model (called as before labels had a road), network(x, c) otherwise."""
    return network(x, **kwargs) if c is None else network(x, c, **kwargs)


def one_hot(labels: torch.Tensor, classes: int) -> torch.Tensor:
    """Integer labels [N] -> c [N, classes] float."""
    return torch.nn.functional.one_hot(labels.long(), classes).float()


def random_labels(n: int, classes: int, generator: torch.Generator | None = None) -> torch.Tensor | None:
    """c for n images of uniformly drawn classes; None for an unconditional model (no random number is drawn)."""
    if classes == 0:
        return None
    return one_hot(torch.randint(classes, (n,), generator=generator), classes)


def class_labels(n: int, classes: int, index: int | None = None) -> torch.Tensor | None:
    """c for n images: all of class `index`, or the classes in turn (0, 1, ..., classes - 1, 0, ...) when None."""
    if classes == 0:
        return None
    if index is not None and not 0 <= index < classes:
        raise UserError(f"class={index}: the generator has classes 0 .. {classes - 1}")
    labels = torch.full((n,), index) if index is not None else torch.arange(n) % classes
    return one_hot(labels, classes)


def truncate(generator: nn.Module, w: torch.Tensor, psi: float) -> torch.Tensor:
    """The truncation trick: w_avg + psi (w - w_avg) (psi = 1: w itself)."""
    return w if psi == 1 else generator.w_avg.to(w.dtype).lerp(w, psi)


def device_of(module: nn.Module) -> torch.device:
    """Where a module's tensors are (the CPU for a module without any)."""
    return next((t.device for t in (*module.parameters(), *module.buffers())), torch.device("cpu"))
