"""FID / IS / KID: known cases, batch-size independence, the real-feature cache, extractors."""
import json

import pytest
import torch
from torch import nn

from gan_zoo.errors import UserError
from gan_zoo.metrics.evaluator import Evaluator
from gan_zoo.metrics.extractors import FashionClassifierExtractor, InceptionExtractor
from gan_zoo.metrics.features import quantize
from tests.helpers import SHARED_DATA

INCEPTION_FILE = SHARED_DATA / "inception-2015-12-05-fid-only.pth"


class CountingExtractor(nn.Module):
    """A fixed random projection of the pixels, counting the images it sees."""

    name, num_features, resize, weights_sha256, has_logits = "toy", 16, "none", "0" * 64, True

    def __init__(self):
        super().__init__()
        self.proj = torch.randn(3 * 8 * 8, 16, generator=torch.Generator().manual_seed(0))
        self.images_seen = 0

    def forward(self, images):
        self.images_seen += len(images)
        x = images.float().flatten(1) / 255.0
        return x @ self.proj, x[:, :10] * 20


def _toy_generator() -> nn.Module:
    """z [N, 4] -> [N, 3, 8, 8]: the generator contract's latent_dim on a plain Sequential."""
    g = nn.Sequential(nn.Linear(4, 3 * 8 * 8), nn.Tanh(), nn.Unflatten(1, (3, 8, 8)))
    g.latent_dim = 4
    return g


class ListDataset(torch.utils.data.Dataset):
    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], 0


def _images(n, seed=0):
    return torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _evaluator(tmp_path, **kw):
    kw = {"num_real": 200, "num_fake": 200, "batch_size": 50, "kid_subset_size": 50, "cache_dir": tmp_path / "cache", **kw}
    return Evaluator(CountingExtractor(), **kw)


def test_fid_of_a_set_against_itself_is_about_zero(tmp_path):
    ev = _evaluator(tmp_path)
    features, _ = ev.extractor(quantize(_images(200)))
    assert abs(ev.compute(features, features, None)["fid"]) < 1e-3


def test_fid_grows_as_noise_is_mixed_in(tmp_path):
    from gan_zoo.data.embedded import EmbeddedFashionMNIST

    ev = _evaluator(tmp_path)
    real = EmbeddedFashionMNIST(resolution=8, channels=3).tensors[0][:400]  # structured images, not noise
    real_features, _ = ev.extractor(quantize(real[:200]))
    fids = []
    for amount in (0.0, 0.25, 0.5, 1.0):
        noisy = (1 - amount) * real[200:] + amount * (torch.randn_like(real[200:]) * 2)
        fids.append(ev.compute(real_features, ev.extractor(quantize(noisy.clamp(-1, 1)))[0], None)["fid"])
    assert fids == sorted(fids) and fids[-1] > 3 * fids[0]


def test_inception_score_of_uniform_and_of_confident_balanced_predictions(tmp_path):
    ev = _evaluator(tmp_path, is_splits=1)
    features = torch.randn(100, 16)
    uniform = torch.zeros(100, 5)
    assert ev.compute(features, features, uniform)["is"] == pytest.approx(1.0, abs=1e-5)
    k = 7
    confident = torch.full((140, k), -1e4)
    confident[torch.arange(140), torch.arange(140) % k] = 1e4
    assert ev.compute(features, features, confident)["is"] == pytest.approx(k, rel=1e-4)


def test_kid_is_about_zero_for_the_same_distribution_and_larger_otherwise(tmp_path):
    ev = _evaluator(tmp_path)
    a, b = ev.extractor(quantize(_images(200, 1)))[0], ev.extractor(quantize(_images(200, 2)))[0]
    shifted = ev.extractor(quantize((_images(200, 3) * 0.3 + 0.5)))[0]
    assert abs(ev.compute(a, b, None)["kid"]) < ev.compute(a, shifted, None)["kid"] / 10


