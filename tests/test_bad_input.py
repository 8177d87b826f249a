"""Bad input never crashes a run: each case names the file and the problem under the right rule, and
every other rule still reaches a verdict."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from kubecert.rules import Status

from support import judge, static_rules


def _write(path: Path, data: bytes) -> None:
    path.unlink(missing_ok=True)
    path.write_bytes(data)


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    _write(path, data[: len(data) // 2])


def _loop(path: Path) -> None:
    path.unlink()
    os.symlink(path.name + ".other", path)
    os.symlink(path.name, path.with_name(path.name + ".other"))


def _dangling(path: Path) -> None:
    path.unlink()
    os.symlink("/nonexistent/kubecert/target", path)


def _directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _copy_from(other: str) -> Callable[[Path], None]:
    return lambda path: shutil.copyfile(path.parent / other, path)


CASES = [
    # (file below the tree root, how it is damaged, rule, status, words the message must hold)
    ("pki/apiserver.crt", lambda p: _write(p, b""), "KC-INV-02", Status.FAILED, "empty file"),
    ("pki/apiserver.crt", _truncate, "KC-INV-02", Status.FAILED, "truncated PEM CERTIFICATE"),
    ("pki/apiserver.crt", lambda p: _write(p, os.urandom(900)), "KC-INV-02", Status.FAILED, "binary data"),
    ("pki/ca.crt", lambda p: _write(p, b"A" * (2 << 20)), "KC-INV-01", Status.ERROR, "byte limit"),
    ("pki/apiserver.key", _copy_from("apiserver.crt"), "KC-X509-05", Status.FAILED,
     "holds CERTIFICATE, expected PRIVATE KEY"),
    ("pki/front-proxy-client.crt", _copy_from("front-proxy-client.key"), "KC-INV-02", Status.FAILED,
     "expected CERTIFICATE"),
    ("pki/apiserver.crt", _loop, "KC-INV-02", Status.ERROR, "symlink loop"),
    ("pki/apiserver.crt", _dangling, "KC-INV-02", Status.FAILED, "dangling symlink"),
    ("pki/sa.pub", _directory, "KC-INV-04", Status.FAILED, "is a directory"),
    ("pki/etcd/ca.crt", _fifo, "KC-INV-01", Status.FAILED, "not a regular file"),
    ("admin.conf", lambda p: _write(p, b"apiVersion: v1\nusers: [\n  - {name: x\n"), "KC-INV-03", Status.FAILED,
     "unusable kubeconfig: invalid YAML at line"),
    ("admin.conf", lambda p: _write(p, b"- just\n- a list\n"), "KC-INV-03", Status.FAILED, "not a kubeconfig"),
    ("scheduler.conf",
     lambda p: _write(p, p.read_bytes().replace(b"client-certificate-data: ",
                                                b"client-certificate-data: '*not*base64*'\n    x: ")),
     "KC-INV-03", Status.FAILED, "client-certificate-data is not valid base64"),
    ("kubelet.conf", lambda p: _write(p, b"\x00\x01binary"), "KC-KCFG-03", Status.FAILED, "kubelet.conf"),
    ("pki/sa.key", _copy_from("sa.pub"), "KC-INV-04", Status.FAILED, "holds PUBLIC KEY, expected PRIVATE KEY"),
    ("kubelet/config.yaml", _fifo, "KC-KLT-02", Status.FAILED, "not a regular file"),
    ("kubelet/pki/kubelet.key", _copy_from("kubelet.crt"), "KC-KLT-03", Status.FAILED,
     "holds CERTIFICATE, expected PRIVATE KEY"),
    ("kubelet/pki/kubelet-client-current.pem", _loop, "KC-KLT-01", Status.ERROR, "symlink loop"),
]


@pytest.mark.parametrize(("relative", "damage", "rule", "status", "words"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_file_is_named_under_its_rule(
    reference_copy: Path, relative: str, damage: Callable[[Path], None], rule: str, status: Status, words: str
) -> None:
    path = reference_copy / relative
    damage(path)
    verdicts = judge(reference_copy)
    assert verdicts[rule].status is status, verdicts[rule].message
    assert words in verdicts[rule].message
    assert str(path) in verdicts[rule].message
    assert sorted(verdicts) == sorted(static_rules())  # every other rule still reached a verdict
    assert not any("internal error" in v.message for v in verdicts.values())


def test_rules_that_need_a_broken_file_say_they_could_not_check_it(reference_copy: Path) -> None:
    _truncate(reference_copy / "pki/apiserver.crt")
    verdicts = judge(reference_copy)
    assert verdicts["KC-VAL-01"].status is Status.ERROR
    assert "not evaluated" in verdicts["KC-VAL-01"].message and "see KC-INV-02" in verdicts["KC-VAL-01"].message
    assert verdicts["KC-VAL-02"].status is Status.PASSED  # the CAs are unaffected


def test_encrypted_key_is_named(reference_copy: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    path = reference_copy / "pki/front-proxy-client.key"
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(b"secret"))
    _write(path, encrypted)
    verdict = judge(reference_copy)["KC-X509-05"]
    assert verdict.status is Status.FAILED
    assert "encrypted private key" in verdict.message


def _judge_as_nobody(root: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    os.setgid(65534)
    os.setuid(65534)
    verdicts = judge(Path(root))
    queue.put({rule: (str(v.status), v.message) for rule, v in verdicts.items()})


def test_unreadable_keys_are_errors_not_failures(reference_copy: Path) -> None:
    """What a user gets running kubecert without root on a real node: keys and kubeconfigs are 0600."""
    if os.geteuid() == 0:
        # root reads everything, so the check runs in a child that gives up root, on a copy it can reach
        outer = tempfile.mkdtemp(prefix="kubecert-unreadable-")
        try:
            os.chmod(outer, 0o755)
            tree = Path(outer) / "tree"
            shutil.copytree(reference_copy, tree, symlinks=True)
            for folder in (tree, tree / "pki", tree / "pki/etcd"):
                os.chmod(folder, 0o755)
            queue: multiprocessing.Queue = multiprocessing.get_context("fork").Queue()  # type: ignore[type-arg]
            child = multiprocessing.get_context("fork").Process(target=_judge_as_nobody, args=(str(tree), queue))
            child.start()
            results = queue.get(timeout=60)
            child.join(timeout=10)
        finally:
            shutil.rmtree(outer, ignore_errors=True)
    else:
        for key in (reference_copy / "pki").rglob("*.key"):
            key.chmod(0)
        for kubeconfig in reference_copy.glob("*.conf"):
            kubeconfig.chmod(0)
        verdicts = judge(reference_copy)
        results = {rule: (str(v.status), v.message) for rule, v in verdicts.items()}
    status, message = results["KC-X509-05"]
    assert status == "error", message
    assert "permission denied" in message
    assert results["KC-INV-03"][0] == "error"
    assert results["KC-INV-02"][0] == "passed"  # certificates are 0644 and still judged
    assert not any(s == "failed" for s, _ in results.values()), {r: m for r, (s, m) in results.items() if s == "failed"}
