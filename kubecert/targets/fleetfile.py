"""An inventory file: the fleet to check, one entry per target, with its own profile where it needs one.

```yaml
targets:
  - pki:/srv/nodes/cp-1/etc/kubernetes/pki
  - target: palette:https://api.example.com?cluster=UID&project=UID
    profile: palette            # a built-in profile or a profile file (relative to this file)
```

``--shard INDEX/COUNT`` keeps the entries whose position modulo COUNT is INDEX (0-based, as Kubernetes'
JOB_COMPLETION_INDEX): the shards of one file are disjoint and together are the whole file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kubecert.options import Shard

MAX_INVENTORY_BYTES = 16 * 1024 * 1024
# Every shard of an Indexed Job reads the whole file: room for some 200,000 targets, with their profiles.
MAX_INVENTORY_NODES = 1_000_000
_ENTRY_FIELDS = frozenset({"target", "profile"})


class InventoryFileError(ValueError):
    """The inventory file cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Entry:
    target: str
    profile: str | None = None  # None: the run's --profile


def load(path: Path) -> list[Entry]:
    """The entries of the inventory file at ``path``, in file order."""
    from kubecert.inventory.safe_yaml import YamlError, load_bounded  # here: --help imports this module
    from kubecert.userfiles import UserFileError, read_user_file

    try:
        data = read_user_file(path, "--inventory", MAX_INVENTORY_BYTES).data
    except UserFileError as exc:
        raise InventoryFileError(str(exc)) from None
    try:
        document = load_bounded(data, max_bytes=MAX_INVENTORY_BYTES, max_nodes=MAX_INVENTORY_NODES)
    except YamlError as exc:
        raise InventoryFileError(f"--inventory {path}: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("targets"), list):
        raise InventoryFileError(f"--inventory {path}: expected a mapping with a list under 'targets'")
    unknown = sorted(str(k) for k in document if k != "targets")
    if unknown:
        raise InventoryFileError(f"--inventory {path}: unknown field {unknown[0]!r} (only 'targets')")
    return [_entry(path, number, item) for number, item in enumerate(document["targets"], start=1)]


def _entry(path: Path, number: int, item: object) -> Entry:
    where = f"--inventory {path}: targets[{number}]"
    if isinstance(item, str) and item.strip():
        return Entry(item.strip())
    if not isinstance(item, dict):
        raise InventoryFileError(f"{where}: expected a target URI or a mapping with 'target'")
    unknown = sorted(str(k) for k in item if k not in _ENTRY_FIELDS)
    if unknown:
        raise InventoryFileError(f"{where}: unknown field {unknown[0]!r} (known: {', '.join(sorted(_ENTRY_FIELDS))})")
    target, profile = item.get("target"), item.get("profile")
    if not isinstance(target, str) or not target.strip():
        raise InventoryFileError(f"{where}: 'target' must be a target URI")
    if profile is not None and (not isinstance(profile, str) or not profile.strip()):
        raise InventoryFileError(f"{where}: 'profile' must be a profile name or file")
    from kubecert.profiles import AUTO, BUILTIN

    if profile is not None and profile not in (AUTO, *BUILTIN):
        profile = str(path.parent / profile)  # a profile file, where the inventory says, wherever kubecert runs
    return Entry(target.strip(), profile)


def select(entries: list[Entry], shard: Shard | None) -> list[Entry]:
    """This shard's entries (all without a shard)."""
    if shard is None:
        return entries
    return [entry for position, entry in enumerate(entries) if shard.keeps(position)]
