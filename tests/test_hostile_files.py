"""A node's files as a hostile or careless operator leaves them: symlinks out of the tree, chains, odd keys,
YAML bombs. Each case is judged under the rule it concerns, quickly, and every other rule still runs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from kubecert.inventory.model import PublicKeyFacts
from kubecert.profiles import ProfileError, load_file
from kubecert.reference.pki import InitOptions, KeyPool, init_pki
from kubecert.reference.pki.issue import sign, template_of
from kubecert.reference.pki.tree import PkiTree
from kubecert.rules import Status
from kubecert.rules.x509 import _weak_key

from support import judge, measured, not_passing, static_rules

NOBODY = 65534
ROOT = os.geteuid() == 0
# A billion-laughs document: nine levels of nine aliases, 538 bytes that stand for 9**9 nodes.
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8))


def _outside(tmp_path: Path, name: str, data: bytes, mode: int) -> Path:
    """A file outside the tree, as loose as ``mode`` and owned by nobody where the run can do that."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    target = elsewhere / name
    target.write_bytes(data)
    target.chmod(mode)
    if ROOT:
        os.chown(target, NOBODY, NOBODY)
    return target


def test_a_key_behind_a_symlink_is_judged_by_the_file_it_reaches(reference_copy: Path, tmp_path: Path) -> None:
    key = reference_copy / "pki/apiserver.key"
    target = _outside(tmp_path, "apiserver.key", key.read_bytes(), 0o666)
    key.unlink()
    key.symlink_to(target)
    verdicts = judge(reference_copy)
    private = verdicts["KC-FILE-01"]
    assert private.status is Status.FAILED
    assert f"{key}: private file is a symlink to {target}, outside the target's folders" in private.message
    entry = next(e for e in private.evidence() if e["subject"] == str(key))
    assert (entry["mode"], entry["resolves_to"], entry["outside_the_tree"]) == ("0666", str(target), True)
    if ROOT:
        owners = verdicts["KC-FILE-03"]
        assert owners.status is Status.FAILED and f"{key}: owned by nobody:nogroup" in owners.message
    assert verdicts["KC-X509-05"].status is Status.PASSED  # the key itself is still read and judged


def test_a_symlinked_folder_is_walked_and_its_files_judged(reference_copy: Path, tmp_path: Path) -> None:
    etcd = reference_copy / "pki/etcd"
    moved = tmp_path / "etcd-elsewhere"
    etcd.rename(moved)
    etcd.symlink_to(moved)
    (moved / "peer.key").chmod(0o644)
    private = judge(reference_copy)["KC-FILE-01"]
    assert private.status is Status.FAILED
    judged = {e["subject"] for e in private.evidence()}
    assert {str(etcd / name) for name in ("ca.key", "server.key", "peer.key", "healthcheck-client.key")} <= judged
    assert f"{etcd / 'peer.key'}: private file is a symlink to {moved / 'peer.key'}" in private.message


def test_a_symlink_that_stays_inside_the_tree_is_judged_and_noted(reference_copy: Path) -> None:
    crt = reference_copy / "pki/front-proxy-client.crt"
    kept = reference_copy / "pki/kept"
    kept.mkdir()
    crt.rename(kept / crt.name)
    crt.symlink_to(kept / crt.name)
    verdicts = judge(reference_copy)
    assert not_passing(verdicts) == {}
    note = next(f for f in verdicts["KC-FILE-02"].findings if f.subject == str(crt))
    assert note.notable and f"through a symlink to {kept / crt.name}" in note.message


def test_symlink_loops_between_folders_end(reference_copy: Path) -> None:
    (reference_copy / "pki/etcd/up").symlink_to(reference_copy / "pki")
    with measured() as cost:
        verdicts = judge(reference_copy)
    assert cost.within(cpu_s=10, memory=256 << 20, hang_s=60), cost
    assert not_passing(verdicts) == {}


def test_a_chain_file_is_judged_by_its_first_certificate_and_says_so(reference_copy: Path) -> None:
    crt = reference_copy / "pki/apiserver.crt"
    crt.write_bytes(crt.read_bytes() + (reference_copy / "pki/ca.crt").read_bytes())
    verdicts = judge(reference_copy)
    assert not_passing(verdicts) == {}
    present = next(f for f in verdicts["KC-INV-02"].findings if f.subject == "apiserver")
    assert present.notable and "its file holds 2 certificates" in present.message
    assert present.evidence["certificates_in_file"] == 2


