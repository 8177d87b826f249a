"""NodeActions by the reference implementation itself, in-process: what the reference target offers.

Each action is what ``kubecert reference pki renew|generate-csr|check-expiration|upgrade --dir ROOT``
would do, with kubeadm's output lines as the action's output. A renewal fault (renewal_faults.py) makes
the verb it belongs to misbehave; the project's tests use that to prove each rule fails on it. CSRs are
written in the seed's CSR-only layout (``--csr-dir``), or with ``csr_layout=KUBEADM_CSRS`` in the layout of
``kubeadm certs generate-csr --cert-dir DIR/pki --kubeconfig-dir DIR`` (what a stand-in for kubeadm writes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from pathlib import Path

from kubecert.inventory.action import ActionRecord
from kubecert.reference.errors import ReferenceUsageError
from kubecert.reference.pki.csr import generate_csr
from kubecert.reference.pki.expiration import check_expiration, render
from kubecert.reference.pki.issue import LEAF_DAYS
from kubecert.reference.pki.keys import FreshKeys, KeyFactory
from kubecert.reference.pki.kubeadm_csr import generate_kubeadm_csrs
from kubecert.reference.pki.renew import renew
from kubecert.reference.pki.renewal_faults import RENEWAL_FAULTS
from kubecert.reference.pki.upgrade import upgrade

CSR_ONLY = "csr-only"  # the seed's renew --csr-only --csr-dir DIR
KUBEADM_CSRS = "kubeadm"  # kubeadm certs generate-csr --cert-dir DIR/pki --kubeconfig-dir DIR


class ReferenceActions:
    """Renewal, CSRs, the listing and upgrade of the tree at ``root``, by the reference implementation."""

    def __init__(self, root: Path, *, leaf_days: int = LEAF_DAYS, keys: KeyFactory | None = None,
                 fault: str | None = None, csr_layout: str = CSR_ONLY) -> None:
        self.root = Path(root)
        self.pki_dir = self.root / "pki"
        self.kubeconfig_dir = self.root
        self.leaf_days = leaf_days
        self.keys = keys or FreshKeys()  # a node makes a new key for every renewal
        if fault is not None and fault not in RENEWAL_FAULTS:
            raise ReferenceUsageError(f"unknown renewal fault {fault!r}; known: {', '.join(sorted(RENEWAL_FAULTS))}")
        self.fault = fault
        if csr_layout not in (CSR_ONLY, KUBEADM_CSRS):
            raise ValueError(f"unknown CSR layout {csr_layout!r}")
        self.csr_layout = csr_layout

    def _fault_for(self, verb: str) -> str | None:
        return self.fault if self.fault is not None and RENEWAL_FAULTS[self.fault].verb == verb else None

    def _run(self, action: str, words: str, work: Callable[[dt.datetime], Iterable[str]]) -> ActionRecord:
        command = f"kubecert reference pki {words} --dir {self.root}"
        if self.fault is not None:
            command += f" --fault {self.fault}"
        started = dt.datetime.now(dt.UTC)
        try:
            lines = list(work(started))
        except ReferenceUsageError as exc:
            return ActionRecord.of(action, command, started_at=started, finished_at=dt.datetime.now(dt.UTC),
                                   exit_code=3, stderr=f"kubecert: error: {exc}\n")
        return ActionRecord.of(action, command, started_at=started, finished_at=dt.datetime.now(dt.UTC),
                               exit_code=0, stdout="".join(f"{line}\n" for line in lines))

    def renew_all(self) -> ActionRecord:
        return self._run("renew all", "renew all", lambda now: renew(
            self.root, "all", keys=self.keys, now=now, leaf_days=self.leaf_days, fault=self._fault_for("renew")).log)

    def renew_one(self, name: str) -> ActionRecord:
        return self._run(f"renew {name}", f"renew {name}", lambda now: renew(
            self.root, name, keys=self.keys, now=now, leaf_days=self.leaf_days, fault=self._fault_for("renew")).log)

    def generate_csr(self, csr_dir: Path) -> ActionRecord:
        fault = self._fault_for("generate-csr")
        if self.csr_layout == KUBEADM_CSRS:
            return self._run("generate-csr", f"generate-csr --cert-dir {csr_dir / 'pki'} --kubeconfig-dir {csr_dir}",
                             lambda _now: generate_kubeadm_csrs(self.root, csr_dir / "pki", csr_dir, keys=self.keys,
                                                                fault=fault).log)
        return self._run("generate-csr", f"generate-csr --csr-dir {csr_dir}", lambda _now: generate_csr(
            self.root, csr_dir, keys=self.keys, fault=fault).log)

    def check_expiration(self) -> ActionRecord:
        return self._run("check-expiration", "check-expiration", lambda now: render(check_expiration(
            self.root, now=now, fault=self._fault_for("check-expiration"))).splitlines())

    def upgrade(self, certificate_renewal: bool) -> ActionRecord:
        flag = "true" if certificate_renewal else "false"
        return self._run(f"upgrade (certificate renewal {flag})", f"upgrade --certificate-renewal={flag}",
                         lambda now: upgrade(self.root, certificate_renewal=certificate_renewal, keys=self.keys,
                                             now=now, leaf_days=self.leaf_days, fault=self._fault_for("upgrade")).log)
