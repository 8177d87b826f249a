"""What watching a renewal or an upgrade and annotating the SpectroCluster object need from a palette target, as a
contract, so that watch.py and spc.py depend on it and not on the target that uses them."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Protocol

from kubecert.profiles import Profile
from kubecert.targets.base import Progress

if TYPE_CHECKING:
    from kubecert.inventory.platform import Exchange, PlatformObservation, Sample, Sent
    from kubecert.targets.cluster.access import KubeconfigAccess
    from kubecert.targets.deadline import TimeBudget
    from kubecert.targets.palette.http import ApiClient
    from kubecert.targets.palette.upgrade import UpgradeRequest


class PaletteApi(Protocol):
    id: str
    profile: Profile
    progress: Progress
    poll_s: float
    budget: TimeBudget

    @property
    def upgrade_to(self) -> UpgradeRequest | None:
        """KC-RPV-10's upgrade as the API says it, read when first asked (None: no upgrade was asked for)."""
        ...

    @property
    def settle_s(self) -> float: ...

    @property
    def cluster_uid(self) -> str: ...

    @property
    def kubeconfig(self) -> KubeconfigAccess | None: ...

    def client(self) -> ApiClient: ...

    def look(self, now: dt.datetime | None = None) -> PlatformObservation: ...

    def sample(self) -> Sample: ...

    def renew(self, *, key: str | bool | None = True, sent: Sent = ...) -> Exchange: ...

    def request_upgrade(self, wanted: UpgradeRequest) -> Exchange: ...

    def cluster_name(self) -> str | None: ...

    def spc_annotation(self, name: str) -> str | None: ...

    def set_spc_annotation(self, name: str, value: str | None) -> None: ...
