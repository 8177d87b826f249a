"""Optional parts of kubecert and the pip extras that bring them: ``pip install kubecert`` checks node
folders and management APIs; the reference platform's servers need ``kubecert[reference]`` and reading a
cluster through its Kubernetes API needs ``kubecert[cluster]`` (``kubecert[all]`` brings every extra).
Asking for parts whose extras are missing is a usage error that names every missing extra at once, what
needs each, and the one pip command that installs them, never an ImportError."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Mapping, Sequence

EXTRAS: dict[str, tuple[str, ...]] = {"reference": ("fastapi", "uvicorn", "jsonschema"), "cluster": ("kubernetes",)}
# What needs an extra is named up to this many times; a fleet of a thousand cluster targets says how many more.
NAMED_AT_MOST = 3


class MissingExtra(ValueError):
    """A part of kubecert was asked for whose pip extra is not installed."""


def missing(extra: str) -> list[str]:
    """The packages of ``extra`` that are not installed."""
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def install_command(extras: Iterable[str]) -> str:
    """The pip command that installs ``extras``, from an index and from a clone of kubecert."""
    names = ",".join(extras)
    return f"pip install 'kubecert[{names}]' (from a clone of kubecert, in its folder: pip install '.[{names}]')"


def require(extra: str, what: str) -> None:
    """Raise MissingExtra, naming ``what`` needs it and how to install it, when ``extra`` is incomplete."""
    require_all({extra: [what]})


def require_all(needs: Mapping[str, Sequence[str]]) -> None:
    """Raise one MissingExtra for every incomplete extra of ``needs`` (extra → what needs it, in order): each
    extra with its missing packages and what needs it, then one command that installs them all."""
    absent = {extra: missing(extra) for extra in needs}
    lacking = [extra for extra in needs if absent[extra]]
    if not lacking:
        return
    said = [f"{_named(needs[extra])} {'needs' if len(needs[extra]) == 1 else 'need'} kubecert's {extra!r} extra "
            f"({', '.join(absent[extra])} not installed)" for extra in lacking]
    raise MissingExtra(f"{'; '.join(said)}: {install_command(lacking)}")


def _named(what: Sequence[str]) -> str:
    if len(what) <= NAMED_AT_MOST:
        return ", ".join(what)
    return f"{', '.join(what[:NAMED_AT_MOST])} and {len(what) - NAMED_AT_MOST} more"
