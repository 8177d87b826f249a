"""Writing a kubeadm tree's files: atomically, with kubeadm's modes set explicitly (never the umask's)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from kubecert.atomic_files import DIR_MODE, ensure_dir, missing_folders, write_atomic

# The modes kubeadm writes (kubeadm's pkiutil and kubeconfig writers; static pods from WriteStaticPodToDisk).
CERT_MODE = 0o644
KEY_MODE = 0o600  # private keys and sa.pub alike: keyutil.WriteKey
KUBECONFIG_MODE = 0o600
MANIFEST_MODE = 0o600
MANIFEST_DIR_MODE = 0o700

__all__ = [
    "CERT_MODE", "DIR_MODE", "KEY_MODE", "KUBECONFIG_MODE", "MANIFEST_DIR_MODE", "MANIFEST_MODE", "TreeWriter",
    "ensure_dir", "make_dirs", "replace_link", "write_atomic", "write_new",
]


def make_dirs(path: Path, mode: int) -> None:
    """Go's os.MkdirAll: every missing level made with ``mode`` less the process umask, as kubeadm's writers
    leave folders they create (an existing folder keeps its mode)."""
    for directory in missing_folders(path):
        directory.mkdir(mode)


def write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` less the umask, as Go's os.WriteFile makes a new file; never over a file
    or through a link that is there."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


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
