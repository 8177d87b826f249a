"""What a run did to the host, seen through Python's audit hooks (PEP 578): every process it started and
every file or folder it created, wrote, renamed, linked, changed or removed; and, with ``opens_of``, which of
some files anything opened (the hooks do not see a file that C code opens, such as OpenSSL loading a
certificate, so that is asked of Linux's inotify).

The hostile corpora run under it, in this process (``Guard`` around a call) or in a child
(``run_audited``: ``kubecert`` started through ``tests/audited_main.py``), and their tests assert that
nothing was started but the commands the test configured, and nothing written outside the folders the run
was given and kubecert's own temporary folders. A hook cannot be removed once added, so one hook is
installed per process and records only while a guard is open.
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# What writes a path (a file opened for writing, a folder made, a link, a mode or owner changed, ...): the
# index of each path argument, and of the folder descriptor (dir_fd) it is relative to, if the call has one.
_WRITES: dict[str, tuple[tuple[int, int | None], ...]] = {
    "os.mkdir": ((0, 2),), "os.rename": ((0, 2), (1, 3)), "os.symlink": ((1, 2),), "os.link": ((1, 3),),
    "os.remove": ((0, 1),), "os.rmdir": ((0, 1),), "os.chmod": ((0, 2),), "os.chown": ((0, 3),),
    "os.truncate": ((0, None),), "os.utime": ((0, 3),), "os.mkfifo": ((0, 2),), "os.mknod": ((0, 3),),
    "shutil.copyfile": ((1, None),), "shutil.copytree": ((1, None),), "shutil.rmtree": ((0, 1),),
    "shutil.move": ((1, None),),
}
# Calls that act on the name itself, not on what a link there leads to: the folder is resolved, the name kept.
_ON_THE_NAME = {"os.rename", "os.symlink", "os.link", "os.remove", "os.rmdir"}
_PROCESSES = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.startfile", "pty.spawn"}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# Devices a run may write without writing anything (subprocess's DEVNULL, the terminal).
_HARMLESS = {"/dev/null", "/dev/tty", "/dev/stdout", "/dev/stderr"}


@dataclass(frozen=True)
class Event:
    kind: str  # "write" or "process"
    event: str  # the audit event's name
    subject: str  # the path (resolved) or the command line


@dataclass
class Seen:
    """What a guarded stretch did."""

    events: list[Event] = field(default_factory=list)

    @property
    def processes(self) -> list[str]:
        return [e.subject for e in self.events if e.kind == "process"]

    @property
    def writes(self) -> list[str]:
        return [e.subject for e in self.events if e.kind == "write"]

    def processes_besides(self, allowed: Iterable[str]) -> list[str]:
        """Command lines whose program is none of ``allowed`` (names or paths of executables)."""
        names = {Path(a).name for a in allowed}
        return [p for p in self.processes if Path(p.split(" ", 1)[0]).name not in names]

    def writes_outside(self, roots: Iterable[Path | str], *, own_temp: bool = True) -> list[str]:
        """Written paths that are under none of ``roots`` (compared after resolving links) nor, unless
        ``own_temp`` is false, kubecert's own temporary folders."""
        allowed = [os.path.realpath(r) for r in roots]
        temp = os.path.realpath(tempfile.gettempdir())
        outside = []
        for path in self.writes:
            if path in _HARMLESS or any(_under(path, root) for root in allowed):
                continue
            relative = os.path.relpath(path, temp) if _under(path, temp) else None
            if own_temp and relative is not None and relative.split(os.sep, 1)[0].startswith("kubecert-"):
                continue
            outside.append(path)
        return outside

    def to_json(self) -> str:
        return json.dumps([e.__dict__ for e in self.events])

    @classmethod
    def from_json(cls, text: str) -> Seen:
        return cls([Event(**e) for e in json.loads(text)])


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


_active: list[Seen] = []
_lock = threading.Lock()
_installed: list[bool] = []  # one hook per process, however many guards


def _path(value: Any, dir_fd: Any = None, *, itself: bool = False) -> str | None:
    """The real path ``value`` names: relative to the folder descriptor ``dir_fd`` when there is one, else to
    the working folder; a descriptor itself names what it was opened on. With ``itself``, a link at the path
    is not followed (renaming or removing a link changes the link, not what it leads to)."""
    if value is None:
        return None
    if isinstance(value, int):
        return _opened_on(value)
    if isinstance(value, bytes):
        value = os.fsdecode(value)
    base = _opened_on(dir_fd) if isinstance(dir_fd, int) and dir_fd >= 0 else os.getcwd()
    path = os.path.join(base, os.fspath(value))
    if itself and os.path.basename(path) not in ("", ".", ".."):
        return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
    return os.path.realpath(path)


