"""Read a stylegan2-ada-pytorch network pickle (`network-snapshot-*.pkl`) as plain data, running nothing from it.

The file is a pickle of `dict(G, D, G_ema, augment_pipe, training_set_kwargs)` whose networks are "persistent
objects": each is rebuilt by `torch_utils.persistence._reconstruct_persistent_obj(meta)`, which `exec`s the Python
source stored in `meta` and every tensor storage by `torch.storage._load_from_bytes`, an unrestricted nested
`torch.load`. Here a pickle.Unpickler maps an allow-list of global names to inert stand-ins (GLOBALS):

    _reconstruct_persistent_obj(meta)   -> Persistent(class name, state): the embedded source is never compiled
    _load_from_bytes(blob)              -> the storage, read with torch.load(weights_only=True)
    _rebuild_tensor_v2 / _rebuild_parameter -> a tensor (after checking the storage and the sizes)
    OrderedDict, dnnlib EasyDict, set, numpy dtype / scalar / array -> plain containers and numbers

Any other global (os.system, builtins.eval, a class of the file's choosing, ...) and any persistent id is
refused with a UserError naming it and the file, before anything is built. Objects restored with a state
(pickle's BUILD) are only the stand-ins above, whose `__setstate__` stores data or refuses.
"""
import hashlib
import io
import pickle
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gan_zoo.errors import UserError

# What the embedded module source is, told by its text (it is never run): a class it defines -> the module
MODULES = {"class SynthesisInput": "training.networks_stylegan3", "class AugmentPipe": "training.augment",
           "def modulated_conv2d": "training.networks"}


class Refused(Exception):
    """The file asks for something a network pickle never needs (`what`)."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


@dataclass
class Persistent:
    """A persistent object of the file as data: its class name, the module its embedded source is (by its text)
    and its state (for a torch module: its `__dict__`, with _parameters, _buffers, _modules, _init_kwargs)."""

    class_name: str
    module: str  # e.g. "training.networks", or "unknown"
    source_sha256: str  # of the embedded source (never run)
    state: dict

    def init_kwargs(self) -> dict:
        kwargs = self.state.get("_init_kwargs") or {}
        return plain(kwargs) if isinstance(kwargs, dict) else {}

    def children(self) -> dict:
        modules = self.state.get("_modules") or {}
        return {k: v for k, v in modules.items() if isinstance(v, Persistent)} if isinstance(modules, dict) else {}

    def tensors(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """Parameters and persistent buffers, named as torch's state_dict names them."""
        out = {}
        skip = self.state.get("_non_persistent_buffers_set") or set()
        for group in ("_parameters", "_buffers"):
            for name, value in (self.state.get(group) or {}).items():
                if isinstance(value, torch.Tensor) and name not in skip:
                    out[prefix + name] = value
        for name, child in self.children().items():
            out |= child.tensors(f"{prefix}{name}.")
        return out


class _Dict(dict):
    """dnnlib.EasyDict and OrderedDict stand-in: items only (a state set on it would be attributes: refused)."""

    def __setstate__(self, state):
        if state:
            raise Refused(f"attributes set on a dictionary ({sorted(state)[:3]})")


class _DType:
    """numpy.dtype stand-in: a plain numeric dtype by name ('f4', 'f8', 'i8', ...)."""

    NAMES = {"b1", "f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"}

    def __init__(self, name, align=False, copy=False):
        if name not in self.NAMES:
            raise Refused(f"the numpy dtype {name!r}")
        self.name, self.order = name, "<"

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">", "|", "=")):
            raise Refused("a numpy dtype state that is not a plain byte order")
        self.order = "<" if state[1] in ("|", "=") else state[1]

    def numpy(self) -> np.dtype:
        return np.dtype(self.order + self.name)


def _np_scalar(dtype, data=None):
    if not isinstance(dtype, _DType) or not isinstance(data, bytes):
        raise Refused("a numpy scalar that is not a number")
    return np.frombuffer(data, dtype=dtype.numpy())[0].item()


class _Array:
    """numpy.ndarray stand-in, rebuilt from its state (shape, dtype, raw bytes) as a numpy array."""

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) == 5 and isinstance(state[2], _DType)
                and isinstance(state[4], bytes) and all(isinstance(d, int) for d in state[1])):
            raise Refused("a numpy array that is not plain numbers")
        self.value = np.frombuffer(state[4], dtype=state[2].numpy()).reshape(state[1]).copy()


def _np_reconstruct(cls, shape, typecode):
    if cls is not _Array:
        raise Refused("a numpy array of another class")
    return _Array()


def _set(items=()):
    items = list(items)
    if not all(isinstance(i, (str, int)) for i in items):
        raise Refused("a set of objects")
    return set(items)


