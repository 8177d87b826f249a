"""The CI examples (docs/ci) and the node check they start (deploy/node) hold the properties a security
reviewer asks of a job beside the CA keys: protected triggers only, no root but one fixed command, reports
outside the checkout, no secret in a command; the systemd unit hardened; the node CronJob root without
capability, read-only but its reports. None can run here as deployed (no runner, no cluster, no systemd
as init), so the files are parsed and their properties checked; systemd-analyze, where installed, verifies
the units and scores their exposure offline.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import audit
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CI = ROOT / "docs" / "ci"
NODE = ROOT / "deploy" / "node"
SERVICE = "kubecert-check.service"
PKI = "/etc/kubernetes/pki"
REPORTS = "/var/lib/kubecert"  # the service's StateDirectory, never a checkout
BASELINE = "/etc/kubecert/kubecert-baseline.json"


def sudo_commands() -> list[str]:
    """The commands kubecert.sudoers lets a runner run as root."""
    found = []
    for line in (NODE / "kubecert.sudoers").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            found.append(line.split("NOPASSWD:", 1)[1].strip())
    return found


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A systemd unit file: section → key → every value given (systemd lets a key repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in (NODE / name).read_text().splitlines():
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[] "), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def shell_lines(script: str) -> list[str]:
    return [line.strip() for line in script.splitlines() if line.strip()]


def check_script_lines(lines: list[str]) -> None:
    """What a job on a control-plane runner may run: root only through the sudo rule, kubecert never itself."""
    allowed = sudo_commands()
    for line in lines:
        for match in re.finditer(r"\bsudo\b(.*?)(?:\|\||&&|;|$)", line):
            command = match.group(1).strip().removeprefix("-n ").strip()
            assert command in allowed, f"sudo without a command the sudo rule scopes: {line}"
        assert not re.search(r"(^|[;&|]\s*)(\S*/)?kubecert\s", line), f"kubecert run by the runner itself: {line}"
        assert "secrets." not in line and "set -x" not in line, f"a secret may be echoed: {line}"


def test_the_sudo_rule_allows_one_fixed_command() -> None:
    [command] = sudo_commands()
    argv = shlex.split(command)
    assert argv == ["/usr/bin/systemctl", "start", "--wait", SERVICE]  # no wildcard, no argument a runner chooses
    if shutil.which("visudo"):
        checked = subprocess.run(["visudo", "-cf", str(NODE / "kubecert.sudoers")], capture_output=True, text=True,
                                 timeout=60, check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_github_workflow_runs_only_protected_triggers_without_root() -> None:
    workflow = yaml.safe_load((CI / "github-actions.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) <= {"schedule", "workflow_dispatch"}, f"a trigger anyone who pushes can fire: {triggers}"
    assert workflow["permissions"] == {"contents": "read"}
    for name, job in workflow["jobs"].items():
        assert "self-hosted" in job["runs-on"]
        assert job.get("environment"), f"{name}: no protected environment (required reviewers)"
        assert "refs/heads/" in job.get("if", ""), f"{name}: runs for any branch a dispatch names"
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout"):
                assert step["with"]["persist-credentials"] is False
            check_script_lines(shell_lines(step.get("run", "")))
        reports = job["env"]["REPORTS"]
        assert reports.startswith("${{ runner.temp }}/"), "the reports' copy must not be in the checkout"
        uploads = [s["with"]["path"] for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
        assert uploads == ["${{ env.REPORTS }}"]
    assert "sudo -n /usr/bin/systemctl start --wait kubecert-check.service" in (CI / "github-actions.yml").read_text()


def test_the_gitlab_job_runs_protected_on_the_host_without_root() -> None:
    jobs = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    job = jobs["kubecert"]
    assert "image" not in job and "services" not in job, "a job's container cannot see the host's /etc/kubernetes"
    assert job["environment"]["name"]
    for rule in job["rules"]:
        assert '$CI_COMMIT_REF_PROTECTED == "true"' in rule["if"], rule
        assert re.search(r'\$CI_PIPELINE_SOURCE == "(schedule|web)"', rule["if"]), rule
    check_script_lines([line for entry in job["script"] for line in shell_lines(entry)])
    assert any("sudo -n /usr/bin/systemctl start --wait kubecert-check.service" in e for e in job["script"])
    assert all(not path.startswith(("/", "..")) for path in job["artifacts"]["paths"])


def test_the_service_is_root_without_capabilities_network_or_a_writable_file_system() -> None:
    service = unit(SERVICE)["Service"]
    one = {key: values[-1] for key, values in service.items()}
    assert one["Type"] == "oneshot" and one["User"] == "root"
    hardening = {"ProtectSystem": "strict", "NoNewPrivileges": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
                 "ProtectHome": "yes", "PrivateNetwork": "yes", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
                 "RestrictSUIDSGID": "yes", "StateDirectory": "kubecert"}
    for key, value in hardening.items():
        assert one.get(key) == value, f"{key}={one.get(key)!r}, expected {value!r}"
    assert {"/etc/kubernetes", "/var/lib/kubelet"} <= set(one["ReadOnlyPaths"].split())
    assert "ReadWritePaths" not in service  # the StateDirectory is the one writable place
    assert one["TimeoutStartSec"]
    argv = shlex.split(one["ExecStart"])
    assert argv[:2] == ["/opt/kubecert/bin/kubecert", "check"]
    assert argv[argv.index("--target") + 1] == f"pki:{PKI}"
    assert argv[argv.index("--baseline") + 1] == BASELINE
    assert argv[argv.index("--output-dir") + 1].startswith(REPORTS + "/")


def test_the_services_command_checks_a_node_writing_nothing_but_its_reports(tmp_path: Path,
                                                                           reference_copy: Path) -> None:
    """The unit's own command line, its paths moved into the test's folder: with a baseline of today's
    failures it exits 0, under the audit guard it writes only into its reports folder and starts nothing."""
    first = tmp_path / "first"
    run, _ = audit.run_audited(["check", "--target", f"pki:{reference_copy / 'pki'}", "--output-dir", str(first)],
                               cwd=tmp_path)
    assert run.returncode in (0, 1), run.stdout[-3000:] + run.stderr[-3000:]
    baseline = tmp_path / "etc" / "kubecert-baseline.json"
    baseline.parent.mkdir()
    written, _ = audit.run_audited(["baseline", "write", str(baseline), "--report", str(first / "kubecert.json")],
                                   cwd=tmp_path)
    assert written.returncode == 0, written.stdout + written.stderr
    state = tmp_path / "state"
    state.mkdir()
    one = {key: values[-1] for key, values in unit(SERVICE)["Service"].items()}
    argv = [arg.replace(PKI, str(reference_copy / "pki")).replace(BASELINE, str(baseline)).replace(REPORTS, str(state))
            for arg in shlex.split(one["ExecStart"])[1:]]
    run, seen = audit.run_audited(argv, cwd=state, env={"NO_COLOR": "1"})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert (state / "reports" / "kubecert.json").is_file()
    assert seen.writes_outside([state]) == [] and seen.processes_besides([]) == []


def test_the_timer_starts_the_service_daily_and_catches_up() -> None:
    timer = unit("kubecert-check.timer")
    assert timer["Timer"]["Unit"] == [SERVICE] and timer["Timer"]["OnCalendar"]
    assert timer["Timer"]["Persistent"] == ["true"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_verifies_the_units_and_scores_the_service_safe(tmp_path: Path) -> None:
    kubecert = Path(sys.executable).parent / "kubecert"  # an executable where the unit expects the install's
    for name in (SERVICE, "kubecert-check.timer"):
        text = (NODE / name).read_text().replace("/opt/kubecert/bin/kubecert", str(kubecert))
        (tmp_path / name).write_text(text)
    units = [str(tmp_path / SERVICE), str(tmp_path / "kubecert-check.timer")]
    verified = subprocess.run(["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True,
                              timeout=120, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # The score shown from 0 (most confined) to 10; the threshold is ten times it: above 2.0 is more than "OK".
    scored = subprocess.run(["systemd-analyze", "security", "--offline=true", "--threshold=20", units[0]],
                            capture_output=True, text=True, timeout=120, check=False)
    assert scored.returncode == 0, scored.stdout[-3000:] + scored.stderr


def cronjob_documents() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((NODE / "cronjob.yaml").read_text()) if d]


@pytest.mark.parametrize("version", sorted({"1.33", kubernetes_validate.utils.major_minor(
    kubernetes_validate.latest_version())}))
def test_the_node_cronjob_validates_strictly(version: str) -> None:
    for document in cronjob_documents():
        kubernetes_validate.validate(document, version, strict=True)


def test_the_node_cronjob_is_root_without_capability_and_read_only_but_its_reports() -> None:
    [cronjob] = [d for d in cronjob_documents() if d["kind"] == "CronJob"]
    job = cronjob["spec"]["jobTemplate"]["spec"]
    pod = job["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert not any(pod.get(key) for key in ("hostNetwork", "hostPID", "hostIPC"))
    assert pod["nodeSelector"] == {"node-role.kubernetes.io/control-plane": ""}
    assert pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"] \
        == "kubernetes.io/hostname"  # one pod per node
    assert job["completions"] == job["parallelism"]
    [container] = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]} and not security.get("privileged")
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    host_paths = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    writable = {name for name, m in mounts.items() if not m.get("readOnly")}
    assert writable == {"reports", "tmp"}, writable
    assert host_paths["reports"].startswith(REPORTS + "/")
    for name, path in host_paths.items():
        if name != "reports":
            assert mounts[name]["readOnly"] is True and mounts[name]["mountPath"] == path
            # not the kubelet's whole folder: every pod's volumes, Secrets included, are there
            assert path != "/var/lib/kubelet"
    args = container["args"]
    assert args[args.index("--target") + 1] == f"pki:{PKI}"
    assert args[args.index("--output-dir") + 1] == mounts["reports"]["mountPath"]
    assert any(PKI.startswith(path) for path in host_paths.values())
    namespace = cronjob["metadata"]["namespace"]
    [ns] = [d for d in cronjob_documents() if d["kind"] == "Namespace"]
    assert ns["metadata"]["name"] == namespace != "kubecert-fleet"  # the fleet's namespace stays restricted
