"""A reference Kubernetes cluster on disk: one kubeadm tree per control-plane node, Node objects for
every node, and the cluster's SpectroCluster object.

The folder holds ``nodes/cp-1`` (made by ``kubeadm init``), ``nodes/cp-2``... (``kubeadm join
--control-plane``), ``state.json`` (the API objects) and ``admin.conf``, the first node's admin
kubeconfig pointed at wherever the cluster is served. Workers have Node objects but no trees here.
Renewal runs ``kubeadm certs renew all`` on every control-plane node, then tells whoever serves the
cluster to restart their static pods, as kubeadm's note asks. Pods are decided by stand-in scheduler and
kubelets (kubelet.py); the static pods of a served cluster are static_pods.py's.
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kubecert.reference.errors import ReferenceUsageError
from kubecert.reference.kube import faults as kf
from kubecert.reference.kube.fault_files import FaultFiles
from kubecert.reference.kube.kubelet import Kubelets
from kubecert.reference.kube.objects import derived_uid
from kubecert.reference.kube.state import (
    CONTROL_PLANE,
    WORKER,
    ClusterInfo,
    ClusterStore,
    NodeRecord,
    Taint,
    new_uid,
)
from kubecert.reference.pki.files import KUBECONFIG_MODE, ensure_dir, write_atomic
from kubecert.reference.pki.init import init_pki
from kubecert.reference.pki.issue import utc
from kubecert.reference.pki.join import join_control_plane
from kubecert.reference.pki.keys import DEFAULT_KEY_ALGORITHM, KEY_ALGORITHMS, FreshKeys, KeyFactory
from kubecert.reference.pki.kubeconfig import current_cluster, encode_data, render_kubeconfig
from kubecert.reference.pki.kubelet import KubeletTree
from kubecert.reference.pki.options import (
    DEFAULT_PROFILE,
    InitOptions,
    ca_days_for_profile,
    is_dns_subdomain,
)
from kubecert.reference.pki.renew import renew as renew_node
from kubecert.reference.pki.tree import PkiTree

STATE_FILE = "state.json"
NODES_DIR = "nodes"
ADMIN_KUBECONFIG = "admin.conf"
# The endpoint every kubeconfig names: the loopback the cluster is served on, so the apiserver
# certificates cover how clients reach it (the port in the files is kubeadm's; the served one differs).
CONTROL_PLANE_ENDPOINT = "127.0.0.1:6443"
CERT_SANS = ("localhost",)
CONTROLPLANE_ONLY_ANNOTATION = "spectrocloud.com/cert-renew-controlplane-only"
KUBEADM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_MAX_CONTROL_PLANES = 9
_MAX_WORKERS = 200

Clock = Callable[[], dt.datetime]
RestartHook = Callable[[tuple[str, ...]], None]  # restarts the static pods of the nodes named
# Under renewal-skips-restart, how long after its static pods started a served cluster was renewed.
SKIPPED_RESTART_AFTER = dt.timedelta(minutes=1)


def _real_time() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ClusterSpec:
    """What a new reference cluster is made as."""

    name: str = "reference-cluster"
    control_planes: int = 3
    workers: int = 2
    key_algorithm: str = DEFAULT_KEY_ALGORITHM
    kubernetes_version: str = "v1.31.0"
    profile: str = DEFAULT_PROFILE  # the CA lifetime of its trees: kubeadm's or palette's (PROFILE_CA_DAYS)

    def validate(self) -> None:
        ca_days_for_profile(self.profile)
        if not is_dns_subdomain(self.name):
            raise ReferenceUsageError(f"cluster name {self.name!r} is not a valid RFC 1123 subdomain")
        if not 1 <= self.control_planes <= _MAX_CONTROL_PLANES:
            raise ReferenceUsageError(f"control-plane nodes must be 1 to {_MAX_CONTROL_PLANES}")
        if not 0 <= self.workers <= _MAX_WORKERS:
            raise ReferenceUsageError(f"workers must be 0 to {_MAX_WORKERS}")
        if self.key_algorithm not in KEY_ALGORITHMS:
            raise ReferenceUsageError(f"unknown encryption algorithm {self.key_algorithm!r}; expected one of "
                                      f"{', '.join(KEY_ALGORITHMS)}")


@dataclass(frozen=True)
class ClusterRenewal:
    """What one ``renew`` did."""

    at: dt.datetime
    renewed: tuple[str, ...]  # control-plane nodes whose certificates were renewed
    skipped: tuple[str, ...]  # control-plane nodes left as they were (a fault)
    workers_replaced: bool
    logs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # kubeadm's output, per node


def control_plane_name(number: int) -> str:
    return f"cp-{number}"


def node_address(number: int, *, worker: bool) -> str:
    return f"10.0.{1 if worker else 0}.{9 + number}"


class ReferenceCluster:
    """An existing reference cluster in ``folder``; ``create`` makes a new one."""

    def __init__(self, folder: Path, *, keys: KeyFactory | None = None, faults: Iterable[str] = (),
                 clock: Clock = _real_time) -> None:
        self.folder = Path(folder)
        if not (self.folder / STATE_FILE).is_file():
            raise ReferenceUsageError(f"{self.folder} holds no reference cluster (no {STATE_FILE})")
        self.faults = kf.checked(faults)
        self.keys: KeyFactory = keys or FreshKeys()
        self.clock = clock
        self.store = ClusterStore(self.folder / STATE_FILE)
        wanted = sorted(f for f in self.faults if kf.FAULTS[f].at_creation)
        if wanted != sorted(self.info.creation_faults):
            made = ", ".join(self.info.creation_faults) or "none"
            raise ReferenceUsageError(f"{self.folder} was made with creation faults {made}; faults that shape the "
                                      "node trees can only be chosen for a new cluster folder")
        self._lock = threading.RLock()
        self._restart_hooks: list[RestartHook] = []
        self._server_url: str | None = None
        self.fault_files = FaultFiles(self.folder / "faults", self.keys, clock)
        self.kubelets = Kubelets(self.served_nodes, lambda node: self.node_trees().get(node), clock)
        if kf.SERVED_CERT_WITHOUT_SERVICE_SAN in self.faults:
            self.fault_files.refresh_served(self.node_trees())

    @classmethod
    def create(cls, folder: Path, spec: ClusterSpec | None = None, *, keys: KeyFactory | None = None,
               faults: Iterable[str] = (), now: dt.datetime | None = None, clock: Clock = _real_time,
               ) -> ReferenceCluster:
        """Make a new cluster in ``folder`` (empty or absent): its nodes' trees dated ``now``."""
        spec = spec or ClusterSpec()
        spec.validate()
        chosen = kf.checked(faults)
        if kf.NODE_CA_DIFFERS in chosen and spec.control_planes < 2:
            raise ReferenceUsageError(f"fault {kf.NODE_CA_DIFFERS!r} needs at least 2 control-plane nodes")
        folder = Path(folder)
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise ReferenceUsageError(f"{folder} exists and is not an empty directory")
        keys = keys or FreshKeys()
        start = utc(now or clock())
        info = ClusterInfo(
            name=spec.name, uid=new_uid(), created_at=start, kubernetes_version=spec.kubernetes_version,
            key_algorithm=spec.key_algorithm, control_plane_endpoint=CONTROL_PLANE_ENDPOINT, cert_sans=CERT_SANS,
            creation_faults=tuple(sorted(f for f in chosen if kf.FAULTS[f].at_creation)), profile=spec.profile,
        )
        existed = folder.exists()
        ensure_dir(folder)
        try:
            _write_trees(folder, info, spec.control_planes, keys, start, own_ca_last=kf.NODE_CA_DIFFERS in chosen)
            nodes = [NodeRecord(control_plane_name(n), new_uid(), CONTROL_PLANE, node_address(n, worker=False),
                                start, 1) for n in range(1, spec.control_planes + 1)]
            nodes += [NodeRecord(f"worker-{n}", new_uid(), WORKER, node_address(n, worker=True), start, 1)
                      for n in range(1, spec.workers + 1)]
            ClusterStore.create(folder / STATE_FILE, info, nodes)
        except BaseException:
            # The folder was empty or absent: whatever is in it now is this attempt's.
            if existed:
                _empty(folder)
            else:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        return cls(folder, keys=keys, faults=chosen, clock=clock)

    @classmethod
    def open_or_create(cls, folder: Path, spec: ClusterSpec | None = None, *, keys: KeyFactory | None = None,
                       faults: Iterable[str] = (), clock: Clock = _real_time) -> ReferenceCluster:
        """The cluster in ``folder``, made there first (from ``spec``) when the folder holds none."""
        if (Path(folder) / STATE_FILE).is_file():
            return cls(folder, keys=keys, faults=faults, clock=clock)
        return cls.create(folder, spec, keys=keys, faults=faults, clock=clock)

    # --- what the cluster is

    @property
    def info(self) -> ClusterInfo:
        return self.store.info

    @property
    def namespace(self) -> str:
        return self.info.namespace

    def nodes(self) -> tuple[NodeRecord, ...]:
        return self.store.nodes()

    def served_nodes(self) -> tuple[NodeRecord, ...]:
        """The Node objects the API lists: the cluster's nodes, and one more under the fault that wants it."""
        nodes = self.nodes()
        if kf.CONTROL_PLANE_NODE_OUT_OF_REACH not in self.faults:
            return nodes
        number = len(self.control_plane_nodes()) + 1
        extra = NodeRecord(control_plane_name(number), derived_uid(self.info, "node", control_plane_name(number)),
                           CONTROL_PLANE, node_address(number, worker=False), self.info.created_at, 1)
        return (*nodes, extra)

    def control_plane_nodes(self) -> tuple[str, ...]:
        return tuple(node.name for node in self.nodes() if node.control_plane)

    def namespaces(self) -> list[str]:
        """kubeadm's namespaces, the cluster's own and those clients made, sorted."""
        made = [document["metadata"]["name"] for document in self.store.stored("namespaces")]
        return sorted({*KUBEADM_NAMESPACES, self.namespace, *made})

    def taint(self, node: str, key: str, effect: str, value: str = "") -> None:
        """Add a taint to a node, as ``kubectl taint nodes NODE KEY[=VALUE]:EFFECT`` does."""
        if node not in {n.name for n in self.nodes()}:
            raise ReferenceUsageError(f"{node!r} is not a node of this cluster")
        if effect not in TAINT_EFFECTS:
            raise ReferenceUsageError(f"a taint's effect is one of {', '.join(TAINT_EFFECTS)}")
        current = next(n for n in self.nodes() if n.name == node).taints
        self.store.set_taints(node, (*(t for t in current if t.key != key or t.effect != effect),
                                     Taint(key, effect, value)))

    def node_root(self, node: str) -> Path:
        """The node's /etc/kubernetes."""
        if node not in self.control_plane_nodes():
            raise ReferenceUsageError(f"{node!r} is not a control-plane node of this cluster")
        return self.folder / NODES_DIR / node

    def node_trees(self) -> dict[str, Path]:
        """Every control-plane node's /etc/kubernetes, by node name, first node first."""
        return {node: self.folder / NODES_DIR / node for node in self.control_plane_nodes()}

    def node_options(self, node: str) -> InitOptions:
        """What ``kubeadm init``/``join`` was told about the control-plane node ``node``."""
        self.node_root(node)  # refuses a name that is not a control-plane node
        return _options(self.info, self.control_plane_nodes().index(node) + 1)

    def ca_pem(self) -> bytes:
        """The cluster CA: the first control-plane node's ca.crt."""
        return PkiTree(self.node_root(self.control_plane_nodes()[0])).cert_path("ca").read_bytes()

    def published_ca_pem(self) -> bytes:
        """The CA bundle the kube-root-ca.crt ConfigMaps publish."""
        if kf.ROOT_CA_CONFIGMAP_DIFFERS in self.faults:
            return self.fault_files.other_ca_pem(self.info.key_algorithm, ca_days_for_profile(self.info.profile))
        return self.ca_pem()

    def kubelet_serving_files(self, node: str) -> tuple[Path, Path, Path]:
        """(certificate, key, client CA) the node's kubelet serves with, as it loads them at start:
        kubelet-server-current.pem where it rotates its serving certificate (serverTLSBootstrap), else kubelet.crt
        and kubelet.key."""
        root = self.node_root(node)
        kubelet, ca = KubeletTree(root), PkiTree(root).cert_path("ca")
        if kf.KUBELET_SERVES_OLD_CERTIFICATE in self.faults and node == self.control_plane_nodes()[-1]:
            return (*self.fault_files.stale_kubelet_serving(node, kubelet), ca)
        current = kubelet.current_path("server")
        if current.exists():
            return current, current, ca
        return kubelet.serving_cert_path, kubelet.serving_key_path, ca

    def serving_files(self, node: str) -> tuple[Path, Path, Path]:
        """(certificate, key, client CA) the node's API server serves with: its --tls-cert-file,
        --tls-private-key-file and --client-ca-file."""
        tree = PkiTree(self.node_root(node))
        cert, key = tree.cert_path("apiserver"), tree.key_path("apiserver")
        if kf.SERVED_CERT_WITHOUT_SERVICE_SAN in self.faults:
            cert, key = self.fault_files.served(node)
        return cert, key, tree.cert_path("ca")

    def annotate(self, key: str, value: str | None) -> None:
        """Set an annotation of the SpectroCluster object (None removes it), as ``kubectl annotate`` does."""
        self.store.patch_annotations({key: value})

    # --- the kubeconfig clients use

    @property
    def admin_kubeconfig_path(self) -> Path:
        return self.folder / ADMIN_KUBECONFIG

    def write_admin_kubeconfig(self, server_url: str | None = None) -> Path:
        """The first node's admin.conf with ``server`` set to where the cluster is served (mode 0600)."""
        with self._lock:
            if server_url is not None:
                self._server_url = server_url
            first = PkiTree(self.node_root(self.control_plane_nodes()[0]))
            document = first.kubeconfig("admin.conf")
            cluster = current_cluster(document)
            cluster["server"] = self._server_url or cluster["server"]
            if kf.KUBECONFIG_OTHER_CA in self.faults:
                cluster["certificate-authority-data"] = encode_data(
                    self.fault_files.other_ca_pem(self.info.key_algorithm, ca_days_for_profile(self.info.profile)))
            write_atomic(self.admin_kubeconfig_path, render_kubeconfig(document), KUBECONFIG_MODE)
            return self.admin_kubeconfig_path

    # --- renewal

    def add_restart_hook(self, hook: RestartHook) -> None:
        """Call ``hook`` with the nodes renewed after each renewal: it restarts their static pods."""
        with self._lock:
            self._restart_hooks.append(hook)

    def remove_restart_hook(self, hook: RestartHook) -> None:
        with self._lock:
            if hook in self._restart_hooks:
                self._restart_hooks.remove(hook)

    def renew(self, controlplane_only: bool = False, *, now: dt.datetime | None = None) -> ClusterRenewal:
        """``kubeadm certs renew all`` on every control-plane node, then the API servers restart.

        Workers keep their Node objects when ``controlplane_only`` or the SpectroCluster's
        control-plane-only annotation says "true"; otherwise the worker pool is repaved.
        """
        with self._lock:
            moment = utc(now or self.clock())
            nodes = self.control_plane_nodes()
            skipped = nodes[-1:] if kf.RENEWAL_SKIPS_NODE in self.faults else ()
            logs = {node: renew_node(self.node_root(node), "all", keys=self.keys, now=moment).log
                    for node in nodes if node not in skipped}
            annotated = self.store.spectrocluster().annotations.get(CONTROLPLANE_ONLY_ANNOTATION) == "true"
            keep = (controlplane_only or annotated) and kf.WORKERS_REPLACED_UNDER_ANNOTATION not in self.faults
            replace = not keep and any(not node.control_plane for node in self.nodes())
            if replace:
                self.store.replace_workers(moment)
            if kf.SERVED_CERT_WITHOUT_SERVICE_SAN in self.faults:
                self.fault_files.refresh_served(self.node_trees())
            if self.admin_kubeconfig_path.exists():
                self.write_admin_kubeconfig()
        self.restart_static_pods(tuple(logs))
        return ClusterRenewal(at=moment, renewed=tuple(logs), skipped=tuple(skipped), workers_replaced=replace,
                              logs=logs)


    def restart_static_pods(self, nodes: tuple[str, ...]) -> None:
        """What kubeadm asks after renewing ``nodes``: restart their static pods (under renewal-skips-restart,
        nothing: they keep running on what they loaded)."""
        if kf.RENEWAL_SKIPS_RESTART in self.faults:
            return
        with self._lock:
            hooks = list(self._restart_hooks)
        for hook in hooks:
            hook(nodes)

    def serving_started(self, at: dt.datetime) -> None:
        """The served cluster's static pods started at ``at``. Under renewal-skips-restart the control-plane
        nodes were then renewed a minute later, without a restart: how the fault's cluster is found."""
        if kf.RENEWAL_SKIPS_RESTART in self.faults:
            self.renew(controlplane_only=True, now=at + SKIPPED_RESTART_AFTER)


