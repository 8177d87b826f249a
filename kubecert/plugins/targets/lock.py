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
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from kubecert.plugins.targets.base import TargetUnavailable


class LockTimeout(TargetUnavailable):
    """Another process held the target for longer than we may wait: the check cannot run."""


def lock_path(key: str) -> Path:
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / f"kubecert-{os.getuid()}-{digest}.lock"


@contextlib.contextmanager
def target_lock(key: str, *, shared: bool, timeout: float) -> Iterator[None]:
    """Hold the lock of target ``key`` (its id) while the block runs; wait at most ``timeout`` seconds."""
    fd = os.open(lock_path(key), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, mode)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockTimeout(f"{key}: another kubecert process kept the target busy for over "
                                      f"{timeout:g}s") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
