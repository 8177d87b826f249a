"""A kubeadm tree as kubeadm before v1.29 (and before about 2020) left it, made from a reference copy.

What differs from v1.31 (kubeadm's history of pkiutil): CAs have serial 0, NotBefore = creation time (no
backdate) and no SKI (Go added SKIs to CAs from 1.15), so leaves carry no AKI; leaves have no basicConstraints, their
NotBefore is their CA's and NotAfter is the signing time + 365 d; admin and etcd/kubelet clients are
in system:masters. cryptography will not write serial 0, so the CAs come from ``openssl ca``.

The kubelet's client certificate is issued again by the new cluster CA, as the cluster's signer issued it: a
chain is built by names compared byte for byte (Go's crypto/x509 and cryptography's validator alike), and
openssl writes the CA's CN as a UTF8String where Go wrote a PrintableString.
"""

from __future__ import annotations

import datetime as dt
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest
from cryptography import x509

from kubecert import layout
from kubecert.reference.pki import PkiTree
from kubecert.reference.pki.files import write_atomic
from kubecert.reference.pki.issue import CertTemplate, sign, template_of
from kubecert.reference.pki.kubeconfig import current_cluster, current_user, encode_data
from kubecert.reference.pki.kubelet import KubeletTree, combined_pem

_CA_CONFIG = """\
[ca]
default_ca = legacy
[legacy]
database = index.txt
serial = serial
new_certs_dir = .
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
[ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,digitalSignature,keyEncipherment,keyCertSign
# OpenSSL 3 adds key identifiers by default; Go before 1.15 did not.
subjectKeyIdentifier = none
authorityKeyIdentifier = none
"""


def _openssl_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%d%H%M%SZ")


def _serial_zero_ca(key_path: Path, cn: str, created: dt.datetime, days: int) -> x509.Certificate:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a serial-0 CA (cryptography refuses to)")
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        (folder / "ca.cnf").write_text(_CA_CONFIG)
        (folder / "index.txt").write_text("")
        (folder / "serial").write_text("00\n")
        subprocess.run(["openssl", "req", "-new", "-key", str(key_path), "-subj", f"/CN={cn}", "-out", "ca.csr"],
                       cwd=folder, check=True, capture_output=True)
        subprocess.run(
            ["openssl", "ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", str(key_path), "-in", "ca.csr",
             "-out", "ca.crt", "-notext", "-extensions", "ext", "-startdate", _openssl_time(created),
             "-enddate", _openssl_time(created + dt.timedelta(days=days))],
            cwd=folder, check=True, capture_output=True,
        )
        return x509.load_pem_x509_certificate((folder / "ca.crt").read_bytes())


def make_legacy(root: Path, *, ca_created: dt.datetime, leaves_signed: dt.datetime) -> None:
    """Rewrite the reference tree at ``root`` (keys kept) as a pre-v1.29 kubeadm cluster's."""
    tree = PkiTree(root)
    cas = {}
    for spec in layout.CAS:
        ca = _serial_zero_ca(tree.key_path(spec.name), spec.cn, ca_created, 3650)
        tree.write_cert(spec.name, ca)
        cas[spec.name] = ca

    def legacy_leaf(
        template: CertTemplate, ca_name: str, public_key: object, orgs: tuple[str, ...]
    ) -> x509.Certificate:
        ca = cas[ca_name]
        old = CertTemplate(
            cn=template.cn, orgs=orgs, dns=template.dns, ips=template.ips, eku=template.eku,
            not_before=ca.not_valid_before_utc, not_after=leaves_signed + dt.timedelta(days=365),
            basic_constraints=False,
        )
        return sign(old, public_key=public_key, signer_key=tree.key(ca_name), issuer=ca)  # type: ignore[arg-type]

    for spec in layout.LEAVES:
        current = tree.cert(spec.name)
        orgs = (layout.SYSTEM_MASTERS,) if spec.name in layout.LEGACY_MASTERS_LEAVES else template_of(current).orgs
        tree.write_cert(spec.name, legacy_leaf(template_of(current), spec.ca or "", current.public_key(), orgs))
    for kubeconfig in layout.KUBECONFIGS:
        path = tree.kubeconfig_path(kubeconfig.name)
        if not path.exists():
            continue
        document = tree.kubeconfig(kubeconfig.name)
        current_cluster(document)["certificate-authority-data"] = encode_data(
            cas["ca"].public_bytes(serialization_pem())
        )
        if kubeconfig.embeds_client_cert:
            cert, _ = tree.kubeconfig_client(kubeconfig.name)
            orgs = (layout.SYSTEM_MASTERS,) if kubeconfig.name == "admin.conf" else template_of(cert).orgs
            client = legacy_leaf(template_of(cert), "ca", cert.public_key(), orgs)
            current_user(document)["client-certificate-data"] = encode_data(client.public_bytes(serialization_pem()))
        tree.write_kubeconfig(kubeconfig.name, document)
    kubelet = KubeletTree(root)
    if kubelet.current_path("client").exists():
        cert, key = kubelet.current("client")
        client = sign(template_of(cert), public_key=key.public_key(), signer_key=tree.key("ca"), issuer=cas["ca"])
        dated = kubelet.current_path("client").resolve()
        write_atomic(dated, combined_pem(client, key), stat.S_IMODE(dated.stat().st_mode))


def serialization_pem():  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.PEM
