"""What a context raises when a check cannot be carried out: imported by every context and by the plugin, so it
holds nothing else."""

from __future__ import annotations


class CheckCouldNotRun(Exception):
    """The check could not be carried out (unreadable input, target down, a target that breaks its
    contract): an error, not a failure."""
