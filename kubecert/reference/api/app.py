"""The Palette-like HTTP API of the reference platform (FastAPI).

Routes (the Palette API specification):
- ``GET /v1/spectroclusters/{uid}``: the cluster object
- ``GET /v1/spectroclusters/{uid}/k8certificates``: each control-plane machine's certificates
- ``PATCH /v1/spectroclusters/{uid}/k8certificates/renew``: 204, empty; the renewal runs afterwards
- ``PATCH /v1/spectroclusters/{uid}/profiles``: profile updates; a new Kubernetes pack version upgrades the
  cluster (204, empty; the upgrade runs afterwards)
- ``GET /v1/cloudconfigs/{cloudType}/{configUid}``: the machine pools
- ``GET /v1/cloudconfigs/{cloudType}/{configUid}/machinePools/{pool}/machines``: paged, ``listmeta``
- ``GET|PATCH /apis/cluster.spectrocloud.com/{version}/namespaces/cluster-{uid}/spectroclusters/{name}``:
  the in-cluster SpectroCluster object; PATCH takes a JSON merge patch of its annotations
- the repave's status, its approval and the validation of a repave (``repave``)

``GET /openapi.json`` describes them all (``openapi``, ``models``).
"""


import json
import sqlite3
import time
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError

from kubecert.reference.api import documents, errors, models, openapi, repave
from kubecert.reference.api.auth import Caller, Gate, RequestBudget, anonymous_rate
from kubecert.reference.api.bodies import BoundedBodies
from kubecert.reference.api.errors import ApiError
from kubecert.reference.api.openapi import JSON, MERGE_PATCH, READ_ERRORS
from kubecert.reference.platform.engine import KUBERNETES_PACK, Platform
from kubecert.reference.platform.worker import PlatformWorker

_WAIT_LIMIT_S = 900.0  # the renew-waits-for-repave fault gives up waiting after this long
_MAX_BODY_BYTES = 64 * 1024  # merge patches and profile updates alike; the reads take none


def create_app(platform: Platform, worker: PlatformWorker, api_key: str, *, rate: float = 200.0) -> FastAPI:
    app = FastAPI(title="kubecert reference Palette API", description=openapi.DESCRIPTION, docs_url=None,
                  redoc_url=None, openapi_url=openapi.OPENAPI_PATH)
    errors.install(app, echo_key=platform.fault("echo-key"))
    openapi.install(app)
    app.add_middleware(BoundedBodies, limit=_MAX_BODY_BYTES)
    with platform.store.snapshot() as db:
        projects = {row["uid"] for row in db.execute("SELECT uid FROM projects")}
    gate = Gate(api_key, projects, check_key=not platform.fault("no-auth"),
                check_project=not platform.fault("project-not-checked"), budget=RequestBudget(rate),
                anonymous=RequestBudget(anonymous_rate(rate)))
    authorized = Annotated[Caller, Depends(gate)]
    _cluster_routes(app, platform, worker, authorized)
    _cloud_config_routes(app, platform, authorized)
    _spc_routes(app, platform, authorized)
    return app


def _answers(model: type[BaseModel], *statuses: int) -> dict[int | str, dict[str, Any]]:
    """A route's documented answers: ``model`` for 200 (the routes return dicts, not models), then errors."""
    return {200: {"model": model}, **openapi.errors(*statuses)}


