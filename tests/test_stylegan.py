"""StyleGAN-style networks, path length, differentiable augmentation, a short run with ADA and its resume."""
import math

import pytest
import torch

from gan_zoo.augment import DiffAugment
from gan_zoo.commands.train import train
from gan_zoo.errors import UserError
from gan_zoo.networks.stylegan import Discriminator, Generator, ModulatedConv2d
from gan_zoo.regularizers import PathLength
from tests.helpers import BASE, compose_config


def _generator(resolution=16, **kw):
    torch.manual_seed(0)
    return Generator(resolution, 3, latent_dim=16, w_dim=16, mapping_layers=2, fmap_base=128, fmap_max=16, **kw)


@pytest.mark.parametrize("resolution", [8, 16, 32])
def test_shapes_at_several_resolutions(resolution):
    g = _generator(resolution)
    d = Discriminator(resolution, 3, fmap_base=128, fmap_max=16)
    images, ws = g(torch.randn(4, 16), return_ws=True)
    assert images.shape == (4, 3, resolution, resolution)
    assert ws.shape == (4, g.num_ws, 16) and g.num_ws == 2 * int(math.log2(resolution)) - 2
    assert d(images).shape == (4,)


def test_demodulation_gives_unit_variance_outputs_for_unit_variance_inputs():
    torch.manual_seed(0)
    conv = ModulatedConv2d(64, 32, 3, w_dim=8)
    x = torch.randn(4, 64, 32, 32)
    with torch.no_grad():
        out = conv(x, torch.randn(4, 8) * 3)[:, :, 1:-1, 1:-1]  # interior: no zero padding
    assert out.var().item() == pytest.approx(1.0, abs=0.05)
    assert out.var(dim=(0, 2, 3)).sub(1).abs().max() < 0.15  # every output channel


@pytest.mark.parametrize("up,demodulate,kernel,resample", [(False, True, 3, "bilinear"), (True, True, 3, "bilinear"),
                                                          (False, False, 1, "bilinear"), (True, True, 3, "fir")])
def test_fused_and_non_fused_modulated_convolutions_agree_in_outputs_and_gradients(up, demodulate, kernel, resample):
    """The grouped (fused) and the scale-convolve-scale (non-fused) forms are the same maths (StyleGAN2 eq. 1-3)."""
    torch.manual_seed(0)
    conv = ModulatedConv2d(8, 6, kernel, w_dim=5, demodulate=demodulate, up=up, resample=resample)
    with torch.no_grad():
        conv.affine.weight.normal_()  # styles far from 1, so a wrong axis would show
    x, w = torch.randn(4, 8, 5, 5), torch.randn(4, 5)
    results = []
    for fused in (True, False):
        conv.fused = fused
        xi, wi = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
        conv.zero_grad()
        out = conv(xi, wi)
        (out * torch.linspace(-1, 1, out.numel()).reshape(out.shape)).sum().backward()
        results.append([out, xi.grad, wi.grad, conv.weight.grad, conv.affine.weight.grad])
    for fused, non_fused in zip(*results):
        torch.testing.assert_close(non_fused, fused, rtol=1e-4, atol=1e-5)
    assert results[0][0].shape == (4, 6, 10 if up else 5, 10 if up else 5)


def test_fir_resampling_keeps_a_constant_image_constant_away_from_the_border():
    from gan_zoo.networks.resample import conv_down, conv_up, downsample

    ones = torch.ones(1, 1, 8, 8)
    center = torch.zeros(1, 1, 3, 3)
    center[0, 0, 1, 1] = 1  # the identity kernel: only the resampling acts
    assert torch.allclose(conv_up(ones, center)[..., 2:-2, 2:-2], torch.ones(1, 1, 12, 12))
    assert conv_up(ones, center).shape == (1, 1, 16, 16)
    assert torch.allclose(conv_down(ones, center)[..., 1:-1, 1:-1], torch.ones(1, 1, 2, 2))
    assert torch.allclose(downsample(ones)[..., 1:-1, 1:-1], torch.ones(1, 1, 2, 2))


@pytest.mark.parametrize("resample", ["bilinear", "fir"])
def test_both_resamplings_have_the_same_parameters(resample):
    """A checkpoint's tensors fit either network (which one ran is in its stored config)."""
    def shapes(module):
        return {k: v.shape for k, v in module.state_dict().items()}

    assert shapes(_generator(resample=resample)) == shapes(_generator())
    assert shapes(Discriminator(16, 1, fmap_base=64, fmap_max=8, resample=resample)) == \
        shapes(Discriminator(16, 1, fmap_base=64, fmap_max=8))
    with pytest.raises(UserError, match="model.generator.resample='nearest': use one of bilinear, fir"):
        _generator(resample="nearest")


