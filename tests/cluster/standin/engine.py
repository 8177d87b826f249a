"""A stand-in container engine for the kind target's tests. These machines have no container engine, so the
kind backend's calls are answered here, strictly: exactly the commands kubecert sends, each as docker (or
podman) would answer it for a kind cluster whose nodes are the reference cluster's nodes.

- Containers: ``NAME-control-plane``, ``NAME-control-plane2``, ... (role label ``control-plane``, hostname
  the reference's node name), ``NAME-worker``, ``NAME-worker2`` and ``NAME-external-load-balancer``, whose
  published 6443/tcp is the reference API's endpoint.
- ``exec C tar/cat`` read the node's folder (the reference's tree standing for /etc/kubernetes);
  ``exec C kubeadm ...`` runs the reference implementation of kubeadm on it; ``exec C crictl ps`` and
  ``crictl inspect`` show the reference's static pods of that node (their container ids and start times),
  and ``crictl stop`` restarts them (a restarted API server serves the renewed files after).

Anything else is refused with exit 125, so a command kubecert starts sending without a test noticing fails
loudly rather than being answered by a guess.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import os
import shutil
import socketserver
import stat
import sys
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubecert.reference.kube import ClusterServer, ReferenceCluster
from kubecert.targets.reference.actions import KUBEADM_CSRS, ReferenceActions

ROLE_TEMPLATE = '{{index .Config.Labels "io.x-k8s.kind.role"}}|{{.Config.Hostname}}|{{.State.Status}}'
STATIC_PODS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
CLIENT = Path(__file__).with_name("docker_client.py")
CSR_SCRATCH = "/tmp/kubecert-csr.*"  # the container's /tmp, as mktemp -d names it


@dataclass
class Container:
    name: str
    role: str
    hostname: str
    node_root: Path | None = None  # a control-plane node's /etc/kubernetes


@dataclass
class Answer:
    rc: int = 0
    out: bytes = b""
    err: str = ""


class StandinEngine:
    """Serves one kind cluster ``name`` made of ``cluster`` (served by ``server``) on a Unix socket."""

    def __init__(self, name: str, cluster: ReferenceCluster, server: ClusterServer, folder: Path) -> None:
        self.name, self.cluster, self.server, self.folder = name, cluster, server, folder
        self.calls: list[list[str]] = []
        self.containers: dict[str, Container] = {}
        for number, node in enumerate(cluster.control_plane_nodes(), start=1):
            container = f"{name}-control-plane{number if number > 1 else ''}"
            self.containers[container] = Container(container, "control-plane", node, cluster.node_root(node))
        workers = [n.name for n in cluster.nodes() if not n.control_plane]
        for number, node in enumerate(workers, start=1):
            container = f"{name}-worker{number if number > 1 else ''}"
            self.containers[container] = Container(container, "worker", node)
        balancer = f"{name}-external-load-balancer"
        self.containers[balancer] = Container(balancer, "external-load-balancer", balancer)
        self.scratch: dict[str, Path] = {}
        # What ``exec C tar -C FOLDER -cf - ...`` prints instead of the folder's copy (a hostile stream), by
        # FOLDER; CSR_SCRATCH stands for every scratch folder of generate-csr, whose kubeadm then writes nothing.
        self.copies: dict[str, bytes] = {}
        self.inspections: bytes | None = None  # what every ``crictl inspect`` prints instead (a hostile answer)
        self._ids = itertools.count(1)
        self.socket_path = folder / "engine.sock"
        self._server = _Server(str(self.socket_path), _Handler)
        self._server.engine = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def bin_dir(self, *commands: str) -> Path:
        """A folder holding the client under each command name (``docker``, ``podman``), to put on PATH."""
        folder = self.folder / "bin"
        folder.mkdir(exist_ok=True)
        for command in commands:
            script = folder / command
            script.write_text(f"#!/bin/sh\nexec {sys.executable} {CLIENT} \"$@\"\n")
            script.chmod(script.stat().st_mode | stat.S_IXUSR)
        return folder

    # --- answering

    def answer(self, argv: list[str]) -> Answer:
        self.calls.append(argv)
        verb, rest = (argv[0], argv[1:]) if argv else ("", [])
        if verb == "ps" and rest == ["-a", "--filter", f"label=io.x-k8s.kind.cluster={self.name}", "--format",
                                     "{{.Names}}"]:
            names = sorted(self.containers, reverse=True)  # not kind's order: kubecert sorts them
            return Answer(out="".join(f"{n}\n" for n in names).encode())
        if verb == "ps":
            return Answer(out=b"")  # another cluster: no container carries its label
        if verb == "inspect" and rest[:2] == ["--format", ROLE_TEMPLATE]:
            rows = [self.containers[n] for n in rest[2:]]
            return Answer(out="".join(f"{c.role}|{c.hostname}|running\n" for c in rows).encode())
        if verb == "port" and len(rest) == 2 and rest[1] == "6443/tcp" and rest[0].endswith("load-balancer"):
            port = self.server.listeners[0].port
            return Answer(out=f"0.0.0.0:{port}\n[::]:{port}\n".encode())
        if verb == "exec" and len(rest) >= 2 and rest[0] in self.containers:
            return self._exec(self.containers[rest[0]], rest[1:])
        return Answer(125, err=f"stand-in engine: unsupported command: {argv}\n")

    def _exec(self, container: Container, argv: list[str]) -> Answer:  # noqa: PLR0911, PLR0912 - one case a command
        root = container.node_root
        if root is None:
            return Answer(125, err=f"stand-in engine: {container.name} is not a control-plane node\n")
        actions = ReferenceActions(root, csr_layout=KUBEADM_CSRS)
        if argv[:2] == ["tar", "-C"] and len(argv) > 2:
            copy = self.copies.get(CSR_SCRATCH if argv[2] in self.scratch else argv[2])
            if copy is not None:
                return Answer(out=copy)
        match argv:
            case ["cat", "/etc/kubernetes/admin.conf"]:
                return Answer(out=(root / "admin.conf").read_bytes())
            case ["tar", "-C", folder, "-cf", "-", "."]:
                local = root if folder == "/etc/kubernetes" else self.scratch.get(folder)
                if local is None:
                    return Answer(2, err=f"tar: {folder}: Cannot open: No such file or directory\n")
                # The reference keeps a node's kubelet folder in its tree; on a node it is /var/lib/kubelet.
                return Answer(out=_tar(local, leave_out="kubelet" if local == root else None))
            case ["tar", "-C", "/var/lib/kubelet", "-cf", "-", "config.yaml", "pki"]:
                return Answer(out=_tar(root / "kubelet"))
            case ["kubeadm", "certs", "renew", "all"]:
                return _recorded(actions.renew_all())
            case ["kubeadm", "certs", "renew", name]:
                return _recorded(actions.renew_one(name))
            case ["kubeadm", "certs", "check-expiration"]:
                return _recorded(actions.check_expiration())
            case ["kubeadm", "upgrade", "node", flag] if flag.startswith("--certificate-renewal="):
                return _recorded(actions.upgrade(flag.endswith("=true")))
            case ["kubeadm", "certs", "generate-csr", "--cert-dir", cert_dir, "--kubeconfig-dir", scratch] \
                    if cert_dir == f"{scratch}/pki" and scratch in self.scratch:
                if CSR_SCRATCH in self.copies:
                    return Answer()  # its copy is the hostile stream: what kubeadm would write is not read
                # Into mktemp's folder, in kubeadm's layout: pki/ made by its key writer, the kubeconfigs' beside it.
                return _recorded(actions.generate_csr(self.scratch[scratch]))
            case ["mktemp", "-d", "/tmp/kubecert-csr.XXXXXX"]:
                local = Path(tempfile.mkdtemp(prefix="csr-", dir=self.folder))
                name = f"/tmp/kubecert-csr.{local.name.removeprefix('csr-').replace('_', 'x')}"
                self.scratch[name] = local
                return Answer(out=f"{name}\n".encode())
            case ["rm", "-rf", scratch] if scratch in self.scratch:
                shutil.rmtree(self.scratch.pop(scratch), ignore_errors=True)
                return Answer()
            case ["crictl", "ps", "-q", "--state", "running", "--name", pattern] \
                    if pattern.strip("^$") in STATIC_PODS:
                running = self._static_pod(container.hostname, pattern.strip("^$"))
                return Answer(out=f"{running.id}\n".encode() if running is not None else b"")
            case ["crictl", "inspect", container_id]:
                return self._inspect(container, container_id)
            case ["crictl", "stop", *ids] if ids:
                for pod in STATIC_PODS:
                    running = self._static_pod(container.hostname, pod)
                    if running is not None and running.id in ids:
                        self.server.restart(container.hostname, pod)
                return Answer(out="".join(f"{i}\n" for i in ids).encode())
        return Answer(125, err=f"stand-in engine: unsupported in {container.name}: {argv}\n")

    def _static_pod(self, node: str, pod: str) -> Any:
        assert self.server.static_pods is not None
        return self.server.static_pods.container(node, pod)

    def _inspect(self, container: Container, container_id: str) -> Answer:
        """What ``crictl inspect ID`` prints of a running container (its status; the runtime's info left out),
        or what it says of an id it does not know; ``inspections`` stands in for its output when set."""
        if self.inspections is not None:
            return Answer(out=self.inspections)
        for pod in STATIC_PODS:
            running = self._static_pod(container.hostname, pod)
            if running is not None and running.id == container_id:
                started = running.started_at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"  # crictl prints nanoseconds
                status = {"id": running.id, "metadata": {"attempt": running.restarts, "name": pod},
                          "state": "CONTAINER_RUNNING", "createdAt": started, "startedAt": started,
                          "finishedAt": "0001-01-01T00:00:00Z", "exitCode": 0}
                return Answer(out=json.dumps({"status": status, "info": {}}, indent=2).encode())
        return Answer(1, err=f'getting the status of the container "{container_id}": rpc error: code = NotFound\n')


def _recorded(record: Any) -> Answer:
    return Answer(record.exit_code if record.exit_code is not None else 1, record.stdout.encode(), record.stderr)


def _tar(folder: Path, leave_out: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:") as archive:
        archive.add(folder, arcname=".", recursive=False)
        for child in sorted(folder.iterdir()):
            if child.name != leave_out:
                archive.add(child, arcname=f"./{child.name}", recursive=True)
    return buffer.getvalue()


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    engine: StandinEngine


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        request = json.loads(self.rfile.readline())
        engine: StandinEngine = self.server.engine  # type: ignore[attr-defined]
        try:
            answer = engine.answer([str(word) for word in request["argv"]])
        except Exception as exc:  # a bug of the stand-in: said, not hidden
            answer = Answer(125, err=f"stand-in engine failed: {exc!r}\n")
        self.wfile.write(json.dumps({"rc": answer.rc, "out": base64.b64encode(answer.out).decode(),
                                     "err": answer.err}).encode())


@contextmanager
def standin_engine(name: str, cluster: ReferenceCluster, server: ClusterServer) -> Iterator[StandinEngine]:
    # A short folder of its own: a Unix socket's path is limited to about 100 bytes.
    folder = Path(tempfile.mkdtemp(prefix="kc-engine-"))
    engine = StandinEngine(name, cluster, server, folder)
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()
        shutil.rmtree(folder, ignore_errors=True)


def engine_env(engine: StandinEngine, *commands: str) -> dict[str, str]:
    """The environment a kubecert run needs to reach the stand-in as ``commands`` (no real engine on PATH)."""
    path = [str(engine.bin_dir(*commands)), *(p for p in os.environ.get("PATH", "").split(os.pathsep)
                                              if not any(Path(p, c).exists() for c in ("docker", "podman")))]
    env = {**os.environ, "PATH": os.pathsep.join(path), "KUBECERT_STANDIN_ENGINE": str(engine.socket_path)}
    env.pop("KIND_EXPERIMENTAL_PROVIDER", None)
    return env
