"""The thread that drives the platform's state machine: one step at a time, sleeping until the next is due."""

from __future__ import annotations

import logging
import threading

from kubecert.reference.platform.engine import Platform

_IDLE_WAIT = 1.0  # seconds between looks when nothing is scheduled (a request also wakes the thread)
_log = logging.getLogger(__name__)


class PlatformWorker:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kubecert-platform", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 120.0) -> None:
        """Let the step in progress finish (a join writes a machine's PKI: its folder must not be removed under
        it), then end the thread."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.platform.step()
            except Exception:  # a failing step is logged and retried; the server keeps answering
                _log.exception("platform step failed; retrying")
                wait = _IDLE_WAIT
            if wait == 0.0:
                continue
            self._wake.wait(_IDLE_WAIT if wait is None else min(wait, _IDLE_WAIT))
            self._wake.clear()
