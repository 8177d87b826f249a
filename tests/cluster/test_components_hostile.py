"""What a cluster says of its static pods is hostile input: the mirror Pods the API lists (any shape, any text,
any size) and what crictl prints in a kind node. Every case gives a start time and an address kubecert may
dial, or says why not (escaped, cut short); none raises, dials a name, or reads past a bound; the corpus runs
under the audit guard. An API or engine that stops answering is asked no more for the other nodes'
static pods."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import audit
import pytest
from tls_server import client_of, serving_as_api_server

from kubecert.inventory.components import Component
from kubecert.reference.kube import ClusterServer, ReferenceCluster
from kubecert.targets.cluster import crictl, static_pods
from kubecert.targets.cluster import permissions as rbac
from kubecert.targets.cluster.client import TIMEOUT, ReadProblem
from kubecert.targets.cluster.components import observe_components
from kubecert.targets.cluster.runtime import ContainerRuntime
from kubecert.targets.cluster.shared_parts import ClusterParts
from kubecert.targets.cluster.static_pods import MAX_LIST_BYTES, MAX_PODS, mirror_pods, parse_mirror_pods
from kubecert.targets.errors import TargetUnavailable

NODE = "cp-1"
MIRROR = {"kubernetes.io/config.mirror": "abc"}
ENDPOINT = "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"
CLIENT_URLS = "kubeadm.kubernetes.io/etcd.advertise-client-urls"


def _pod(component: str, *, started: Any = "2025-03-01T10:00:00Z", annotations: dict[str, Any] | None = None,
         node: Any = NODE, state: Any = None, command: list[Any] | None = None, name: Any = None) -> dict[str, Any]:
    return {
        "metadata": {"name": name if name is not None else f"{component}-{NODE}",
                     "annotations": {**MIRROR, **(annotations or {})}},
        "spec": {"nodeName": node, "containers": [{"name": component, "command": command or [component]}]},
        "status": {"containerStatuses": [
            {"name": component, "state": state if state is not None else {"running": {"startedAt": started}}}]},
    }


def _parsed(*items: Any) -> dict[Component, Any]:
    with audit.guard() as seen:
        found = parse_mirror_pods(list(items), NODE)
    assert seen.processes == [] and seen.writes == [], seen.events
    return found


def test_a_kubeadm_mirror_pod_gives_its_start_and_where_it_serves() -> None:
    found = _parsed(_pod("kube-apiserver", annotations={ENDPOINT: "10.0.0.10:6443"}),
                    _pod("etcd", annotations={CLIENT_URLS: "https://[fd00::10]:2379,https://127.0.0.1:2379"}))
    apiserver, etcd = found[Component.APISERVER], found[Component.ETCD]
    assert apiserver.started.at is not None and apiserver.started.at.isoformat() == "2025-03-01T10:00:00+00:00"
    assert apiserver.endpoint is not None and apiserver.endpoint.address == "10.0.0.10:6443"
    assert etcd.endpoint is not None and (etcd.endpoint.host, etcd.endpoint.port) == ("fd00::10", 2379)
    assert etcd.endpoint.address == "[fd00::10]:2379"
    flags = _parsed(_pod("kube-apiserver", command=["kube-apiserver", "--advertise-address=10.1.2.3",
                                                    "--secure-port=7443"]))[Component.APISERVER]
    assert flags.endpoint is not None and flags.endpoint.address == "10.1.2.3:7443"
    assert "--advertise-address and --secure-port" in flags.endpoint.source


@pytest.mark.parametrize(("pod", "said"), [
    (_pod("kube-apiserver", annotations={ENDPOINT: "api.evil.example:6443"}), "names a host, not an IP address"),
    (_pod("kube-apiserver", annotations={ENDPOINT: "0.0.0.0:6443"}), "is no one host's address"),
    (_pod("kube-apiserver", annotations={ENDPOINT: "10.0.0.1:99999"}), "is not HOST:PORT"),
    (_pod("kube-apiserver", annotations={ENDPOINT: "10.0.0.1:６４４３"}), "is not HOST:PORT"),  # fullwidth digits
    (_pod("kube-apiserver", annotations={ENDPOINT: ["10.0.0.1:6443"]}), "is not HOST:PORT"),
    (_pod("etcd", annotations={CLIENT_URLS: "http://10.0.0.1:2379"}), "is not an https:// address"),
    (_pod("etcd", annotations={CLIENT_URLS: "https://10.0.0.1:port"}), "is not an https:// address"),
    (_pod("etcd", annotations={CLIENT_URLS: "https://224.0.0.1:2379"}), "is no one host's address"),
])
def test_an_address_kubecert_will_not_dial_is_said_and_not_dialled(pod: dict[str, Any], said: str) -> None:
    (found,) = _parsed(pod).values()
    assert found.endpoint is None and found.endpoint_problem is not None
    assert said in found.endpoint_problem and found.name in found.endpoint_problem


@pytest.mark.parametrize(("pod", "said"), [
    (_pod("kube-scheduler", started=1740823200), "is not an RFC 3339 date-time"),
    (_pod("kube-scheduler", started={"seconds": 1}), "is not an RFC 3339 date-time"),
    (_pod("kube-scheduler", started="9999-12-31T23:59:59-01:00"), "outside the dates kubecert can represent"),
    (_pod("kube-scheduler", started="\x1b[2J2025-03-01T10:00:00Z"), "'\\\\x1b[2J2025-03-01T10:00:00Z'"),
    (_pod("kube-scheduler", state={"waiting": {"reason": "CrashLoopBackOff\x07" + "x" * 10_000}}),
     "its container is not running (waiting: 'CrashLoopBackOff\\\\x07xxx"),
    (_pod("kube-scheduler", state={"terminated": {}}), "its container is not running (terminated)"),
    (_pod("kube-scheduler", state=["running"]), "its container is not running (in no known state)"),
    ({"metadata": {"name": f"kube-scheduler-{NODE}", "annotations": MIRROR}, "spec": {"nodeName": NODE},
      "status": {"containerStatuses": "all fine"}}, "reports no status of its container kube-scheduler"),
])
def test_a_start_time_kubecert_cannot_read_is_a_problem_escaped_and_bounded(pod: dict[str, Any], said: str) -> None:
    (found,) = _parsed(pod).values()
    started = found.started
    assert started.at is None and started.problem is not None
    assert said in started.problem, started.problem
    assert "\x1b" not in started.problem and "\x07" not in started.problem and len(started.problem) < 400


def test_what_is_no_mirror_pod_of_the_node_is_left_out() -> None:
    not_mirror = _pod("etcd")
    not_mirror["metadata"]["annotations"] = {}
    assert _parsed(
        not_mirror, _pod("etcd", node="cp-2"), _pod("etcd", name="etcd-cp-2"), _pod("etcd", name=["etcd-cp-1"]),
        _pod("coredns", name=f"coredns-{NODE}"), None, 5, "pod", {"metadata": "x", "spec": [], "status": None},
    ) == {}


# --- the list as the API answers it


@contextmanager
def _answering(cluster: ReferenceCluster, served: ClusterServer, tmp_path: Path, body: bytes) -> Iterator[Any]:
    """A client of a server that answers every request with ``body`` (JSON), as a hostile API server would."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client stopped reading: what is tested
                self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with serving_as_api_server(cluster, Handler) as url, client_of(url, served, tmp_path) as client:
        yield client


