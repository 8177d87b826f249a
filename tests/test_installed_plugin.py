"""kubecert installed beside a suite that knows nothing of it: the suite runs as it does without kubecert.

The package is installed (core, no extra) from a copy of its sources into a fresh virtual environment under
the test's temporary folder, with pip's cache and the machine's indexes; this takes about 10 s here (the
`install` marker: `-m "not install"` leaves it out locally, CI runs it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import kubecert

pytestmark = pytest.mark.install

SOURCE = Path(kubecert.__file__).resolve().parent.parent
# What the build reads besides the package (a file the project does not have is left out).
BUILD_FILES = ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in")

UNRELATED = {
    "conftest.py": """
        import pytest

        @pytest.fixture
        def number():
            return 41
    """,
    "test_unrelated.py": """
        import pytest

        def test_passes(number):
            assert number + 1 == 42

        def test_fails():
            assert "kubecert" == "unrelated"

        @pytest.mark.skip(reason="not today")
        def test_skipped():
            pass

        @pytest.mark.xfail(reason="known")
        def test_expected_to_fail():
            assert False

        @pytest.mark.parametrize("value", [1, 2])
        def test_parametrized(value):
            assert value
    """,
}


@pytest.fixture(scope="module")
def core_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with kubecert's core install; its python."""
    root = tmp_path_factory.mktemp("core-install")
    source = root / "source"
    shutil.copytree(SOURCE / "kubecert", source / "kubecert", ignore=shutil.ignore_patterns("__pycache__"))
    for name in BUILD_FILES:
        if (SOURCE / name).exists():
            shutil.copy2(SOURCE / name, source / name)
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True, timeout=120)
    python = root / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(source)], check=True, timeout=600,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return python


def _suite(folder: Path) -> Path:
    folder.mkdir()
    for name, text in UNRELATED.items():
        (folder / name).write_text("\n".join(line.removeprefix("        ") for line in text.splitlines()))
    return folder


def _run(python: Path, folder: Path, *args: str, **env: str) -> tuple[int, str, list[str]]:
    """Exit code, output (the plugins line and timings left out) and the files the run left in ``folder``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")} | env
    done = subprocess.run([str(python), "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=folder, env=environment,
                          capture_output=True, text=True, timeout=300, check=False)
    output = "\n".join(line for line in (done.stdout + done.stderr).splitlines() if not line.startswith("plugins:"))
    output = re.sub(r" in \d+\.\d+s", " in Ts", output)
    return done.returncode, output, sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_an_unrelated_suite_runs_as_it_does_without_kubecert(core_install: Path, tmp_path: Path) -> None:
    with_kubecert = _run(core_install, _suite(tmp_path / "suite"), "-rA")
    shutil.rmtree(tmp_path / "suite")  # the same folder again: pytest names it in its header
    without = _run(core_install, _suite(tmp_path / "suite"), "-rA", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    assert with_kubecert[0] == without[0] == pytest.ExitCode.TESTS_FAILED
    assert with_kubecert[1] == without[1]
    assert with_kubecert[2] == without[2]  # no reports/ folder, nothing else


def test_a_target_option_adds_kubecerts_checks_to_the_suite(core_install: Path, tmp_path: Path,
                                                            reference_tree: Any) -> None:
    folder = _suite(tmp_path / "suite")
    code, output, _ = _run(core_install, folder, "--kubecert-target", f"pki:{reference_tree.root / 'pki'}",
                           "--kubecert-profile", "palette", "--kubecert-rule", "KC-VAL-*", "-v")
    assert code == pytest.ExitCode.TESTS_FAILED  # the suite's own failure
    assert "test_unrelated.py::test_passes PASSED" in output
    assert re.search(r"KC-VAL-01\[pki:.*\] PASSED", output)
    assert (folder / "reports" / "kubecert.json").exists()
