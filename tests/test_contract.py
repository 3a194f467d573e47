"""The model contract (gan_zoo/contract.py): labels reach every part of the step for a conditional model, and an
unconditional run computes exactly what it computed before labels had a road (digests recorded by the code of
5f001c9, the commit before the contract, with `record` below: tests/data/before_the_contract.json)."""
import hashlib
import json
import shutil
import sys

import lightning as L
import pytest
import torch

from gan_zoo.contract import one_hot
from gan_zoo.data.datamodule import GANDataModule
from gan_zoo.data.embedded import EmbeddedFashionMNIST
from gan_zoo.gan_module import GANModule
from gan_zoo.losses import NonSaturating
from gan_zoo.metrics.evaluator import Evaluator
from gan_zoo.metrics.extractors import PixelExtractor
from gan_zoo.regularizers import GradientPenalty
from tests.helpers import REPO, run_cli
from tests.test_architecture import OLD_RUN

BEFORE = REPO / "tests" / "data" / "before_the_contract.json"


THREADS = 2  # the record's torch threads (a sum split over another count of threads may round differently; the
# tests under `pytest -n 2` run with one thread a worker)


def _digest(state: dict) -> str:
    h = hashlib.sha256()
    for key, value in sorted(state.items()):
        if isinstance(value, torch.Tensor):
            h.update(key.encode())
            h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def record(work) -> dict:
    """What this code computes: images of the committed pre-move checkpoint, its state after resuming it for one
    epoch, and the state and final metrics of a fresh seeded run (tiny DCGAN, the shipped classifier's metrics)."""
    from gan_zoo import api

    settings = [*OLD_RUN, "callbacks.progress_bar.refresh_rate=0", f"paths.cache={work}/cache", "trainer.max_epochs=2"]
    ckpt = work / "old" / "last.ckpt"
    ckpt.parent.mkdir(parents=True)
    shutil.copy(REPO / "tests" / "data" / "dcgan_before_the_move.ckpt", ckpt)
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        images = api.generate_images(api.load_generator(ckpt=str(ckpt)).generator, 16, seed=0)
    finally:
        torch.set_num_threads(threads)
    result = {"old_checkpoint_images": hashlib.sha256(images.numpy().tobytes()).hexdigest()}
    fresh = [f"paths.experiments={work}/fresh/experiments", f"paths.checkpoints={work}/fresh/checkpoints", "seed=3"]
    for args in ([f"ckpt={ckpt}"], fresh):
        done = run_cli([*settings, *args], cwd=work, env={"OMP_NUM_THREADS": str(THREADS)})
        assert done.returncode == 0, done.stderr[-3000:]
    result["old_checkpoint_resumed_state"] = _digest(torch.load(ckpt, weights_only=True)["state_dict"])
    (last,) = (work / "fresh").rglob("last.ckpt")
    result["fresh_run_state"] = _digest(torch.load(last, weights_only=True)["state_dict"])
    (jsonl,) = (work / "fresh").rglob("metrics.jsonl")
    result["fresh_run_metrics"] = json.loads(jsonl.read_text().splitlines()[-1])["metrics"]
    return result


@pytest.mark.slow
def test_unconditional_runs_compute_exactly_as_before_labels_had_a_road(tmp_path):
    before = json.loads(BEFORE.read_text())
    before.pop("recorded_by")
    assert record(tmp_path) == before


def _toy(num_classes: int):
    sys.path.insert(0, str(REPO / "tests" / "toy_model"))
    try:
        import toy_nets
    finally:
        sys.path.pop(0)
    return toy_nets.Generator(16, 1, num_classes=num_classes), toy_nets.Discriminator(16, 1, num_classes=num_classes)


def test_labels_reach_the_generator_the_discriminator_the_regularizers_and_the_ema(tmp_path):
    generator, discriminator = _toy(10)
    seen = {"G": [], "D": [], "EMA": []}
    for name, net in (("G", generator), ("D", discriminator)):
        net.register_forward_pre_hook(lambda m, args, name=name: seen[name].append(args[1] if len(args) > 1 else None))
    module = GANModule(generator, discriminator, NonSaturating(), lambda p: torch.optim.Adam(p, 1e-3),
                       lambda p: torch.optim.Adam(p, 1e-3), regularizers={"gp": GradientPenalty(interval=1)},
                       num_samples=12)
    module.generator_ema.module.register_forward_pre_hook(lambda m, args: seen["EMA"].append(args[1]))
    data = GANDataModule(EmbeddedFashionMNIST, resolution=16, channels=1, batch_size=8, num_classes=10)
    batches = []
    data.on_after_batch_transfer = lambda batch, i: batches.append(batch[1].clone()) or batch
    L.Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=2, logger=False, enable_checkpointing=False,
              enable_progress_bar=False, enable_model_summary=False).fit(module, datamodule=data)
    assert len(batches) == 2 and all(c is not None for c in seen["G"] + seen["D"])
    # per batch: the D step's G call and D on real, on fake and on the penalty's mix; the G step's G and D calls
    expected = [one_hot(labels, 10) for labels in batches]
    assert [torch.equal(c, expected[i // 2]) for i, c in enumerate(seen["G"])] == [True] * 4
    assert all(torch.equal(c, expected[i // 4]) for i, c in enumerate(seen["D"])) and len(seen["D"]) == 8
    module.eval()
    images = module(module.sample_z, module.sample_c)  # the sample grid: the classes in turn
    assert images.shape == (12, 1, 16, 16) and module.sample_c.argmax(1).tolist() == [*range(10), 0, 1]
    assert len(seen["EMA"]) == 1 and torch.equal(seen["EMA"][0], module.sample_c)


def test_the_evaluator_draws_labels_for_a_conditional_generator_and_the_same_latents(tmp_path):
    generator, _ = _toy(10)
    calls = []
    generator.register_forward_pre_hook(lambda m, args: calls.append(args))
    evaluator = Evaluator(PixelExtractor(), num_real=8, num_fake=20, batch_size=8, cache_dir=None)
    features, _ = evaluator.fake_features(generator.eval(), "cpu")
    assert features.shape == (20, 256) and [len(a[0]) for a in calls] == [8, 8, 4]
    labels = torch.cat([a[1] for a in calls]).argmax(1)
    assert len(set(labels.tolist())) > 3  # drawn over the classes
    unconditional, _ = _toy(0)
    calls.clear()
    unconditional.register_forward_pre_hook(lambda m, args: calls.append(args))
    evaluator.fake_features(unconditional.eval(), "cpu")
    assert all(len(a) == 1 for a in calls)  # called without c


def test_labels_for_a_model_that_takes_none_are_one_line(tmp_path):
    result = run_cli(["data.num_classes=10", "trainer.max_epochs=1", "metrics=none"], cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].startswith(
        "gan-zoo: error: data.num_classes=10 gives labels, but the generator gan_zoo.networks.dcgan.Generator takes none")
