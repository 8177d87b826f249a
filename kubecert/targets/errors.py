"""The two ways a target can fail, kept apart from everything heavy so that any module may raise them."""

from __future__ import annotations


class TargetUnavailable(Exception):
    """The target cannot be observed at all (folder missing, host unreachable); every check errors."""


class TargetUnresponsive(TargetUnavailable):
    """The target stopped answering (a deadline was hit) or its time budget is spent: nothing more is asked of
    it, and every check still to come errors at once with this message."""


class TargetError(ValueError):
    """A target URI or option that cannot be used: a usage error."""
