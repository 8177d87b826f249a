"""A folder copied out of a container (or a reader pod's log) as a tar stream, unpacked as hostile input.

Only what a PKI folder holds is unpacked: folders, regular files (their permission bits exact, and their
owners when kubecert runs as root, so the file rules judge them as on the node), symlinks whose target
stays inside the folder (an absolute one into the folder is made relative; every one is written in its
normal form, so that it can only lead further inside), and hard links to a file copied before. Everything
is written through confined.py, which never follows a link while unpacking: an entry inside a symlink, or
a second entry of a name already copied, is left out. What is left out is said in a note naming the entry
and the folder: links that leave the folder (they point into the node's filesystem, not this machine's),
names that climb out or are absolute, devices, FIFOs and sparse files.

Past a bound (entries, bytes, a header's size, the stream's size) or on a stream that is broken, lies
about a size or does not end as tar ends it, the whole copy is refused (``TargetUnavailable``) and what
was unpacked of it removed: the rules that needed it are errors, never judged on part of it.
"""

from __future__ import annotations

import io
import os
import posixpath
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

from kubecert.targets.cluster.confined import ConfinedFolder, Refused
from kubecert.targets.errors import TargetUnavailable
from kubecert.text import escaped

MAX_ENTRIES = 10_000
MAX_BYTES = 64 << 20  # of regular files
MAX_STREAM_BYTES = MAX_BYTES + (16 << 20)  # the whole stream: the files, their headers, tar's padding
# One pax or GNU long-name header, and all of them in a stream. tarfile reads a header whole, and before
# Python 3.11.10/3.12.6 its header regexes take time quadratic in a header's size.
MAX_HEADER_BYTES = 8 << 10
MAX_HEADERS_BYTES = 1 << 20
MAX_NAME_BYTES = 4096
MAX_DEPTH = 32
MAX_NOTES = 20  # per stream; the rest are counted
MAX_ID = (1 << 32) - 2  # uid_t/gid_t; (1 << 32) - 1 means "unchanged" to chown
_CHUNK = 1 << 20
_EXTENDED = {tarfile.XHDTYPE: "pax", tarfile.XGLTYPE: "global pax", tarfile.SOLARIS_XHDTYPE: "pax",
             tarfile.GNUTYPE_LONGNAME: "GNU long-name", tarfile.GNUTYPE_LONGLINK: "GNU long-link"}
_SPECIAL = {tarfile.CHRTYPE: "a character device", tarfile.BLKTYPE: "a block device", tarfile.FIFOTYPE: "a FIFO"}
_SAID = 200  # characters of a name repeated in a note


class _Bound(Exception):
    """A header past a bound, raised while tarfile parses it; not a tarfile.HeaderError, which tarfile would
    take, after the first header, as the stream's end."""


def unpack(data: bytes, dest: Path, folder: str) -> list[str]:
    """Unpack the tar stream ``data`` of the container's ``folder`` into ``dest``, a folder made here (its
    parent must exist, it must not); what was left out, said."""
    if len(data) > MAX_STREAM_BYTES:
        raise TargetUnavailable(f"the copy of {folder} is larger than {MAX_STREAM_BYTES >> 20} MiB; not read")
    try:
        target = ConfinedFolder(dest)
    except OSError as exc:
        raise TargetUnavailable(f"the copy of {folder} cannot be made in {dest}: {exc.strerror}") from None
    try:
        with target, _opened(data, folder) as archive:
            copy = _Copy(target, archive, folder)
            for member in _members(archive, folder):
                copy.add(member)
            _check_end(archive, data, folder)
            target.finish(keep_owner_access=not copy.owners)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)  # a copy refused part-way is no copy: never judged as one
        raise
    return copy.notes.said()


