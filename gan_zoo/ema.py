"""Exponential moving average of the generator's weights (Karras et al. 2018, Sec. 4.1)."""
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel


class EMA(AveragedModel):
    """An `AveragedModel` whose decay per step follows a half-life counted in images.

    beta = 0.5 ** (batch_images / half_life): the weight of an old value halves every
    `half_life_images` images whatever the batch size (so PGGAN's per-resolution batch sizes keep
    the same smoothing). Buffers (e.g. BatchNorm statistics) are copied, not averaged.
    """

    def __init__(
        self,
        model: nn.Module,
        half_life_images: float = 10_000,  # images for an old weight's share to halve; 0 = EMA equals G
        rampup: float | None = None,  # cap the half-life at rampup * images_seen early on (StyleGAN2: 0.05), None = off
    ):
        super().__init__(model, multi_avg_fn=self._lerp, use_buffers=False)
        self.half_life_images, self.rampup, self.beta = half_life_images, rampup, 0.0

    def _lerp(self, ema_params: list[torch.Tensor], params: list[torch.Tensor], num_averaged) -> None:
        torch._foreach_lerp_(ema_params, params, 1.0 - self.beta)  # ema <- beta * ema + (1 - beta) * p

    def decay(self, batch_images: int, images_seen: int) -> float:
        half_life = self.half_life_images
        if self.rampup is not None:
            half_life = min(half_life, images_seen * self.rampup)
        return 0.5 ** (batch_images / half_life) if half_life > 0 else 0.0

    @torch.no_grad()
    def update(self, model: nn.Module, batch_images: int, images_seen: int) -> None:
        self.beta = self.decay(batch_images, images_seen)
        self.update_parameters(model)
        for ema_buffer, buffer in zip(self.module.buffers(), model.buffers()):
            ema_buffer.copy_(buffer)
