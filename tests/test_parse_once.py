"""A target's certificates are parsed once, when it is read: every rule judges the parsed records, and none
parses a file or a PEM again, however many rules read the same certificate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from kubecert.profiles import BUILTIN
from kubecert.reference.pki import InitResult
from kubecert.rules.context import RuleContext
from kubecert.rules.evaluate import evaluate_all
from kubecert.status import Status
from kubecert.targets.pki import PkiTarget

_PARSERS = ("load_pem_x509_certificate", "load_pem_x509_certificates", "load_der_x509_certificate")


def test_reading_a_target_parses_each_certificate_text_once(reference_tree: InitResult,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """kubeadm embeds ca.crt in every kubeconfig, byte for byte: parsed once, with the file."""
    texts: list[bytes] = []
    parse = x509.load_pem_x509_certificates

    def counted(data: bytes) -> list[x509.Certificate]:
        texts.append(data)
        return parse(data)

    monkeypatch.setattr(x509, "load_pem_x509_certificates", counted)
    inventory = PkiTarget(f"pki:{Path(reference_tree.root) / 'pki'}", BUILTIN["palette"], {}).observe()

    ca = inventory.certificates["ca"]
    assert all(k.ca_cert is ca.cert for k in inventory.kubeconfigs.values())  # each embeds ca.crt
    assert len(texts) == len(set(texts)) >= len(list(inventory.all_certs()))


def test_no_rule_parses_a_certificate_the_reading_of_the_target_parsed(reference_tree: InitResult,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    target = PkiTarget(f"pki:{Path(reference_tree.root) / 'pki'}", BUILTIN["palette"], {})
    inventory = target.observe()
    assert inventory.kubelet is not None and inventory.kubelet.serving_self_signed  # its file holds its CA too
    parsed: list[str] = []

    def counted(name: str) -> Any:
        parse = getattr(x509, name)
        return lambda *args, **kwargs: parsed.append(name) or parse(*args, **kwargs)

    for name in _PARSERS:
        monkeypatch.setattr(x509, name, counted(name))
    verdicts = evaluate_all(RuleContext(inventory, BUILTIN["palette"], inventory.observed_at), target.capabilities)

    assert verdicts["KC-KLT-03"].status is Status.PASSED  # the serving certificate's chain, from its own file
    assert parsed == []
