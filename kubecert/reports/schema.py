"""The JSON Schema of ``kubecert.report/v1.N`` (versions.py), generated from the report's types (results.py).

``python -m kubecert.reports.schema`` prints it; the package ships it as report.schema.json, and a test
keeps the shipped file equal to what this module generates. Evidence entries are open objects (each
rule adds its own facts) with ``subject``, ``status`` and ``detail`` always present.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import json
import types
import typing
from importlib import resources
from typing import Any

from kubecert.reports.results import SCHEMA, Report
from kubecert.reports.versions import REPORT

SCHEMA_ID = REPORT.id_for("report")
_EVIDENCE_ENTRY = {
    "type": "object",
    "required": ["subject", "status", "detail"],
    "properties": {
        "subject": {"type": "string"},
        "status": {"type": "string", "enum": ["passed", "failed", "error", "skipped", "not_applicable"]},
        "detail": {"type": "string"},
    },
}


def generate() -> dict[str, Any]:
    definitions: dict[str, Any] = {}
    root = _object(Report, definitions)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": SCHEMA,
        "description": "kubecert's canonical report: every rule judged on every target, with its evidence.",
        **root,
        "$defs": dict(sorted(definitions.items())),
    }


def shipped() -> dict[str, Any]:
    """The schema the package ships (report.schema.json)."""
    text = resources.files("kubecert.reports").joinpath("report.schema.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def _object(cls: type, definitions: dict[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        schema = _type(hints[f.name], definitions, f.name)
        if "doc" in f.metadata:
            schema = {**schema, "description": f.metadata["doc"]}
        if "const" in f.metadata:
            schema = {**schema, "const": f.metadata["const"]}
        if "format" in f.metadata:
            schema = _formatted(schema, "format", f.metadata["format"])
        if "pattern" in f.metadata:
            schema = _formatted(schema, "pattern", f.metadata["pattern"])
        if "since" in f.metadata:
            schema = {**schema, "x-since": f.metadata["since"]}
        properties[f.name] = schema
        if not f.metadata.get("omit_if_none"):
            required.append(f.name)
    return {"type": "object", "required": required, "properties": properties, "additionalProperties": False}


def _formatted(schema: dict[str, Any], keyword: str, value: str) -> dict[str, Any]:
    """``schema`` with ``keyword`` (format, pattern) on its string (a field that may be null: its string choice)."""
    if "anyOf" in schema:
        return {**schema, "anyOf": [_formatted(choice, keyword, value) for choice in schema["anyOf"]]}
    return {**schema, keyword: value} if schema.get("type") == "string" else schema


_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _type(hint: Any, definitions: dict[str, Any], name: str) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    if origin is not None:
        return _generic(origin, typing.get_args(hint), definitions, name)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"type": "string", "enum": [m.value for m in hint]}
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if hint.__name__ not in definitions:
            definitions[hint.__name__] = {}  # a placeholder first: a type may refer to itself
            definitions[hint.__name__] = _object(hint, definitions)
        return {"$ref": f"#/$defs/{hint.__name__}"}
    if hint in _SIMPLE:
        return {"type": _SIMPLE[hint]}
    if hint is Any:
        return {}
    raise TypeError(f"no JSON Schema for {hint!r} ({name})")


def _generic(origin: Any, arguments: tuple[Any, ...], definitions: dict[str, Any], name: str) -> dict[str, Any]:
    if origin in (types.UnionType, typing.Union):
        choices = [_type(a, definitions, name) for a in arguments if a is not type(None)]
        schema = choices[0] if len(choices) == 1 else {"anyOf": choices}
        return {"anyOf": [schema, {"type": "null"}]} if type(None) in arguments else schema
    if origin in (list, tuple, collections.abc.Sequence):
        item = arguments[0] if arguments else Any
        if name == "evidence":
            return {"type": "array", "items": _EVIDENCE_ENTRY}
        return {"type": "array", "items": _type(item, definitions, name)}
    if origin is dict:
        key, value = arguments
        mapping: dict[str, Any] = {"type": "object"}
        if isinstance(key, type) and issubclass(key, enum.Enum):
            mapping["required"] = [m.value for m in key]
            mapping["additionalProperties"] = False
            mapping["properties"] = {m.value: _type(value, definitions, name) for m in key}
        elif value is not Any:
            mapping["additionalProperties"] = _type(value, definitions, name)
        return mapping
    raise TypeError(f"no JSON Schema for {origin!r} ({name})")


if __name__ == "__main__":
    print(json.dumps(generate(), indent=2))
