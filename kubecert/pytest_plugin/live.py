"""Lines the user must see while a check runs (progress of a renewal, a loud warning), not after it. Targets log
them to kubecert's logger (kubecert.targets.base.PROGRESS_LOG); while a run is kubecert's, a handler shows them
past pytest's output capture, on the terminal on the controller and on stderr on an xdist worker, as
``[kubecert] LINE``. The records go on to pytest's log capture (a failed check's report shows them; ``kubecert
check`` keeps none, see cli.pytest_arguments). With pytest's live logging on (``--log-cli-level``, ``log_cli``),
live logging shows them from the session's start on (it shows nothing before: the lines of opening the targets
are kubecert's handler's still).
"""

from __future__ import annotations

import contextlib
import logging
import sys

import pytest

from kubecert.targets.base import PROGRESS_LOG
from kubecert.text import escaped

# The handler, and the logger's level before it: put back when the run ends.
_INSTALLED = pytest.StashKey[tuple["TerminalHandler", int]]()


class TerminalHandler(logging.Handler):
    def __init__(self, config: pytest.Config) -> None:
        super().__init__(logging.INFO)
        self.config = config
        # kubecert's own lines only: modules' loggers below it (the reference's) keep going where they went.
        self.addFilter(lambda record: record.name == PROGRESS_LOG.name)

    def emit(self, record: logging.LogRecord) -> None:
        line = escaped(record.getMessage())
        capture = self.config.pluginmanager.getplugin("capturemanager")
        terminal = self.config.pluginmanager.getplugin("terminalreporter")  # absent on xdist workers: stderr then
        context = capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext()
        with context:
            if terminal is not None:
                terminal.write_line(f"[kubecert] {line}")  # on a line of its own, after the progress dots
            else:
                sys.stderr.write(f"[kubecert] {line}\n")
                sys.stderr.flush()


def _live_logging(config: pytest.Config) -> bool:
    return config.getoption("log_cli_level", None) is not None or bool(config.getini("log_cli"))


def show_progress(config: pytest.Config) -> None:
    """kubecert's lines on the run's terminal, unless pytest's live logging shows them."""
    installed = (TerminalHandler(config), PROGRESS_LOG.level)
    if PROGRESS_LOG.getEffectiveLevel() > logging.INFO:
        PROGRESS_LOG.setLevel(logging.INFO)  # progress is INFO: recorded for pytest's capture too
    PROGRESS_LOG.addHandler(installed[0])
    config.stash[_INSTALLED] = installed


def leave_progress_to_live_logging(config: pytest.Config) -> None:
    """At the session's start, where pytest's live logging begins (when it is on)."""
    installed = config.stash.get(_INSTALLED, None)
    if installed is not None and _live_logging(config):
        PROGRESS_LOG.removeHandler(installed[0])


def stop_showing_progress(config: pytest.Config) -> None:
    installed = config.stash.get(_INSTALLED, None)
    if installed is not None:
        handler, level = installed
        PROGRESS_LOG.removeHandler(handler)
        PROGRESS_LOG.setLevel(level)
        del config.stash[_INSTALLED]