def test_the_automatic_choice_is_non_fused_for_batches_and_fused_on_request(monkeypatch):
    calls = []
    real_conv2d = torch.nn.functional.conv2d
    monkeypatch.setattr(torch.nn.functional, "conv2d",
                        lambda *a, **k: calls.append(k.get("groups", 1)) or real_conv2d(*a, **k))
    conv = ModulatedConv2d(3, 2, 3, w_dim=4)
    conv(torch.randn(5, 3, 4, 4), torch.randn(5, 4))
    assert calls == [1]  # a batch of 5: one ordinary convolution with the shared weight
    conv.fused = True
    conv(torch.randn(5, 3, 4, 4), torch.randn(5, 4))
    assert calls[-1] == 5


def test_truncation_with_psi_zero_gives_the_average_w_image_for_every_z():
    g = _generator().eval()
    with torch.no_grad():
        g.mapping.w_avg.normal_()
        a = g(torch.randn(3, 16), psi=0.0, noise_mode="const")
        b = g(torch.randn(3, 16), psi=0.0, noise_mode="const")
        avg = g.synthesis(g.mapping.w_avg[None, None].repeat(1, g.num_ws, 1), noise_mode="const")
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, avg.expand_as(a))


def test_w_average_is_tracked_while_training_only():
    g = _generator()
    g.train()(torch.randn(8, 16))
    tracked = g.mapping.w_avg.clone()
    assert tracked.abs().sum() > 0
    g.eval()(torch.randn(8, 16))
    assert torch.equal(g.mapping.w_avg, tracked)


def test_style_mixing_switches_styles_at_the_crossover_layer():
    g = _generator().eval()  # 16x16: ws 0 conv0 | 1 rgb0, conv1 | 2 conv2 | 3 rgb1, conv3 | 4 conv4 | 5 rgb2
    w1, w2 = torch.randn(2, 16), torch.randn(2, 16)
    seen = []
    layers = [*g.convs, *g.to_rgbs]
    hooks = [layer.conv.affine.register_forward_hook(lambda m, i, o: seen.append(i[0])) for layer in layers]
    g.synthesis(g.mix_styles(w1, w2, crossover=3), noise_mode="const")
    for h in hooks:
        h.remove()
    ws_index = [0, 1, 1, 2, 3, 3, 4, 5]  # in the order synthesis runs the layers
    assert len(seen) == len(ws_index) and g.num_ws == 6
    for index, style in zip(ws_index, seen):
        torch.testing.assert_close(style, w1 if index < 3 else w2)


def test_style_mixing_is_used_while_training():
    g = _generator(mixing_prob=1.0).train()
    torch.manual_seed(1)
    ws = g.styles(torch.randn(2, 16))
    assert not torch.equal(ws[:, 0], ws[:, -1])  # two latents, switched somewhere
    assert torch.equal(_generator(mixing_prob=0.0).train().styles(torch.ones(2, 16))[:, 0],
                       _generator(mixing_prob=0.0).train().styles(torch.ones(2, 16))[:, -1])


class _LinearGenerator(torch.nn.Module):
    """images = k * ws[:, 0] as a 1 x 4 x 4 image; the second style is unused: J^T y = (k y, 0)."""

    latent_dim = 16

    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, z, return_ws=False):
        ws = z[:, None].repeat(1, 2, 1)
        return (self.k * ws[:, 0]).reshape(-1, 1, 4, 4), ws


def test_path_length_penalty_on_a_linear_generator():
    z = torch.randn(6, 16)
    reg = PathLength(batch_shrink=1, decay=0.1)
    torch.manual_seed(0)
    penalty = reg(_LinearGenerator(3.0), 6, lambda n: z[:n].clone().requires_grad_(True))
    torch.manual_seed(0)
    y = torch.randn(6, 1, 4, 4) / 4  # drawn the same way: N(0, I) / sqrt(H W)
    lengths = 3.0 * y.flatten(1).norm(dim=1) / math.sqrt(2)  # sqrt(mean over the 2 styles of |grad|^2)
    a = 0.1 * lengths.mean()  # the running mean after one update from 0
    assert reg.mean.item() == pytest.approx(a.item(), rel=1e-5)
    assert penalty.item() == pytest.approx((lengths - a).square().mean().item(), rel=1e-4)


def test_augmentation_is_differentiable_and_identity_when_off():
    x = torch.rand(4, 3, 16, 16, requires_grad=True)
    assert DiffAugment(p=0.0)(x) is x
    torch.manual_seed(0)
    out = DiffAugment(p=1.0)(x)
    assert out.shape == x.shape and not torch.equal(out, x)
    out.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for policy in ("color", "translation", "cutout"):
        y = torch.rand(2, 3, 8, 8, requires_grad=True)
        DiffAugment(policy, p=1.0)(y).sum().backward()
        assert y.grad.abs().sum() > 0, policy


