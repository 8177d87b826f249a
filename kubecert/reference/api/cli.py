"""``kubecert reference serve``: the reference Palette-like API over HTTPS, until interrupted.

It prints the URL, the CA bundle to verify it with, where the API key is, the kubeconfig of the
Kubernetes-style API that holds the clusters' SpectroCluster objects, and the clusters it serves; the key
itself is never printed. Restarted on the same ``--state`` file it goes on where it stopped.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

from kubecert.extras import MissingExtra, require
from kubecert.reference.errors import ReferenceUsageError, guarded
from kubecert.reference.pki.files import KEY_MODE, write_atomic

DEFAULT_TIME_SCALE = 20.0


def add_serve(commands: Any) -> None:
    parser = commands.add_parser(
        "serve", help="serve the Palette-like management API over HTTPS (reference platform)",
        description="Serve the reference platform's Palette-like API on loopback over HTTPS, with a CA bundle for "
                    "clients. State lives in SQLite: a server restarted on the same --state file carries on.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8443, help="port; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--state", type=Path, default=None, metavar="FILE",
                        help="the SQLite state file (default: a new one in a temporary folder)")
    parser.add_argument("--api-key-file", type=Path, default=None, metavar="FILE",
                        help="read the API key from FILE; if FILE does not exist, a new key is written there "
                             "(mode 0600). Default: <state>.apikey")
    parser.add_argument("--time-scale", type=float, default=DEFAULT_TIME_SCALE, metavar="X",
                        help="run platform time X times faster than real time (default: %(default)s: a 60 s "
                             "machine provisioning takes 3 s)")
    parser.add_argument("--seed-clusters", type=int, default=1, metavar="N",
                        help="clusters to create in a new state file (default: %(default)s)")
    parser.add_argument("--renewal-mode", choices=("repave", "in-place"), default="repave",
                        help="how the seeded clusters renew (default: %(default)s)")
    parser.add_argument("--repave-approval", action="store_true",
                        help="the seeded clusters hold every repave until it is approved (PATCH "
                             "/v1/spectroclusters/{uid}/repave/approve)")
    parser.add_argument("--control-planes", type=int, default=3, metavar="N")
    parser.add_argument("--workers", type=int, default=2, metavar="N")
    parser.add_argument("--cluster-age-days", type=float, default=200.0, metavar="DAYS",
                        help="how long ago the seeded clusters were made (default: %(default)s)")
    parser.add_argument("--rate-limit", type=float, default=200.0, metavar="PER_SECOND",
                        help="requests a second with the key before 429; requests without it get a tenth "
                             "(0: no limit; default: %(default)s)")
    parser.add_argument("--rate-limit-per-ip", type=float, default=0.0, metavar="PER_SECOND",
                        help="requests a second from one client address before 429, whatever they carry (Palette's "
                             "resource limits: 10; default: %(default)s, no such limit)")
    parser.add_argument("--keep-alive", type=int, default=None, metavar="SECONDS",
                        help="how long an idle connection stays open; keep it above the clients' poll interval "
                             "(default: 75)")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME",
                        help="turn on a named fault (repeatable); see --list-faults")
    parser.add_argument("--list-faults", action="store_true", help="list the faults and the rules they fail")
    parser.set_defaults(handler=guarded(run_serve))


def run_serve(args: argparse.Namespace) -> int:
    from kubecert.reference.faults import listed
    from kubecert.reference.platform.faults import FAULTS, checked

    try:
        require("reference", "kubecert reference serve")
    except MissingExtra as exc:
        raise ReferenceUsageError(str(exc)) from None
    if args.list_faults:
        print(listed(FAULTS.values()))
        return 0
    faults = checked(args.fault)
    if args.rate_limit < 0 or args.rate_limit_per_ip < 0:
        raise ReferenceUsageError("--rate-limit and --rate-limit-per-ip must be 0 (no limit) or more")
    if args.time_scale <= 0:
        raise ReferenceUsageError("--time-scale must be greater than 0")
    if not 0 <= args.port < 65536:
        raise ReferenceUsageError(f"--port {args.port} is not a port")
    if args.keep_alive is not None and args.keep_alive < 1:
        raise ReferenceUsageError("--keep-alive must be 1 second or more")
    if args.seed_clusters < 0 or args.control_planes < 1 or args.workers < 0:
        raise ReferenceUsageError("--seed-clusters and --workers must be 0 or more, --control-planes 1 or more")
    state = args.state or Path(tempfile.mkdtemp(prefix="kubecert-serve-")) / "state.db"
    state.parent.mkdir(parents=True, exist_ok=True)
    key_file = args.api_key_file or Path(f"{state}.apikey")
    api_key = _api_key(key_file)

    from kubecert.reference.api.server import KEEP_ALIVE_S, ReferenceApiServer, ServerSettings
    from kubecert.reference.platform.engine import Timing

    settings = ServerSettings(state_file=state, api_key=api_key, host=args.host, port=args.port,
                              timing=Timing(scale=args.time_scale), faults=faults, rate=args.rate_limit,
                              rate_per_address=args.rate_limit_per_ip,
                              keep_alive_s=args.keep_alive or KEEP_ALIVE_S)
    try:
        server = ReferenceApiServer(settings)
    except OSError as exc:
        raise ReferenceUsageError(f"cannot use the state file {state}: {exc}") from None
    clusters = seed(server.platform, args.seed_clusters, mode=args.renewal_mode, control_planes=args.control_planes,
                    workers=args.workers, age_days=args.cluster_age_days, repave_approval=args.repave_approval)

    def ready() -> None:
        print(f"kubecert reference API serving at {server.url}")
        print(f"CA bundle: {server.tls.ca_bundle}")
        print(f"API key file: {key_file} (the key itself is never printed)")
        print(f"kubeconfig: {server.kubeconfig} (the clusters' SpectroCluster objects: kubectl annotate spc NAME "
              "-n cluster-UID ...; kubecert check --palette-kubeconfig)")
        print(f"state: {state}")
        for line in clusters:
            print(line)
        if faults:
            print(f"faults: {', '.join(sorted(faults))}")
        print("ready; stop with Ctrl-C (the state file keeps everything for a restart)")
        sys.stdout.flush()

    try:
        server.serve_forever(on_ready=ready)
    except OSError as exc:
        raise ReferenceUsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return 0


def _api_key(path: Path) -> str:
    if path.exists():
        key = path.read_text(encoding="utf-8").strip()
        if not key:
            raise ReferenceUsageError(f"{path}: the API key file is empty")
        return key
    key = secrets.token_urlsafe(32)
    write_atomic(path, key.encode() + b"\n", KEY_MODE)
    return key


def seed(platform: Any, count: int, *, mode: str, control_planes: int, workers: int, age_days: float,
         repave_approval: bool = False) -> list[str]:
    """Clusters for a new state file; a state file that has clusters keeps them. One line per cluster."""
    with platform.store.snapshot() as db:
        existing = db.execute("SELECT COUNT(*) FROM clusters").fetchone()[0]
    project = platform.ensure_project("default")
    platform.ensure_project("other")  # a second project, which owns none of the clusters
    if not existing:
        for number in range(1, count + 1):
            platform.seed_cluster(f"reference-{number}", project, mode=mode, control_planes=control_planes,
                                  workers=workers, age_days=age_days, repave_approval=repave_approval)
    with platform.store.snapshot() as db:
        rows = db.execute("SELECT c.*, p.name AS project FROM clusters c JOIN projects p ON p.uid = c.project_uid "
                          "ORDER BY c.name").fetchall()
    return [f"cluster {r['name']} uid {r['uid']} project {r['project']} uid {r['project_uid']} "
            f"({r['renewal_mode']}{', repaves held for approval' if r['repave_approval'] else ''}) "
            f"kubernetes {r['kubernetes_version']}, profile {_profiles(r)}" for r in rows]


def _profiles(cluster: Any) -> str:
    """The cluster's profile version and the later ones (what --upgrade-profile names)."""
    from kubecert.reference.api import profiles

    later = ", ".join(f"{v.release} {v.uid}" for v in profiles.later(cluster))
    running = profiles.by_release(cluster, cluster["kubernetes_version"]).uid
    return running + (f" (later versions: {later})" if later else "")
