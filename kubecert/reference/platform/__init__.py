"""The reference platform: clusters, machine pools, machines with their own PKI, and renewal (repave or
in place) as a restartable state machine on SQLite."""

from kubecert.reference.platform.engine import (
    CONTROL_PLANE_POOL,
    CONTROLPLANE_ONLY,
    RENEWAL_MODES,
    WORKER_POOL,
    Platform,
    RenewOutcome,
    Timing,
)
from kubecert.reference.platform.faults import FAULTS, PlatformFault
from kubecert.reference.platform.worker import PlatformWorker

__all__ = [
    "CONTROLPLANE_ONLY",
    "CONTROL_PLANE_POOL",
    "FAULTS",
    "RENEWAL_MODES",
    "WORKER_POOL",
    "Platform",
    "PlatformFault",
    "PlatformWorker",
    "RenewOutcome",
    "Timing",
]
