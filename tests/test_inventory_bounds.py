"""Every bound of kubecert's inventory, hit: an error on each rule that needed what lay past it, naming the
file or folder and the bound, never a pass or a not_applicable; what kubeadm keeps by name is judged anyway.

Bounds: entries of a walked folder (the pki folder, the kubelet's, the files an action is compared by, a CSR
folder), bytes of a file, certificates in one file, YAML size, depth and nodes (kubeconfigs, config.yaml,
manifests), the length of a duration flag, and the size and depth of an expiration listing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import audit
import pytest
from host_writes import lasting_writes_outside

from kubecert.inventory import files
from kubecert.inventory import listing as listings
from kubecert.inventory.safe_yaml import MAX_DEPTH, MAX_EXPANDED_NODES
from kubecert.reference.pki import check_expiration, render
from kubecert.rules import Status, Verdict

from nodes import judge_actions, make_node
from support import judge, result_for

BAD = (Status.ERROR, Status.FAILED)


def _flood(folder: Path, count: int) -> None:
    for index in range(count):
        os.close(os.open(folder / f"flood-{index:06d}", os.O_WRONLY | os.O_CREAT, 0o600))


def _erred(verdict: Verdict, *words: str) -> None:
    """``verdict`` is an error naming every one of ``words``."""
    assert verdict.status is Status.ERROR, verdict.message
    for word in words:
        assert word in verdict.message, (word, verdict.message)


# --- entries of a walked folder


def test_a_flooded_pki_folder_is_an_error_and_the_files_kubeadm_names_are_still_judged(reference_copy: Path) -> None:
    """The bound as shipped (50,000 entries), through the command under the audit guard: the file rules were a
    pass (KC-FILE-01 on the kubeconfigs only) and not_applicable, with a world-writable CA key."""
    pki = reference_copy / "pki"
    _flood(pki, files.MAX_WALK_ENTRIES + 1)
    os.chmod(pki / "ca.key", 0o666)
    run, seen = audit.run_audited(["check", "-q", "--target", f"pki:{pki}", "--json", "r.json"],
                                  cwd=reference_copy.parent)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    report = json.loads((reference_copy.parent / "r.json").read_text())
    bound = f"{pki} holds more than {files.MAX_WALK_ENTRIES} entries"
    modes = result_for(report, "KC-FILE-01")
    assert modes["status"] == "failed" and "ca.key" in modes["message"] and "0666" in modes["message"]
    assert bound in modes["message"]
    for rule in ("KC-FILE-02", "KC-FILE-03"):
        result = result_for(report, rule)
        assert result["status"] == "error" and bound in result["message"], result
    assert lasting_writes_outside(seen, [reference_copy.parent]) == []
    assert seen.processes_besides([]) == []


def test_a_flooded_kubelet_folder_is_an_error_on_the_rules_that_walk_it(reference_copy: Path) -> None:
    kubelet_pki = reference_copy / "kubelet" / "pki"
    _flood(kubelet_pki, 60)
    os.chmod(kubelet_pki / "kubelet.key", 0o644)
    with mock.patch.object(files, "MAX_WALK_ENTRIES", 40):
        verdicts = judge(reference_copy)
    bound = f"{kubelet_pki} holds more than 40 entries"
    assert verdicts["KC-KLT-04"].status is Status.FAILED  # the serving key, known by name, is judged
    assert "kubelet.key" in verdicts["KC-KLT-04"].message and bound in verdicts["KC-KLT-04"].message
    _erred(verdicts["KC-KLT-05"], bound)
    _erred(verdicts["KC-KLT-02"], bound)  # the dated files the link is judged against were not all listed
    assert verdicts["KC-FILE-01"].status is Status.PASSED  # the node's own pki folder is under the bound


def test_files_an_action_changed_past_the_walk_bound_are_unknown_not_unchanged(tmp_path: Path) -> None:
    root = make_node(tmp_path / "k", age_days=100)
    _flood(root / "pki", 30)
    with mock.patch.object(files, "MAX_WALK_ENTRIES", 20):
        verdicts = judge_actions(root, ["KC-REN-05", "KC-CSR-01"])
    for rule in ("KC-REN-05", "KC-CSR-01"):
        assert verdicts[rule].status in BAD, verdicts[rule].message
        assert "more than 20 entries" in verdicts[rule].message, verdicts[rule].message


def test_a_file_over_the_size_bound_is_not_taken_as_unchanged_by_an_action(tmp_path: Path) -> None:
    root = make_node(tmp_path / "k", age_days=100)
    (root / "pki" / "extra.pem").write_bytes(b"#" * (files.MAX_FILE_BYTES + 1))
    verdicts = judge_actions(root, ["KC-REN-05", "KC-CSR-01"])
    for rule in ("KC-REN-05", "KC-CSR-01"):
        _erred(verdicts[rule], "extra.pem", f"{files.MAX_FILE_BYTES}-byte bound")


# --- bytes and certificates of one file


@pytest.mark.parametrize(("damage", "bound"), [
    (lambda pem: pem + b"#" * files.MAX_FILE_BYTES, f"over the {files.MAX_FILE_BYTES}-byte limit"),
    (lambda pem: pem * (files.MAX_CERTIFICATES_PER_FILE + 1),
     f"more than {files.MAX_CERTIFICATES_PER_FILE} certificates, kubecert's bound"),
], ids=["bytes", "certificates"])
def test_a_certificate_past_a_bound_is_an_error_on_every_rule_that_judges_it(
        reference_copy: Path, damage: Callable[[bytes], bytes], bound: str) -> None:
    path = reference_copy / "pki" / "apiserver.crt"
    path.write_bytes(damage(path.read_bytes()))
    verdicts = judge(reference_copy)
    for rule in ("KC-INV-02", "KC-X509-01", "KC-X509-03", "KC-X509-04", "KC-X509-05", "KC-X509-06", "KC-VAL-01",
                 "KC-VAL-04", "KC-EXP-01", "KC-ID-01", "KC-ID-02"):
        _erred(verdicts[rule], str(path), bound)


# --- YAML: kubeconfigs, the kubelet's config.yaml, manifests


def _nested(levels: int) -> str:
    return "a: " + "[" * levels + "]" * levels + "\n"


def _entries(count: int) -> str:
    return "a:\n" + "".join(f"- {index}\n" for index in range(count))


@pytest.mark.parametrize(("name", "rules"), [
    ("admin.conf", ("KC-INV-03", "KC-KCFG-01", "KC-KCFG-02")),
    ("kubelet/config.yaml", ("KC-KLT-02", "KC-KLT-03")),
], ids=["kubeconfig", "kubelet-config"])
@pytest.mark.parametrize(("text", "bound"), [
    (_nested(MAX_DEPTH + 1), f"nested deeper than {MAX_DEPTH} levels"),
    (_entries(MAX_EXPANDED_NODES), f"more than {MAX_EXPANDED_NODES} entries"),
    ("#" * (files.MAX_FILE_BYTES + 1), f"over the {files.MAX_FILE_BYTES}-byte limit"),
], ids=["depth", "nodes", "bytes"])
def test_yaml_past_a_bound_is_an_error_on_the_rules_that_read_it_not_a_verdict_on_the_platform(
        reference_copy: Path, name: str, rules: tuple[str, ...], text: str, bound: str) -> None:
    (reference_copy / name).write_text(text)
    verdicts = judge(reference_copy)
    for rule in rules:
        _erred(verdicts[rule], Path(name).name, bound)


@pytest.mark.parametrize(("grow", "bound"), [
    (lambda text: text + "#" * files.MAX_FILE_BYTES, f"over the {files.MAX_FILE_BYTES}-byte limit"),
    (lambda text: text + "x-deep: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n",
     f"nested deeper than {MAX_DEPTH} levels"),
], ids=["bytes", "depth"])
def test_a_manifest_past_a_bound_leaves_its_facts_unknown_and_their_rules_errors(
        reference_copy: Path, grow: Callable[[str], str], bound: str) -> None:
    """The service range and address came from kubeadm's defaults instead, and KC-ID-02 passed by them."""
    manifest = reference_copy / "manifests" / "kube-apiserver.yaml"
    manifest.write_text(grow(manifest.read_text()))
    verdicts = judge(reference_copy)
    _erred(verdicts["KC-ID-02"], "node fact service_cidr", "node fact advertise_address", "kube-apiserver.yaml",
           bound)
    _erred(verdicts["KC-KLT-03"], "node fact advertise_address", bound)


