"""``kubecert reference ...``: the reference implementation's commands, in kubeadm's words.

``add_commands(parser)`` fills the ``kubecert reference`` command. Every leaf command sets
``handler`` (Namespace -> exit code), as kubecert.cli dispatches. New commands are added by appending a registrar to
``REFERENCE_COMMANDS`` (e.g. ``serve``) or to ``PKI_VERBS`` (e.g. ``renew``, ``generate-csr``).
An error the user can cause prints one line and exits with EXIT_USAGE; there is no traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias

from kubecert.reference.errors import EXIT_USAGE, ReferenceUsageError, guarded
from kubecert.reference.faults import listed
from kubecert.reference.pki.expiration import OUTPUT_FORMATS, check_expiration, render
from kubecert.reference.pki.faults import FAULTS, apply_fault, fault_names
from kubecert.reference.pki.init import init_pki
from kubecert.reference.pki.keys import DEFAULT_KEY_ALGORITHM, KEY_ALGORITHMS, FreshKeys
from kubecert.reference.pki.kubelet import KUBELET_STATES, ROTATED
from kubecert.reference.pki.options import INIT_COMMAND_PROFILE, PROFILE_CA_DAYS, InitOptions, ca_days_for_profile
from kubecert.reference.pki.renewal_faults import renewal_fault_names
from kubecert.reference.pki.versions import DEFAULT_VERSION, KubeadmVersion
from kubecert.reference.pki.worker import DEFAULT_ADDRESS, DEFAULT_NODE_NAME, join_worker

EXIT_OK = 0
ROLES = ("control-plane", "worker")
__all__ = ["EXIT_OK", "EXIT_USAGE", "add_commands"]

Subparsers: TypeAlias = "argparse._SubParsersAction[Any]"


def _now() -> dt.datetime:
    # The one place the reference commands read the clock.
    return dt.datetime.now(dt.UTC)


# --- kubecert reference pki init


def _add_init(verbs: Subparsers) -> None:
    parser = verbs.add_parser(
        "init", help="write a node's /etc/kubernetes tree and kubelet folder as kubeadm init (or join) does",
        description="Write the PKI, kubeconfigs and static pod manifests kubeadm init writes, and the kubelet's "
                    "folder (kubelet/, standing for /var/lib/kubelet), into an empty folder; with --role worker, "
                    "what a worker has once it joined: ca.crt, kubelet.conf and the kubelet's folder.",
    )
    parser.add_argument("--dir", type=Path, help="the empty folder to write (a node's /etc/kubernetes); required")
    parser.add_argument("--role", choices=ROLES, default=ROLES[0], help="the node to write (default control-plane)")
    parser.add_argument("--node-name", default=None, help=f"default cp-1, or {DEFAULT_NODE_NAME} for a worker")
    parser.add_argument("--advertise-address", default=None,
                        help=f"the node's IP address (default 10.0.0.10, or {DEFAULT_ADDRESS} for a worker)")
    parser.add_argument("--dns-domain", "--service-dns-domain", dest="dns_domain", default="cluster.local")
    parser.add_argument("--service-cidr", default="10.96.0.0/12")
    parser.add_argument("--control-plane-endpoint", default=None, help="host or host:port shared by all nodes")
    parser.add_argument("--apiserver-cert-extra-sans", default="", metavar="SAN,...",
                        help="extra DNS names and IPs for the apiserver certificate")
    parser.add_argument("--encryption-algorithm", default=DEFAULT_KEY_ALGORITHM, metavar="ALGORITHM",
                        help=f"key type: {', '.join(KEY_ALGORITHMS)}")
    profiles = ", ".join(f"{name} {days} days" for name, days in PROFILE_CA_DAYS.items())
    parser.add_argument("--profile", default=INIT_COMMAND_PROFILE, metavar="PROFILE",
                        help=f"CA validity: {profiles} (default %(default)s, as kubeadm init; check a palette tree "
                             "with kubecert check --profile palette)")
    parser.add_argument("--kubernetes-version", default=DEFAULT_VERSION, metavar="v1.MINOR.PATCH",
                        help="the kubeadm release whose files are written, v1.28 and later (default %(default)s): "
                             "v1.28 puts admin.conf and the apiserver's kubelet and etcd clients in system:masters and "
                             "writes no super-admin.conf; up to v1.30 a leaf starts when its CA does, kubeconfig keys "
                             "are RSA-2048 and only RSA-2048 or ECDSA-P256 exist; from v1.31 a leaf starts 5 minutes "
                             "before it is signed")
    parser.add_argument("--kubelet-state", choices=KUBELET_STATES, default=ROTATED,
                        help="how far the first control-plane node's kubelet has come: fresh (not yet run; "
                             "kubelet.conf embeds the client certificate kubeadm signed), started (its store keeps "
                             "kubeadm's certificate; kubelet.conf still embeds it), finalized (kubelet-finalize "
                             "pointed kubelet.conf at kubelet-client-current.pem), rotated (the CSR signer's ECDSA "
                             "certificate; default)")
    parser.add_argument("--external-ca", action="append", default=[], metavar="CA",
                        help="remove this CA's key after init (kubeadm external-CA mode); repeatable")
    parser.add_argument("--external-etcd", action="store_true", help="no etcd CA or etcd certificates")
    parser.add_argument("--no-super-admin", action="store_true", help="a secondary control-plane node")
    parser.add_argument("--server-tls-bootstrap", action="store_true",
                        help="the kubelet's serving certificate signed by the cluster CA (serverTLSBootstrap), "
                             "not self-signed")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME",
                        help=f"plant a named fault after init; repeatable: {', '.join(fault_names())}")
    parser.add_argument("--list-faults", action="store_true", help="list the faults and the rules they fail")
    parser.set_defaults(handler=guarded(_run_init))


def _run_init(args: argparse.Namespace) -> int:
    if args.list_faults:
        print(listed(FAULTS.values()))
        return EXIT_OK
    if args.dir is None:
        raise ReferenceUsageError("--dir is required: the empty folder to write (a node's /etc/kubernetes)")
    for name in args.fault:  # refuse before writing anything
        if name not in FAULTS:
            raise ReferenceUsageError(f"unknown fault {name!r}; known faults: {', '.join(fault_names())}")
        if FAULTS[name].needs_root and os.geteuid() != 0:
            raise ReferenceUsageError(f"fault {name!r} changes a file's owner, which only root can do")
    worker = args.role == "worker"
    if worker:
        control_plane_only = [flag for flag, given in (
            ("--external-ca", args.external_ca), ("--external-etcd", args.external_etcd),
            ("--no-super-admin", args.no_super_admin), ("--apiserver-cert-extra-sans", args.apiserver_cert_extra_sans),
            ("--kubelet-state", args.kubelet_state != ROTATED),
        ) if given]
        if control_plane_only:
            raise ReferenceUsageError(f"{control_plane_only[0]} concerns control-plane nodes, not --role worker")
    options = InitOptions(
        node_name=args.node_name or (DEFAULT_NODE_NAME if worker else "cp-1"),
        advertise_address=args.advertise_address or (DEFAULT_ADDRESS if worker else "10.0.0.10"),
        dns_domain=args.dns_domain, service_cidr=args.service_cidr, control_plane_endpoint=args.control_plane_endpoint,
        cert_sans=tuple(san.strip() for san in args.apiserver_cert_extra_sans.split(",") if san.strip()),
        key_algorithm=args.encryption_algorithm, ca_days=ca_days_for_profile(args.profile),
        kubernetes_version=args.kubernetes_version, external_ca=tuple(args.external_ca),
        external_etcd=args.external_etcd, super_admin=not args.no_super_admin,
        server_tls_bootstrap=args.server_tls_bootstrap, kubelet_state=args.kubelet_state,
    )
    keys, now = FreshKeys(), _now()
    result = (join_worker if worker else init_pki)(args.dir, options, keys=keys, now=now)
    for line in result.log:
        print(line)
    for name in args.fault:
        fault = apply_fault(args.dir, name, keys=keys, now=now)
        print(f'[fault] Planted "{fault.name}" in {fault.offender}: {fault.description} (fails {fault.rule})')
    return EXIT_OK


# --- kubecert reference pki check-expiration


def _add_check_expiration(verbs: Subparsers) -> None:
    parser = verbs.add_parser(
        "check-expiration", help="list certificate expiry as kubeadm certs check-expiration does",
        description="Check expiration for the certificates of a kubeadm tree.",
    )
    parser.add_argument("--dir", required=True, type=Path, help="the tree's folder (what a node calls /etc/kubernetes)")
    parser.add_argument("-o", "--output", default="text", metavar="FORMAT", help=f"one of {', '.join(OUTPUT_FORMATS)}")
    _add_etcd_and_fault(parser, renewal_fault_names("check-expiration"))
    parser.set_defaults(handler=guarded(_run_check_expiration))


def _run_check_expiration(args: argparse.Namespace) -> int:
    if args.output not in OUTPUT_FORMATS:
        raise ReferenceUsageError(f"unknown output format {args.output!r}; expected one of {', '.join(OUTPUT_FORMATS)}")
    if not (args.dir / "pki").is_dir():
        raise ReferenceUsageError(f"{args.dir} holds no pki folder; give the folder that contains pki/")
    version = KubeadmVersion.of_tree(args.dir)
    if args.output not in version.expiration_formats:
        raise ReferenceUsageError(f"kubeadm {version} (the tree's kube-apiserver manifest) prints check-expiration "
                                  "as text only: -o json|yaml came with v1.30")
    info = check_expiration(args.dir, now=_now(), external_etcd=args.external_etcd, fault=args.fault)
    sys.stdout.write(render(info, args.output))
    return EXIT_OK


# --- kubecert reference pki renew | generate-csr | upgrade


def _add_renew(verbs: Subparsers) -> None:
    parser = verbs.add_parser(
        "renew", help="renew certificates as kubeadm certs renew does",
        description="Renew all certificates, or one by name, with the tree's own CAs: same CA, new key and serial, "
                    "attributes copied from the certificate on disk.",
    )
    parser.add_argument("which", metavar="all|NAME", help="all, or one certificate (apiserver, admin.conf, ...)")
    parser.add_argument("--dir", required=True, type=Path, help="the tree's folder (what a node calls /etc/kubernetes)")
    _add_etcd_and_fault(parser, renewal_fault_names("renew"))
    parser.set_defaults(handler=guarded(_run_renew))


def _add_etcd_and_fault(parser: argparse.ArgumentParser, fault_choices: tuple[str, ...]) -> None:
    parser.add_argument("--external-etcd", action="store_true", default=None,
                        help="leave out etcd (default: external when manifests/etcd.yaml is absent)")
    parser.add_argument("--fault", default=None, metavar="NAME",
                        help=f"misbehave on purpose, for kubecert's own tests: {', '.join(fault_choices)}")


def _run_renew(args: argparse.Namespace) -> int:
    from kubecert.reference.pki.renew import renew

    result = renew(args.dir, args.which, keys=FreshKeys(), now=_now(), fault=args.fault,
                   external_etcd=args.external_etcd)
    for line in result.log:
        print(line)
    return EXIT_OK


def _add_generate_csr(verbs: Subparsers) -> None:
    parser = verbs.add_parser(
        "generate-csr", help="write keys and CSRs for renewal by an external CA",
        description="Write a key and a CSR for every certificate of the tree; nothing else changes. With --csr-dir, "
                    "the seed's CSR-only renewal: <name>.key and <name>.csr in DIR (made 0700). With --cert-dir "
                    "DIR/pki --kubeconfig-dir DIR, kubeadm certs generate-csr's layout: the PKI's paths under "
                    "DIR/pki and, for each kubeconfig, DIR/<name>.conf holding only its key beside "
                    "DIR/<name>.conf.csr (files 0600, folders 0755, less the umask).",
    )
    parser.add_argument("--dir", required=True, type=Path, help="the tree's folder (what a node calls /etc/kubernetes)")
    parser.add_argument("--csr-dir", type=Path, help="the seed's form: where the keys and CSRs go (made 0700)")
    parser.add_argument("--cert-dir", type=Path, help="kubeadm's form: where the certificates' keys and CSRs go")
    parser.add_argument("--kubeconfig-dir", type=Path, help="kubeadm's form: where the kubeconfigs' keys and CSRs go")
    _add_etcd_and_fault(parser, renewal_fault_names("generate-csr"))
    parser.set_defaults(handler=guarded(_run_generate_csr))


def _run_generate_csr(args: argparse.Namespace) -> int:
    kubeadm_form = args.cert_dir is not None or args.kubeconfig_dir is not None
    if kubeadm_form == (args.csr_dir is not None) or (kubeadm_form and None in (args.cert_dir, args.kubeconfig_dir)):
        raise ReferenceUsageError("give --csr-dir DIR (the seed's CSR-only form) or both --cert-dir and "
                                  "--kubeconfig-dir (kubeadm certs generate-csr's form)")
    if kubeadm_form:
        from kubecert.reference.pki.kubeadm_csr import generate_kubeadm_csrs

        if args.external_etcd is not None:
            raise ReferenceUsageError("--external-etcd belongs to the --csr-dir form; kubeadm's form reads it from "
                                      "the tree")
        result = generate_kubeadm_csrs(args.dir, args.cert_dir, args.kubeconfig_dir, keys=FreshKeys(),
                                       fault=args.fault)
    else:
        from kubecert.reference.pki.csr import generate_csr

        result = generate_csr(args.dir, args.csr_dir, keys=FreshKeys(), fault=args.fault,
                              external_etcd=args.external_etcd)
    for line in result.log:
        print(line)
    return EXIT_OK


def _go_bool(text: str) -> bool:
    """A Go boolean flag's value: --certificate-renewal=false."""
    value = text.strip().lower()
    if value in ("true", "t", "1"):
        return True
    if value in ("false", "f", "0"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not true or false")


def _add_upgrade(verbs: Subparsers) -> None:
    parser = verbs.add_parser(
        "upgrade", help="the certificate part of kubeadm upgrade apply: renewal per component",
        description="Renew each control-plane component's certificates as kubeadm upgrade does, then admin.conf.",
    )
    parser.add_argument("--dir", required=True, type=Path, help="the tree's folder (what a node calls /etc/kubernetes)")
    parser.add_argument("--certificate-renewal", type=_go_bool, nargs="?", const=True, default=True,
                        metavar="true|false", help="renew certificates during the upgrade (default true)")
    _add_etcd_and_fault(parser, renewal_fault_names("upgrade"))
    parser.set_defaults(handler=guarded(_run_upgrade))


def _run_upgrade(args: argparse.Namespace) -> int:
    from kubecert.reference.pki.upgrade import upgrade

    result = upgrade(args.dir, certificate_renewal=args.certificate_renewal, keys=FreshKeys(), now=_now(),
                     fault=args.fault, external_etcd=args.external_etcd)
    for line in result.log:
        print(line)
    return EXIT_OK


# --- registration

PKI_VERBS: list[Callable[[Subparsers], None]] = [
    _add_init, _add_check_expiration, _add_renew, _add_generate_csr, _add_upgrade,
]


def _add_pki(commands: Subparsers) -> None:
    parser = commands.add_parser("pki", help="kubeadm's PKI verbs on a folder",
                                 description="kubeadm's certificate verbs, on a folder instead of a node.")
    verbs = parser.add_subparsers(dest="pki_command", metavar="VERB", required=True)
    for add_verb in PKI_VERBS:
        add_verb(verbs)


def _add_serve(commands: Subparsers) -> None:
    from kubecert.reference.api.cli import add_serve

    add_serve(commands)


def _add_cluster(commands: Subparsers) -> None:
    from kubecert.reference.kube.cli import add_cluster

    add_cluster(commands)


REFERENCE_COMMANDS: list[Callable[[Subparsers], None]] = [_add_pki, _add_serve, _add_cluster]


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Add the reference's commands to ``kubecert reference`` (kubecert/cli.py declares it)."""
    commands = parser.add_subparsers(dest="reference_command", metavar="COMMAND", required=True)
    for add_command in REFERENCE_COMMANDS:
        add_command(commands)
