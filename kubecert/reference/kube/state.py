"""The reference cluster's API objects that are not files: its identity, its Node objects (with the taints
added to them), its SpectroCluster object and the objects clients create (namespaces, pods, service
accounts, RBAC), kept in one JSON file beside the node trees so a reopened cluster has them all.

Every change bumps one cluster-wide resourceVersion, as etcd's revision does, and is written
atomically before the call returns.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubecert.reference.pki.files import write_atomic

STATE_MODE = 0o600
CONTROL_PLANE = "control-plane"
WORKER = "worker"
MAX_STORED = 2000  # objects clients may create; the file is rewritten whole on every change


@dataclass(frozen=True)
class ClusterInfo:
    """What the cluster was made as; never changes after creation."""

    name: str
    uid: str
    created_at: dt.datetime
    kubernetes_version: str
    key_algorithm: str
    control_plane_endpoint: str
    cert_sans: tuple[str, ...]
    creation_faults: tuple[str, ...] = ()  # faults that shaped the node trees
    profile: str = "palette"  # whose CA lifetime the trees have (options.PROFILE_CA_DAYS); palette before it was kept

    @property
    def namespace(self) -> str:
        return f"cluster-{self.uid}"


@dataclass(frozen=True)
class Taint:
    key: str
    effect: str  # NoSchedule, PreferNoSchedule or NoExecute
    value: str = ""

    def document(self) -> dict[str, str]:
        return {"key": self.key, **({"value": self.value} if self.value else {}), "effect": self.effect}

    def __str__(self) -> str:
        return f"{self.key}{f'={self.value}' if self.value else ''}:{self.effect}"


CONTROL_PLANE_TAINT = Taint("node-role.kubernetes.io/control-plane", "NoSchedule")  # kubeadm's, on every one


@dataclass(frozen=True)
class NodeRecord:
    name: str
    uid: str
    role: str  # CONTROL_PLANE or WORKER
    address: str
    created_at: dt.datetime
    resource_version: int
    taints: tuple[Taint, ...] = ()  # added after the node joined (kubectl taint)

    @property
    def control_plane(self) -> bool:
        return self.role == CONTROL_PLANE

    def all_taints(self) -> tuple[Taint, ...]:
        return ((CONTROL_PLANE_TAINT,) if self.control_plane else ()) + self.taints


@dataclass(frozen=True)
class SpcRecord:
    """The SpectroCluster custom object: only its annotations and versions ever change."""

    uid: str
    annotations: Mapping[str, str]
    generation: int
    resource_version: int


class StaleResourceVersion(Exception):
    """A change named a resourceVersion the object no longer has."""


class AlreadyExists(Exception):
    """An object of that name is already stored."""


class StoreFull(Exception):
    """MAX_STORED objects are stored already."""


def new_uid() -> str:
    return str(uuid.uuid4())


class ClusterStore:
    """The state file, loaded once; reads return immutable records, writes go to disk under a lock."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        document = json.loads(self.path.read_text(encoding="utf-8"))
        self.info = _info(document["cluster"])
        self._revision = int(document["revision"])
        self._nodes = [_node(entry) for entry in document["nodes"]]
        self._spc = _spc(document["spectrocluster"])
        self._objects: dict[str, dict[str, dict[str, Any]]] = {
            resource: {_key(d): d for d in documents} for resource, documents in document.get("objects", {}).items()}

    @classmethod
    def create(cls, path: Path, info: ClusterInfo, nodes: list[NodeRecord]) -> ClusterStore:
        spc = SpcRecord(uid=new_uid(), annotations={}, generation=1, resource_version=1)
        _write(Path(path), info, 1, nodes, spc)
        return cls(path)

    @property
    def revision(self) -> int:
        with self._lock:
            return self._revision

    def nodes(self) -> tuple[NodeRecord, ...]:
        with self._lock:
            return tuple(self._nodes)

    def spectrocluster(self) -> SpcRecord:
        with self._lock:
            return self._spc

    def patch_annotations(self, changes: Mapping[str, str | None], *, if_resource_version: int | None = None
                          ) -> SpcRecord:
        """A JSON merge patch of the SpectroCluster's annotations: a string sets, null removes. With
        ``if_resource_version``, only if the object is still at that version."""
        with self._lock:
            if if_resource_version is not None and if_resource_version != self._spc.resource_version:
                raise StaleResourceVersion(str(if_resource_version))
            annotations = dict(self._spc.annotations)
            for key, value in changes.items():
                if value is None:
                    annotations.pop(key, None)
                else:
                    annotations[key] = value
            self._revision += 1
            self._spc = SpcRecord(self._spc.uid, annotations, self._spc.generation, self._revision)
            self._save()
            return self._spc

    def replace_workers(self, now: dt.datetime) -> None:
        """A repave of the worker pool: the same names, new machines (new uids and creation times)."""
        with self._lock:
            self._revision += 1
            self._nodes = [
                node if node.control_plane else dataclasses.replace(
                    node, uid=new_uid(), created_at=now, resource_version=self._revision)
                for node in self._nodes
            ]
            self._save()

    def set_taints(self, name: str, taints: tuple[Taint, ...]) -> None:
        """The node's added taints are now ``taints`` (kubeadm's control-plane taint stays)."""
        with self._lock:
            self._revision += 1
            self._nodes = [dataclasses.replace(node, taints=taints, resource_version=self._revision)
                           if node.name == name else node for node in self._nodes]
            self._save()

    # --- objects clients create, kept as the documents the API answers with

    def stored(self, resource: str) -> list[dict[str, Any]]:
        """Copies of every stored object of ``resource``, by namespace and name."""
        with self._lock:
            found = self._objects.get(resource, {})
            return [copy.deepcopy(found[key]) for key in sorted(found)]

    def add(self, resource: str, document: dict[str, Any]) -> dict[str, Any]:
        """Store a new object (its metadata.resourceVersion set here); AlreadyExists, StoreFull."""
        with self._lock:
            objects = self._objects.setdefault(resource, {})
            if _key(document) in objects:
                raise AlreadyExists(_key(document))
            if sum(len(stored) for stored in self._objects.values()) >= MAX_STORED:
                raise StoreFull(resource)
            self._revision += 1
            added = copy.deepcopy(document)
            added["metadata"]["resourceVersion"] = str(self._revision)
            objects[_key(added)] = added
            self._save()
            return copy.deepcopy(added)

    def remove(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """Remove a stored object; None when there was none."""
        with self._lock:
            removed = self._objects.get(resource, {}).pop(f"{namespace or ''}/{name}", None)
            if removed is not None:
                self._revision += 1
                self._save()
            return removed

    def _save(self) -> None:
        _write(self.path, self.info, self._revision, self._nodes, self._spc, objects=self._objects)


def _key(document: dict[str, Any]) -> str:
    return f"{document['metadata'].get('namespace') or ''}/{document['metadata']['name']}"


def _write(path: Path, info: ClusterInfo, revision: int, nodes: list[NodeRecord], spc: SpcRecord, *,
           objects: Mapping[str, Mapping[str, dict[str, Any]]] | None = None) -> None:
    document = {
        "cluster": {**dataclasses.asdict(info), "created_at": _time(info.created_at)},
        "revision": revision,
        "nodes": [{**dataclasses.asdict(node), "created_at": _time(node.created_at)} for node in nodes],
        "spectrocluster": {**dataclasses.asdict(spc), "annotations": dict(spc.annotations)},
        "objects": {resource: list(stored.values()) for resource, stored in (objects or {}).items() if stored},
    }
    write_atomic(path, json.dumps(document, indent=2, sort_keys=True).encode() + b"\n", STATE_MODE)


def _time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def _info(entry: dict[str, Any]) -> ClusterInfo:
    return ClusterInfo(
        name=entry["name"], uid=entry["uid"], created_at=dt.datetime.fromisoformat(entry["created_at"]),
        kubernetes_version=entry["kubernetes_version"], key_algorithm=entry["key_algorithm"],
        control_plane_endpoint=entry["control_plane_endpoint"], cert_sans=tuple(entry["cert_sans"]),
        creation_faults=tuple(entry.get("creation_faults", ())), profile=entry.get("profile", "palette"),
    )


def _node(entry: dict[str, Any]) -> NodeRecord:
    return NodeRecord(
        name=entry["name"], uid=entry["uid"], role=entry["role"], address=entry["address"],
        created_at=dt.datetime.fromisoformat(entry["created_at"]), resource_version=int(entry["resource_version"]),
        taints=tuple(Taint(**taint) for taint in entry.get("taints", ())),
    )


def _spc(entry: dict[str, Any]) -> SpcRecord:
    return SpcRecord(uid=entry["uid"], annotations=dict(entry["annotations"]), generation=int(entry["generation"]),
                     resource_version=int(entry["resource_version"]))
