"""Reading files from others and writing our own, the one way everywhere.

Reading: `read` is `torch.load(weights_only=True)` (tensors, numbers, strings and plain containers; nothing in
the file runs) with one UserError for a missing, unsafe or damaged file. What the plain values then choose is
`gan_zoo.trusted`'s to check.

Writing: `atomic_write` writes a temporary file created exclusively beside the target (never through a link
someone planted), flushes it to disk and renames it over the target: a kill, a full disk or a read-only folder
leaves the previous file whole, and the error says which folder and how much was needed.
"""
import contextlib
import errno
import os
import pickle
import re
import shutil
from pathlib import Path

import torch

from gan_zoo.errors import UserError


def read(path, what: str = "checkpoint", hint: str = "", **kwargs):
    """The plain values and tensors in the torch file `path` (on CPU). `hint` ends the message of a damaged file
    (how to get a good one); kwargs go to torch.load."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"{what} not found: '{path}'")
    try:
        return torch.load(path, map_location="cpu", weights_only=True, **kwargs)
    except pickle.UnpicklingError as e:
        # A refusal names the global, function or class the file asked for; anything else (e.g. "Unsupported
        # operand") is a file that is not a pickle at all: damaged.
        reason = next((line.strip() for line in str(e).splitlines()
                       if re.search(r"GLOBAL|unrecognized function|Can only create", line)), None)
        if reason is None:
            raise UserError(f"{what} '{path}' is truncated or corrupt (UnpicklingError){hint}") from e
        raise UserError(f"refusing {what} '{path}': it holds Python objects or code, not only tensors and plain "
                        f"values ({reason}); nothing in it was run. Load only files from people you trust, and ask "
                        "for a plain state dict") from e
    except Exception as e:  # truncated zip, garbage bytes, a folder
        raise UserError(f"{what} '{path}' is truncated or corrupt ({type(e).__name__}){hint}") from e


def _exclusive(path: Path):
    """A new file at `path` for writing; an old one of ours (a killed save's) is replaced, a link is never
    followed."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        return os.fdopen(os.open(path, flags, 0o644), "wb")
    except FileExistsError:
        path.unlink()  # removes a planted link itself, not what it points to
        return os.fdopen(os.open(path, flags, 0o644), "wb")


def atomic_write(path, write, what: str = "file") -> Path:
    """write(f) into a temporary file beside `path`, then rename it over `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive(tmp) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        raise _write_error(e, path, tmp, what) from e
    except RuntimeError as e:  # torch.save's zip writer reports a full disk as its own error
        if not isinstance(e.__context__, OSError) and "unexpected pos" not in str(e) and "write" not in str(e):
            raise
        raise _write_error(e, path, tmp, what) from e
    finally:
        with contextlib.suppress(OSError):  # (a read-only folder refuses even this)
            tmp.unlink(missing_ok=True)
    return path


def _write_error(error: Exception, path: Path, tmp: Path, what: str) -> UserError:
    folder = path.parent
    code = getattr(error, "errno", None)
    if code in (errno.EACCES, errno.EPERM, errno.EROFS) or (folder.exists() and not os.access(folder, os.W_OK)):
        why = "the folder is not writable (read-only or not yours)"
    else:
        needed = tmp.stat().st_size if tmp.exists() else 0
        free = shutil.disk_usage(folder).free if folder.exists() else 0
        why = (f"the disk is full ({free / 2**20:.0f} MiB free; this save had written {needed / 2**20:.0f} MiB "
               "when it failed)" if code == errno.ENOSPC or "space" in str(error).lower() or free < 2**20 else
               f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else code}")
    kept = " (the previous one is unchanged)" if path.exists() else ""
    return UserError(f"could not write the {what} '{path}'{kept}: {why}; free space or choose a writable folder "
                     f"for '{folder}'")


def save(obj, path, what: str = "file") -> Path:
    """torch.save through atomic_write."""
    return atomic_write(path, lambda f: torch.save(obj, f), what)


def write_text(path, text: str, what: str = "file") -> Path:
    """Text through atomic_write."""
    return atomic_write(path, lambda f: f.write(text.encode()), what)
