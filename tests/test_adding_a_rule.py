"""CONTRIBUTING.md's worked example is a whole static rule, and its table of what catches a missing step is true.

The example's three blocks (catalog entry, function, fault) are added, as CONTRIBUTING.md shows them, to a copy
of the project, then `make regen`'s script runs there: the rule tests pass, the new fault fails its rule and
no other, and the reference passes it. Then each step in turn is left out, and the test CONTRIBUTING.md names
for that step fails. Each run is a pytest child on the copy, so the project's own modules stay as they are.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("kubecert", "tests", "tools", "docs", "conftest.py", "pyproject.toml", "README.md")
STEPS = frozenset({"catalog entry", "remediation", "function", "fault", "effect", "regen"})
RULE = "KC-X509-07"
FAULT = "serial-reused"
RULE_TESTS = ("tests/test_catalog.py", "tests/test_detection_matrix.py",
              "tests/test_docs.py::test_readme_rule_table_is_the_catalog")
# The new fault's own tests, and the reference judged by every static rule, the new one among them.
FAULT_TESTS = ("tests/reference/test_faults.py", "-k", f"{FAULT} or test_the_reference_passes_every_rule")
FAULTS_END = "FAULTS: Mapping[str, TreeFault] = "  # where pki/faults.py gathers its faults: a new one goes above


def _example() -> dict[str, str]:
    """The three blocks of CONTRIBUTING.md's worked example, dedented: toml, the function, the fault."""
    text = (ROOT / "CONTRIBUTING.md").read_text()
    section = text.split("## Adding a rule", 1)[1].split("\n## ", 1)[0]
    fenced = re.findall(r"^ *```(?:toml|python)\n(.*?)^ *```$", section, re.M | re.S)
    blocks = [textwrap.dedent(block) for block in fenced]
    assert len(blocks) == 3, blocks
    assert f'id = "{RULE}"' in blocks[0]
    assert f'@implements("{RULE}")' in blocks[1]
    assert f'@_fault("{FAULT}", rule="{RULE}"' in blocks[2]
    return dict(zip(("catalog entry", "function", "fault"), blocks, strict=True))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project as it is, without the example, copied once."""
    base = tmp_path_factory.mktemp("project") / "kubecert-project"
    for name in COPIED:
        source, target = ROOT / name, base / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, target)
    return base


def _append(path: Path, text: str, *, before: str | None = None) -> None:
    current = path.read_text()
    if before is None:
        path.write_text(f"{current.rstrip()}\n\n{text}")
        return
    assert current.count(before) == 1, before
    head, tail = current.split(before)
    path.write_text(f"{head}{text}\n\n{before}{tail}")


def _python(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Python in ``project``: its own kubecert comes first on the path (the installed one is an editable
    install of the repository, which would otherwise be imported)."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(project), "HOME": str(project), "LANG": "C.UTF-8"}
    return subprocess.run([sys.executable, *args], cwd=project, env=env, capture_output=True, text=True,
                          timeout=900, check=False)


def _project_with(pristine: Path, target: Path, steps: frozenset[str]) -> tuple[Path, str]:
    """A copy of the project with the example's ``steps`` done, and what `make regen`'s script said there."""
    shutil.copytree(pristine, target, symlinks=True)
    example = _example()
    entry = example["catalog entry"]
    if "remediation" not in steps:
        entry = "".join(line for line in entry.splitlines(keepends=True) if not line.startswith("remediation ="))
    if "catalog entry" in steps:
        _append(target / "kubecert" / "rules" / "catalog.toml", entry)
    if "function" in steps:
        _append(target / "kubecert" / "rules" / "x509.py", example["function"])
    fault = example["fault"]
    if "effect" not in steps:
        fault = re.sub(r",\s*effect=\w+\)", ")", fault)
    if "fault" in steps:
        _append(target / "kubecert" / "reference" / "pki" / "faults.py", fault, before=FAULTS_END)
    said = ""
    if "regen" in steps:
        done = _python(target, "tools/regen_docs.py")
        said = done.stdout + done.stderr if done.returncode else ""  # it fails where the rules cannot load
    return target, said


def _pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _python(project, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--tb=short", *args)


def test_the_example_in_three_files_and_regen_passes_the_rule_tests(pristine: Path, tmp_path: Path) -> None:
    project, regen_failed = _project_with(pristine, tmp_path / "project", STEPS)
    assert regen_failed == ""
    where = _python(project, "-c", "import kubecert; print(kubecert.__file__)")
    assert where.stdout.strip() == str(project / "kubecert" / "__init__.py"), where  # the copy is what runs
    run = _pytest(project, *RULE_TESTS)
    assert run.returncode == 0, run.stdout[-4000:]
    faults = _pytest(project, *FAULT_TESTS)
    assert faults.returncode == 0, faults.stdout[-4000:]
    assert re.search(r"^\d+ passed", faults.stdout.splitlines()[-1]), faults.stdout[-2000:]
    assert f"| {RULE} | Each CA's serial numbers are unique |" in (project / "README.md").read_text()
    assert f"`tree:{FAULT}`" in (project / "docs" / "detection-matrix.md").read_text()
    files = [path.relative_to(project) for path in project.rglob("*")
             if path.is_file() and "__pycache__" not in path.parts]
    changed = {path for path in files if (project / path).read_bytes() != (pristine / path).read_bytes()}
    assert changed == {Path("kubecert/rules/catalog.toml"), Path("kubecert/rules/x509.py"),
                       Path("kubecert/reference/pki/faults.py"), Path("README.md"), Path("docs/detection-matrix.md")}


# Each step left out, and what CONTRIBUTING.md's table says fails then: the test, and what the output says.
MISSING: dict[str, tuple[str, ...]] = {
    # The family's module is imported when the rules are first read: the first test to read them fails on it.
    "catalog entry": ("FAILED tests/test_catalog.py::test_every_rule_is_implemented_or_planned",
                      f"UnknownRule: 'kubecert.rules.x509.serials_unique_per_ca: {RULE} is not in the catalog'"),
    "function": ("FAILED tests/test_catalog.py::test_every_rule_is_implemented_or_planned",
                 f"['{RULE}']: add the function (@implements) or mark the entry planned = true"),
    "remediation": ("FAILED tests/test_catalog.py::test_every_implemented_rule_says_what_fixes_it",),
    "fault": ("FAILED tests/test_detection_matrix.py::"
              "test_every_implemented_rule_is_failed_by_a_fault_of_the_reference",
              f"['{RULE}']: give each a named fault of the reference that fails it"),
    # The fault module does not import: make regen fails on it, and the tests' conftest does.
    "effect": ("TypeError: declare.<locals>.fault() missing 1 required keyword-only argument: 'effect'",
               "ImportError while loading conftest"),
    "regen": ("FAILED tests/test_docs.py::test_readme_rule_table_is_the_catalog",
              "FAILED tests/test_detection_matrix.py::test_published_matrix_is_generated_from_the_data",
              "README.md's rule table is not the catalog: run make regen",
              "docs/detection-matrix.md is not current: run make regen"),
}


@pytest.mark.parametrize("missing", sorted(MISSING))
def test_each_missing_step_fails_the_test_contributing_names(pristine: Path, tmp_path: Path, missing: str) -> None:
    project, regen_failed = _project_with(pristine, tmp_path / "project", STEPS - {missing})
    run = _pytest(project, *RULE_TESTS)
    output = regen_failed + run.stdout + run.stderr
    assert run.returncode != 0, output[-4000:]
    for expected in MISSING[missing]:
        assert expected in output, (expected, output[-4000:])


def test_contributing_names_each_step_the_table_checks() -> None:
    text = (ROOT / "CONTRIBUTING.md").read_text()
    table = text.split("What catches a missing step", 1)[1].split("\n\n", 2)[1]
    for expected in (line for lines in MISSING.values() for line in lines):
        if expected.startswith("FAILED "):
            assert f"`{expected.removeprefix('FAILED ')}`" in table, expected
    assert "`UnknownRule`" in table
    assert "`TypeError`" in table
