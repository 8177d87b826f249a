"""The API's OpenAPI document (``GET /openapi.json``, no key needed: it holds no data).

FastAPI writes it from the routes; this module adds what FastAPI cannot know: the error answers each
route gives (Palette's error body, ``Retry-After`` on 429), the request bodies the routes read themselves
(the merge patch, the profile updates), and it drops FastAPI's own 422 validation answer, which this API
never gives (a malformed request is a 400).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from kubecert._version import __version__
from kubecert.reference.api.models import AnnotationsPatch, ErrorBody, ProfileUpdates

OPENAPI_PATH = "/openapi.json"
DESCRIPTION = ("The routes of the Palette API that kubecert uses, served by kubecert's reference platform: a "
               "cluster, its certificates and their renewal, its profile updates (a Kubernetes upgrade), its machine "
               "pools and machines, and its in-cluster SpectroCluster object. Every error answers Palette's error "
               "body.")
MERGE_PATCH = "application/merge-patch+json"
JSON = "application/json"
BODIES: tuple[type[BaseModel], ...] = (AnnotationsPatch, ProfileUpdates)  # read from the raw body by their routes
_REF = "#/components/schemas/{model}"

_MEANINGS = {
    400: "The request is malformed (a parameter of the wrong type, an unknown continue token, a body that is not "
         "the documented shape).",
    401: "No API key, or not the tenant's.",
    403: "The ProjectUid is not one of the tenant's projects.",
    404: "No such object in the caller's scope.",
    409: "A certificate renewal or an upgrade is already in progress; nothing was started.",
    413: "The request body is larger than 64 KiB (refused by its Content-Length before it is read).",
    415: "The body is not of the documented media type.",
    422: "The merge patch changes something other than annotations, or an annotation to a non-string.",
    429: "Too many requests; retry after Retry-After seconds. Requests without a valid key have a budget of "
         "their own.",
}
READ_ERRORS = (400, 401, 403, 404, 429)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` entries of a route's error answers."""
    described: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorBody, "description": _MEANINGS[status]}
        if status == 429:
            entry["headers"] = {"Retry-After": {"description": "Seconds to wait.", "required": True,
                                                "schema": {"type": "integer", "minimum": 1}}}
        described[status] = entry
    return described


def merge_patch_body() -> dict[str, Any]:
    """The ``openapi_extra`` of a route that takes a merge patch of annotations (read from the raw body)."""
    return body(AnnotationsPatch, MERGE_PATCH)


def body(model: type[BaseModel], media: str = JSON) -> dict[str, Any]:
    """The ``openapi_extra`` of a route that reads a ``model`` from its raw body (one of ``BODIES``)."""
    assert model in BODIES, f"add {model.__name__} to BODIES, so that the document has its schema"
    return {"requestBody": {"required": True, "content": {
        media: {"schema": {"$ref": _REF.format(model=model.__name__)}}}}}


def install(app: FastAPI) -> None:
    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _build(app)
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def _build(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(title=app.title, version=__version__, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", ()):
                parameter["schema"] = _not_null(parameter["schema"])
            answer = operation.get("responses", {}).get("422", {})
            if "HTTPValidationError" in str(answer.get("content", {})):
                del operation["responses"]["422"]
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for model in BODIES:
        described = model.model_json_schema(ref_template=_REF)
        components.update(described.pop("$defs", {}))
        components[model.__name__] = described
    return schema


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional parameter's schema without its ``null`` alternative: a header or query value left out is
    absent, never null."""
    alternatives = [a for a in schema.get("anyOf", ()) if a != {"type": "null"}]
    if "anyOf" not in schema or len(alternatives) != 1:
        return schema
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**alternatives[0], **rest}
