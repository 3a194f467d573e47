"""A new run from another one's weights (init=): what it takes, its adaptations, FreezeD, bit-exact resume, and bad
input (one line, exit 2, nothing written)."""
import json
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import OmegaConf

from gan_zoo import api
from gan_zoo.commands.init_settings import start_from_source
from gan_zoo.commands.init_sources import sha256
from gan_zoo.commands.init_weights import take_weights
from gan_zoo.commands.train import train
from gan_zoo.contract import has_style_space
from gan_zoo.errors import UserError
from gan_zoo.runs.run import continue_command
from tests.helpers import BASE, TINY, compose_config, run_cli

STYLEGAN = ["model=stylegan", "model.generator.latent_dim=16", "model.generator.w_dim=16",
            "model.generator.mapping_layers=2", "model.generator.fmap_base=64", "model.generator.fmap_max=16",
            "model.discriminator.fmap_base=64", "model.discriminator.fmap_max=16"]
PGGAN = ["model=pggan", "model.generator.latent_dim=16", "model.generator.fmap_base=64", "model.generator.fmap_max=16",
         "model.discriminator.fmap_base=64", "model.discriminator.fmap_max=16",
         "model.module.schedule.images_per_fade=8", "model.module.schedule.images_per_stable=8"]
MODELS = {"dcgan": TINY, "stylegan": [*BASE, *STYLEGAN], "pggan": [*BASE, *PGGAN]}
ARCHITECTURE = ("model.generator.", "model.discriminator.", "model.module.schedule.images_per")


def _build(cfg):
    """The networks and the shared step a config builds (as gan-zoo-train does), without a trainer."""
    sizes = dict(resolution=cfg.data.resolution, channels=cfg.data.channels)
    return instantiate(cfg.model.module, generator=instantiate(cfg.model.generator, **sizes),
                       discriminator=instantiate(cfg.model.discriminator, **sizes),
                       objective=instantiate(cfg.loss.objective))


def fake_source(path, tmp_path, overrides, seed=0):
    """A gan_zoo checkpoint without training: a config's networks, their weights moved (the EMA otherwise than G)."""
    cfg = compose_config(tmp_path / "source_config", overrides)
    torch.manual_seed(seed)
    module = _build(cfg)
    with torch.no_grad():
        for p in [*module.parameters(), *module.generator_ema.parameters()]:
            p.add_(torch.randn_like(p) * 0.1)
    path.parent.mkdir(parents=True, exist_ok=True)
    loops = {"fit_loop": {"epoch_progress": {"current": {"started": 1, "completed": 1}}}}  # (what export reads)
    torch.save({"gan_zoo_config": OmegaConf.to_container(cfg, resolve=True), "state_dict": module.state_dict(),
                "loops": loops}, path)
    return path


def _plan(tmp_path, overrides):
    cfg = compose_config(tmp_path / "run", overrides)
    plan = start_from_source(cfg)
    module = _build(cfg)
    return cfg, module, plan, take_weights(module, plan)


def _same(a: torch.nn.Module, b: torch.nn.Module, skip=()) -> list[str]:
    """The keys of a's state that differ from b's (skipping those that start with `skip`)."""
    sb = b.state_dict()
    return [k for k, v in a.state_dict().items() if not k.startswith(tuple(skip)) and not torch.equal(v, sb[k])]


def test_init_takes_generator_ema_and_discriminator_and_their_architecture(tmp_path, caplog):
    source = fake_source(tmp_path / "src" / "last.ckpt", tmp_path, [*BASE, *STYLEGAN])
    cfg, module, plan, line = _plan(tmp_path, [*BASE, f"init={source}"])  # no model=: the source's
    assert plan.taken[0] == "model=stylegan" and "model.generator.fmap_base=64" in plan.taken
    assert cfg.model.generator._target_.endswith("stylegan.Generator") and cfg.model.module.g_optimizer.lr == 2.5e-3
    assert cfg.loss.regularizers.r1._target_.endswith("R1")  # the model's own default loss
    assert cfg.init.path == str(source) and len(cfg.init.sha256) == 64 and cfg.init.kind == "gan_zoo checkpoint"
    state = torch.load(source, weights_only=True)["state_dict"]
    for prefix, network in (("generator.", module.generator), ("generator_ema.module.", module.generator_ema.module),
                            ("discriminator.", module.discriminator)):
        for key, value in network.state_dict().items():
            assert torch.equal(value, state[prefix + key]), prefix + key
    assert torch.equal(module.generator.w_avg, state["generator.mapping.w_avg"])
    assert int(module.images_seen) == 0 and int(module.generator_ema.n_averaged) == 0  # fresh counts and EMA ramp-up
    assert line.startswith(f"init: took the generator, its EMA and the discriminator from the gan_zoo checkpoint "
                           f"'{source}'") and line.endswith("fresh: optimizers, step and image counts, the EMA "
                                                            "ramp-up, the schedule")


