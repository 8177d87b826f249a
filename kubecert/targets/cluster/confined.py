"""A new folder written only through directory file descriptors: where a copy of a node's files is unpacked.

Every entry's folder is reached from the root one component at a time, each opened relative to the one
before (``dir_fd``) with O_NOFOLLOW and O_DIRECTORY: a component that is a symlink, or not a folder,
stops the walk instead of being followed, whatever links the copy has made so far. Nothing that exists is
ever replaced or removed, so a folder once walked stays that folder. Entries are made without following a
link in their own name (O_EXCL, O_NOFOLLOW, symlinkat, linkat without AT_SYMLINK_FOLLOW). Together: nothing
is created, written or changed outside the root, and a symlink is only ever made by the caller, who judges
where it leads.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_NOT_FOLLOWED = (errno.ELOOP, errno.ENOTDIR, errno.EMLINK)  # EMLINK: O_NOFOLLOW on a link, on the BSDs
MADE_MODE = 0o700  # a folder made because an entry is inside it, before its own entry (if any) says its mode

Owner = tuple[int, int]  # (uid, gid)


class Refused(Exception):
    """Why one entry was not made; the caller names the entry."""


class ConfinedFolder:
    """The folder ``root``, made here (its parent must exist, ``root`` must not), and written below only."""

    def __init__(self, root: Path) -> None:
        os.mkdir(root, MADE_MODE)
        self.fd = os.open(root, _FOLDER)
        self._modes: dict[tuple[str, ...], int] = {}

    def __enter__(self) -> ConfinedFolder:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        os.close(self.fd)

    @contextmanager
    def _folder(self, parts: Sequence[str], *, make: bool) -> Iterator[int]:
        """The folder ``parts`` names, reached through real folders only (missing ones made when ``make``)."""
        fd = os.dup(self.fd)
        try:
            for depth, part in enumerate(parts):
                try:
                    child = os.open(part, _FOLDER, dir_fd=fd)
                except FileNotFoundError:
                    if not make:
                        raise Refused(f"{'/'.join(parts[:depth + 1])} is not in the copy") from None
                    os.mkdir(part, MADE_MODE, dir_fd=fd)
                    child = os.open(part, _FOLDER, dir_fd=fd)
                except OSError as exc:
                    if exc.errno not in _NOT_FOLLOWED:
                        raise
                    raise Refused(f"{'/'.join(parts[:depth + 1])} is {_what(part, fd)}: not followed") from None
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)

    def make_folder(self, parts: Sequence[str], mode: int, owner: Owner | None) -> None:
        """The folder ``parts`` (made, or the one there); its mode is set by ``finish``, so that a read-only
        folder does not stop its own unpacking."""
        with self._folder(parts, make=True) as fd:
            if owner is not None:
                os.fchown(fd, *owner)
        self._modes[tuple(parts)] = mode

    def write_file(self, parts: Sequence[str], chunks: Iterable[bytes], mode: int, owner: Owner | None) -> None:
        """A new regular file ``parts`` holding ``chunks``, with exactly ``mode`` and ``owner``."""
        *parent, name = parts
        with self._folder(parent, make=True) as folder:
            try:
                fd = os.open(name, _NEW_FILE, 0o600, dir_fd=folder)
            except FileExistsError:
                raise Refused(f"{_what(name, folder)} of that name is in the copy already: kept") from None
            try:
                for chunk in chunks:
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view):]
                if owner is not None:
                    os.fchown(fd, *owner)
                os.fchmod(fd, mode)  # after chown, which may clear bits; exactly the node's, whatever the umask
            finally:
                os.close(fd)

    def symlink(self, parts: Sequence[str], text: str, owner: Owner | None) -> None:
        """A new symlink ``parts`` reading ``text`` (which the caller has judged)."""
        *parent, name = parts
        with self._folder(parent, make=True) as folder:
            try:
                os.symlink(text, name, dir_fd=folder)
            except FileExistsError:
                raise Refused(f"{_what(name, folder)} of that name is in the copy already: kept") from None
            if owner is not None:
                os.chown(name, *owner, dir_fd=folder, follow_symlinks=False)

    def hard_link(self, parts: Sequence[str], source: Sequence[str]) -> None:
        """A new name ``parts`` for the regular file ``source`` of this copy."""
        *parent, name = parts
        with self._folder(source[:-1], make=False) as origin, self._folder(parent, make=True) as folder:
            if not stat.S_ISREG(os.stat(source[-1], dir_fd=origin, follow_symlinks=False).st_mode):
                raise Refused(f"{'/'.join(source)} is not a regular file of the copy")
            try:
                os.link(source[-1], name, src_dir_fd=origin, dst_dir_fd=folder, follow_symlinks=False)
            except FileExistsError:
                raise Refused(f"{_what(name, folder)} of that name is in the copy already: kept") from None

    def finish(self, *, keep_owner_access: bool) -> None:
        """Set the folders' modes, deepest first; with ``keep_owner_access`` each stays open to its owner
        (kubecert, when not root), so that it can be read and removed."""
        for parts, mode in sorted(self._modes.items(), key=lambda item: -len(item[0])):
            with self._folder(parts, make=False) as fd:
                os.fchmod(fd, mode | 0o700 if keep_owner_access else mode)


def _what(name: str, folder: int) -> str:
    """What ``name`` is in ``folder``, for a message: a symlink, a file, a folder, ..."""
    try:
        mode = os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode
    except OSError:
        return "an entry"
    if stat.S_ISLNK(mode):
        return "a symlink"
    return "a folder" if stat.S_ISDIR(mode) else "a file" if stat.S_ISREG(mode) else "a special file"
