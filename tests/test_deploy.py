"""What runs kubecert past one machine (deploy/): the image definition and the Kubernetes manifests.

Neither can run here (no container daemon, no cluster), so what can be known without running them is
checked: every manifest against the Kubernetes API's own schema (kubernetes-validate ships it per version,
nothing is downloaded), what the schema cannot say (the shard count is the Job's completions, the inventory
is the ConfigMap's mounted file, no credential in the arguments, the pods' security, the CronJobs run the
Jobs' specs unchanged and in order), the merge step's script against real reports, and the Containerfile
against the repository and pyproject.toml.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from packaging.specifiers import SpecifierSet

from kubecert._version import __version__
from kubecert.profiles import AUTO, BUILTIN
from kubecert.targets.palette import DEFAULT_KEY_ENV
from kubecert.targets.registry import BUILTIN_KINDS

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
MANIFESTS = DEPLOY / "kubernetes"
CONTAINERFILE = DEPLOY / "Containerfile"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# The oldest Kubernetes on which everything the manifests use is stable (backoffLimitPerIndex and the
# FailIndex action: 1.33), and the newest the installed kubernetes-validate knows.
FLOOR = "1.33"
VERSIONS = sorted({FLOOR, kubernetes_validate.utils.major_minor(kubernetes_validate.latest_version())})
CHECK, MERGE = "kubecert-fleet", "kubecert-fleet-merge"  # the Jobs' names, and their CronJobs'
INDEX_VARIABLE = "JOB_COMPLETION_INDEX"  # set by the Job controller in every container of an Indexed Job


def manifest_documents() -> list[tuple[Path, int, dict[str, Any]]]:
    found = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for number, document in enumerate(yaml.safe_load_all(path.read_text())):
            if document is not None:
                found.append((path, number, document))
    return found


DOCUMENTS = manifest_documents()


def objects(kind: str) -> list[dict[str, Any]]:
    return [document for _, _, document in DOCUMENTS if document["kind"] == kind]


def named(kind: str, name: str) -> dict[str, Any]:
    [found] = [o for o in objects(kind) if o["metadata"]["name"] == name]
    return found


def job_spec(kind: str, name: str) -> dict[str, Any]:
    workload = named(kind, name)
    spec: dict[str, Any] = workload["spec"] if kind == "Job" else workload["spec"]["jobTemplate"]["spec"]
    return spec


def job_specs() -> list[tuple[str, dict[str, Any]]]:
    """Every Job spec of the manifests, the CronJobs' included, with where it is."""
    specs = [(f"Job/{o['metadata']['name']}", o["spec"]) for o in objects("Job")]
    return specs + [(f"CronJob/{o['metadata']['name']}", o["spec"]["jobTemplate"]["spec"]) for o in objects("CronJob")]


def container(spec: dict[str, Any]) -> dict[str, Any]:
    [only] = spec["template"]["spec"]["containers"]
    return only


def option(args: list[str], name: str) -> str:
    """The value given to ``name`` in ``args``; it must be given once."""
    places = [i for i, word in enumerate(args) if word == name]
    assert len(places) == 1, f"{name} must be given once in {args}"
    return args[places[0] + 1]


def mounts(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The volumes of a Job's pod by the path the container mounts them at."""
    volumes = {volume["name"]: volume for volume in spec["template"]["spec"].get("volumes", [])}
    return {mount["mountPath"]: volumes[mount["name"]] for mount in container(spec).get("volumeMounts", [])}


def inventory_file() -> tuple[Path, dict[str, Any]]:
    """The path the fleet Job's --inventory names, and the ConfigMap mounted where it points."""
    spec = job_spec("Job", CHECK)
    path = Path(option(container(spec)["args"], "--inventory"))
    volume = mounts(spec)[str(path.parent)]
    return path, named("ConfigMap", volume["configMap"]["name"])


def inventory() -> dict[str, Any]:
    path, configmap = inventory_file()
    loaded: dict[str, Any] = yaml.safe_load(configmap["data"][path.name])
    return loaded


# ---------------------------------------------------------------- the Kubernetes schema


def test_kubernetes_validate_ships_the_versions_checked_against() -> None:
    shipped = {kubernetes_validate.utils.major_minor(v) for v in kubernetes_validate.utils.all_versions()}
    assert FLOOR in shipped, f"kubernetes-validate no longer ships Kubernetes {FLOOR}'s schema: raise FLOOR"
    assert {"Job", "CronJob", "ConfigMap", "PersistentVolumeClaim", "Namespace"} <= {d["kind"] for *_, d in DOCUMENTS}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("path", "number", "document"), DOCUMENTS,
                         ids=[f"{p.name}#{n}-{d['kind']}" for p, n, d in DOCUMENTS])
