"""KC-CSR: CSR-only renewal writes requests and keys for an external CA to sign, and changes nothing."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from kubecert import layout
from kubecert.inventory.csrs import CsrRecord
from kubecert.inventory.model import CertRecord, FileFacts
from kubecert.rules.catalog import implements
from kubecert.rules.context import problem_finding
from kubecert.rules.findings import Finding, failed, passed
from kubecert.rules.renewal.certificates import after_action, facts
from kubecert.rules.renewal.context import ActionObservation, RenewalContext

_CA_NAMES = {spec.name for spec in layout.CAS}


def _requested(record: CsrRecord) -> dict[str, tuple[str, ...]]:
    return {
        "CN": (record.common_name or "",),
        "O": tuple(sorted(record.organizations)),
        "DNS SANs": tuple(sorted(set(record.dns_sans))),
        "IP SANs": tuple(sorted({str(ipaddress.ip_address(ip)) for ip in record.ip_sans})),
    }


def _held(cert: CertRecord) -> dict[str, tuple[str, ...]]:
    return {
        "CN": (cert.common_name or "",),
        "O": tuple(sorted(cert.organizations)),
        "DNS SANs": tuple(sorted(set(cert.dns_sans))),
        "IP SANs": tuple(sorted({str(ipaddress.ip_address(ip)) for ip in cert.ip_sans})),
    }


def _csr_facts(record: CsrRecord) -> dict[str, Any]:
    return {"csr_path": record.path, "key_path": record.key.path if record.key else None,
            "csr_public_key_sha256": record.public.spki_sha256,
            "requested": {k: list(v) for k, v in _requested(record).items()}}


def _judge_csr(name: str, cert: CertRecord | None, record: CsrRecord | None, root: str) -> Finding:
    certificate = {"certificate": facts(cert), "certificate_path": cert.path if cert else None}
    if record is None:
        return failed(name, f"no CSR for {name} in {root} (expected {name}.csr and {name}.key)", **certificate)
    evidence = {**_csr_facts(record), **certificate}
    wrong = []
    if not record.signature_valid:
        wrong.append("its signature does not verify")
    if record.key is None:
        wrong.append("no private key beside it")
    elif record.key.public.spki_sha256 != record.public.spki_sha256:
        wrong.append(f"its key {record.key.path} is not the key the CSR is for")
    if cert is not None:
        held, asked = _held(cert), _requested(record)
        wrong += [f"{attr} {list(asked[attr])}, the certificate has {list(held[attr])}"
                  for attr in held if held[attr] != asked[attr]]
    if wrong:
        return failed(name, "; ".join(wrong), **evidence)
    return passed(name, "CSR and key written; the CSR carries the certificate's subject and SANs", **evidence)


@implements("KC-CSR-01", context=RenewalContext)
@after_action
def csrs_written_nothing_changed(ctx: RenewalContext, obs: ActionObservation) -> Iterator[Finding]:
    """KADM: a CSR carries a certificate's name, domains and IPs; a CA cannot be produced as a CSR."""
    folder = obs.csrs
    if folder is None or not folder.exists:
        yield failed("csr folder", f"nothing was written to {obs.csr_dir}", path=str(obs.csr_dir))
        return
    yield from (problem_finding(problem) for problem in folder.problems)
    for name in obs.renewable():
        yield _judge_csr(name, obs.certificate(name, after=False), folder.csrs.get(name), folder.root)
    for name, record in sorted(folder.csrs.items()):
        if name in _CA_NAMES or record.requests_ca:
            yield failed(name, f"a CSR for a CA: {record.path} (a CA cannot be produced as a CSR)",
                         **_csr_facts(record))
    changes = obs.changes()
    yield from obs.uncompared()
    for path in changes.touched:
        after = obs.files_after.get(path)
        yield failed(path.rsplit("/", 1)[-1], f"existing file {'removed' if after is None else 'changed'}: {path}",
                     path=path, before=obs.files_before[path].describe(), after=after.describe() if after else None)
    if not changes.touched:
        yield passed("existing files", f"none of the {len(obs.files_before)} files under the PKI and kubeconfig "
                     "folders changed")


# What kubeadm guarantees: keys and CSRs 0600. Its folders follow the umask (the key writer makes them 0755
# before the CSR writer's 0700 would apply), so a folder is held to kubeadm's 0755: never writable by
# group or others, who could otherwise swap a key or a CSR before it is signed.
FILE_LIMIT, FOLDER_LIMIT = 0o600, 0o755


def _private(facts: FileFacts | None, wanted: int, what: str, why: str = "") -> Finding | None:
    if facts is None:
        return None
    if facts.mode & ~wanted & 0o777:
        return failed(facts.path.rsplit("/", 1)[-1], f"{what} {facts.path} is mode {facts.mode:04o}, "
                      f"expected {wanted:04o} or stricter{why}", **facts.evidence())
    return passed(facts.path.rsplit("/", 1)[-1], f"{what} mode {facts.mode:04o}", **facts.evidence())


@implements("KC-CSR-02", context=RenewalContext)
@after_action
def csr_files_private(ctx: RenewalContext, obs: ActionObservation) -> Iterator[Finding]:
    """A CSR folder holds private keys: owner-only files, in folders nobody else can write to."""
    folder = obs.csrs
    if folder is None or not folder.exists:
        yield failed("csr folder", f"nothing was written to {obs.csr_dir}", path=str(obs.csr_dir))
        return
    for directory in folder.folders:
        finding = _private(directory, FOLDER_LIMIT, "folder", ": writable by group or others, who could replace "
                           "a key or CSR before it is signed")
        if finding is not None:
            yield finding
    for record in folder.csrs.values():
        for file_facts, what in ((record.file, "CSR"), (record.key_file, "key")):
            finding = _private(file_facts, FILE_LIMIT, what)
            if finding is not None:
                yield finding
