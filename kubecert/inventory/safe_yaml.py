"""YAML from a target or a user, read with bounds: size, nesting depth, and the nodes that aliases expand to.

PyYAML shares an aliased node instead of copying it, so a "billion laughs" document loads in
microseconds but explodes as soon as anything walks it (``str()``, a comparison, a report): 538 bytes
became 3 GB. Go's YAML decoder refuses such documents ("excessive aliasing"); kubecert does the same
before constructing anything, by scanning the parser's events once (in C when PyYAML has libyaml) and
counting every node as often as aliases repeat it, and as deep as aliases nest it. Duplicate mapping
keys, which PyYAML would silently resolve to the last one, are refused as well: a file that says two
things is not what kubeadm wrote. So is an alias inside the collection it names, which PyYAML would
build into an object that contains itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

MAX_DEPTH = 64
MAX_EXPANDED_NODES = 100_000

_BASE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Unreadable(yaml.constructor.ConstructorError):
    """A scalar whose tag or form says a type its text is not."""


class _Loader(_BASE_LOADER):  # type: ignore[misc]
    """The safe loader, with Python's own errors of its constructors made YAML errors at the node's line.

    PyYAML lets them through for a scalar its tag or form cannot be made into: a date like 2001-02-30,
    ``!!int ''``, ``!!bool maybe``, ``!!timestamp soon``, an integer of more than 4300 digits.
    """

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, LookupError, AttributeError):
            kind = str(node.tag).rsplit(":", 1)[-1][:40]
            raise _Unreadable(None, None, f"not a valid {kind}", node.start_mark) from None


_LOADER: Any = _Loader


class YamlError(ValueError):
    """The text is not YAML kubecert will use; the message says why and, where known, at which line."""


class YamlBeyondBound(YamlError):
    """The document is larger, deeper or expands further than kubecert reads: not judged, rather than wrong."""


@dataclass
class _Collection:
    anchor: str | None
    start: int  # expanded nodes counted before it began
    mapping: bool
    keys: set[str]
    expecting_key: bool = True
    height: int = 0  # how deep it nests, aliases expanded (a scalar is 0)


def load_bounded(data: bytes | str, *, max_bytes: int, max_depth: int = MAX_DEPTH,
                 max_nodes: int = MAX_EXPANDED_NODES) -> Any:
    """The document in ``data``, or YamlError: too large, too deep, aliases expanding too far, duplicate
    keys, more than one document, or not YAML at all."""
    if len(data) > max_bytes:
        raise YamlBeyondBound(f"{len(data)} bytes, over the {max_bytes}-byte limit")
    scan = _Scan(max_depth, max_nodes)
    try:
        for event in yaml.parse(data, Loader=_LOADER):
            scan.see(event)
        return yaml.load(data, Loader=_LOADER)  # noqa: S506 - both loaders are the safe ones
    except _Unreadable as exc:
        raise YamlError(f"invalid YAML{_line(exc)}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML{_line(exc)}") from None


class _Scan:
    """Counts the nodes a document expands to as its parser events go by; raises YamlError past a bound."""

    def __init__(self, max_depth: int, max_nodes: int) -> None:
        self.max_depth, self.max_nodes = max_depth, max_nodes
        self.sizes: dict[str, int] = {}  # anchor → expanded nodes of what it names
        self.heights: dict[str, int] = {}  # anchor → how deep what it names nests, aliases expanded
        self.stack: list[_Collection] = []
        self.total = self.documents = 0
        self.written = 0  # nodes as written, each alias once: what the document is without expansion

    def see(self, event: Any) -> None:
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise YamlError(f"more than one YAML document{_at(event)}")
        elif isinstance(event, yaml.CollectionEndEvent):
            done = self.stack.pop()
            if done.anchor:
                self.sizes[done.anchor] = self.total - done.start + 1
                self.heights[done.anchor] = done.height + 1
            self._nested(done.height + 1)
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

    def _nested(self, height: int) -> None:
        """A node ``height`` levels deep ends inside the innermost open collection."""
        if self.stack:
            self.stack[-1].height = max(self.stack[-1].height, height)

    def _node(self, event: Any) -> None:
        self.written += 1
        if isinstance(event, yaml.AliasEvent):
            anchor = event.anchor or ""
            if any(open_.anchor == anchor for open_ in self.stack):
                raise YamlError(f"alias *{anchor[:80]} is inside the collection it names (a document that "
                                f"contains itself){_at(event)}")
            height = self.heights.get(anchor, 0)
            if len(self.stack) + height > self.max_depth:
                raise YamlBeyondBound(f"nested deeper than {self.max_depth} levels through alias "
                                      f"*{anchor[:80]}{_at(event)}")
            self._nested(height)
            self.total += self.sizes.get(anchor, 1)
        else:
            self.total += 1
            if isinstance(event, yaml.CollectionStartEvent):
                if len(self.stack) >= self.max_depth:
                    raise YamlBeyondBound(f"nested deeper than {self.max_depth} levels{_at(event)}")
                mapping = isinstance(event, yaml.MappingStartEvent)
                self.stack.append(_Collection(event.anchor, self.total, mapping, set()))
            elif event.anchor:
                self.sizes[event.anchor] = 1
        if self.total > self.max_nodes and self.written > self.max_nodes:
            raise YamlBeyondBound(f"more than {self.max_nodes} entries (YAML nodes: keys, values and list items), "
                                  f"the bound on what is read from one file{_at(event)}; not read")
        if self.total > self.max_nodes:  # what Go's decoder refuses too ("excessive aliasing"): wrong, not large
            raise YamlError(f"aliases expand it to more than {self.max_nodes} nodes (a YAML bomb?); not read")


def _at(event: Any) -> str:
    mark = getattr(event, "start_mark", None)
    return f" at line {mark.line + 1}" if mark is not None else ""


def _line(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f" at line {mark.line + 1}" if mark is not None else ""
