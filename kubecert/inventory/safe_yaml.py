"""YAML from a target or a user, read with bounds: size, nesting depth, and the nodes that aliases expand to.

PyYAML shares an aliased node instead of copying it, so a "billion laughs" document loads in
microseconds but explodes as soon as anything walks it (``str()``, a comparison, a report): 538 bytes
became 3 GB. Go's YAML decoder refuses such documents ("excessive aliasing"); kubecert does the same
before constructing anything, by scanning the parser's events once (in C when PyYAML has libyaml) and
counting every node as often as aliases repeat it. Duplicate mapping keys, which PyYAML would silently
resolve to the last one, are refused as well: a file that says two things is not what kubeadm wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

MAX_DEPTH = 64
MAX_EXPANDED_NODES = 100_000

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlError(ValueError):
    """The text is not YAML kubecert will use; the message says why and, where known, at which line."""


@dataclass
class _Collection:
    anchor: str | None
    start: int  # expanded nodes counted before it began
    mapping: bool
    keys: set[str]
    expecting_key: bool = True


def load_bounded(data: bytes | str, *, max_bytes: int, max_depth: int = MAX_DEPTH,
                 max_nodes: int = MAX_EXPANDED_NODES) -> Any:
    """The document in ``data``, or YamlError: too large, too deep, aliases expanding too far, duplicate
    keys, more than one document, or not YAML at all."""
    if len(data) > max_bytes:
        raise YamlError(f"{len(data)} bytes, over the {max_bytes}-byte limit")
    scan = _Scan(max_depth, max_nodes)
    try:
        for event in yaml.parse(data, Loader=_LOADER):
            scan.see(event)
        return yaml.load(data, Loader=_LOADER)  # noqa: S506 - both loaders are the safe ones
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML{_line(exc)}") from None


class _Scan:
    """Counts the nodes a document expands to as its parser events go by; raises YamlError past a bound."""

    def __init__(self, max_depth: int, max_nodes: int) -> None:
        self.max_depth, self.max_nodes = max_depth, max_nodes
        self.sizes: dict[str, int] = {}  # anchor → expanded nodes of what it names
        self.stack: list[_Collection] = []
        self.total = self.documents = 0

    def see(self, event: Any) -> None:
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise YamlError(f"more than one YAML document{_at(event)}")
        elif isinstance(event, yaml.CollectionEndEvent):
            done = self.stack.pop()
            if done.anchor:
                self.sizes[done.anchor] = self.total - done.start + 1
        elif isinstance(event, yaml.NodeEvent):
            self._key(event)
            self._node(event)

    def _key(self, event: Any) -> None:
        parent = self.stack[-1] if self.stack else None
        if parent is None or not parent.mapping:
            return
        if parent.expecting_key and isinstance(event, yaml.ScalarEvent):
            if event.value in parent.keys:
                raise YamlError(f"duplicate key {event.value[:80]!r}{_at(event)}")
            parent.keys.add(event.value)
        parent.expecting_key = not parent.expecting_key

    def _node(self, event: Any) -> None:
        if isinstance(event, yaml.AliasEvent):
            self.total += self.sizes.get(event.anchor or "", 1)
        else:
            self.total += 1
            if isinstance(event, yaml.CollectionStartEvent):
                if len(self.stack) >= self.max_depth:
                    raise YamlError(f"nested deeper than {self.max_depth} levels{_at(event)}")
                mapping = isinstance(event, yaml.MappingStartEvent)
                self.stack.append(_Collection(event.anchor, self.total, mapping, set()))
            elif event.anchor:
                self.sizes[event.anchor] = 1
        if self.total > self.max_nodes:
            raise YamlError(f"aliases expand it to more than {self.max_nodes} nodes (a YAML bomb?); not read")


def _at(event: Any) -> str:
    mark = getattr(event, "start_mark", None)
    return f" at line {mark.line + 1}" if mark is not None else ""


def _line(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f" at line {mark.line + 1}" if mark is not None else ""
