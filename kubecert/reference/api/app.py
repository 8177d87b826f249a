"""The Palette-like HTTP API of the reference platform (FastAPI): the Palette API's routes (spec/routes.json
names each as the SDK defines it), answering with the SDK's models (spec/models.json).

- ``GET /v1/spectroclusters/{uid}``: the cluster object (``resolvePackValues``, ``includeTags``, ... taken)
- ``GET /v1/spectroclusters/{uid}/k8certificates``: each control-plane machine's certificates
- ``PUT /v1/spectroclusters/{uid}/k8certificates``: refused to an API key (the cluster reports its own)
- ``PATCH /v1/spectroclusters/{uid}/k8certificates/renew``: 204, empty; the renewal runs afterwards
- ``GET /v1/clusterprofiles/{uid}``: a version of a cluster's profile
- ``PATCH /v1/spectroclusters/{uid}/profiles``: profile updates; another version of the attached profile
  (``replaceWithProfile``) upgrades the cluster to its Kubernetes release (204, empty; the upgrade runs afterwards)
- ``GET /v1/cloudconfigs/aws/{configUid}``: the machine pools
- ``GET /v1/cloudconfigs/aws/{configUid}/machinePools/{machinePoolName}/machines``: paged, ``listmeta``
- ``GET /v1/spectroclusters/{uid}/repave/status``, ``PATCH .../repave/approve``, ``POST .../validate/repave``:
  the repave's approval state, its approval, and whether profile updates would repave (``repave``)

``GET /openapi.json`` describes them all. The SpectroCluster object is not here: it lives in the cluster, behind
the Kubernetes-style API (cluster_api.py).
"""


import sqlite3
import time
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from kubecert.reference.api import documents, errors, openapi, profiles, repave
from kubecert.reference.api.auth import AddressBudgets, Caller, Gate, RequestBudget, anonymous_rate
from kubecert.reference.api.bodies import BoundedBodies
from kubecert.reference.api.errors import ApiError
from kubecert.reference.api.openapi import JSON, READ_ERRORS
from kubecert.reference.api.profile_updates import requested_release
from kubecert.reference.platform.engine import Platform
from kubecert.reference.platform.worker import PlatformWorker

_WAIT_LIMIT_S = 900.0  # the renew-waits-for-repave fault gives up waiting after this long
_MAX_BODY_BYTES = 64 * 1024  # profile updates and listings alike; the reads take none
_CLOUD = "aws"  # the reference's clusters are AWS clusters: their cloud config routes are the SDK's AWS ones


def create_app(platform: Platform, worker: PlatformWorker, api_key: str, *, rate: float = 200.0,
               rate_per_address: float = 0.0) -> FastAPI:
    app = FastAPI(title="kubecert reference Palette API", description=openapi.DESCRIPTION, docs_url=None,
                  redoc_url=None, openapi_url=openapi.OPENAPI_PATH)
    errors.install(app, echo_key=platform.fault("echo-key"))
    openapi.install(app)
    app.add_middleware(BoundedBodies, limit=_MAX_BODY_BYTES)
    with platform.store.snapshot() as db:
        projects = {row["uid"] for row in db.execute("SELECT uid FROM projects")}
    gate = Gate(api_key, projects, check_key=not platform.fault("no-auth"),
                check_project=not platform.fault("project-not-checked"), budget=RequestBudget(rate),
                anonymous=RequestBudget(anonymous_rate(rate)), per_address=AddressBudgets(rate_per_address))
    authorized = Annotated[Caller, Depends(gate)]
    _cluster_routes(app, platform, authorized)
    _certificate_routes(app, platform, worker, authorized)
    _profile_routes(app, platform, worker, authorized)
    _cloud_config_routes(app, platform, authorized)
    return app


def _cluster_row(platform: Platform, db: sqlite3.Connection, caller: Caller, uid: str) -> sqlite3.Row:
    row: sqlite3.Row | None = db.execute("SELECT * FROM clusters WHERE uid = ?", (uid,)).fetchone()
    if row is None or not _visible(platform, caller, row):
        raise ApiError(404, "ResourceNotFound", f"spectrocluster {errors.bounded(uid, 64)} not found")
    return row


