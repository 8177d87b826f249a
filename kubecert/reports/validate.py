"""Validating a document read back against its JSON Schema (the report's generated one, or a baseline's), types
included, so that what reads it afterwards may index it without a traceback.

The schemas kubecert ships use a small part of JSON Schema, and this checks exactly that part: ``type``,
``enum``, ``const``, ``pattern``, ``required``, ``properties``, ``additionalProperties``, ``items``,
``anyOf``, local ``$ref``, and the formats ``date-time`` (RFC 3339 in UTC, as kubecert writes it) and
``date``. Beyond the schema, every string (keys too, and inside open objects such as evidence facts) is
bounded. The first problem found is returned as ``field.path: what is wrong``, with any text from the
document escaped.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from kubecert.text import escaped

MAX_STRING_CHARS = 4 << 20  # a message naming every offender, or a command's output kept as evidence (1 MiB)
# Integers past 2**53 mean different things to different JSON readers (RFC 7493); no count or day is that large.
MAX_SAFE_INTEGER = 2**53 - 1
_SHOWN_CHARS = 60
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME = re.compile(_DATE.pattern + r"T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z")
_WORDS = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false",
          "object": "an object", "array": "a list", "null": "null"}


class _Invalid(Exception):
    pass


def problem(document: Any, schema: Mapping[str, Any], minor: int | None = None, later: bool = False) -> str | None:
    """Where ``document`` first breaks ``schema``, and how; None when it is valid.

    ``minor``: the document's minor version: a field the schema marks as added in a later minor
    (``x-since``) is not required of it. ``later``: the document is of a later minor than ``schema``: a
    field the schema does not know is checked for size only and then removed from ``document``
    (versions.py says why)."""
    checker = _Checker(schema, minor, later)
    try:
        checker.check(document, schema, "")
    except _Invalid as exc:
        return str(exc)
    for holder, key in checker.unknown:
        del holder[key]
    return None


def since_minor(field: Mapping[str, Any]) -> int:
    """The minor version that added a field (its ``x-since``, "1.2"); 0 for one the first minor had."""
    since = field.get("x-since")
    return int(since.rsplit(".", 1)[-1]) if isinstance(since, str) else 0


def show_value(value: Any) -> str:
    """A value of the document as a message quotes it: escaped, and cut short."""
    text = f'"{value}"' if isinstance(value, str) else _kind(value)
    text = text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…"
    return escaped(text.encode("utf-8", "backslashreplace").decode("utf-8"))  # a lone surrogate as \ud800


def _kind(value: Any) -> str:
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    return "an object" if isinstance(value, dict) else "a list" if isinstance(value, list) else type(value).__name__


def field_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _NAME.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{show_value(key)}]"


_PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str, "integer": int, "number": (int, float), "boolean": bool, "object": dict, "array": list,
    "null": type(None),
}


def _is(value: Any, kind: str) -> bool:
    if isinstance(value, bool):  # a bool is an int to Python, never a number to JSON
        return kind == "boolean"
    return isinstance(value, _PYTHON_TYPES[kind])


class _Checker:
    def __init__(self, root: Mapping[str, Any], minor: int | None, later: bool) -> None:
        self.definitions: Mapping[str, Any] = root.get("$defs", {})
        self.minor = minor
        self.later = later
        self.unknown: list[tuple[dict[str, Any], str]] = []  # fields of a later minor, removed once all is valid

    def fail(self, path: str, message: str) -> _Invalid:
        return _Invalid(f"{path or 'the document'}: {message}")

    def check(self, value: Any, schema: Mapping[str, Any], path: str) -> None:
        reference = schema.get("$ref")
        if reference is not None:
            schema = self.definitions[reference.rsplit("/", 1)[-1]]
        if "anyOf" in schema:
            self._any_of(value, schema["anyOf"], path)
            return
        kind = schema.get("type")
        if kind is not None and not _is(value, kind):
            raise self.fail(path, f"expected {_WORDS[kind]}, got {show_value(value)}")
        if "const" in schema and value != schema["const"]:
            raise self.fail(path, f"expected {show_value(schema['const'])}, got {show_value(value)}")
        if "enum" in schema and value not in schema["enum"]:
            raise self.fail(path, f"{show_value(value)} is not one of {', '.join(schema['enum'])}")
        if isinstance(value, str):
            self._string(value, schema, path)
        elif isinstance(value, int) and not isinstance(value, bool):
            self._integer(value, path)
        elif kind == "object":
            self._object(value, schema, path)
        elif kind == "array":
            items = schema.get("items", {})
            for index, item in enumerate(value):
                self.check(item, items, field_path(path, index))
        elif kind is None:
            self._open(value, path)

    def _any_of(self, value: Any, choices: list[Mapping[str, Any]], path: str) -> None:
        if value is None and any(c.get("type") == "null" for c in choices):
            return
        others = [c for c in choices if c.get("type") != "null"]
        if len(others) == 1:  # the usual case, a field that may be null: its own message says most
            self.check(value, others[0], path)
            return
        for choice in others:
            try:
                self.check(value, choice, path)
            except _Invalid:
                continue
            return
        raise self.fail(path, f"got {show_value(value)}, which is none of the kinds it may be")

    def _integer(self, value: int, path: str) -> None:
        if abs(value) > MAX_SAFE_INTEGER:
            raise self.fail(path, f"{value} is beyond ±{MAX_SAFE_INTEGER}, where JSON readers stop agreeing on numbers")

    def _string(self, value: str, schema: Mapping[str, Any], path: str) -> None:
        if len(value) > MAX_STRING_CHARS:
            raise self.fail(path, f"{len(value)} characters, over the {MAX_STRING_CHARS}-character bound")
        if not _is_text(value):
            raise self.fail(path, "not Unicode text: it holds a lone surrogate (\\ud800-\\udfff), which no report "
                                  "can be written with")
        pattern = schema.get("pattern")
        if pattern is not None and not _matches(pattern, value):
            raise self.fail(path, f"{show_value(value)} is not of the form {pattern}")
        form = schema.get("format")
        if form == "date-time" and not _is_moment(value, _DATE_TIME):
            raise self.fail(path, f"{show_value(value)} is not a date and time in UTC as kubecert writes it "
                                  "(RFC 3339, e.g. 2027-01-31T12:00:00Z)")
        if form == "date" and not _is_moment(value, _DATE):
            raise self.fail(path, f"{show_value(value)} is not a date (e.g. 2027-01-31)")

    def _object(self, value: dict[str, Any], schema: Mapping[str, Any], path: str) -> None:
        """Fields in the schema's order (what says which document it is, ``schema``, comes first), then the rest."""
        properties: Mapping[str, Any] = schema.get("properties", {})
        required = schema.get("required", ())
        for name, field in properties.items():
            if name in value:
                self.check(value[name], field, field_path(path, name))
            elif name in required and (self.minor is None or since_minor(field) <= self.minor):
                raise self.fail(field_path(path, name), "missing (a required field)")
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if len(key) > MAX_STRING_CHARS or not _is_text(key):
                raise self.fail(path, f"a key of {len(key)} characters that is over the {MAX_STRING_CHARS}-character "
                                      "bound or not Unicode text")
            if key in properties:
                continue
            where = field_path(path, key)
            if extra is False and self.later:
                self._open(item, where)
                self.unknown.append((value, key))
                continue
            if extra is False:
                raise self.fail(where, "not a field kubecert writes here")
            self.check(item, extra if isinstance(extra, dict) else {}, where)

    def _open(self, value: Any, path: str) -> None:
        """A value the schema leaves open (evidence facts, parameters): only its strings are bounded."""
        if isinstance(value, str):
            self._string(value, {}, path)
        elif isinstance(value, int) and not isinstance(value, bool):
            self._integer(value, path)
        elif isinstance(value, dict):
            self._object(value, {}, path)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self._open(item, field_path(path, index))


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str]:
    # JSON Schema's $ (ECMA-262) ends the text; Python's would also match before a final line break
    return re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern)


def _matches(pattern: str, value: str) -> bool:
    return _pattern(pattern).search(value) is not None


def _is_text(value: str) -> bool:
    """No lone surrogate: JSON's escapes can write one (\\ud800), UTF-8 cannot."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_moment(text: str, form: re.Pattern[str]) -> bool:
    if not form.fullmatch(text):
        return False
    try:
        dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:  # a 31st of February, an hour 25
        return False
    return True
