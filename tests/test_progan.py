"""PGGAN: layers, levels and fade-in, the schedule, a run across a resolution change, resume in a fade."""
import math

import pytest
import torch
import torch.nn.functional as F

from gan_zoo.commands.train import train
from gan_zoo.networks.layers import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm
from gan_zoo.networks.progan import Discriminator, Generator
from gan_zoo.schedules import ProgressiveGrowing, level_and_alpha
from tests.helpers import BASE, compose_config


def _nets(resolution=32, channels=3):
    torch.manual_seed(0)
    g = Generator(resolution, channels, latent_dim=16, fmap_base=128, fmap_max=16)
    d = Discriminator(resolution, channels, fmap_base=128, fmap_max=16)
    return g, d


def _set(progress, *nets):
    for net in nets:
        net.progress.fill_(progress)


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_output_shapes_at_each_level(level):
    g, d = _nets()
    _set(level, g, d)
    images = g(torch.randn(4, 16))
    assert images.shape == (4, 3, 32, 32)  # always full size; level L has 4 * 2^L distinct pixels a side
    r = 4 * 2**level
    blocks = images.unfold(2, 32 // r, 32 // r).unfold(3, 32 // r, 32 // r)  # [N, C, r, r, k, k]
    assert torch.allclose(blocks, blocks[..., :1, :1].expand_as(blocks))  # nearest-upsampled from r x r
    assert d(images).shape == (4,)


def test_alpha_one_is_the_pure_current_level_and_alpha_zero_the_upsampled_previous_level():
    g, d = _nets()
    z = torch.randn(4, 16)
    _set(2.0, g)  # level 2 alone
    pure = g(z)
    _set(1.0 + 1 - 1e-9, g)  # level 2 fading in, alpha -> 1
    torch.testing.assert_close(g(z), pure, atol=1e-5, rtol=0)
    _set(1.0, g)  # level 1 alone
    previous = g(z)
    _set(1.0 + 1e-9, g)  # level 2 starts fading in, alpha -> 0
    torch.testing.assert_close(g(z), previous, atol=1e-5, rtol=0)


def test_discriminator_fade_in_is_continuous():
    g, d = _nets()
    images = torch.randn(4, 3, 32, 32)
    _set(1.0, d)
    before = d(images)
    _set(1.0 + 1e-9, d)
    torch.testing.assert_close(d(images), before, atol=1e-5, rtol=0)
    _set(2.0 - 1e-9, d)
    near_end = d(images)
    _set(2.0, d)
    torch.testing.assert_close(d(images), near_end, atol=1e-5, rtol=0)


def test_level_and_alpha():
    assert level_and_alpha(0.0) == (0, 1.0)
    assert level_and_alpha(2.0) == (2, 1.0)
    assert level_and_alpha(2.25) == (3, pytest.approx(0.25))


def test_equalized_layers_apply_their_runtime_scale():
    linear = EqualizedLinear(8, 3, gain=2.0)
    x = torch.randn(5, 8)
    torch.testing.assert_close(linear(x), x @ (linear.weight * 2.0 / math.sqrt(8)).T + linear.bias)
    conv = EqualizedConv2d(4, 2, 3)
    x = torch.randn(1, 4, 6, 6)
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight * math.sqrt(2) / math.sqrt(4 * 9), conv.bias, padding=1))
    assert conv.weight.std().item() == pytest.approx(1.0, abs=0.3)  # stored at unit scale
    slow = EqualizedLinear(8, 3, lr_multiplier=0.01)
    torch.testing.assert_close(slow(x := torch.randn(2, 8)), F.linear(x, slow.weight * slow.scale, slow.bias * 0.01))


def test_pixel_norm_on_a_known_input():
    x = torch.tensor([[3.0, 4.0]]).reshape(1, 2, 1, 1)  # mean of squares 12.5
    torch.testing.assert_close(PixelNorm(eps=0)(x).flatten(), torch.tensor([3.0, 4.0]) / math.sqrt(12.5))


def test_minibatch_stddev_on_a_known_input():
    x = torch.zeros(4, 2, 1, 1)
    x[:, 0, 0, 0] = torch.tensor([0.0, 1.0, 2.0, 3.0])  # groups of 2 over the batch: (0, 2) and (1, 3)
    y = MinibatchStdDev(group_size=2, eps=0)(x)
    assert y.shape == (4, 3, 1, 1)
    # std of (0, 2) = 1, of (1, 3) = 1 for channel 0; 0 for channel 1 -> mean 0.5 everywhere
    torch.testing.assert_close(y[:, 2].flatten(), torch.full((4,), 0.5))
    torch.testing.assert_close(y[:, :2], x)


def test_schedule_progress_over_images_seen():
    s = ProgressiveGrowing(images_per_fade=100, images_per_stable=200)
    assert [s.progress(t, max_level=2) for t in (0, 199, 200, 250, 300, 499, 500, 550, 600, 10_000)] == [
        0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 1.0, 1.5, 2.0, 2.0]


def test_real_images_follow_the_generator_blend():
    g, d = _nets()
    module = type("M", (), {"generator": g, "discriminator": d})()
    s = ProgressiveGrowing()
    real = torch.randn(2, 3, 32, 32)
    _set(1.5, g)  # level 2 (16x16) fading in at alpha 0.5
    x = s.real_images(module, real)
    at16 = F.avg_pool2d(real, 2)
    expected = F.interpolate(torch.lerp(F.interpolate(F.avg_pool2d(at16, 2), scale_factor=2), at16, 0.5), scale_factor=2)
    torch.testing.assert_close(x, expected)
    _set(3.0, g)
    assert s.real_images(module, real) is real


