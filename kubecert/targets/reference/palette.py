"""``reference:palette``, ``reference:palette-in-place`` and ``reference:palette-approval``: the reference
platform's Palette-like API, served on loopback over HTTPS for the run, checked through the ordinary palette
target.

Each part starts its own server (in this process, on a free port) with a temporary state folder, a
random API key handed over in memory, and the server's own CA bundle; it seeds one cluster (three
control-plane machines, two workers) that renews by repave, in place, or by a repave held for approval.
The part's profile pins no mode: the checks see which way the platform renews, as against any platform.
Machines take 0.6 s to provision and 0.3 s to delete, so a whole repave takes seconds. KC-RPV-10
upgrades the cluster to the next version of its cluster profile (the next Kubernetes release the reference
publishes), and KC-RPV-06 annotates the cluster's SpectroCluster object through the kubeconfig the server writes
for its Kubernetes-style API: the part knows both, so it needs neither --upgrade-profile nor --palette-kubeconfig.
"""

from __future__ import annotations

import functools
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from kubecert.inventory.facts import NodeFacts
from kubecert.profiles import Profile
from kubecert.targets.cluster.access import access_from_file
from kubecert.targets.cluster.trust import KubeconfigTrust
from kubecert.targets.palette.http import Credential
from kubecert.targets.palette.target import Connection, PaletteTarget
from kubecert.targets.palette.upgrade import UpgradeAsk

CONTROL_PLANES, WORKERS = 3, 2
POLL_S = 0.1


@functools.cache
def _keys() -> Any:
    """One small key pool per process: the API never shows keys, and RSA keys are slow to make. A
    machine's PKI draws 7 leaves, so keys are distinct within each machine."""
    from kubecert.reference.pki.keys import KeyPool

    return KeyPool(size=12)


class ReferencePaletteTarget(PaletteTarget):
    scheme = "reference"
    default_profile = "palette"
    disruptive_by_default = True
    platform_mode: ClassVar[str] = "repave"  # how the seeded cluster renews
    repave_approval: ClassVar[bool] = False  # whether it holds each repave for approval
    faults: ClassVar[frozenset[str]] = frozenset()  # tests subclass this to serve a faulty platform
    shape: ClassVar[tuple[int, int]] = (CONTROL_PLANES, WORKERS)
    # Real seconds to provision, delete, renew one machine in place. In-place steps of at least 0.5 s keep
    # two renewals' certificates a second apart (X.509 dates have whole seconds).
    timing: ClassVar[tuple[float, float, float]] = (0.6, 0.3, 0.5)

    def __init__(self, uri: str, profile: Profile, options: Mapping[str, Any], facts: NodeFacts | None = None) -> None:
        super().__init__(uri, profile, options, facts)
        self.poll_s = POLL_S
        self._server: Any = None
        self._folder: Path | None = None

    def _check_config(self) -> None:
        """Nothing to check: the server, its key and its CA are made on first use."""

    @property
    def capabilities(self) -> frozenset[str]:
        # Both named once the server runs: the next profile version, and the kubeconfig of its Kubernetes API.
        return super().capabilities | {"upgrade", "annotate"}

    def connection(self) -> Connection:
        if self._connection is None:
            self._connection = self._start()
        return self._connection

    def _start(self) -> Connection:
        from kubecert.reference.api import profiles
        from kubecert.reference.api.cli import seed
        from kubecert.reference.api.server import ReferenceApiServer, ServerSettings
        from kubecert.reference.platform.engine import Timing

        self._folder = Path(tempfile.mkdtemp(prefix="kubecert-reference-api-"))
        key = secrets.token_urlsafe(32)
        settings = ServerSettings(
            state_file=self._folder / "state.db", api_key=key, port=0, faults=self.faults,
            timing=Timing(provision_s=self.timing[0], delete_s=self.timing[1], renew_machine_s=self.timing[2],
                          scale=1.0),
            ca_days=self.profile.ca_days, leaf_days=self.profile.leaf_days,
        )
        server = ReferenceApiServer(settings, keys=_keys())
        seed(server.platform, 1, mode=self.platform_mode, control_planes=self.shape[0], workers=self.shape[1],
             age_days=200.0, repave_approval=self.repave_approval)
        server.start()
        self._server = server
        with server.platform.store.snapshot() as db:
            row = db.execute("SELECT * FROM clusters").fetchone()
        self.upgrade_asked = UpgradeAsk(profiles.later(row)[0].uid)
        kubeconfig = access_from_file(server.kubeconfig, None, KubeconfigTrust())
        return Connection(server.url, row["uid"], row["project_uid"], Credential(key), str(server.tls.ca_bundle),
                          kubeconfig)

    @property
    def settle_s(self) -> float:
        return max(3 * self.poll_s, 0.5)

    def location(self) -> dict[str, str]:
        return super().location() if self._server is not None else {}

    @property
    def identity(self) -> str:
        return self.id  # made fresh for this run: nothing else can be it

    def close(self) -> None:
        super().close()
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


class ReferencePaletteInPlaceTarget(ReferencePaletteTarget):
    """The same API over a cluster that renews in place (Palette 4.2+): no machine is replaced."""

    platform_mode: ClassVar[str] = "in-place"


class ReferencePaletteApprovalTarget(ReferencePaletteTarget):
    """The same API over a cluster that repaves, holding each repave until it is approved: every renewal and
    upgrade kubecert requests waits, so the checks that judge one are errors that say how to approve it."""

    repave_approval: ClassVar[bool] = True
