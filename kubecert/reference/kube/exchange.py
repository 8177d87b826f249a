"""One exchange with the reference cluster's API, free of HTTP: the request that matters (method, target,
the headers read, the body, who is asking) and the answer (status, body, content type)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kubecert.reference.kube.auth import Identity
from kubecert.reference.kube.tables import JSON


@dataclass(frozen=True)
class ApiRequest:
    method: str
    target: str  # the request target: path and query
    identity: Identity | None = None
    accept: str = ""
    content_type: str = ""
    body: bytes = b""


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: bytes
    content_type: str = JSON


def json_response(status: int, document: Any, content_type: str = JSON) -> ApiResponse:
    return ApiResponse(status, json.dumps(document).encode(), content_type)
