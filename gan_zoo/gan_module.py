"""The one adversarial training step that every model of the zoo uses.

Networks, objective, regularizers and optimizers are built elsewhere (Hydra `_target_`) and passed
in: this module imports no specific network. Per batch:

1. D step: D learns real vs. G(z) under the objective, plus each regularizer that is due
   (every `interval` D steps, scaled by `interval`: lazy regularization, Karras et al. 2020).
2. G step, every `n_critic` D steps: G learns to fool D.
3. EMA: the averaged generator (used for samples and metrics) moves toward G.

Networks compiled with `torch.compile` (trainer.compile=true) run eagerly in the steps where a second-order
regularizer (R1, gradient penalty, path length) is due: compiled graphs have no double backward.

Everything scheduled is driven by `images_seen` (a buffer, so it lives in checkpoints), not by
Lightning's `global_step`, which counts every optimizer step of both optimizers.

FreezeD (Mo et al. 2020, `freeze_d=K`): the discriminator's first K blocks from the image side
(`blocks_from_image()`, gan_zoo.contract) keep their weights: they are left out of D's optimizer and need no gradient
(the gradient still flows through them to the images, for R1 and to G).

Labels: a conditional generator (`num_classes` > 0, gan_zoo.contract) gets the real batch's labels as c, for the
fakes of both steps, the discriminator, the regularizers and the EMA generator; an unconditional one is called
without c, exactly as before labels had a road.
"""
from contextlib import nullcontext
from typing import Callable, Mapping

import lightning as L
import torch
from torch import nn

from gan_zoo.contract import call, class_labels, discriminator_blocks, num_classes, one_hot
from gan_zoo.ema import EMA
from gan_zoo.errors import UserError


