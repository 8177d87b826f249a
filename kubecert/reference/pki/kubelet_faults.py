"""Named faults of the kubelet's folder (/var/lib/kubelet): each plants what makes one KC-KLT rule fail.

Certificates are re-signed as the cluster's CSR signer or the kubelet itself would sign them, with the
kubelet's own key, so that nothing but the fault differs. The kubelet names its dated files after the time
it wrote them, so ``files`` names them by pattern.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from types import MappingProxyType

from cryptography import x509

from kubecert.reference.errors import ReferenceUsageError
from kubecert.reference.pki.issue import BACKDATE
from kubecert.reference.pki.keys import PrivateKey, load_private_key, public_key_pem
from kubecert.reference.pki.kubelet import SIGNING_DURATION, KubeletTree, self_signed_serving, signed_by_cluster
from kubecert.reference.pki.readback import common_name, dns_names, mode, same_key
from kubecert.reference.pki.tree import PkiTree
from kubecert.reference.pki.tree_fault import FOREIGN_UID, Effect, FaultContext, TreeFault, declare

_FAULTS: dict[str, TreeFault] = {}
_fault = declare(_FAULTS)

PKI = "kubelet/pki"
CLIENT_CURRENT = f"{PKI}/kubelet-client-current.pem"
CLIENT_DATED = f"{PKI}/kubelet-client-*.pem"
DAY = dt.timedelta(days=1)


def _cluster_ca(ctx: FaultContext) -> tuple[x509.Certificate, PrivateKey]:
    return ctx.tree.cert("ca"), ctx.tree.key("ca")


def _node(ctx: FaultContext) -> str:
    node = ctx.tree.node_name()
    if node is None:
        raise ReferenceUsageError("kubelet.conf names no system:node user; cannot tell the node's name")
    return node


def _reissue_client(ctx: FaultContext, *, node: str | None = None, issued: dt.datetime | None = None,
                    duration: dt.timedelta = SIGNING_DURATION) -> None:
    """The kubelet's client certificate signed anew for its own key as if issued at ``issued``: it replaces the
    store's file, and the link moves to the new one."""
    kubelet = ctx.kubelet
    _, key = kubelet.current("client")
    at = issued or ctx.now
    signed = signed_by_cluster(_cluster_ca(ctx), node=node or _node(ctx), key=key, now=at, duration=duration)
    os.unlink(kubelet.current_file("client"))
    kubelet.write_dated("client", signed, key, at=at)


def _kubelet_client(tree: PkiTree) -> x509.Certificate:
    return KubeletTree(tree.root).current("client")[0]


def _client_issued(days_ago: int, *, lifetime_days: int = 365) -> Effect:
    """The kubelet's client certificate signed by ca for this node as the CSR signer would, ``days_ago``."""
    def effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
        cert = _kubelet_client(after)
        issued = now.replace(microsecond=0) - days_ago * DAY
        assert cert.not_valid_before_utc == issued - BACKDATE
        assert cert.not_valid_after_utc - cert.not_valid_before_utc == lifetime_days * DAY
        assert common_name(cert) == "system:node:cp-1"
        cert.verify_directly_issued_by(after.cert("ca"))
        assert same_key(cert, _kubelet_client(before))

    return effect


def _kubelet_rotation_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    assert KubeletTree(after.root).config()["rotateCertificates"] is False
    assert KubeletTree(before.root).config()["rotateCertificates"] is True


@_fault("kubelet-rotation-off", rule="KC-KLT-02", offender="kubelet/config.yaml",
        description="the kubelet's config.yaml sets rotateCertificates: false",
        effect=_kubelet_rotation_effect)
def _rotation_off(ctx: FaultContext) -> None:
    document = ctx.kubelet.config()
    document["rotateCertificates"] = False
    ctx.kubelet.write_config(document)


def _kubelet_current_not_newest_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    kubelet = KubeletTree(after.root)
    dated = sorted(path.name for path in kubelet.pki_dir.glob("kubelet-client-2*.pem"))
    assert len(dated) == 2
    assert os.readlink(kubelet.current_path("client")) == dated[0]  # the older
    _client_issued(200)(after, before, now)


@_fault("kubelet-current-not-newest", rule="KC-KLT-02", offender=CLIENT_CURRENT,
        description="kubelet-client-current.pem links to a client certificate issued 200 days ago, not to the "
                    "newest dated file", files=(CLIENT_CURRENT, CLIENT_DATED),
        effect=_kubelet_current_not_newest_effect)
def _current_not_newest(ctx: FaultContext) -> None:
    kubelet = ctx.kubelet
    _, key = kubelet.current("client")
    older = signed_by_cluster(_cluster_ca(ctx), node=_node(ctx), key=key, now=ctx.now - 200 * DAY)
    kubelet.write_dated("client", older, key, at=ctx.now - 200 * DAY)  # the newest file stays where it was


def _kubelet_client_wrong_node_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    cert = _kubelet_client(after)
    assert common_name(cert) == "system:node:cp-9"
    cert.verify_directly_issued_by(after.cert("ca"))
    assert same_key(cert, _kubelet_client(before))


