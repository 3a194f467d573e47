"""Import of pytorch_GAN_zoo's PGAN checkpoints (their layout written here from a gan_zoo generator)."""
import math
import sys
import types

import pytest
import torch

from gan_zoo.errors import UserError
from gan_zoo.networks.progan import Generator
from gan_zoo.pretrained.pytorch_gan_zoo import load_pgan_generator


def _their_checkpoint(g: Generator, alpha: float, path):
    """Write `g` in pytorch_GAN_zoo's format: output-scaled equalized layers, a pickled BaseConfig."""

    def layer(ours, their_name):
        c = math.sqrt(2.0 / ours.weight[0].numel())
        return {f"{their_name}.module.weight": ours.weight.detach() * ours.scale / c,
                f"{their_name}.module.bias": ours.bias.detach() / c}

    net = layer(g.dense, "formatLayer") | layer(g.blocks[0][2], "groupScale0.0")
    for i in range(1, g.max_level + 1):
        net |= layer(g.blocks[i][1], f"scaleLayers.{i - 1}.0") | layer(g.blocks[i][4], f"scaleLayers.{i - 1}.1")
    for i in range(g.max_level + 1):
        net |= layer(g.to_rgb[i], f"toRGBLayers.{i}")
    fake = types.ModuleType("models.utils.config")  # their config class, present only while saving

    BaseConfig = type("BaseConfig", (), {"__module__": fake.__name__, "__qualname__": "BaseConfig"})
    fake.BaseConfig = BaseConfig
    config = BaseConfig()
    config.alpha = alpha
    modules = {"models": types.ModuleType("models"), "models.utils": types.ModuleType("models.utils"), fake.__name__: fake}
    sys.modules.update(modules)
    try:
        torch.save({"config": config, "netG": net, "avgG": net, "netD": {}}, path)
    finally:
        for name in modules:
            del sys.modules[name]


@pytest.mark.parametrize("widths, alpha", [([16, 16, 8, 8], 0.0), ([16, 8, 8], 0.3)])
def test_import_reproduces_the_generator(tmp_path, widths, alpha):
    torch.manual_seed(0)
    g = Generator(4 * 2 ** (len(widths) - 1), 3, latent_dim=12, widths=widths)
    with torch.no_grad():
        for p in g.parameters():
            p.normal_()
        g.progress.fill_(g.max_level - alpha)
    _their_checkpoint(g, alpha, tmp_path / "pgan.pth")
    imported = load_pgan_generator(str(tmp_path / "pgan.pth"))
    assert imported.widths == widths and imported.latent_dim == 12
    z = torch.randn(5, 12)
    with torch.no_grad():
        torch.testing.assert_close(imported(z), g(z), atol=1e-4, rtol=1e-4)


def test_named_model_offline_fails_fast_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def offline(url, dst, *a, **k):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(UserError, match="could not download pytorch_GAN_zoo's 'celebAHQ-512' PGAN.*pass its path"):
        load_pgan_generator("celebAHQ-512")


def test_unknown_name_or_missing_file(tmp_path):
    with pytest.raises(UserError, match="no pytorch_GAN_zoo checkpoint 'nope'.*celebAHQ-512"):
        load_pgan_generator("nope")
    (tmp_path / "bad.pth").write_bytes(b"garbage")
    with pytest.raises(UserError, match="pytorch_GAN_zoo checkpoint '.*bad.pth' is truncated or corrupt"):
        load_pgan_generator(str(tmp_path / "bad.pth"))


def _randomized(module):
    """Their layers start with zero biases: random values everywhere check every conversion."""
    with torch.no_grad():
        for p in module.parameters():
            p.normal_()
    return module


@pytest.mark.parametrize("mbstd", [False, True])
def test_their_discriminator_and_generator_convert_into_ours(tmp_path, mbstd):
    """Their own GNet and DNet (from the archive in shared/peers), saved as their trainer saves them, give the
    logits and images of ours after conversion. Their minibatch stddev differs from ours (consecutive groups,
    unbiased variance): with it, its feature's weights are zeroed, which checks every other layer exactly."""
    from gan_zoo.pretrained.pytorch_gan_zoo import load_pgan
    from tests.pgan_format import their_code

    torch.manual_seed(0)
    with their_code(tmp_path / "peer") as (networks, config_module):
        d = networks.DNet(16, miniBatchNormalization=mbstd, dimInput=3)
        g = networks.GNet(12, 16, dimOutput=3)
        for depth in (16, 8):
            d.addScale(depth)
            g.addScale(depth)
        d.setNewAlpha(0.3)
        g.setNewAlpha(0.3)
        _randomized(d)
        _randomized(g)
        if mbstd:
            with torch.no_grad():
                d.groupScaleZero[0].module.weight[:, -1] = 0
        config = config_module.BaseConfig()
        config.alpha = 0.3
        torch.save({"config": config, "netG": g.state_dict(), "avgG": g.state_dict(), "netD": d.state_dict()},
                   tmp_path / "pgan.pth")
        x, z = torch.randn(8, 3, 16, 16), torch.randn(5, 12)
        with torch.no_grad():
            their_logits, their_images = d(x).flatten(), g(z)
    parts = load_pgan(str(tmp_path / "pgan.pth"))
    assert parts["discriminator"].widths == [16, 16, 8] and float(parts["discriminator"].progress) == pytest.approx(1.7)
    with torch.no_grad():
        torch.testing.assert_close(parts["discriminator"](x), their_logits, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(parts["generator"](z), their_images, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(parts["average"](z), their_images, atol=1e-4, rtol=1e-4)


def test_a_file_without_netD_gives_no_discriminator(tmp_path):
    from gan_zoo.pretrained.pytorch_gan_zoo import load_pgan

    torch.manual_seed(0)
    g = Generator(8, 3, latent_dim=12, widths=[16, 8])
    _their_checkpoint(g, 0.0, tmp_path / "pgan.pth")  # "netD": {}
    parts = load_pgan(str(tmp_path / "pgan.pth"))
    assert parts["discriminator"] is None and parts["generator"].widths == [16, 8]
