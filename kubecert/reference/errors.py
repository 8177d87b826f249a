"""Errors of the reference implementation."""

from __future__ import annotations


class ReferenceUsageError(ValueError):
    """Something the user asked for cannot be done (bad address, unknown fault, folder not empty).

    The command prints its message as one line and exits with the usage-error code; no traceback.
    """