def test_every_manifest_validates_strictly(path: Path, number: int, document: dict[str, Any], version: str) -> None:
    # Strict: a field the API does not know (a typo, or one from another version) fails too. A kind the
    # schema lacks raises SchemaNotFoundError, which fails the test as well.
    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(part) for part in exc.path)
        problem = f"{path.name} document {number} ({document['kind']}), Kubernetes {version}: {where}: {exc.message}"
    else:
        return
    pytest.fail(problem)  # outside the handler: the schema itself is not worth printing


# ---------------------------------------------------------------- what the schema cannot say


def test_the_fleet_job_is_indexed_and_shards_the_inventory_into_completions_parts() -> None:
    spec = job_spec("Job", CHECK)
    assert spec["completionMode"] == "Indexed"
    count = spec["completions"]
    assert 1 <= spec["parallelism"] <= count
    fleet = container(spec)
    assert "command" not in fleet, "the image's entry point, kubecert, runs the check"
    args = fleet["args"]
    assert args[0] == "check" and "--fleet" in args
    assert option(args, "--shard") == f"$({INDEX_VARIABLE})/{count}"
    assert option(args, "--output-dir") == f"/reports/shard-$({INDEX_VARIABLE})"


def test_the_inventory_is_the_configmaps_file_as_mounted() -> None:
    path, configmap = inventory_file()
    assert path.name in configmap["data"]
    assert isinstance(inventory()["targets"], list) and inventory()["targets"]


def test_the_inventorys_targets_are_ones_the_image_can_check() -> None:
    path, configmap = inventory_file()
    schemes = {kind.scheme for kind in BUILTIN_KINDS} - {"reference", "kind"}  # nothing to reach from a pod
    paths = list(mounts(job_spec("Job", CHECK)))
    for item in inventory()["targets"]:
        entry = {"target": item} if isinstance(item, str) else item
        assert isinstance(entry, dict) and set(entry) <= {"target", "profile"} and isinstance(entry["target"], str)
        scheme, _, rest = entry["target"].partition(":")
        assert scheme in schemes, entry
        if scheme in ("pki", "kubeconfig"):  # a file of the pod: it must be on a volume
            file = rest.partition("?")[0]
            assert any(file.startswith(f"{mount}/") for mount in paths), f"{file} is on no volume of the pod"
        profile = entry.get("profile", AUTO)
        if profile not in {AUTO, *BUILTIN}:  # a profile file: another key of the inventory's ConfigMap
            assert str(Path(profile).parent) == str(path.parent) and Path(profile).name in configmap["data"], profile


