"""The canonical report's types (schema ``kubecert.report/v1``): one Result per (rule, target), the targets,
the profile and the run. Every report format is rendered from these, and the JSON Schema shipped beside
this module (report.schema.json) is generated from them (schema.py), so the two cannot drift apart.

Field metadata: ``doc`` describes the field in the schema; ``omit_if_none`` leaves the key out of the
JSON when its value is None (it is then optional in the schema).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any

from kubecert.status import STATUSES, Status

SCHEMA = "kubecert.report/v1"
__all__ = ["SCHEMA", "STATUSES", "ProfileRecord", "Report", "Result", "Status", "TargetRecord", "Tool"]


def _doc(text: str, **extra: Any) -> Any:
    return {"doc": text, **extra}


@dataclass(frozen=True)
class Result:
    """One rule judged on one target."""

    rule: str = field(metadata=_doc("the catalog rule ID, e.g. KC-VAL-01"))
    target: str = field(metadata=_doc("the target's id (its URI)"))
    status: Status = field(metadata=_doc("the verdict"))
    message: str = field(metadata=_doc("what was found, naming every offender"))
    evidence: list[dict[str, Any]] = field(metadata=_doc(
        "one entry per subject judged (certificate, file, request): subject, status, detail and facts; never "
        "a private key or a credential"))
    citation: str = field(metadata=_doc("the source's own words the rule rests on, and the source keys"))
    nodeid: str = field(metadata=_doc("the check's pytest node id"))
    duration_s: float = field(default=0.0, metadata=_doc("seconds the check took"))

    def to_json(self) -> dict[str, Any]:
        return dict(_to_json(self))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        return cls(**{**data, "status": Status(data["status"])})


@dataclass(frozen=True)
class ProfileRecord:
    name: str = field(metadata=_doc("the profile's name (kubeadm, palette, or a file's)"))
    parameters: dict[str, Any] = field(metadata=_doc("every parameter rules read, with its value"))
    per_target: bool | None = field(default=None, metadata=_doc(
        "true when targets were judged with different profiles (see each target)", omit_if_none=True))


@dataclass(frozen=True)
class TargetRecord:
    id: str = field(metadata=_doc("the target's URI"))
    identity: str = field(metadata=_doc("what it really is (a resolved folder, an API and cluster): two URIs "
                                        "with one identity are one target"))
    kind: str = field(metadata=_doc("its URI scheme"))
    capabilities: list[str] = field(metadata=_doc("what it could show or do in this run"))
    location: dict[str, str] = field(metadata=_doc("where it was read (folders, API address)"))
    profile: ProfileRecord = field(metadata=_doc("the profile its rules were judged with"))
    declared: dict[str, Any] = field(metadata=_doc("node facts the user declared (node name, service range, ...)"))
    observed_at: str | None = field(metadata=_doc("when it was first read (RFC 3339)"))
    role: str | None = field(default=None, metadata=_doc(
        "the node's role, declared or recognised from its files: control-plane or worker", omit_if_none=True))

    def to_json(self) -> dict[str, Any]:
        return dict(_to_json(self))


@dataclass(frozen=True)
class Tool:
    name: str = field(metadata=_doc("kubecert"))
    version: str = field(metadata=_doc("its version"))


@dataclass(frozen=True)
class Report:
    schema: str = field(metadata=_doc(f"always {SCHEMA}", const=SCHEMA))
    tool: Tool = field(metadata=_doc("what wrote the report"))
    profile: ProfileRecord = field(metadata=_doc("the run's profile"))
    started_at: str = field(metadata=_doc("RFC 3339"))
    finished_at: str = field(metadata=_doc("RFC 3339"))
    observed_at: str | None = field(metadata=_doc("the earliest observation of any target"))
    complete: bool = field(metadata=_doc("false when the run was interrupted: the results are partial"))
    targets: list[TargetRecord] = field(metadata=_doc("every target checked"))
    results: list[Result] = field(metadata=_doc("one per (rule, target) checked"))
    summary: dict[Status, int] = field(metadata=_doc("how many results have each status"))
    evaluated_as_of: str | None = field(default=None, metadata=_doc(
        "the date every date rule was judged as of (--at), when not the observation time", omit_if_none=True))
    notes: list[str] | None = field(default=None, metadata=_doc(
        "what a reader must know beyond the results, e.g. an action stopped midway that may have left a node "
        "half-renewed", omit_if_none=True))

    def to_json(self) -> dict[str, Any]:
        return dict(_to_json(self))


def _to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if item is None and f.metadata.get("omit_if_none"):
                continue
            out[f.name] = _to_json(item)
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k.value if isinstance(k, enum.Enum) else k): _to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_json(v) for v in value]
    return value
