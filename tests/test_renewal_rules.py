"""The renewal rules on the reference renewer's actions, in-process: the reference passes them all, and
each renewal fault fails the rule it exists for (and no other rule of its action), with evidence that
names the certificate and shows it before and after."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
import yaml

from kubecert.capabilities import Action, Probe
from kubecert.inventory import load_pki
from kubecert.inventory.action import ActionRecord, scrub
from kubecert.inventory.csrs import load_csr_dir
from kubecert.reference.faults import Layer
from kubecert.reference.pki import FreshKeys, check_expiration, render
from kubecert.reference.pki.csr import generate_csr
from kubecert.reference.pki.kubeconfig import kubeconfig_document, render_kubeconfig
from kubecert.reference.pki.renewal_faults import RenewalFault
from kubecert.rules import BUILTIN_PROFILES, Status, all_rules, evaluate, get
from kubecert.rules.renewal import ListingContext

from nodes import NODE_RULES, judge_actions, make_node
from support import faults_of, verdict_statuses

RENEWAL_RULES = NODE_RULES
AGE = 100  # days since the nodes were made: a renewal must move every expiry by that much
RENEWAL_FAULTS = faults_of(Layer.RENEWER, RenewalFault)


def test_every_renewal_rule_has_an_action() -> None:
    family = {rule.id for rule in all_rules() if rule.family == "renewal"}
    assert family == set(RENEWAL_RULES)
    assert all(get(rule).implemented for rule in family)


def test_the_reference_renewer_passes_every_renewal_rule(tmp_path: Path) -> None:
    verdicts = judge_actions(make_node(tmp_path / "k", age_days=AGE), RENEWAL_RULES)
    statuses = {rule: v.status for rule, v in verdicts.items()}
    assert statuses.pop("KC-REN-07") is Status.NOT_APPLICABLE  # every CA key is on this node
    assert set(statuses.values()) == {Status.PASSED}, {r: v.message for r, v in verdicts.items()}
    evidence = verdicts["KC-REN-03"].evidence()
    assert evidence[0]["action"] == "renew all" and evidence[0]["stdout_bytes"] > 0
    assert "stdout_tail" not in evidence[0]  # a renewal that worked keeps no output: nothing a key could hide in
    renewed = {e["subject"] for e in evidence[1:]}
    assert renewed == {"admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf", "apiserver",
                       "apiserver-kubelet-client", "apiserver-etcd-client", "front-proxy-client",
                       "etcd-healthcheck-client", "etcd-peer", "etcd-server"}


def test_an_external_ca_node_passes_every_renewal_rule(tmp_path: Path) -> None:
    verdicts = judge_actions(make_node(tmp_path / "k", external_ca=True, age_days=AGE), RENEWAL_RULES)
    assert {r: v.status for r, v in verdicts.items() if v.status is not Status.PASSED} == {}, \
        {r: v.message for r, v in verdicts.items()}
    refused = {e["subject"]: e for e in verdicts["KC-REN-07"].evidence() if e.get("ca_externally_managed")}
    assert sorted(refused) == ["admin.conf", "apiserver", "apiserver-kubelet-client", "controller-manager.conf",
                               "scheduler.conf"]
    assert refused["apiserver"]["refusal_line"] == (
        "Detected external ca, certificate for serving the Kubernetes API can't be renewed")
    assert refused["apiserver"]["before"] == refused["apiserver"]["after"]


def _step(rule: str) -> Action | Probe | None:
    return get(rule).action or get(rule).probe


@pytest.mark.parametrize("name", sorted(RENEWAL_FAULTS))
def test_renewal_fault_fails_its_rule_with_before_and_after(tmp_path: Path, name: str) -> None:
    fault = RENEWAL_FAULTS[name]
    # Every rule of the action it is seen through, and of any other action a rule it declares needs.
    steps = {fault.step, *(_step(rule) for rule in (*fault.fails, *fault.may_also_fail))}
    rules = [rule for rule in NODE_RULES if _step(rule) in steps]
    node = make_node(tmp_path / "k", external_ca=fault.needs_external_ca, age_days=AGE)
    verdicts = judge_actions(node, rules, fault=name)
    assert fault.disagreements(verdict_statuses(verdicts)) == [], {rule: v.message for rule, v in verdicts.items()}
    verdict = verdicts[fault.rule]
    offending = [f.to_evidence() for f in verdict.findings if f.status is Status.FAILED]
    named = [entry for entry in offending if entry["subject"].split(" ")[0] == fault.offender]
    assert named, offending
    assert fault.offender in verdict.message
    entry = named[0]
    if fault.rule.startswith(("KC-REN", "KC-UPG")):
        assert entry["before"] is not None and entry["after"] is not None
        assert entry["before"] != entry["after"] or fault.rule == "KC-REN-06"
    json.dumps(entry)  # evidence is plain data


def test_ren_03_evidence_shows_the_expiry_it_kept(tmp_path: Path) -> None:
    verdicts = judge_actions(make_node(tmp_path / "k", age_days=AGE), ["KC-REN-03"], fault="old-expiry-kept")
    entry = next(e for e in verdicts["KC-REN-03"].evidence() if e["status"] == "failed")
    assert entry["subject"] == "apiserver-kubelet-client"
    assert entry["before"]["not_after"] == entry["after"]["not_after"]
    assert entry["before"]["serial"] != entry["after"]["serial"]
    assert entry["expected_not_after_from"] > entry["after"]["not_after"]


def test_a_failed_action_is_an_error_not_a_verdict(tmp_path: Path) -> None:
    root = make_node(tmp_path / "k", age_days=AGE)
    (root / "pki" / "ca.crt").unlink()  # the renewer cannot load its CA and stops
    verdict = judge_actions(root, ["KC-REN-01"])["KC-REN-01"]
    assert verdict.status is Status.ERROR
    assert "renew all exited with 3" in verdict.message and "ca.crt is missing" in verdict.message


def test_private_keys_never_reach_the_evidence() -> None:
    key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIabc\n-----END EC PRIVATE KEY-----\n"
    text = f"renewed\n{key}client-key-data: LS0tLS1CRUdJTg==\n-----BEGIN PRIVATE KEY-----\nMIIE"
    cleaned = scrub(text)
    assert "MHcCAQEEIabc" not in cleaned and "LS0tLS1CRUdJTg" not in cleaned and "MIIE" not in cleaned
    assert cleaned.startswith("renewed\n")


# --- KC-CHK-01: the listing against the certificates


def _listing_verdict(root: Path, output: str, *, exit_code: int = 0) -> tuple[Status, str, list[dict[str, object]]]:
    now = dt.datetime.now(dt.UTC)
    record = ActionRecord.of("check-expiration", "kubeadm certs check-expiration", started_at=now,
                             finished_at=now + dt.timedelta(seconds=1), exit_code=exit_code, stdout=output)
    inventory = load_pki(root / "pki")
    context = ListingContext(inventory=inventory, profile=BUILTIN_PROFILES["palette"], now=now, action=record)
    verdict = evaluate(get("KC-CHK-01"), context)
    return verdict.status, verdict.message, verdict.evidence()


@pytest.fixture(scope="module")
def listed_node(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_node(tmp_path_factory.mktemp("listed") / "k")


@pytest.fixture(scope="module")
def listing(listed_node: Path) -> dict[str, str]:
    info = check_expiration(listed_node, now=dt.datetime.now(dt.UTC))
    return {form: render(info, form) for form in ("text", "json", "yaml")}


def _seed_form(v131: str) -> str:
    """The same rows as kubeadm printed them in the seed's time: four columns, true/false, no CA table."""
    head, _, _ = v131.partition("\n\n")
    lines = head.splitlines()
    rows = ["CERTIFICATE                EXPIRES                  RESIDUAL TIME   EXTERNALLY MANAGED"]
    for line in lines[1:]:
        name, expires, residual, _ca, managed = [c for c in line.split("   ") if c.strip()]
        rows.append(f"{name.strip():<27}{expires.strip():<25}{residual.strip():<16}"
                    f"{'true' if managed.strip() == 'yes' else 'false'}")
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("form", ["text", "json", "yaml", "seed"])
def test_chk_01_reads_every_form_of_the_listing(listed_node: Path, listing: dict[str, str], form: str) -> None:
    output = _seed_form(listing["text"]) if form == "seed" else listing[form]
    status, message, evidence = _listing_verdict(listed_node, "[check-expiration] Reading configuration\n\n" + output
                                                 if form in ("text", "seed") else output)
    assert status is Status.PASSED, message
    if form == "seed":
        assert "four columns" in evidence[0]["detail"]
        assert "this form has no CA table" in message


