"""Optional parts of kubecert and the pip extras that bring them: ``pip install kubecert`` checks node
folders and management APIs; the reference platform's servers need ``kubecert[reference]`` and reading a
cluster through its Kubernetes API needs ``kubecert[cluster]``. Asking for a part whose extra is missing
is a usage error that names the extra, never an ImportError."""

from __future__ import annotations

import importlib.util

EXTRAS: dict[str, tuple[str, ...]] = {"reference": ("fastapi", "uvicorn", "jsonschema"), "cluster": ("kubernetes",)}


class MissingExtra(ValueError):
    """A part of kubecert was asked for whose pip extra is not installed."""


def missing(extra: str) -> list[str]:
    """The packages of ``extra`` that are not installed."""
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def require(extra: str, what: str) -> None:
    """Raise MissingExtra, naming ``what`` needs it and how to install it, when ``extra`` is incomplete."""
    absent = missing(extra)
    if absent:
        raise MissingExtra(f"{what} needs kubecert's {extra!r} extra ({', '.join(absent)} not installed): "
                           f"pip install 'kubecert[{extra}]'")