def test_a_signing_duration_longer_than_the_bound_is_unknown_not_the_default(reference_copy: Path) -> None:
    manifest = reference_copy / "manifests" / "kube-controller-manager.yaml"
    flag = "0" * 70 + "8760h"  # Go reads it as 8760h; kubecert reads no duration that long
    text = manifest.read_text()
    assert "--cluster-signing-duration=" not in text
    manifest.write_text(text.replace("- kube-controller-manager\n", f"- kube-controller-manager\n"
                                     f"    - --cluster-signing-duration={flag}\n", 1))
    verdicts = judge(reference_copy)
    _erred(verdicts["KC-KLT-02"], "node fact cluster_signing_duration", "--cluster-signing-duration",
           "over kubecert's bound of 64")


# --- the expiration listing


def test_a_listing_past_its_bounds_is_not_read() -> None:
    beyond = listings.ListingBeyondBound
    with pytest.raises(beyond, match=f"over kubecert's bound of {listings.MAX_LISTING_CHARS}"):
        listings.parse_listing("CERTIFICATE  EXPIRES\n" + " " * listings.MAX_LISTING_CHARS)
    with pytest.raises(beyond, match="nested deeper than"):
        listings.parse_listing('{"kind": "CertificateExpirationInfo", "x": ' + "[" * 100 + "]" * 100 + "}")


