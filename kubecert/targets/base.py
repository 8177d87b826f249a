"""What every target offers the checks: an id, capabilities, and observations of the platform."""

from __future__ import annotations

import abc
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from kubecert.inventory.facts import NodeFacts
from kubecert.inventory.model import Inventory
from kubecert.inventory.summary import certificate_summary, mark_listed
from kubecert.options import Option, OptionsHint
from kubecert.profiles import Profile
from kubecert.targets.errors import TargetError, TargetUnavailable, failure_copy
from kubecert.text import escaped
from kubecert.timestamps import isoformat

TargetOption = Option  # what the user may tell targets of a kind: declared once, for the CLI and pytest

Progress = Callable[[str], None]


# Progress and warnings of kubecert's own (a renewal's state, TLS verification off): shown by the handler kubecert
# installs for its run's terminal (kubecert.pytest_plugin.live), and seen by pytest's log capture and live logs.
PROGRESS_LOG = logging.getLogger("kubecert")


def logged_progress(line: str) -> None:
    """Where a target's progress goes: kubecert's logger, escaped (it names what the target reported)."""
    PROGRESS_LOG.info(escaped(line))


def logged_warning(line: str) -> None:
    """A warning, logged as one: without any handler (kubecert used as a library) Python still shows it."""
    PROGRESS_LOG.warning(escaped(line))


class Target(abc.ABC):
    """A backend that observes one platform and may act on it."""

    scheme: ClassVar[str]
    default_profile: ClassVar[str] = "kubeadm"
    # Disruptive checks need the user's opt-in, except on targets that exist only to be checked.
    disruptive_by_default: ClassVar[bool] = False
    # Its observation is one node's files, whose role (control-plane, worker) decides which rules concern it.
    reads_one_node: ClassVar[bool] = False

    def __init__(self, uri: str, profile: Profile, options: Mapping[str, Any], facts: NodeFacts | None = None) -> None:
        self.id = uri
        self.profile = profile
        self.options = options
        self.declared = facts or NodeFacts()  # what the user declared about the node or cluster
        # Where warnings and progress lines go while the target works (a runner points it at its terminal).
        self.progress: Progress = logged_progress
        self.notes: list[str] = []  # what a report must say beyond the results (an action stopped midway)
        self._inventory: Inventory | None = None
        self._description: dict[str, Any] | None = None  # what describe() said when the observation was released
        self._certificates: list[dict[str, Any]] | None = None  # the kept observation's, summed up once
        self._unavailable: TargetUnavailable | None = None

    @property
    @abc.abstractmethod
    def capabilities(self) -> frozenset[str]:
        """What this target can show or do."""

    def missing_capability(self, wanted: tuple[str, ...]) -> str | None:
        missing = [c for c in wanted if c not in self.capabilities]
        if not missing:
            return None
        reason = self.capability_reasons().get(missing[0])
        return f"{self.id} cannot offer {', '.join(missing)}" + (f": {reason}" if reason else "")

    def options_for(self, wanted: tuple[str, ...]) -> tuple[str, ...]:
        """The options that would give the first of ``wanted`` this target lacks (none known: empty)."""
        missing = [c for c in wanted if c not in self.capabilities]
        reason = self.capability_reasons().get(missing[0]) if missing else None
        return reason.options if isinstance(reason, OptionsHint) else ()

    def concerns(self, wanted: tuple[str, ...]) -> bool:
        """False when this kind of target can never offer one of ``wanted``: a rule that needs it does
        not concern the target (x509 rules on an API), so no check is made for the pair at all. A
        capability it could offer when configured (it has a reason) still makes a skipped check."""
        reasons = self.capability_reasons()
        return all(c in self.capabilities or c in reasons for c in wanted)

    def capability_reasons(self) -> dict[str, str]:
        """Why a capability this kind of target could have is missing here (for the skip message)."""
        return {}

    def observe(self) -> Inventory:
        """The observation every read-only check judges; taken once and kept (one parse per run). A target
        that cannot be read is tried once too: every later check gets the same failure."""
        kept = self.kept_observation()
        if kept is None:
            try:
                kept = self._inventory = self._observe(dt.datetime.now(dt.UTC))
                mark_listed(kept)  # what the report will list of it: passing evidence refers to it
            except TargetUnavailable as exc:
                self._unavailable = failure_copy(exc)
                raise
        return kept

    def kept_observation(self) -> Inventory | None:
        """What the observation already tried gave, without reading or locking anything: the inventory, or
        its failure raised again; None when none was tried (or it was released)."""
        if self._unavailable is not None:
            raise failure_copy(self._unavailable)
        return self._inventory

    def reobserve(self) -> Inventory:
        """A fresh observation after an action; the kept one is left as it was."""
        return self._observe(dt.datetime.now(dt.UTC))

    @abc.abstractmethod
    def _observe(self, now: dt.datetime) -> Inventory:
        """Read the platform now; raise TargetUnavailable when it cannot be read at all."""

    def location(self) -> dict[str, str]:
        return {}

    @property
    def identity(self) -> str:
        """What the target really is, whatever the URI's spelling: de-duplication goes by it."""
        return self.id

    @property
    def lock_key(self) -> str:
        """What a lock keeps one actor at a time on: the target itself, or the cluster it is part of."""
        return self.identity

    def release_observation(self) -> None:
        """Forget the kept observation once no check will judge it again, keeping what the report says of it:
        a fleet's run would otherwise hold every target's parsed files to the end."""
        self._description = self.describe()
        self._inventory = None

    def describe(self) -> dict[str, Any]:
        if self._inventory is None and self._description is not None:
            return self._description
        return {
            "id": self.id,
            "identity": self.identity,
            "kind": self.scheme,
            "capabilities": sorted(self.capabilities),
            "location": self.location(),
            "profile": {"name": self.profile.name, "parameters": self.profile.parameters()},
            "declared": self.declared.as_dict(),
            "observed_at": isoformat(self._inventory.observed_at) if self._inventory is not None else None,
            "role": self._inventory.facts.role if self._inventory is not None else self.declared.role,
            "certificates": self._certificate_summary(),
        }

    def _certificate_summary(self) -> list[dict[str, Any]]:
        """The certificates of the kept observation, for the report: made once, however many checks ask."""
        if self._inventory is None:
            return []
        if self._certificates is None:
            self._certificates = certificate_summary(self._inventory)
        return self._certificates

    def close(self) -> None:  # noqa: B027 - most targets hold nothing to release
        """Release what the target holds (temporary folders, servers, sessions)."""


def split_uri(uri: str, scheme: str, allowed: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """``scheme:PATH?k=v&k=v`` into the path and its options; an unknown option is a usage error."""
    rest = uri.removeprefix(f"{scheme}:")
    path, _, query = rest.partition("?")
    options: dict[str, str] = {}
    for pair in filter(None, query.split("&")):
        key, sep, value = pair.partition("=")
        if not sep or key not in allowed:
            raise TargetError(f"{uri}: unknown option {pair!r} (known: {', '.join(allowed) or 'none'})")
        options[key] = value
    return path, options
