"""The reference platform's Kubernetes-style API: where its clusters' SpectroCluster objects live (CRD
spectroclusters.cluster.spectrocloud.com, short name spc, each in namespace ``cluster-<uid>`` and named after
its cluster), as Palette keeps them in Kubernetes. The control-plane-only annotation is set here, with
``kubectl annotate`` or the ``kubernetes`` client, not through the Palette API (whose routes have no such
object).

Served over mutual TLS on loopback, as a kube-apiserver serves (the reference cluster's listener and Status
answers): a client certificate of the cluster-admins group may get, list and patch the objects (a JSON merge
patch of ``metadata.annotations``, optionally against a ``resourceVersion``); discovery says what is served.
The objects' state is the platform's: the annotation a renewal obeys is the one set here.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from kubecert.reference.api.cluster_pki import ClusterPki
from kubecert.reference.kube import discovery as disc
from kubecert.reference.kube import objects as obj
from kubecert.reference.kube.auth import Authorizer, Identity, authenticated
from kubecert.reference.kube.exchange import ApiRequest, ApiResponse, json_response
from kubecert.reference.kube.paths import locate
from kubecert.reference.kube.server import NodeListener
from kubecert.reference.kube.spc_patch import MERGE_PATCH, annotation_changes
from kubecert.reference.kube.tables import negotiate
from kubecert.reference.platform.engine import KUBERNETES_VERSION, Platform

GROUP = obj.SPC_GROUP
RESOURCE = disc.SPECTROCLUSTERS
MAX_BODY_BYTES = 256 * 1024 + 4096  # the annotations' own limit, and a little for the patch around them
_POLL_S = 0.05


class SpectroClusterApi:
    """Answers requests about the platform's SpectroCluster objects, free of HTTP."""

    def __init__(self, platform: Platform, server_url: str) -> None:
        self.platform = platform
        self.server_url = server_url
        self.authorizer = Authorizer()  # kubeadm's bindings only: the cluster-admins may do everything

    def handle(self, request: ApiRequest) -> ApiResponse:
        try:
            return self._route(request)
        except obj.ApiError as error:
            return json_response(error.code, error.status())

    def _route(self, request: ApiRequest) -> ApiResponse:
        identity = authenticated(request.identity)
        parts = [unquote(p) for p in urlsplit(request.target).path.split("/") if p]
        if parts in (["version"], ["api"], ["api", "v1"], ["apis"], ["apis", GROUP]):
            return self._discovery(request, parts)
        if parts[:2] != ["apis", GROUP] or len(parts) < 3 or parts[2] not in obj.SPC_VERSIONS:
            raise obj.ApiError(404, "the server could not find the requested resource")
        version, rest = parts[2], parts[3:]
        if not rest:
            return self._discovery(request, parts)
        where = locate((RESOURCE,), rest)
        if request.method == "PATCH" and where.name is not None:
            return self._patch(request, identity, version, where.namespace or "", where.name)
        if request.method != "GET":
            raise obj.ApiError(405, "the server does not allow this method on the requested resource")
        negotiate(request.accept, tables=False)
        self.authorizer.authorize(identity, "get" if where.name else "list", RESOURCE, name=where.name,
                                  namespace=where.namespace)
        with self.platform.store.snapshot() as db:
            rows = db.execute("SELECT * FROM clusters ORDER BY name").fetchall()
        found = [row for row in rows if where.namespace in (None, namespace_of(row))]
        if where.name is None:
            revision = max((row["spc_generation"] for row in rows), default=1)
            return json_response(200, obj.list_document("SpectroClusterList", [spc_object(r, version) for r in found],
                                                        revision, f"{GROUP}/{version}"))
        named = [row for row in found if row["name"] == where.name]
        if not named:
            raise obj.not_found(RESOURCE, where.name)
        return json_response(200, spc_object(named[0], version))

    def _discovery(self, request: ApiRequest, parts: list[str]) -> ApiResponse:
        if request.method != "GET":
            raise obj.ApiError(405, "the server does not allow this method on the requested resource")
        negotiate(request.accept, tables=False)
        if parts == ["version"]:
            return json_response(200, obj.version_document(f"v{KUBERNETES_VERSION}"))
        if parts == ["api"]:
            return json_response(200, disc.api_versions(urlsplit(self.server_url).netloc))
        if parts == ["api", "v1"]:
            return json_response(200, disc.resource_list("v1", ()))
        if parts == ["apis"]:
            group = disc.api_group(GROUP)
            del group["kind"], group["apiVersion"]
            return json_response(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [group]})
        if parts == ["apis", GROUP]:
            return json_response(200, disc.api_group(GROUP))
        return json_response(200, disc.resource_list(f"{GROUP}/{parts[2]}", (RESOURCE,)))

    def _patch(self, request: ApiRequest, identity: Identity, version: str, namespace: str, name: str) -> ApiResponse:
        self.authorizer.authorize(identity, "patch", RESOURCE, name=name, namespace=namespace)
        media = request.content_type.split(";")[0].strip().lower()
        if media != MERGE_PATCH:
            raise obj.ApiError(415, f"the body of the request was in an unknown format - accepted media types "
                                    f"include: {MERGE_PATCH}")
        changes, expected = annotation_changes(request.body)
        with self.platform.store.transaction() as db:
            row = _named(db, namespace, name)
            if expected is not None and expected != row["spc_generation"]:
                raise obj.ApiError(409, f'Operation cannot be fulfilled on {RESOURCE.qualified} "{name}": the object '
                                        "has been modified; please apply your changes to the latest version and try "
                                        "again")
            annotations = json.loads(row["spc_annotations"])
            for key, value in changes.items():
                if value is None:
                    annotations.pop(key, None)
                else:
                    annotations[key] = value
            db.execute("UPDATE clusters SET spc_annotations = ?, spc_generation = spc_generation + 1 WHERE uid = ?",
                       (json.dumps(annotations, sort_keys=True), row["uid"]))
            updated = db.execute("SELECT * FROM clusters WHERE uid = ?", (row["uid"],)).fetchone()
        return json_response(200, spc_object(updated, version))


