"""NVIDIA's stylegan2-ada-pytorch networks, pickled by its own code, opened by gan_zoo's reader and computed by
gan_zoo's StyleGAN: the same mapping (bit for bit), the same w_avg, the same images and logits (fp32, <= 1e-4), and
every command that takes a generator working on them. The reference is extracted into a temporary folder at test
time (tests/stylegan2_ada_reference.py); gan_zoo never imports it."""
import json
import sys

import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from PIL import Image

import hubconf
from gan_zoo import api
from gan_zoo.commands import evaluate, export, generate, morph, project
from gan_zoo.contract import one_hot
from gan_zoo.errors import UserError
from gan_zoo.pretrained.stylegan2_ada import load
from tests.stylegan2_ada_reference import build, reference, require_archive, snapshot

TOLERANCE = 1e-4
# name -> the reference's settings: train.py's configs (mapping layers, mbstd group, D architecture, fp16 blocks,
# conv_clamp 256), with small channel counts; "options" sets what the configs leave at their defaults; "tiny" is
# what the commands run on (morph's pixel-space FID is quick at 16x16x1).
CONFIGS = {
    "cifar": dict(resolution=32, channels=3, c_dim=10, mapping_layers=2, mbstd_group_size=32, architecture="orig"),
    "auto": dict(resolution=64, channels=1, mapping_layers=2, mbstd_group_size=4, channel_max=8),
    "paper256": dict(resolution=128, channels=3, mapping_layers=8, mbstd_group_size=8, channel_base=1024,
                     channel_max=8),
    "options": dict(resolution=16, channels=3, c_dim=5, mapping_layers=3, mbstd_group_size=2, conv_clamp=0.3,
                    mapping_kwargs=dict(lr_multiplier=0.05), d_mapping_kwargs=dict(num_layers=1),
                    epilogue_kwargs=dict(mbstd_num_channels=2), channel_base=256, channel_max=16),
    "tiny": dict(resolution=16, channels=1, mapping_layers=2, channel_base=128, channel_max=8),
}


@pytest.fixture(scope="module")
def networks(tmp_path_factory):
    """name -> (pickle path, the reference's G, G_ema, D and their outputs for fixed z, c)."""
    require_archive()
    root = tmp_path_factory.mktemp("stylegan2_ada")
    out = {}
    with reference(root / "reference") as (reference_networks, augment, dnnlib):
        for name, config in CONFIGS.items():
            G, G_ema, D = build(reference_networks, dnnlib, **config)
            pipe = augment.AugmentPipe(xflip=1, rotate90=1, xint=1, brightness=1)
            path = snapshot(root / f"{name}.pkl", G, G_ema, D, pipe, dnnlib, config["resolution"],
                            config.get("c_dim", 0) > 0)
            z = torch.randn(8, G.z_dim, generator=torch.Generator().manual_seed(1))
            c = one_hot(torch.arange(8) % G.c_dim, G.c_dim) if G.c_dim else torch.zeros(8, 0)
            with torch.no_grad():
                images = {psi: G_ema(z, c, truncation_psi=psi, noise_mode="const", force_fp32=True) for psi in (1, 0.7)}
                logits = D(images[1], c, force_fp32=True).flatten()
                w = G_ema.mapping(z, c)[:, 0]
            out[name] = dict(path=path, z=z, c=c if G.c_dim else None, images=images, logits=logits, w=w,
                             w_avg=G_ema.mapping.w_avg.clone(), G_w_avg=G.mapping.w_avg.clone())
    return out


@pytest.mark.parametrize("name", CONFIGS)
def test_the_imported_networks_compute_what_the_reference_computes(networks, name):
    ref = networks[name]
    imported = load(str(ref["path"]))
    G, D = imported.generator, imported.discriminator
    with torch.no_grad():
        assert torch.equal(G.mapping(ref["z"], ref["c"]), ref["w"])  # the mapping: bit for bit
        assert torch.equal(G.w_avg, ref["w_avg"]) and not torch.equal(G.w_avg, ref["G_w_avg"])  # G_ema's, not G's
        for psi, expected in ref["images"].items():
            images = G(ref["z"], ref["c"], psi=psi, noise_mode="const")
            assert (images - expected).abs().max() <= TOLERANCE, (psi, (images - expected).abs().max())
        logits = D(ref["images"][1], ref["c"])
    assert (logits - ref["logits"]).abs().max() <= TOLERANCE, (logits - ref["logits"]).abs().max()
    assert ref["images"][1].abs().max() > 0.5 and ref["logits"].std() > 1e-3  # outputs that can show a difference
    assert G.num_classes == D.num_classes == CONFIGS[name].get("c_dim", 0)
    assert imported.facts["training_set_kwargs"]["resolution"] == CONFIGS[name]["resolution"]


