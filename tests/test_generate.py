"""gan-zoo-generate: images and interpolations from checkpoints; slerp."""
import torch
from PIL import Image

from gan_zoo.commands.train import train
from gan_zoo.latent.spaces import interpolate
from tests.helpers import TINY, compose_config, run_cli


def test_slerp_ends_at_both_latents_and_keeps_the_norm_between_them():
    torch.manual_seed(0)
    a, b = torch.randn(3, 64), torch.randn(3, 64)
    b = b / b.norm(dim=1, keepdim=True) * a.norm(dim=1, keepdim=True)
    path = interpolate(a, b, torch.linspace(0, 1, 5), "slerp")  # [3, 5, 64]
    torch.testing.assert_close(path[:, 0], a)
    torch.testing.assert_close(path[:, -1], b)
    torch.testing.assert_close(path.norm(dim=2), a.norm(dim=1, keepdim=True).expand(3, 5))


def test_generate_and_interpolate_from_a_checkpoint(tmp_path):
    train(compose_config(tmp_path, TINY))
    ckpt = tmp_path / "checkpoints" / "dcgan_embedded" / "run" / "last.ckpt"
    grid = run_cli([f"ckpt={ckpt}", "num=6", "nrow=3", f"out={tmp_path / 'grid.png'}"], cwd=tmp_path,
                   module="gan_zoo.commands.generate")
    assert grid.returncode == 0, grid.stderr[-2000:]
    assert Image.open(tmp_path / "grid.png").size == (2 + 3 * 18, 2 + 2 * 18)  # 16px images, 2px padding
    morph = run_cli([f"ckpt={ckpt}", "interpolate=true", "rows=2", "frames=5", f"out={tmp_path / 'morph.png'}"],
                    cwd=tmp_path, module="gan_zoo.commands.generate")
    assert morph.returncode == 0, morph.stderr[-2000:]
    assert Image.open(tmp_path / "morph.png").size == (2 + 5 * 18, 2 + 2 * 18)


def test_generate_needs_exactly_one_source(tmp_path):
    result = run_cli(["out=x.png"], cwd=tmp_path, module="gan_zoo.commands.generate")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "gan-zoo: error: give exactly one of ckpt=<gan_zoo checkpoint or stylegan2-ada-pytorch .pkl>, "
        "shared=<folder of gan-zoo-export> or pretrained=<pytorch_gan_zoo|stylegan2-ada>:<name>")
    assert not (tmp_path / "x.png").exists()