def test_a_shape_that_differs_is_named_with_the_override_that_matches(tmp_path):
    source = fake_source(tmp_path / "src.ckpt", tmp_path, TINY)
    with pytest.raises(UserError, match=r"the generator's net.0.weight is \[16, 16, 4, 4\] in the source and \[16, 32, "
                                        r"4, 4\] in the networks this config builds; give model.generator.width=8 \(the "
                                        r"source's; this command gives 16\)"):
        _plan(tmp_path, [*TINY, "model.generator.width=16", f"init={source}"])


@pytest.mark.parametrize("overrides, message", [
    (["data.num_classes=10"], "is an unconditional model and data.num_classes=10 gives labels"),
    (["model=stylegan"], "holds a gan_zoo.networks.dcgan.Generator generator and model=stylegan builds "
                         "gan_zoo.networks.stylegan.Generator: give model=dcgan"),
    (["data.resolution=32"], "was trained at 16x16 and data.resolution=32: give data.resolution=16 (its networks fit "
                             "that size only)"),
    (["ckpt=last"], "starts a new run from another one's weights and ckpt=last continues a run: give one of them"),
])
def test_what_init_refuses(tmp_path, overrides, message):
    source = fake_source(tmp_path / "src.ckpt", tmp_path, TINY)
    cfg = compose_config(tmp_path / "run", [*BASE, f"init={source}", *[o for o in overrides if o != "data.resolution=32"]]
                         + (["data.resolution=32"] if "data.resolution=32" in overrides else []))
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        start_from_source(cfg)


def test_a_conditional_source_on_unconditional_data_is_refused(tmp_path):
    source = tmp_path / "src.ckpt"
    fake_source(source, tmp_path, TINY)
    checkpoint = torch.load(source, weights_only=True)
    checkpoint["gan_zoo_config"]["data"]["num_classes"] = 10
    torch.save(checkpoint, source)
    with pytest.raises(UserError, match=r"is a conditional model \(10 classes\) and the data gives no labels"):
        start_from_source(compose_config(tmp_path / "run", [*BASE, f"init={source}"]))


def test_one_to_three_channels_reinitialises_only_the_image_layers(tmp_path):
    source = fake_source(tmp_path / "src.ckpt", tmp_path, TINY)  # 1 channel
    cfg, module, plan, line = _plan(tmp_path, [*BASE, "data.channels=3", f"init={source}"])
    fresh = _build(compose_config(tmp_path / "fresh", [*TINY, "data.channels=3"]))
    state = torch.load(source, weights_only=True)["state_dict"]
    last = f"net.{len(module.generator.net) - 2}.weight"  # the transposed conv that writes the image
    for prefix, network, image_layer in (("generator.", module.generator, last),
                                         ("discriminator.", module.discriminator, "net.0.weight")):
        for key, value in network.state_dict().items():
            if key == image_layer:
                assert value.shape != state[prefix + key].shape
            else:
                assert torch.equal(value, state[prefix + key]), key
    assert f"1 -> 3 channels: re-initialised discriminator net.0, net.{len(module.generator.net) - 2}" in line
    assert fresh.generator.state_dict()[last].shape == module.generator.state_dict()[last].shape


def test_a_smaller_pggan_grows_on_from_its_level(tmp_path):
    source = fake_source(tmp_path / "src.ckpt", tmp_path, [*BASE, *PGGAN, "data.resolution=8"])
    cfg, module, plan, line = _plan(tmp_path, [*BASE, f"init={source}"])  # data.resolution=16: one level more
    assert cfg.model.module.schedule.start_level == 1 and plan.grow_from == 1
    assert "grows on from its 8x8 networks" in line and "the schedule starts at level 1 (8x8)" in line
    assert float(module.generator.progress) == float(module.discriminator.progress) == 1.0
    reference = api.load_generator(ckpt=str(source), which="raw").generator
    z = torch.randn(4, 16)
    with torch.no_grad():  # its first images: the source's, nearest-upsampled to the data's size
        torch.testing.assert_close(module.generator.eval()(z), F.interpolate(reference(z), scale_factor=2))
    schedule = instantiate(cfg.model.module.schedule)
    assert schedule.progress(0, module.generator.max_level) == 1.0  # the schedule starts at the source's level


