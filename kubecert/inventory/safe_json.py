"""JSON from a target, read with a bound on nesting: a 100,000-level answer must be one clear error, not a
RecursionError in every rule that touches it (or in the report writer after them)."""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64


class JsonError(ValueError):
    """Not JSON kubecert will use; the message says why."""


class JsonTooDeep(JsonError):
    """JSON nested beyond the bound: hostile or broken, never an answer kubecert expects."""


def loads_bounded(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    try:
        document = json.loads(text)
    except RecursionError:
        raise JsonTooDeep(f"nested deeper than {max_depth} levels") from None
    except ValueError as exc:
        raise JsonError(f"not JSON: {exc}") from None
    if depth(document, limit=max_depth) > max_depth:
        raise JsonTooDeep(f"nested deeper than {max_depth} levels")
    return document


def depth(document: Any, *, limit: int) -> int:
    """How deeply ``document`` nests (a scalar is 0), counted without recursion; stops past ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        stack.extend((child, level) for child in children)
    return deepest
