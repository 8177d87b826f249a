"""The shapes of the API's documents, for its OpenAPI document.

The routes build their answers as plain dicts (``documents``) and do not pass them through these
models: the models only describe them, and the schema tests check that every answer fits. Every model
forbids fields it does not name, so a field the server adds without describing it is caught.
Field names are the API's own (camelCase).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(_Shape):
    """Palette's error body."""

    code: str = Field(examples=["ResourceNotFound"])
    message: str
    ref: str = Field(description="A reference for this one error, to quote to support.", pattern="^[0-9a-f]{16}$")
    details: dict[str, Any]


# --- the cluster

class ObjectMetadata(_Shape):
    uid: str
    name: str
    annotations: dict[str, str]
    labels: dict[str, str]
    creationTimestamp: dt.datetime


class CloudConfigRef(_Shape):
    kind: str
    uid: str


class ClusterSpec(_Shape):
    cloudType: str
    cloudConfigRef: CloudConfigRef


class Condition(_Shape):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    lastTransitionTime: dt.datetime


class RepaveStatus(_Shape):
    state: Literal["", "Pending", "Approved", "Reverted"] = Field(
        description="The latest repave's approval state (the SDK's v1ClusterRepaveState): Pending while it waits for "
                    "approval, Approved once approved or when it needed none; empty when the cluster never repaved.")


class ClusterPackStatus(_Shape):
    name: str = Field(description="The pack's name, e.g. kubernetes.")
    profileUid: str = Field(description="The cluster profile the pack belongs to.")
    version: str = Field(description="The pack version the cluster runs; it changes when an upgrade has completed.")


class ClusterStatus(_Shape):
    state: Literal["Pending", "Provisioning", "Running", "Deleting", "Deleted"]
    conditions: list[Condition]
    repave: RepaveStatus
    packs: list[ClusterPackStatus]


class SpectroCluster(_Shape):
    apiVersion: str
    kind: Literal["SpectroCluster"]
    metadata: ObjectMetadata
    spec: ClusterSpec
    status: ClusterStatus


# --- the certificate listing

class Certificate(_Shape):
    name: str
    expiry: dt.datetime


class CertificateAuthority(_Shape):
    name: str
    expiry: dt.datetime
    certificates: list[Certificate]


class MachineCertificates(_Shape):
    name: str = Field(description="The control-plane machine's name.")
    certificateAuthorities: list[CertificateAuthority]


class K8sCertificates(_Shape):
    machineCertificates: list[MachineCertificates]


# --- machine pools and machines

class UpdateStrategy(_Shape):
    type: Literal["RollingUpdateScaleOut", "RollingUpdateScaleIn"]


class MachinePoolConfig(_Shape):
    name: str
    isControlPlane: bool
    size: int = Field(ge=0)
    updateStrategy: UpdateStrategy


class CloudConfigMetadata(_Shape):
    uid: str
    name: str


class CloudConfigSpec(_Shape):
    machinePoolConfig: list[MachinePoolConfig]


class CloudConfig(_Shape):
    metadata: CloudConfigMetadata
    spec: CloudConfigSpec


class MachineMetadata(_Shape):
    name: str
    uid: str
    creationTimestamp: dt.datetime
    deletionTimestamp: dt.datetime | None = Field(None, description="Present once the machine is being deleted.")


class Address(_Shape):
    type: Literal["InternalIP", "Hostname"]
    address: str


class Health(_Shape):
    state: Literal["Healthy", "Unhealthy", "Unknown"]


class MachineStatus(_Shape):
    instanceState: Literal[
        "Pending", "Provisioning", "Provisioned", "Running", "Deleting", "Deleted", "Failed", "Unknown"]
    ready: bool
    health: Health
    addresses: list[Address]


class Machine(_Shape):
    metadata: MachineMetadata
    status: MachineStatus


class ListMeta(_Shape):
    continue_: str = Field(alias="continue", description="The token of the next page; empty on the last page.")
    count: int = Field(ge=0, description="How many machines the pool has in all.")
    limit: int = Field(ge=1)
    offset: int = Field(ge=0)


class MachineList(_Shape):
    items: list[Machine]
    listmeta: ListMeta


# --- the in-cluster SpectroCluster object

class SpcMetadata(_Shape):
    name: str
    namespace: str
    uid: str
    annotations: dict[str, str]
    creationTimestamp: dt.datetime
    generation: int
    resourceVersion: str


class SpcSpec(_Shape):
    clusterUid: str


class SpectroClusterObject(_Shape):
    apiVersion: str
    kind: Literal["SpectroCluster"]
    metadata: SpcMetadata
    spec: SpcSpec


class AnnotationsPatchMetadata(_Shape):
    annotations: dict[str, str | None] = Field(
        default_factory=dict, description="A string sets an annotation, null removes it.")


class AnnotationsPatch(_Shape):
    """A JSON merge patch (RFC 7386) of the object's annotations: the only part of it that may change."""

    metadata: AnnotationsPatchMetadata = Field(default_factory=AnnotationsPatchMetadata)


# --- cluster profile updates (an upgrade)

VERSION_PATTERN = r"^v?[0-9]{1,4}\.[0-9]{1,4}(\.[0-9]{1,4})?$"


class PackValues(_Shape):
    name: str = Field(min_length=1, description="The pack to change; the reference's profiles have one, kubernetes.")
    tag: str = Field(pattern=VERSION_PATTERN, description="The pack version to apply, e.g. 1.31.5.")


class ProfileUpdate(_Shape):
    uid: str = Field(min_length=1, description="The uid of a cluster profile attached to the cluster.")
    packValues: list[PackValues] = Field(min_length=1, description="The packs to change and their new versions.")


class ProfileUpdates(_Shape):
    """Palette's cluster profile updates (SpectroClusterProfiles), the part the reference reads: each profile
    by uid, with the packs whose version changes. A new Kubernetes pack version upgrades the cluster."""

    profiles: list[ProfileUpdate] = Field(min_length=1)
