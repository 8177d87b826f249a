"""``kubecert reference cluster serve``: the reference cluster's Kubernetes-style API over mutual TLS.

Makes the cluster in ``--dir`` (or opens the one there), serves one API server per control-plane node
on loopback, prints where, and the admin kubeconfig kubectl can use, then waits for Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubecert.reference.errors import ReferenceUsageError, guarded
from kubecert.reference.pki.keys import DEFAULT_KEY_ALGORITHM, KEY_ALGORITHMS
from kubecert.reference.pki.options import INIT_COMMAND_PROFILE, PROFILE_CA_DAYS, ca_days_for_profile
from kubecert.stopping import stop_signals_to


def add_cluster(commands: Any) -> None:
    """Add ``cluster serve`` to the reference commands; usage errors print one line and exit 3."""
    parser = commands.add_parser("cluster", help="a reference Kubernetes cluster served over mutual TLS",
                                 description="A reference cluster (kubeadm trees per control-plane node) behind a "
                                             "Kubernetes-style API that kubectl accepts.")
    verbs = parser.add_subparsers(dest="cluster_command", metavar="VERB", required=True)
    serve = verbs.add_parser(
        "serve", help="serve the cluster's API on loopback until interrupted",
        description="Make the cluster in --dir (or reuse the one there) and serve one API server per control-plane "
                    "node on 127.0.0.1. Prints the URL and an admin kubeconfig for kubectl.",
    )
    serve.add_argument("--dir", type=Path, default=None, help="the cluster's folder (made if empty or absent)")
    serve.add_argument("--port", type=int, default=0, help="the cluster endpoint's port; 0 picks a free one "
                                                           "(default: %(default)s)")
    serve.add_argument("--control-planes", type=int, default=None, metavar="N",
                       help="control-plane nodes of a new cluster (default: 3)")
    serve.add_argument("--workers", type=int, default=None, metavar="N", help="workers of a new cluster (default: 2)")
    serve.add_argument("--encryption-algorithm", default=None, metavar="ALGORITHM",
                       help=f"key type of a new cluster: {', '.join(KEY_ALGORITHMS)} "
                            f"(default: {DEFAULT_KEY_ALGORITHM})")
    profiles = ", ".join(f"{name} {days} days" for name, days in PROFILE_CA_DAYS.items())
    # kubeadm's by default, as `reference pki init`: what `kubecert check --target kubeconfig:...` judges by.
    serve.add_argument("--profile", default=None, metavar="PROFILE",
                       help=f"CA validity of a new cluster: {profiles} (default: {INIT_COMMAND_PROFILE}, as "
                            "kubeadm init; check a palette cluster with kubecert check --profile palette)")
    serve.add_argument("--fault", action="append", default=[], metavar="NAME",
                       help="turn on a named fault (repeatable); see --list-faults")
    serve.add_argument("--list-faults", action="store_true", help="list the faults and the rules they fail")
    serve.set_defaults(handler=guarded(run_serve))


def run_serve(args: argparse.Namespace) -> int:
    from kubecert.reference.faults import listed
    from kubecert.reference.kube.faults import FAULTS, checked

    if args.list_faults:
        print(listed(FAULTS.values()))
        return 0
    if args.dir is None:
        raise ReferenceUsageError("--dir is required: the folder the cluster lives in")
    if not 0 <= args.port < 65536:
        raise ReferenceUsageError(f"--port {args.port} is not a port")
    faults = checked(args.fault)
    cluster = _cluster(args, faults)

    from kubecert.reference.kube.server import ClusterServer

    server = ClusterServer(cluster, port=args.port)
    with _signals_stop() as stop:  # before anything is printed: a signal sent on "ready" must be caught
        try:
            server.start()
        except OSError as exc:
            raise ReferenceUsageError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}") from None
        try:
            _announce(cluster, server, faults)
            stop.wait()
        finally:
            server.stop()
    return 0


def _cluster(args: argparse.Namespace, faults: frozenset[str]) -> Any:
    from kubecert.reference.kube.cluster import STATE_FILE, ClusterSpec, ReferenceCluster

    if (args.dir / STATE_FILE).is_file():
        cluster = ReferenceCluster(args.dir, faults=faults)
        nodes = cluster.nodes()
        have = {"--control-planes": sum(n.control_plane for n in nodes),
                "--workers": sum(not n.control_plane for n in nodes),
                "--encryption-algorithm": cluster.info.key_algorithm, "--profile": cluster.info.profile}
        given = {"--control-planes": args.control_planes, "--workers": args.workers,
                 "--encryption-algorithm": args.encryption_algorithm, "--profile": args.profile}
        for option, value in given.items():
            if value is not None and value != have[option]:
                raise ReferenceUsageError(f"{args.dir} holds a cluster made with {option} {have[option]}; "
                                          "use a new folder for another shape")
        return cluster
    spec = ClusterSpec(control_planes=3 if args.control_planes is None else args.control_planes,
                       workers=2 if args.workers is None else args.workers,
                       key_algorithm=args.encryption_algorithm or DEFAULT_KEY_ALGORITHM,
                       profile=args.profile or INIT_COMMAND_PROFILE)
    return ReferenceCluster.create(args.dir, spec, faults=faults)


def _announce(cluster: Any, server: Any, faults: frozenset[str]) -> None:
    print(f"kubecert reference cluster serving at {server.url}")
    print(f"admin kubeconfig: {server.admin_kubeconfig.resolve()}")
    print(f"cluster {cluster.info.name} uid {cluster.info.uid} namespace {cluster.namespace}")
    print(f"profile {cluster.info.profile}: CAs valid {ca_days_for_profile(cluster.info.profile)} days")
    trees = cluster.node_trees()
    for node, node_url in server.node_urls.items():
        print(f"control-plane node {node} at {node_url}, tree {trees[node].resolve()}")
    workers = [n.name for n in cluster.nodes() if not n.control_plane]
    print(f"workers: {', '.join(workers) or 'none'}")
    real = server.static_pods is not None and server.static_pods.etcd_is_real
    print(f"etcd: {'etcd from PATH' if real else 'a stand-in (no etcd on PATH)'}, one member a control-plane node")
    if faults:
        print(f"faults: {', '.join(sorted(faults))}")
    print("ready; stop with Ctrl-C")
    sys.stdout.flush()


@contextlib.contextmanager
def _signals_stop() -> Iterator[threading.Event]:
    """An event SIGINT and SIGTERM set while the block runs (one the process was started with ignored stays
    ignored: kubecert.stopping); the previous handlers come back after."""
    stop = threading.Event()

    def on_signal(_number: int, _frame: object) -> None:
        stop.set()

    with stop_signals_to(on_signal):
        yield stop
