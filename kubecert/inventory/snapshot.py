"""Checksums and modes of a node's PKI files, to tell exactly which files an action changed.

A snapshot holds the SHA-256 of each file, never its content: comparing two says what was written
without keeping a private key anywhere.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kubecert.inventory.files import MAX_FILE_BYTES, ReadFailure, read_bytes


@dataclass(frozen=True)
class FileState:
    sha256: str | None  # None when the file could not be read
    mode: int

    def describe(self) -> str:
        return f"sha256 {self.sha256[:16] if self.sha256 else 'unreadable'}..., mode {self.mode:04o}"


Snapshot = Mapping[str, FileState]


@dataclass(frozen=True)
class Changes:
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    added: tuple[str, ...]

    @property
    def touched(self) -> tuple[str, ...]:
        """Existing files that are not as they were: changed or removed."""
        return self.changed + self.removed


def _state(path: Path) -> FileState | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return FileState(hashlib.sha256(os.readlink(path).encode()).hexdigest(), stat.S_IMODE(st.st_mode))
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FILE_BYTES:
        return FileState(None, stat.S_IMODE(st.st_mode))
    try:
        digest = hashlib.sha256(read_bytes(path, path.name)).hexdigest()
    except ReadFailure:
        digest = None
    return FileState(digest, stat.S_IMODE(st.st_mode))


def snapshot_files(pki_dir: Path, kubeconfig_dir: Path | None = None) -> dict[str, FileState]:
    """Every file below ``pki_dir`` and every file directly in ``kubeconfig_dir`` (the kubeconfigs)."""
    found: dict[str, FileState] = {}
    if pki_dir.is_dir():
        for dirpath, _dirnames, filenames in os.walk(pki_dir, followlinks=False, onerror=lambda _err: None):
            for name in filenames:
                path = Path(dirpath) / name
                state = _state(path)
                if state is not None:
                    found[str(path)] = state
    if kubeconfig_dir is not None and kubeconfig_dir.is_dir():
        for entry in sorted(kubeconfig_dir.iterdir()):
            if entry.is_file() or entry.is_symlink():
                state = _state(entry)
                if state is not None:
                    found[str(entry)] = state
    return found


def compare(before: Snapshot, after: Snapshot) -> Changes:
    return Changes(
        changed=tuple(sorted(p for p in before if p in after and after[p] != before[p])),
        removed=tuple(sorted(p for p in before if p not in after)),
        added=tuple(sorted(p for p in after if p not in before)),
    )
