"""One target, one actor: an inter-process lock per target, so that under any xdist distribution an
action never runs while another process reads or changes the same target.

Actions hold it exclusively from the observation before to the observation after; observations hold
it shared. With xdist's default ``loadgroup`` (which the plugin sets) every check of a target runs in
one process anyway; the lock is what keeps a forced ``--dist load`` or ``worksteal`` correct.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from kubecert.targets.errors import TargetUnavailable


class LockTimeout(TargetUnavailable):
    """Another process held the target for longer than we may wait: the check cannot run."""


def lock_path(key: str) -> Path:
    """The lock file of target ``key``, in a folder of this user's own (0700)."""
    folder = Path(tempfile.gettempdir()) / f"kubecert-locks-{os.getuid()}"
    # Another process may make it, or remove it when its last lock goes, at any moment: the caller's open
    # retries when the folder is gone again.
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    with contextlib.suppress(FileNotFoundError):
        found = os.lstat(folder)
        if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o077:
            # Someone else made it (a shared temporary folder): their files could redirect our locks.
            raise TargetUnavailable(f"{folder} is not a private folder of this user (uid {os.getuid()}); remove it "
                                    "or set TMPDIR to a folder of your own")
    return folder / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.lock"


@contextlib.contextmanager
def target_lock(key: str, *, shared: bool, timeout: float) -> Iterator[None]:
    """Hold the lock of target ``key`` (its identity: the real folder, not the URI's spelling) while the
    block runs; wait at most ``timeout`` seconds.

    The last holder removes the lock file (and the folder, once empty), so runs leave nothing behind; a
    process that locked a file removed meanwhile notices (the path no longer names its file) and locks the
    new one instead.
    """
    mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
    deadline = time.monotonic() + timeout
    while True:
        path = lock_path(key)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except FileNotFoundError:  # another lock's last holder removed the folder just now: make it again
            continue
        try:
            fcntl.flock(fd, mode)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() > deadline:
                raise LockTimeout(f"{key}: another kubecert process kept the target busy for over "
                                  f"{timeout:g}s") from None
            time.sleep(0.05)
            continue
        if names_same_file(path, fd):
            break
        os.close(fd)  # removed by its last holder between our open and our lock: take the new one
    try:
        yield
    finally:
        try:
            # Exclusive without waiting means nobody else holds or waits on it: then it can go.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # not empty: another target's lock is held
                path.parent.rmdir()
        except BlockingIOError:
            pass
        finally:
            os.close(fd)  # closing releases our lock


def names_same_file(path: Path, fd: int) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (a lock file its last holder may remove)."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (found.st_dev, found.st_ino) == (held.st_dev, held.st_ino)
