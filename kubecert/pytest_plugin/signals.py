"""SIGTERM (what CI sends when it cancels a job, and what ``timeout`` sends) stops a run the way Ctrl-C
does: the check in progress is interrupted, the command it ran is stopped, the lock is released and the
reports are written as partial. Without this, a terminated run left no report, or the previous run's."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

import pytest

_PREVIOUS = pytest.StashKey[Any]()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signal.Signals(signum).name}")


def stop_on_sigterm(config: pytest.Config) -> None:
    if threading.current_thread() is threading.main_thread():  # signals can only be handled there
        config.stash[_PREVIOUS] = signal.signal(signal.SIGTERM, _interrupt)


def restore_sigterm(config: pytest.Config) -> None:
    previous = config.stash.get(_PREVIOUS, None)
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)
        del config.stash[_PREVIOUS]
