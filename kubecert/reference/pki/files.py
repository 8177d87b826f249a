"""Writing a kubeadm tree's files: atomically, with kubeadm's modes set explicitly (never the umask's)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

# The modes kubeadm writes (kubeadm's pkiutil and kubeconfig writers; static pods from WriteStaticPodToDisk).
DIR_MODE = 0o755
CERT_MODE = 0o644
KEY_MODE = 0o600  # private keys and sa.pub alike: keyutil.WriteKey
KUBECONFIG_MODE = 0o600
MANIFEST_MODE = 0o600
MANIFEST_DIR_MODE = 0o700


def _missing_levels(path: Path) -> list[Path]:
    """The folders of ``path`` that do not exist yet, outermost first."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    return missing[::-1]


def ensure_dir(path: Path, mode: int = DIR_MODE) -> None:
    """Create ``path`` (and missing parents) with ``mode``; an existing directory keeps its mode."""
    for directory in _missing_levels(path):
        directory.mkdir()
        os.chmod(directory, mode)


def make_dirs(path: Path, mode: int) -> None:
    """Go's os.MkdirAll: every missing level made with ``mode`` less the process umask, as kubeadm's writers
    leave folders they create (an existing folder keeps its mode)."""
    for directory in _missing_levels(path):
        directory.mkdir(mode)


def write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` less the umask, as Go's os.WriteFile makes a new file; never over a file
    or through a link that is there."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Replace ``path`` with ``data`` in one step: readers see the old file or the new, never half."""
    ensure_dir(path.parent)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)  # before any byte is written: a key is never readable by others
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def replace_link(path: Path, target: str) -> None:
    """A symlink at ``path`` to ``target``, replacing what is there in one step, as the kubelet moves its
    ``*-current.pem`` links."""
    ensure_dir(path.parent)
    temp = path.with_name(f".{path.name}.link")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp)
    os.symlink(target, temp)
    os.replace(temp, path)


class TreeWriter:
    """Writes a node's files below its root with their modes, in order, and keeps kubeadm's log."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.written: list[Path] = []  # relative to root
        self.log: list[str] = []

    def write(self, path: Path, data: bytes, mode: int) -> None:
        write_atomic(path, data, mode)
        self.written.append(path.relative_to(self.root))

    def link(self, path: Path, target: str) -> None:
        replace_link(path, target)
        self.written.append(path.relative_to(self.root))

    def remove(self, path: Path) -> None:
        path.unlink()
        self.written.remove(path.relative_to(self.root))