def _opened_on(fd: int) -> str:
    """The path a descriptor was opened on (Linux's /proc); where that cannot be read, a name no root holds,
    so that what cannot be placed counts as outside rather than passing."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return f"<descriptor {fd}>"


# os.open's audit event does not carry its dir_fd (CPython passes path, None, flags), so os.open is wrapped
# to tell the hook, in this thread, which folder a relative name is opened in.
_real_os_open = os.open
_open_dir_fd = threading.local()


def _os_open(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
    _open_dir_fd.value = dir_fd
    try:
        return _real_os_open(path, flags, mode, dir_fd=dir_fd)
    finally:
        _open_dir_fd.value = None


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _active:
        return
    found: list[Event] = []
    if event == "open" and len(args) >= 3:
        path, mode, flags = args[0], args[1], args[2]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and bool(flags & _WRITE_FLAGS))
        where = _path(path, getattr(_open_dir_fd, "value", None)) if writing else None
        # A folder opened "for writing" names no file: the open fails, or makes an anonymous one (O_TMPFILE,
        # as tempfile.TemporaryFile does) that only a link, recorded as such, could name.
        if where is not None and not os.path.isdir(where):
            found.append(Event("write", event, where))
    elif event in _WRITES:
        for index, fd_index in _WRITES[event]:
            dir_fd = args[fd_index] if fd_index is not None and fd_index < len(args) else None
            where = _path(args[index], dir_fd, itself=event in _ON_THE_NAME) if index < len(args) else None
            if where is not None:
                found.append(Event("write", event, where))
    elif event in _PROCESSES:
        found.append(Event("process", event, _command(event, args)))
    if found:
        with _lock:
            for seen in _active:
                seen.events.extend(found)


def _command(event: str, args: tuple[Any, ...]) -> str:
    if event == "subprocess.Popen":
        executable, argv = args[0], args[1]
        words = [argv] if isinstance(argv, str | bytes) else list(argv or ())
        program = os.fsdecode(executable) if executable else (os.fsdecode(words[0]) if words else "?")
        return " ".join([program, *(os.fsdecode(w) for w in words[1:])])
    return " ".join(os.fsdecode(a) if isinstance(a, str | bytes) else repr(a) for a in args[:2])


def install() -> None:
    if not _installed:
        # The first call probes the temporary folder by writing a file in it: done now, before anything is recorded.
        tempfile.gettempdir()
        sys.addaudithook(_hook)
        os.open = _os_open
        _installed.append(True)


@contextmanager
def guard() -> Iterator[Seen]:
    """Record what the enclosed code does to the host."""
    install()
    seen = Seen()
    with _lock:
        _active.append(seen)
    try:
        yield seen
    finally:
        with _lock:
            _active.remove(seen)


def run_audited(argv: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None,
                timeout: float = 300) -> tuple[subprocess.CompletedProcess[str], Seen]:
    """``kubecert ARGV`` in a child that records, from its first line, every process it starts and every
    path it writes; its outcome and what it did."""
    log = Path(tempfile.mkdtemp(prefix="audit-")) / "seen.json"
    run = subprocess.run([sys.executable, str(HERE / "audited_main.py"), str(log), *argv], cwd=cwd,
                         env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout,
                         check=False)
    text = log.read_text() if log.exists() else "[]"
    log.unlink(missing_ok=True)
    log.parent.rmdir()
    return run, Seen.from_json(text)


_IN_OPEN = 0x20
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then len bytes of name


@contextmanager
def opens_of(paths: Iterable[Path]) -> Iterator[list[str]]:
    """Which of ``paths`` (files that exist now) anything opened while the block ran: this process, its
    children or C code in either; filled in when the block ends."""
    libc = ctypes.CDLL(None, use_errno=True)
    descriptor = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if descriptor < 0:
        raise OSError(ctypes.get_errno(), "inotify_init1")
    opened: list[str] = []
    try:
        watches = {}
        for path in paths:
            watch = libc.inotify_add_watch(descriptor, os.fsencode(path), _IN_OPEN)
            if watch < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch {path}")
            watches[watch] = str(path)
        yield opened
        while True:
            try:
                data = os.read(descriptor, 1 << 16)
            except BlockingIOError:
                break
            offset = 0
            while offset < len(data):
                watch, mask, _, size = _EVENT.unpack_from(data, offset)
                offset += _EVENT.size + size
                if mask & _IN_OPEN and watches.get(watch) not in opened:
                    opened.append(watches[watch])
    finally:
        os.close(descriptor)