class _Copy:
    """One stream's members made in ``target``, one by one."""

    def __init__(self, target: ConfinedFolder, archive: tarfile.TarFile, folder: str) -> None:
        self.target, self.archive, self.folder = target, archive, folder
        self.notes = _Notes(folder)
        self.owners = os.geteuid() == 0  # kept as on the node only when kubecert may give files away
        self.total = 0
        self.files: set[tuple[str, ...]] = set()  # the regular files made: what a hard link may name

    def add(self, member: tarfile.TarInfo) -> None:
        if member.isfile() and not member.issparse():
            self.total += member.size
            if self.total > MAX_BYTES:
                raise TargetUnavailable(f"{self.folder} holds more than {MAX_BYTES >> 20} MiB of files; not read")
        parts, why = _parts(member.name, self.folder)
        why = why or _unsupported(member, parts)
        if parts is None or why:
            self.notes.add(member.name, why)
            return
        try:
            self._make(member, parts)
        except Refused as refused:
            self.notes.add(member.name, f"{refused}; left out")
        except OSError as exc:  # the disk, not the entry: no copy is better than part of one
            raise TargetUnavailable(f"the copy of {self.folder} could not be written: {_name(member.name)}: "
                                    f"{exc.strerror}") from None

    def _make(self, member: tarfile.TarInfo, parts: tuple[str, ...]) -> None:
        owner = (member.uid, member.gid) if self.owners else None
        mode = member.mode & 0o777
        if member.isdir():
            self.target.make_folder(parts, mode, owner)
        elif member.isfile():
            self.target.write_file(parts, _content(self.archive, member, self.folder), mode, owner)
            self.files.add(parts)
        elif member.issym():
            self.target.symlink(parts, _link_text(member.linkname, parts, self.folder), owner)
        else:
            source, _ = _parts(member.linkname, self.folder)
            if source is None or source not in self.files:
                raise Refused(f"a hard link to {_name(member.linkname)}, " +
                              ("outside " + self.folder if source is None else "which is not a file copied before"))
            self.target.hard_link(parts, source)
            self.files.add(parts)


def _unsupported(member: tarfile.TarInfo, parts: tuple[str, ...] | None) -> str:
    """Why a member with a good name is still left out, or ""."""
    if member.issparse():
        why = "a sparse file (no PKI folder holds one)"
    elif member.type in _SPECIAL:
        why = f"{_SPECIAL[member.type]}: neither a file, a folder nor a symlink"
    elif not (member.isdir() or member.isfile() or member.issym() or member.islnk()):
        why = f"an entry of type {escaped(repr(member.type))}: neither a file, a folder nor a symlink"
    elif parts == () and not member.isdir():
        why = "the copied folder itself, as something else than a folder"
    elif not (0 <= member.uid <= MAX_ID and 0 <= member.gid <= MAX_ID):
        why = f"owned by uid {member.uid}, gid {member.gid}, which are no ids"
    else:
        return ""
    return why + "; left out"


def _parts(name: str, folder: str) -> tuple[tuple[str, ...] | None, str]:
    """``name``'s components below ``folder`` ("." and empty ones dropped), or None and why not."""
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        return None, f"a name that climbs out of {folder}; left out"
    if name.startswith("/"):
        return None, f"an absolute name, not one inside {folder}; left out"
    if "\0" in name:
        return None, "a name holding a NUL byte; left out"
    if len(name.encode(errors="surrogateescape")) > MAX_NAME_BYTES or len(parts) > MAX_DEPTH:
        return None, f"a name longer than {MAX_NAME_BYTES} bytes or deeper than {MAX_DEPTH} folders; left out"
    return parts, ""


def _link_text(linkname: str, parts: tuple[str, ...], folder: str) -> str:
    """What the symlink at ``parts`` reads in the copy: its target relative to its own folder, in normal form
    (``..`` only leading, and never above the copy's root), or Refused when it leaves ``folder``."""
    if not linkname or "\0" in linkname or len(linkname.encode(errors="surrogateescape")) > MAX_NAME_BYTES:
        raise Refused(f"a symlink to '{_name(linkname)}', which is no path")
    here = posixpath.join(*parts[:-1]) if len(parts) > 1 else "."
    root = posixpath.normpath(folder)
    if linkname.startswith("/"):
        target = posixpath.normpath(linkname)
        inside = None if target != root and not target.startswith(root.rstrip("/") + "/") else \
            posixpath.normpath(target[len(root):].lstrip("/") or ".")
    else:
        inside = posixpath.normpath(posixpath.join(here, linkname))
    if inside is None or inside == ".." or inside.startswith("../"):
        raise Refused(f"a symlink to {_name(linkname)}, outside {folder}: not followed through the copy; look at "
                      "it on the node")
    return posixpath.relpath("/" + inside, "/" + here)  # rooted, so that relpath never asks for the cwd


