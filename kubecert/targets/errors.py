"""The two ways a target can fail, kept apart from everything heavy so that any module may raise them."""

from __future__ import annotations


class TargetUnavailable(Exception):
    """The target cannot be observed at all (folder missing, host unreachable); every check errors."""


class TargetUnresponsive(TargetUnavailable):
    """The target stopped answering (a deadline was hit) or its time budget is spent: nothing more is asked of
    it, and every check still to come errors at once with this message."""


class TargetError(ValueError):
    """A target URI or option that cannot be used: a usage error."""


def failure_copy(failure: TargetUnavailable) -> TargetUnavailable:
    """``failure`` to keep, or to raise once more: a copy (same class, same message object) without a
    traceback. The raised object itself keeps the frames it went through alive, and raising it again
    chains each raise's frames onto its traceback: a target that stops sixty checks would hold all of
    their frames, and pytest would walk the whole chain again for each check."""
    kind = type(failure)
    fresh = kind.__new__(kind, *failure.args)  # not __init__: a target kind's own may take other arguments
    fresh.__dict__.update(failure.__dict__)
    return fresh
