"""What a command imports and which pytest plugins a check loads: the light commands import no heavy
library, a check of a node's folder no network client or server, and `kubecert check` no third-party
pytest plugin it was not asked for. Timing is benchmarks/bench_startup.py's business, not a test's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from kubecert.cli import asks_for_xdist, no_plugin_autoload
from kubecert.options import CHECK_OPTIONS, unique
from kubecert.reference.pki.faults import fault_names
from kubecert.rules import catalog
from kubecert.targets.registry import BUILTIN_KINDS

# Runs the command in a fresh interpreter, its output kept aside, then prints what it imported.
PROBE = """
import contextlib, io, sys
from kubecert.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:  # --help and --version end in argparse's exit
        code = exc.code
import json
print(json.dumps({"code": code, "printed": out.getvalue(), "modules": sorted(sys.modules)}))
"""
HEAVY = {"pytest", "_pytest", "requests", "cryptography", "fastapi", "uvicorn", "kubernetes", "yaml", "jinja2"}
NETWORK = {"requests", "urllib3", "httpx", "anyio", "kubernetes", "fastapi", "starlette", "uvicorn"}


def probe(*args: str, cwd: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    run = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                         check=False, env={**os.environ, **(env or {})})
    assert run.returncode == 0, run.stderr
    found: dict[str, Any] = json.loads(run.stdout.splitlines()[-1])
    found["packages"] = {name.partition(".")[0] for name in found["modules"]}
    return found


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["rules"], ["rules", "--json"], ["rules", "--markdown"]])
def test_the_light_commands_import_no_heavy_library(tmp_path: Path, args: list[str]) -> None:
    run = probe(*args, cwd=tmp_path)
    assert run["code"] == 0 and run["printed"]
    assert run["packages"] & HEAVY == set()


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_help_and_version_import_no_command(tmp_path: Path, args: list[str]) -> None:
    run = probe(*args, cwd=tmp_path)
    assert [name for name in run["modules"] if name.startswith("kubecert")] == [
        "kubecert", "kubecert._version", "kubecert.cli"]


def test_a_check_of_a_nodes_folder_imports_no_network_client_or_server(tmp_path: Path, reference_tree: Any) -> None:
    # No report option: every format is written, so their renderers are imported too.
    run = probe("check", "--target", f"pki:{reference_tree.root / 'pki'}", "--profile", "palette", "-q", cwd=tmp_path)
    assert run["code"] == 0, run["printed"]
    assert (tmp_path / "reports" / "kubecert.html").is_file()
    assert run["packages"] & NETWORK == set()
    assert not [name for name in run["modules"] if name.startswith(("kubecert.reference", "kubecert.targets.palette."))]


def test_a_check_of_a_nodes_folder_imports_only_the_rules_it_judges(tmp_path: Path, reference_tree: Any) -> None:
    # A family's module is imported for the checks that run its functions: not for the renewal rules a node without
    # renewal commands skips, nor the API's or the cluster's; neither are the contexts of actions and probes, the
    # API's model, or pytest's unittest support (the suite has no TestCase).
    run = probe("check", "--target", f"pki:{reference_tree.root / 'pki'}", "--profile", "palette", "-q",
                "--json", "r.json", cwd=tmp_path)
    assert run["code"] == 0, run["printed"]
    results = json.loads((tmp_path / "r.json").read_text())["results"]
    judged = {catalog.get(result["rule"]).family for result in results if result["status"] in ("passed", "failed")}
    families = {rule.family for rule in catalog.all_rules()}
    imported = {name.split(".")[2] for name in run["modules"] if name.startswith("kubecert.rules.")} & families
    assert "renewal" not in judged and imported == judged
    assert not {"kubecert.contexts.api", "kubecert.contexts.cluster", "kubecert.contexts.node",
                "kubecert.inventory.platform", "unittest"} & set(run["modules"])


def test_a_check_is_selected_by_its_functions_name(tmp_path: Path, reference_tree: Any) -> None:
    # The name is found by importing the rule's family, which a run without -k does not do for a skipped rule.
    run = probe("check", "--target", f"pki:{reference_tree.root / 'pki'}", "--profile", "palette", "-q",
                "--json", "r.json", "--", "-k", "cas_kept or leaf_validity", cwd=tmp_path)
    assert run["code"] == 0, run["printed"]
    results = json.loads((tmp_path / "r.json").read_text())["results"]
    assert {result["rule"] for result in results} == {"KC-VAL-01", "KC-REN-01"}


SEES_FREEZE = """
    import gc, os

    def pytest_runtest_call(item):
        with open(os.environ["FROZEN_FILE"], "a") as out:
            out.write(f"{gc.get_freeze_count()}\\n")
