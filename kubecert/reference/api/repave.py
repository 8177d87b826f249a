"""The repave routes of the Palette API (the SDK's ``V1SpectroClustersUIDRepave*``), served by the reference:

- ``GET /v1/spectroclusters/{uid}/repave/status``: 200, the cluster's latest repave (``v1SpectroClusterRepave``:
  spec.reasons, status.state Pending while it waits for approval, Approved once approved)
- ``PATCH /v1/spectroclusters/{uid}/repave/approve``: 204, no body; the repave held for approval goes on
  (with none held, nothing changes)
- ``POST /v1/spectroclusters/{uid}/validate/repave``: 200, whether the profile updates in the body would repave
  the cluster (``v1SpectroClusterRepaveValidationResponse``); nothing changes
"""

# No `from __future__ import annotations`: FastAPI reads the routes' parameter annotations as objects.
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from kubecert.reference.api import openapi
from kubecert.reference.api.documents import rfc3339
from kubecert.reference.api.openapi import READ_ERRORS
from kubecert.reference.platform.engine import Platform, upgrade_reason
from kubecert.reference.platform.worker import PlatformWorker

ClusterRow = Callable[[sqlite3.Connection, Any, str], sqlite3.Row]  # the cluster the caller may see, else a 404
ReleaseAsked = Callable[[Request, sqlite3.Row], Awaitable[str]]  # the Kubernetes release a profiles body asks for


def install(app: FastAPI, platform: Platform, worker: PlatformWorker, authorized: Any, *, cluster_row: ClusterRow,
            release_asked: ReleaseAsked) -> None:
    @app.get("/v1/spectroclusters/{uid}/repave/status", response_model=None,
             operation_id="V1SpectroClustersUIDRepaveGet",
             summary="The cluster's latest repave: why, and whether it waits for approval",
             responses=openapi.answers("V1SpectroClusterRepave", *READ_ERRORS))
    def repave_status(uid: str, caller: authorized) -> dict[str, Any]:
        with platform.store.snapshot() as db:
            cluster = cluster_row(db, caller, uid)
            status = platform.repave_status(db, uid)
        document: dict[str, Any] = {"metadata": {"uid": cluster["uid"], "name": cluster["name"]},
                                    "spec": {"reasons": [], "spectroClusterUid": cluster["uid"]}, "status": {}}
        if status is not None:
            document["spec"]["reasons"] = [{"code": code, "message": message} for code, message in status.reasons]
            document["spec"]["source"] = "user"
            shown = {"state": status.state, "message": status.message,
                     "repaveTransitionTime": rfc3339(status.transition_time)}
            document["status"] = {name: value for name, value in shown.items() if value is not None}
        return document

    @app.patch("/v1/spectroclusters/{uid}/repave/approve", response_model=None, status_code=204,
               operation_id="V1SpectroClustersUIDRepaveApproveUpdate",
               summary="Approve the repave that waits for approval (with none waiting, nothing changes)",
               responses=openapi.answers(None, *READ_ERRORS, status=204))
    def approve(uid: str, caller: authorized) -> Response:
        with platform.store.snapshot() as db:
            cluster_row(db, caller, uid)
        if platform.approve_repave(uid):
            worker.wake()
        return Response(status_code=204)

    @app.post("/v1/spectroclusters/{uid}/validate/repave", response_model=None,
              operation_id="V1SpectroClustersUIDValidateRepave",
              summary="Whether profile updates would repave the cluster",
              responses=openapi.answers("V1SpectroClusterRepaveValidationResponse", *READ_ERRORS, 413, 415),
              openapi_extra=openapi.body("V1SpectroClusterPacksEntity"))
    async def validate(uid: str, request: Request, caller: authorized) -> dict[str, Any]:
        with platform.store.snapshot() as db:
            cluster = cluster_row(db, caller, uid)
        version = await release_asked(request, cluster)
        repaves = cluster["renewal_mode"] == "repave" and version not in ("", cluster["kubernetes_version"])
        reasons = [dict(zip(("code", "message"), upgrade_reason(version), strict=True))] if repaves else []
        return {"isRepaveRequired": repaves, "reasons": reasons}
