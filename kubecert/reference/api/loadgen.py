"""Concurrent clients for the reference API: each a thread with its own keep-alive ``requests`` session,
sending the palette client's reads (the cluster, its certificates, pages of machines) and now and then a
renew request, for a fixed time. What every request got is recorded: status, latency and, for renew
requests, when it was sent and answered, so that a 409 can be matched to the renewal it met.

Used by the reference API's load test and its benchmark.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import requests

READS = ("cluster", "certificates", "machines")


@dataclass(frozen=True)
class Target:
    url: str
    ca_bundle: str
    key: str = field(repr=False)
    cluster: str
    config: str  # the cluster's cloud config uid
    pools: tuple[str, ...] = ("control-plane-pool", "worker-pool")


@dataclass(frozen=True)
class RenewCall:
    sent: float  # time.time(), comparable with the platform's epoch timestamps
    answered: float
    status: int


@dataclass
class LoadReport:
    clients: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, of every answered request
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)  # (kind, status)
    errors: Counter[str] = field(default_factory=Counter)  # transport errors, by kind and message
    renewals: list[RenewCall] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values()) + sum(self.errors.values())

    def percentile(self, share: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def summary(self) -> str:
        rate = self.requests / self.seconds if self.seconds else 0.0
        by_kind = ", ".join(f"{kind} {status}: {count}" for (kind, status), count in sorted(self.statuses.items()))
        mean = statistics.fmean(self.latencies) if self.latencies else float("nan")
        return (f"{self.clients} clients, {self.seconds:.1f} s: {self.requests} requests, {rate:.0f} req/s, latency "
                f"p50 {self.percentile(0.5) * 1000:.1f} ms, p99 {self.percentile(0.99) * 1000:.1f} ms, mean "
                f"{mean * 1000:.1f} ms; {by_kind}; transport errors: {dict(self.errors) or 'none'}")


@dataclass
class _Shared:
    target: Target
    report: LoadReport
    renew_share: float
    page_size: int
    timeout: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)


def run(target: Target, *, clients: int = 50, seconds: float = 6.0, renew_share: float = 0.02,
        page_size: int = 2, timeout: float = 10.0, seed: int = 0) -> LoadReport:
    """``clients`` threads for ``seconds``; each step is a renew request with probability ``renew_share``,
    else a read (a machine pool is read page by page, ``page_size`` machines a page)."""
    shared = _Shared(target, LoadReport(clients), renew_share, page_size, timeout)
    ready = threading.Barrier(clients + 1, timeout=timeout)
    threads = [threading.Thread(target=_client, args=(shared, ready, random.Random(seed + n)),  # noqa: S311 - a mix
                                name=f"load-client-{n}", daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()  # every client has its session: the clock starts for all at once
    began = time.monotonic()
    shared.stop.wait(seconds)
    shared.stop.set()
    for thread in threads:
        thread.join(2 * timeout)
    shared.report.seconds = time.monotonic() - began
    return shared.report


def _client(shared: _Shared, ready: threading.Barrier, chance: random.Random) -> None:
    target = shared.target
    cluster = f"{target.url}/v1/spectroclusters/{target.cluster}"
    with requests.Session() as session:
        session.trust_env = False
        session.verify = target.ca_bundle
        session.headers["ApiKey"] = target.key
        ready.wait()
        while not shared.stop.is_set():
            if chance.random() < shared.renew_share:
                _send(session, shared, "renew", "PATCH", f"{cluster}/k8certificates/renew")
                continue
            kind = chance.choice(READS)
            if kind == "cluster":
                _send(session, shared, kind, "GET", cluster)
            elif kind == "certificates":
                _send(session, shared, kind, "GET", f"{cluster}/k8certificates")
            else:
                pool = chance.choice(target.pools)
                _read_pool(session, shared, f"{target.url}/v1/cloudconfigs/aws/{target.config}/machinePools/"
                                            f"{pool}/machines")


def _read_pool(session: requests.Session, shared: _Shared, url: str) -> None:
    params: dict[str, str | int] = {"limit": shared.page_size}
    while not shared.stop.is_set():
        answer = _send(session, shared, "machines", "GET", url, params=params)
        token = answer.json().get("listmeta", {}).get("continue") if answer is not None and answer.ok else None
        if not token:
            return
        params = {"limit": shared.page_size, "continue": token}


def _send(session: requests.Session, shared: _Shared, kind: str, method: str, url: str, *,
          params: dict[str, str | int] | None = None) -> requests.Response | None:
    report = shared.report
    sent_wall, sent = time.time(), time.perf_counter()
    try:
        answer = session.request(method, url, params=params, timeout=shared.timeout)
        answer.content  # noqa: B018 - the latency includes reading the whole body
    except requests.RequestException as exc:
        with shared.lock:
            report.errors[f"{kind}: {type(exc).__name__}: {str(exc)[:160]}"] += 1
        return None
    elapsed = time.perf_counter() - sent
    with shared.lock:
        report.latencies.append(elapsed)
        report.statuses[kind, answer.status_code] += 1
        if kind == "renew":
            report.renewals.append(RenewCall(sent_wall, time.time(), answer.status_code))
    return answer