"""


def test_start_ups_objects_are_set_aside_from_garbage_collection_while_checks_run(tmp_path: Path,
                                                                                   reference_tree: Any) -> None:
    # pytest collects garbage after the run; walking every module and class start-up made cost more than the
    # checks of a node. The command gives them back after the run: it may run inside a process that goes on.
    (tmp_path / "sees_freeze.py").write_text(textwrap.dedent(SEES_FREEZE))
    seen = tmp_path / "frozen.txt"
    code = textwrap.dedent("""
        import gc, sys
        from kubecert.cli import main
        code = main(sys.argv[1:])
        print(code, gc.get_freeze_count())
    """)
    run = subprocess.run([sys.executable, "-c", code, "check", "--plugin", "sees_freeze", "--target",
                          f"pki:{reference_tree.root / 'pki'}", "--profile", "palette", "-q", "--json", "r.json"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path]),
                              "FROZEN_FILE": str(seen)})
    assert run.stdout.splitlines()[-1:] == ["0 0"], run.stdout + run.stderr
    during = [int(count) for count in seen.read_text().split()]
    assert during and min(during) > 10_000  # every module kubecert and pytest imported, and the items


def test_subcommand_help_lists_every_option_with_its_help(tmp_path: Path) -> None:
    wide = {"COLUMNS": "1000"}  # one line per option, so that each help text reads whole
    check = probe("check", "--help", cwd=tmp_path, env=wide)["printed"]
    for option in unique([*CHECK_OPTIONS, *(o for kind in BUILTIN_KINDS for o in kind.options)]):
        assert f"--{option.name}" in check and option.help in check, option.name
    init = probe("reference", "pki", "init", "--help", cwd=tmp_path, env=wide)["printed"]
    assert f"plant a named fault after init; repeatable: {', '.join(fault_names())}" in init


LIST_PLUGINS = """
    import json, os, types

    def pytest_configure(config):
        if hasattr(config, "workerinput"):
            return
        modules = {plugin.__name__ if isinstance(plugin, types.ModuleType) else type(plugin).__module__
                   for _, plugin in config.pluginmanager.list_name_plugin() if plugin is not None}
        with open(os.environ["PLUGINS_FILE"], "w") as out:
            json.dump(sorted({module.partition(".")[0] for module in modules}), out)
"""


@pytest.mark.parametrize(("pytest_args", "third_party"), [([], set()), (["--", "-n", "2"], {"xdist"})])
def test_a_check_loads_no_third_party_plugin_unless_asked(tmp_path: Path, reference_tree: Any,
                                                         pytest_args: list[str], third_party: set[str]) -> None:
    (tmp_path / "list_plugins.py").write_text(textwrap.dedent(LIST_PLUGINS))
    listing = tmp_path / "plugins.json"
    env = {"PYTHONPATH": str(tmp_path), "PLUGINS_FILE": str(listing)}
    run = probe("check", "--plugin", "list_plugins", "--target", f"pki:{reference_tree.root / 'pki'}",
                "--profile", "palette", "--json", "r.json", *pytest_args, cwd=tmp_path, env=env)
    assert run["code"] == 0, run["printed"]
    # pytest's own plugins, kubecert's, the one that lists them, and what the command line asked for.
    assert set(json.loads(listing.read_text())) == {"_pytest", "kubecert", "list_plugins", *third_party}


@pytest.mark.parametrize(("words", "asks"), [
    (["-n", "2"], True), (["-nauto"], True), (["--numprocesses=4"], True), (["--dist", "load"], True),
    (["-q", "--tb=short"], False), (["--no-header"], False), (["-p", "xdist"], False),
])
def test_xdist_is_loaded_when_the_arguments_ask_for_workers(words: list[str], asks: bool) -> None:
    # -p xdist loads it by itself.
    assert asks_for_xdist(words) is asks


@pytest.mark.parametrize("before", [None, "", "yes"])
def test_the_autoload_switch_is_restored_after_the_run(monkeypatch: pytest.MonkeyPatch, before: str | None) -> None:
    if before is None:
        monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    else:
        monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", before)
    with no_plugin_autoload():
        assert os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] == "1"
    assert os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD") == before
