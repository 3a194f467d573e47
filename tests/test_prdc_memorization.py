"""Precision/recall/density/coverage on known feature sets; the copying check on generators whose answer is
known (one that returns training images, one that returns held-out images); blocked neighbour search."""
import json

import pytest
import torch
from torch import nn

from gan_zoo import api
from gan_zoo.commands.train import train
from gan_zoo.data.datamodule import GANDataModule
from gan_zoo.data.embedded import EmbeddedFashionMNIST
from gan_zoo.data.image_folder import read_images
from gan_zoo.errors import UserError
from gan_zoo.metrics.extractors import FashionClassifierExtractor
from gan_zoo.metrics.features import extract_features
from gan_zoo.metrics.memorization import copying_statistics, mann_whitney_z
from gan_zoo.metrics.neighbours import nearest
from gan_zoo.metrics.prdc import prdc
from tests.helpers import TINY, compose_config, run_cli


def test_prdc_of_identical_and_of_disjoint_sets():
    x = torch.randn(300, 8, generator=torch.Generator().manual_seed(0))
    same = prdc(x, x, k=5)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    # each point is in its own ball and in the balls of the k points it is a neighbour of: (k + 1) / k on average
    assert same["density"] == pytest.approx(6 / 5, abs=0.02)
    far = prdc(x, x + 100, k=5)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_prdc_sees_a_collapsed_generator_as_precise_but_without_recall():
    g = torch.Generator().manual_seed(1)
    real = torch.randn(400, 4, generator=g)
    collapsed = real[:5].repeat(80, 1) + 0.01 * torch.randn(400, 4, generator=g)  # five modes only
    result = prdc(real, collapsed, k=5)
    assert result["precision"] == 1.0 and result["recall"] < 0.1 and result["coverage"] < 0.1


def test_blocked_search_equals_the_whole_matrix():
    g = torch.Generator().manual_seed(2)
    q, r = torch.randn(70, 6, generator=g), torch.randn(130, 6, generator=g)
    d, i = nearest(q, r, 3, block=16)
    full = torch.cdist(q, r).topk(3, largest=False)
    assert torch.equal(i, full.indices) and torch.allclose(d, full.values)
    d_self, i_self = nearest(r, r, 2, exclude_self=True, block=16)
    full_self = torch.cdist(r, r).fill_diagonal_(float("inf")).topk(2, largest=False)
    assert torch.equal(i_self, full_self.indices)
    assert prdc(q, r, block=16) == pytest.approx(prdc(q, r, block=4096))


def test_mann_whitney_sign():
    a = torch.arange(50.0)
    assert mann_whitney_z(a, a - 30) < -3 and abs(mann_whitney_z(a, a + 0.5)) < 1 and mann_whitney_z(a, a + 30) > 3


class ReturnsImages(nn.Module):
    """A 'generator' whose answer is known: each latent picks one of `images` (plus faint noise)."""

    def __init__(self, images: torch.Tensor, noise: float = 0.01):
        super().__init__()
        self.register_buffer("images", images)
        self.noise, self.latent_dim = noise, 4

    def forward(self, z):
        pick = (z[:, 0].abs() * 1e4).long() % len(self.images)
        out = self.images[pick]
        return (out + self.noise * torch.randn_like(out)).clamp(-1, 1)


@pytest.fixture(scope="module")
def embedded_with_holdout():
    dm = GANDataModule(EmbeddedFashionMNIST, resolution=32, channels=1, holdout=400)
    extractor = FashionClassifierExtractor()
    return dm, extractor, extract_features(extractor, dm.dataset), extract_features(extractor, dm.holdout_dataset)


def _check(generator, dm, extractor, train_features, holdout_features):
    generated = extract_features(extractor, api.generate_images(generator, 400, seed=3))
    return copying_statistics(train_features, generated, holdout_features)[0]


