"""Files the operator names (``--baseline``, ``--inventory``, ``--api-key-file``, ``--ca-bundle``, profile files,
the reports ``report merge`` and ``baseline write`` read, ``kubeconfig:`` paths), read with bounds.

The operator is trusted, but a typo can name ``/dev/zero`` (read until memory runs out), a FIFO (a read that
never returns) or a sparse file of gigabytes, and a report or baseline may come from a shard that was not.
So every such file is opened without blocking and without becoming the controlling terminal, judged by
``fstat`` of what was opened (a regular file, within the bound) before a byte is read, and read up to the
bound only. Anything else is a UserFileError whose message names the option, the file (and where its links
lead) and why.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from kubecert.text import escaped

_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class UserFileError(ValueError):
    """A named file that cannot be used; the message names the option, the file and why."""


@dataclass(frozen=True)
class UserFile:
    path: Path  # as the operator named it
    real: Path  # where its links lead
    data: bytes
    mode: int  # its permission bits


def kind_of(mode: int) -> str:
    """What a file of ``mode`` is, in words: "a regular file", "a FIFO (named pipe)", ..."""
    return next((words for test, words in _KINDS if test(mode)), "a regular file" if stat.S_ISREG(mode)
                else "not a regular file")


def named(option: str, path: Path) -> str:
    """How a message names the file: the option, the path, and where it leads when that is elsewhere."""
    label = f"{option} {escaped(str(path))}" if option else escaped(str(path))
    real = os.path.realpath(path)
    if os.path.islink(path):
        label += f" (a link to {escaped(real)})"
    return label


def what_is(path: Path) -> str | None:
    """Why ``path`` is not a regular file one may read ("does not exist", "is a FIFO (named pipe)...");
    None when it is one."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "is a link to nothing (dangling)" if os.path.islink(path) else "does not exist"
    except OSError as exc:
        return _reason(exc)
    if stat.S_ISREG(st.st_mode):
        return None
    return f"is {kind_of(st.st_mode)}, not a regular file"


def read_user_file(path: Path, option: str, max_bytes: int) -> UserFile:
    """The content of the regular file at ``path`` (at most ``max_bytes``), or UserFileError."""

    def refuse(why: str) -> UserFileError:
        return UserFileError(f"{named(option, path)}: {why}; not read")

    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise refuse(what_is(path) or _reason(exc)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise refuse(f"is {kind_of(st.st_mode)}, not a regular file")
        if st.st_size > max_bytes:
            raise refuse(f"is {st.st_size} bytes, over the {max_bytes}-byte bound")
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise refuse(f"grew past the {max_bytes}-byte bound while it was read")
    except OSError as exc:
        raise refuse(_reason(exc)) from None
    finally:
        os.close(fd)
    return UserFile(path, Path(os.path.realpath(path)), b"".join(chunks), stat.S_IMODE(st.st_mode))


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "does not exist"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ELOOP:
        return "is a loop of symbolic links"
    return exc.strerror or type(exc).__name__
