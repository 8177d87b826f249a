"""The API's OpenAPI document (``GET /openapi.json``, no key needed: it holds no data).

FastAPI writes it from the routes; this module adds what FastAPI cannot know: the SDK's models each route
answers with or reads (spec/models.json, as the document's components), the error answers each route gives
(the SDK's V1Error, ``Retry-After`` on 429), and it drops FastAPI's own 422 validation answer, which this API
never gives (a malformed request is a 400).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from kubecert._version import __version__
from kubecert.reference.api import models

OPENAPI_PATH = "/openapi.json"
DESCRIPTION = ("The routes of the Palette API that kubecert uses, served by kubecert's reference platform: a "
               "cluster, its certificates and their renewal, its cluster profile versions and the profile updates "
               "that apply one (a Kubernetes upgrade), its machine pools and machines. Answers and bodies are the "
               "models of the Palette API's generated Go SDK (spectrocloud/palette-sdk-go); every error answers its "
               "V1Error.")
JSON = "application/json"
ERROR_MODEL = "V1Error"
_REF = "#/components/schemas/{model}"

_MEANINGS = {
    400: "The request is malformed (a parameter of the wrong type, an unknown continue token, a body that is not "
         "the SDK's model, a profile update the reference cannot apply).",
    401: "No API key, or not the tenant's.",
    403: "The ProjectUid is not one of the tenant's projects, or the key may not do this (an API key cannot "
         "overwrite a cluster's certificate listing).",
    404: "No such object in the caller's scope.",
    409: "A certificate renewal or an upgrade is already in progress; nothing was started.",
    413: "The request body is larger than 64 KiB (refused by its Content-Length before it is read).",
    415: "The body is not of the documented media type.",
    429: "Too many requests; retry after Retry-After seconds. Requests without a valid key have a budget of "
         "their own.",
}
READ_ERRORS = (400, 401, 403, 404, 429)


def schema(model: str) -> dict[str, Any]:
    """A reference to one of the SDK's models, as the document's components hold them."""
    assert model in models.models()["$defs"], f"{model} is not in spec/models.json"
    return {"$ref": _REF.format(model=model)}


def answers(model: str | None, *statuses: int, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """A route's documented answers: ``model`` for ``status`` (None: no body), then its errors."""
    success: dict[str, Any] = {"description": "OK" if model else "Done; no body."}
    if model is not None:
        success["content"] = {JSON: {"schema": schema(model)}}
    return {status: success, **errors(*statuses)}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` entries of a route's error answers."""
    described: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"description": _MEANINGS[status], "content": {JSON: {"schema": schema(ERROR_MODEL)}}}
        if status == 429:
            entry["headers"] = {"Retry-After": {"description": "Seconds to wait.", "required": True,
                                                "schema": {"type": "integer", "minimum": 1}}}
        described[status] = entry
    return described


def body(model: str) -> dict[str, Any]:
    """The ``openapi_extra`` of a route that reads one of the SDK's models from its raw body."""
    return {"requestBody": {"required": True, "content": {JSON: {"schema": schema(model)}}}}


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
    # The SDK's models, their references turned from the file's "#/$defs/X" to the document's components.
    defined = json.dumps(models.models()["$defs"]).replace('"#/$defs/', '"#/components/schemas/')
    components.update(json.loads(defined))
    return schema


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional parameter's schema without its ``null`` alternative: a header or query value left out is
    absent, never null."""
    alternatives = [a for a in schema.get("anyOf", ()) if a != {"type": "null"}]
    if "anyOf" not in schema or len(alternatives) != 1:
        return schema
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**alternatives[0], **rest}
