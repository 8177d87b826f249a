"""Where reports go, checked before anything runs, and what an unfinished run leaves there.

A report path that cannot be written (a folder, a path under a file, a folder the user may not write) is
a usage error before the first check, not a traceback after the last. An earlier run's reports are
removed first, so a run that dies never leaves them passing for its own; a run that is interrupted
writes each report as ``PATH.partial``, marked incomplete.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

PARTIAL_SUFFIX = ".partial"


def partial(path: Path) -> Path:
    return path.with_name(path.name + PARTIAL_SUFFIX)


def unwritable(path: Path) -> str | None:
    """Why a report cannot be written at ``path``, or None when it can."""
    if path.is_dir():
        return f"{path} is a folder; give a file's path"
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{path}: {ancestor} is a file, so nothing can be written under it"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"{path}: cannot write in {ancestor} (permission denied)"
    return None


def problems(paths: Iterable[tuple[str, Path | None]]) -> list[str]:
    """One line per unusable report path, naming its option."""
    found = []
    for option, path in paths:
        why = unwritable(path) if path is not None else None
        if why:
            found.append(f"{option} {why}")
    return found


def clear(paths: Iterable[Path]) -> None:
    """Remove an earlier run's reports, finished or not."""
    for path in paths:
        path.unlink(missing_ok=True)
        partial(path).unlink(missing_ok=True)


def mark_junit_incomplete(path: Path) -> Path | None:
    """Move the JUnit file pytest wrote for an unfinished run to ``PATH.partial`` with a property that says
    so: a CI reading ``failures="0"`` from it must not take the run for a clean one."""
    if not path.is_file():
        return None
    tree = ET.parse(path)  # noqa: S314 - our own file, written a moment ago
    root = tree.getroot()
    for suite in ([root] if root.tag == "testsuite" else root.iter("testsuite")):
        properties = suite.find("properties")
        if properties is None:
            properties = ET.Element("properties")
            suite.insert(0, properties)
        ET.SubElement(properties, "property", name="kubecert_complete", value="false")
    destination = partial(path)
    tree.write(destination, encoding="utf-8", xml_declaration=True)
    path.unlink()
    return destination
