"""Files written in one step: the data goes to a temporary file beside its destination, which is renamed onto
it, so a reader sees the old file or the new one, never half of one. The mode is set on the temporary file
before a byte is written (a key is never readable by others, not even for a moment) and folders that are
missing are made with an explicit mode, never the umask's: kubeadm's trees and kubecert's reports alike."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

DIR_MODE = 0o755


def missing_folders(path: Path) -> list[Path]:
    """The folders of ``path`` that do not exist yet, outermost first."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    return missing[::-1]


def ensure_dir(path: Path, mode: int = DIR_MODE) -> None:
    """Create ``path`` (and missing parents) with ``mode``; an existing directory keeps its mode."""
    for directory in missing_folders(path):
        directory.mkdir()
        os.chmod(directory, mode)


@contextlib.contextmanager
def staged_text(path: Path, mode: int) -> Iterator[tuple[Path, TextIO]]:
    """A temporary file beside ``path`` with ``mode``, open for UTF-8 text, flushed to disk when the block ends,
    ready to be renamed onto ``path`` (os.replace): what is written need not be held whole first. The caller
    renames it or removes it, also when the block fails."""
    ensure_dir(path.parent)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.fchmod(fd, mode)  # before any byte is written
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        yield Path(temporary), handle
        handle.flush()
        os.fsync(handle.fileno())


def stage(path: Path, data: bytes, mode: int) -> Path:
    """``data`` in a temporary file beside ``path`` with ``mode`` (``staged_text``); the caller renames it or
    removes it."""
    temporary = None
    try:
        with staged_text(path, mode) as (temporary, handle):
            handle.buffer.write(data)
    except BaseException:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise
    return temporary


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Replace ``path`` with ``data`` (and ``mode``) in one step."""
    temporary = stage(path, data, mode)
    try:
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
