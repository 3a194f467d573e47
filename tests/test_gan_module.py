"""The shared adversarial step: what each half changes, the EMA, the images-seen counter."""

import lightning as L
import pytest
import torch
from hydra.utils import instantiate

from gan_zoo.ema import EMA
from gan_zoo.networks.dcgan import Discriminator, Generator
from tests.helpers import TINY, compose_config


def _params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


def _build(tmp_path, overrides=()):
    cfg = compose_config(tmp_path, [*TINY, *overrides])
    dm = instantiate(cfg.data)
    sizes = dict(resolution=dm.resolution, channels=dm.channels)
    module = instantiate(
        cfg.model.module,
        generator=instantiate(cfg.model.generator, **sizes),
        discriminator=instantiate(cfg.model.discriminator, **sizes),
        objective=instantiate(cfg.loss.objective),
        regularizers={k: instantiate(v) for k, v in cfg.loss.regularizers.items()},
    )
    trainer = L.Trainer(
        accelerator="cpu", max_steps=-1, max_epochs=1, limit_train_batches=2, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )
    return module, dm, trainer


@pytest.mark.parametrize("loss", ["nonsaturating", "wgan_gp", "nonsaturating_r1"])
def test_d_step_leaves_g_unchanged_and_g_step_leaves_d_unchanged(tmp_path, loss):
    module, dm, trainer = _build(tmp_path, [f"loss={loss}"])
    checked = {"d": 0, "g": 0}
    d_step, g_step = module.d_step, module.g_step

    def checked_d_step(real, opt, c=None):
        g_before, d_before = _params(module.generator), _params(module.discriminator)
        logs = d_step(real, opt, c)
        assert _same(g_before, _params(module.generator)), "the D step changed G"
        assert not _same(d_before, _params(module.discriminator)), "the D step did not change D"
        checked["d"] += 1
        return logs

    def checked_g_step(n, opt, c=None):
        g_before, d_before = _params(module.generator), _params(module.discriminator)
        logs = g_step(n, opt, c)
        assert _same(d_before, _params(module.discriminator)), "the G step changed D"
        assert not _same(g_before, _params(module.generator)), "the G step did not change G"
        checked["g"] += 1
        return logs

    module.d_step, module.g_step = checked_d_step, checked_g_step
    trainer.fit(module, datamodule=dm)
    assert checked == {"d": 2, "g": 2}
    assert int(module.images_seen) == 2 * dm.batch_size  # counted in images, not optimizer steps
    assert trainer.global_step == 4  # Lightning counts both optimizers' steps


def test_n_critic_runs_g_every_n_d_steps(tmp_path):
    module, dm, trainer = _build(tmp_path, ["model.module.n_critic=2"])
    calls = []
    g_step = module.g_step
    module.g_step = lambda n, opt, c=None: calls.append(n) or g_step(n, opt, c)
    trainer.fit(module, datamodule=dm)
    assert len(calls) == 1 and int(module.d_steps) == 2


def test_lazy_regularizer_runs_every_interval_d_steps(tmp_path):
    module, dm, trainer = _build(tmp_path, ["loss=nonsaturating_r1", "loss.regularizers.r1.interval=2"])
    trainer.limit_train_batches = 3
    r1, calls = module.regularizers["r1"], []

    class Recording:
        weight, interval, needs_real_grad = r1.weight, r1.interval, r1.needs_real_grad

        def __call__(self, *args):
            calls.append(int(module.d_steps))
            return r1(*args)

    module.regularizers["r1"] = Recording()
    trainer.fit(module, datamodule=dm)
    assert calls == [0, 2]


def test_ema_moves_toward_generator_by_half_life():
    torch.manual_seed(0)
    g = Generator(resolution=8, channels=1, latent_dim=4, width=4)
    ema = EMA(g, half_life_images=1000)
    ema.update(g, batch_images=100, images_seen=0)  # the first update copies G
    assert _same(_params(ema.module), _params(g))
    before = _params(ema.module)
    with torch.no_grad():
        for p in g.parameters():
            p.add_(torch.randn_like(p))
    ema.update(g, batch_images=100, images_seen=100)
    beta = 0.5 ** (100 / 1000)
    for old, new, target in zip(before, _params(ema.module), _params(g)):
        torch.testing.assert_close(new, beta * old + (1 - beta) * target)
    assert ema.beta == pytest.approx(beta)


def test_ema_rampup_shortens_the_early_half_life():
    g = Generator(resolution=8, channels=1, latent_dim=4, width=4)
    ema = EMA(g, half_life_images=10_000, rampup=0.05)
    assert ema.decay(batch_images=32, images_seen=1000) == pytest.approx(0.5 ** (32 / 50))
    assert ema.decay(batch_images=32, images_seen=10**7) == pytest.approx(0.5 ** (32 / 10_000))


def test_sample_latents_are_a_buffer_saved_in_the_state_dict(tmp_path):
    module, _, _ = _build(tmp_path)
    state = module.state_dict()
    assert "sample_z" in state and "images_seen" in state
    other, _, _ = _build(tmp_path, ["model.module.sample_seed=1"])
    assert not torch.equal(other.sample_z, module.sample_z)
    other.load_state_dict(state)
    assert torch.equal(other.sample_z, module.sample_z)


@pytest.mark.parametrize("resolution", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes(resolution, channels):
    g = Generator(resolution=resolution, channels=channels, latent_dim=8, width=4)
    d = Discriminator(resolution=resolution, channels=channels, width=4)
    images = g(torch.randn(2, 8))
    assert images.shape == (2, channels, resolution, resolution)
    assert images.abs().max() <= 1.0
    assert d(images).shape == (2,)


def test_dcgan_rejects_resolution_that_is_not_a_power_of_two():
    with pytest.raises(ValueError, match="power-of-two resolution >= 8, got 28"):
        Generator(resolution=28, channels=1)
