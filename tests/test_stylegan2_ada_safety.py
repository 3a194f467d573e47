"""A stylegan2-ada-pytorch pickle is read by an allow-list: nothing in it runs. Each hostile or broken file, given to
gan-zoo-generate as a user would: exit 2, one line naming the file and what it asked for, no marker, nothing
written. The pickles are crafted here (a function pickled under the name the file would use); those that need real
networks take them from the reference, extracted at test time."""
import os
import pickle
import subprocess
import sys
import types
from contextlib import contextmanager

import pytest
import torch
from hydra.core.global_hydra import GlobalHydra

from gan_zoo.commands import generate
from gan_zoo.pretrained.stylegan2_ada import load
from tests.stylegan2_ada_reference import build, reference, require_archive, snapshot, snapshot_data


class _Calls:
    """Unpickling this calls function(*args)."""

    def __init__(self, function, *args, state=None):
        self.reduced = (function, args) if state is None else (function, args, state)

    def __reduce__(self):
        return self.reduced


@contextmanager
def _named(module: str, name: str, kind=None):
    """A function (or class) that pickles as module.name, whatever the reader's process has under that name."""
    target = kind or (lambda *args: None)
    target.__module__, target.__qualname__, target.__name__ = module, name, name
    parts = module.split(".")
    names = [".".join(parts[: i + 1]) for i in range(len(parts))]  # the module and its parents
    saved = {n: sys.modules.get(n) for n in names}
    for n in names:
        sys.modules[n] = types.ModuleType(n)
    setattr(sys.modules[module], name, target)
    try:
        yield target
    finally:
        for n, old in saved.items():
            sys.modules.pop(n)
            if old is not None:
                sys.modules[n] = old


def _persistent(meta: dict) -> bytes:
    with _named("torch_utils.persistence", "_reconstruct_persistent_obj") as reconstruct:
        return pickle.dumps({"G_ema": _Calls(reconstruct, meta), "D": None})


def _hostile(marker) -> dict:
    """name -> the bytes of a pickle that would write `marker` (or asks for something no network pickle needs)."""
    touch = f"open({str(marker)!r}, 'w').write('pwned')"
    with _named("dnnlib.util", "EasyDict", type("EasyDict", (dict,), {})) as easy_dict:
        attributes = pickle.dumps({"G_ema": _Calls(easy_dict, state={"__class__": "os.system", "marker": touch})})
    with _named("training.networks", "Generator", type("Generator", (), {})) as generator_class:
        allowed_looking = pickle.dumps({"G_ema": _Calls(generator_class)})
    with _named("torch._utils", "_rebuild_tensor_v2") as rebuild:
        not_a_storage = pickle.dumps({"G_ema": _Calls(rebuild, "echo pwned", 0, (1,), (1,), False, {})})
    return {
        "os.system": pickle.dumps({"G_ema": _Calls(os.system, f"touch {marker}")}),
        "builtins.exec": pickle.dumps({"G_ema": _Calls(exec, touch)}),
        "builtins.eval": pickle.dumps({"G_ema": _Calls(eval, touch)}),
        "subprocess.check_call": pickle.dumps({"G_ema": _Calls(subprocess.check_call, ["touch", str(marker)])}),
        "persistence source": _persistent({"type": "class", "version": 6, "class_name": "Evil", "state": {},
                                           "module_src": f"{touch}\nclass Evil:\n    pass\n"}),
        "storage blob": pickle.dumps({"G_ema": _Calls(torch.storage._load_from_bytes,
                                                      pickle.dumps(_Calls(os.system, f"touch {marker}")))}),
        "EasyDict state": attributes,
        "allowed-looking class": allowed_looking,
        "tensor of no storage": not_a_storage,
    }


EXPECTED = {  # what the one line says of each
    "os.system": "it asks for posix.system, which a stylegan2-ada-pytorch network pickle never needs",
    "builtins.exec": "it asks for builtins.exec,",
    "builtins.eval": "it asks for builtins.eval,",
    "subprocess.check_call": "it asks for subprocess.check_call,",
    "persistence source": "its G_ema is a 'Evil' with arguments [], not a stylegan2-ada-pytorch Generator",
    "storage blob": "it asks for a tensor storage that is not plain tensor data",
    "EasyDict state": "it asks for attributes set on a dictionary",
    "allowed-looking class": "it asks for training.networks.Generator,",
    "tensor of no storage": "it asks for a tensor that is not plain data",
    "truncated": "is not a readable stylegan2-ada-pytorch network pickle (",
    "png": "it asks for a persistent id (an external object)",  # (its first bytes read as pickle opcodes)
    "html": "is not a readable stylegan2-ada-pytorch network pickle (UnpicklingError: invalid load key, '<'",
    "torch zip": "is a zip file (torch.save's format), not a stylegan2-ada-pytorch network pickle",
    "a list": "holds a list, not a stylegan2-ada-pytorch snapshot",
    "stylegan3": "is a StyleGAN3 network (stylegan3-r, alias-free): gan_zoo computes StyleGAN2 networks only",
}


