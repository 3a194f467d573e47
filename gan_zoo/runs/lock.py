"""One writer per run: an exclusive lock on `.<run>.lock` beside the run's checkpoint folder (beside, not in
it: Lightning warns about a checkpoint folder that is not empty at the start of a fresh run).

The lock is the operating system's (`flock`), so a process that crashes or is killed releases it: a lock
is never left stuck. A second writer (a second resume of the same run, a second run forced into the same
folder) is refused with the holder's process id and host, which the file records; the file is removed when
the run ends. On a filesystem without `flock` (some network mounts), the recorded process id is checked.
"""
import errno
import os
import socket
from datetime import datetime
from pathlib import Path

from gan_zoo.errors import UserError

try:
    import fcntl
except ImportError:  # Windows: no flock; the process-id check below still runs
    fcntl = None

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)  # the folder it guards (need not exist yet)
        self.path = self.folder.parent / f".{self.folder.name}.lock"
        self.created = None  # the topmost folder that acquire() made, if any
        self._fd = None

    def _holder(self) -> str:
        try:
            return self.path.read_text().strip() or "another process"
        except OSError:
            return "another process"

    def _refuse(self) -> None:
        raise UserError(f"the run in '{self.folder}' is in use by {self._holder()}: wait for it to end or stop it, "
                        "or start a fresh run (two writers would mix both runs' checkpoints and logs)")

    def acquire(self) -> "RunLock":
        missing = [p for p in self.folder.parents if not p.exists()]
        self.created = missing[-1] if missing else None
        while True:
            self._fd = self._open()
            try:
                if fcntl is None:
                    raise OSError(errno.ENOSYS, "no flock")
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._close_and_refuse()
            except OSError:  # no flock here: trust a recorded process that is still alive on this host
                holder = self._holder().split()
                if len(holder) >= 4 and holder[0] == "process" and holder[3] == socket.gethostname():
                    if int(holder[1]) != os.getpid() and _pid_alive(int(holder[1])):
                        self._close_and_refuse()
                break
            try:  # the holder before us may have removed the file between our open and our lock: then again
                if os.fstat(self._fd).st_ino == os.stat(self.path).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(self._fd)
        try:
            os.ftruncate(self._fd, 0)
            os.write(self._fd, f"process {os.getpid()} on {socket.gethostname()} since "
                     f"{datetime.now():%Y-%m-%d %H:%M:%S}\n".encode())
        except OSError as e:  # a full disk
            self.release(remove_folders=True)
            raise UserError(f"cannot write in the checkpoint folder '{self.path.parent}' ({e.strerror}): free some "
                            "space, or choose another folder with paths.checkpoints=...") from e
        return self

    def _open(self) -> int:
        """The lock file, never through a link (someone's link would make us truncate and write its target)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | NOFOLLOW, 0o644)
        except OSError as e:
            if e.errno != errno.ELOOP:
                raise UserError(f"cannot write in the checkpoint folder '{self.path.parent}' ({e.strerror}): make it "
                                "writable and free some space, or choose another with paths.checkpoints=...") from e
            raise UserError(f"the lock file '{self.path}' is a symbolic link, not a file gan_zoo made: remove it "
                            "(nothing was written through it)") from e
        if not os.path.samestat(os.fstat(fd), os.lstat(self.path)):  # where O_NOFOLLOW is missing
            os.close(fd)
            raise UserError(f"the lock file '{self.path}' is not a plain file: remove it")
        return fd

    def _close_and_refuse(self) -> None:
        os.close(self._fd)
        self._fd = None
        self._refuse()

    def release(self, remove_folders: bool = False) -> None:
        """Let go of the lock and remove its file; `remove_folders` also deletes the folders that acquire()
        made, if they are empty (a start that failed before writing anything)."""
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)  # while still locked: a waiting process sees another inode and retries
        os.close(self._fd)  # releases the flock
        self._fd = None
        if remove_folders:
            folder = self.path.parent
            while self.created is not None and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
                if folder == self.created:
                    break
                folder = folder.parent


def is_held(folder: str | Path) -> bool:
    """Whether a process holds the lock of the run in `folder` now (without taking or removing it)."""
    path = RunLock(folder).path
    if fcntl is None or not path.is_file():
        return False
    try:
        fd = os.open(path, os.O_RDONLY | NOFOLLOW)
    except OSError:  # a link: not a lock of ours
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
