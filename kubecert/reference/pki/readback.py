"""Reading a tree back with cryptography to see that a tree fault did what it says: each fault's ``effect``
(see tree_fault.py) is built from these. An effect raises AssertionError where the tree differs from what
the fault declares; the tests run it on every fault's tree, and on the tree without the fault, where it must
raise (so an effect that checks nothing cannot pass unnoticed).
"""

from __future__ import annotations

import datetime as dt
import stat
from typing import TypeVar

from cryptography import x509
from cryptography.x509.oid import NameOID

from kubecert.reference.pki.keys import public_key_pem
from kubecert.reference.pki.tree import PkiTree
from kubecert.reference.pki.tree_fault import Effect

DAY = dt.timedelta(days=1)
Kind = TypeVar("Kind", bound=x509.ExtensionType)


def extension(cert: x509.Certificate, kind: type[Kind]) -> Kind:
    return cert.extensions.get_extension_for_class(kind).value


def dns_names(cert: x509.Certificate) -> list[str]:
    return extension(cert, x509.SubjectAlternativeName).get_values_for_type(x509.DNSName)


def common_name(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def same_key(cert: x509.Certificate, before: x509.Certificate) -> bool:
    return public_key_pem(cert.public_key()) == public_key_pem(before.public_key())  # type: ignore[arg-type]


def missing(*paths: str) -> Effect:
    """The effect of removing ``paths`` (relative to the tree root): there before, gone after."""

    def effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
        for path in paths:
            assert not (after.root / path).exists()
            assert (before.root / path).exists()

    return effect


def mode(path: str, expected: int) -> Effect:
    """The effect of giving ``path`` (relative to the tree root) the mode ``expected``."""

    def effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
        assert stat.S_IMODE((after.root / path).stat().st_mode) == expected

    return effect