@pytest.mark.parametrize(
    ("change", "subject", "words"),
    [
        (lambda t: re.sub(r"^apiserver .*$", "!MISSING! apiserver", t, count=1, flags=re.M),
         "apiserver", "listed as !MISSING!"),
        (lambda t: "\n".join(line for line in t.splitlines() if not line.startswith("scheduler.conf")),
         "scheduler.conf", "not listed"),
        (lambda t: re.sub(r"^(admin\.conf .*?)364d", r"\g<1>200d", t, count=1, flags=re.M),
         "admin.conf", "RESIDUAL TIME 200d"),
        (lambda t: t.replace("front-proxy-ca          no", "front-proxy-ca          yes", 1),
         "front-proxy-client", "EXTERNALLY MANAGED yes"),
    ],
)
def test_chk_01_fails_a_listing_that_disagrees(listed_node: Path, listing: dict[str, str], change: object,
                                               subject: str, words: str) -> None:
    changed = change(listing["text"])  # type: ignore[operator]
    status, message, _ = _listing_verdict(listed_node, changed)
    assert status is Status.FAILED
    assert f"FAILED {subject}: " in message and words in message, message


def test_chk_01_fails_a_stale_date_in_json(listed_node: Path, listing: dict[str, str]) -> None:
    document = json.loads(listing["json"])
    document["certificates"][1]["expirationDate"] = "2020-05-15T13:00:00Z"  # apiserver
    status, message, evidence = _listing_verdict(listed_node, json.dumps(document))
    assert status is Status.FAILED and "FAILED apiserver: EXPIRES 2020-05-15 13:00:00 UTC" in message
    entry = next(e for e in evidence if e["subject"] == "apiserver")
    assert entry["listed"]["expires"] == "2020-05-15T13:00:00Z" and entry["certificate"]["not_after"] > "2026"