def _storage(blob):
    """A tensor storage from its nested torch.save blob, read with weights_only=True."""
    if not isinstance(blob, bytes):
        raise Refused("a tensor storage that is not bytes")
    try:
        storage = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        reason = next((line.strip() for line in str(e).splitlines() if "GLOBAL" in line or "Unsupported" in line),
                      "not plain tensor data")
        raise Refused(f"a tensor storage that is not plain tensor data ({reason})") from e
    except Exception as e:
        raise Refused(f"a tensor storage that torch cannot read ({type(e).__name__})") from e
    if not isinstance(storage, (torch.storage.TypedStorage, torch.UntypedStorage)):
        raise Refused(f"a tensor storage that holds a {type(storage).__name__}")
    return storage


def _tensor(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    if not isinstance(storage, torch.storage.TypedStorage) or not isinstance(offset, int) \
            or not all(isinstance(d, int) for d in (*size, *stride)) or hooks or metadata:
        raise Refused("a tensor that is not plain data (storage, sizes, no hooks)")
    try:
        return torch._utils._rebuild_tensor_v2(storage, offset, tuple(size), tuple(stride), False, OrderedDict())
    except RuntimeError as e:
        raise Refused(f"a tensor outside its storage ({str(e).splitlines()[0][:120]})") from e


def _parameter(data, requires_grad=False, hooks=None, state=None):
    if not isinstance(data, torch.Tensor) or hooks or state:
        raise Refused("a parameter that is not plain data")
    return data


def _persistent(meta):
    if not (isinstance(meta, dict) and meta.get("type") == "class" and isinstance(meta.get("class_name"), str)
            and isinstance(meta.get("module_src"), str) and isinstance(meta.get("state"), dict)):
        raise Refused("a persistent object without the class name, source and state of stylegan2-ada-pytorch's")
    source = meta["module_src"]  # text, never compiled or run
    module = next((m for mark, m in MODULES.items() if mark in source), "unknown")
    return Persistent(meta["class_name"], module, hashlib.sha256(source.encode()).hexdigest(), dict(meta["state"]))


GLOBALS = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent,
    ("torch.storage", "_load_from_bytes"): _storage,
    ("torch._utils", "_rebuild_tensor_v2"): _tensor,
    ("torch._utils", "_rebuild_parameter"): _parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _parameter,
    ("collections", "OrderedDict"): _Dict,
    ("dnnlib.util", "EasyDict"): _Dict,
    ("builtins", "set"): _set,
    ("numpy", "dtype"): _DType,
    ("numpy", "ndarray"): _Array,
    ("numpy.core.multiarray", "scalar"): _np_scalar,
    ("numpy._core.multiarray", "scalar"): _np_scalar,
    ("numpy.core.multiarray", "_reconstruct"): _np_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _np_reconstruct,
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in GLOBALS:
            raise Refused(f"{module}.{name}")
        return GLOBALS[(module, name)]

    def persistent_load(self, pid):
        raise Refused("a persistent id (an external object)")


def plain(value):
    """The stand-ins as plain Python values: dicts, lists, numbers, strings, numpy arrays, tensors, Persistent."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    if isinstance(value, _Array):
        return value.value
    return value


def read(path: Path) -> dict:
    """The pickle's top-level dict, its networks as Persistent records (nothing in the file is run)."""
    try:
        with open(path, "rb") as f:
            if f.read(4) == b"PK\x03\x04":
                raise UserError(f"'{path}' is a zip file (torch.save's format), not a stylegan2-ada-pytorch network "
                                "pickle: give a network-snapshot-*.pkl (a gan_zoo checkpoint goes to ckpt= as .ckpt)")
            f.seek(0)
            data = _Unpickler(f).load()
    except UserError:
        raise
    except Refused as e:
        raise UserError(f"refusing '{path}': it asks for {e.what}, which a stylegan2-ada-pytorch network pickle "
                        "never needs; nothing in it was run or written") from None
    except RecursionError:
        raise UserError(f"refusing '{path}': its pickle nests too deeply to be a network pickle; nothing in it "
                        "was run or written") from None
    except Exception as e:  # truncated, not a pickle, a pickle of something else
        reason = re.sub(r"\s+", " ", str(e))[:120]
        raise UserError(f"'{path}' is not a readable stylegan2-ada-pytorch network pickle ({type(e).__name__}"
                        f"{': ' + reason if reason else ''}): it is truncated or of another format; download it "
                        "again, or give a network-snapshot-*.pkl") from None
    if not isinstance(data, dict):
        raise UserError(f"'{path}' holds a {type(data).__name__}, not a stylegan2-ada-pytorch snapshot (a dict with "
                        "G, D, G_ema): give a network-snapshot-*.pkl")
    return plain(data)
