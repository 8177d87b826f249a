"""A corpus of broken node files, generated here: every PEM file, kubeconfig, manifest and profile of a
node mangled in every way we could think of. Each case must end in verdicts (no internal error, no
exception), name the damaged file wherever a rule did not pass, and stay within its time and memory
bound."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kubecert.profiles import ProfileError, load_file
from kubecert.reference.pki import InitResult
from kubecert.rules import Status

from support import Cost, judge, measured, static_rules

CPU_BOUND_S = 2.0  # one case: copy nothing, judge every static rule
HANG_BOUND_S = 30.0  # wall clock: only a hang reaches it, however busy the machine
MEMORY_BOUND = 64 << 20  # peak Python allocation while judging one case
Mutation = Callable[[bytes], bytes]
BOMB = b"a: &a [x, x, x, x, x, x, x, x, x]\n" + b"".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n".encode() for i in range(8))


def _flip(seed: int) -> Mutation:
    def flip(data: bytes) -> bytes:
        chosen = random.Random(seed)
        body = bytearray(data)
        position = chosen.randrange(len(body) // 4, len(body) - len(body) // 4)
        body[position] ^= 1 << chosen.randrange(8)
        return bytes(body)

    return flip


def _relabel(data: bytes) -> bytes:
    for old, new in ((b"CERTIFICATE", b"PRIVATE KEY"), (b"PRIVATE KEY", b"CERTIFICATE"),
                     (b"PUBLIC KEY", b"CERTIFICATE")):
        if old in data:
            return data.replace(old, new)
    return data


def _unbase64(data: bytes) -> bytes:
    lines = data.splitlines(keepends=True)
    return b"".join(line if line.startswith(b"-----") else b"!!not*base64!!\n" for line in lines)


PEM_MUTATIONS: dict[str, Mutation] = {
    "empty": lambda d: b"",
    "whitespace": lambda d: b" \n\t\n",
    "truncated": lambda d: d[: len(d) // 2],
    "end-line-cut": lambda d: d[: d.rfind(b"-----END")],
    "bit-flip-1": _flip(1),
    "bit-flip-2": _flip(2),
    "bit-flip-3": _flip(3),
    "wrong-label": _relabel,
    "not-base64": _unbase64,
    "non-utf8": lambda d: b"\xff\xfe\xfd" + d[3:],
    "binary": lambda d: bytes(range(256)) * 4,
    "nul-bytes": lambda d: d + b"\x00" * 64,
    "crlf": lambda d: d.replace(b"\n", b"\r\n"),
    "doubled": lambda d: d + d,
    "leading-junk": lambda d: b"this is not PEM\n" + d,
    "huge": lambda d: d + b"#" * (1 << 20),
    "many-certificates": lambda d: d * 100,
}
PEM_FILES = ["pki/ca.crt", "pki/ca.key", "pki/apiserver.crt", "pki/apiserver.key", "pki/front-proxy-client.crt",
             "pki/etcd/server.crt", "pki/etcd/peer.key", "pki/sa.key", "pki/sa.pub",
             # the kubelet's: certificate and key in one file (written through the link), and a pair
             "kubelet/pki/kubelet-client-current.pem", "kubelet/pki/kubelet.crt", "kubelet/pki/kubelet.key"]

YAML_MUTATIONS: dict[str, Mutation] = {
    "empty": lambda d: b"",
    "truncated": lambda d: d[: len(d) // 2],
    "bit-flip": _flip(4),
    "non-utf8": lambda d: b"\xff\xfe" + d,
    "bomb": lambda d: BOMB,
    "duplicate-key": lambda d: d + b"kind: Config\n",
    "two-documents": lambda d: d + b"---\n" + d,
    "a-list": lambda d: b"- a\n- b\n",
    "a-scalar": lambda d: b"just words\n",
    "deep": lambda d: b"a: " + b"[" * 1000 + b"]" * 1000 + b"\n",
    "python-tag": lambda d: b"!!python/object/apply:os.system ['true']\n",
    "tabs": lambda d: d.replace(b"  ", b"\t"),
    "huge": lambda d: d + b"# " + b"x" * (1 << 20) + b"\n",
    "users-a-map": lambda d: d.replace(b"users:\n", b"users: {}\nx:\n"),
    "data-a-number": lambda d: _replace_value(d, b"client-certificate-data", b"12345"),
    "data-not-base64": lambda d: _replace_value(d, b"client-certificate-data", b"'%%%not base64%%%'"),
    "key-data-a-certificate": lambda d: _swap_values(d, b"client-key-data", b"client-certificate-data"),
    "ca-data-garbage": lambda d: _replace_value(d, b"certificate-authority-data", b"Z2FyYmFnZQ=="),
    "context-a-list": lambda d: d.replace(b"current-context:", b"current-context: [x]\nold-context:"),
}
KUBECONFIGS = ["admin.conf", "scheduler.conf", "kubelet.conf"]
MANIFEST_MUTATIONS: dict[str, Mutation] = {
    name: YAML_MUTATIONS[name] for name in ("empty", "bomb", "deep", "python-tag", "non-utf8", "a-list")
} | {
    "spec-a-list": lambda d: b"apiVersion: v1\nkind: Pod\nspec: []\n",
    "command-a-string": lambda d: b"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - command: kube-apiserver\n",
    "bad-service-range": lambda d: d.replace(b"--service-cluster-ip-range=10.96.0.0/12",
                                             b"--service-cluster-ip-range=10.96.0.0/99"),
}
MANIFESTS = ["manifests/kube-apiserver.yaml", "manifests/etcd.yaml"]


def _replace_value(data: bytes, key: bytes, value: bytes) -> bytes:
    lines = data.split(b"\n")
    return b"\n".join(line.split(key + b":")[0] + key + b": " + value if key + b":" in line else line
                      for line in lines)


def _swap_values(data: bytes, into: bytes, source: bytes) -> bytes:
    found = next((line.split(b":", 1)[1].strip() for line in data.split(b"\n") if source + b":" in line), b"x")
    return _replace_value(data, into, found)


KUBELET_CONFIG_MUTATIONS: dict[str, Mutation] = {
    name: YAML_MUTATIONS[name] for name in ("empty", "truncated", "bit-flip", "non-utf8", "bomb", "two-documents",
                                            "a-list", "a-scalar", "deep", "python-tag", "tabs", "huge")
} | {
    "rotation-a-string": lambda d: d.replace(b"rotateCertificates: true", b"rotateCertificates: 'true'"),
    "rotation-a-map": lambda d: d.replace(b"rotateCertificates: true", b"rotateCertificates: {on: yes}"),
    "bootstrap-a-list": lambda d: d + b"serverTLSBootstrap: [true]\n",
    "cert-file-a-number": lambda d: d + b"tlsCertFile: 12\n",
    "another-kind": lambda d: d.replace(b"kind: KubeletConfiguration", b"kind: KubeProxyConfiguration"),
    "control-characters": lambda d: d.replace(b"kind: KubeletConfiguration", b"kind: \"Kubelet\\e[2JConf\""),
}
CASES = ([(f, n, m) for f in PEM_FILES for n, m in PEM_MUTATIONS.items()]
         + [(f, n, m) for f in KUBECONFIGS for n, m in YAML_MUTATIONS.items()]
         + [(f, n, m) for f in MANIFESTS for n, m in MANIFEST_MUTATIONS.items()]
         + [("kubelet/config.yaml", n, m) for n, m in KUBELET_CONFIG_MUTATIONS.items()])
STATIC = static_rules()


@pytest.fixture
def tree(tmp_path: Path, reference_tree: InitResult) -> Path:
    copy = tmp_path / "kubernetes"
    shutil.copytree(reference_tree.root, copy, symlinks=True, copy_function=shutil.copy2)
    return copy


def _judged_within_bounds(root: Path) -> tuple[dict[str, Any], Cost]:
    with measured() as cost:
        verdicts = judge(root)
    return verdicts, cost


@pytest.mark.parametrize(("relative", "mutation"), [(f, m) for f, _, m in CASES],
                         ids=[f"{f}:{n}" for f, n, _ in CASES])
def test_a_broken_node_file_is_named_and_judged_within_bounds(tree: Path, relative: str, mutation: Mutation) -> None:
    path = tree / relative
    path.write_bytes(mutation(path.read_bytes()))
    verdicts, cost = _judged_within_bounds(tree)
    assert cost.within(cpu_s=CPU_BOUND_S, memory=MEMORY_BOUND, hang_s=HANG_BOUND_S), cost
    assert sorted(verdicts) == sorted(STATIC)  # every static rule reached a verdict
    assert not [r for r, v in verdicts.items() if "internal error" in v.message], verdicts
    bad = {rule: v for rule, v in verdicts.items() if v.status in (Status.FAILED, Status.ERROR)}
    if relative.startswith("manifests/"):
        # A manifest only refines what is expected (service range, address); an unusable one is ignored,
        # and then the node's certificates are judged by kubeadm's defaults, which the reference meets.
        assert bad == {}, {rule: v.message for rule, v in bad.items()}
        return
    # Either the damage is harmless (CRLF, leading text) or a failing finding names the file, in its
    # message or in its evidence.
    named = [json.dumps([f.to_evidence() for f in v.findings if f.status in (Status.FAILED, Status.ERROR)])
             + v.message for v in bad.values()]
    assert not bad or any(str(path) in text for text in named), {rule: v.message for rule, v in bad.items()}


PROFILE_CASES: dict[str, bytes] = {
    "bomb": BOMB,
    "extends-a-list": b"extends: [kubeadm]\n",
    "extends-a-map": b"extends: {a: 1}\n",
    "extends-unknown": b"extends: openshift\n",
    "duplicate-key": b"leaf_days: 365\nleaf_days: 400\n",
    "a-list": b"- leaf_days\n",
    "a-scalar": b"kubeadm\n",
    "non-utf8": b"\xff\xfeleaf_days: 1\n",
    "python-tag": b"!!python/object/apply:os.system ['true']\n",
    "deep": b"a: " + b"[" * 1000 + b"]" * 1000 + b"\n",
    "negative": b"leaf_days: -1\n",
    "bool-for-int": b"leaf_days: true\n",
    "float-for-int": b"ca_days: 3650.5\n",
    "string-for-int": b"min_remaining_days: soon\n",
    "zero-days": b"leaf_days: 0\n",
    "unknown-mode": b"renewal_mode: sideways\n",
    "list-mode": b"file_modes: [cis]\n",
    "unknown-parameter": b"leaf_dayz: 365\n",
    "bad-cidr": b"service_cidr: 10.0.0.0/33\n",
    "bad-address": b"advertise_address: 999.1.1.1\n",
    "sans-a-map": b"extra_sans: {a: b}\n",
    "etcd-a-string": b"external_etcd: 'yes'\n",
    "name-a-list": b"name: [x]\n",
    "huge": b"# " + b"x" * (1 << 20) + b"\n",
    "two-documents": b"leaf_days: 365\n---\nleaf_days: 1\n",
}


@pytest.mark.parametrize("name", sorted(PROFILE_CASES))
def test_a_broken_profile_is_a_usage_error_naming_the_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(PROFILE_CASES[name])
    with measured() as cost, pytest.raises(ProfileError) as raised:
        load_file(path)
    assert str(path) in str(raised.value)
    assert cost.within(cpu_s=CPU_BOUND_S, memory=MEMORY_BOUND, hang_s=HANG_BOUND_S), cost


def test_the_corpus_is_large() -> None:
    assert len(CASES) + len(PROFILE_CASES) >= 200
