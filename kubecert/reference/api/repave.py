"""The repave routes of the Palette API (the SDK's ``V1SpectroClustersUIDRepave*``), served by the reference:

- ``GET /v1/spectroclusters/{uid}/repave/status``: 200, the cluster's latest repave (``v1SpectroClusterRepave``:
  spec.reasons, status.state Pending while it waits for approval, Approved once approved)
- ``PATCH /v1/spectroclusters/{uid}/repave/approve``: 204, no body; the repave held for approval goes on
  (with none held, nothing changes)
- ``POST /v1/spectroclusters/{uid}/validate/repave``: 200, whether the profile updates in the body would repave
  the cluster (``v1SpectroClusterRepaveValidationResponse``); nothing changes
"""

# No `from __future__ import annotations`: FastAPI reads the routes' parameter annotations as objects.
import datetime as dt
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from kubecert.reference.api import models, openapi
from kubecert.reference.api.documents import rfc3339
from kubecert.reference.api.openapi import READ_ERRORS
from kubecert.reference.platform.engine import Platform, upgrade_reason
from kubecert.reference.platform.worker import PlatformWorker

ClusterRow = Callable[[sqlite3.Connection, Any, str], sqlite3.Row]  # the cluster the caller may see, else a 404
VersionAsked = Callable[[Request, sqlite3.Row], Awaitable[str]]  # the Kubernetes version a profiles body asks for


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RepaveReason(_Shape):
    code: str = Field(examples=["CertificatesRenewal"])
    message: str


class RepaveMetadata(_Shape):
    uid: str
    name: str


class RepaveSpec(_Shape):
    reasons: list[RepaveReason]
    source: Literal["user", "hubble", "palette", "stylus"] | None = Field(
        default=None, description="Who asked for the repave (the SDK's v1ClusterRepaveSource); absent without one.")
    spectroClusterUid: str


class RepaveState(_Shape):
    state: Literal["Pending", "Approved", "Reverted"] | None = Field(
        default=None, description="Pending: the repave waits for approval; Approved: it was approved (or needed no "
                                  "approval). Absent when the cluster never repaved.")
    message: str | None = None
    repaveTransitionTime: dt.datetime | None = None


class SpectroClusterRepave(_Shape):
    metadata: RepaveMetadata
    spec: RepaveSpec
    status: RepaveState


class RepaveValidation(_Shape):
    isRepaveRequired: bool = Field(description="Whether the profile updates would repave the cluster.")
    reasons: list[RepaveReason]


def install(app: FastAPI, platform: Platform, worker: PlatformWorker, authorized: Any, *, cluster_row: ClusterRow,
            version_asked: VersionAsked) -> None:
    @app.get("/v1/spectroclusters/{uid}/repave/status", response_model=None, operation_id="getClusterRepaveStatus",
             summary="The cluster's latest repave: why, and whether it waits for approval",
             responses={200: {"model": SpectroClusterRepave}, **openapi.errors(*READ_ERRORS)})
    def repave_status(uid: str, caller: authorized) -> dict[str, Any]:
        with platform.store.snapshot() as db:
            cluster = cluster_row(db, caller, uid)
            status = platform.repave_status(db, uid)
        document: dict[str, Any] = {"metadata": {"uid": cluster["uid"], "name": cluster["name"]},
                                    "spec": {"reasons": [], "spectroClusterUid": cluster["uid"]}, "status": {}}
        if status is not None:
            document["spec"]["reasons"] = [{"code": code, "message": message} for code, message in status.reasons]
            document["spec"]["source"] = "user"
            document["status"] = {"state": status.state, "message": status.message,
                                  "repaveTransitionTime": rfc3339(status.transition_time)}
        return document

    @app.patch("/v1/spectroclusters/{uid}/repave/approve", response_model=None, status_code=204,
               operation_id="approveClusterRepave", summary="Approve the repave that waits for approval",
               response_description="Approved (with no repave waiting, nothing changes).",
               responses=openapi.errors(*READ_ERRORS))
    def approve(uid: str, caller: authorized) -> Response:
        with platform.store.snapshot() as db:
            cluster_row(db, caller, uid)
        if platform.approve_repave(uid):
            worker.wake()
        return Response(status_code=204)

    @app.post("/v1/spectroclusters/{uid}/validate/repave", response_model=None,
              operation_id="validateClusterRepave", summary="Whether profile updates would repave the cluster",
              responses={200: {"model": RepaveValidation}, **openapi.errors(*READ_ERRORS, 413, 415)},
              openapi_extra=openapi.body(models.ProfileUpdates))
    async def validate(uid: str, request: Request, caller: authorized) -> dict[str, Any]:
        with platform.store.snapshot() as db:
            cluster = cluster_row(db, caller, uid)
        version = await version_asked(request, cluster)
        repaves = cluster["renewal_mode"] == "repave" and version not in ("", cluster["kubernetes_version"])
        reasons = [dict(zip(("code", "message"), upgrade_reason(version), strict=True))] if repaves else []
        return {"isRepaveRequired": repaves, "reasons": reasons}