def _empty(folder: Path) -> None:
    for child in folder.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


def _options(info: ClusterInfo, number: int) -> InitOptions:
    return InitOptions(
        node_name=control_plane_name(number), advertise_address=node_address(number, worker=False),
        control_plane_endpoint=info.control_plane_endpoint, cert_sans=info.cert_sans,
        key_algorithm=info.key_algorithm, kubernetes_version=info.kubernetes_version, super_admin=number == 1,
        ca_days=ca_days_for_profile(info.profile),
    )


def _write_trees(folder: Path, info: ClusterInfo, count: int, keys: KeyFactory, now: dt.datetime, *,
                 own_ca_last: bool) -> None:
    first = folder / NODES_DIR / control_plane_name(1)
    init_pki(first, _options(info, 1), keys=keys, now=now)
    for number in range(2, count + 1):
        source = first
        if own_ca_last and number == count:
            source = FaultFiles.source_with_own_ca(first, folder / ".own-ca-source", keys, now,
                                                   key_algorithm=info.key_algorithm,
                                                   ca_days=ca_days_for_profile(info.profile))
        try:
            join_control_plane(folder / NODES_DIR / control_plane_name(number), source, _options(info, number),
                               keys=keys, now=now)
        finally:
            if source != first:
                shutil.rmtree(source, ignore_errors=True)
