"""torch.hub: the repository's hubconf.py returns gan_zoo generators (tested with source="local")."""
import pytest
import torch

from gan_zoo.commands.train import train
from gan_zoo.errors import UserError
from gan_zoo.networks.progan import Generator as PGGenerator
from tests.helpers import BASE, REPO, TINY, compose_config
from tests.test_pretrained import _their_checkpoint
from tests.test_progan import PGGAN_TINY


def _hub(entry: str, **kwargs):
    return torch.hub.load(str(REPO), entry, source="local", trust_repo=True, **kwargs)


def test_generator_and_dcgan_from_a_local_checkpoint(tmp_path):
    train(compose_config(tmp_path, TINY))
    (ckpt,) = (tmp_path / "checkpoints").rglob("last.ckpt")
    for entry in ("generator", "dcgan"):
        g = _hub(entry, checkpoint=str(ckpt))
        assert not g.training and g(torch.randn(2, g.latent_dim)).shape == (2, 1, 16, 16)
    with pytest.raises(UserError, match="not a gan_zoo.networks.progan generator"):
        _hub("pggan", checkpoint=str(ckpt))


def test_pggan_from_a_gan_zoo_run_and_from_pytorch_gan_zoo_weights(tmp_path):
    train(compose_config(tmp_path, [*BASE, *PGGAN_TINY]))
    (ckpt,) = (tmp_path / "checkpoints").rglob("last.ckpt")
    assert _hub("pggan", checkpoint=str(ckpt))(torch.randn(1, 16)).shape == (1, 1, 16, 16)
    theirs = PGGenerator(8, 3, latent_dim=12, widths=[8, 8])
    _their_checkpoint(theirs, 0.0, tmp_path / "pgan.pth")
    imported = _hub("pggan", model_name=str(tmp_path / "pgan.pth"))
    z = torch.randn(3, 12)
    with torch.no_grad():
        torch.testing.assert_close(imported(z), theirs(z), atol=1e-4, rtol=1e-4)
