"""What a management API (Palette-like) shows of a cluster: reported certificates per machine, machines,
the cluster object, HTTP exchanges, and renewals watched over time. Rules read these; no credential is
ever kept in them (bodies are redacted before they get here).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubecert import layout
from kubecert.timestamps import isoformat

# RFC 3339 date-time: what the Palette specification's "date-time" format means.
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII)
# Bounds on what one listing may make kubecert judge: a cluster has a few control-plane machines, each with
# three CAs and seven leaves. Past these the listing is not plausible, and judging it all would let an API
# spend kubecert's time and memory.
MAX_LISTED_MACHINES = 1000
MAX_LISTED_PER_MACHINE = 64
TRANSITIONAL_STATES = frozenset({"pending", "provisioning", "deleting"})
# Status condition reasons that say a renewal or an upgrade is still going on (Palette's and common wordings).
IN_PROGRESS_STATES = frozenset({"pending", "repaving", "inprogress", "in-progress", "renewing", "progressing"})
# status.repave.state is an approval state, not progress (the SDK's v1ClusterRepaveState: Pending, Approved,
# Reverted): Pending is a repave that waits for someone to approve it (PATCH /v1/spectroclusters/{uid}/repave/approve).
REPAVE_AWAITS_APPROVAL = "Pending"


def listing_past_bounds(document: Any) -> list[str]:
    """What of a machineCertificates listing lies past the bounds above: not read, so no rule judges it."""
    entries = document.get("machineCertificates") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        return []
    found = []
    if len(entries) > MAX_LISTED_MACHINES:
        found.append(f"machineCertificates lists {len(entries)} machines, more than kubecert's bound of "
                     f"{MAX_LISTED_MACHINES}: the others are not judged")
    for index, entry in enumerate(entries[:MAX_LISTED_MACHINES]):
        authorities = entry.get("certificateAuthorities") if isinstance(entry, dict) else None
        listed = sum(1 + len(leaves) if isinstance(leaves := _field(authority, "certificates"), list) else 1
                     for authority in (authorities if isinstance(authorities, list) else ()))
        if listed > MAX_LISTED_PER_MACHINE:
            found.append(f"machineCertificates[{index}] lists {listed} certificates, more than kubecert's bound of "
                         f"{MAX_LISTED_PER_MACHINE} for one machine: the others are not judged")
    return found


def _field(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, dict) else None


def parse_time(text: Any) -> dt.datetime | None:
    """An RFC 3339 date-time, with or without fractional seconds (any number of digits), else None."""
    moment = read_time(text)
    return moment if isinstance(moment, dt.datetime) else None


def read_time(text: Any) -> dt.datetime | str:
    """An RFC 3339 date-time in UTC, or why ``text`` is none kubecert can use: not one at all, or one whose
    offset takes it past the dates Python can hold (9999-12-31T23:59:59-01:00 is in the year 10000 in UTC)."""
    if not isinstance(text, str) or not RFC3339.fullmatch(text.strip()):
        return "is not an RFC 3339 date-time"
    value = text.strip().replace("z", "Z").replace("t", "T")
    head, _, rest = value.partition(".")
    if rest:  # keep at most microseconds: Go writes nanoseconds
        digits = re.match(r"\d+", rest)
        fraction = digits.group(0) if digits else ""
        value = f"{head}.{fraction[:6].ljust(6, '0')}{rest[len(fraction):]}"
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return "is not an RFC 3339 date-time"
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:
        return "is outside the dates kubecert can represent (years 1 to 9999 in UTC)"


class Sent(enum.StrEnum):
    """Which credentials a request carried: what the access and renewal rules tell requests apart by."""

    API_KEY = "api key"
    NO_KEY = "no api key"
    WRONG_KEY = "wrong api key"
    FOREIGN_PROJECT = "a project that does not own the cluster"
    UNKNOWN_CLUSTER = "api key, unknown cluster"
    WHILE_RENEWING = "api key, while a renewal runs"


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and its answer, as evidence: never a credential (redacted before it gets here)."""

    method: str
    path: str
    sent: Sent  # which credentials the request carried
    status: int | None
    content_type: str | None = None
    elapsed_s: float = 0.0
    body_size: int = 0
    document: Any = None  # the JSON body, parsed; None when not JSON or empty
    text: str = ""  # the body as text, redacted and cut short
    error: str | None = None  # why there is no answer (refused redirect, too large, timeout)
    at: dt.datetime | None = None
    echoed: tuple[str, ...] = ()  # where the answer repeated a credential the client sent (now redacted)

    @property
    def echoed_credential(self) -> bool:
        return bool(self.echoed)

    @property
    def is_json(self) -> bool:
        return self.content_type is not None and "json" in self.content_type.lower()

    def evidence(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"request": f"{self.method} {self.path}", "sent": self.sent, "http_status": self.status,
                                 "content_type": self.content_type, "elapsed_s": round(self.elapsed_s, 3),
                                 "body_bytes": self.body_size}
        if self.error:
            facts["error"] = self.error
        if self.echoed:
            facts["echoed_credential"] = list(self.echoed)
        if self.text and (self.status is None or self.status >= 300):
            facts["body"] = self.text[:300]
        return facts