def _cluster_routes(app: FastAPI, platform: Platform, worker: PlatformWorker, Authorized: Any) -> None:
    def cluster_row(db: sqlite3.Connection, caller: Caller, uid: str) -> sqlite3.Row:
        row: sqlite3.Row | None = db.execute("SELECT * FROM clusters WHERE uid = ?", (uid,)).fetchone()
        if row is None or not _visible(platform, caller, row):
            raise ApiError(404, "ResourceNotFound", f"spectrocluster {uid} not found")
        return row

    @app.get("/v1/spectroclusters/{uid}", response_model=None, operation_id="getSpectroCluster",
             summary="The cluster object", responses=_answers(models.SpectroCluster, *READ_ERRORS))
    def get_cluster(uid: str, caller: Authorized) -> dict[str, Any]:
        with platform.store.snapshot() as db:
            return documents.cluster_document(db, cluster_row(db, caller, uid))

    @app.get("/v1/spectroclusters/{uid}/k8certificates", response_model=None, operation_id="getK8Certificates",
             summary="Each control-plane machine's certificates",
             responses=_answers(models.K8sCertificates, *READ_ERRORS))
    def get_certificates(uid: str, caller: Authorized) -> dict[str, Any]:
        with platform.store.snapshot() as db:
            return documents.certificates_document(platform, db, cluster_row(db, caller, uid))

    @app.patch("/v1/spectroclusters/{uid}/k8certificates/renew", response_model=None, status_code=204,
               operation_id="renewK8Certificates", summary="Request a renewal of the cluster's certificates",
               response_description="Renewal started; it runs afterwards.",
               responses=openapi.errors(*READ_ERRORS, 409))
    def renew(uid: str, caller: Authorized) -> Response:
        with platform.store.snapshot() as db:
            cluster_row(db, caller, uid)
        outcome = platform.request_renewal(uid)
        worker.wake()
        if not outcome.started:
            raise ApiError(409, "CertificateRenewalInProgress", outcome.reason)
        if platform.fault("renew-waits-for-repave") and outcome.renewal_id is not None:
            deadline = time.monotonic() + _WAIT_LIMIT_S
            while platform.renewal_state(outcome.renewal_id) != "Completed" and time.monotonic() < deadline:
                time.sleep(0.05)
        if platform.fault("renew-answers-200"):
            return JSONResponse({"uid": uid, "status": "RenewalScheduled"}, status_code=200)
        return Response(status_code=204)

    @app.patch("/v1/spectroclusters/{uid}/profiles", response_model=None, status_code=204,
               operation_id="updateSpectroClusterProfiles",
               summary="Apply cluster profile updates: a new Kubernetes pack version upgrades the cluster",
               response_description="Accepted; the upgrade runs afterwards (nothing runs when the version is the "
                                    "cluster's own).",
               responses=openapi.errors(*READ_ERRORS, 409, 413, 415), openapi_extra=openapi.body(models.ProfileUpdates))
    async def update_profiles(uid: str, request: Request, caller: Authorized) -> Response:
        with platform.store.snapshot() as db:
            cluster = cluster_row(db, caller, uid)
        version = _kubernetes_version(_profile_updates(await _json_body(request, JSON)), cluster)
        outcome = platform.request_upgrade(uid, version)
        worker.wake()
        if not outcome.started and outcome.renewal_id is not None:
            raise ApiError(409, "ClusterUpdateInProgress", outcome.reason)
        return Response(status_code=204)

    async def version_asked(request: Request, cluster: sqlite3.Row) -> str:
        return _kubernetes_version(_profile_updates(await _json_body(request, JSON)), cluster)

    repave.install(app, platform, worker, Authorized, cluster_row=cluster_row, version_asked=version_asked)


def _cloud_config_routes(app: FastAPI, platform: Platform, Authorized: Any) -> None:
    def config_row(db: sqlite3.Connection, caller: Caller, cloud_type: str, config_uid: str) -> sqlite3.Row:
        row: sqlite3.Row | None = db.execute(
            "SELECT * FROM clusters WHERE config_uid = ? AND cloud_type = ?", (config_uid, cloud_type)).fetchone()
        if row is None or not _visible(platform, caller, row):
            raise ApiError(404, "ResourceNotFound", f"{cloud_type} cloud config {config_uid} not found")
        return row

    @app.get("/v1/cloudconfigs/{cloud_type}/{config_uid}", response_model=None, operation_id="getCloudConfig",
             summary="The cluster's machine pools", responses=_answers(models.CloudConfig, *READ_ERRORS))
    def get_cloud_config(cloud_type: str, config_uid: str, caller: Authorized) -> dict[str, Any]:
        with platform.store.snapshot() as db:
            return documents.cloud_config_document(db, config_row(db, caller, cloud_type, config_uid))

    @app.get("/v1/cloudconfigs/{cloud_type}/{config_uid}/machinePools/{pool}/machines", response_model=None,
             operation_id="getMachinePoolMachines", summary="A page of a machine pool's machines",
             responses=_answers(models.MachineList, *READ_ERRORS))
    def get_machines(
        cloud_type: str, config_uid: str, pool: str, *, caller: Authorized,
        limit: Annotated[int, Query(ge=1, description=f"Page size; at most {documents.PAGE_LIMIT} are given.")
                         ] = documents.PAGE_LIMIT,
        offset: Annotated[int, Query(ge=0)] = 0,
        continue_: Annotated[str | None, Query(alias="continue", pattern=documents.CONTINUE_PATTERN,
                                               description="The previous page's token (then offset is ignored).")
                             ] = None,
    ) -> dict[str, Any]:
        start = int(continue_) if continue_ else offset
        with platform.store.snapshot() as db:
            cluster = config_row(db, caller, cloud_type, config_uid)
            if db.execute("SELECT 1 FROM pools WHERE cluster_uid = ? AND name = ?", (cluster["uid"], pool)).fetchone() \
                    is None:
                raise ApiError(404, "ResourceNotFound", f"machine pool {pool} not found")
            return documents.machines_page(db, cluster, pool, start, min(limit, documents.PAGE_LIMIT))


