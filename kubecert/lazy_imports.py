"""Public names that a package hands on from its modules, each module imported when a name is first used.

Importing any module of a package runs the package's ``__init__`` first. One that imported its modules to
hand their names on would make its lightest module cost what its heaviest costs: reading the rule catalog
would bring cryptography and PyYAML into ``kubecert rules``. Such a package says which module holds each
of its names instead, and answers for them in a module ``__getattr__``:

    _PUBLIC = {"Rule": "kubecert.rules.catalog", "BUILTIN_PROFILES": "kubecert.profiles:BUILTIN"}

    def __getattr__(name: str) -> Any:
        return public_name(__name__, _PUBLIC, name)
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any


def public_name(package: str, modules: Mapping[str, str], name: str) -> Any:
    """``package``'s public ``name``: its module (``modules[name]``, "module" or "module:attribute" where the
    module calls it otherwise) is imported now if it was not yet."""
    where = modules.get(name)
    if where is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    module, _, attribute = where.partition(":")
    return getattr(importlib.import_module(module), attribute or name)