PGGAN_TINY = [
    "model=pggan", "model.generator.latent_dim=16", "model.generator.fmap_base=64", "model.generator.fmap_max=8",
    "model.discriminator.fmap_base=64", "model.discriminator.fmap_max=8",
    "model.module.schedule.images_per_stable=32", "model.module.schedule.images_per_fade=64", "metrics=none",
]


def test_a_run_across_a_resolution_change_and_resume_in_a_fade_in(tmp_path):
    import csv

    # 16x16: levels 0 (4x4), 1 (8x8), 2 (16x16). 4 batches of 16 an epoch: stable 0 for 32 images, then fade 8x8.
    overrides = [*BASE, *PGGAN_TINY, "trainer.limit_train_batches=4"]
    train(compose_config(tmp_path, [*overrides, "trainer.max_epochs=1"]))
    ckpt = tmp_path / "checkpoints" / "pggan_embedded" / "run" / "last.ckpt"
    state = torch.load(ckpt, weights_only=False)["state_dict"]
    assert int(state["images_seen"]) == 64
    assert state["generator.progress"].item() == pytest.approx(0.25)  # faded in 16 of 64 images when last set
    rows = list(csv.DictReader((tmp_path / "experiments" / "pggan_embedded" / "run" / "metrics.csv").open()))
    assert {r["schedule/resolution"] for r in rows if r.get("schedule/resolution")} == {"4.0", "8.0"}

    train(compose_config(tmp_path, [*overrides, "trainer.max_epochs=2", "ckpt=last"]))
    rows = list(csv.DictReader((tmp_path / "experiments" / "pggan_embedded" / "run" / "metrics.csv").open()))
    alphas = [float(r["schedule/alpha"]) for r in rows if r.get("schedule/alpha")]
    # images 64, 80, 96, 112 after the resume: alpha continues at 0.5, 0.75 (fade 32..96), then 8x8 alone
    assert alphas[4:] == [0.5, 0.75, 1.0, 1.0]
    assert torch.load(ckpt, weights_only=False)["state_dict"]["generator.progress"].item() == 1.0


def test_learning_rate_per_resolution():
    g, d = _nets()
    optimizers = [torch.optim.Adam(g.parameters(), lr=1e-3), torch.optim.Adam(d.parameters(), lr=1e-3)]
    module = type("M", (), {"generator": g, "discriminator": d, "optimizers": lambda self: optimizers})()
    s = ProgressiveGrowing(images_per_fade=100, images_per_stable=100, learning_rates={16: 5e-4})
    s.update(module, 0)  # 4x4: unchanged
    assert [o.param_groups[0]["lr"] for o in optimizers] == [1e-3, 1e-3]
    logs = s.update(module, 350)  # fading in 16x16
    assert logs["schedule/resolution"] == 16 and [o.param_groups[0]["lr"] for o in optimizers] == [5e-4, 5e-4]


def test_batch_size_per_resolution_policy():
    s = ProgressiveGrowing(images_per_fade=80, images_per_stable=80, batch_sizes={16: 4, 32: 2})
    assert s.batch_size(0, 40, max_level=3, default=8) == 8  # 4x4 all epoch
    assert s.batch_size(200, 40, max_level=3, default=8) == 8  # 8x8 all epoch
    assert s.batch_size(240, 40, max_level=3, default=8) == 4  # 16x16 starts fading in during the epoch
    assert s.batch_size(0, 10**6, max_level=3, default=8) == 2  # an epoch that reaches 32x32


def test_run_with_batch_size_per_resolution_and_resume_mid_epoch(tmp_path):
    from tests.test_configs import PAINTINGS

    overrides = [*BASE, *PGGAN_TINY, "data=image_folder", f"data.dataset.root={PAINTINGS}", "data.batch_size=8",
                 "data.num_workers=0", "metrics=none", "trainer.limit_train_batches=null", "trainer.max_epochs=7",
                 "model.module.schedule.images_per_stable=80", "model.module.schedule.images_per_fade=80",
                 "model.module.schedule.batch_sizes={16: 4}", "trainer.deterministic=true"]
    train(compose_config(tmp_path / "straight", overrides))
    ckpt = tmp_path / "straight" / "checkpoints" / "pggan_image_folder" / "run" / "last.ckpt"
    straight = torch.load(ckpt, weights_only=False)
    # epochs 0-5 at 8 images a batch (40 a epoch), epoch 6 reaches 16x16: batches of 4
    assert int(straight["state_dict"]["images_seen"]) == 7 * 40
    assert straight["GANDataModule"]["batch_size"] == 4

    stop = ["+callbacks.stop._target_=tests.helpers.SignalAtBatch", "+callbacks.stop.epoch=6", "+callbacks.stop.batch=3"]
    with pytest.raises(Exception, match="received SIGUSR1"):
        train(compose_config(tmp_path / "resumed", [*overrides, *stop]))
    train(compose_config(tmp_path / "resumed", [*overrides, "ckpt=last"]))
    resumed = torch.load(str(ckpt).replace("straight", "resumed"), weights_only=False)
    assert int(resumed["state_dict"]["images_seen"]) == 7 * 40
    for key, value in straight["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key]), key


def test_bf16_mixed_precision_run_with_the_gradient_penalty(tmp_path):
    """WGAN-GP mixes bf16 fakes (autocast) with fp32 reals: it used to fail with a dtype error."""
    trainer = train(compose_config(tmp_path, [*BASE, *PGGAN_TINY, "trainer.precision=bf16-mixed"]))
    assert trainer.precision == "bf16-mixed" and int(trainer.lightning_module.images_seen) == 3 * 16
