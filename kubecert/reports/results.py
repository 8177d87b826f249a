"""The canonical report's types (schema ``kubecert.report/v1.N``, versions.py): one Result per (rule, target),
the targets, the profile and the run. Every report format is rendered from these, and the JSON Schema shipped beside
this module (report.schema.json) is generated from them (schema.py), so the two cannot drift apart.

Field metadata: ``doc`` describes the field in the schema; ``omit_if_none`` leaves the key out of the
JSON when its value is None (it is then optional in the schema); ``since`` is the version that added the
field, when not the first (the schema's ``x-since``: a reader does not require it of an older minor).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kubecert.reports.versions import REPORT
from kubecert.status import STATUSES, Status

SCHEMA = REPORT.current
__all__ = [
    "SCHEMA", "STATUSES", "BaselineRecord", "CertificateRecord", "CoverageEntry", "ProfileRecord", "Report", "Result",
    "RuleRecord", "SourceRecord", "StaleEntry", "Status", "TargetRecord", "Tool",
]


def _doc(text: str, **extra: Any) -> Any:
    return {"doc": text, **extra}


RULE_ID = "^KC-[A-Z0-9]+-[0-9]+$"  # the catalog's IDs; OSCAL and JUnit use them as identifiers


def _rule(text: str) -> Any:
    return _doc(text, pattern=RULE_ID)


def _moment(text: str, **extra: Any) -> Any:
    """A date and time (RFC 3339), which a report read back must hold as one."""
    return _doc(text, format="date-time", **extra)


@dataclass(frozen=True)
class SourceRecord:
    """A document a rule rests on."""

    key: str = field(metadata=_doc("the catalog's key for it (PAL, KADM, K8S, CIS)"))
    title: str = field(metadata=_doc("the document's title"))
    url: str = field(metadata=_doc("where it is published"))
    version: str = field(metadata=_doc("the edition of the document the rule was read from"))


@dataclass(frozen=True)
class Result:
    """One rule judged on one target."""

    rule: str = field(metadata=_rule("the catalog rule ID, e.g. KC-VAL-01"))
    target: str = field(metadata=_doc("the target's id (its URI)"))
    status: Status = field(metadata=_doc("the verdict"))
    message: str = field(metadata=_doc("what was found, naming every offender"))
    evidence: list[dict[str, Any]] = field(metadata=_doc(
        "one entry per subject judged (certificate, file, request): subject, status, detail and facts; never "
        "a private key or a credential. A certificate that passed, as the target showed it when first read, "
        "is named by certificate and fingerprint_sha256 (its path, subject, issuer and dates are in the "
        "target's certificates); an offender is named in full"))
    citation: str = field(metadata=_doc("the source's own words the rule rests on, and the source keys; empty when "
                                        "the report's rules section says it for the result's rule (1.9)"))
    nodeid: str = field(metadata=_doc("the check's pytest node id"))
    duration_s: float = field(default=0.0, metadata=_doc("seconds the check took"))
    title: str = field(default="", metadata=_doc("the rule's title", since="1.2"))
    statement: str = field(default="", metadata=_doc(
        "the rule's statement: what must hold; empty when the rules section says it (1.9)", since="1.2"))
    remediation: str = field(default="", metadata=_doc(
        "what fixes a failure of the rule; empty when the rules section says it (1.9)", since="1.2"))
    sources: list[SourceRecord] = field(default_factory=list, metadata=_doc(
        "the documents the citation quotes, with their URL and version; empty when the rules section lists them "
        "(1.9)", since="1.2"))
    accepted: bool | None = field(default=None, metadata=_doc(
        "true when the result failed and every offender is accepted by the baseline (--baseline): it is shown "
        "apart and does not fail the run", omit_if_none=True, since="1.2"))

    def to_json(self) -> dict[str, Any]:
        return dict(_to_json(self))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        sources = [SourceRecord(**s) for s in data.get("sources", ())]
        return cls(**{**data, "status": Status(data["status"]), "sources": sources})

    @property
    def gating(self) -> bool:
        """A failure that fails the run: not accepted by the baseline."""
        return self.status is Status.FAILED and not self.accepted


@dataclass(frozen=True)
class RuleRecord:
    """What the report says once of a rule its results judge, instead of in each of them."""

    rule: str = field(metadata=_rule("the rule ID"))
    title: str = field(metadata=_doc("the rule's title"))
    statement: str = field(metadata=_doc("what must hold"))
    remediation: str = field(metadata=_doc("what fixes a failure"))
    citation: str = field(metadata=_doc("the source's own words the rule rests on, and the source keys"))
    sources: list[SourceRecord] = field(metadata=_doc("the documents the citation quotes, with their URL and version"))


@dataclass(frozen=True)
class ProfileRecord:
    name: str = field(metadata=_doc("the profile's name (kubeadm, palette, or a file's)"))
    parameters: dict[str, Any] = field(metadata=_doc("every parameter rules read, with its value"))
    per_target: bool | None = field(default=None, metadata=_doc(
        "true when targets were judged with different profiles (see each target)", omit_if_none=True))


@dataclass(frozen=True)
class CertificateRecord:
    """A certificate a target showed: what the expiry timeline draws and the metrics export."""

    name: str = field(metadata=_doc("its canonical name (apiserver, etcd-ca, admin.conf)"))
    path: str = field(metadata=_doc("its file, the kubeconfig that embeds it, or where an API reported it"))
    role: str = field(metadata=_doc("ca, leaf or kubeconfig"))
    is_ca: bool = field(metadata=_doc("true for a certificate authority"))
    subject: str | None = field(metadata=_doc("subject DN (RFC 4514); null where the target sends names only"))
    issuer: str | None = field(metadata=_doc("issuer DN (RFC 4514); null where the target sends names only"))
    subject_cn: str | None = field(metadata=_doc("the subject's common name"))
    issuer_cn: str | None = field(metadata=_doc("the issuer's common name (for a reported leaf: its CA's name)"))
    not_before: str | None = field(metadata=_moment("RFC 3339; null where the target reports the expiry only"))
    not_after: str | None = field(metadata=_moment("RFC 3339; null where the target sent no readable expiry"))
    fingerprint_sha256: str | None = field(metadata=_doc("SHA-256 of the DER; null where no certificate was sent"))
    machine: str | None = field(default=None, metadata=_doc("the machine it was reported for", omit_if_none=True))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CertificateRecord:
        return cls(**data)


@dataclass(frozen=True)
class TargetRecord:
    id: str = field(metadata=_doc("the target's URI"))
    identity: str = field(metadata=_doc("what it really is (a resolved folder, an API and cluster): two URIs "
                                        "with one identity are one target", since="1.1"))
    kind: str = field(metadata=_doc("its URI scheme"))
    capabilities: list[str] = field(metadata=_doc("what it could show or do in this run"))
    location: dict[str, str] = field(metadata=_doc("where it was read (folders, API address)"))
    profile: ProfileRecord = field(metadata=_doc("the profile its rules were judged with"))
    declared: dict[str, Any] = field(metadata=_doc("node facts the user declared (node name, service range, ...)"))
    observed_at: str | None = field(metadata=_moment("when it was first read (RFC 3339)"))
    role: str | None = field(default=None, metadata=_doc(
        "the node's role, declared or recognised from its files: control-plane or worker", omit_if_none=True,
        since="1.3"))
    certificates: list[CertificateRecord] = field(default_factory=list, metadata=_doc(
        "every certificate it showed when first read (none when it could not be read)", since="1.2"))

    def to_json(self) -> dict[str, Any]:
        return dict(_to_json(self))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TargetRecord:
        return cls(**{**data, "profile": ProfileRecord(**data["profile"]),
                      "certificates": [CertificateRecord.from_json(c) for c in data.get("certificates", ())]})


@dataclass(frozen=True)
class Tool:
    name: str = field(metadata=_doc("kubecert"))
    version: str = field(metadata=_doc("its version"))


@dataclass(frozen=True)
class CoverageEntry:
    """A catalog rule and whether this run could check it."""

    rule: str = field(metadata=_rule("the rule ID"))
    title: str = field(metadata=_doc("the rule's title"))
    implemented: bool = field(metadata=_doc("false when this version of kubecert has no check for it"))
    results: int = field(metadata=_doc("how many results of this report judge it"))


@dataclass(frozen=True)
class StaleEntry:
    """A baseline entry that accepted nothing, though its rule was judged on its target."""

    rule: str = field(metadata=_rule("the rule ID"))
    target: str = field(metadata=_doc("the target's identity"))
    offender: str = field(metadata=_doc("the offender it accepts"))
    why: str = field(metadata=_doc("why it matched nothing: the offender passes now, shows something else than "
                                   "what the entry pins, or the acceptance expired"))


@dataclass(frozen=True)
class BaselineRecord:
    """The accepted failures a run was judged against."""

    path: str = field(metadata=_doc("the baseline file"))
    entries: int = field(metadata=_doc("offenders it accepts"))
    accepted: int = field(metadata=_doc("failed results whose every offender it accepts"))
    new: int = field(metadata=_doc("failed results with an offender it does not accept: these fail the run"))
    stale: list[StaleEntry] | None = field(default=None, metadata=_doc(
        "entries that accepted nothing, though their rule was judged on their target: remove them", omit_if_none=True,
        since="1.6"))
    unpinned: int | None = field(default=None, metadata=_doc(
        "entries that pin nothing of what was observed (files written before pins): each accepts any failure "
        "of its offender", omit_if_none=True, since="1.6"))


@dataclass(frozen=True)
class Report:
    schema: str = field(metadata=_doc(f"the format and its version: {SCHEMA} (versions.py)", pattern=REPORT.pattern))
    tool: Tool = field(metadata=_doc("what wrote the report"))
    command_line: list[str] = field(metadata=_doc(
        "the command that ran, with credentials and anything that looks like a token replaced by <redacted>",
        since="1.2"))
    host: str = field(metadata=_doc("the machine kubecert ran on", since="1.2"))
    profile: ProfileRecord = field(metadata=_doc("the run's profile"))
    started_at: str = field(metadata=_moment("RFC 3339"))
    finished_at: str = field(metadata=_moment("RFC 3339"))
    observed_at: str | None = field(metadata=_moment("the earliest observation of any target"))
    complete: bool = field(metadata=_doc("false when the run was interrupted: the results are partial"))
    targets: list[TargetRecord] = field(metadata=_doc("every target checked"))
    results: Sequence[Result] = field(metadata=_doc(
        "one per (rule, target) checked (in a run, read from its spool as they are iterated: spool.py)"))
    summary: dict[Status, int] = field(metadata=_doc("how many results have each status"))
    coverage: list[CoverageEntry] = field(metadata=_doc(
        "every rule of the catalog: implemented or not, and how many results judge it", since="1.2"))
    evaluated_as_of: str | None = field(default=None, metadata=_moment(
        "the date every date rule was judged as of (--at), when not the observation time", omit_if_none=True))
    notes: list[str] | None = field(default=None, metadata=_doc(
        "what a reader must know beyond the results, e.g. an action stopped midway that may have left a node "
        "half-renewed", omit_if_none=True, since="1.1"))
    baseline: BaselineRecord | None = field(default=None, metadata=_doc(
        "the accepted failures the run was judged against (--baseline)", omit_if_none=True, since="1.2"))
    rules: list[RuleRecord] | None = field(default=None, metadata=_doc(
        "what each judged rule says (title, statement, remediation, citation, sources), once: a result whose "
        "statement, remediation, citation and sources are empty takes them from its rule's entry here",
        omit_if_none=True, since="1.9"))

    def to_json(self) -> dict[str, Any]:
        return dict(_to_json(self))


_PLAIN = frozenset({str, int, float, bool, type(None)})  # exact types: a StrEnum is a str but becomes its value


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, bool], ...]:
    """Each field's name, and whether it is left out when None."""
    return tuple((f.name, bool(f.metadata.get("omit_if_none"))) for f in dataclasses.fields(cls))


def _to_json(value: Any) -> Any:
    # Most values are plain strings and numbers (a fleet's report holds millions): they are kept as they are
    # without a call, and dicts and lists, the next most common, are tested before dataclasses.
    if type(value) in _PLAIN:
        return value
    if type(value) is dict:
        return {k if type(k) is str else _key(k): v if type(v) in _PLAIN else _to_json(v) for k, v in value.items()}
    if type(value) is list or type(value) is tuple:
        return [v if type(v) in _PLAIN else _to_json(v) for v in value]
    return _other_to_json(value)


def _other_to_json(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for name, omit_if_none in _fields(type(value)):
            item = getattr(value, name)
            if item is None and omit_if_none:
                continue
            out[name] = _to_json(item)
        return out
    if isinstance(value, dict):
        return {_key(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):  # a spool's results (spool.py)
        return [_to_json(v) for v in value]
    return value


def _key(key: Any) -> str:
    return str(key.value if isinstance(key, enum.Enum) else key)