def test_no_credential_reaches_the_arguments() -> None:
    for where, spec in job_specs():
        each = container(spec)
        env = {variable["name"]: variable for variable in each.get("env", [])}
        words = [*each.get("command", []), *each.get("args", [])]
        referenced = {name for word in words for name in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", word)}
        assert referenced <= {INDEX_VARIABLE, *env}, f"{where}: {referenced - {INDEX_VARIABLE, *env}} is not set"
        for name in referenced & set(env):
            assert "secretKeyRef" not in env[name].get("valueFrom", {}), f"{where}: the secret {name} is in the args"
        for name, variable in env.items():
            assert "value" not in variable or not re.search(r"key|token|password|secret", name, re.I), (where, name)
            if "secretKeyRef" in variable.get("valueFrom", {}):
                assert not any(name in word for word in words), f"{where}: the args read {name}"
        assert not any(re.match(r"--api-key(=|$)", word) for word in words), where
    # The Palette API key is where kubecert looks for it when no --api-key-env is given.
    env = {v["name"]: v for v in container(job_spec("Job", CHECK))["env"]}
    assert "secretKeyRef" in env[DEFAULT_KEY_ENV]["valueFrom"]


def test_every_pod_runs_non_root_read_only_without_capabilities_or_token() -> None:
    for where, spec in job_specs():
        pod = spec["template"]["spec"]
        assert pod["restartPolicy"] == "Never", where
        assert pod["automountServiceAccountToken"] is False, where
        security = pod["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] != 0, where
        assert security["seccompProfile"]["type"] == "RuntimeDefault", where
        each = container(spec)
        own = each["securityContext"]
        assert own["readOnlyRootFilesystem"] is True and own["allowPrivilegeEscalation"] is False, where
        assert own["capabilities"] == {"drop": ["ALL"]}, where
        assert "privileged" not in own and "runAsUser" not in own, where
        # With the root read-only, what kubecert writes (reports, temporary files) must be volumes.
        assert {"/reports", "/tmp"} <= set(mounts(spec)), where
        for path, volume in mounts(spec).items():
            if "configMap" in volume or "secret" in volume:
                assert any(m["mountPath"] == path and m.get("readOnly") for m in each["volumeMounts"]), (where, path)


def test_every_job_is_bounded_in_time_retries_and_resources() -> None:
    for where, spec in job_specs():
        assert spec["activeDeadlineSeconds"] > 0 and spec["ttlSecondsAfterFinished"] > 0, where
        assert "backoffLimitPerIndex" in spec or "backoffLimit" in spec, where
        resources = container(spec)["resources"]
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources[kind]), (where, kind)


def test_a_failed_rule_ends_its_shard_without_a_retry_and_a_crash_is_retried() -> None:
    spec = job_spec("Job", CHECK)
    rules = spec["podFailurePolicy"]["rules"]
    on_exit = [rule for rule in rules if "onExitCodes" in rule]
    [fail_index] = [rule for rule in on_exit if rule["action"] == "FailIndex"]
    codes = fail_index["onExitCodes"]
    assert codes["operator"] == "In" and 1 in codes["values"] and 2 not in codes["values"]
    for rule in on_exit:
        values = rule["onExitCodes"]["values"]
        # What the API server checks and the schema does not: sorted, unique, and no 0 with In.
        assert values == sorted(set(values)) and 0 not in values, rule
        assert rule["onExitCodes"]["containerName"] == container(spec)["name"], rule
    assert spec["backoffLimitPerIndex"] >= 1  # FailIndex needs it; a crash is retried that often
    assert spec["template"]["spec"]["restartPolicy"] == "Never"  # podFailurePolicy needs it


@pytest.mark.parametrize("name", [CHECK, MERGE])
def test_each_cronjob_runs_its_jobs_spec_unchanged(name: str) -> None:
    assert job_spec("CronJob", name) == job_spec("Job", name), f"change the Job and the CronJob {name} alike"


def _minute_of_day(cronjob: dict[str, Any]) -> int:
    minute, hour, *rest = cronjob["spec"]["schedule"].split()
    assert rest == ["*", "*", "*"] and minute.isdigit() and hour.isdigit(), "daily schedules only: extend this test"
    return int(hour) * 60 + int(minute)


def test_the_scheduled_merge_starts_after_the_scheduled_check_has_ended() -> None:
    check, merge = named("CronJob", CHECK), named("CronJob", MERGE)
    assert check["spec"]["timeZone"] == merge["spec"]["timeZone"]
    assert check["spec"]["concurrencyPolicy"] == merge["spec"]["concurrencyPolicy"] == "Forbid"
    latest_end = (check["spec"]["startingDeadlineSeconds"] + job_spec("CronJob", CHECK)["activeDeadlineSeconds"]) / 60
    assert _minute_of_day(check) + latest_end <= _minute_of_day(merge) < 24 * 60


def merge_script() -> str:
    merging = container(job_spec("Job", MERGE))
    assert merging["command"] == ["/bin/sh", "-c"], "the shell expands the shards' glob"
    [script] = merging["args"]
    assert isinstance(script, str)
    return script


def test_the_merge_reads_every_shards_report_from_the_same_claim() -> None:
    check, merge = job_spec("Job", CHECK), job_spec("Job", MERGE)
    assert mounts(check)["/reports"] == mounts(merge)["/reports"]
    words = shlex.split(merge_script().splitlines()[0])
    assert words[:3] == ["kubecert", "report", "merge"]
    pattern = words[3]
    folder = option(container(check)["args"], "--output-dir")
    for index in range(check["completions"]):
        assert fnmatch.fnmatchcase(folder.replace(f"$({INDEX_VARIABLE})", str(index)) + "/kubecert.json", pattern)
    assert not fnmatch.fnmatchcase(option(words, "--output-dir") + "/kubecert.json", pattern)


def test_every_reference_between_the_manifests_resolves() -> None:
    [namespace] = objects("Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for _, _, document in DOCUMENTS:
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == namespace["metadata"]["name"], document["metadata"]
    for where, spec in job_specs():
        pod = spec["template"]["spec"]
        volumes = {volume["name"] for volume in pod["volumes"]}
        assert {m["name"] for m in container(spec)["volumeMounts"]} <= volumes, where
        assert len(volumes) == len(pod["volumes"]), where
        for volume in pod["volumes"]:
            if "persistentVolumeClaim" in volume:
                named("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
            if "configMap" in volume:
                named("ConfigMap", volume["configMap"]["name"])


def test_every_pod_runs_the_image_of_this_version_as_the_images_user() -> None:
    user = _image_user()
    for where, spec in job_specs():
        image = container(spec)["image"]
        assert image.rpartition(":")[2] == __version__, f"{where}: {image} is not kubecert {__version__}'s image"
        security = spec["template"]["spec"]["securityContext"]
        assert f"{security['runAsUser']}:{security['runAsGroup']}" == user, where
    assert len({container(spec)["image"] for _, spec in job_specs()}) == 1


def test_the_merge_step_merges_the_shards_and_sets_them_aside(tmp_path: Path, reference_tree: Any,
                                                              reference_copy: Path) -> None:
    reports = tmp_path / "reports"
    script = merge_script().replace("/reports", str(reports))
    environment = {**os.environ, "NO_COLOR": "1",
                   "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}

    def run(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300,
                              check=False)

    # Two shards, each a target judged by a profile it fails (exit 1: a result, and the merge's too).
    for index, tree in enumerate((reference_tree.root, reference_copy)):
        shard = run(sys.executable, "-m", "kubecert", "check", "--target", f"pki:{tree / 'pki'}",
                    "--profile", "kubeadm", "-q", "--output-dir", str(reports / f"shard-{index}"))
        assert shard.returncode == 1, shard.stdout + shard.stderr
    merged = run("/bin/sh", "-c", script)
    assert merged.returncode == 1, merged.stdout + merged.stderr
    fleet = json.loads((reports / "fleet" / "kubecert.json").read_text())
    assert len(fleet["targets"]) == 2
    assert sorted(p.name for p in reports.iterdir()) == ["fleet"]
    assert sorted(p.name for p in (reports / "fleet" / "shards").iterdir()) == ["shard-0", "shard-1"]

    # The next run: only shard 1 ran. Today's shard 0 is not merged again.
    shutil.copytree(reports / "fleet" / "shards" / "shard-1", reports / "shard-1")
    merged = run("/bin/sh", "-c", script)
    assert merged.returncode == 1, merged.stdout + merged.stderr
    fleet = json.loads((reports / "fleet" / "kubecert.json").read_text())
    assert [t["id"] for t in fleet["targets"]] == [t["id"] for t in json.loads(
        (reports / "fleet" / "shards" / "shard-1" / "kubecert.json").read_text())["targets"]]
    assert sorted(p.name for p in (reports / "fleet" / "shards").iterdir()) == ["shard-1"]

    # No shard at all: nothing is merged, and the fleet's last reports stay.
    merged = run("/bin/sh", "-c", script)
    assert merged.returncode == 3, merged.stdout + merged.stderr
    assert (reports / "fleet" / "kubecert.json").is_file() and (reports / "fleet" / "shards" / "shard-1").is_dir()


def test_the_fleet_doc_names_files_that_exist() -> None:
    text = (ROOT / "docs" / "fleet.md").read_text()
    named_files = set(re.findall(r"deploy/[\w./-]+", text))
    assert {f"deploy/kubernetes/{p.name}" for p in MANIFESTS.glob("*.yaml")} <= named_files
    for name in named_files:
        assert (ROOT / name.rstrip(".")).exists(), name


# ---------------------------------------------------------------- the Containerfile


def containerfile_instructions() -> list[tuple[str, str]]:
    """The Containerfile's instructions as (KEYWORD, arguments), continued lines joined, comments left out."""
    found: list[tuple[str, str]] = []
    pending = ""
    for line in CONTAINERFILE.read_text().splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        keyword, _, arguments = (pending + text).partition(" ")
        found.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "the Containerfile ends inside an instruction"
    return found


def final_stage() -> list[tuple[str, str]]:
    instructions = containerfile_instructions()
    last = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last:]


def _image_user() -> str:
    users = [arguments for keyword, arguments in final_stage() if keyword == "USER"]
    assert users, "the image must name its user"
    return users[-1]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore leaves ``path`` out of the build context: the last pattern that matches it or
    a folder above it decides (the subset of the syntax .dockerignore uses here: globs, **/ and !)."""
    prefixes = ["/".join(path.split("/")[:n]) for n in range(1, path.count("/") + 2)]
    left_out = False
    for pattern in patterns:
        body = pattern.removeprefix("!").strip("/")
        forms = [body, body.removeprefix("**/")]
        if any(fnmatch.fnmatchcase(prefix, form) for prefix in prefixes for form in forms):
            left_out = not pattern.startswith("!")
    return left_out


def test_the_containerfile_copies_files_of_the_repository_that_the_context_holds() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    copied = []
    for keyword, arguments in containerfile_instructions():
        if keyword in ("COPY", "ADD"):
            words = shlex.split(arguments)
            if any(word.startswith("--from=") for word in words):
                continue  # from an earlier stage
            sources = [word for word in words if not word.startswith("--")][:-1]
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
                assert not _ignored(source.rstrip("/"), patterns), f"COPY {source}: .dockerignore leaves it out"
            copied += sources
    # What `pip install .` reads: the project's metadata, its readme and the package.
    assert {"pyproject.toml", PYPROJECT["project"]["readme"], "kubecert"} <= {s.rstrip("/") for s in copied}


def test_the_containerfile_entrypoint_is_the_kubecert_console_script() -> None:
    [entrypoint] = [arguments for keyword, arguments in final_stage() if keyword == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["kubecert"]
    assert "kubecert" in PYPROJECT["project"]["scripts"]
    assert not any(keyword == "HEALTHCHECK" for keyword, _ in containerfile_instructions())


def test_the_containerfile_installs_the_extras_the_fleets_targets_need() -> None:
    runs = " ".join(arguments for keyword, arguments in containerfile_instructions() if keyword == "RUN")
    installs = re.findall(r"pip install '\.\[([a-z,-]+)\]'", runs)
    assert len(installs) == 1, "one install of the checkout, with its extras"
    extras = set(installs[0].split(","))
    assert extras <= set(PYPROJECT["project"]["optional-dependencies"])
    assert "reports" in extras  # every report format: OSCAL and OpenMetrics
    kinds = {kind.scheme: kind for kind in BUILTIN_KINDS}
    for uri in ("pki:/etc/kubernetes/pki", "palette:https://api.example.com?cluster=c", "kubeconfig:/k.conf"):
        needed = kinds[uri.partition(":")[0]].needed_extra(uri)
        assert needed is None or needed in extras, uri


def test_an_installed_package_holds_every_data_file_the_package_reads() -> None:
    # The image installs a wheel, not the checkout: a file the package-data globs miss (the report's JSON
    # Schema once) is there in an editable install and absent from the image.
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["kubecert"]
    package = ROOT / "kubecert"
    for path in package.rglob("*"):
        if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        relative = str(path.relative_to(package))
        forms = {form for pattern in patterns for form in (pattern, pattern.removeprefix("**/"))}
        assert any(fnmatch.fnmatchcase(relative, form) for form in forms), f"kubecert/{relative}: not in package-data"


def test_the_containerfile_runs_python_kubecert_supports_as_a_numeric_non_root_user() -> None:
    bases = [arguments.split()[0] for keyword, arguments in containerfile_instructions() if keyword == "FROM"]
    assert bases[-1] == "python:3.12-slim" and set(bases) == {"python:3.12-slim"}
    assert SpecifierSet(PYPROJECT["project"]["requires-python"]).contains(bases[-1].split(":")[1].split("-")[0])
    user, _, group = _image_user().partition(":")
    # Numeric, so that Kubernetes can verify runAsNonRoot from the image alone.
    assert user.isdigit() and int(user) != 0 and (not group or int(group) != 0)
    volumes = [arguments for keyword, arguments in final_stage() if keyword == "VOLUME"]
    assert any("/reports" in json.loads(volume) for volume in volumes)


def test_the_shards_the_job_runs_check_every_target_once_and_merge_into_the_whole(
    tmp_path: Path, reference_tree: Any, reference_worker: Any
) -> None:
    """The Job's own arguments, run as its pods run them (one per completion index, the inventory and the
    claim where this test keeps them): every target of the inventory is checked by exactly one shard, and
    the merge step's script joins them into the results of one run over the whole inventory."""
    spec = job_spec("Job", CHECK)
    args = container(spec)["args"]
    count = spec["completions"]
    trees = [reference_tree.root, reference_worker.root]
    copies = []
    for n in range(count + 1):  # one folder per target (a folder named twice is checked once); one shard has two
        copy = tmp_path / "nodes" / f"node-{n}"
        shutil.copytree(trees[n % 2], copy, symlinks=True, copy_function=shutil.copy2)
        copies.append(f"pki:{copy / 'pki'}")
    local_inventory = tmp_path / "fleet.yaml"
    local_inventory.write_text("targets:\n" + "".join(f"  - {uri}\n" for uri in copies))
    mounted, _ = inventory_file()
    reports = tmp_path / "reports"
    for index in range(count):
        shard_args = [a.replace(f"$({INDEX_VARIABLE})", str(index)).replace(str(mounted), str(local_inventory))
                      .replace("/reports", str(reports)) for a in args]
        run = subprocess.run([sys.executable, "-m", "kubecert", *shard_args, "--profile", "palette"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=300, check=False)
        assert run.returncode == 0, run.stdout + run.stderr
    shards = [json.loads((reports / f"shard-{i}" / "kubecert.json").read_text()) for i in range(count)]
    checked = [t["id"] for shard in shards for t in shard["targets"]]
    assert sorted(checked) == sorted(copies)  # each once
    merged = subprocess.run(["/bin/sh", "-c", merge_script().replace("/reports", str(reports))], cwd=tmp_path,
                            env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                                                        f"{os.environ.get('PATH', '')}"},
                            capture_output=True, text=True, timeout=300, check=False)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    whole = subprocess.run([sys.executable, "-m", "kubecert", "check", "-q", "--inventory", str(local_inventory),
                            "--profile", "palette", "--json", str(tmp_path / "whole.json")], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300, check=False)
    assert whole.returncode == 0, whole.stdout + whole.stderr

    def judged(report: dict[str, Any]) -> list[tuple[str, str, str]]:
        return sorted((r["rule"], r["target"], r["status"]) for r in report["results"])

    fleet = json.loads((reports / "fleet" / "kubecert.json").read_text())
    assert judged(fleet) == judged(json.loads((tmp_path / "whole.json").read_text()))
