"""Reading back what kubecert wrote: reports (``report merge``, ``baseline write --report``) and baselines
(``--baseline``). This is the one place either is read.

Both may come from elsewhere (a shard's pod, a colleague's commit), so both are hostile input: bounded in
bytes (kubecert.userfiles), then strict JSON (UTF-8 without a byte order mark; no NaN or Infinity; no
duplicate key, which readers resolve differently; numbers of at most MAX_NUMBER_CHARS characters; nested at
most MAX_DEPTH deep), then valid against their schema, types included (validate.py). Every refusal names the
file and the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubecert.inventory.safe_json import depth
from kubecert.reports.validate import show_value
from kubecert.userfiles import named, read_user_file

# A fleet's report takes about 110 KB a cluster: 256 MiB holds some 2,000 clusters (merge shards of fewer).
MAX_REPORT_BYTES = 256 << 20
MAX_DEPTH = 64  # a report nests 7 deep (results, a result, its evidence, an entry, a fact, ...)
MAX_NUMBER_CHARS = 40  # a count, a duration, a day; Python refuses integers past 4,300 digits, slowly


class DocumentError(ValueError):
    """A report or baseline that cannot be used; the message names the file and the field."""


class _Refused(ValueError):
    pass


def read(path: Path, option: str, max_bytes: int, kind: str,
         problem: Callable[[dict[str, Any]], str | None]) -> dict[str, Any]:
    """The document at ``path`` (named by ``option``, "" when the command's own argument) that ``problem``
    finds nothing wrong with (its schema, and what a schema cannot say), or DocumentError; ``kind`` is what it
    must be ("a kubecert.report/v1.9 report")."""
    data = read_user_file(path, option, max_bytes).data  # UserFileError is a ValueError: callers take both
    try:
        document = strict_json(data)
    except _Refused as exc:
        raise DocumentError(f"{named(option, path)}: not JSON kubecert reads: {exc}") from None
    if not isinstance(document, dict):
        raise DocumentError(f"{named(option, path)}: not {kind}: the document is not a JSON object")
    found = problem(document)
    if found is not None:
        raise DocumentError(f"{named(option, path)}: not {kind}: {found}")
    return document


def strict_json(data: bytes) -> Any:
    """The JSON document of ``data``, or _Refused saying why it is not one kubecert will read."""
    if data.startswith(b"\xef\xbb\xbf"):
        raise _Refused("it starts with a byte order mark (kubecert writes UTF-8 without one)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Refused(f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    if not text.strip():
        raise _Refused("the file is empty")
    try:
        document = json.loads(text, object_pairs_hook=_unique, parse_constant=_no_constant, parse_int=_int,
                              parse_float=_float)
    except RecursionError:
        raise _Refused(f"nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise _Refused(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if depth(document, limit=MAX_DEPTH) > MAX_DEPTH:
        raise _Refused(f"nested deeper than {MAX_DEPTH} levels")
    return document


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"the key {show_value(key)} appears twice in one object")
            seen.add(key)
    return document


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _bounded(text: str) -> str:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number of {len(text)} characters, over the {MAX_NUMBER_CHARS}-character bound")
    return text


def _int(text: str) -> int:
    return int(_bounded(text))


def _float(text: str) -> float:
    value = float(_bounded(text))
    if not math.isfinite(value):
        raise _Refused(f"{text} is beyond what a number may be")
    return value