def _cluster_routes(app: FastAPI, platform: Platform, Authorized: Any) -> None:
    @app.get("/v1/spectroclusters/{uid}", response_model=None, operation_id="V1SpectroClustersGet",
             summary="The cluster object", responses=openapi.answers("V1SpectroCluster", *READ_ERRORS))
    def get_cluster(
        uid: str, request: Request, caller: Authorized, *,
        resolvePackValues: Annotated[bool, Query(description="With the packs' values resolved.")] = False,
        includeNonSpectroLabels: Annotated[bool, Query(description="The reference keeps no other labels.")] = False,
        includeTags: Annotated[str | None, Query(description="Comma separated tags like system,profile; the "
                                                             "reference keeps no tags.")] = None,
        includePackMeta: Annotated[str | None, Query(description="The reference keeps no pack meta.")] = None,
        profileType: Annotated[str | None, Query(description="Filters the profile templates by type.")] = None,
    ) -> dict[str, Any]:
        if platform.fault("cluster-query-refused") and request.query_params:
            raise ApiError(400, "InvalidRequest", "unknown query parameter")
        with platform.store.snapshot() as db:
            document = documents.cluster_document(db, _cluster_row(platform, db, caller, uid),
                                                  resolve_values=resolvePackValues)
        if profileType is not None:
            templates = document["spec"]["clusterProfileTemplates"]
            document["spec"]["clusterProfileTemplates"] = [t for t in templates if t["type"] == profileType]
        return document


def _certificate_routes(app: FastAPI, platform: Platform, worker: PlatformWorker, Authorized: Any) -> None:
    @app.get("/v1/spectroclusters/{uid}/k8certificates", response_model=None,
             operation_id="V1SpectroClustersK8Certificate", summary="Each control-plane machine's certificates",
             responses=openapi.answers("V1MachineCertificates", *READ_ERRORS))
    def get_certificates(uid: str, caller: Authorized) -> dict[str, Any]:
        with platform.store.snapshot() as db:
            return documents.certificates_document(platform, db, _cluster_row(platform, db, caller, uid))

    overwrite = app.put(
        "/v1/spectroclusters/{uid}/k8certificates", response_model=None, status_code=204,
        operation_id="V1SpectroClustersK8CertificateUpdate",
        summary="Overwrite the certificate listing: the cluster's own report, refused to an API key",
        responses=openapi.answers(None, *READ_ERRORS, 413, status=204),
        openapi_extra=openapi.body("V1SpectroClusterK8sCertificate"),
    )
    if platform.fault("listing-put-unchecked"):
        @overwrite
        def put_certificates_unchecked(uid: str) -> Response:
            return Response(status_code=204)  # the fault: no key, project or permission is checked
    else:
        @overwrite
        def put_certificates(uid: str, caller: Authorized) -> Response:
            with platform.store.snapshot() as db:
                _cluster_row(platform, db, caller, uid)
            raise ApiError(403, "ResourceAccessDenied", "an API key cannot overwrite a cluster's certificate "
                                                        "listing: the cluster reports its own certificates")

    @app.patch("/v1/spectroclusters/{uid}/k8certificates/renew", response_model=None, status_code=204,
               operation_id="V1SpectroClustersCertificatesRenew",
               summary="Request a renewal of the cluster's certificates",
               responses=openapi.answers(None, *READ_ERRORS, 409, status=204))
    def renew(uid: str, caller: Authorized) -> Response:
        with platform.store.snapshot() as db:
            _cluster_row(platform, db, caller, uid)
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


