"""The reference API under 50 concurrent keep-alive clients for a few seconds on loopback, reading what
the palette client reads and now and then asking for a renewal, against ``kubecert reference serve`` in
its own process.

Every request is answered (no transport error, no 5xx); each renew request either starts a renewal
(204), which repaves the cluster exactly once, or meets one that is running (409); and once all has
settled, the cluster has its machines, each once, all running. The request budget is off (``--rate-limit
0``): 50 clients are far over the default 200 requests a second by design, and 429 has its own test.
The figures are printed (``-s`` shows them); benchmarks/bench_reference_api.py prints the same.
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from kubecert.reference.api import loadgen
from kubecert.reference.api.served_process import ServedProcess, serve

CONTROL_PLANES, WORKERS = 3, 2
# Platform time 200x: a repave's own waits take a second or two, so several renewals start and end
# within the run, and most renew requests meet a running one.
SHAPE = ("--control-planes", str(CONTROL_PLANES), "--workers", str(WORKERS), "--time-scale", "200",
         "--rate-limit", "0")
CLIENTS, SECONDS = 50, 5.0


def all_machines(served: ServedProcess, config: str) -> dict[str, list[dict[str, Any]]]:
    pools = {}
    for pool in ("control-plane-pool", "worker-pool"):
        answer = served.call("GET", f"/v1/cloudconfigs/aws/{config}/machinePools/{pool}/machines")
        assert answer.status_code == 200 and answer.json()["listmeta"]["continue"] == "", answer.text
        pools[pool] = answer.json()["items"]
    return pools


def settle(served: ServedProcess) -> None:
    """Until the cluster's renewal condition says the last renewal completed (status.repave.state is an approval
    state, not progress)."""
    deadline = time.monotonic() + 60
    while any(c["reason"] != "Completed" for c in
              served.call("GET", f"/v1/spectroclusters/{served.cluster}").json()["status"]["conditions"]):
        assert time.monotonic() < deadline, "the last renewal did not finish"
        time.sleep(0.05)


def test_fifty_clients_reading_and_renewing(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    with serve(state, *SHAPE) as served:
        config = served.call("GET", f"/v1/spectroclusters/{served.cluster}").json()["spec"]["cloudConfigRef"]["uid"]
        target = loadgen.Target(served.url, served.ca_bundle, served.key, served.cluster, config)
        report = loadgen.run(target, clients=CLIENTS, seconds=SECONDS)
        print(f"\nreference API under load: {report.summary()}")
        settle(served)
        final = all_machines(served, config)
    assert not report.errors, report.errors
    assert {status for (kind, status) in report.statuses if kind != "renew"} == {200}, report.statuses
    renew_codes = {status for (kind, status) in report.statuses if kind == "renew"}
    assert renew_codes <= {204, 409} and 204 in renew_codes, report.statuses
    with closing(sqlite3.connect(state)) as db:
        db.row_factory = sqlite3.Row
        renewals = db.execute("SELECT * FROM renewals ORDER BY id").fetchall()
        made = {(row["renewal_id"], row["pool"]): (row["made"], row["replaced"]) for row in db.execute(
            "SELECT renewal_id, pool, COUNT(*) AS made, COUNT(DISTINCT replaces) AS replaced FROM machines "
            "WHERE renewal_id IS NOT NULL GROUP BY renewal_id, pool")}
        live = db.execute("SELECT state, COUNT(*) FROM machines WHERE state != 'Deleted' GROUP BY state").fetchall()
    # One repave per 204, one after the other, each replacing every machine once.
    history = [dict(r) for r in renewals]
    assert len(renewals) == report.statuses["renew", 204], history
    assert all(r["state"] == "Completed" for r in renewals), history
    for before, after in itertools.pairwise(renewals):
        assert after["requested_at"] >= before["finished_at"], f"a renewal started while another ran: {history}"
    for r in renewals:
        assert made[r["id"], "control-plane-pool"] == (CONTROL_PLANES, CONTROL_PLANES), made
        assert made[r["id"], "worker-pool"] == (WORKERS, WORKERS), made
    # Each 409 met a renewal that was pending or running while the request was in flight (the platform
    # stamps renewals under the write lock that orders them and renew requests alike).
    for call in report.renewals:
        if call.status == 409:
            assert any(r["requested_at"] <= call.answered and r["finished_at"] >= call.sent for r in renewals), (
                call, history)
    # Nothing lost or doubled: the pools' sizes, each machine once, all running.
    assert [tuple(row) for row in live] == [("Running", CONTROL_PLANES + WORKERS)], [tuple(row) for row in live]
    machines = final["control-plane-pool"] + final["worker-pool"]
    assert len(final["control-plane-pool"]) == CONTROL_PLANES and len(final["worker-pool"]) == WORKERS
    assert len({m["metadata"]["uid"] for m in machines}) == len({m["metadata"]["name"] for m in machines}) == 5
    assert all(m["status"]["instanceState"] == "Running" for m in machines)
