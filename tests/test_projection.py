"""Projection into z, w, w_plus for the three models and the imported PGAN; gan-zoo-project's files; latents.pt."""
import csv

import pytest
import torch
from PIL import Image

from gan_zoo.api import load_generator
from gan_zoo.commands.train import train
from gan_zoo.data.export_embedded import export_embedded
from gan_zoo.latent.projection import Projector
from gan_zoo.latent.spaces import identity, load_latents, render
from tests.helpers import BASE, TINY, compose_config, run_cli
from tests.test_pretrained import _their_checkpoint
from tests.test_progan import PGGAN_TINY
from tests.test_stylegan import STYLEGAN_TINY

MODELS = {
    "dcgan": [*TINY, "trainer.limit_train_batches=10"],
    "pggan": [*BASE, *PGGAN_TINY],
    "stylegan": [*BASE, *STYLEGAN_TINY],
}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A briefly trained checkpoint of each model (16x16 grayscale), and an imported pytorch_GAN_zoo PGAN file."""
    root = tmp_path_factory.mktemp("zoo")
    paths = {}
    for name, overrides in MODELS.items():
        train(compose_config(root / name, overrides))
        (paths[name],) = (root / name / "checkpoints").rglob("last.ckpt")
    from gan_zoo.networks.progan import Generator

    torch.manual_seed(0)
    _their_checkpoint(Generator(16, 1, latent_dim=12, widths=[8, 8, 8]), 0.0, root / "pgan.pth")
    paths["imported"] = root / "pgan.pth"
    return paths


def _generator(checkpoints, name):
    if name == "imported":
        return load_generator(pretrained=f"pytorch_gan_zoo:{checkpoints['imported']}").generator
    return load_generator(str(checkpoints[name])).generator


def _own_images(generator, n: int, seed: int) -> torch.Tensor:
    """Images whose true latents are known: the generator's own, from z drawn with `seed`."""
    z = torch.randn(n, generator.latent_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return render(generator, z, "z")


@pytest.mark.parametrize("name, space", [("dcgan", "z"), ("pggan", "z"), ("imported", "z"), ("stylegan", "z"),
                                         ("stylegan", "w"), ("stylegan", "w_plus")])
def test_projection_of_generated_images_recovers_them(checkpoints, name, space):
    generator = _generator(checkpoints, name)
    targets = _own_images(generator, 6, 123)
    result = Projector(space, steps=150, batch_size=3)(generator, targets)  # two batches
    assert result.latents.shape[0] == 6 and result.reconstructions.shape == targets.shape
    assert result.distances.mean() < result.start_distances.mean() / 3, (result.start_distances, result.distances)
    if space == "z":  # on the prior's shell
        torch.testing.assert_close(result.latents.norm(dim=1), torch.full((6,), generator.latent_dim ** 0.5))


def test_w_plus_reconstructs_at_least_as_well_as_w(checkpoints):
    generator = _generator(checkpoints, "stylegan")
    targets = _own_images(generator, 6, 7)
    w = Projector("w", steps=200, batch_size=6)(generator, targets)
    w_plus = Projector("w_plus", steps=200, batch_size=6)(generator, targets)
    assert w_plus.latents.shape[1:] == (generator.num_ws, w.latents.shape[1])
    assert w_plus.distances.mean() <= w.distances.mean() * 1.05
    assert len(w_plus.noise) == len(generator.convs)  # the optimised noise maps come back


def test_batching_gives_each_image_its_own_latent(checkpoints):
    """Projected in one batch, each image ends at a reconstruction of its own (nearer to it than to any other target,
    its reported distance its own), and at the same kind of result as projected alone: each distance down more than
    tenfold from its start. (The final distance itself is no test: 100 noisy steps end 1.5 to 3x apart between
    seeds, thread counts or batchings of the same image; measured 0.023 .. 0.081 for the first image here.)"""
    generator = _generator(checkpoints, "stylegan")
    targets = _own_images(generator, 4, 3)
    batched = Projector("w", steps=100, batch_size=4)(generator, targets)
    alone = Projector("w", steps=100, batch_size=1)(generator, targets)
    distance = Projector("w").distance
    cross = torch.stack([distance(batched.reconstructions[i:i + 1].expand_as(targets), targets) for i in range(4)])
    assert torch.equal(cross.argmin(dim=1), torch.arange(4))  # row i: reconstruction i against every target
    assert torch.allclose(cross.diagonal(), batched.distances, rtol=1e-4, atol=1e-6)
    for projection in (batched, alone):
        assert (projection.distances < 0.1 * projection.start_distances).all(), projection.distances


@pytest.fixture(scope="module")
def held_out(tmp_path_factory):
    root = tmp_path_factory.mktemp("sets")
    return export_embedded(str(root), ["trouser", "bag", "dress"], 12, holdout=500)


def test_gan_zoo_project_writes_latents_grid_and_csv(checkpoints, held_out, tmp_path):
    out = tmp_path / "proj"
    result = run_cli([f"ckpt={checkpoints['dcgan']}", f"images={held_out['trouser']}", f"out={out}", "projection.steps=40",
                      "projection.batch_size=5"], cwd=tmp_path, module="gan_zoo.commands.project")
    assert result.returncode == 0, result.stderr[-2000:]
    record = load_latents(out / "latents.pt", _generator(checkpoints, "dcgan"))  # weights_only, the same generator
    assert record["space"] == "z" and record["latents"].shape == (12, 16) and len(record["files"]) == 12
    rows = list(csv.DictReader((out / "projection.csv").read_text().splitlines()))
    assert len(rows) == 12 and all(float(r["distance"]) <= float(r["start_distance"]) for r in rows)
    assert all(float(r["psnr_db"]) > 0 for r in rows)
    assert Image.open(out / "projection.png").size[0] == 2 + 8 * 18  # 4 pairs a line, 16px images
    again = run_cli([f"ckpt={checkpoints['dcgan']}", f"images={held_out['trouser']}", f"out={out}", "projection.steps=1"],
                    cwd=tmp_path, module="gan_zoo.commands.project")
    assert again.returncode == 2 and "overwrite=true" in again.stderr  # an earlier projection is kept
    assert load_latents(out / "latents.pt")["latents"].equal(record["latents"])


def test_identity_tells_generators_apart(checkpoints):
    a, b = _generator(checkpoints, "dcgan"), _generator(checkpoints, "pggan")
    assert identity(a) == identity(_generator(checkpoints, "dcgan")) != identity(b)


def test_morph_with_the_imported_pgan_uses_the_pixels(checkpoints, held_out, tmp_path):
    """A pretrained generator has no run metrics extractor: morph says to use the pixels, and works with them."""
    from gan_zoo import api
    from gan_zoo.errors import UserError

    loaded = api.load_generator(pretrained=f"pytorch_gan_zoo:{checkpoints['imported']}")
    folders = {"start": str(held_out["trouser"]), "end": str(held_out["bag"]), "middle": str(held_out["dress"])}
    with pytest.raises(UserError, match="features=pixels"):
        api.morph(loaded, out=str(tmp_path / "m"), **folders)
    assert not (tmp_path / "m").exists()
    summary = api.morph(loaded, out=str(tmp_path / "m"), features="pixels", t=[0, 1], media_pairs=1, gif_frames=3,
                        projector=Projector(steps=5), **folders)
    assert summary["features"] == "pixels" and len(summary["pairs"]) == 12
    assert sorted(p.name for p in (tmp_path / "m").glob("t_*")) == ["t_0.00", "t_1.00"]


def test_the_progress_counts_optimisation_steps_not_batches():
    """A bar that moved per batch sat at 0 for minutes, then jumped to the end."""
    from gan_zoo.networks.dcgan import Generator

    generator = Generator(latent_dim=8, width=4, resolution=16, channels=1)
    projector = Projector(space="z", steps=3, batch_size=2, starts=2)
    calls = []
    projector(generator, torch.rand(5, 1, 16, 16) * 2 - 1, progress=calls.append)
    assert calls == [1] * 9 and projector.total_steps(5) == 9  # 3 batches of 2, 2, 1 images, 3 steps each