@pytest.mark.parametrize(("body", "said"), [
    (b'{"items": [' + b'{"metadata": {"name": "x"}},' * (MAX_LIST_BYTES // 27) + b'{}]}',
     f"the answer is longer than {MAX_LIST_BYTES} bytes; not read further"),
    (json.dumps({"items": [{}] * (MAX_PODS + 1)}).encode(), f"lists {MAX_PODS + 1} pods, more than kubecert reads"),
    (b'{"items": ' + b"[" * 100 + b"]" * 100 + b"}", "nested deeper than 64 levels"),
    (b"\x1b[2Jnot json", "the answer is not JSON"),
    (b'{"items": {"etcd": 1}}', "the answer is not a pod list"),
])
def test_a_pod_list_past_its_bounds_or_in_no_shape_is_a_problem_naming_the_node(
        tmp_path: Path, cluster: ReferenceCluster, served: ClusterServer, body: bytes, said: str) -> None:
    with _answering(cluster, served, tmp_path, body) as client, audit.guard() as seen, \
            pytest.raises(ReadProblem) as raised:
        mirror_pods(client, NODE)
    assert str(raised.value).startswith(f"listing the pods of {NODE} in kube-system: "), raised.value
    assert said in str(raised.value) and "\x1b" not in str(raised.value)
    assert seen.processes == [] and seen.writes_outside([tmp_path]) == [], seen.events


class _NoRuntime(ClusterParts):
    """Parts whose nodes say nothing through a container runtime: only the API's answers are read."""

    def kubeconfig(self) -> Path:
        raise AssertionError("not asked")

    def node_names(self) -> tuple[str, ...]:
        return ()

    def node_tree(self, node: str) -> Path:
        raise AssertionError("not asked")

    def node_actions(self, node: str) -> None:
        return None

    def renew(self, controlplane_only: bool) -> Any:
        raise AssertionError("not asked")


def test_an_api_that_lets_one_listing_pass_its_deadline_is_asked_no_more(
        tmp_path: Path, cluster: ReferenceCluster, served: ClusterServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(static_pods, "LIST_DEADLINE_S", 1.0)
    asked: list[str] = []

    with serving_as_api_server(cluster, _never_answering(asked)) as url, client_of(url, served, tmp_path) as client:
        found = observe_components(client, _NoRuntime("stalling"), ("cp-1", "cp-2", "cp-3"), None, "not listed")
    assert len(asked) == 1 and "spec.nodeName%3Dcp-1" in asked[0], asked
    first = found.nodes["cp-1"].start(Component.SCHEDULER)
    later = found.nodes["cp-3"].start(Component.SCHEDULER)
    assert first is not None and first.problem is not None and "no complete answer" in first.problem
    assert later is not None and later.problem == f"not asked: {first.problem}"
    assert found.nodes["cp-2"].served[Component.KUBELET].problem == "not listed"  # no Node objects: no address


def _never_answering(asked: list[str]) -> type[BaseHTTPRequestHandler]:
    class NeverAnswering(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.connection.settimeout(60)  # a bound, not a measurement
            with contextlib.suppress(OSError):
                self.rfile.read(1)  # no answer, ever: until the client's deadline cuts the connection

        def log_message(self, *args: Any) -> None:
            pass

    return NeverAnswering


def test_a_read_deadline_holds_through_the_clients_retries(
        tmp_path: Path, cluster: ReferenceCluster, served: ClusterServer) -> None:
    """urllib3 retries a request whose connection broke; a retry after the deadline's cut must not start an
    exchange of its own, which would wait for its read timeout, three times over."""
    asked: list[str] = []
    with serving_as_api_server(cluster, _never_answering(asked)) as url, client_of(url, served, tmp_path) as client, \
            pytest.raises(ReadProblem, match=r"listing Node objects: no complete answer from https://\S+ within 1 s"):
        client.call("listing Node objects", rbac.LIST_NODES, lambda: client.core.list_node(_request_timeout=TIMEOUT),
                    deadline_s=1.0)
    assert asked == ["/api/v1/nodes"]


class _FailingRuntime(ContainerRuntime):
    def __init__(self) -> None:
        super().__init__("docker")
        self.calls = 0

    def run(self, args: Any, *, timeout: float | None = None, max_bytes: int = 0) -> bytes:
        self.calls += 1
        raise TargetUnavailable("docker exec kind-control-plane crictl ps: no end after 60 s; stopped")


def test_crictl_is_not_asked_again_for_a_node_once_it_failed() -> None:
    runtime = _FailingRuntime()
    found = crictl.container_starts(runtime, "kind-control-plane")
    assert runtime.calls == 1
    assert {started.problem for started in found.values()} == {
        "docker exec kind-control-plane crictl ps: no end after 60 s; stopped"}
