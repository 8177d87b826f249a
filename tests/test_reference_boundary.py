"""The checker never imports the reference platform (kubecert/reference): the reference is the test oracle
and the demo, not part of what judges a platform. Its one door is the ``reference:*`` target kind
(kubecert/targets/reference/, imported by the registry only when such a target is opened) and the
``kubecert reference`` command, named by a string in cli.py and imported only when that command runs.

Read statically (ast): every import statement, at module level or inside a function, and every string that
names a kubecert.reference module (importlib's way in)."""

from __future__ import annotations

import ast
from pathlib import Path

import kubecert

PACKAGE = Path(kubecert.__file__).parent
REFERENCE = "kubecert.reference"
# Where the checker may name the reference: the reference targets, and the reference command's entry.
DOORS = (PACKAGE / "reference", PACKAGE / "targets" / "reference")
COMMAND_DOOR = (PACKAGE / "cli.py", "kubecert.reference.cli:add_commands")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _names_reference(name: str) -> bool:
    return name == REFERENCE or name.startswith(f"{REFERENCE}.") or name.startswith(f"{REFERENCE}:")


def reference_uses(path: Path, source: str | None = None) -> list[str]:
    """``path``'s imports of kubecert.reference and strings naming one of its modules, as "line: what"."""
    module = _module_name(path)
    text = path.read_text(encoding="utf-8") if source is None else source
    found = []
    for node in ast.walk(ast.parse(text, str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, path.name == "__init__.py")
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]
        hits = [name for name in names if _names_reference(name)]
        if hits and (path, hits[0]) != COMMAND_DOOR:
            found.append(f"{node.lineno}: {hits[0]}")
    return sorted(found)


def checker_modules() -> list[Path]:
    return [path for path in sorted(PACKAGE.rglob("*.py"))
            if not any(path.is_relative_to(door) for door in DOORS)]


def test_the_checker_never_imports_the_reference() -> None:
    modules = checker_modules()
    assert len(modules) > 100  # the walk sees the package (a wrong root would pass vacuously)
    uses = {str(path.relative_to(PACKAGE.parent)): found for path in modules if (found := reference_uses(path))}
    assert uses == {}, "the checker imports the reference outside its doors (kubecert/targets/reference/)"


def test_the_walk_sees_every_kind_of_import() -> None:
    """The reader finds each way a module can name the reference, relative imports included (the source is
    given: nothing is written into the package)."""
    source = ("import kubecert.reference.pki\n"
              "def f():\n    from kubecert.reference import kube\n"
              "from ..reference.api import app\n"
              "MODULE = 'kubecert.reference.api.cli:main'\n"
              "from kubecert.targets import reference\n"
              "from kubecert.targets.reference import pki\n")
    found = reference_uses(PACKAGE / "rules" / "probe.py", source)
    assert found == ["1: kubecert.reference.pki", "3: kubecert.reference", "4: kubecert.reference.api",
                     "5: kubecert.reference.api.cli:main"]
