"""Whether kubecert takes part in a pytest run. Installed, its plugin is loaded into every pytest run of the
environment; it does nothing there (no session, no target, no output, no report) unless the run asks for it:
a ``--kubecert-*`` option is given (on the command line, in addopts or PYTEST_ADDOPTS), ``kubecert check``
hands it its settings, or the run collects the conformance suite (``pytest --pyargs kubecert.conformance``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

import kubecert
from kubecert.options import Kind, Option

SUITE = "kubecert.conformance"
SUITE_FOLDER = Path(kubecert.__file__).resolve().parent / "conformance"
SUITE_FILE = SUITE_FOLDER / "test_rules.py"


def unset(option: Option) -> object:
    """The value pytest holds for ``option`` when the command line does not give it."""
    if option.kind is Kind.FLAG:
        return False
    return [] if option.kind is Kind.REPEAT else option.default


def gives_an_option(config: pytest.Config, options: Iterable[Option]) -> bool:
    """Whether the run sets one of kubecert's options (by value: addopts and PYTEST_ADDOPTS count too)."""
    return any(getattr(config.option, o.dest, unset(o)) != unset(o) for o in options)


def names_the_suite(config: pytest.Config) -> bool:
    """Whether the run's arguments name the conformance suite, as a module (--pyargs) or as a path in it."""
    for argument in config.args:
        named = argument.split("::", 1)[0]
        if config.option.pyargs and (named == SUITE or named.startswith(SUITE + ".")):
            return True
        path = Path(config.invocation_params.dir, named)
        if path.exists() and path.resolve().is_relative_to(SUITE_FOLDER):
            return True
    return False


def suite_items(session: pytest.Session) -> list[pytest.Item]:
    """A run that gives kubecert an option without naming the suite (``pytest tests/ --kubecert-target URI``)
    gets kubecert's checks beside the user's own tests: they are what the option asks for. Made from the
    suite's module directly, so no folder above it (a checkout's conftest) is collected on the way."""
    if names_the_suite(session.config):
        return []
    suite = pytest.Module.from_parent(session, path=SUITE_FILE)
    return [node for node in suite.collect() if isinstance(node, pytest.Item)]