def _content(archive: tarfile.TarFile, member: tarfile.TarInfo, folder: str) -> Iterator[bytes]:
    source = archive.extractfile(member)
    if source is None:
        return
    left = member.size
    while left > 0:
        try:
            chunk = source.read(min(left, _CHUNK))
        except Exception as exc:  # whatever tarfile raises on a member that lies about its size
            raise TargetUnavailable(f"the copy of {folder} is a broken tar stream at {_name(member.name)}: "
                                    f"{escaped(str(exc))}") from None
        if not chunk:
            raise TargetUnavailable(f"the copy of {folder} ends inside {_name(member.name)}")
        left -= len(chunk)
        yield chunk


def _bounded_info() -> type[tarfile.TarInfo]:
    """A TarInfo that refuses, as tarfile reads its 512-byte block and before it reads what follows, a header
    past the bounds and any negative size."""
    spent = [0]

    class BoundedInfo(tarfile.TarInfo):
        @classmethod
        def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> BoundedInfo:
            info = super().frombuf(buf, encoding, errors)
            if info.size < 0:
                raise _Bound(f"a header of {info.size} bytes")
            kind = _EXTENDED.get(info.type)
            if kind is not None:
                spent[0] += info.size
                if info.size > MAX_HEADER_BYTES:
                    raise _Bound(f"a {kind} header of {info.size} bytes (at most {MAX_HEADER_BYTES} are read)")
                if spent[0] > MAX_HEADERS_BYTES:
                    raise _Bound(f"more than {MAX_HEADERS_BYTES} bytes of pax and long-name headers")
            return info

    return BoundedInfo


def _opened(data: bytes, folder: str) -> tarfile.TarFile:
    try:
        return tarfile.open(fileobj=io.BytesIO(data), mode="r:", tarinfo=_bounded_info())
    except _Bound as exc:
        raise TargetUnavailable(f"the copy of {folder} is refused: {exc}") from None
    except Exception as exc:  # tarfile's parser raises more than TarError on hostile input
        raise TargetUnavailable(f"the copy of {folder} is not a tar stream: {escaped(str(exc))}") from None


def _members(archive: tarfile.TarFile, folder: str) -> Iterator[tarfile.TarInfo]:
    """The members one by one (never all of them parsed first), at most MAX_ENTRIES."""
    for count in range(MAX_ENTRIES + 1):
        try:
            member = archive.next()
        except _Bound as exc:
            raise TargetUnavailable(f"the copy of {folder} is refused: {exc}") from None
        except Exception as exc:  # tarfile's parser raises more than TarError on hostile input
            raise TargetUnavailable(f"the copy of {folder} is a broken tar stream: {escaped(str(exc))}") from None
        if member is None:
            return
        if count == MAX_ENTRIES:
            raise TargetUnavailable(f"{folder} holds more than {MAX_ENTRIES} entries; not read")
        yield member


def _check_end(archive: tarfile.TarFile, data: bytes, folder: str) -> None:
    """tarfile stops quietly at a header it cannot read: what follows the last member must be tar's end
    (zero blocks, at least two), or the stream was cut short, lied about a size or hides more."""
    tail = data[archive.offset:]
    if len(tail) < 2 * tarfile.BLOCKSIZE or tail.strip(b"\0"):
        raise TargetUnavailable(f"the copy of {folder} does not end as a tar stream ends (cut short, a size that "
                                f"lies, or data after a header tar cannot read, at byte {archive.offset}); not read")


def _name(name: str, limit: int = _SAID) -> str:
    """A member's name (or what a note says of it) as a note shows it: escaped, bytes that are not UTF-8 as
    \\x.., and bounded."""
    text = escaped(name.encode(errors="surrogateescape").decode(errors="backslashreplace"))
    return text if len(text) <= limit else text[:limit] + "..."


class _Notes:
    """What one stream left out, one note an entry, at most MAX_NOTES and then how many more."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.notes: list[str] = []
        self.more = 0

    def add(self, name: str, why: str) -> None:
        if len(self.notes) >= MAX_NOTES:
            self.more += 1
            return
        name = name.removeprefix("./")
        where = name if name.startswith("/") else f"{self.folder.rstrip('/')}/{name}"
        self.notes.append(f"{_name(where)}: {_name(why, 2 * _SAID)}")  # why may repeat names: escaped too

    def said(self) -> list[str]:
        extra = [f"{self.folder}: {self.more} more entries left out"] if self.more else []
        return self.notes + extra
