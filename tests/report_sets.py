"""A set of reports an earlier run left in a folder, to show that a refused run leaves it as it was."""

from __future__ import annotations

from pathlib import Path

PREVIOUS = "an earlier run's report\n"


def previous_set(folder: Path, names: list[str]) -> dict[str, str]:
    """``names`` written in ``folder`` as an earlier run's; what the folder then holds."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text(PREVIOUS)
    return dict.fromkeys(names, PREVIOUS)


def contents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in folder.iterdir()}
