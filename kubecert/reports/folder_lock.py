"""One run's reports in a folder at a time.

Two runs given one ``--output-dir`` would otherwise each clear the folder and write their own formats into
it, leaving the JSON and HTML of one beside the JUnit, OSCAL and metrics of the other: a set no run wrote.
A run holds an exclusive lock on every folder it writes reports into, from before it clears them until its
reports are written; a second run is refused at once with a usage error naming the run that holds it (what
the lock file says: its command line, process, host and start). The lock is an ``flock`` on
``FOLDER/.kubecert.lock``, so a run that dies releases it with its process; the file goes when the run ends,
and so does a folder the lock made that holds nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import socket
from collections.abc import Iterable, Sequence
from pathlib import Path

from kubecert.targets.lock import names_same_file
from kubecert.text import shown

LOCK_NAME = ".kubecert.lock"
_MAX_HOLDER_BYTES = 4096


class FolderLockError(Exception):
    """A folder this run cannot hold for its reports: another run writes there (the message names it), or
    the lock cannot be made."""


class FolderLock:
    """The locks of ``folders``, taken by ``acquire`` and let go by ``release``."""

    def __init__(self, folders: Iterable[Path]) -> None:
        self.folders = sorted({Path(os.path.abspath(folder)) for folder in folders})
        self.held: list[tuple[Path, int]] = []  # lock file, its descriptor
        self.made: list[Path] = []  # folders that did not exist before the lock

    def acquire(self, holder: str) -> None:
        """Lock every folder, saying ``holder`` (who this run is) to a run that finds it locked; FolderLockError
        names the run that holds one, and then none is held."""
        try:
            for folder in self.folders:
                try:
                    self._lock(folder, holder)
                except OSError as exc:
                    raise FolderLockError(f"{shown(str(folder))}: cannot lock it for this run's reports: "
                                          f"{exc.strerror or exc}") from None
        except BaseException:
            self.release()
            raise

    def _lock(self, folder: Path, holder: str) -> None:
        missing = [parent for parent in (folder, *folder.parents) if not parent.exists()]
        folder.mkdir(parents=True, exist_ok=True)
        self.made.extend(missing)
        path = folder / LOCK_NAME
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                other = os.pread(fd, _MAX_HOLDER_BYTES, 0).decode("utf-8", "replace").strip() or "it says nothing"
                os.close(fd)
                raise FolderLockError(f"{shown(str(folder))}: another kubecert run is writing its reports there "
                                      f"({shown(other)}); wait for it to end, or give another folder") from None
            if names_same_file(path, fd):
                break
            os.close(fd)  # its holder removed it between our open and our lock: lock the one there now
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.encode("utf-8", "replace")[:_MAX_HOLDER_BYTES], 0)
        self.held.append((path, fd))

    def release(self) -> None:
        for path, fd in reversed(self.held):
            with contextlib.suppress(OSError):
                path.unlink()  # while still held: a run that opened it meanwhile sees it gone and retries
            os.close(fd)
        self.held.clear()
        for folder in sorted(self.made, key=lambda made: len(made.parts), reverse=True):  # one holding anything stays
            with contextlib.suppress(OSError):
                folder.rmdir()
        self.made.clear()


def this_run(command_line: Sequence[str]) -> str:
    """How the lock file names this run to another: its (redacted) command line, process, host and start."""
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return f"{' '.join(command_line)}: process {os.getpid()} on {socket.gethostname()}, since {started}"