def test_results_do_not_depend_on_the_evaluation_batch_size(tmp_path):
    g = _toy_generator()
    dataset = ListDataset(_images(300))
    results = []
    for batch_size in (7, 50, 300):
        ev = _evaluator(tmp_path, batch_size=batch_size, cache_dir=None)
        real = ev.real_features(dataset, {"name": "toy"})
        results.append(ev.compute(real, *ev.fake_features(g, "cpu")))
    for other in results[1:]:
        for key in results[0]:
            assert other[key] == pytest.approx(results[0][key], rel=1e-6, abs=1e-9), key


def test_second_evaluation_runs_the_extractor_only_on_the_cache_checks_images(tmp_path):
    dataset = ListDataset(_images(300))
    first = _evaluator(tmp_path)
    features = first.real_features(dataset, {"name": "toy"})
    assert first.extractor.images_seen == 200
    second = _evaluator(tmp_path)  # a new run: nothing in memory, the disk cache only
    assert torch.equal(second.real_features(dataset, {"name": "toy"}), features)
    assert second.extractor.images_seen == second.cache_check == 8  # the spot check of the cache, no more
    third = _evaluator(tmp_path, num_real=100)  # another protocol: another cache entry
    third.real_features(dataset, {"name": "toy"})
    assert third.extractor.images_seen == 100
    fourth = _evaluator(tmp_path)  # other data: another cache entry
    fourth.real_features(dataset, {"name": "toy", "resolution": 16})
    assert fourth.extractor.images_seen == 200


def test_a_damaged_cache_file_is_recomputed(tmp_path):
    dataset = ListDataset(_images(300))
    _evaluator(tmp_path).real_features(dataset, {"name": "toy"})
    (cache_file,) = (tmp_path / "cache").iterdir()
    cache_file.write_bytes(b"garbage")
    ev = _evaluator(tmp_path)
    assert ev.real_features(dataset, {"name": "toy"}).shape == (200, 16) and ev.extractor.images_seen == 200


def test_generated_and_real_images_share_the_uint8_quantization():
    images = torch.tensor([-1.0, -0.999, 0.0, 0.5, 1.0, 1.2])
    assert quantize(images).tolist() == [0, 0, 128, 191, 255, 255]


def test_fashion_classifier_extractor_separates_classes_of_the_embedded_data():
    from gan_zoo.data.embedded import load_embedded_images

    images, labels = load_embedded_images()
    extractor = FashionClassifierExtractor()
    x = torch.from_numpy(images[:500]).float().div(127.5).sub(1)[:, None]
    features, logits = extractor(quantize(x))
    assert features.shape == (500, 128) and logits.shape == (500, 10)
    accuracy = (logits.argmax(1) == torch.from_numpy(labels[:500]).long()).float().mean()
    assert accuracy > 0.85
    assert len(extractor.weights_sha256) == 64


