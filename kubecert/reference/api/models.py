"""The Palette API's shapes as the project's own JSON Schema: ``spec/models.json`` holds the SDK's models that
kubecert and the reference use (each names its file in spectrocloud/palette-sdk-go's api/models), and
``spec/routes.json`` the SDK's routes they use, with their query parameters, bodies and answers.

The reference server reads request bodies against these models and its OpenAPI document describes its
answers with them; the project's tests validate every answer the server gives against them. Every object
lists the SDK model's properties and no others, so a field the server invented is caught.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

MAX_PROBLEMS = 3  # a refused body is described by its first few problems, not all of them


@functools.cache
def models() -> dict[str, Any]:
    """spec/models.json: ``$defs`` holds one schema per SDK model."""
    document: dict[str, Any] = json.loads(resources.files(__package__).joinpath("spec/models.json").read_text())
    return document


@functools.cache
def routes() -> tuple[dict[str, Any], ...]:
    """spec/routes.json's routes: method, path (the SDK's template), operation, query parameters, body, answer."""
    document = json.loads(resources.files(__package__).joinpath("spec/routes.json").read_text())
    return tuple(document["routes"])


@functools.cache
def validator(model: str) -> Draft202012Validator:
    """A validator for one model of models.json (KeyError for a name it does not define)."""
    definitions = models()["$defs"]
    if model not in definitions:
        raise KeyError(model)
    return Draft202012Validator({"$ref": f"#/$defs/{model}", "$defs": definitions})


def problems(model: str, document: Any) -> list[str]:
    """Where ``document`` breaks ``model``: each as ``path: what``, shortest paths first."""
    found = sorted(validator(model).iter_errors(document), key=lambda e: (len(e.absolute_path), str(e.message)))
    return [f"{'.'.join(str(p) for p in error.absolute_path) or '(the document)'}: {error.message}" for error in found]
