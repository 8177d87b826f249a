"""kubecert as pip installs it: the sdist and the wheel built by ``python -m build`` with the setuptools the
build floor names (pyproject's build-system.requires), LICENSE in both, and the wheel's core install (no
extra) imports kubecert, lists the rules and checks a node folder, with the reference platform removed from
it: the checker needs none of it. ``--target reference`` there names the extra it needs.

Fresh virtual environments are made and filled from the package index pip is configured with; without one
the test skips, except under CI=true."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What the sdist is built from: the package and what pyproject.toml names.
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "kubecert")
# What pip says when it cannot reach an index at all (as opposed to finding no such version there).
_UNREACHABLE = re.compile(r"NewConnectionError|Temporary failure in name resolution|Network is unreachable|"
                          r"Could not fetch URL|ConnectTimeoutError")


def build_floor() -> str:
    """The lowest setuptools release pyproject.toml lets build kubecert, as pip names it: ``>=77`` is 77.0.x."""
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    [setuptools] = [r for r in requires if r.startswith("setuptools")]
    floor = re.fullmatch(r"setuptools>=([\d.]+)", setuptools)
    assert floor, f"the build requirement {setuptools!r} names no floor"
    major = floor.group(1).split(".")[0]
    return f"setuptools>={floor.group(1)},<{int(major) + 1}"


def _run(argv: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PIP_REQUIRE"))}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def venv(where: Path, *requirements: str) -> Path:
    """A fresh virtual environment at ``where`` with ``requirements`` installed; its bin folder."""
    made = _run([sys.executable, "-m", "venv", str(where)], where.parent)
    assert made.returncode == 0, made.stderr
    if requirements:
        pip = _run([str(where / "bin" / "python"), "-m", "pip", "install", "--quiet", *requirements], where.parent)
        if pip.returncode != 0 and _UNREACHABLE.search(pip.stderr) and os.environ.get("CI") != "true":
            pytest.skip(f"no package index to install {' '.join(requirements)} from")
        assert pip.returncode == 0, f"pip install {' '.join(requirements)}: {pip.stderr[-2000:]}"
    return where / "bin"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sdist and the wheel (built from the sdist), by the declared setuptools floor."""
    work = tmp_path_factory.mktemp("packaging")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    builder = venv(work / "builder", "build>=1.2", build_floor())
    dist = work / "dist"
    run = _run([str(builder / "python"), "-m", "build", "--no-isolation", "--outdir", str(dist), str(source)], work)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    [sdist] = dist.glob("*.tar.gz")
    [wheel] = dist.glob("*.whl")
    return sdist, wheel


def test_license_travels_in_sdist_and_wheel(built: tuple[Path, Path]) -> None:
    sdist, wheel = built
    license_text = (ROOT / "LICENSE").read_bytes()
    assert b"Apache License" in license_text and b"Version 2.0" in license_text
    with tarfile.open(sdist) as archive:
        [member] = [m for m in archive.getmembers() if m.name.endswith("/LICENSE") and m.name.count("/") == 1]
        handle = archive.extractfile(member)
        assert handle is not None and handle.read() == license_text
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        assert archive.read(name) == license_text
        [metadata] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        fields = archive.read(metadata).decode()
    assert "License-Expression: Apache-2.0" in fields and "License-File: LICENSE" in fields
    assert "Classifier: Typing :: Typed" in fields and "Classifier: License ::" not in fields


def test_the_core_install_checks_without_the_reference(
    built: tuple[Path, Path], tmp_path: Path, reference_copy: Path
) -> None:
    _, wheel = built
    core = venv(tmp_path / "core", str(wheel))
    kubecert = str(core / "kubecert")

    demo = _run([kubecert, "check", "--target", "reference", "--json", str(tmp_path / "demo.json")], tmp_path)
    assert demo.returncode != 0 and "'reference' extra" in demo.stderr, demo.stderr
    assert "Traceback" not in demo.stderr

    # The reference platform removed: the checker must not need a line of it.
    [site] = (tmp_path / "core" / "lib").glob("python3.*/site-packages")
    shutil.rmtree(site / "kubecert" / "reference")
    version = _run([kubecert, "--version"], tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("kubecert "), version.stderr
    rules = _run([kubecert, "rules"], tmp_path)
    assert rules.returncode == 0 and "KC-VAL-02" in rules.stdout, rules.stderr
    report = tmp_path / "node.json"
    check = _run([kubecert, "check", "--target", f"pki:{reference_copy / 'pki'}", "--profile", "palette",
                  "--json", str(report)], tmp_path)  # the session tree is the palette profile's
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]
    document = json.loads(report.read_text())
    assert document["results"] and document["summary"]["error"] == 0 and document["summary"]["failed"] == 0
