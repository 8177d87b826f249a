"""Properties of the kubelet folder's reader: for any config.yaml and any content of the dated file the
current link reaches, reading gives records or Problems naming the file (never an exception), no record
keeps a private key, and every kubelet rule reaches a verdict without an internal error."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import yaml
from hypothesis import given
from hypothesis import strategies as st

from kubecert.inventory.kubelet import load_kubelet
from kubecert.inventory.model import Inventory, Problem
from kubecert.reference.pki.issue import issue_ca
from kubecert.reference.pki.keys import generate_key
from kubecert.reference.pki.kubelet import combined_pem, kubelet_config, signed_by_cluster
from kubecert.rules import BUILTIN_PROFILES, RuleContext, all_rules, evaluate

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
CA_KEY = generate_key("ECDSA-P256")
CA = issue_ca(cn="kubernetes", key=CA_KEY, now=NOW)
KEY = generate_key("ECDSA-P256")
CLIENT = combined_pem(signed_by_cluster((CA, CA_KEY), node="cp-1", key=KEY, now=NOW), KEY)
CONFIG = yaml.safe_dump(kubelet_config(dns_domain="cluster.local", cluster_dns="10.96.0.10")).encode()
DATED = "kubelet-client-2025-06-01-00-00-00.pem"
KUBELET_RULES = [rule for rule in all_rules() if rule.family == "kubelet"]

yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=10,
)
configs = (st.binary(max_size=500)
           | st.dictionaries(st.sampled_from(["kind", "rotateCertificates", "serverTLSBootstrap", "tlsCertFile",
                                              "tlsPrivateKeyFile", "apiVersion"]), yaml_values, max_size=6)
           .map(lambda document: yaml.safe_dump(document).encode())
           | st.just(CONFIG))


@st.composite
def client_files(draw: st.DrawFn) -> bytes:
    data = bytearray(CLIENT)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(data) - 1))
        if draw(st.booleans()):
            data[at] ^= 1 << draw(st.integers(0, 7))
        else:
            del data[at:]
            break
    return bytes(data)


def _read(config: bytes, client: bytes) -> tuple[Inventory, list[Problem]]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "pki").mkdir()
        (root / "config.yaml").write_bytes(config)
        (root / "pki" / DATED).write_bytes(client)
        (root / "pki" / "kubelet-client-current.pem").symlink_to(DATED)
        inventory = Inventory(target="property", observed_at=NOW)
        inventory.kubelet = load_kubelet(root, inventory.problems)
        for problem in inventory.problems:
            assert problem.path.startswith(folder) and problem.message, problem
        return inventory, inventory.problems


@given(config=configs, client=client_files())
def test_any_folder_reads_into_records_or_problems_and_every_rule_reaches_a_verdict(config: bytes,
                                                                                    client: bytes) -> None:
    inventory, problems = _read(config, client)
    folder = inventory.kubelet
    assert folder is not None
    for record in folder.certificates():
        assert b"PRIVATE KEY" not in record.pem
    if folder.config is not None:
        assert folder.config.rotate_certificates in (None, True, False)
        assert folder.config.server_tls_bootstrap in (None, True, False)
    context = RuleContext(inventory=inventory, profile=BUILTIN_PROFILES["kubeadm"], now=NOW)
    for rule in KUBELET_RULES:
        verdict = evaluate(rule, context)
        assert "internal error" not in verdict.message, verdict.message
    assert all(isinstance(problem, Problem) for problem in problems)