@pytest.mark.parametrize(("output", "exit_code", "words"), [
    ("certs are fine, trust me\n", 0, "not an expiration listing"),
    (yaml.safe_dump({"kind": "Pod"}), 0, "not an expiration listing"),
    ("", 1, "check-expiration exited with 1"),
])
def test_chk_01_cannot_judge_what_is_not_a_listing(listed_node: Path, output: str, exit_code: int,
                                                   words: str) -> None:
    status, message, _ = _listing_verdict(listed_node, output, exit_code=exit_code)
    assert status is Status.ERROR and words in message


def test_csr_folders_of_kubeadm_generate_csr_are_read_too(tmp_path: Path) -> None:
    """kubeadm v1.23+ generate-csr: the PKI layout (pki/etcd/server.csr) and a kubeconfig's key inside a
    partial kubeconfig beside admin.conf.csr."""
    root = make_node(tmp_path / "k")
    flat = tmp_path / "flat"
    generate_csr(root, flat, keys=FreshKeys())
    modern = tmp_path / "modern"
    (modern / "pki" / "etcd").mkdir(parents=True)
    for suffix in (".csr", ".key"):
        (flat / f"apiserver{suffix}").rename(modern / "pki" / f"apiserver{suffix}")
        (flat / f"etcd-server{suffix}").rename(modern / "pki" / "etcd" / f"server{suffix}")
    (flat / "admin.conf.csr").rename(modern / "admin.conf.csr")
    partial = kubeconfig_document(server="https://10.0.0.10:6443", ca_pem=b"", user="kubernetes-admin",
                                  client_key_pem=(flat / "admin.conf.key").read_bytes())
    del partial["clusters"][0]["cluster"]["certificate-authority-data"]
    (modern / "admin.conf").write_bytes(render_kubeconfig(partial))
    folder = load_csr_dir(modern)
    assert sorted(folder.csrs) == ["admin.conf", "apiserver", "etcd-server"]
    assert folder.problems == [] and folder.unnamed == []
    for record in folder.csrs.values():
        assert record.key is not None and record.key.public.spki_sha256 == record.public.spki_sha256
    assert folder.csrs["etcd-server"].path.endswith("pki/etcd/server.csr")
