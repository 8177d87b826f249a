"""``kubecert reference serve`` killed with SIGKILL at each point of a repave, then started again on the
same state file: the repave finishes, with no machine lost, made twice or left half-way, and the
certificates renewed by that one renewal.

Each kill point is a state the test waits for (in the state file, or a control-plane machine's PKI being
written on disk) before it kills, and finds again in the file after the kill: it is where the server
really died, not where it was a moment before.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from kubecert.reference.api.cli import seed
from kubecert.reference.api.served_process import ServedProcess, serve
from kubecert.reference.pki import FreshKeys
from kubecert.reference.platform.engine import Platform

CONTROL_PLANES, WORKERS = 2, 1
# Platform time 40x: a machine provisions in 1.5 s and is deleted in 0.5 s, long enough to be seen in
# each phase and killed there; the whole repave takes a few seconds.
SHAPE = ("--control-planes", str(CONTROL_PLANES), "--workers", str(WORKERS), "--time-scale", "40")
POOLS = ("control-plane-pool", "worker-pool")
DEADLINE_S = 60.0


def _machine_in(pool: str, *, new: bool, state: str) -> Callable[[sqlite3.Connection, Path], bool]:
    """A kill point: a machine of ``pool``, made by the renewal (``new``) or not, in ``state``."""
    query = "SELECT 1 FROM machines WHERE pool = ? AND state = ? AND (renewal_id IS NOT NULL) = ?"

    def reached(db: sqlite3.Connection, _: Path) -> bool:
        return db.execute(query, (pool, state, int(new))).fetchone() is not None

    return reached


def _pki_being_written(_: sqlite3.Connection, cluster_dir: Path) -> bool:
    """A joining control-plane machine's PKI is built in a hidden folder, then renamed into place."""
    return any(entry.name.startswith(".") for entry in cluster_dir.iterdir())


KILL_POINTS: dict[str, Callable[[sqlite3.Connection, Path], bool] | None] = {
    "renew-accepted": None,  # at once after the 204
    "control-plane-provisioning": _machine_in("control-plane-pool", new=True, state="Provisioning"),
    "control-plane-pki-written": _pki_being_written,
    "old-control-plane-deleting": _machine_in("control-plane-pool", new=False, state="Deleting"),
    "worker-provisioning": _machine_in("worker-pool", new=True, state="Provisioning"),
    "old-worker-deleting": _machine_in("worker-pool", new=False, state="Deleting"),
}


