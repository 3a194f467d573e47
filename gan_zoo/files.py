"""Reading files from others and writing our own, the one way everywhere.

Reading: `read` is `torch.load(weights_only=True)` (tensors, numbers, strings and plain containers; nothing in
the file runs) with one UserError for a missing, unsafe or damaged file. What the plain values then choose is
`gan_zoo.trusted`'s to check.

Writing: `atomic_write` writes a temporary file created exclusively beside the target (never through a link
someone planted), flushes it to disk and renames it over the target: a kill, a full disk or a read-only folder
leaves the previous file whole, and the error says which folder and how much was needed. A link planted at the
target is replaced by the new file (a rename never follows it): what it points to is left unchanged, as for
checkpoints. Every file gan_zoo writes goes through it (`save`, `write_text`, `write_bytes`, `save_png`,
`save_figure`, `write_by_name`), except appends: `append_text` adds to a file of ours and refuses a link in its
place (its earlier lines cannot be copied from a file that is not ours), and `refuse_link` says so before a run
starts rather than at its first append.
"""
import contextlib
import errno
import hashlib
import os
import pickle
import re
import shutil
import stat
import tempfile
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


NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _exclusive(path: Path):
    """A new file at `path` for writing; an old one of ours (a killed save's) is replaced, a link is never
    followed."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW
    try:
        return os.fdopen(os.open(path, flags, 0o644), "wb")
    except FileExistsError:
        path.unlink()  # removes a planted link itself, not what it points to
        return os.fdopen(os.open(path, flags, 0o644), "wb")


def atomic_write(path, write, what: str = "file", durable: bool = True) -> Path:
    """write(f) into a temporary file beside `path`, then rename it over `path`. `durable` flushes it to disk
    first (False for folders of thousands of images: still never half-written nor through a link, but a power cut
    may lose the newest)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive(tmp) as f:
            write(f)
            f.flush()
            if durable:
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


def _write_error(error: Exception, path: Path, tmp: Path | None, what: str) -> UserError:
    folder = path.parent
    code = getattr(error, "errno", None)
    if code in (errno.EACCES, errno.EPERM, errno.EROFS) or (folder.exists() and not os.access(folder, os.W_OK)):
        why = "the folder is not writable (read-only or not yours)"
    else:
        needed = tmp.stat().st_size if tmp is not None and tmp.exists() else 0
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


def write_bytes(path, data: bytes, what: str = "file") -> Path:
    """Bytes through atomic_write."""
    return atomic_write(path, lambda f: f.write(data), what)


def save_png(image, path, what: str = "image", durable: bool = True, **kwargs) -> Path:
    """A PNG through atomic_write, of a PIL image or a tensor [C, H, W] or [N, C, H, W] in [0, 1] (kwargs go to
    torchvision's save_image: normalize, value_range...)."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return atomic_write(path, lambda f: image.save(f, format="PNG"), what, durable)
    from torchvision.utils import save_image

    return atomic_write(path, lambda f: save_image(image, f, format="png", **kwargs), what, durable)


def sha256(path) -> str:
    """The sha256 of a file's bytes, read in 1 MiB blocks (what a model card and a provenance record name)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def save_figure(figure, path, what: str = "plot", **kwargs) -> Path:
    """A matplotlib figure through atomic_write, in the format of the file's suffix (kwargs go to savefig)."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    return atomic_write(path, lambda f: figure.savefig(f, format=fmt, **kwargs), what)


def write_by_name(path, write, what: str = "file") -> Path:
    """For writers that take only a file name (PyAV's video encoder): write(name) writes into a new private
    folder beside `path`, and the file is then renamed over `path`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))  # mode 0700, a new name
    except OSError as e:
        raise _write_error(e, path, None, what) from e
    try:
        write(str(folder / path.name))
        os.replace(folder / path.name, path)
    except OSError as e:
        raise _write_error(e, path, folder / path.name, what) from e
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return path


def _link_error(path: Path, what: str) -> UserError:
    return UserError(f"the {what} '{path}' is a symbolic link, not a file gan_zoo made: remove it (nothing was "
                     "written through it)")


def refuse_link(path, what: str = "file") -> None:
    """A UserError when `path` is a symbolic link (before a run that will append to it starts)."""
    if Path(path).is_symlink():
        raise _link_error(Path(path), what)


def append_text(path, text: str, what: str = "file") -> Path:
    """`text` added at the end of the file `path` (made if missing) in one write, never through a link: a link
    there is refused with a UserError naming it."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not NOFOLLOW:  # where O_NOFOLLOW is missing
            refuse_link(path, what)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | NOFOLLOW, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise _link_error(path, what) from e
        raise _write_error(e, path, None, what) from e
    with os.fdopen(fd, "ab") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise UserError(f"the {what} '{path}' is not a plain file: remove it")
        try:
            f.write(text.encode())
        except OSError as e:
            raise _write_error(e, path, None, what) from e
    return path


def read_own_text(path, what: str = "file") -> str:
    """The text of a file gan_zoo wrote and reads back before adding to it (metrics.csv), never through a link."""
    path = Path(path)
    if not NOFOLLOW:
        refuse_link(path, what)
    try:
        fd = os.open(path, os.O_RDONLY | NOFOLLOW)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise _link_error(path, what) from e
        raise
    with os.fdopen(fd, "rb") as f:
        return f.read().decode()
