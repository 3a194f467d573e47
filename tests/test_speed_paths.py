"""The faster paths keep the maths and the run's record: trainer.precision=auto picks bf16 only on bf16 hardware
and the run's config says what ran; trainer.compile=true trains (second-order regularizers run eagerly) and its
checkpoints keep the plain keys; resume stays bit-exact with the non-fused modulated convolution; the bf16 and
channels-last fixes compute the same values."""
import pytest
import torch

from gan_zoo.commands import config_checks
from gan_zoo.commands.train import train
from gan_zoo.networks import resample, stylegan
from gan_zoo.networks.layers import MinibatchStdDev
from tests.helpers import BASE, TINY, compose_config
from tests.test_stylegan import STYLEGAN_TINY


@pytest.mark.parametrize("cpu_bf16,expected", [(True, "bf16-mixed"), (False, "32-true"), (None, "32-true")])
def test_auto_precision_on_cpu_follows_the_cpu_flags(monkeypatch, cpu_bf16, expected):
    monkeypatch.setattr(config_checks, "cpu_has_bf16", lambda: cpu_bf16)
    assert config_checks.auto_precision("cpu") == expected


@pytest.mark.parametrize("native,expected", [(True, "bf16-mixed"), (False, "32-true")])
def test_auto_precision_on_gpu_needs_native_bf16(monkeypatch, native, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: native or including_emulation)
    monkeypatch.setattr(config_checks, "cpu_has_bf16", lambda: True)  # the CPU's bf16 does not count for a GPU run
    assert config_checks.auto_precision("gpu") == expected


@pytest.mark.parametrize("cpu_bf16", [True, False])
def test_a_run_with_precision_auto_records_what_ran(tmp_path, monkeypatch, cpu_bf16):
    monkeypatch.setattr(config_checks, "cpu_has_bf16", lambda: cpu_bf16)
    trainer = train(compose_config(tmp_path, [*BASE, "trainer.precision=auto", "trainer.limit_train_batches=1"]))
    expected = "bf16-mixed" if cpu_bf16 else "32-true"
    assert trainer.precision == expected
    stored = torch.load(tmp_path / "checkpoints" / "dcgan_embedded" / "run" / "last.ckpt", weights_only=True)
    assert stored["gan_zoo_config"]["trainer"]["precision"] == expected


def test_compiled_networks_train_with_a_lazy_second_order_regularizer_and_save_plain_keys(tmp_path):
    trainer = train(compose_config(tmp_path, [*TINY, "trainer.compile=true", "loss=nonsaturating_r1",
                                              "loss.regularizers.r1.interval=2", "trainer.limit_train_batches=3"]))
    module = trainer.lightning_module
    assert module.generator._compiled_call_impl is not None  # compiled in place
    assert int(module.d_steps) == 3  # R1 due at steps 0 and 2 (eager), not at step 1 (compiled)
    stored = torch.load(tmp_path / "checkpoints" / "dcgan_embedded" / "run" / "last.ckpt", weights_only=True)
    assert not any("_orig_mod" in k for k in stored["state_dict"])
    assert all(torch.isfinite(v).all() for v in stored["state_dict"].values() if v.is_floating_point())


def test_stylegan_resume_is_bit_exact_with_the_non_fused_channels_last_paths(tmp_path):
    exact = [*BASE, *STYLEGAN_TINY, "trainer.limit_train_batches=3", "trainer.deterministic=true",
             "model.module.num_samples=8", "model.module.channels_last=true"]
    train(compose_config(tmp_path / "straight", [*exact, "trainer.max_epochs=2"]))
    train(compose_config(tmp_path / "resumed", [*exact, "trainer.max_epochs=1"]))
    train(compose_config(tmp_path / "resumed", [*exact, "trainer.max_epochs=2", "ckpt=last"]))
    a, b = (torch.load(root / "checkpoints" / "stylegan_embedded" / "run" / "last.ckpt", weights_only=True)
            for root in (tmp_path / "straight", tmp_path / "resumed"))
    assert a["state_dict"]["generator.convs.1.conv.weight"].is_contiguous(memory_format=torch.channels_last)
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for key, value in a["state_dict"].items():  # G, EMA, D, path-length mean, images seen
        assert torch.equal(value, b["state_dict"][key]), key
    for opt_a, opt_b in zip(a["optimizer_states"], b["optimizer_states"]):
        for pa, pb in zip(opt_a["state"].values(), opt_b["state"].values()):
            assert all(torch.equal(pa[k], pb[k]) for k in pa), "optimizer state differs"


@pytest.mark.parametrize("pad,gain", [(1, 1.0), (2, 4.0)])
def test_the_strided_blur_in_bf16_gives_the_strided_convolutions_values(pad, gain):
    x = torch.randn(2, 3, 8, 8).to(torch.bfloat16)
    kernel = (resample.fir_filter(dtype=torch.bfloat16) * gain).expand(3, 1, 4, 4)
    direct = torch.nn.functional.conv2d(torch.nn.functional.pad(x, [pad] * 4), kernel, stride=2, groups=3)
    assert torch.equal(resample.blur(x, pad, gain, stride=2), direct)


def test_the_discriminator_is_channels_last_after_its_1x1_from_rgb_and_computes_the_same():
    d = stylegan.Discriminator(16, 1, fmap_base=64, fmap_max=16)
    images = torch.randn(4, 1, 16, 16)
    expected = d(images)
    d.to(memory_format=torch.channels_last)  # as GANModule(channels_last=True) does
    seen = []
    d.blocks[0].register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    torch.testing.assert_close(d(images), expected)
    assert seen[0].is_contiguous(memory_format=torch.channels_last)  # not NCHW for the whole first block


def test_minibatch_stddev_written_out_matches_the_variance_in_bf16_and_float32():
    x = torch.randn(8, 5, 3, 3)
    expected = (x.reshape(4, 2, 5, 3, 3).var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))
    torch.testing.assert_close(MinibatchStdDev(group_size=4)(x)[:2, 5, 0, 0], expected)
    y = MinibatchStdDev(group_size=4)(x.to(torch.bfloat16))
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y[:2, 5, 0, 0].float(), expected, rtol=1e-2, atol=1e-2)  # bf16 input and output