def namespace_of(cluster: sqlite3.Row) -> str:
    return f"cluster-{cluster['uid']}"


def _named(db: sqlite3.Connection, namespace: str, name: str) -> sqlite3.Row:
    row: sqlite3.Row | None = db.execute("SELECT * FROM clusters WHERE name = ?", (name,)).fetchone()
    if row is None or namespace_of(row) != namespace:
        raise obj.not_found(RESOURCE, name)
    return row


def spc_object(cluster: sqlite3.Row, version: str) -> dict[str, Any]:
    """One cluster's SpectroCluster object, as the API shows it."""
    created = dt.datetime.fromtimestamp(cluster["created_at"], dt.UTC)
    return {
        "apiVersion": f"{GROUP}/{version}", "kind": "SpectroCluster",
        "metadata": {"name": cluster["name"], "namespace": namespace_of(cluster),
                     "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"spectrocluster/{cluster['uid']}")),
                     "annotations": json.loads(cluster["spc_annotations"]), "creationTimestamp": obj.timestamp(created),
                     "generation": 1, "resourceVersion": str(cluster["spc_generation"])},
        "spec": {"clusterUid": cluster["uid"]},
    }


class ClusterApiServer:
    """The Kubernetes-style API on ``host`` (loopback: the serving certificate names 127.0.0.1 and localhost),
    served from a background thread; ``kubeconfig`` is written when it starts, naming where it serves."""

    def __init__(self, platform: Platform, pki: ClusterPki, kubeconfig: Path, *, host: str = "127.0.0.1") -> None:
        self.platform, self.pki, self.kubeconfig, self.host = platform, pki, kubeconfig, host
        self._listener: NodeListener | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._listener is None:
            raise RuntimeError("the cluster API is not being served")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self._listener.port}"

    def start(self) -> None:
        cert, key = self.pki.serving
        listener = NodeListener("spectroclusters", (self.host, 0), lambda: (cert, key, self.pki.ca),
                                max_body=MAX_BODY_BYTES)
        self._listener = listener
        listener.api = SpectroClusterApi(self.platform, self.url)  # type: ignore[assignment]
        self.pki.write_kubeconfig(self.kubeconfig, self.url)
        self._thread = threading.Thread(target=listener.serve_forever, kwargs={"poll_interval": _POLL_S}, daemon=True,
                                        name="kubecert-reference-cluster-api")
        self._thread.start()

    def stop(self) -> None:
        if self._listener is None:
            return
        if self._thread is not None:
            self._listener.shutdown()
            self._thread.join(5)
        self._listener.server_close()
        self._listener.close_connections()
        self._listener, self._thread = None, None
