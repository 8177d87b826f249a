"""What the audit guard saw written that lasts: the hostile runs' tests hold kubecert to writing nothing
outside the folders they give it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import audit


def lasting_writes_outside(seen: audit.Seen, roots: list[Path]) -> list[str]:
    """Writes outside ``roots`` but those that leave nothing behind: Python's tempfile probing the temporary
    folder (a file made and removed there) and its anonymous files (O_TMPFILE, opened on the folder)."""
    temp = os.path.realpath(tempfile.gettempdir())
    removed = {event.subject for event in seen.events if event.event == "os.remove"}
    return [path for path in seen.writes_outside(roots)
            if path != temp and not (os.path.dirname(path) == temp and path in removed)]
