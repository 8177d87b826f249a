"""Moments as kubecert writes them in reports and evidence: RFC 3339 in UTC with a ``Z``."""

from __future__ import annotations

import datetime as dt


def isoformat(moment: dt.datetime) -> str:
    """``moment`` in UTC, e.g. ``2025-01-31T12:00:00Z`` (microseconds where it has them)."""
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
