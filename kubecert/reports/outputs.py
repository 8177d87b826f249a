"""Where reports go, checked before anything runs, and what an unfinished run leaves there.

A report path that cannot be written (a folder, a path under a file, a folder the user may not write) is
a usage error before the first check, not a traceback after the last. An earlier run's reports are
removed first, so a run that dies never leaves them passing for its own; a run that is interrupted
writes each report as ``PATH.partial``, marked incomplete.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from kubecert.extras import install_command
from kubecert.text import escaped

if TYPE_CHECKING:
    from kubecert.reports.sources import ResultSource

PARTIAL_SUFFIX = ".partial"


@dataclass(frozen=True)
class Format:
    """One report format: its option, its file name in an output folder, and what writes it.

    ``writer`` names ``write(out, header, source)``: the report's fields without its results (``header``) and
    the results as a ResultSource (spool.py) to read one at a time, so a fleet's report is written without
    holding its results. A format without one is rendered by ``renderer`` from the whole document, its
    results read into memory first (OSCAL and metrics: formats a fleet's run seldom asks for)."""

    option: str  # the option that names its path (--json, ...), under pytest --kubecert-NAME
    file_name: str  # its name in --output-dir
    renderer: str  # "module:function", imported only when the format is written
    needs: str | None = None  # the module a pip extra brings, for formats outside the core install
    writer: str | None = None  # "module:function" that writes it from a ResultSource

    def available(self) -> bool:
        return self.needs is None or importlib.util.find_spec(self.needs) is not None

    def render(self, document: Mapping[str, Any]) -> str:
        render: Callable[[Mapping[str, Any]], str] = _imported(self.renderer)
        return render(document)

    def write(self, out: TextIO, header: Mapping[str, Any], source: ResultSource) -> None:
        if self.writer is not None:
            _imported(self.writer)(out, header, source)
        else:
            out.write(self.render({**header, "results": list(source.documents())}))


def _imported(name: str) -> Any:
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(module), function)


FORMATS: tuple[Format, ...] = (
    Format("json", "kubecert.json", "kubecert.reports.canonical:dumps", writer="kubecert.reports.canonical:write_from"),
    Format("html", "kubecert.html", "kubecert.reports.html:render", writer="kubecert.reports.html:write_from"),
    Format("junitxml", "kubecert-junit.xml", "kubecert.reports.junit:render",
           writer="kubecert.reports.junit:write_from"),
    Format("oscal", "kubecert-oscal.json", "kubecert.reports.oscal:render", needs="trestle"),
    Format("metrics", "kubecert.prom", "kubecert.reports.metrics:render", needs="prometheus_client"),
)
EXTRA = "reports"  # the pip extra that brings what the formats with ``needs`` import
INSTALL = install_command([EXTRA])


@dataclass(frozen=True)
class ReportPaths:
    """Where each format goes this run; a format without a path is not written."""

    paths: dict[str, Path] = field(default_factory=dict)  # format option → path
    left_out: tuple[str, ...] = ()  # formats --output-dir would have written but their extra is missing
    default_json: bool = False  # the JSON path is the plain pytest default: written only when checks ran

    @classmethod
    def resolve(cls, chosen: Mapping[str, Path | None], output_dir: Path | None,
                default_json: Path | None = None) -> ReportPaths:
        """Each format's own option wins; ``output_dir`` gives every other format its file name there (those
        whose extra is missing are left out and said); with neither, only the JSON goes to ``default_json``."""
        paths: dict[str, Path] = {}
        left_out: list[str] = []
        for fmt in FORMATS:
            own = chosen.get(fmt.option)
            if own is not None:
                paths[fmt.option] = own
            elif output_dir is not None:
                if fmt.available():
                    paths[fmt.option] = output_dir / fmt.file_name
                else:
                    left_out.append(fmt.option)
        if not paths and default_json is not None:
            return cls({"json": default_json}, (), default_json=True)
        return cls(paths, tuple(left_out))

    def problems(self) -> list[str]:
        """Unusable paths and formats asked for without their extra, one line each, naming the option."""
        found = problems((f"--{option}", path) for option, path in self.paths.items())
        for fmt in FORMATS:
            if fmt.option in self.paths and not fmt.available():
                found.append(f"--{fmt.option} needs kubecert's {EXTRA!r} extra ({fmt.needs} is not installed): "
                             f"{INSTALL}")
        return found

    def write(self, document: Mapping[str, Any], complete: bool,
              source: ResultSource | None = None) -> tuple[list[Path], list[str]]:
        """Every report, as one set: each is written into a temporary file beside its destination, and only
        when all are there are they renamed into place, so a report that cannot be rendered or written leaves
        none of this set and whatever set was there before. An unfinished run's go to ``PATH.partial``. The
        results are ``source``'s (a run's spool), else the document's own. What was written, and a line per
        report that could not be."""
        from kubecert.atomic_files import staged_text
        from kubecert.reports.canonical import REPORT_MODE, HeldResults

        if source is None:
            source = HeldResults(document.get("results", ()))
        header = {**document, "results": []}  # the results keep their place among the fields; ``source`` has them
        staged: list[tuple[Path, Path]] = []  # temporary file, destination
        try:
            for fmt in FORMATS:
                path = self.paths.get(fmt.option)
                if path is None:
                    continue
                destination = path if complete else partial(path)
                try:
                    with staged_text(destination, REPORT_MODE) as (temporary, out):
                        staged.append((temporary, destination))
                        fmt.write(out, header, source)
                except OSError as exc:
                    return [], [f"{destination}: {exc.strerror or exc}; no report of this run was written"]
                except Exception as exc:  # a renderer's fault must not leave half a set behind either
                    why = escaped(f"{type(exc).__name__}: {exc}")[:300]
                    return [], [f"{destination}: could not be rendered ({why}); no report of this run was written"]
            for temporary, destination in staged:
                os.replace(temporary, destination)
            return [destination for _, destination in staged], []
        finally:
            for temporary, _ in staged:
                temporary.unlink(missing_ok=True)


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
    # root passes every access check, yet cannot write on a read-only mount or in /proc or /sys (file systems
    # with no storage): found out now, from the mount alone, rather than after every check has run
    mount = os.statvfs(ancestor)
    if mount.f_flag & os.ST_RDONLY:
        return f"{path}: cannot write in {ancestor} (a read-only file system)"
    if mount.f_blocks == 0:
        return f"{path}: cannot write in {ancestor} (a virtual file system, such as /proc, holds no reports)"
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
