"""Checksums and modes of a node's PKI files, to tell exactly which files an action changed.

A snapshot holds the SHA-256 of each file, never its content: comparing two says what was written
without keeping a private key anywhere. A file kubecert could not read (over its size bound, unreadable)
and a folder too large to list whole leave what changed unknown: the rules say so, as errors.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from kubecert.inventory.files import MAX_FILE_BYTES, ReadFailure, entries_below, read_bytes


@dataclass(frozen=True)
class FileState:
    sha256: str | None  # None when the file was not read (over the size bound, or unreadable)
    mode: int

    def describe(self) -> str:
        return f"sha256 {self.sha256[:16] if self.sha256 else 'unreadable'}..., mode {self.mode:04o}"


class Snapshot(dict[str, FileState]):
    """The files found, by path; ``unread`` says why it is not all of them (None when it is)."""

    unread: str | None = None


@dataclass(frozen=True)
class Changes:
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    added: tuple[str, ...]
    unknown: tuple[str, ...] = ()  # files whose content was not read before or after: changed or not
    unread: tuple[str, ...] = ()  # why a snapshot is not every file (a folder over the bound)

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
    if not stat.S_ISREG(st.st_mode):  # a FIFO or device has no content to compare, only what it is
        return FileState(hashlib.sha256(f"file type {stat.S_IFMT(st.st_mode):o}".encode()).hexdigest(),
                         stat.S_IMODE(st.st_mode))
    if st.st_size > MAX_FILE_BYTES:  # not read, so whether it changed is unknown
        return FileState(None, stat.S_IMODE(st.st_mode))
    try:
        digest = hashlib.sha256(read_bytes(path, path.name)).hexdigest()
    except ReadFailure:
        digest = None
    return FileState(digest, stat.S_IMODE(st.st_mode))


def snapshot_files(pki_dir: Path, kubeconfig_dir: Path | None = None) -> Snapshot:
    """Every file below ``pki_dir`` and every file directly in ``kubeconfig_dir`` (the kubeconfigs), as far as
    the walk bound; past it the snapshot says it is incomplete."""
    found = Snapshot()
    folders = [(pki_dir, True)] + ([(kubeconfig_dir, False)] if kubeconfig_dir is not None else [])
    _, paths, beyond = entries_below(folders)
    for path in paths:
        state = _state(path)
        if state is not None:
            found[str(path)] = state
    if beyond is not None:
        found.unread = (f"{pki_dir} and {kubeconfig_dir} hold {beyond}: whether an action changed the files past it "
                        "is unknown")
    return found


def compare(before: Snapshot, after: Snapshot) -> Changes:
    def unknown(path: str) -> bool:
        states = [snapshot[path] for snapshot in (before, after) if path in snapshot]
        return any(state.sha256 is None for state in states)

    return Changes(
        changed=tuple(sorted(p for p in before if p in after and after[p] != before[p] and not unknown(p))),
        removed=tuple(sorted(p for p in before if p not in after)),
        added=tuple(sorted(p for p in after if p not in before)),
        unknown=tuple(sorted(p for p in {*before, *after} if unknown(p))),
        unread=tuple(dict.fromkeys(why for why in (before.unread, after.unread) if why)),
    )
