"""A folder copied out of a container as a tar stream, unpacked with the care hostile input needs.

Only what a PKI folder holds is unpacked: directories, regular files (their permission bits kept, and
their owners when kubecert runs as root, so the file rules judge them as on the node) and symlinks that
stay inside the folder (an absolute one into the folder is made relative). A link that leaves the folder
points into the container's filesystem, not this machine's, so it is not recreated: it is reported
instead, like devices, names that climb out, and anything past the size and entry bounds.
"""

from __future__ import annotations

import io
import os
import posixpath
import tarfile
from pathlib import Path, PurePosixPath

from kubecert.targets.errors import TargetUnavailable
from kubecert.text import shown

MAX_ENTRIES = 10_000
MAX_BYTES = 64 << 20


def _inside(name: str) -> str | None:
    """The member's path relative to the copied folder, or None when it climbs out of it."""
    clean = posixpath.normpath(name.lstrip("/")) if name not in ("", ".", "./") else "."
    if clean == ".." or clean.startswith("../") or PurePosixPath(clean).is_absolute():
        return None
    return clean


def _link_inside(member: tarfile.TarInfo, relative: str, folder: str) -> str | None:
    """The symlink's target relative to its own directory when it stays inside the folder, else None."""
    target = member.linkname
    if target.startswith("/"):
        if target != folder and not target.startswith(folder.rstrip("/") + "/"):
            return None
        target_in_copy = posixpath.normpath(target[len(folder.rstrip("/")):].lstrip("/") or ".")
    else:
        target_in_copy = posixpath.normpath(posixpath.join(posixpath.dirname(relative), target))
    if target_in_copy == ".." or target_in_copy.startswith("../"):
        return None
    return posixpath.relpath(target_in_copy, posixpath.dirname(relative) or ".")


def unpack(data: bytes, dest: Path, folder: str) -> list[str]:
    """Unpack the tar stream ``data`` of the container's ``folder`` into ``dest``; what was left out, said."""
    notes: list[str] = []
    total = 0
    dir_modes: list[tuple[Path, int]] = []
    with _opened(data, folder) as archive:
        for count, member in enumerate(_members(archive, folder), start=1):
            if count > MAX_ENTRIES:
                raise TargetUnavailable(f"{folder} holds more than {MAX_ENTRIES} entries; not read")
            relative = _inside(member.name)
            where = f"{folder.rstrip('/')}/{shown(member.name.removeprefix('./'))}"
            if relative is None:
                notes.append(f"{where}: a name that climbs out of {folder}; left out")
                continue
            path = dest / relative
            if member.isdir():
                path.mkdir(parents=True, exist_ok=True)
                dir_modes.append((path, member.mode & 0o777))
            elif member.isfile():
                total += member.size
                if total > MAX_BYTES:
                    raise TargetUnavailable(f"{folder} holds more than {MAX_BYTES >> 20} MiB; not read")
                source = archive.extractfile(member)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(source.read() if source is not None else b"")
                path.chmod(member.mode & 0o777)
            elif member.issym():
                target = _link_inside(member, relative, folder)
                if target is None:
                    notes.append(f"{where}: a symlink to {shown(member.linkname)}, outside {folder}: not followed "
                                 "through the copy; look at it on the node")
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(target, path)
            else:
                notes.append(f"{where}: neither a file, a folder nor a symlink; left out")
                continue
            _own(path, member)
    for path, mode in reversed(dir_modes):  # last, so that a read-only folder did not stop its own unpacking
        path.chmod(mode | 0o700 if os.geteuid() != 0 else mode)
    return notes


def _opened(data: bytes, folder: str) -> tarfile.TarFile:
    try:
        return tarfile.open(fileobj=io.BytesIO(data), mode="r:")
    except tarfile.TarError as exc:
        raise TargetUnavailable(f"the copy of {folder} is not a tar stream: {exc}") from None


def _members(archive: tarfile.TarFile, folder: str) -> list[tarfile.TarInfo]:
    try:
        return archive.getmembers()
    except tarfile.TarError as exc:
        raise TargetUnavailable(f"the copy of {folder} is a broken tar stream: {exc}") from None


def _own(path: Path, member: tarfile.TarInfo) -> None:
    if os.geteuid() == 0:
        os.lchown(path, member.uid, member.gid)
