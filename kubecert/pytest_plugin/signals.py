"""SIGINT and SIGTERM (what CI sends when it cancels a job, and what ``timeout`` sends) stop a run alike: the
check in progress is interrupted, the command it ran is stopped, the lock is released and the reports are
written as partial. Without this, a terminated run left no report, or the previous run's. A signal the
process was started with ignored (SIGINT, for a shell's background job) stays ignored (kubecert.stopping)."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

import pytest

from kubecert.stopping import give_back, take_stop_signals

_PREVIOUS = pytest.StashKey[dict[int, Any]]()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signal.Signals(signum).name}")


def stop_on_signals(config: pytest.Config) -> None:
    config.stash[_PREVIOUS] = take_stop_signals(_interrupt)


def restore_signals(config: pytest.Config) -> None:
    previous: dict[int, Any] = config.stash.get(_PREVIOUS, {})
    give_back(previous)
    config.stash[_PREVIOUS] = {}