def machines(served: ServedProcess, pool: str) -> list[dict[str, Any]]:
    cluster = served.call("GET", f"/v1/spectroclusters/{served.cluster}").json()
    config = cluster["spec"]["cloudConfigRef"]["uid"]
    answer = served.call("GET", f"/v1/cloudconfigs/aws/{config}/machinePools/{pool}/machines")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def certificates(served: ServedProcess) -> dict[str, Any]:
    answer = served.call("GET", f"/v1/spectroclusters/{served.cluster}/k8certificates")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def expiries(listing: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The CAs' and the leaves' expiries over every control-plane machine."""
    cas = {a["expiry"] for m in listing["machineCertificates"] for a in m["certificateAuthorities"]}
    leaves = {c["expiry"] for m in listing["machineCertificates"] for a in m["certificateAuthorities"]
              for c in a["certificates"]}
    return cas, leaves


def renewal_state(served: ServedProcess) -> str:
    """The reason of the cluster's renewal condition: InProgress, then Completed (status.repave.state is an
    approval state, not progress)."""
    conditions = served.call("GET", f"/v1/spectroclusters/{served.cluster}").json()["status"]["conditions"]
    return str(conditions[0]["reason"]) if conditions else ""


def kill_at(served: ServedProcess, state: Path, point: str) -> None:
    """Renew, wait until the repave is at ``point``, SIGKILL the server there and check it died there."""
    reached = KILL_POINTS[point]
    cluster_dir = Path(f"{state}.machines") / served.cluster
    assert served.call("PATCH", f"/v1/spectroclusters/{served.cluster}/k8certificates/renew").status_code == 204
    with closing(sqlite3.connect(state, timeout=10)) as db:
        deadline = time.monotonic() + DEADLINE_S
        while reached is not None and not reached(db, cluster_dir):
            assert time.monotonic() < deadline, f"the repave never reached {point}"
            time.sleep(0.005)
        served.kill()
        if reached is not None:
            assert reached(db, cluster_dir), f"the server was killed after {point}, not at it"
        else:
            assert db.execute("SELECT COUNT(*) FROM renewals").fetchone()[0] == 1
            assert db.execute("SELECT COUNT(*) FROM machines WHERE renewal_id IS NOT NULL AND state = 'Running'"
                              ).fetchone()[0] == 0


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state file as ``serve`` seeds it, made once: each test starts from a copy (seeding makes two
    dozen RSA keys)."""
    state = tmp_path_factory.mktemp("seeded") / "state.db"
    platform = Platform(state, keys=FreshKeys())
    try:
        seed(platform, 1, mode="repave", control_planes=CONTROL_PLANES, workers=WORKERS, age_days=200)
    finally:
        platform.close()
    return state


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_killed_at_a_point_of_the_repave_and_restarted_it_completes_without_losing_or_doubling(
        seeded: Path, tmp_path: Path, point: str) -> None:
    state = tmp_path / "state.db"
    shutil.copyfile(seeded, state)
    shutil.copytree(f"{seeded}.machines", f"{state}.machines")
    with serve(state, *SHAPE) as served:
        original = {m["metadata"]["uid"] for pool in POOLS for m in machines(served, pool)}
        cas_before, leaves_before = expiries(certificates(served))
        renewed_at = dt.datetime.now(dt.UTC)
        kill_at(served, state, point)
    with serve(state, *SHAPE) as restarted:
        assert restarted.cluster == served.cluster and restarted.output.count("cluster ") == 1
        deadline = time.monotonic() + DEADLINE_S
        while renewal_state(restarted) != "Completed":
            assert time.monotonic() < deadline, "the repave did not complete after the restart"
            time.sleep(0.02)
        cp, workers = machines(restarted, "control-plane-pool"), machines(restarted, "worker-pool")
        listing = certificates(restarted)
    # The API: the right machines, new, running, each once; the listing names exactly them.
    assert len(cp) == CONTROL_PLANES and len(workers) == WORKERS
    assert all(m["status"]["instanceState"] == "Running" for m in cp + workers)
    uids = [m["metadata"]["uid"] for m in cp + workers]
    names = [m["metadata"]["name"] for m in cp + workers]
    assert len(set(uids)) == len(uids) and len(set(names)) == len(names) and not original & set(uids)
    assert sorted(e["name"] for e in listing["machineCertificates"]) == sorted(m["metadata"]["name"] for m in cp)
    # Certificates: the CAs kept, every leaf issued by this renewal (a year from now, none left from before).
    cas_after, leaves_after = expiries(listing)
    assert cas_after == cas_before and not leaves_after & leaves_before
    earliest = (renewed_at + dt.timedelta(days=365) - dt.timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%S")
    assert min(leaves_after) >= earliest
    # The state file: one renewal, one replacement per original machine, nothing left between states.
    with closing(sqlite3.connect(state)) as db:
        renewals = db.execute("SELECT state FROM renewals").fetchall()
        made = db.execute("SELECT pool, COUNT(*), COUNT(DISTINCT replaces) FROM machines "
                          "WHERE renewal_id IS NOT NULL GROUP BY pool ORDER BY pool").fetchall()
        states = dict(db.execute("SELECT state, COUNT(*) FROM machines GROUP BY state").fetchall())
        running_cp = {row[0] for row in db.execute(
            "SELECT uid FROM machines WHERE control_plane = 1 AND state = 'Running'")}
    assert renewals == [("Completed",)]
    assert made == [("control-plane-pool", CONTROL_PLANES, CONTROL_PLANES), ("worker-pool", WORKERS, WORKERS)]
    assert states == {"Running": CONTROL_PLANES + WORKERS, "Deleted": CONTROL_PLANES + WORKERS}
    # On disk: the shared CAs and one PKI folder per running control-plane machine; nothing half-built.
    cluster_dir = Path(f"{state}.machines") / served.cluster
    assert {entry.name for entry in cluster_dir.iterdir()} == {"shared", *running_cp}
    for uid in running_cp:
        assert (cluster_dir / uid / "pki" / "ca.crt").exists()
