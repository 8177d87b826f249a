"""One run writes a report at a time.

Two runs given one ``--output-dir`` would otherwise each clear the folder and write their formats into it,
leaving the JSON and HTML of one beside the JUnit, OSCAL and metrics of the other: a set no run wrote. A run
holds an exclusive lock on every report it writes, from before it clears them until they are written; a
second run that would write any of them is refused at once with a usage error naming the run that holds it
(what the lock file says: its command line, process, host and start). Runs that write different files of
one folder (``--json a.json`` and ``--json b.json``) do not meet.

The lock of ``DIR/NAME`` is an ``flock`` on ``DIR/.NAME.lock``, so a run that dies lets go with its process;
the lock files go when the run ends, and so does a folder the lock made that holds nothing.
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
from kubecert.text import escaped

_MAX_HOLDER_BYTES = 4096


class ReportLockError(Exception):
    """A report this run cannot hold: another run writes it (the message names that run), or the lock
    cannot be made."""


def lock_file(report: Path) -> Path:
    return report.with_name(f".{report.name}.lock")


class ReportLock:
    """The locks of ``reports``, taken by ``acquire`` and let go by ``release``."""

    def __init__(self, reports: Iterable[Path]) -> None:
        self.reports = sorted({Path(os.path.abspath(report)) for report in reports})
        self.held: list[tuple[Path, int]] = []  # lock file, its descriptor
        self.made: list[Path] = []  # folders that did not exist before the locks

    def acquire(self, holder: str) -> None:
        """Lock every report, saying ``holder`` (who this run is) to a run that finds one locked;
        ReportLockError names the run that holds one, and then none is held."""
        try:
            for report in self.reports:
                try:
                    self._lock(report, holder)
                except OSError as exc:
                    raise ReportLockError(f"{escaped(str(report))}: cannot lock it for this run: "
                                          f"{exc.strerror or exc}") from None
        except BaseException:
            self.release()
            raise

    def _lock(self, report: Path, holder: str) -> None:
        folder = report.parent
        self.made.extend(parent for parent in (folder, *folder.parents) if not parent.exists())
        folder.mkdir(parents=True, exist_ok=True)
        path = lock_file(report)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                other = os.pread(fd, _MAX_HOLDER_BYTES, 0).decode("utf-8", "replace").strip() or "it says nothing"
                os.close(fd)
                raise ReportLockError(f"{escaped(str(report))}: another kubecert run is writing this report "
                                      f"({escaped(other)}); wait for it to end, or write elsewhere") from None
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
        for folder in sorted(set(self.made), key=lambda made: len(made.parts), reverse=True):
            with contextlib.suppress(OSError):  # one that holds anything stays
                folder.rmdir()
        self.made.clear()


def this_run(command_line: Sequence[str]) -> str:
    """How a lock file names this run to another: its (redacted) command line, process, host and start."""
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return f"{' '.join(command_line)}: process {os.getpid()} on {socket.gethostname()}, since {started}"
