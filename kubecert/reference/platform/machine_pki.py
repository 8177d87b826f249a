"""Each control-plane machine's own kubeadm PKI, made as ``kubeadm join --control-plane`` makes it.

The cluster's CAs and service-account key live in a shared folder (what kubeadm uploads to the
kubeadm-certs Secret); a joining control-plane machine copies them and issues its own leaves for its
name and address. In-place renewal re-signs a machine's leaves as ``kubeadm certs renew all`` does.
The API's certificate listing is read back from these real files.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from kubecert import layout
from kubecert.reference.pki.files import CERT_MODE, KEY_MODE, ensure_dir, write_atomic
from kubecert.reference.pki.issue import issue_ca, issue_leaf, sign, template_of, validity
from kubecert.reference.pki.keys import KeyFactory, PrivateKey, load_private_key, private_key_pem, public_key_pem
from kubecert.reference.pki.options import InitOptions
from kubecert.reference.pki.tree import PkiTree

KEY_ALGORITHM = "RSA-2048"  # kubeadm's default encryptionAlgorithm


@dataclass(frozen=True)
class Listed:
    """One certificate as the API lists it: Palette's name and the certificate's NotAfter."""

    name: str
    expiry: dt.datetime


@dataclass(frozen=True)
class ListedAuthority:
    name: str
    expiry: dt.datetime
    certificates: tuple[Listed, ...]


def create_cluster_cas(shared: Path, *, keys: KeyFactory, now: dt.datetime, ca_days: int) -> None:
    """The cluster's three CAs and its service-account key pair, made once when the cluster is."""
    tree = PkiTree(shared)
    for spec in layout.CAS:
        key = keys.new_key(KEY_ALGORITHM)
        tree.write_key(spec.name, key)
        tree.write_cert(spec.name, issue_ca(cn=spec.cn, key=key, now=now, ca_days=ca_days))
    sa_key = keys.new_key(KEY_ALGORITHM)
    write_atomic(tree.sa_key_path, private_key_pem(sa_key), KEY_MODE)
    write_atomic(tree.sa_pub_path, public_key_pem(sa_key), KEY_MODE)


def rotate_cluster_cas(shared: Path, *, keys: KeyFactory, now: dt.datetime, ca_days: int) -> None:
    """A fault: new CAs replace the cluster's (what a correct renewal never does)."""
    tree = PkiTree(shared)
    for spec in layout.CAS:
        key = keys.new_key(KEY_ALGORITHM)
        tree.write_key(spec.name, key)
        tree.write_cert(spec.name, issue_ca(cn=spec.cn, key=key, now=now, ca_days=ca_days))


def write_machine_pki(
    machine_dir: Path,
    shared: Path,
    options: InitOptions,
    *,
    keys: KeyFactory,
    now: dt.datetime,
    leaf_days: int,
    keep_from: Path | None = None,
    keep: Iterable[str] = (),
) -> None:
    """Write ``machine_dir/pki`` for a joining control-plane machine, all at once: its PKI only, which is what
    the API lists (kubecert.reference.pki.join writes a joining node's whole tree, kubeconfigs and manifests).

    The tree is built beside its final place and renamed into it, so a crash leaves either no tree or
    a whole one; a tree left by an interrupted earlier attempt is replaced. ``keep`` names leaves
    copied unchanged from ``keep_from`` instead of being issued (a fault: a stale certificate).
    """
    machine_dir = Path(machine_dir)
    ensure_dir(machine_dir.parent)
    building = Path(tempfile.mkdtemp(dir=machine_dir.parent, prefix=f".{machine_dir.name}."))
    try:
        source, tree = PkiTree(shared), PkiTree(building)
        for spec in layout.CAS:
            write_atomic(tree.cert_path(spec.name), source.cert_path(spec.name).read_bytes(), CERT_MODE)
            write_atomic(tree.key_path(spec.name), source.key_path(spec.name).read_bytes(), KEY_MODE)
        write_atomic(tree.sa_key_path, source.sa_key_path.read_bytes(), KEY_MODE)
        write_atomic(tree.sa_pub_path, source.sa_pub_path.read_bytes(), KEY_MODE)
        kept = set(keep)
        for spec in layout.LEAVES:
            if spec.name in kept and keep_from is not None and PkiTree(keep_from).cert_path(spec.name).exists():
                old = PkiTree(keep_from)
                write_atomic(tree.key_path(spec.name), old.key_path(spec.name).read_bytes(), KEY_MODE)
                write_atomic(tree.cert_path(spec.name), old.cert_path(spec.name).read_bytes(), CERT_MODE)
                continue
            dns, ips = _sans(spec.name, options)
            ca = spec.ca or ""
            key = keys.new_key(KEY_ALGORITHM)
            cert = issue_leaf(
                source.cert(ca), _ca_key(source.key_path(ca)), cn=spec.common_name(options.node_name), orgs=spec.orgs,
                dns=dns, ips=ips, eku=spec.eku, key=key, now=now, leaf_days=leaf_days,
            )
            tree.write_key(spec.name, key)
            tree.write_cert(spec.name, cert)
        if machine_dir.exists():
            shutil.rmtree(machine_dir)
        building.rename(machine_dir)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