def test_inception_offline_without_weights_fails_with_instructions(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no cached download
    import torch_fidelity.feature_extractor_inceptionv3 as fidelity

    def offline(*args, **kwargs):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(fidelity, "load_state_dict_from_url", offline)
    with pytest.raises(UserError, match="metrics.evaluate.evaluator.extractor.weights_path=.*metrics=classifier.*metrics=none"):
        InceptionExtractor()


def test_inception_weights_file_that_does_not_exist():
    with pytest.raises(UserError, match="InceptionV3 weights not found: '/no/such.pth'"):
        InceptionExtractor(weights_path="/no/such.pth")


@pytest.mark.skipif(not INCEPTION_FILE.is_file(), reason=f"needs the shared Inception weights at {INCEPTION_FILE}")
def test_inception_fid_with_the_shared_weights_file(tmp_path):
    from gan_zoo.data.embedded import EmbeddedFashionMNIST
    from gan_zoo.metrics.features import extract_features

    extractor = InceptionExtractor(weights_path=str(INCEPTION_FILE))
    assert not extractor.has_logits  # this file has no classifier layer: no IS
    dataset = EmbeddedFashionMNIST(resolution=32, channels=1)
    ev = Evaluator(extractor, num_real=24, num_fake=24, batch_size=12, kid_subset_size=12, cache_dir=None)
    real = ev.real_features(dataset, {"name": "embedded"})
    assert real.shape == (24, 2048)
    other = ev.real_features(torch.utils.data.Subset(dataset, range(2500, 5000)), {"name": "other half"})
    noise = extract_features(extractor.eval(), torch.rand(24, 1, 32, 32) * 2 - 1, batch_size=12)
    same = ev.compute(real, real, None)
    near, far = ev.compute(real, other, None), ev.compute(real, noise, None)
    assert abs(same["fid"]) < 1e-2 and "is" not in same
    assert 0 < near["fid"] < far["fid"] and far["fid"] > 100


def test_training_logs_metrics_keeps_best_checkpoint_and_caches_real_features(tmp_path):
    import csv

    from gan_zoo.commands.train import train
    from tests.helpers import SMALL_METRICS, TINY, compose_config

    train(compose_config(tmp_path, [*TINY, *SMALL_METRICS, "trainer.max_epochs=2"]))
    run_dir = tmp_path / "experiments" / "dcgan_embedded" / "run"
    rows = [r for r in csv.DictReader((run_dir / "metrics.csv").open()) if r.get("metrics/fid_fmnist_cnn")]
    assert len(rows) == 2 and all(float(r["metrics/fid_fmnist_cnn"]) > 0 for r in rows)
    assert all(float(r["metrics/is_fmnist_cnn"]) >= 1 for r in rows)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").open()]
    assert [r["epoch"] for r in records] == [0, 1]
    protocol = records[0]["protocol"]
    assert protocol["extractor"] == "fmnist_cnn" and protocol["num_real"] == 64 and protocol["num_fake"] == 64
    assert protocol["real_split"] == "train" and len(protocol["weights_sha256"]) == 64
    assert list((tmp_path / "checkpoints" / "dcgan_embedded" / "run").glob("best-epoch*.ckpt"))
    assert len(list((tmp_path / "cache").iterdir())) == 1


def test_gan_zoo_eval_writes_json_for_a_checkpoint(tmp_path):
    from gan_zoo.commands.train import train
    from tests.helpers import SMALL_METRICS, TINY, compose_config, run_cli

    train(compose_config(tmp_path, [*TINY, *SMALL_METRICS]))
    ckpt = tmp_path / "checkpoints" / "dcgan_embedded" / "run" / "last.ckpt"
    result = run_cli([f"ckpt={ckpt}", f"out={tmp_path / 'm.json'}"], cwd=tmp_path, module="gan_zoo.commands.evaluate")
    assert result.returncode == 0, result.stderr[-2000:]
    written = json.loads((tmp_path / "m.json").read_text())
    assert json.loads(result.stdout) == written
    assert written["metrics"]["fid_fmnist_cnn"] > 0 and written["protocol"]["num_fake"] == 64
    training = json.loads((tmp_path / "experiments" / "dcgan_embedded" / "run" / "metrics.jsonl").read_text())
    assert written["metrics"]["fid_fmnist_cnn"] == pytest.approx(training["metrics"]["fid"], rel=1e-4)


def test_gan_zoo_eval_on_a_missing_checkpoint_is_one_clear_line(tmp_path):
    from tests.helpers import run_cli

    result = run_cli(["ckpt=/no/such.ckpt"], cwd=tmp_path, module="gan_zoo.commands.evaluate")
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1] == (
        "gan-zoo: error: checkpoint not found: '/no/such.ckpt'"
    )


def test_fake_images_split_over_processes_are_the_single_process_set(tmp_path):
    g = _toy_generator()
    ev = _evaluator(tmp_path, num_fake=101, batch_size=16)
    single, _ = ev.fake_features(g, "cpu")
    shares = [ev.fake_features(g, "cpu", rank=r, world_size=2)[0] for r in range(2)]
    assert shares[0].shape == shares[1].shape == (51, 16)  # equal shares for all_gather
    torch.testing.assert_close(torch.cat(shares)[:101], single)