def test_adaptive_probability_follows_the_overfitting_signal():
    ada = DiffAugment(p=0.0, target=0.6, adjust_interval=2, adjust_images=100)
    for _ in range(4):
        ada.update(torch.ones(10))  # D is sure of every real: r_t = 1 > 0.6
    assert ada.p.item() == pytest.approx(0.4)  # 2 adjustments of 20 images / 100
    for _ in range(2):
        ada.update(-torch.ones(10))
    assert ada.p.item() == pytest.approx(0.2)
    assert "p" in ada.state_dict()


def test_the_logged_probability_is_the_one_after_the_adjustment():
    ada = DiffAugment(p=0.0, target=0.6, adjust_interval=1, adjust_images=100)
    logs = ada.update(torch.ones(10))  # r_t = 1 > 0.6: p rises by 10 / 100 at this step
    assert logs["augment/r_t"].item() == 1.0
    assert logs["augment/p"].item() == pytest.approx(0.1) == ada.p.item()
    logs = ada.update(-torch.ones(10))  # r_t = -1: back to 0
    assert logs["augment/p"].item() == 0.0 == ada.p.item()


STYLEGAN_TINY = [
    "model=stylegan", "model.generator.latent_dim=16", "model.generator.w_dim=16", "model.generator.mapping_layers=2",
    "model.generator.fmap_base=64", "model.generator.fmap_max=8", "model.discriminator.fmap_base=64",
    "model.discriminator.fmap_max=8", "loss.regularizers.r1.interval=2", "loss.g_regularizers.path_length.interval=2",
]


def test_short_run_with_adaptive_augmentation_and_its_resume(tmp_path):
    import csv

    overrides = [*BASE, *STYLEGAN_TINY, "augment=ada", "augment.p=0.5", "augment.adjust_interval=1",
                 "augment.adjust_images=320"]
    train(compose_config(tmp_path, overrides))
    ckpt = tmp_path / "checkpoints" / "stylegan_embedded" / "run" / "last.ckpt"
    state = torch.load(ckpt, weights_only=False)["state_dict"]
    p = state["augment.p"].item()
    assert p != 0.5 and abs(p - 0.5) <= 3 * 16 / 320 + 1e-6  # p moved, by 16/320 per D step at most
    assert state["g_regularizers.path_length.mean"].item() > 0
    rows = list(csv.DictReader((tmp_path / "experiments" / "stylegan_embedded" / "run" / "metrics.csv").open()))
    assert any(r.get("train/reg_path_length") for r in rows) and any(r.get("train/reg_r1") for r in rows)
    assert any(r.get("augment/p") for r in rows)
    train(compose_config(tmp_path, [*overrides, "trainer.max_epochs=2", "ckpt=last"]))
    resumed = torch.load(ckpt, weights_only=False)["state_dict"]
    assert int(resumed["images_seen"]) == 2 * 3 * 16
    assert abs(resumed["augment.p"].item() - p) <= 3 * 16 / 320 + 1e-6  # continued from the saved p


def test_generate_with_truncation_needs_a_stylegan_generator(tmp_path):
    from tests.helpers import TINY, run_cli

    train(compose_config(tmp_path / "s", [*BASE, *STYLEGAN_TINY]))
    train(compose_config(tmp_path / "d", TINY))
    style = tmp_path / "s" / "checkpoints" / "stylegan_embedded" / "run" / "last.ckpt"
    ok = run_cli([f"ckpt={style}", "psi=0.5", "num=4", f"out={tmp_path / 't.png'}"], cwd=tmp_path, module="gan_zoo.commands.generate")
    assert ok.returncode == 0 and (tmp_path / "t.png").is_file(), ok.stderr[-2000:]
    dc = tmp_path / "d" / "checkpoints" / "dcgan_embedded" / "run" / "last.ckpt"
    bad = run_cli([f"ckpt={dc}", "psi=0.5", f"out={tmp_path / 'x.png'}"], cwd=tmp_path, module="gan_zoo.commands.generate")
    assert bad.returncode == 2 and "truncation needs a StyleGAN-style generator" in bad.stderr.strip().splitlines()[-1]


def test_bf16_mixed_precision_run(tmp_path):
    trainer = train(compose_config(tmp_path, [*BASE, *STYLEGAN_TINY, "trainer.precision=bf16-mixed",
                                               "trainer.limit_train_batches=2"]))
    assert trainer.precision == "bf16-mixed"
    state = torch.load(tmp_path / "checkpoints" / "stylegan_embedded" / "run" / "last.ckpt", weights_only=False)
    assert all(torch.isfinite(v).all() for k, v in state["state_dict"].items() if v.is_floating_point())
