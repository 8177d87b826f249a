"""How a baseline names an offender, whatever the spelling of the target's folders.

A run names a file as the command line spelled its folder (``fleet/node-13/pki/apiserver.key``); a baseline
names it by the folder of its target that holds it, as the target's location labels that folder, and its path
below it (``pki/apiserver.key``). The same node checked from another folder, through a link, with a trailing
slash or by an absolute path then has the same offenders. A subject is a file when the evidence says so: it is
the value of one of its entry's path facts (``path``, ``key_path``, ...). A finding pinned by a digest is
digested with every such path written the same way. All of it is lexical: nothing a baseline or a report names
is looked up on disk.

Baselines written before (``kubecert.baseline/v1`` and ``/v2``) name a file as the run that wrote them spelled
it, from a folder they do not record: ``spelled_names`` gives what such a name can be below the target's real
folders.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PATH_FACT = re.compile(r"(?:^|_)path$")  # the evidence facts that hold a file's path as the run spelled it


def _parts(path: str) -> tuple[tuple[str, ...], bool]:
    """A path's components after lexical normalisation, and whether it is absolute."""
    normal = os.path.normpath(path)
    return tuple(part for part in normal.split("/") if part not in ("", ".")), normal.startswith("/")


@dataclass(frozen=True)
class Folders:
    """The folders one target was read from, as one run spelled them (its ``location``), deepest first."""

    spelled: tuple[tuple[str, tuple[str, ...], bool], ...] = ()  # label, components, absolute

    @classmethod
    def of(cls, location: Mapping[str, Any] | None) -> Folders:
        found = [(label, *_parts(value)) for label, value in (location or {}).items()
                 if isinstance(value, str) and value and "://" not in value]
        return cls(tuple(sorted(found, key=lambda folder: -len(folder[1]))))

    def real(self) -> Folders:
        """The same folders by their real paths (links resolved): only ever for this run's own targets."""
        location = {label: os.path.realpath("/".join(parts) if not absolute else "/" + "/".join(parts))
                    for label, parts, absolute in self.spelled}
        return Folders.of(location)

    def relative(self, path: str) -> str | None:
        """``path`` as its folder's label and the path below it (``pki/apiserver.key``); None when no folder of
        the target holds it."""
        parts, absolute = _parts(path)
        for label, folder, folder_absolute in self.spelled:
            if absolute == folder_absolute and len(parts) > len(folder) and parts[:len(folder)] == folder:
                return "/".join((label, *parts[len(folder):]))
        return None


NO_FOLDERS = Folders()


def path_facts(entries: list[Mapping[str, Any]]) -> set[str]:
    return {value for entry in entries for key, value in entry.items()
            if PATH_FACT.search(key) and isinstance(value, str) and value}


def name_of(subject: str, entries: list[Mapping[str, Any]], folders: Folders) -> str:
    """How a baseline names ``subject``: below its target's folder when the evidence says it is a file there."""
    if subject in path_facts(entries):
        return folders.relative(subject) or subject
    return subject


def written_alike(finding: Any, entries: list[Mapping[str, Any]], folders: Folders) -> Any:
    """``finding`` with every path its evidence holds, wherever it appears, named below its target's folder."""
    renames = {path: name for path in path_facts(entries) if (name := folders.relative(path)) is not None}
    if not renames:
        return finding
    # Longest first, and only whole paths: not the tail of a longer path, nor a path's folder.
    pattern = re.compile(r"(?<![\w./-])(" + "|".join(re.escape(p) for p in sorted(renames, key=len, reverse=True))
                         + r")(?![\w/-]|\.\w)")

    def rewritten(value: Any) -> Any:
        if isinstance(value, str):
            return pattern.sub(lambda found: renames[found.group(1)], value)
        if isinstance(value, Mapping):
            return {key: rewritten(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [rewritten(item) for item in value]
        return value

    return rewritten(finding)


def spelled_names(offender: str, spelled: Folders, real: Folders) -> set[str]:
    """What an offender a baseline wrote before v3 (as its run spelled it, from a folder it did not record) can
    be named now: itself (a certificate's name), below this run's spelling of a folder, below a folder's real
    path when absolute, and when relative, below the folder whose real path ends as the offender begins
    (``fleet/node-13/pki/apiserver.key`` and ``/srv/fleet/node-13/pki``: ``pki/apiserver.key``)."""
    names = {offender}
    parts, absolute = _parts(offender)
    for folders in (spelled, real):
        if (name := folders.relative(offender)) is not None:
            names.add(name)
    if absolute or not parts:
        return names
    below = parts
    while below and below[0] == "..":
        below = below[1:]
    if not below:
        return names
    for label, folder, _ in real.spelled:
        shared = next(k for k in range(min(len(folder), len(below) - 1), -1, -1)
                      if folder[len(folder) - k:] == below[:k])
        if len(below) > shared:
            names.add("/".join((label, *below[shared:])))
    return names