@_fault("kubelet-client-wrong-node", rule="KC-KLT-01", offender=CLIENT_CURRENT,
        description="the kubelet's client certificate names another node: CN system:node:cp-9",
        files=(CLIENT_CURRENT, CLIENT_DATED),
        effect=_kubelet_client_wrong_node_effect)
def _client_wrong_node(ctx: FaultContext) -> None:
    _reissue_client(ctx, node="cp-9")


@_fault("kubelet-client-not-rotated", rule="KC-KLT-02", offender=CLIENT_CURRENT,
        description="the kubelet's client certificate was issued 330 days ago and never rotated: 90% of its "
                    "lifetime has passed, 35 days are left", files=(CLIENT_CURRENT, CLIENT_DATED),
        effect=_client_issued(330))
def _client_not_rotated(ctx: FaultContext) -> None:
    _reissue_client(ctx, issued=ctx.now - 330 * DAY)


@_fault("kubelet-client-outlives-signing", rule="KC-KLT-02", offender=CLIENT_CURRENT,
        description="the kubelet's client certificate is valid 400 days, longer than the 8760h signing duration",
        files=(CLIENT_CURRENT, CLIENT_DATED),
        effect=_client_issued(0, lifetime_days=400))
def _client_outlives_signing(ctx: FaultContext) -> None:
    _reissue_client(ctx, duration=400 * DAY)


def _kubelet_serving_expired_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    kubelet = KubeletTree(after.root)
    leaf, signer = x509.load_pem_x509_certificates(kubelet.serving_cert_path.read_bytes())
    assert leaf.not_valid_after_utc < now
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == 365 * DAY
    leaf.verify_directly_issued_by(signer)  # the kubelet's throw-away CA, in the same file
    assert public_key_pem(load_private_key(kubelet.serving_key_path.read_bytes())) == public_key_pem(leaf.public_key())  # type: ignore[arg-type]


@_fault("kubelet-serving-expired", rule="KC-KLT-03", offender=f"{PKI}/kubelet.crt",
        description="the kubelet's self-signed serving certificate expired a day ago (it had its year)",
        also_fails=("KC-VAL-04", "KC-EXP-01"), files=(f"{PKI}/kubelet.crt", f"{PKI}/kubelet.key"),
        note="an expired certificate is outside its window and inside every horizon, and those rules count "
             "every certificate of the node",
        effect=_kubelet_serving_expired_effect)
def _serving_expired(ctx: FaultContext) -> None:
    ctx.kubelet.write_serving(*self_signed_serving(_node(ctx), keys=ctx.keys, now=ctx.now - 366 * DAY))


def _kubelet_serving_other_node_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    kubelet = KubeletTree(after.root)
    assert kubelet.config()["serverTLSBootstrap"] is True
    cert, key = kubelet.current("server")
    assert common_name(cert) == "system:node:cp-9"
    assert dns_names(cert) == ["cp-9"]
    cert.verify_directly_issued_by(after.cert("ca"))
    assert public_key_pem(key) == public_key_pem(cert.public_key())  # type: ignore[arg-type]


@_fault("kubelet-serving-other-node", rule="KC-KLT-03", offender=f"{PKI}/kubelet-server-current.pem",
        description="serverTLSBootstrap is on and the cluster CA signed the serving certificate for another node "
                    "(cp-9 at 10.0.0.99)",
        files=("kubelet/config.yaml", f"{PKI}/kubelet-server-current.pem", f"{PKI}/kubelet-server-*.pem"),
        effect=_kubelet_serving_other_node_effect)
def _serving_other_node(ctx: FaultContext) -> None:
    kubelet = ctx.kubelet
    document = kubelet.config()
    document["serverTLSBootstrap"] = True
    kubelet.write_config(document)
    key = ctx.another_key("ECDSA-P256")
    serving = signed_by_cluster(_cluster_ca(ctx), node="cp-9", key=key, now=ctx.now, serving_address="10.0.0.99")
    kubelet.write_dated("server", serving, key, at=ctx.now)


@_fault("kubelet-key-group-readable", rule="KC-KLT-04", offender=f"{PKI}/kubelet.key",
        description="the kubelet's serving key kubelet.key is mode 0640",
        effect=mode('kubelet/pki/kubelet.key', 416))
def _key_group_readable(ctx: FaultContext) -> None:
    os.chmod(ctx.kubelet.serving_key_path, 0o640)


def _kubelet_config_owner_effect(after: PkiTree, before: PkiTree, now: dt.datetime) -> None:
    info = KubeletTree(after.root).config_path.stat()
    assert (info.st_uid, info.st_gid) == (65534, 65534)


@_fault("kubelet-config-foreign-owner", rule="KC-KLT-05", offender="kubelet/config.yaml",
        description=f"the kubelet's config.yaml is owned by uid/gid {FOREIGN_UID} (nobody)", needs_root=True,
        effect=_kubelet_config_owner_effect)
def _config_foreign_owner(ctx: FaultContext) -> None:
    os.chown(ctx.kubelet.config_path, FOREIGN_UID, FOREIGN_UID)


KUBELET_FAULTS: Mapping[str, TreeFault] = MappingProxyType(_FAULTS)
