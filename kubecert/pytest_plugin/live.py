"""Lines the user must see while a check runs (progress of a renewal, a loud warning), not after it:
written past pytest's output capture, to the terminal on the controller and to stderr on an xdist worker."""

from __future__ import annotations

import contextlib
import sys

import pytest

from kubecert.targets.base import Progress
from kubecert.text import escaped


def live_writer(config: pytest.Config) -> Progress:
    capture = config.pluginmanager.getplugin("capturemanager")

    def write(text: str) -> None:
        line = escaped(text)  # progress names machines and states the target reported
        terminal = config.pluginmanager.getplugin("terminalreporter")  # absent on xdist workers: stderr then
        context = capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext()
        with context:
            if terminal is not None:
                terminal.write_line(f"[kubecert] {line}")  # on a line of its own, after the progress dots
            else:
                sys.stderr.write(f"[kubecert] {line}\n")
                sys.stderr.flush()

    return write
