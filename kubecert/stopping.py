"""The signals that stop kubecert, and the one rule for all of its commands: SIGINT (Ctrl-C) and SIGTERM (what
CI sends when it cancels a job, and ``timeout`` and supervisors) stop a run alike, unless the process was
started with the signal ignored. A shell starts its background jobs (``kubecert check &`` in a script) with
SIGINT ignored so that the terminal's Ctrl-C, meant for the foreground, leaves them running; kubecert keeps
it so, as Python itself and the POSIX tools do. SIGTERM stops such a job.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
Handler = Callable[[int, FrameType | None], Any]


def take_stop_signals(handler: Handler) -> dict[int, Any]:
    """``handler`` for every stop signal this process does not ignore, and what each had before (for
    ``give_back``). Nothing changes outside the main thread: Python handles signals there only."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS
            if signal.getsignal(signum) is not signal.SIG_IGN}


def give_back(previous: Mapping[int, Any]) -> None:
    """The handlers ``take_stop_signals`` replaced (one Python did not install is the default)."""
    for signum, handler in previous.items():
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


@contextlib.contextmanager
def stop_signals_to(handler: Handler) -> Iterator[None]:
    """``handler`` for the stop signals this process does not ignore while the block runs."""
    previous = take_stop_signals(handler)
    try:
        yield
    finally:
        give_back(previous)
