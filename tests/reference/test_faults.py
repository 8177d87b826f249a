"""Each named fault changes exactly what it says (its declared files, and the effect it declares, read back),
and makes its rule fail (and no rule it does not declare)."""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
import re
import shutil
import stat
from collections.abc import Iterable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes

from kubecert.reference.pki import (
    FAULTS,
    InitOptions,
    InitResult,
    KeyPool,
    PkiTree,
    ReferenceUsageError,
    apply_fault,
    fault_names,
    init_pki,
)

from support import judge, not_passing, verdict_statuses


def _snapshot(root: Path) -> dict[str, tuple[bytes, int, int]]:
    found = {}
    for path in root.rglob("*"):
        if path.is_file():
            info = path.stat()
            found[str(path.relative_to(root))] = (path.read_bytes(), stat.S_IMODE(info.st_mode), info.st_uid)
    return found


def _changed_as_declared(changed: Iterable[str], declared: Iterable[str]) -> bool:
    """Every changed file is one the fault declares, and every declared file changed; a declared name may be
    a pattern, for the kubelet's files named after the time they were written."""
    changed, declared = set(changed), set(declared)
    return (all(any(fnmatch.fnmatchcase(path, name) for name in declared) for path in changed)
            and all(any(fnmatch.fnmatchcase(path, name) for path in changed) for name in declared))

ROOT = os.geteuid() == 0


def test_every_fault_is_described() -> None:
    assert fault_names() == tuple(sorted(FAULTS))
    for name, fault in FAULTS.items():
        assert fault.name == name
        for rule in (fault.rule, *fault.also_fails, *fault.may_also_fail):
            assert re.fullmatch(r"KC-[A-Z0-9]+-\d{2}", rule), (name, rule)
        assert fault.offender in fault.files
        assert fault.description
        assert bool(fault.note) == bool(fault.also_fails or fault.may_also_fail), name


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_changes_what_it_says_and_nothing_else(
    reference_copy: Path, reference_tree: InitResult, key_pool: KeyPool, name: str
) -> None:
    fault = FAULTS[name]
    if fault.needs_root and not ROOT:
        pytest.skip("changing a file's owner needs root")
    now = dt.datetime.now(dt.UTC)
    before = _snapshot(reference_copy)
    assert apply_fault(reference_copy, name, keys=key_pool, now=now) is fault
    after = _snapshot(reference_copy)
    changed = {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}
    assert _changed_as_declared(changed, fault.files), (sorted(changed), fault.files)
    fault.effect(PkiTree(reference_copy), PkiTree(reference_tree.root), now)


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_effect_is_not_seen_on_the_tree_without_it(reference_tree: InitResult, name: str) -> None:
    """An effect that would pass on the reference tree itself checks nothing: each must tell the fault's tree
    from the tree without it (this holds under ``python -O`` too, where its asserts would be gone)."""
    pristine = PkiTree(reference_tree.root)
    # Not only AssertionError: an extension, a file or a signature the fault would have made can be absent.
    with pytest.raises(Exception):  # noqa: B017, PT011
        FAULTS[name].effect(pristine, pristine, dt.datetime.now(dt.UTC))


@pytest.fixture(scope="module")
def ecdsa_tree(tmp_path_factory: pytest.TempPathFactory, key_pool: KeyPool) -> InitResult:
    """The reference tree with P-256 keys: the inventory loader reads it 15 times faster than RSA (whose
    private keys it validates), and no rule's verdict depends on the key type except for weak keys."""
    root = tmp_path_factory.mktemp("judged") / "kubernetes"
    return init_pki(root, InitOptions(key_algorithm="ECDSA-P256"), keys=key_pool, now=dt.datetime.now(dt.UTC))


@pytest.fixture
def ecdsa_copy(ecdsa_tree: InitResult, tmp_path: Path) -> Path:
    copy = tmp_path / "kubernetes"
    shutil.copytree(ecdsa_tree.root, copy, symlinks=True)  # the kubelet's current links stay links
    return copy


def test_the_reference_passes_every_rule(reference_tree: InitResult, ecdsa_tree: InitResult) -> None:
    assert not_passing(judge(reference_tree.root)) == {}
    assert not_passing(judge(ecdsa_tree.root)) == {}


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_fails_its_rule_and_only_the_rules_it_declares(ecdsa_copy: Path, key_pool: KeyPool, name: str) -> None:
    fault = FAULTS[name]
    if fault.needs_root and not ROOT:
        pytest.skip("changing a file's owner needs root")
    apply_fault(ecdsa_copy, name, keys=key_pool, now=dt.datetime.now(dt.UTC))
    verdicts = judge(ecdsa_copy)
    assert fault.disagreements(verdict_statuses(verdicts)) == [], not_passing(verdicts)


def test_unknown_fault_is_a_usage_error(reference_copy: Path, key_pool: KeyPool) -> None:
    with pytest.raises(ReferenceUsageError, match="unknown fault 'leaf-401-days'; known faults: ca-20-years"):
        apply_fault(reference_copy, "leaf-401-days", keys=key_pool, now=dt.datetime.now(dt.UTC))


def test_changing_owners_needs_root(reference_copy: Path, key_pool: KeyPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(ReferenceUsageError, match="only root"):
        apply_fault(reference_copy, "foreign-owner", keys=key_pool, now=dt.datetime.now(dt.UTC))


def test_a_fault_needing_absent_files_says_so(tmp_path: Path, key_pool: KeyPool) -> None:
    options = InitOptions(external_etcd=True, key_algorithm="ECDSA-P256")
    root = init_pki(tmp_path / "k", options, keys=key_pool, now=dt.datetime.now(dt.UTC)).root
    with pytest.raises(ReferenceUsageError, match=r"cannot be applied: .*etcd/ca\.crt is not in the tree"):
        apply_fault(root, "leaf-outlives-ca", keys=key_pool, now=dt.datetime.now(dt.UTC))


def test_faults_work_on_ecdsa_trees(tmp_path: Path, key_pool: KeyPool) -> None:
    root = init_pki(tmp_path / "k", InitOptions(key_algorithm="ECDSA-P384"), keys=key_pool,
                    now=dt.datetime.now(dt.UTC)).root
    for name in ("sha1-signature", "mismatched-key", "kubeconfig-foreign-ca", "kubelet-conf-embedded"):
        apply_fault(root, name, keys=key_pool, now=dt.datetime.now(dt.UTC))
    tree = PkiTree(root)
    assert isinstance(tree.cert("apiserver-etcd-client").signature_hash_algorithm, hashes.SHA1)
    assert tree.kubeconfig_client("kubelet.conf")[1].key_size == 384