def test_a_pytorch_gan_zoo_file_gives_g_its_average_and_d_and_grows(tmp_path):
    from gan_zoo.networks.progan import Discriminator, Generator
    from gan_zoo.pretrained.pytorch_gan_zoo import load_pgan
    from tests.pgan_format import write_pgan_file

    torch.manual_seed(0)
    g, average, d = Generator(8, 1, 16, widths=[16, 8]), Generator(8, 1, 16, widths=[16, 8]), \
        Discriminator(8, 1, widths=[16, 8])
    write_pgan_file(tmp_path / "pgan.pth", g, average, d)
    spec = f"pytorch_gan_zoo:{tmp_path / 'pgan.pth'}"
    fmap = [f"model.{net}.{k}={v}" for net in ("generator", "discriminator") for k, v in (("fmap_base", 64),
                                                                                           ("fmap_max", 16))]
    cfg, module, plan, line = _plan(tmp_path, [*BASE, "model=pggan", f"init={spec}", *fmap])  # new level's widths: fmap_*
    assert cfg.model.generator.widths == [16, 8, 4] and cfg.model.discriminator.widths == [16, 8, 4]
    assert line.startswith("init: took the generator, its EMA and the discriminator from the pytorch_GAN_zoo PGAN")
    parts = load_pgan(str(tmp_path / "pgan.pth"))
    for ours, theirs in ((module.generator, parts["generator"]), (module.generator_ema.module, parts["average"]),
                         (module.discriminator, parts["discriminator"])):
        mine = ours.state_dict()
        for key, value in theirs.state_dict().items():
            if key != "progress":
                assert torch.equal(mine[key], value), key


def test_an_exported_generator_gives_a_fresh_discriminator(tmp_path):
    from gan_zoo.runs import shared_model

    source = fake_source(tmp_path / "src.ckpt", tmp_path, TINY)
    loaded = api.load_generator(ckpt=str(source))
    arguments, facts = shared_model.checkpoint_facts(loaded.checkpoint, str(source))
    config = shared_model.describe(loaded.generator, arguments, str(source), "ema", facts)
    shared_model.save(loaded.generator, config, tmp_path / "exported", torch.zeros(1, 1, 16, 16))
    cfg, module, plan, line = _plan(tmp_path, [*BASE, f"init={tmp_path / 'exported'}"])
    assert not _same(module.generator, loaded.generator) and not _same(module.generator_ema.module, loaded.generator)
    assert module.discriminator.net[0].weight.shape == (64, 1, 4, 4)  # as the config builds it (none from the source)
    assert line.startswith("init: took the generator (also as its EMA) from the exported model")
    assert line.endswith("the schedule, the discriminator")


def test_the_continue_line_drops_init():
    command = continue_command(["init=runs/src/last.ckpt", "model=stylegan"], "ckpt/last.ckpt")
    assert "init=" not in command and "model=stylegan" in command


@pytest.mark.parametrize("model", ["dcgan", "pggan", "stylegan"])
def test_freeze_d_keeps_the_first_blocks_and_trains_the_others(tmp_path, model):
    cfg = compose_config(tmp_path, [*MODELS[model], "model.module.freeze_d=1"])
    module = _build(cfg)
    frozen = [p for block in module.discriminator.blocks_from_image()[:1] for p in block.parameters()]
    before = {k: v.clone() for k, v in module.discriminator.state_dict().items()}
    g_opt, d_opt = module.configure_optimizers()
    assert not {id(p) for p in frozen} & {id(p) for group in d_opt.param_groups for p in group["params"]}
    for _ in range(3):  # D steps as the shared step takes them
        real = torch.randn(8, 1, 16, 16)
        loss = module.objective.d_loss(module.discriminator(real), module.discriminator(module.generator(
            torch.randn(8, module.latent_dim)).detach()))
        d_opt.zero_grad()
        loss.backward()
        d_opt.step()
    frozen_keys = {k for k, p in module.discriminator.named_parameters() if any(p is f for f in frozen)}
    after = module.discriminator.state_dict()
    assert frozen_keys and all(torch.equal(before[k], after[k]) for k in frozen_keys)
    trained = [k for k, _ in module.discriminator.named_parameters() if k not in frozen_keys]
    assert all(not torch.equal(before[k], after[k]) for k in trained if not k.endswith("bias") or "out" in k)
    assert all(p.grad is None for p in frozen)  # no gradient is computed for them