def _broken(tmp_path) -> dict:
    torch.save({"G_ema": {"w": torch.zeros(2)}}, tmp_path / "zip.pt")
    stylegan3 = {"type": "class", "version": 6, "class_name": "Generator", "module_src": "class SynthesisInput: ...",
                 "state": {"_init_kwargs": {"z_dim": 512, "c_dim": 0, "w_dim": 512, "img_resolution": 256,
                                            "img_channels": 3, "synthesis_kwargs": {"conv_kernel": 1}}}}
    return {"truncated": pickle.dumps({"G_ema": {"weights": list(range(2000))}})[:500],
            "png": b"\x89PNG\r\n\x1a\n" + bytes(64),
            "html": b"<html><body>404 Not Found</body></html>\n",  # a failed download
            "torch zip": (tmp_path / "zip.pt").read_bytes(),
            "a list": pickle.dumps([1, 2, 3]),
            "stylegan3": _persistent(stylegan3)}


def _generate(path, out, monkeypatch, capsys) -> tuple[int, list[str]]:
    GlobalHydra.instance().clear()
    monkeypatch.setattr(sys, "argv", ["gan-zoo-generate", f"pretrained=stylegan2-ada:{path}", f"out={out}"])
    with pytest.raises(SystemExit) as stop:
        generate.main()
    return stop.value.code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("name", EXPECTED)
def test_a_hostile_or_broken_pickle_is_refused_in_one_line_and_nothing_runs(name, tmp_path, monkeypatch, capsys):
    marker = tmp_path / "pwned"
    files = tmp_path / "files"
    files.mkdir()
    path = files / "network-snapshot.pkl"
    path.write_bytes({**_hostile(marker), **_broken(files)}[name])
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, lines = _generate(path, tmp_path / "x.png", monkeypatch, capsys)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("gan-zoo: error: "), lines
    assert str(path) in lines[0] and EXPECTED[name] in lines[0], lines[0]
    assert not marker.exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


@pytest.fixture(scope="module")
def reference_pickles(tmp_path_factory):
    """A real small network pickled with its embedded source replaced by one that writes a marker, and the
    configurations gan_zoo refuses (orig generator, skip discriminator)."""
    require_archive()
    root = tmp_path_factory.mktemp("stylegan2_ada_safety")
    marker = root / "pwned"
    with reference(root / "reference") as (networks, _, dnnlib):
        G, G_ema, D = build(networks, dnnlib, 16, 3, mapping_layers=2, channel_base=128)
        hostile = f"open({str(marker)!r}, 'w').write('pwned')\n"
        data = snapshot_data(G, G_ema, D, None, dnnlib, 16, False)  # (deepcopy runs the source: before the change)
        classes = {type(m) for net in (G, G_ema, D) for m in net.modules()}
        saved = {cls: cls._orig_module_src for cls in classes}
        try:
            for cls in classes:
                cls._orig_module_src = hostile + cls._orig_module_src
            evil = root / "evil_source.pkl"
            evil.write_bytes(pickle.dumps(data))
        finally:
            for cls, source in saved.items():
                cls._orig_module_src = source
        assert not marker.exists()
        with torch.no_grad():
            expected = G_ema(torch.ones(1, 16), None, noise_mode="const", force_fp32=True)
        refused = {}
        for name, kwargs in {"orig G": dict(synthesis_kwargs=dict(architecture="orig")),
                             "skip D": dict(architecture="skip")}.items():
            refused[name] = snapshot(root / f"{name.replace(' ', '_')}.pkl",
                                     *build(networks, dnnlib, 16, 3, mapping_layers=2, channel_base=128, **kwargs),
                                     None, dnnlib, 16, False)
    return {"marker": marker, "evil": evil, "expected": expected, "refused": refused}


def test_the_embedded_source_of_a_real_network_is_never_run(reference_pickles):
    imported = load(str(reference_pickles["evil"]))
    with torch.no_grad():
        image = imported.generator(torch.ones(1, 16), noise_mode="const")
    assert (image - reference_pickles["expected"]).abs().max() <= 1e-4
    assert not reference_pickles["marker"].exists()
    assert b"pwned" in reference_pickles["evil"].read_bytes()  # the source was in the file


@pytest.mark.parametrize("name,message", [
    ("orig G", "its generator's architecture is 'orig'; gan_zoo's StyleGAN computes the skip generator"),
    ("skip D", "its discriminator's architecture is 'skip'; gan_zoo's StyleGAN computes the resnet and orig"),
])
def test_configurations_gan_zoo_cannot_compute_are_refused_in_one_line(reference_pickles, tmp_path, monkeypatch,
                                                                       capsys, name, message):
    monkeypatch.chdir(tmp_path)
    code, lines = _generate(reference_pickles["refused"][name], tmp_path / "x.png", monkeypatch, capsys)
    assert code == 2 and len(lines) == 1 and message in lines[0], lines
    assert not (tmp_path / "x.png").exists()