def test_a_pickle_is_read_without_the_reference_on_the_path_and_imports_none_of_it(networks):
    assert not {m.split(".")[0] for m in sys.modules} & {"dnnlib", "torch_utils", "training"}  # (the fixture's gone)
    generator = api.load_generator(ckpt=str(networks["auto"]["path"])).generator
    generator(torch.randn(2, generator.latent_dim))
    assert not {m.split(".")[0] for m in sys.modules} & {"dnnlib", "torch_utils", "training"}


def _command(main, args, monkeypatch, capsys) -> tuple[int, str]:
    GlobalHydra.instance().clear()
    monkeypatch.setattr(sys, "argv", ["gan-zoo", *args])
    try:
        main()
        code = 0
    except SystemExit as stop:
        code = stop.code or 0
    return code, capsys.readouterr().err


def test_generate_project_morph_export_and_the_hub_on_a_reference_pickle(networks, tmp_path, monkeypatch, capsys):
    pkl = networks["tiny"]["path"]
    code, err = _command(generate.main, [f"ckpt={pkl}", "psi=0.7", "num=4", f"out={tmp_path}/g.png"], monkeypatch,
                         capsys)
    assert code == 0, err
    assert Image.open(tmp_path / "g.png").size == (2 + 4 * 18, 2 + 18)
    code, err = _command(generate.main, [f"pretrained=stylegan2-ada:{pkl}", "interpolate=true", "space=w", "rows=1",
                                         "frames=3", f"out={tmp_path}/i.png"], monkeypatch, capsys)
    assert code == 0, err
    (tmp_path / "imgs").mkdir()
    target = api.generate_images(load(str(pkl)).generator, 2, seed=5, noise_mode="const")
    for i, image in enumerate(target):
        Image.fromarray(((image[0] + 1) * 127.5).clamp(0, 255).byte().numpy()).save(tmp_path / "imgs" / f"{i}.png")
    for space in ("z", "w", "w_plus"):
        code, err = _command(project.main, [f"ckpt={pkl}", f"images={tmp_path}/imgs", f"space={space}",
                                            "projection.steps=2", f"out={tmp_path}/p_{space}"], monkeypatch, capsys)
        assert code == 0, err
        assert (tmp_path / f"p_{space}" / "latents.pt").is_file()
    code, err = _command(morph.main, [f"ckpt={pkl}", f"start={tmp_path}/p_w_plus/latents.pt", "space=w_plus",
                                      f"end={tmp_path}/p_w_plus/latents.pt", "features=pixels", "t=[0,0.5,1]",
                                      f"out={tmp_path}/m"], monkeypatch, capsys)
    assert code == 0, err
    assert len(list((tmp_path / "m").glob("t_*"))) == 3
    code, err = _command(export.main, [f"ckpt={pkl}", "samples=4", f"out={tmp_path}/e"], monkeypatch, capsys)
    assert code == 0, err
    config = json.loads((tmp_path / "e" / "config.json").read_text())
    assert config["imported"]["sha256"] == load(str(pkl)).facts["sha256"]
    assert config["arguments"]["rgb_resample"] == "fir" and config["arguments"]["activation_gain"] == "output"
    assert "sha256" in (tmp_path / "e" / "README.md").read_text()
    shared = api.load_generator(shared=str(tmp_path / "e")).generator
    hub = hubconf.stylegan2_ada(str(pkl))
    z = networks["tiny"]["z"]
    with torch.no_grad():
        expected = networks["tiny"]["images"][0.7]
        for g in (shared, hub):
            assert (g(z, psi=0.7, noise_mode="const") - expected).abs().max() <= TOLERANCE


def test_eval_scores_a_reference_pickle_against_a_data_set(networks, tmp_path, monkeypatch, capsys):
    small = ["metrics=classifier", "metrics.evaluate.evaluator.num_real=64", "metrics.evaluate.evaluator.num_fake=32",
             "metrics.evaluate.evaluator.batch_size=32", "metrics.evaluate.evaluator.kid_subset_size=16",
             f"paths.cache={tmp_path}/cache", "data=embedded", "data.resolution=16"]
    pkl = networks["tiny"]["path"]
    code, err = _command(evaluate.main, [f"pretrained=stylegan2-ada:{pkl}", *small, f"out={tmp_path}/m.json"],
                         monkeypatch, capsys)
    assert code == 0, err
    result = json.loads((tmp_path / "m.json").read_text())
    assert result["pretrained"] == f"stylegan2-ada:{pkl}" and result["metrics"]["fid_fmnist_cnn"] > 0
    code, err = _command(evaluate.main, [f"ckpt={pkl}", f"out={tmp_path}/n.json"], monkeypatch, capsys)
    assert code == 2 and err.strip().startswith("gan-zoo: error: an imported generator has no run")
    assert not (tmp_path / "n.json").exists()