def test_freeze_d_beyond_the_discriminators_depth_is_refused(tmp_path):
    with pytest.raises(Exception) as error:  # (Hydra's instantiate wraps it; the commands find it in the chain)
        _build(compose_config(tmp_path, [*TINY, "model.module.freeze_d=3"]))
    assert isinstance(error.value.__cause__, UserError)
    assert str(error.value.__cause__) == ("model.module.freeze_d=3: the discriminator has 2 blocks before its output "
                                          "head; give 0 .. 2")


def test_depth_of_each_discriminator(tmp_path):
    depths = {model: len(_build(compose_config(tmp_path, overrides)).discriminator.blocks_from_image())
              for model, overrides in MODELS.items()}
    assert depths == {"dcgan": 2, "pggan": 2, "stylegan": 2}  # 16x16: 2 stages above 4x4


class FirstImages:
    """A callback (for configs: tests.test_finetune.FirstImages) that saves the EMA and the trained generator's images
    for the module's fixed latents before the first step."""

    def __new__(cls, out: str):
        import lightning as L

        class _Probe(L.Callback):
            def on_train_start(self, trainer, module):
                images = {"z": module.sample_z.clone()}
                for name, generator in (("ema", module.generator_ema.module), ("raw", module.generator)):
                    training = generator.train(False).training
                    with torch.no_grad():
                        images[name] = _images(generator, module.sample_z)
                    generator.train(not training and generator.training)
                torch.save(images, out)

        return _Probe()


def _images(generator, z):
    return generator(z, noise_mode="const") if has_style_space(generator) else generator(z)


def _trained_source(tmp_path, model, extra=()):
    train(compose_config(tmp_path / "source", [*MODELS[model], "name=source", *extra]))
    (ckpt,) = (tmp_path / "source" / "checkpoints" / "source").glob("*/last.ckpt")
    return ckpt


@pytest.mark.slow
@pytest.mark.parametrize("model", ["dcgan", "pggan", "stylegan"])
def test_a_fine_tuned_runs_first_images_are_the_sources(tmp_path, model):
    source = _trained_source(tmp_path, model)
    probe = tmp_path / "first.pt"
    train(compose_config(tmp_path / "ft", [*BASE, f"init={source}", "name=ft",
                                           "+callbacks.probe._target_=tests.test_finetune.FirstImages",
                                           f"+callbacks.probe.out={probe}"]))
    first = torch.load(probe, weights_only=True)
    for which in ("ema", "raw"):
        reference = api.load_generator(ckpt=str(source), which=which).generator
        with torch.no_grad():
            torch.testing.assert_close(first[which], _images(reference, first["z"]), atol=1e-5, rtol=1e-5)
    (ckpt,) = (tmp_path / "ft" / "checkpoints" / "ft").glob("*/last.ckpt")
    stored = torch.load(ckpt, weights_only=True)["gan_zoo_config"]
    assert stored["init"] == {"source": str(source), "kind": "gan_zoo checkpoint", "path": str(source),
                              "sha256": sha256(source)}


def _states(ckpt) -> dict:
    return torch.load(ckpt, weights_only=False)


