"""KC-X509: chains, CA and leaf extensions, key usage, key pairs and algorithm strength."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubecert import layout
from kubecert.inventory.model import CertRecord, KeyFacts, PublicKeyFacts, Role
from kubecert.rules._common import is_external, issuing_ca
from kubecert.rules.catalog import implements
from kubecert.rules.chains import validate
from kubecert.rules.context import RuleContext
from kubecert.rules.findings import Finding, failed, not_applicable, passed

_CA_NAMES = tuple(s.name for s in layout.CAS)
_LEAF_NAMES = tuple(s.name for s in layout.LEAVES)
_KUBECONFIG_NAMES = tuple(k.name for k in layout.KUBECONFIGS)
_STRONG_HASHES = {"sha256", "sha384", "sha512", "sha3-256", "sha3-384", "sha3-512"}
# What Kubernetes' Go components accept, not only what kubeadm makes: crypto/tls signs and verifies with
# ECDSA on P-256, P-384 and P-521 and, since Go 1.20.7/1.21 (CVE-2023-29409), refuses RSA keys over 8192
# bits in a handshake, so a larger one breaks every TLS connection it is used for.
_STRONG_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})
RSA_MIN_BITS, RSA_MAX_BITS = 2048, 8192


@implements("KC-X509-01")
def leaf_signed_by_ca(ctx: RuleContext) -> Iterator[Finding]:
    """K8S: each certificate is signed by the CA the required-certificates table names, and its chain to that CA
    validates as a Go TLS client validates it (RFC 5280)."""
    yield from ctx.unevaluated(*_LEAF_NAMES, *_CA_NAMES, owner="KC-INV-01/KC-INV-02")
    for leaf in ctx.inventory.leaves():
        ca = issuing_ca(ctx.inventory, leaf)
        if ca is None:
            continue  # the CA is missing: KC-INV-01 reports it
        problems = [why for why in [leaf.signed_by(ca)] if why]
        aki, ski = leaf.authority_key_identifier, ca.subject_key_identifier
        if aki and ski and aki != ski:
            problems.append(f"AKI {aki} is not {ca.name}'s SKI {ski}")
        facts: dict[str, Any] = {"ca": ca.name, "ca_path": ca.path, "ca_fingerprint_sha256": ca.fingerprint_sha256}
        if problems:
            yield failed(leaf, f"not signed by {ca.name}: " + "; ".join(problems), **facts)
            continue
        chain = validate(leaf, [ca.cert], layout.CERTS_BY_NAME[leaf.name].eku, ctx.now)
        notes = [note for note in ("no AKI: issued by old kubeadm" if not aki else "", chain.note) if note]
        if chain.refusal:
            yield failed(leaf, f"signed by {ca.name}, but a TLS client refuses its chain {chain.refusal}"
                         + "".join(f" ({note})" for note in notes), **facts)
        else:
            yield passed(leaf, f"signed by {ca.name}" + "".join(f" ({note})" for note in notes), notable=bool(notes),
                         **facts)


@implements("KC-X509-02")
def ca_is_self_signed_ca(ctx: RuleContext) -> Iterator[Finding]:
    """kubeadm makes each CA self-signed with CA:TRUE and keyCertSign; without them nothing verifies."""
    yield from ctx.unevaluated(*_CA_NAMES, owner="KC-INV-01")
    for ca in ctx.inventory.cas():
        problems = []
        constraints = ca.basic_constraints
        if constraints is None or not constraints.ca:
            problems.append("basicConstraints is not CA:TRUE")
        if not ca.key_usage or "key_cert_sign" not in ca.key_usage:
            problems.append("keyUsage lacks keyCertSign")
        external = is_external(ca, ctx.inventory)
        self_signature = ca.signed_by(ca) if ca.self_issued else "issuer differs from subject"
        if self_signature and not external:
            problems.append(f"not self-signed: {self_signature}")
        if problems:
            yield failed(ca, "; ".join(problems))
        elif self_signature:
            yield passed(ca, f"CA:TRUE with keyCertSign; externally managed and not self-signed "
                         f"(issued by {ca.issuer})", notable=True)
        else:
            yield passed(ca, "self-signed, CA:TRUE, keyCertSign")


@implements("KC-X509-03")
def leaf_is_not_ca(ctx: RuleContext) -> Iterator[Finding]:
    """A leaf that is a CA could sign certificates the cluster would trust."""
    yield from ctx.unevaluated(*_LEAF_NAMES, *_KUBECONFIG_NAMES, owner="KC-INV-02/KC-INV-03")
    for leaf in [*ctx.inventory.leaves(), *ctx.inventory.kubeconfig_certs()]:
        constraints = leaf.basic_constraints
        if constraints is not None and constraints.ca:
            yield failed(leaf, "basicConstraints CA:TRUE on a leaf")
        elif not leaf.key_usage or "digital_signature" not in leaf.key_usage:
            yield failed(leaf, f"keyUsage {list(leaf.key_usage or [])} lacks digitalSignature")
        elif constraints is None:
            yield passed(leaf, "no basicConstraints (issued by old kubeadm); not a CA", notable=True)
        else:
            yield passed(leaf, "CA:FALSE, digitalSignature")


@implements("KC-X509-04")
def extended_key_usage_fits(ctx: RuleContext) -> Iterator[Finding]:
    """K8S: server certificates need serverAuth, clients clientAuth; etcd server and peer need both."""
    yield from ctx.unevaluated(*_LEAF_NAMES, *_KUBECONFIG_NAMES, owner="KC-INV-02/KC-INV-03")
    for leaf in [*ctx.inventory.leaves(), *ctx.inventory.kubeconfig_certs()]:
        spec = layout.CERTS_BY_NAME.get(leaf.name)
        required = spec.eku if spec else (layout.CLIENT_AUTH,)
        present = leaf.extended_key_usage
        if present is None:
            yield failed(leaf, f"no extendedKeyUsage, expected {', '.join(required)}")
            continue
        missing = [u for u in required if u not in present]
        extra = [u for u in present if u not in required]
        if missing:
            yield failed(leaf, f"extendedKeyUsage {', '.join(present) or 'empty'} lacks {', '.join(missing)}",
                         eku=list(present))
        elif extra:
            yield passed(leaf, f"{', '.join(required)} (also {', '.join(extra)})", notable=True, eku=list(present))
        else:
            yield passed(leaf, ", ".join(required), eku=list(present))


@implements("KC-X509-05")
def keys_match_certificates(ctx: RuleContext) -> Iterator[Finding]:
    """A certificate is only usable with the private key of the public key it certifies."""
    key_subjects = [f"{name}.key" for name in (*_CA_NAMES, *_LEAF_NAMES)]
    yield from ctx.reported(*key_subjects)
    yield from ctx.unevaluated(*_CA_NAMES, *_LEAF_NAMES, *_KUBECONFIG_NAMES, owner="KC-INV-01/02/03")
    reported = {p.subject for p in ctx.inventory.problems_for(*key_subjects)}
    for record in [*ctx.inventory.cas(), *ctx.inventory.leaves()]:
        if f"{record.name}.key" in reported:
            continue
        if record.key is None:
            if record.role is Role.CA:
                yield not_applicable(record, "no CA key: externally managed (KC-EXT-01)")
            continue
        yield _pair(record, record.key)
    for kubeconfig in ctx.inventory.kubeconfigs.values():
        if kubeconfig.client_cert is None:
            continue
        if kubeconfig.embedded_key is None:
            yield failed(kubeconfig.client_cert, "embeds a client certificate but no client-key-data")
        else:
            yield _pair(kubeconfig.client_cert, kubeconfig.embedded_key)


def _pair(record: CertRecord, key: KeyFacts) -> Finding:
    facts: dict[str, Any] = {"key_path": key.path, "key_public_sha256": key.public.spki_sha256,
             "cert_public_sha256": record.public_key.spki_sha256}
    if key.public.spki_sha256 == record.public_key.spki_sha256:
        return passed(record, "private key matches", **facts)
    return failed(record, f"private key {key.path} does not match the certificate's public key", **facts)


def _weak_key(key: PublicKeyFacts) -> str | None:
    if key.algorithm == "RSA":
        if key.size < RSA_MIN_BITS:
            return f"RSA key of {key.size} bits, need at least {RSA_MIN_BITS}"
        if key.size > RSA_MAX_BITS:
            return (f"RSA key of {key.size} bits: Go's crypto/tls refuses RSA keys over {RSA_MAX_BITS} bits in a "
                    "handshake (CVE-2023-29409), so Kubernetes components cannot use it")
        return None
    if key.algorithm == "ECDSA":
        return None if key.curve in _STRONG_CURVES else f"ECDSA curve {key.curve}, need P-256, P-384 or P-521"
    return f"{key.algorithm} key: Kubernetes components use RSA or ECDSA P-256/P-384/P-521"


@implements("KC-X509-06")
def strong_algorithms(ctx: RuleContext) -> Iterator[Finding]:
    """What Kubernetes components accept: RSA 2048..8192 and ECDSA P-256/P-384/P-521, SHA-256 or stronger."""
    yield from ctx.unevaluated(*_CA_NAMES, *_LEAF_NAMES, *_KUBECONFIG_NAMES, owner="KC-INV-01/02/03")
    for record in ctx.inventory.all_certs():
        problems = [p for p in [_weak_key(record.public_key)] if p]
        if record.signature_hash not in _STRONG_HASHES:
            problems.append(f"signature hash {record.signature_hash or 'none'}, need SHA-256 or stronger")
        facts: dict[str, Any] = {"key": record.public_key.describe(), "signature_hash": record.signature_hash}
        if problems:
            yield failed(record, "; ".join(problems), **facts)
        else:
            yield passed(record, f"{record.public_key.describe()}, {record.signature_hash}", **facts)
    sa = ctx.inventory.service_account
    if sa is not None and sa.private is not None:
        weak = _weak_key(sa.private.public)
        sa_facts: dict[str, Any] = {"key": sa.private.public.describe(), "path": sa.private_path}
        yield failed("sa.key", weak, **sa_facts) if weak else passed("sa.key", sa.private.public.describe(), **sa_facts)
