"""README's Installing section, run as written, and what an install without an extra tells its user.

The install tests copy the clone's build files into a temporary folder and run README's blocks there with
``sh -e`` (``python3`` is the interpreter running the tests), from pip's cache and the machine's indexes:
the core from the clone, then a wheel with every extra (the ``install`` marker: about a minute here). The
core install then checks a node folder on two xdist workers, and a run asked for targets whose extras it
lacks is refused in one message. The table of what needs which extra is held to the target registry.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kubecert.targets.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
BUILD_FILES = ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in")


def readme_block(name: str) -> str:
    text = (ROOT / "README.md").read_text()
    block = text.split(f"<!-- {name}:start -->", 1)[1].split(f"<!-- {name}:end -->", 1)[0]
    return block.split("```sh\n", 1)[1].split("```", 1)[0]


def _environment(bin_folder: Path) -> dict[str, str]:
    """The test's environment without its virtual environment, ``python3`` the interpreter running the tests."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PIP_REQUIRE"))}
    return {**kept, "PATH": f"{bin_folder}{os.pathsep}{kept.get('PATH', '')}", "NO_COLOR": "1"}


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A copy of the clone with README's clone block run in it; its folder and the environment it ran in."""
    root = tmp_path_factory.mktemp("clone")
    shutil.copytree(ROOT / "kubecert", root / "kubecert", ignore=shutil.ignore_patterns("__pycache__"))
    for name in BUILD_FILES:
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, root / name)
    interpreter = tmp_path_factory.mktemp("interpreter")
    (interpreter / "python3").symlink_to(sys.executable)
    env = _environment(interpreter)
    run = _run(["sh", "-e", "-c", readme_block("install-clone")], root, env)
    assert run.returncode == 0, f"README's clone install:\n{run.stdout[-3000:]}{run.stderr[-3000:]}"
    assert run.stdout.strip().splitlines()[-1].startswith("kubecert ")  # its last line: kubecert --version
    return root, env


def _results(report: Path) -> list[tuple[str, str, str]]:
    document = json.loads(report.read_text())
    return sorted((r["rule"], r["target"], r["status"]) for r in document["results"])


@pytest.mark.install
def test_the_core_install_checks_a_node_folder_on_two_workers(
    clone: tuple[Path, dict[str, str]], tmp_path: Path, reference_copy: Path
) -> None:
    root, env = clone
    kubecert = str(root / ".venv" / "bin" / "kubecert")
    target = ["--target", f"pki:{reference_copy / 'pki'}", "--profile", "palette"]  # the session tree's profile
    workers = _run([kubecert, "check", *target, "--output-dir", str(tmp_path / "two"), "--", "-n", "2"], tmp_path, env)
    assert workers.returncode == 0, workers.stdout[-3000:] + workers.stderr[-3000:]
    assert "Traceback" not in workers.stdout + workers.stderr
    one = _run([kubecert, "check", *target, "--output-dir", str(tmp_path / "one")], tmp_path, env)
    assert one.returncode == 0, one.stdout[-3000:] + one.stderr[-3000:]
    assert _results(tmp_path / "two" / "kubecert.json") == _results(tmp_path / "one" / "kubecert.json") != []


@pytest.mark.install
def test_the_core_install_names_every_missing_extra_in_one_message(
    clone: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    root, env = clone
    kubecert = str(root / ".venv" / "bin" / "kubecert")
    default = _run([kubecert, "check"], tmp_path, env)  # the whole reference: both extras
    assert default.returncode == 3, default.stdout + default.stderr
    said = default.stdout + default.stderr
    assert "Traceback" not in said and "INTERNALERROR" not in said
    [line] = [line for line in said.splitlines() if "extra" in line]
    assert re.search(r"reference:palette, reference:palette-in-place need kubecert's 'reference' extra "
                     r"\(fastapi, uvicorn, jsonschema not installed\); reference:cluster needs kubecert's 'cluster' "
                     r"extra \(kubernetes not installed\): pip install 'kubecert\[reference,cluster\]' \(from a clone "
                     r"of kubecert, in its folder: pip install '\.\[reference,cluster\]'\)", line), line
    assert not (tmp_path / "reports").exists()  # refused before any check: no report

    # A kind that asks the cluster for what it stands for (nodes=pods) is not asked without the client.
    kubeconfig = tmp_path / "admin.conf"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
                          "users: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
                          "current-context: x\n")
    pods = _run([kubecert, "check", "--target", f"kubeconfig:{kubeconfig}?nodes=pods", "--target", "reference:pki"],
                tmp_path, env)
    said = pods.stdout + pods.stderr
    assert pods.returncode == 3 and "Traceback" not in said and "INTERNALERROR" not in said, said
    assert f"kubeconfig:{kubeconfig}?nodes=pods needs kubecert's 'cluster' extra (kubernetes not installed)" in said