@pytest.mark.slow
def test_resume_of_a_fine_tuned_run_is_bit_exact_and_never_reads_its_source_again(tmp_path):
    source = _trained_source(tmp_path, "stylegan")
    # model=stylegan is given, its sizes are not: they come from the source, and on resume from the run's config
    args = [*BASE, "model=stylegan", "trainer.limit_train_batches=4", "trainer.deterministic=true", "name=ft"]
    train(compose_config(tmp_path / "straight", [*args, f"init={source}", "trainer.max_epochs=2"]))
    train(compose_config(tmp_path / "resumed", [*args, f"init={source}", "trainer.max_epochs=1"]))
    moved = source.with_name("moved.ckpt")
    shutil.move(source, moved)
    source.write_bytes(b"another file where the source was")  # a resume never reads it
    train(compose_config(tmp_path / "resumed", [*args, "trainer.max_epochs=2", "ckpt=last"]))
    (a,) = (tmp_path / "straight" / "checkpoints" / "ft").glob("*/last.ckpt")
    (b,) = (tmp_path / "resumed" / "checkpoints" / "ft").glob("*/last.ckpt")
    sa, sb = _states(a), _states(b)
    assert int(sa["state_dict"]["images_seen"]) == 2 * 4 * 16
    for key, value in sa["state_dict"].items():
        assert torch.equal(value, sb["state_dict"][key]), key
    for opt_a, opt_b in zip(sa["optimizer_states"], sb["optimizer_states"]):
        for pa, pb in zip(opt_a["state"].values(), opt_b["state"].values()):
            assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert sb["gan_zoo_config"]["init"] == sa["gan_zoo_config"]["init"]  # the record of its source is kept
    assert sb["gan_zoo_config"]["model"]["generator"]["fmap_base"] == 64


@pytest.mark.slow
def test_freeze_d_with_ada_in_a_fine_tuned_run(tmp_path):
    source = _trained_source(tmp_path, "dcgan")
    train(compose_config(tmp_path / "ft", [*BASE, f"init={source}", "name=ft", "augment=ada", "augment.p=0.5",
                                           "model.module.freeze_d=1"]))
    (ckpt,) = (tmp_path / "ft" / "checkpoints" / "ft").glob("*/last.ckpt")
    before, after = _states(source)["state_dict"], _states(ckpt)["state_dict"]
    assert torch.equal(before["discriminator.net.0.weight"], after["discriminator.net.0.weight"])  # block 1: frozen
    assert not torch.equal(before["discriminator.net.2.weight"], after["discriminator.net.2.weight"])
    assert not torch.equal(before["generator.net.0.weight"], after["generator.net.0.weight"])


def _hostile_export(folder):
    folder.mkdir()
    (folder / "generator.safetensors").write_bytes(b"\0" * 16)
    (folder / "config.json").write_text(json.dumps({"class": "os.system", "arguments": {"command": "touch /tmp/pwned"},
                                                    "resolution": 16, "channels": 1}))
    return folder


BAD = [  # (what init= or the other settings are, what the one line says)
    ("missing", [], "init='{tmp}/nope.ckpt': no such file or folder (init= takes a checkpoint of gan-zoo-train"),
    ("wrong_kind", [], "init='{tmp}/wrong.ckpt' is not a gan_zoo checkpoint (it has no stored run config and weights)"),
    ("source", ["model.generator.width=16"], "the generator's net.0.weight is [16, 16, 4, 4] in the source and [16, 32, "
                                             "4, 4] in the networks this config builds; give model.generator.width=8"),
    ("source", ["ckpt=last"], "ckpt=last continues a run: give one of them"),
    ("hostile", [], "refusing '{tmp}/hostile/config.json': its stored config asks for 'os.system'"),
    ("source", ["model.module.freeze_d=5"], "model.module.freeze_d=5: the discriminator has 2 blocks before its output"),
]


@pytest.mark.slow
@pytest.mark.parametrize("kind, overrides, message", BAD, ids=[f"{k}-{' '.join(o)}" for k, o, _ in BAD])
def test_bad_init_is_one_line_exit_2_and_writes_nothing(tmp_path, kind, overrides, message):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    paths = {"missing": inputs / "nope.ckpt", "wrong_kind": inputs / "wrong.ckpt", "source": inputs / "src.ckpt",
             "hostile": inputs / "hostile"}
    torch.save({"weight": torch.ones(3)}, paths["wrong_kind"])
    fake_source(paths["source"], inputs, TINY)
    _hostile_export(paths["hostile"])
    before = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    result = run_cli([*BASE, f"init={paths[kind]}", *overrides], cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("gan-zoo: error: "), result.stderr
    assert message.format(tmp=inputs) in result.stderr, result.stderr
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == before  # nothing written
    assert not Path("/tmp/pwned").exists()


def test_ada_between_0_and_1_under_bf16_autocast():
    """ADA's p between 0 and 1 blends each image with its augmented self: under CPU bf16 autocast (trainer.precision=
    auto on a CPU with bf16), translation's grid_sample runs in fp32 while the generator's images are bf16."""
    from gan_zoo.augment import DiffAugment

    x = torch.rand(4, 1, 16, 16).to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = DiffAugment(p=0.5)(x)
    assert out.shape == x.shape