def test_a_generator_that_returns_training_images_is_flagged_by_every_number(embedded_with_holdout):
    dm, extractor, train_f, holdout_f = embedded_with_holdout
    training_images = torch.stack([dm.dataset[i][0] for i in range(0, len(dm.dataset), 5)])
    numbers = _check(ReturnsImages(training_images), dm, extractor, train_f, holdout_f)
    assert numbers["authenticity_copy_share"] > 0.95 and numbers["ratio_share"] > 0.9 and numbers["c_t"] < -5
    assert numbers["copying_suspected"] and len(numbers["copying_reasons"]) == 3


def test_a_generator_that_returns_held_out_images_is_not_flagged(embedded_with_holdout):
    dm, extractor, train_f, holdout_f = embedded_with_holdout
    held_out = torch.stack([dm.holdout_dataset[i][0] for i in range(len(dm.holdout_dataset))])
    numbers = _check(ReturnsImages(held_out, noise=0.0), dm, extractor, train_f, holdout_f)
    assert numbers["authenticity_copy_share"] < 0.6 and numbers["ratio_share"] < 0.02 and abs(numbers["c_t"]) < 3
    assert not numbers["copying_suspected"]


def test_holdout_is_the_same_images_whatever_the_seed_and_is_kept_out_of_training():
    a = GANDataModule(EmbeddedFashionMNIST, resolution=8, channels=1, holdout=100, seed=0)
    b = GANDataModule(EmbeddedFashionMNIST, resolution=8, channels=1, holdout=100, seed=7)
    assert a.holdout_dataset.indices == b.holdout_dataset.indices
    assert not set(a.holdout_dataset.indices) & set(a.dataset.indices) and len(a.dataset) == 4900
    with pytest.raises(UserError, match="data.holdout=5000 must be between 1 and the 4999 images"):
        GANDataModule(EmbeddedFashionMNIST, resolution=8, channels=1, holdout=5000)


@pytest.mark.slow
def test_gan_zoo_eval_memorization_writes_numbers_grid_and_metrics(tmp_path):
    overrides = [t for t in TINY if t != "metrics=none"] + [
        "metrics=classifier", "metrics.evaluate.evaluator.num_real=64", "metrics.evaluate.evaluator.num_fake=64",
        "metrics.evaluate.evaluator.kid_subset_size=32", "data.holdout=200"]
    train(compose_config(tmp_path, overrides))
    (ckpt,) = (tmp_path / "checkpoints").rglob("last.ckpt")
    result = run_cli([f"ckpt={ckpt}", "memorization=true", "memorization_num=100"], cwd=tmp_path,
                     module="gan_zoo.commands.evaluate")
    assert result.returncode == 0, result.stderr[-2000:]
    numbers = json.loads((ckpt.parent / "last.ckpt.memorization.json").read_text())
    assert numbers["n_train"] == 4800 and numbers["n_holdout"] == 200 and numbers["n_generated"] == 100
    assert numbers["space"] == "fmnist_cnn" and numbers["c_t"] is not None
    assert (ckpt.parent / "last.ckpt.memorization.png").stat().st_size > 1000
    metrics = json.loads((ckpt.parent / "last.ckpt.metrics.json").read_text())
    assert {"precision_fmnist_cnn", "recall_fmnist_cnn", "density_fmnist_cnn", "coverage_fmnist_cnn"} <= set(
        metrics["metrics"]) and metrics["protocol"]["prdc_k"] == 5
    bad = run_cli([f"ckpt={ckpt}", "memorization=true", "memorization_space=colour"], cwd=tmp_path,
                  module="gan_zoo.commands.evaluate")
    assert bad.returncode == 2 and "memorization_space='colour': choose run" in bad.stderr


def test_read_images_uses_the_training_loaders_checks(tmp_path):
    from tests.helpers import REPO

    images, files = read_images(str(REPO / "tests" / "data" / "paintings"), 16, 3)
    assert images.shape == (len(files), 3, 16, 16) and len(files) > 10
    assert images.min() >= -1 and images.max() <= 1
    (tmp_path / "broken.png").write_bytes(b"")
    with pytest.raises(UserError, match="none of the 1 image files"):
        read_images(str(tmp_path), 16, 3)
