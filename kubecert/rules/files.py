"""KC-FILE: permissions and ownership of the PKI folder and the kubeconfigs (CIS 1.1.13-1.1.21)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePath

from kubecert import layout
from kubecert.inventory.load import PKI_FOLDER
from kubecert.inventory.model import FileFacts
from kubecert.rules.catalog import implements
from kubecert.rules.context import RuleContext
from kubecert.rules.findings import Finding, failed, passed

PRIVATE = 0o600
KUBEADM_CERT = 0o644
_KUBECONFIG_NAMES = {k.name for k in layout.KUBECONFIGS}


def mode_finding(entry: FileFacts, limit: int, what: str) -> Finding:
    """One file's mode against ``limit``: looser bits fail, and so does a symlink out of the target's folders."""
    facts = entry.evidence()
    extra = entry.mode & ~limit
    through = f" (through a symlink to {entry.link})" if entry.link else ""
    if entry.outside:
        return failed(entry.path, f"{what} is a symlink to {entry.link}, outside the target's folders: its "
                      f"protection depends on folders kubecert did not judge (mode {entry.mode:04o})", **facts)
    if extra:
        return failed(entry.path, f"{what} mode {entry.mode:04o} is looser than {limit:04o} "
                      f"(extra bits {extra:04o}){through}", **facts)
    return passed(entry.path, f"{what} mode {entry.mode:04o}{through}", notable=bool(through), **facts)


def regular_files(entries: list[FileFacts]) -> Iterator[FileFacts]:
    # Entries are described by what they resolve to (a symlink's own mode is 0777 and means nothing);
    # a link to nothing is the inventory rules' finding, not a mode.
    return (e for e in entries if e.kind == "file")


@implements("KC-FILE-01")
def private_files_mode(ctx: RuleContext) -> Iterator[Finding]:
    """CIS 1.1.21 and 1.1.13-1.1.18: keys and kubeconfigs are readable by their owner only."""
    yield from ctx.reported(PKI_FOLDER)
    for entry in regular_files(ctx.inventory.files):
        name = PurePath(entry.path).name
        if name.endswith(".key") or name in (layout.SA_PUB, *_KUBECONFIG_NAMES):
            yield mode_finding(entry, PRIVATE, "private file")


@implements("KC-FILE-02")
def certificate_files_mode(ctx: RuleContext) -> Iterator[Finding]:
    """kubeadm writes certificates 0644; the cis strictness asks 0600 (CIS 1.1.20)."""
    yield from ctx.reported(PKI_FOLDER)
    limit = PRIVATE if ctx.profile.file_modes == "cis" else KUBEADM_CERT
    for entry in regular_files(ctx.inventory.files):
        if entry.path.endswith(".crt"):
            yield mode_finding(entry, limit, "certificate")


@implements("KC-FILE-03")
def owned_by_root(ctx: RuleContext) -> Iterator[Finding]:
    """CIS 1.1.19: the PKI directory and its files are owned by root:root."""
    yield from ctx.reported(PKI_FOLDER)
    pki = ctx.inventory.location.get("pki", "")
    for entry in ctx.inventory.files:
        if not entry.path.startswith(pki):
            continue
        if entry.kind != "dangling":
            yield owner_finding(entry)


def owner_finding(entry: FileFacts) -> Finding:
    """One file's owner: root:root, as CIS asks of every file that holds or guards a credential."""
    facts = entry.evidence()
    through = f" (through a symlink to {entry.link})" if entry.link else ""
    if entry.uid == 0 and entry.gid == 0:
        return passed(entry.path, f"owned by root:root{through}", **facts)
    return failed(entry.path, f"owned by {entry.owner}:{entry.group} (uid {entry.uid}, gid {entry.gid}), "
                  f"expected root:root{through}", **facts)