def test_a_conditional_pickle_generates_the_class_asked_for(networks, tmp_path, monkeypatch, capsys):
    ref = networks["cifar"]
    loaded = api.load_generator(ckpt=str(ref["path"]))
    z, k = ref["z"], 3
    with torch.no_grad():
        images = api.generate_images(loaded.generator, 8, seed=1, class_index=k, psi=0.7, noise_mode="const")
        expected = loaded.generator(z, one_hot(torch.full((8,), k), 10), psi=0.7, noise_mode="const")
        other = loaded.generator(z, one_hot(torch.full((8,), k + 1), 10), psi=0.7, noise_mode="const")
    assert torch.equal(images, expected) and (images - other).abs().max() > 0.1
    code, err = _command(generate.main, [f"ckpt={ref['path']}", f"class={k}", "num=4", f"out={tmp_path}/c.png"],
                         monkeypatch, capsys)
    assert code == 0, err
    for value, message in [("12", "class=12: the generator has classes 0 .. 9"),
                           ("cat", "class='cat': give a class index 0 .. 9 (this model's classes have no names)")]:
        code, err = _command(generate.main, [f"ckpt={ref['path']}", f"class={value}", f"out={tmp_path}/x.png"],
                             monkeypatch, capsys)
        assert (code, err.strip()) == (2, f"gan-zoo: error: {message}")
    code, err = _command(generate.main, [f"ckpt={networks['auto']['path']}", "class=1", f"out={tmp_path}/x.png"],
                         monkeypatch, capsys)
    assert (code, err.strip()) == (2, "gan-zoo: error: class=1: this generator is unconditional (it has no classes): "
                                      "drop class=")
    assert not (tmp_path / "x.png").exists()


def test_class_names_of_a_named_source_are_accepted(networks, tmp_path, monkeypatch, capsys):
    from gan_zoo.pretrained.stylegan2_ada import sources

    monkeypatch.setattr(sources, "_download", lambda name, url: networks["cifar"]["path"])  # no internet in tests
    code, err = _command(generate.main, ["pretrained=stylegan2-ada:cifar10", "class=ship", "num=2",
                                         f"out={tmp_path}/ships.png"], monkeypatch, capsys)
    assert code == 0, err
    loaded = api.load_generator(pretrained="stylegan2-ada:cifar10")
    assert loaded.imported["provenance"]["license"] == "NVIDIA Source Code License-NC"
    assert loaded.imported["provenance"]["class_names"][8] == "ship"
    code, err = _command(export.main, ["pretrained=stylegan2-ada:cifar10", "samples=2", f"out={tmp_path}/e"],
                         monkeypatch, capsys)
    assert code == 0, err
    card = (tmp_path / "e" / "README.md").read_text()
    assert "license: NVIDIA Source Code License-NC (https://nvlabs.github.io/stylegan2-ada-pytorch/license.html)" in card
    assert "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/cifar10.pkl" in card


def test_a_named_source_offline_fails_fast_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr("torch.hub.get_dir", lambda: str(tmp_path / "hub"))

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(UserError, match=r"could not download stylegan2-ada-pytorch's 'metfaces' .*download https://"
                                        r"nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metfaces.pkl"):
        load("metfaces")
    assert not list((tmp_path / "hub").rglob("*.pkl"))


REFERENCE_OPTIONS = [  # stylegan2-ada-pytorch's networks, trained from scratch, conditional on the data's labels
    "model.generator.resample=fir", "model.generator.rgb_resample=fir", "model.generator.activation_gain=output",
    "model.generator.conv_clamp=256", "model.generator.num_classes=10", "model.discriminator.resample=fir",
    "model.discriminator.activation_gain=output", "model.discriminator.conv_clamp=256",
    "model.discriminator.num_classes=10", "model.discriminator.architecture=orig",
    "model.discriminator.mbstd_num_channels=2", "model.discriminator.mapping_layers=2",
]


def test_the_reference_options_train_from_scratch_and_generate_a_class(tmp_path, monkeypatch, capsys):
    from gan_zoo.commands.train import train
    from tests.helpers import BASE, compose_config
    from tests.test_stylegan import STYLEGAN_TINY

    train(compose_config(tmp_path, [*BASE, *STYLEGAN_TINY, *REFERENCE_OPTIONS, "trainer.limit_train_batches=2"]))
    ckpt = tmp_path / "checkpoints" / "stylegan_embedded" / "run" / "last.ckpt"
    generator = api.load_generator(ckpt=str(ckpt)).generator
    assert generator.num_classes == 10 and generator.rgb_resample == "fir"
    code, err = _command(generate.main, [f"ckpt={ckpt}", "class=7", "num=4", f"out={tmp_path}/seven.png"],
                         monkeypatch, capsys)
    assert code == 0, err