@dataclass(frozen=True)
class ReportedCertificate:
    """One certificate as the API lists it for one machine."""

    machine: str
    reported_name: str
    canonical: str | None  # kubeadm's name through layout.PALETTE_TO_KUBEADM, None when unknown
    authority: str  # the reported CA it is listed under (itself, for a CA)
    is_ca: bool
    expiry: dt.datetime | None
    expiry_text: Any  # as sent, for evidence and the shape rule

    def evidence(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"machine": self.machine, "certificate": self.reported_name,
                                 "expiry": self.expiry_text}
        if not self.is_ca:
            facts["ca"] = self.authority
        return facts


@dataclass(frozen=True)
class MachineCertificates:
    machine: str
    certificates: tuple[ReportedCertificate, ...]

    def cas(self) -> Iterator[ReportedCertificate]:
        return (c for c in self.certificates if c.is_ca)

    def leaves(self) -> Iterator[ReportedCertificate]:
        return (c for c in self.certificates if not c.is_ca)

    def expiries(self) -> dict[tuple[str, str], dt.datetime | None]:
        return {(c.authority, c.reported_name): c.expiry for c in self.certificates}


@dataclass(frozen=True)
class Machine:
    uid: str | None
    name: str
    pool: str
    control_plane: bool
    state: str | None
    created: dt.datetime | None
    deleting: dt.datetime | None = None
    hostnames: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """What identifies the machine across observations: its uid, else its name."""
        return self.uid or f"name:{self.name}"

    @property
    def transitional(self) -> bool:
        return (self.state or "").lower() in TRANSITIONAL_STATES or self.deleting is not None

    @property
    def running(self) -> bool:
        return (self.state or "").lower() == "running" and self.deleting is None

    def evidence(self) -> dict[str, Any]:
        return {"machine": self.name, "uid": self.uid, "pool": self.pool, "state": self.state,
                "created": isoformat(self.created) if self.created else None}


@dataclass(frozen=True)
class ClusterObject:
    uid: str
    name: str | None
    created: dt.datetime | None
    state: str | None
    repave_state: str | None
    cloud_type: str | None
    config_uid: str | None
    annotations: Mapping[str, str] = field(default_factory=dict)
    condition_in_progress: bool = False  # a status condition's reason says InProgress (or the like)
    pack_versions: Mapping[str, str] = field(default_factory=dict)  # status.packs[]: pack name → version

    @property
    def renewal_in_progress(self) -> bool:
        """A status condition says a renewal or an upgrade runs. The repave state says nothing of progress."""
        return self.condition_in_progress

    @property
    def repave_awaits_approval(self) -> bool:
        """status.repave.state says a repave waits for approval: it will not move on its own."""
        return (self.repave_state or "").casefold() == REPAVE_AWAITS_APPROVAL.casefold()


@dataclass(frozen=True)
class PlatformObservation:
    """One look at the cluster through the API."""

    observed_at: dt.datetime
    certificates_exchange: Exchange
    certificates: tuple[MachineCertificates, ...]
    cluster: ClusterObject | None
    machines: tuple[Machine, ...] | None  # None: the machine pools could not be read
    problems: tuple[str, ...] = ()  # what could not be read or understood, named by field

    def control_plane(self) -> tuple[Machine, ...]:
        return tuple(m for m in self.machines or () if m.control_plane)

    def workers(self) -> tuple[Machine, ...]:
        return tuple(m for m in self.machines or () if not m.control_plane)

    def machine_certificates(self, name: str) -> MachineCertificates | None:
        return next((m for m in self.certificates if m.machine == name), None)