class GANModule(L.LightningModule):
    def __init__(
        self,
        generator: nn.Module,  # the generator contract (gan_zoo.contract): (z [N, latent_dim], c) -> images [N, C, H, W]
        discriminator: nn.Module,  # (images, c) -> logits [N]
        objective,  # gan_zoo.losses object with d_loss(real_logits, fake_logits) and g_loss(fake_logits)
        g_optimizer: Callable,  # partial optimizer, called with the generator's parameters
        d_optimizer: Callable,  # partial optimizer, called with the discriminator's parameters
        regularizers: Mapping | None = None,  # name -> D regularizer (gan_zoo.regularizers), None = none
        g_regularizers: Mapping | None = None,  # name -> G regularizer (e.g. PathLength), None = none
        n_critic: int = 1,  # D steps per G step (WGAN uses 5)
        ema_half_life_images: float = 10_000,  # EMA half-life in images, 0 = EMA equals G
        ema_rampup: float | None = None,  # EMA half-life ramp-up ratio, None = off
        augment: nn.Module | None = None,  # differentiable augmentation of D's inputs, None = identity
        schedule=None,  # e.g. gan_zoo.schedules.ProgressiveGrowing: update(module, images_seen), real_images(module, real)
        num_samples: int = 64,  # size of the fixed latent batch used for sample grids
        sample_seed: int = 0,  # seed of that batch
        channels_last: bool = False,  # NHWC weights and activations: ~10% faster for StyleGAN on CPU (RESULTS.md)
        freeze_d: int = 0,  # FreezeD: D's first K blocks from the image side keep their weights (fine-tuning), 0 = none
    ):
        super().__init__()
        self.automatic_optimization = False
        self.generator, self.discriminator = generator, discriminator
        self.generator_ema = EMA(generator, ema_half_life_images, ema_rampup)
        self.generator_ema.requires_grad_(False)
        self.objective, self.regularizers = objective, dict(regularizers or {})
        self.g_regularizers = nn.ModuleDict(dict(g_regularizers or {}))  # modules: their state is checkpointed
        self.augment = augment if augment is not None else nn.Identity()
        self.schedule, self.g_optimizer, self.d_optimizer = schedule, g_optimizer, d_optimizer
        self.n_critic, self.latent_dim, self.num_classes = n_critic, generator.latent_dim, num_classes(generator)
        self.register_buffer("images_seen", torch.zeros((), dtype=torch.long))
        self.register_buffer("d_steps", torch.zeros((), dtype=torch.long))
        self.register_buffer("g_steps", torch.zeros((), dtype=torch.long))
        # A buffer, so it is saved in checkpoints and follows the module to its device.
        seed = torch.Generator().manual_seed(sample_seed)
        self.register_buffer("sample_z", torch.randn(num_samples, self.latent_dim, generator=seed))
        if self.num_classes:  # the sample grid's labels: the classes in turn (a buffer only where there are labels)
            self.register_buffer("sample_c", class_labels(num_samples, self.num_classes))
        if channels_last:  # 4-d parameters and buffers (and so Adam's moments and the convolutions' outputs)
            self.to(memory_format=torch.channels_last)
        self.freeze_d = freeze_d
        for block in self.frozen_d_blocks():
            block.requires_grad_(False)

    def frozen_d_blocks(self) -> list[nn.Module]:
        """The discriminator blocks FreezeD keeps fixed (none when freeze_d is 0)."""
        if not self.freeze_d:
            return []
        blocks = discriminator_blocks(self.discriminator)
        if not 0 <= self.freeze_d <= len(blocks):
            raise UserError(f"model.module.freeze_d={self.freeze_d}: the discriminator has {len(blocks)} blocks before "
                            f"its output head; give 0 .. {len(blocks)}")
        return blocks[: self.freeze_d]

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Images [N, C, H, W] in [-1, 1] from the EMA generator."""
        return call(self.generator_ema, z, c)

    def on_fit_start(self) -> None:
        if hasattr(self.schedule, "on_fit_start"):  # a schedule may set up what it needs (PGGAN: batch sizes)
            self.schedule.on_fit_start(self, self.trainer)

    def configure_optimizers(self):
        frozen = {id(p) for block in self.frozen_d_blocks() for p in block.parameters()}
        d_parameters = [p for p in self.discriminator.parameters() if id(p) not in frozen]
        return self.g_optimizer(self.generator.parameters()), self.d_optimizer(d_parameters)

    def _latents(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, device=self.device)

    def _labels(self, labels: torch.Tensor | None) -> torch.Tensor | None:
        """c [N, num_classes] from the batch's integer labels; None for an unconditional model."""
        if not self.num_classes:
            return None
        if labels is None:
            raise ValueError("a conditional model needs (image, label) batches")
        return one_hot(labels, self.num_classes).to(self.device)

    @staticmethod
    def _eager_if_second_order(due) -> object:
        second_order = any(getattr(r, "second_order", False) for r in due)
        return torch.compiler.set_stance("force_eager") if second_order else nullcontext()

    def d_step(self, real: torch.Tensor, d_opt, c: torch.Tensor | None = None) -> dict:
        """One discriminator update on a real batch [N, C, H, W] (labels c), with the regularizers that are due."""
        due = {k: r for k, r in self.regularizers.items() if int(self.d_steps) % r.interval == 0}
        with self._eager_if_second_order(due.values()):
            return self._d_update(real, d_opt, due, c)

    def _d_update(self, real: torch.Tensor, d_opt, due: dict, c: torch.Tensor | None) -> dict:
        self.toggle_optimizer(d_opt)
        with torch.no_grad():
            fake = call(self.generator, self._latents(real.shape[0]), c)
        if any(r.needs_real_grad for r in due.values()):
            real = real.detach().requires_grad_(True)
        real_logits = call(self.discriminator, self.augment(real), c)  # [N]
        fake_logits = call(self.discriminator, self.augment(fake), c)  # [N]
        d_loss = self.objective.d_loss(real_logits, fake_logits)
        logs = self.augment.update(real_logits) if hasattr(self.augment, "update") else {}
        logs |= {"train/d_loss": d_loss.detach(), "train/d_real": real_logits.detach().mean(),
                "train/d_fake": fake_logits.detach().mean()}
        for name, reg in due.items():
            penalty = reg(self.discriminator, real, fake, real_logits, c)
            d_loss = d_loss + penalty * (reg.weight * reg.interval)
            logs[f"train/reg_{name}"] = penalty.detach()
        d_opt.zero_grad(set_to_none=True)
        self.manual_backward(d_loss)
        d_opt.step()
        self.untoggle_optimizer(d_opt)
        self.d_steps += 1
        return logs

    def g_step(self, n: int, g_opt, c: torch.Tensor | None = None) -> dict:
        """One generator update on n fresh latents (labels c); D's weights are frozen meanwhile."""
        due = {k: r for k, r in self.g_regularizers.items() if int(self.g_steps) % r.interval == 0}
        with self._eager_if_second_order(due.values()):
            return self._g_update(n, g_opt, due, c)

    def _g_update(self, n: int, g_opt, due: dict, c: torch.Tensor | None) -> dict:
        self.toggle_optimizer(g_opt)
        fake_logits = call(self.discriminator, self.augment(call(self.generator, self._latents(n), c)), c)
        g_loss = self.objective.g_loss(fake_logits)
        logs = {"train/g_loss": g_loss.detach()}
        for name, reg in due.items():
            penalty = reg(self.generator, n, self._latents, c)
            g_loss = g_loss + penalty * (reg.weight * reg.interval)
            logs[f"train/reg_{name}"] = penalty.detach()
        g_opt.zero_grad(set_to_none=True)
        self.manual_backward(g_loss)
        g_opt.step()
        self.untoggle_optimizer(g_opt)
        self.g_steps += 1
        return logs

    def training_step(self, batch, batch_idx: int) -> None:
        batch = list(batch) if isinstance(batch, (list, tuple)) else [batch]  # (images,) or (images, labels)
        real, labels = batch[0], (batch[1] if len(batch) > 1 else None)  # [N, C, H, W] in [-1, 1], [N]
        c = self._labels(labels)  # [N, num_classes], None when unconditional
        g_opt, d_opt = self.optimizers()
        images = real.shape[0] * self.trainer.world_size
        logs = {}
        if self.schedule is not None:  # everything scheduled follows from images seen
            logs |= self.schedule.update(self, int(self.images_seen))
            real = self.schedule.real_images(self, real)
        logs |= self.d_step(real, d_opt, c)
        if int(self.d_steps) % self.n_critic == 0:
            logs |= self.g_step(real.shape[0], g_opt, c)
            self.generator_ema.update(self.generator, images, int(self.images_seen))
        self.images_seen += images
        self.log_dict(logs, on_step=True, on_epoch=False)
        self.log("kimg", self.images_seen.float() / 1000, prog_bar=True, on_step=True, on_epoch=False)
