"""What a target offers beyond its observation, as contracts: acting on a node, and a management API.

The checks ask a target for these by capability (the catalog) and through these Protocols only, so a
vendor's own target kind works by offering the methods, whatever its base class.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from kubecert.inventory.action import ActionRecord
    from kubecert.inventory.cluster import ClusterRenewalRun, NodeObject
    from kubecert.inventory.model import Inventory
    from kubecert.inventory.platform import (
        AccessProbes,
        ListingOverwrite,
        RenewalRecord,
        UnauthenticatedRenewal,
        UpgradeRecord,
    )


@runtime_checkable
class NodeActions(Protocol):
    """What the renewal checks do to a node. Each call acts once and returns what happened."""

    pki_dir: Path
    kubeconfig_dir: Path

    def renew_all(self) -> ActionRecord: ...

    def renew_one(self, name: str) -> ActionRecord: ...

    def generate_csr(self, csr_dir: Path) -> ActionRecord: ...

    def check_expiration(self) -> ActionRecord: ...

    def upgrade(self, certificate_renewal: bool) -> ActionRecord: ...


@runtime_checkable
class ActsOnNode(Protocol):
    """A target that can act on a node; ``node_actions`` is None when it has been given no way to."""

    def node_actions(self) -> NodeActions | None: ...


@runtime_checkable
class ManagementApi(Protocol):
    """A target reached through a Palette-like management API (capability ``api``).

    Each method does its work once per run and keeps the result: every check that judges it shares it.
    Long waits report progress through the target's ``progress`` writer.
    """

    def access_probes(self) -> AccessProbes:
        """Requests with no key, a wrong key, a foreign project, and for an unknown cluster. Asked even when
        the target could not be observed: it then sends nothing and says why (``unavailable``), keeping the
        credentials the failed reads' answers repeated (KC-API-06 fails on those)."""
        ...

    def renewal(self, controlplane_only: bool = False) -> RenewalRecord:
        """One renewal requested and watched until it finished or the deadline passed."""
        ...

    def unauthenticated_renewal(self) -> UnauthenticatedRenewal:
        """Renew requests without a valid key, and the platform watched after them."""
        ...

    def upgrade(self) -> UpgradeRecord:
        """One Kubernetes version upgrade applied through the API (a cluster profile update), watched until it
        finished or the deadline passed. Only a target that offers the ``upgrade`` capability is asked."""
        ...

    def listing_overwrite(self) -> ListingOverwrite:
        """The certificate listing sent back unchanged with no key, a wrong key and a foreign project (a write:
        asked only with the disruptive opt-in), and read before and after."""
        ...


@runtime_checkable
class ClusterActions(Protocol):
    """A cluster target that reads every control-plane node's files and renews the cluster as a whole."""

    def node_inventories(self) -> dict[str, Inventory | str]:
        """Each control-plane node's files as they are now, or why they could not be read."""
        ...

    def node_objects(self) -> tuple[NodeObject, ...]:
        """The Node objects as the API shows them now (TargetUnavailable when it cannot)."""
        ...

    def renew_cluster(self, controlplane_only: bool) -> ClusterRenewalRun:
        """Renew every control-plane node (and, unless ``controlplane_only``, whatever a full renewal
        replaces), as the cluster's kind does it."""
        ...
