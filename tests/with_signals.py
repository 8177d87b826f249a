"""``python with_signals.py default|sigint-ignored|sigterm-ignored PROGRAM ARGS...``: PROGRAM with SIGINT and
SIGTERM unblocked and at their defaults, or with one of them ignored (SIGINT is, for a shell's background
job), whatever the process that runs this had. A child keeps the signals its parent ignored or blocked
(exec resets only handlers), so a test that signals a child starts it through this and does not depend on
how the test worker was started (`make test &` in a script leaves every worker, and their children,
ignoring SIGINT)."""

from __future__ import annotations

import os
import signal
import sys


def main() -> None:
    disposition, argv = sys.argv[1], sys.argv[2:]
    ignored = {"default": None, "sigint-ignored": signal.SIGINT, "sigterm-ignored": signal.SIGTERM}
    if disposition not in ignored:
        raise SystemExit(f"with_signals.py: unknown disposition {disposition!r} (known: {', '.join(ignored)})")
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN if signum == ignored[disposition] else signal.SIG_DFL)
    os.execvp(argv[0], argv)  # noqa: S606 - the test's own command line, no shell wanted


if __name__ == "__main__":
    main()