def _spc_routes(app: FastAPI, platform: Platform, Authorized: Any) -> None:
    spc_path = "/apis/" + documents.SPC_GROUP + "/{version}/namespaces/{namespace}/spectroclusters/{name}"

    def spc_row(db: sqlite3.Connection, caller: Caller, version: str, namespace: str, name: str) -> sqlite3.Row:
        if version not in documents.SPC_VERSIONS:
            raise ApiError(404, "ResourceNotFound", f"{documents.SPC_GROUP}/{version} is not served")
        uid = namespace.removeprefix("cluster-")
        row: sqlite3.Row | None = db.execute(
            "SELECT * FROM clusters WHERE uid = ? AND name = ?", (uid, name)).fetchone()
        if not namespace.startswith("cluster-") or row is None or not _visible(platform, caller, row):
            raise ApiError(404, "ResourceNotFound", f'spectroclusters "{name}" not found in namespace {namespace}')
        return row

    @app.get(spc_path, response_model=None, operation_id="getSpectroClusterObject",
             summary="The in-cluster SpectroCluster object",
             responses=_answers(models.SpectroClusterObject, *READ_ERRORS))
    def get_spc(version: str, namespace: str, name: str, caller: Authorized) -> dict[str, Any]:
        with platform.store.snapshot() as db:
            return documents.spc_document(spc_row(db, caller, version, namespace, name), version)

    @app.patch(spc_path, response_model=None, operation_id="patchSpectroClusterObject",
               summary="Set or remove annotations of the SpectroCluster object",
               responses=_answers(models.SpectroClusterObject, *READ_ERRORS, 413, 415, 422),
               openapi_extra=openapi.merge_patch_body())
    async def patch_spc(version: str, namespace: str, name: str, request: Request, caller: Authorized
                        ) -> dict[str, Any]:
        changes = _annotation_patch(await _json_body(request, MERGE_PATCH))
        with platform.store.transaction() as db:
            row = spc_row(db, caller, version, namespace, name)
            annotations = json.loads(row["spc_annotations"])
            for key, value in changes.items():
                if value is None:
                    annotations.pop(key, None)
                else:
                    annotations[key] = value
            db.execute("UPDATE clusters SET spc_annotations = ?, spc_generation = spc_generation + 1 WHERE uid = ?",
                       (json.dumps(annotations, sort_keys=True), row["uid"]))
            updated = db.execute("SELECT * FROM clusters WHERE uid = ?", (row["uid"],)).fetchone()
            return documents.spc_document(updated, version)


def _visible(platform: Platform, caller: Caller, cluster: sqlite3.Row) -> bool:
    if caller.project_uid is None or platform.fault("project-not-checked"):
        return True
    return bool(cluster["project_uid"] == caller.project_uid)


async def _json_body(request: Request, media: str) -> bytes:
    """The request's body, of ``media`` type (BoundedBodies has kept it to _MAX_BODY_BYTES)."""
    sent = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if sent != media:
        raise ApiError(415, "UnsupportedMediaType", f"send {media}, not {sent!r}")
    return await request.body()


def _profile_updates(body: bytes) -> models.ProfileUpdates:
    try:
        return models.ProfileUpdates.model_validate_json(body, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the body"
        raise ApiError(400, "InvalidRequest", f"{where}: {first['msg']} (send {{\"profiles\": [{{\"uid\": PROFILE, "
                                              "\"packValues\": [{\"name\": PACK, \"tag\": VERSION}]}]})") from None


def _kubernetes_version(updates: models.ProfileUpdates, cluster: sqlite3.Row) -> str:
    """The Kubernetes version the updates ask for: every profile and pack they name must be the cluster's, and
    a pack named more than once takes the last tag given, as each entry is applied in turn."""
    version = ""
    for profile in updates.profiles:
        if profile.uid != cluster["profile_uid"]:
            raise ApiError(404, "ResourceNotFound", f"cluster profile {profile.uid} is not attached to spectrocluster "
                                                    f"{cluster['uid']}")
        for pack in profile.packValues:
            if pack.name != KUBERNETES_PACK:
                raise ApiError(404, "ResourceNotFound", f"pack {pack.name} is not in cluster profile {profile.uid}")
            version = pack.tag
    return version


def _annotation_patch(body: bytes) -> dict[str, str | None]:
    """The annotations a merge patch sets (a string) or removes (null); a patch of anything else is refused."""
    try:
        document = json.loads(body)
    except ValueError:
        raise ApiError(400, "InvalidRequest", "the body is not JSON") from None
    try:
        patch = models.AnnotationsPatch.model_validate(document, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the patch"
        raise ApiError(422, "InvalidRequest", f"{where}: {first['msg']} (only metadata.annotations may change, "
                                              "each to a string or null)") from None
    return patch.metadata.annotations