@pytest.mark.parametrize("padding", ["after", "before"])
def test_a_listing_command_that_prints_past_the_output_bound_is_an_error(tmp_path: Path, padding: str) -> None:
    """The listing was judged on the last MiB of what was printed; now the first MiB is kept, and a cut
    listing is not judged: not even one whose table lies whole in what was kept."""
    root = make_node(tmp_path / "k")
    listing = render(check_expiration(root, now=dt.datetime.now(dt.UTC)), "text")
    (tmp_path / "listing.txt").write_text(listing)
    script = tmp_path / "print.py"
    filler = "sys.stdout.write('#' * (3 << 20) + '\\n')"
    table = "sys.stdout.write(open(sys.argv[1]).read())"
    script.write_text("import sys\n" + "\n".join([table, filler] if padding == "after" else [filler, table]) + "\n")
    command = f"{shlex.quote(sys.executable)} {script} {tmp_path / 'listing.txt'}"
    run, seen = audit.run_audited(["check", "-q", "--target", f"pki:{root / 'pki'}", "--json", "r.json",
                                   "--check-expiration-command", command, "--", "-k", "KC-CHK-01"], cwd=tmp_path)
    assert "Traceback" not in run.stdout + run.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    result = result_for(report, "KC-CHK-01")
    assert result["status"] == "error", result
    assert "more than kubecert keeps of a command's output" in result["message"]
    assert lasting_writes_outside(seen, [tmp_path]) == []
    assert seen.processes_besides([sys.executable]) == []


# --- a management API's certificate listing


def _listing_verdicts(extra: int) -> dict[str, Verdict]:
    """KC-API-02 and -03 on a listing of one machine with kubeadm's certificates, then ``extra`` more under ca,
    the last of them expired."""
    from kubecert.inventory.platform import Exchange, PlatformObservation, Sent
    from kubecert.inventory.platform_inventory import PlatformInventory
    from kubecert.rules import BUILTIN_PROFILES, RuleContext, evaluate, get
    from kubecert.targets.palette import parse

    now = dt.datetime.now(dt.UTC)
    good, expired = ((now + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ") for days in (300, -1))
    leaves = {"etcd-ca": ["kube-etcd-server", "kube-etcd-peer", "kube-etcd-healthcheck-client",
                          "kube-apiserver-etcd-client"],
              "front-proxy-ca": ["front-proxy-client"],
              "ca": ["kube-apiserver", "kube-apiserver-kubelet-client", *(f"extra-{n}" for n in range(extra))]}
    document = {"machineCertificates": [{"name": "cp-1", "certificateAuthorities": [
        {"name": ca, "expiry": good, "certificates": [
            {"name": name, "expiry": expired if name == f"extra-{extra - 1}" else good} for name in names]}
        for ca, names in leaves.items()]}]}
    exchange = Exchange("GET", "/v1/spectroclusters/x/k8certificates", Sent.API_KEY, 200, "application/json",
                        document=document)
    certificates, _ = parse.certificates(document)
    observation = PlatformObservation(now, exchange, certificates, cluster=None, machines=None)
    inventory = PlatformInventory(target="palette:https://api", observed_at=now, platform=observation)
    context = RuleContext(inventory=inventory, profile=BUILTIN_PROFILES["palette"], now=now)
    return {rule: evaluate(get(rule), context) for rule in ("KC-API-02", "KC-API-03")}


def test_a_machine_listing_more_certificates_than_the_bound_is_an_error_on_the_rules_that_judge_them() -> None:
    """Past 64 certificates of one machine the rest were dropped: an expired one there went unseen, and KC-API-02
    and -03 judged the certificates they kept."""
    within = _listing_verdicts(extra=3)  # read whole: its expired certificate fails KC-API-03
    assert within["KC-API-03"].status is Status.FAILED and "extra-2" in within["KC-API-03"].message
    for verdict in _listing_verdicts(extra=60).values():
        _erred(verdict, "machineCertificates[0] lists 70 certificates", "bound of 64")