@pytest.mark.parametrize("spelling", ["stylegan2-ada:{}", "{}"])
def test_init_starts_a_run_from_a_reference_pickle(networks, tmp_path, spelling):
    """init=stylegan2-ada:<file.pkl> (or the .pkl alone): the run's G is the pickle's G, its EMA G_ema (the reference's
    images), its D the reference's D, and its architecture the file's, read by the same allow-list reader."""
    from hydra.utils import instantiate

    from gan_zoo.commands.init_settings import start_from_source
    from gan_zoo.commands.init_weights import take_weights
    from tests.helpers import BASE, compose_config

    ref = networks["tiny"]
    cfg = compose_config(tmp_path, [*BASE, f"init={spelling.format(ref['path'])}"])  # no model=: the file's
    plan = start_from_source(cfg)
    sizes = dict(resolution=cfg.data.resolution, channels=cfg.data.channels)
    module = instantiate(cfg.model.module, generator=instantiate(cfg.model.generator, **sizes),
                         discriminator=instantiate(cfg.model.discriminator, **sizes),
                         objective=instantiate(cfg.loss.objective))
    line = take_weights(module, plan)
    assert plan.taken[0] == "model=stylegan" and "model.generator.mapping_layers=2" in plan.taken
    assert cfg.init.kind == "stylegan2-ada-pytorch pickle" and cfg.init.sha256 == load(str(ref["path"])).facts["sha256"]
    assert line.startswith("init: took the generator, its EMA and the discriminator from the stylegan2-ada-pytorch "
                           f"pickle '{ref['path']}'")
    with torch.no_grad():
        module.eval()  # (no style mixing)
        images = module.generator_ema.module(ref["z"], noise_mode="const")
        logits = module.discriminator(ref["images"][1])
    assert (images - ref["images"][1]).abs().max() <= TOLERANCE
    assert (logits - ref["logits"]).abs().max() <= TOLERANCE
    assert torch.equal(module.generator_ema.module.w_avg, ref["w_avg"])  # G_ema's, and G is the trained one
    assert torch.equal(module.generator.w_avg, ref["G_w_avg"]) and not torch.equal(ref["w_avg"], ref["G_w_avg"])


def test_a_gan_zoo_stylegan_written_by_the_reference_code_reads_back_equal(tmp_path):
    """tests/sg2ada_format (the fine-tuning study's `init=stylegan2-ada:` source): gan_zoo networks with the reference
    options, copied into the reference's own classes and pickled by them, read back by the allow-list reader with
    every tensor equal and the same images; a checkpoint without those options is refused by name."""
    from gan_zoo.networks.stylegan import Discriminator, Generator
    from tests.sg2ada_format import REFERENCE_OPTIONS, reference_kwargs, write

    require_archive()
    g_config = dict(latent_dim=16, w_dim=16, mapping_layers=2, mapping_lr_multiplier=0.01, fmap_base=128, fmap_max=8,
                    conv_clamp=None, num_classes=0, **REFERENCE_OPTIONS["generator"])
    d_config = dict(fmap_base=128, fmap_max=8, mbstd_group_size=4, mbstd_num_channels=1, architecture="resnet",
                    conv_clamp=None, num_classes=0, cmap_dim=None, mapping_layers=8, mapping_lr_multiplier=0.01,
                    **REFERENCE_OPTIONS["discriminator"])
    torch.manual_seed(0)
    nets = {"generator": Generator(**g_config, resolution=16, channels=1),
            "average": Generator(**g_config, resolution=16, channels=1),
            "discriminator": Discriminator(**d_config, resolution=16, channels=1)}
    with torch.no_grad():
        for net in nets.values():
            for tensor in net.state_dict().values():
                if tensor.is_floating_point():
                    tensor.add_(torch.randn_like(tensor) * 0.1)
    path = write(tmp_path / "snapshot.pkl", **{k: v.eval() for k, v in nets.items()}, g_config=g_config,
                 d_config=d_config, resolution=16, channels=1)
    imported = load(str(path), trained=True)
    for ours, back in ((nets["average"], imported.generator), (nets["generator"], imported.trained),
                       (nets["discriminator"], imported.discriminator)):
        mine, theirs = ours.state_dict(), back.state_dict()
        assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    z = torch.randn(4, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(nets["average"](z, noise_mode="const"), imported.generator(z, noise_mode="const"))
    with pytest.raises(ValueError, match="rgb_resample"):
        reference_kwargs({**g_config, "rgb_resample": "bilinear"}, d_config, 16, 1)