_KEY_CACHE: dict[tuple[str, int, int], PrivateKey] = {}
_KEY_CACHE_LOCK = threading.Lock()


def _ca_key(path: Path) -> PrivateKey:
    """A CA key, loaded (and validated, ~50 ms for RSA) once per file version rather than per leaf."""
    info = path.stat()
    slot = (str(path), info.st_mtime_ns, info.st_size)
    with _KEY_CACHE_LOCK:
        key = _KEY_CACHE.get(slot)
    if key is None:
        key = load_private_key(path.read_bytes())
        with _KEY_CACHE_LOCK:
            if len(_KEY_CACHE) > 256:
                _KEY_CACHE.clear()
            _KEY_CACHE[slot] = key
    return key


def _sans(name: str, options: InitOptions) -> tuple[list[str], list[str]]:
    if name == "apiserver":
        dns, ips, _ = options.apiserver_sans()
        return dns, ips
    if name in ("etcd-server", "etcd-peer"):
        return options.etcd_sans()
    return [], []


def renew_in_place(
    machine_dir: Path, *, keys: KeyFactory, now: dt.datetime, leaf_days: int, skip: Iterable[str] = (),
    shared: Path | None = None,
) -> None:
    """``kubeadm certs renew all`` on one machine: same CA, new key and serial, attributes copied.

    With ``shared`` (a fault: rotated CAs) the machine's CAs are first replaced by the shared ones.
    """
    tree = PkiTree(machine_dir)
    if shared is not None:
        source = PkiTree(shared)
        for spec in layout.CAS:
            write_atomic(tree.cert_path(spec.name), source.cert_path(spec.name).read_bytes(), CERT_MODE)
            write_atomic(tree.key_path(spec.name), source.key_path(spec.name).read_bytes(), KEY_MODE)
    skipped = set(skip)
    for spec in layout.LEAVES:
        if spec.name in skipped or not tree.cert_path(spec.name).exists():
            continue
        ca = spec.ca or ""
        ca_cert, ca_key = tree.cert(ca), _ca_key(tree.key_path(ca))
        not_before, not_after = validity(now, leaf_days)
        template = dataclasses.replace(template_of(tree.cert(spec.name)), not_before=not_before, not_after=not_after)
        key = keys.new_key(KEY_ALGORITHM)
        cert = sign(template, public_key=key.public_key(), signer_key=ca_key, issuer=ca_cert)
        tree.write_key(spec.name, key)
        tree.write_cert(spec.name, cert)


def listing(machine_dir: Path) -> tuple[ListedAuthority, ...]:
    """The machine's certificates as Palette lists them: each CA with the leaves it signs."""
    tree = PkiTree(machine_dir)
    authorities = []
    for ca in layout.CAS:
        ca_expiry = _expiry(tree.cert_path(ca.name))
        if ca_expiry is None:
            continue
        leaves = []
        for leaf in layout.leaves_of(ca.name):
            expiry = _expiry(tree.cert_path(leaf.name))
            if expiry is not None:
                leaves.append(Listed(leaf.palette_name, expiry))
        authorities.append(ListedAuthority(ca.palette_name, ca_expiry, tuple(leaves)))
    return tuple(authorities)


_EXPIRY_CACHE: dict[tuple[str, int, int], dt.datetime] = {}


def _expiry(path: Path) -> dt.datetime | None:
    """A certificate file's NotAfter, parsed once per version of the file (the API is polled often)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    slot = (str(path), info.st_mtime_ns, info.st_size)
    found = _EXPIRY_CACHE.get(slot)
    if found is None:
        found = x509.load_pem_x509_certificate(path.read_bytes()).not_valid_after_utc
        if len(_EXPIRY_CACHE) > 4096:
            _EXPIRY_CACHE.clear()
        _EXPIRY_CACHE[slot] = found
    return found