@pytest.mark.install
def test_the_wheel_block_installs_every_extra(clone: tuple[Path, dict[str, str]]) -> None:
    root, env = clone
    run = _run(["sh", "-e", "-c", readme_block("install-wheel")], root, env)
    assert run.returncode == 0, f"README's wheel install:\n{run.stdout[-3000:]}{run.stderr[-3000:]}"
    imports = _run([str(root / "kubecert-venv" / "bin" / "python"), "-c",
                    "import fastapi, uvicorn, jsonschema, kubernetes, trestle, prometheus_client, xdist"], root, env)
    assert imports.returncode == 0, imports.stderr


def _table_rows() -> list[tuple[list[str], set[str]]]:
    """README's table of what needs which extra: the target URIs of each row, and the extras it names."""
    text = (ROOT / "README.md").read_text().split("## Installing", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        what, needs = line.strip("|").rsplit("|", 1)
        uris = [span.split()[-1] for span in re.findall(r"`([^`]+)`", what)]  # `kubecert check --target URI`
        targets = [u for u in uris if re.match(r"(pki|palette|reference|kubeconfig|kind)(:|$)", u)]
        extras = set(re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", needs)))  # the packages in brackets left out
        rows.append((targets, extras))
    return rows


def test_the_install_table_says_what_each_target_kind_needs() -> None:
    registry = Registry()
    rows = _table_rows()
    assert len(rows) >= 8
    named = {uri for targets, _ in rows for uri in targets}
    for kind in registry.kinds():  # every built-in kind has its row
        assert any(uri.split(":", 1)[0] == kind.scheme for uri in named), kind.scheme
    for targets, extras in rows:
        for uri in targets:
            # reference stands for its parts; kind: and kubeconfig: would ask a cluster what they stand for
            concrete = registry.expand([uri]) if uri.startswith("reference") else [uri]
            needed = {extra for part in concrete if (extra := registry.kind_of(part).needed_extra(part))}
            assert needed == extras, f"README says {uri} needs {extras or 'none'}; the registry: {needed or 'none'}"


def test_every_missing_extra_is_named_in_one_error_and_a_long_list_is_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubecert import extras
    from kubecert.targets.errors import TargetError

    monkeypatch.setattr(extras, "EXTRAS", {"reference": ("kubecert_no_such_server",),
                                           "cluster": ("kubecert_no_such_client",)})
    registry = Registry()
    clusters = [f"kubeconfig:/c/{n}.conf" for n in range(extras.NAMED_AT_MOST + 2)]
    with pytest.raises(TargetError) as raised:
        registry.require_extras([*clusters, "reference:palette", "pki:/n/pki"])
    named = ", ".join(clusters[:extras.NAMED_AT_MOST])
    assert str(raised.value) == (
        f"{named} and 2 more need kubecert's 'cluster' extra (kubecert_no_such_client not installed); "
        "reference:palette needs kubecert's 'reference' extra (kubecert_no_such_server not installed): "
        "pip install 'kubecert[cluster,reference]' (from a clone of kubecert, in its folder: "
        "pip install '.[cluster,reference]')")
    registry.require_extras(["pki:/n/pki", "palette:https://api.example.com?cluster=c"])  # the core needs none
    # A kind that asks what a URI stands for through its extra does not ask without it: the run is refused instead.
    assert registry.expand(["kubeconfig:/c/a.conf?nodes=pods"]) == ["kubeconfig:/c/a.conf?nodes=pods"]
