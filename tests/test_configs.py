"""Every option of every config group composes, and instantiates where its files are here."""
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from gan_zoo.commands.cli import CONFIG_DIR
from gan_zoo.commands.train import lightning_trainer_config
from gan_zoo.errors import UserError
from tests.helpers import BASE, compose_config

GROUPS = {p.name: sorted(f.stem for f in p.glob("*.yaml")) for p in Path(CONFIG_DIR).iterdir() if p.is_dir()}


def test_every_group_has_options():
    for group in ("data", "model", "loss", "trainer", "logger", "callbacks", "paths", "hydra", "regularizer"):
        assert GROUPS.get(group), f"conf/{group}/ has no options"


@pytest.mark.parametrize("loss", GROUPS["loss"])
def test_loss_options_instantiate(tmp_path, loss):
    cfg = compose_config(tmp_path, [f"loss={loss}"])
    objective = instantiate(cfg.loss.objective)
    assert callable(objective.d_loss) and callable(objective.g_loss)
    for reg in cfg.loss.regularizers.values():
        r = instantiate(reg)
        assert r.weight > 0 and r.interval >= 1


@pytest.mark.parametrize("regularizer", GROUPS["regularizer"])
def test_regularizer_options_add_to_any_loss(tmp_path, regularizer):
    cfg = compose_config(tmp_path, [f"+regularizer@loss.regularizers.extra={regularizer}"])
    assert instantiate(cfg.loss.regularizers.extra).weight > 0


@pytest.mark.parametrize("model", GROUPS["model"])
def test_model_options_instantiate(tmp_path, model):
    cfg = compose_config(tmp_path, [f"model={model}", *BASE])
    g = instantiate(cfg.model.generator, resolution=16, channels=3)
    d = instantiate(cfg.model.discriminator, resolution=16, channels=3)
    module = instantiate(cfg.model.module, generator=g, discriminator=d, objective=instantiate(cfg.loss.objective))
    assert module.sample_z.shape == (16, g.latent_dim)
    # every model ramps its EMA up (StyleGAN2's 0.05): at 1 kimg the half-life is 50 images, not 10,000
    assert module.generator_ema.rampup == 0.05
    assert module.generator_ema.decay(batch_images=16, images_seen=1000) == pytest.approx(0.5 ** (16 / 50))


@pytest.mark.parametrize("trainer", GROUPS["trainer"])
def test_trainer_options_compose_and_cpu_ones_instantiate(tmp_path, trainer):
    cfg = compose_config(tmp_path, [f"trainer={trainer}"])
    assert cfg.trainer._target_ == "lightning.pytorch.Trainer"
    if cfg.trainer.accelerator == "cpu":
        trainer_cfg, *_ = lightning_trainer_config(cfg)
        assert instantiate(trainer_cfg, logger=False).max_epochs == cfg.trainer.max_epochs


def test_trainer_precision_is_an_override(tmp_path):
    cfg = compose_config(tmp_path, ["trainer.precision=bf16-mixed"])
    assert instantiate(lightning_trainer_config(cfg)[0], logger=False).precision == "bf16-mixed"


@pytest.mark.parametrize("logger", GROUPS["logger"])
@pytest.mark.parametrize("callbacks", GROUPS["callbacks"])
def test_logger_and_callback_options_compose(tmp_path, logger, callbacks):
    cfg = compose_config(tmp_path, [f"logger={logger}", f"callbacks={callbacks}"])
    cfg.paths.run_dir, cfg.paths.ckpt_dir = str(tmp_path / "run"), str(tmp_path / "ckpt")
    assert all(instantiate(c) is not None for c in cfg.callbacks.values())
    assert all("_target_" in lg for lg in cfg.logger.values())


PAINTINGS = Path(__file__).parent / "data" / "paintings"  # 40 small synthetic PNGs


@pytest.mark.parametrize("data", GROUPS["data"])
def test_data_options_instantiate_or_say_where_files_go(tmp_path, data):
    root = {"embedded": [], "image_folder": [f"data.dataset.root={PAINTINGS}"]}
    cfg = compose_config(tmp_path, [f"data={data}", *root.get(data, [f"data.dataset.root={tmp_path}"])])
    if data not in root:  # a torchvision set, whose files are not here: the error says where they go
        with pytest.raises(Exception, match=f"from '{tmp_path}'.*put the files there") as error:
            instantiate(cfg.data)
        assert isinstance(error.value.__cause__ or error.value, UserError)
        return
    dm = instantiate(cfg.data)
    images, _ = next(iter(dm.train_dataloader()))
    assert images.shape[1:] == (dm.channels, dm.resolution, dm.resolution)


@pytest.mark.parametrize("data, extractor", [("embedded", "FashionClassifierExtractor"), ("cifar10", "InceptionExtractor"),
                                             ("image_folder", "InceptionExtractor")])
def test_default_metrics_follow_the_data(tmp_path, data, extractor):
    cfg = compose_config(tmp_path, [f"data={data}"])
    assert cfg.metrics.evaluate.evaluator.extractor._target_.endswith(extractor)
    assert compose_config(tmp_path, [f"data={data}", "metrics=none"]).metrics == {}


@pytest.mark.parametrize("metrics", GROUPS["metrics"])
def test_metrics_options_instantiate(tmp_path, metrics):
    from tests.helpers import SHARED_DATA

    weights = SHARED_DATA / "inception-2015-12-05-fid-only.pth"
    extra = [f"metrics.evaluate.evaluator.extractor.weights_path={weights}"] if metrics == "inception" else []
    if metrics == "inception" and not weights.is_file():
        pytest.skip(f"needs the shared Inception weights at {weights}")
    cfg = compose_config(tmp_path, [f"metrics={metrics}", *extra])
    cfg.paths.run_dir, cfg.paths.ckpt_dir = str(tmp_path / "run"), str(tmp_path / "ckpt")
    callbacks = [instantiate(c) for c in cfg.metrics.values()]
    assert len(callbacks) == (0 if metrics == "none" else 2)


@pytest.mark.parametrize("experiment", GROUPS.get("experiment", []))
def test_experiment_presets_compose_and_build_their_networks(tmp_path, experiment):
    cfg = compose_config(tmp_path, [f"experiment={experiment}", "data.dataset.root=/data"]
                         if not experiment.endswith("_embedded") else [f"experiment={experiment}"])
    sizes = dict(resolution=cfg.data.resolution, channels=cfg.data.channels)
    if cfg.data.resolution <= 64:  # building big networks is slow on CPU; composing is the test there
        g = instantiate(cfg.model.generator, **sizes)
        assert g.resolution == cfg.data.resolution
        assert instantiate(cfg.model.discriminator, **sizes)(g(torch.randn(2, g.latent_dim))).shape == (2,)
    expected = "Wasserstein" if experiment.startswith("pggan") else "NonSaturating"
    assert cfg.loss.objective._target_.endswith(expected)