@dataclass(frozen=True)
class ClusterRead:
    """One read of the cluster object with the key, with ``query`` (the SDK's query parameters; "" for none),
    and what kubecert understood of the answer (None: not a 200 JSON object)."""

    query: str
    exchange: Exchange
    cluster: ClusterObject | None


@dataclass(frozen=True)
class AccessProbes:
    """Requests made with missing, wrong or foreign credentials, and to a cluster that does not exist; and reads
    of the cluster object without and with the query parameters the SDK sends."""

    cluster_uid: str
    exchanges: tuple[Exchange, ...]
    secrets_sent: int  # how many distinct credentials were sent (their values are not kept)
    # Answers outside the probe that repeated a credential: (request, where in the answer), e.g. ("GET /v1/...
    # (api key)", ("the Location header",)). An echo is KC-API-06's finding wherever it happens.
    echoed_elsewhere: tuple[tuple[str, tuple[str, ...]], ...] = ()
    unavailable: str | None = None  # why no probe was sent: the target could not be observed
    cluster_reads: tuple[ClusterRead, ...] = ()  # the plain read first


@dataclass(frozen=True)
class ListingOverwrite:
    """The certificate listing, read, then sent back unchanged (``PUT .../k8certificates``) without a key, with a
    wrong one and with a project that does not own the cluster, then read again."""

    before: Exchange
    exchanges: tuple[Exchange, ...] = ()
    after: Exchange | None = None
    unavailable: str | None = None  # why nothing was sent: the listing could not be read first


@dataclass(frozen=True)
class Sample:
    """The platform at one moment of a renewal."""

    at: dt.datetime
    machines: tuple[Machine, ...]
    certificates: tuple[MachineCertificates, ...]
    cluster: ClusterObject | None
    error: str | None = None


@dataclass
class RenewalRecord:
    """A renewal requested through the API and watched until it finished or the deadline passed."""

    target: str
    profile_mode: str  # the profile's renewal_mode: "auto" (judge the mode the platform shows), "repave", "in-place"
    controlplane_only: bool
    deadline_s: float
    before: PlatformObservation
    requested_at: dt.datetime
    answered_at: dt.datetime | None = None
    answer: Exchange | None = None
    samples: list[Sample] = field(default_factory=list)
    finished_at: dt.datetime | None = None  # when it was first seen finished (and then stayed so)
    done_at_first_look: bool = False  # already finished when the answer came
    second_request: Exchange | None = None  # a renew request sent while this one ran
    second_sent_at: dt.datetime | None = None
    progress_reports: int = 0
    error: str | None = None  # the renewal could not be carried out or watched
    awaiting_approval: bool = False  # the repave waited for approval (status.repave.state Pending): not watched on
    annotation_before: str | None = None
    annotation_set: bool = False
    annotation_restored: bool | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    @property
    def last(self) -> Sample | None:
        return self.samples[-1] if self.samples else None

    def elapsed(self, moment: dt.datetime | None = None) -> float:
        return ((moment or (self.samples[-1].at if self.samples else self.requested_at)) - self.requested_at
                ).total_seconds()


@dataclass
class UpgradeRecord(RenewalRecord):
    """A Kubernetes version upgrade applied through the API (a cluster profile update that changes a pack's
    version), watched as a renewal is: ``before``, the request's ``answer``, the looks until it finished."""

    profile_uid: str = ""  # the cluster profile version applied
    pack: str = ""
    version: str = ""  # the version asked for
    version_before: str | None = None  # what the cluster reported for the pack before, where it reports one
    replaces: str = ""  # the attached profile version it replaced (replaceWithProfile)

    def evidence(self) -> dict[str, Any]:
        return {"profile": self.profile_uid, "replaces": self.replaces, "pack": self.pack, "version": self.version,
                "version_before": self.version_before}


@dataclass
class UnauthenticatedRenewal:
    """Renew requests sent without a valid key, and what the platform did in the minutes after."""

    before: PlatformObservation
    exchanges: list[Exchange] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    settled: bool = True  # False: something started and did not finish within the deadline
    error: str | None = None


def canonical_name(reported: str) -> str | None:
    return layout.PALETTE_TO_KUBEADM.get(reported)
