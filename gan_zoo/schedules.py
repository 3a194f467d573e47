"""Schedules over images seen, applied by the shared step before each batch."""
import math

import torch
import torch.nn.functional as F


def level_and_alpha(progress: float) -> tuple[int, float]:
    """p -> (level L, alpha): alpha < 1 while level L fades in over level L - 1."""
    level = math.ceil(progress)
    return level, (1.0 if level == progress else progress - (level - 1))


class ProgressiveGrowing:
    """PGGAN's resolution schedule (Karras et al. 2018, Sec. 3 and A.1): level 0 (4x4) is trained for
    `images_per_stable` images, then each next level fades in over `images_per_fade` images and is
    trained alone for `images_per_stable`. Sets `progress` on the generator and discriminator, and
    shows real images at the current resolution (with the same fade-in blend)."""

    def __init__(
        self,
        images_per_fade: int = 600_000,  # images to fade a new level in (the paper: 800k)
        images_per_stable: int = 600_000,  # images to train each level alone (the paper: 800k)
        start_level: int = 0,  # 0 = start at 4x4
        learning_rates: dict | None = None,  # {resolution: lr} for both optimizers, e.g. {512: 1.5e-3, 1024: 2e-3}
        batch_sizes: dict | None = None,  # {resolution: batch size}, e.g. {256: 14, 512: 6, 1024: 3}; others: data.batch_size
    ):
        self.images_per_fade, self.images_per_stable, self.start_level = images_per_fade, images_per_stable, start_level
        self.learning_rates = {int(k): float(v) for k, v in (learning_rates or {}).items()}
        self.batch_sizes = {int(k): int(v) for k, v in (batch_sizes or {}).items()}

    def batch_size(self, images_seen: int, epoch_images: int, max_level: int, default: int) -> int:
        """The batch size for an epoch starting at `images_seen`: the smallest configured for any level the
        epoch can reach (it lasts at most `epoch_images`), so a level change mid-epoch never meets a batch
        too large for it. Changes take effect at epoch boundaries, where the data loader is rebuilt."""
        first = level_and_alpha(self.progress(images_seen, max_level))[0]
        last = level_and_alpha(self.progress(images_seen + epoch_images, max_level))[0]
        return min(self.batch_sizes.get(4 * 2**level, default) for level in range(first, last + 1))

    def on_fit_start(self, module, trainer) -> None:
        """With batch sizes per resolution, the data module asks for each epoch's batch size (a new loader per epoch)."""
        if self.batch_sizes:
            data = trainer.datamodule
            data.batch_size_fn = lambda: self.batch_size(int(module.images_seen), len(data.dataset),
                                                         module.generator.max_level, data.batch_size)
            trainer.reload_dataloaders_every_n_epochs = 1

    def progress(self, images_seen: int, max_level: int) -> float:
        t = images_seen - self.images_per_stable
        level = self.start_level
        while t >= 0 and level < max_level:
            if t < self.images_per_fade:
                return level + t / self.images_per_fade
            t -= self.images_per_fade + self.images_per_stable
            level += 1
        return float(level)

    def update(self, module, images_seen: int) -> dict:
        progress = self.progress(images_seen, module.generator.max_level)
        for net in (module.generator, module.discriminator):
            net.progress.fill_(progress)
        level, alpha = level_and_alpha(progress)
        resolution = 4 * 2**level
        if resolution in self.learning_rates:  # the resolution being trained (or faded in) sets the rate
            for optimizer in module.optimizers():
                for group in optimizer.param_groups:
                    group["lr"] = self.learning_rates[resolution]
        return {"schedule/resolution": resolution, "schedule/alpha": alpha}

    def real_images(self, module, real: torch.Tensor) -> torch.Tensor:
        """Reals at the current level, blended like the generator's output, back at full size [N, C, R, R]."""
        level, alpha = module.generator.current()
        factor = 2 ** (module.generator.max_level - level)
        if factor == 1 and alpha == 1:
            return real
        x = F.avg_pool2d(real, factor) if factor > 1 else real
        if alpha < 1:
            x = torch.lerp(F.interpolate(F.avg_pool2d(x, 2), scale_factor=2), x, alpha)
        return F.interpolate(x, scale_factor=factor) if factor > 1 else x