def test_p521_keys_are_strong_and_rsa_keys_over_8192_bits_are_not() -> None:
    assert _weak_key(PublicKeyFacts("ECDSA", 521, "secp521r1", "x")) is None
    assert _weak_key(PublicKeyFacts("RSA", 8192, None, "x")) is None
    too_big = _weak_key(PublicKeyFacts("RSA", 16384, None, "x"))
    assert too_big is not None and "over 8192 bits" in too_big and "CVE-2023-29409" in too_big
    assert "need at least 2048" in str(_weak_key(PublicKeyFacts("RSA", 1024, None, "x")))
    assert "P-256, P-384 or P-521" in str(_weak_key(PublicKeyFacts("ECDSA", 192, "secp192r1", "x")))


def test_a_whole_p521_tree_passes(tmp_path: Path) -> None:
    class P521:
        def new_key(self, algorithm: str) -> ec.EllipticCurvePrivateKey:
            return ec.generate_private_key(ec.SECP521R1())

    root = tmp_path / "kubernetes"
    init_pki(root, InitOptions(key_algorithm="ECDSA-P384"), keys=P521(), now=dt.datetime.now(dt.UTC))  # type: ignore[arg-type]
    verdicts = judge(root)
    assert verdicts["KC-X509-06"].status is Status.PASSED, verdicts["KC-X509-06"].message


def test_a_legacy_leaf_shorter_than_leaf_days_from_its_ca_s_notbefore_fails(reference_copy: Path,
                                                                            key_pool: KeyPool) -> None:
    """kubeadm before v1.31 gave a leaf its CA's NotBefore; signed no earlier than that, it lives at least
    leaf_days from it. One that ends 200 days after it was never a 365-day certificate."""
    tree = PkiTree(reference_copy)
    ca, leaf = tree.cert("ca"), tree.cert("apiserver")
    short = dataclasses.replace(template_of(leaf), not_before=ca.not_valid_before_utc,
                                not_after=ca.not_valid_before_utc + dt.timedelta(days=200))
    tree.write_cert("apiserver", sign(short, public_key=leaf.public_key(), signer_key=tree.key("ca"), issuer=ca))  # type: ignore[arg-type]
    verdict = judge(reference_copy)["KC-VAL-01"]
    assert verdict.status is Status.FAILED
    assert "apiserver: NotBefore equals the CA's, and the leaf is valid only 200d" in verdict.message


def test_a_yaml_bomb_in_a_kubeconfig_is_named_in_milliseconds(reference_copy: Path) -> None:
    (reference_copy / "admin.conf").write_text(BOMB)
    with measured() as cost:
        verdicts = judge(reference_copy)
    assert cost.within(cpu_s=2, memory=64 << 20, hang_s=30), cost  # the bomb took 54 s and 3.1 GB unbounded
    inventory = verdicts["KC-INV-03"]
    assert inventory.status is Status.FAILED
    assert f"{reference_copy / 'admin.conf'}: unusable kubeconfig: aliases expand it to more than" in inventory.message
    assert sorted(verdicts) == sorted(static_rules())


def test_a_yaml_bomb_in_a_manifest_is_ignored_like_any_unusable_manifest(reference_copy: Path) -> None:
    (reference_copy / "manifests/kube-apiserver.yaml").write_text(BOMB)
    with measured() as cost:
        assert not_passing(judge(reference_copy)) == {}  # the service range then comes from kubeadm's default
    assert cost.within(cpu_s=2, memory=64 << 20, hang_s=30), cost


@pytest.mark.parametrize(("content", "message"), [
    (BOMB, "aliases expand it to more than"),
    ("extends: [kubeadm]\n", "extends: \\['kubeadm'\\] is not a built-in profile"),
    ("extends: {a: 1}\n", "extends: \\{'a': 1\\} is not a built-in profile"),
    ("leaf_days: 365\nleaf_days: 400\n", "duplicate key 'leaf_days' at line 2"),
    ("name: [x]\n", "name must be text"),
    ("node_name: [x]\n", "node_name must be text"),
])
def test_a_hostile_profile_is_a_usage_error_naming_the_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / f"p{abs(hash(content))}.yaml"
    path.write_text(content)
    with measured() as cost, pytest.raises(ProfileError, match=message) as raised:
        load_file(path)
    assert str(path) in str(raised.value)
    assert cost.within(cpu_s=2, memory=64 << 20, hang_s=30), cost


def test_a_hostile_profile_through_the_command_exits_3(pytester: pytest.Pytester) -> None:
    profile = pytester.path / "bomb.yaml"
    profile.write_text(BOMB)
    result = pytester.runpytest("--pyargs", "kubecert.conformance", "--kubecert-profile", str(profile),
                                "--kubecert-target", "pki:/nonexistent/pki")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert f"{profile}: aliases expand it to more than" in result.stderr.str()
