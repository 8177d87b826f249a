"""Errors of the reference implementation, and how its commands show them."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable

EXIT_USAGE = 3
Handler = Callable[[argparse.Namespace], int]


class ReferenceUsageError(ValueError):
    """Something the user asked for cannot be done (bad address, unknown fault, folder not empty).

    The command prints its message as one line and exits with the usage-error code; no traceback.
    """


def guarded(handler: Handler) -> Handler:
    """Turn the errors a user can cause into one line on stderr and the usage exit code."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except ReferenceUsageError as exc:
            print(f"kubecert: error: {exc}", file=sys.stderr)
        except BrokenPipeError:  # `... --list-faults | head`: the command's own handling says it quietly
            raise
        except OSError as exc:  # unwritable folder, disk full: the user's environment, not a bug
            where = f" {exc.filename}" if exc.filename else ""
            print(f"kubecert: error:{where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE

    return run