def _profile_routes(app: FastAPI, platform: Platform, worker: PlatformWorker, Authorized: Any) -> None:
    @app.get("/v1/clusterprofiles/{uid}", response_model=None, operation_id="V1ClusterProfilesGet",
             summary="A version of a cluster profile", responses=openapi.answers("V1ClusterProfile", *READ_ERRORS))
    def get_profile(uid: str, caller: Authorized) -> dict[str, Any]:
        with platform.store.snapshot() as db:
            for cluster in db.execute("SELECT * FROM clusters ORDER BY name").fetchall():
                version = profiles.versions(cluster).get(uid)
                if version is not None and _visible(platform, caller, cluster):
                    return documents.profile_document(version, cluster["created_at"])
        raise ApiError(404, "ResourceNotFound", f"cluster profile {errors.bounded(uid, 64)} not found")

    @app.patch("/v1/spectroclusters/{uid}/profiles", response_model=None, status_code=204,
               operation_id="V1SpectroClustersPatchProfiles",
               summary="Apply cluster profile updates: another version of the attached profile upgrades the cluster",
               response_description="Accepted; the upgrade runs afterwards (nothing runs when the release is the "
                                    "cluster's own).",
               responses=openapi.answers(None, *READ_ERRORS, 409, 413, 415, status=204),
               openapi_extra=openapi.body("V1SpectroClusterProfiles"))
    async def update_profiles(
        uid: str, request: Request, caller: Authorized, *,
        resolveNotification: Annotated[bool, Query(description="Resolve the cluster's pending notification "
                                                               "(what the SDK's own client sends).")] = False,
    ) -> Response:
        with platform.store.snapshot() as db:
            _cluster_row(platform, db, caller, uid)
        body = await _json_body(request)
        with platform.store.snapshot() as db:
            release = requested_release(body, db, _cluster_row(platform, db, caller, uid))
        outcome = platform.request_upgrade(uid, release)
        worker.wake()
        if not outcome.started and outcome.renewal_id is not None:
            raise ApiError(409, "ClusterUpdateInProgress", outcome.reason)
        return Response(status_code=204)

    async def release_asked(request: Request, cluster: sqlite3.Row) -> str:
        body = await _json_body(request)
        with platform.store.snapshot() as db:
            return requested_release(body, db, cluster, model="V1SpectroClusterPacksEntity")

    def cluster_row(db: sqlite3.Connection, caller: Caller, uid: str) -> sqlite3.Row:
        return _cluster_row(platform, db, caller, uid)

    repave.install(app, platform, worker, Authorized, cluster_row=cluster_row, release_asked=release_asked)


def _cloud_config_routes(app: FastAPI, platform: Platform, Authorized: Any) -> None:
    def config_row(db: sqlite3.Connection, caller: Caller, config_uid: str) -> sqlite3.Row:
        row: sqlite3.Row | None = db.execute(
            "SELECT * FROM clusters WHERE config_uid = ? AND cloud_type = ?", (config_uid, _CLOUD)).fetchone()
        if row is None or not _visible(platform, caller, row):
            raise ApiError(404, "ResourceNotFound", f"{_CLOUD} cloud config {errors.bounded(config_uid, 64)} not found")
        return row

    @app.get(f"/v1/cloudconfigs/{_CLOUD}/{{configUid}}", response_model=None, operation_id="V1CloudConfigsAwsGet",
             summary="The cluster's machine pools", responses=openapi.answers("V1AwsCloudConfig", *READ_ERRORS))
    def get_cloud_config(configUid: str, caller: Authorized) -> dict[str, Any]:
        with platform.store.snapshot() as db:
            return documents.cloud_config_document(db, config_row(db, caller, configUid))

    @app.get(f"/v1/cloudconfigs/{_CLOUD}/{{configUid}}/machinePools/{{machinePoolName}}/machines", response_model=None,
             operation_id="V1CloudConfigsAwsPoolMachinesList", summary="A page of a machine pool's machines",
             responses=openapi.answers("V1AwsMachines", *READ_ERRORS))
    def get_machines(
        configUid: str, machinePoolName: str, *, caller: Authorized,
        limit: Annotated[int, Query(ge=1, description=f"Page size; at most {documents.PAGE_LIMIT} are given.")
                         ] = documents.PAGE_LIMIT,
        offset: Annotated[int, Query(ge=0)] = 0,
        continue_: Annotated[str | None, Query(alias="continue", pattern=documents.CONTINUE_PATTERN,
                                               description="The previous page's token (then offset is ignored).")
                             ] = None,
    ) -> dict[str, Any]:
        start = int(continue_) if continue_ else offset
        with platform.store.snapshot() as db:
            cluster = config_row(db, caller, configUid)
            if db.execute("SELECT 1 FROM pools WHERE cluster_uid = ? AND name = ?",
                          (cluster["uid"], machinePoolName)).fetchone() is None:
                raise ApiError(404, "ResourceNotFound", f"machine pool {errors.bounded(machinePoolName, 64)} not found")
            return documents.machines_page(db, cluster, machinePoolName, start, min(limit, documents.PAGE_LIMIT))


def _visible(platform: Platform, caller: Caller, cluster: sqlite3.Row) -> bool:
    if caller.project_uid is None or platform.fault("project-not-checked"):
        return True
    return bool(cluster["project_uid"] == caller.project_uid)


async def _json_body(request: Request) -> bytes:
    """The request's JSON body (BoundedBodies has kept it to _MAX_BODY_BYTES)."""
    sent = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if sent != JSON:
        raise ApiError(415, "UnsupportedMediaType", f"send {JSON}, not {errors.bounded(sent, 64)!r}")
    return await request.body()
