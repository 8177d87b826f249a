"""The reference platform: clusters of machines, each control-plane machine with its own PKI, and the
certificate renewal of the Palette page driven as a state machine in small steps; a Kubernetes upgrade
(a cluster profile update to another version) is carried out as a renewal is.

``step()`` carries out at most one change, as one SQLite transaction (file work for a joining machine
is done first, into a folder renamed into place, and repeated if the commit never came). Everything a
step decides is read back from the database, so a platform restarted on the same file after kill -9
goes on where it stopped, with no machine lost or made twice.

Repave (the page's 2023 behaviour): new control-plane machines are created first; once all run, the
old ones are removed one at a time; then the workers, one at a time (a new one runs before its old one
goes), unless the SpectroCluster object says ``spectrocloud.com/cert-renew-controlplane-only: "true"``.
In-place (Palette 4.2+): each control-plane machine's leaves are renewed in turn; no machine changes.
An upgrade renews by the cluster's mode too (the annotation does not apply: every machine is upgraded),
and sets the cluster's Kubernetes version when it completes. One renewal or upgrade runs at a time.

A cluster may hold its repaves for approval (as Palette can): a repave renewal or upgrade then waits, in
state AwaitingApproval, until ``approve_repave`` (``PATCH /v1/spectroclusters/{uid}/repave/approve``), and the
cluster's ``status.repave.state`` says so with the SDK's approval states: Pending while it waits, Approved once
approved (a repave that needs no approval is approved when requested). The reference never reverts a repave,
so it never shows Reverted.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import shutil
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubecert.reference.pki.keys import KeyFactory
from kubecert.reference.pki.options import InitOptions
from kubecert.reference.platform import machine_pki
from kubecert.reference.platform.store import Store

CONTROLPLANE_ONLY = "spectrocloud.com/cert-renew-controlplane-only"
CONTROL_PLANE_POOL = "control-plane-pool"
WORKER_POOL = "worker-pool"
RENEWAL_MODES = ("repave", "in-place")
LIVE_STATES = ("Provisioning", "Running", "Deleting")
STALE_LEAF = "front-proxy-client"  # the leaf the stale-expiry fault leaves alone
STALL_FACTOR = 10_000  # the provisioning-stalls fault: a renewal's new machines take this much longer
KUBERNETES_PACK = "kubernetes"  # the one pack of a seeded cluster's profile
KUBERNETES_VERSION = "1.31.4"  # the version a seeded cluster runs
AWAITING_APPROVAL = "AwaitingApproval"  # a renewal's state while its repave waits for approval
ACTIVE_STATES = (AWAITING_APPROVAL, "Pending", "Running")  # a renewal or upgrade not yet completed
# status.repave.state, the SDK's v1ClusterRepaveState (Pending, Approved, Reverted): an approval state.
REPAVE_PENDING, REPAVE_APPROVED = "Pending", "Approved"


@dataclass(frozen=True)
class Timing:
    """How long the platform's slow operations take, in platform seconds, and how fast time runs.

    ``scale`` 20 makes a 60-second provisioning take 3 real seconds.
    """

    provision_s: float = 60.0
    delete_s: float = 20.0
    renew_machine_s: float = 20.0
    scale: float = 20.0

    def real(self, platform_seconds: float) -> float:
        return platform_seconds / self.scale


# Why a repave is needed, as (code, message): the reference's own words, in the shape of the SDK's repave reasons.
RENEWAL_REASON = ("CertificatesRenewal", "the certificates are renewed by replacing every machine")


def upgrade_reason(version: str) -> tuple[str, str]:
    return ("KubernetesVersionUpdated", f"the Kubernetes pack changes to {version}: every machine is replaced")


@dataclass(frozen=True)
class RepaveStatus:
    """A cluster's latest repave as the SDK's v1SpectroClusterRepave says it: its approval state, when that last
    changed, and why the repave is needed."""

    state: str  # REPAVE_PENDING or REPAVE_APPROVED
    transition_time: float  # epoch seconds
    reasons: tuple[tuple[str, str], ...]  # (code, message)
    message: str


@dataclass(frozen=True)
class RenewOutcome:
    """What a renew or upgrade request did: started one, or not, because one runs (``renewal_id``) or
    because there was nothing to do (an upgrade to the version the cluster runs)."""

    started: bool
    renewal_id: int | None
    reason: str = ""


def epoch(moment: dt.datetime) -> float:
    return moment.timestamp()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Platform:
    def __init__(
        self,
        state_file: Path,
        *,
        keys: KeyFactory,
        timing: Timing | None = None,
        faults: frozenset[str] = frozenset(),
        ca_days: int = 3652,
        leaf_days: int = 365,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.state_file = Path(state_file)
        self.store = Store(self.state_file)
        self.machines_dir = Path(f"{self.state_file}.machines")
        self.keys = keys
        self.timing = timing or Timing()
        self.faults = faults
        self.ca_days = 3650 if "kubeadm-ca-days" in faults else ca_days
        self.leaf_days = leaf_days
        self.clock = clock
        self._sweep()
        self._give_profiles()

    def fault(self, name: str) -> bool:
        return name in self.faults

    # --- folders

    def shared_dir(self, cluster_uid: str) -> Path:
        return self.machines_dir / cluster_uid / "shared"

    def machine_dir(self, cluster_uid: str, machine_uid: str) -> Path:
        return self.machines_dir / cluster_uid / machine_uid

    def _sweep(self) -> None:
        """At start, before any step: remove the folders of machines whose deletion committed before their
        folder was removed, and the half-built PKI of a join that was killed (hidden folders; the join is
        done again from the state file, into a new one)."""
        with self.store.snapshot() as db:
            gone = db.execute("SELECT cluster_uid, uid FROM machines WHERE state = 'Deleted'").fetchall()
        for row in gone:
            shutil.rmtree(self.machine_dir(row["cluster_uid"], row["uid"]), ignore_errors=True)
        for building in self.machines_dir.glob("*/.*"):
            shutil.rmtree(building, ignore_errors=True)

    def _give_profiles(self) -> None:
        """Clusters of a state file written before clusters had profiles get one, running KUBERNETES_VERSION."""
        with self.store.transaction() as db:
            for row in db.execute("SELECT uid FROM clusters WHERE profile_uid = ''").fetchall():
                db.execute("UPDATE clusters SET profile_uid = ?, kubernetes_version = ? WHERE uid = ?",
                           (secrets.token_hex(12), KUBERNETES_VERSION, row["uid"]))

    # --- seeding

    def ensure_project(self, name: str) -> str:
        with self.store.transaction() as db:
            row = db.execute("SELECT uid FROM projects WHERE name = ?", (name,)).fetchone()
            if row is not None:
                return str(row["uid"])
            uid = secrets.token_hex(12)
            db.execute("INSERT INTO projects (uid, name) VALUES (?, ?)", (uid, name))
            return uid

    def seed_cluster(
        self, name: str, project_uid: str, *, mode: str = "repave", control_planes: int = 3, workers: int = 2,
        age_days: float = 200.0, repave_approval: bool = False,
    ) -> str:
        """A running cluster made ``age_days`` ago: its CAs, its machines, each control plane's PKI. With
        ``repave_approval`` it holds every repave until the repave is approved."""
        if mode not in RENEWAL_MODES:
            raise ValueError(f"renewal mode must be one of {', '.join(RENEWAL_MODES)}")
        if control_planes < 1 or workers < 0:
            raise ValueError("a cluster needs at least one control-plane machine")
        created = self.clock() - dt.timedelta(days=age_days)
        uid = secrets.token_hex(12)
        with self.store.transaction() as db:
            subnet = int(db.execute("SELECT COUNT(*) FROM clusters").fetchone()[0]) + 1
            db.execute(
                "INSERT INTO clusters (uid, name, project_uid, cloud_type, config_uid, created_at, renewal_mode, "
                "subnet, profile_uid, kubernetes_version, repave_approval) "
                "VALUES (?, ?, ?, 'aws', ?, ?, ?, ?, ?, ?, ?)",
                (uid, name, project_uid, secrets.token_hex(12), epoch(created), mode, subnet, secrets.token_hex(12),
                 KUBERNETES_VERSION, int(repave_approval)),
            )
            db.execute("INSERT INTO pools VALUES (?, ?, 1, ?)", (uid, CONTROL_PLANE_POOL, control_planes))
            db.execute("INSERT INTO pools VALUES (?, ?, 0, ?)", (uid, WORKER_POOL, workers))
        # The first control-plane machine runs kubeadm init a few minutes after the cluster is created.
        issued = created + dt.timedelta(minutes=3)
        machine_pki.create_cluster_cas(self.shared_dir(uid), keys=self.keys, now=issued, ca_days=self.ca_days)
        for pool, count in ((CONTROL_PLANE_POOL, control_planes), (WORKER_POOL, workers)):
            for _ in range(count):
                with self.store.transaction() as db:
                    machine = self._insert_machine(db, uid, pool, at=created + dt.timedelta(minutes=1))
                    if pool == CONTROL_PLANE_POOL:
                        self._join(db, uid, machine, issued)
                    db.execute("UPDATE machines SET state = 'Running', ready_at = ? WHERE uid = ?",
                               (epoch(issued), machine["uid"]))
        return uid

    def _insert_machine(
        self, db: sqlite3.Connection, cluster_uid: str, pool: str, *, at: dt.datetime, renewal_id: int | None = None,
        replaces: str | None = None, until: float | None = None,
    ) -> dict[str, Any]:
        cluster = db.execute("SELECT name, subnet FROM clusters WHERE uid = ?", (cluster_uid,)).fetchone()
        number = int(db.execute("SELECT COUNT(*) FROM machines WHERE cluster_uid = ?", (cluster_uid,)).fetchone()[0])
        role = "cp" if pool == CONTROL_PLANE_POOL else "worker"
        machine = {
            "uid": str(uuid.uuid4()), "name": f"{cluster['name']}-{role}-{secrets.token_hex(3)}",
            "address": f"10.{cluster['subnet']}.{number // 200}.{10 + number % 200}",
        }
        db.execute(
            "INSERT INTO machines (uid, cluster_uid, pool, control_plane, name, address, state, created_at, "
            "state_until, renewal_id, replaces) VALUES (?, ?, ?, ?, ?, ?, 'Provisioning', ?, ?, ?, ?)",
            (machine["uid"], cluster_uid, pool, int(pool == CONTROL_PLANE_POOL), machine["name"], machine["address"],
             epoch(at), until, renewal_id, replaces),
        )
        self._event(db, cluster_uid, f"created {machine['name']} in {pool}", machine_uid=machine["uid"],
                    renewal_id=renewal_id, at=at)
        return machine

    def _join(self, db: sqlite3.Connection, cluster_uid: str, machine: Any, now: dt.datetime, *,
              keep_from: str | None = None, leaf_days: int | None = None) -> None:
        cluster = db.execute("SELECT name FROM clusters WHERE uid = ?", (cluster_uid,)).fetchone()
        options = InitOptions(node_name=machine["name"], advertise_address=machine["address"],
                              control_plane_endpoint=f"api.{cluster['name']}.example.internal", ca_days=self.ca_days)
        machine_pki.write_machine_pki(
            self.machine_dir(cluster_uid, machine["uid"]), self.shared_dir(cluster_uid), options, keys=self.keys,
            now=now, leaf_days=leaf_days or self.leaf_days,
            keep_from=self.machine_dir(cluster_uid, keep_from) if keep_from else None,
            keep=(STALE_LEAF,) if keep_from else (),
        )

    def _event(self, db: sqlite3.Connection, cluster_uid: str, what: str, *, machine_uid: str | None = None,
               renewal_id: int | None = None, at: dt.datetime | None = None) -> None:
        db.execute("INSERT INTO events (at, cluster_uid, machine_uid, renewal_id, what) VALUES (?, ?, ?, ?, ?)",
                   (epoch(at or self.clock()), cluster_uid, machine_uid, renewal_id, what))

    # --- requests

    def request_renewal(self, cluster_uid: str) -> RenewOutcome:
        """Queue a renewal (held for approval if the cluster holds its repaves); while a renewal or an upgrade is
        held, pending or running, start nothing (unless a fault says otherwise)."""
        with self.store.transaction() as db:
            now = epoch(self.clock())  # under the write lock, as every renewal time is: see _locked_time
            active = self._active(db, cluster_uid)
            if active is not None and not self.fault("second-renewal"):
                return active
            cluster = db.execute("SELECT renewal_mode, repave_approval FROM clusters WHERE uid = ?",
                                 (cluster_uid,)).fetchone()
            mode = "repave" if self.fault("repaves-despite-in-place") else cluster["renewal_mode"]
            state = self._first_state(mode, cluster)
            cursor = db.execute(
                "INSERT INTO renewals (cluster_uid, mode, state, requested_at, approved_at) VALUES (?, ?, ?, ?, ?)",
                (cluster_uid, mode, state, now, None if state == AWAITING_APPROVAL else now),
            )
            renewal_id = int(cursor.lastrowid or 0)
            self._event(db, cluster_uid, f"renewal {renewal_id} requested ({mode}){self._held(state)}",
                        renewal_id=renewal_id)
            return RenewOutcome(True, renewal_id)

    def request_upgrade(self, cluster_uid: str, version: str) -> RenewOutcome:
        """Queue an upgrade to Kubernetes ``version``; while a renewal or an upgrade is pending or running, start
        nothing; for the version the cluster runs already, there is nothing to do."""
        with self.store.transaction() as db:
            now = epoch(self.clock())
            active = self._active(db, cluster_uid)
            if active is not None:
                return active
            cluster = db.execute("SELECT renewal_mode, repave_approval, kubernetes_version FROM clusters WHERE uid = ?",
                                 (cluster_uid,)).fetchone()
            if cluster["kubernetes_version"] == version:
                return RenewOutcome(False, None, f"the cluster runs Kubernetes {version} already")
            state = self._first_state(cluster["renewal_mode"], cluster)
            approved = None if state == AWAITING_APPROVAL else now
            cursor = db.execute(
                "INSERT INTO renewals (cluster_uid, mode, state, requested_at, kind, version, approved_at) "
                "VALUES (?, ?, ?, ?, 'upgrade', ?, ?)",
                (cluster_uid, cluster["renewal_mode"], state, now, version, approved),
            )
            upgrade_id = int(cursor.lastrowid or 0)
            self._event(db, cluster_uid, f"upgrade {upgrade_id} from Kubernetes {cluster['kubernetes_version']} to "
                        f"{version} requested ({cluster['renewal_mode']}){self._held(state)}", renewal_id=upgrade_id)
            return RenewOutcome(True, upgrade_id)

    @staticmethod
    def _first_state(mode: str, cluster: sqlite3.Row) -> str:
        """A repave of a cluster that holds repaves waits for approval; anything else is queued at once."""
        return AWAITING_APPROVAL if mode == "repave" and cluster["repave_approval"] else "Pending"

    @staticmethod
    def _held(state: str) -> str:
        return ", held for approval" if state == AWAITING_APPROVAL else ""

    @staticmethod
    def _active(db: sqlite3.Connection, cluster_uid: str) -> RenewOutcome | None:
        """The refusal while a renewal or an upgrade of the cluster is held, pending or running, else None."""
        marks = ",".join("?" * len(ACTIVE_STATES))
        row = db.execute(
            f"SELECT id, kind, version, state FROM renewals WHERE cluster_uid = ? AND state IN ({marks}) "  # noqa: S608
            "ORDER BY id", (cluster_uid, *ACTIVE_STATES),
        ).fetchone()
        if row is None:
            return None
        what = (f"an upgrade to Kubernetes {row['version']}" if row["kind"] == "upgrade"
                else "a certificate renewal")
        if row["state"] == AWAITING_APPROVAL:
            return RenewOutcome(False, int(row["id"]), f"{what} waits for its repave to be approved "
                                                       f"(PATCH /v1/spectroclusters/{cluster_uid}/repave/approve)")
        return RenewOutcome(False, int(row["id"]), f"{what} is already in progress")

    def approve_repave(self, cluster_uid: str) -> bool:
        """Let the repave held for approval go on; False when none is held (approving twice changes nothing)."""
        with self.store.transaction() as db:
            now = self._locked_time(self.clock())
            row = db.execute("SELECT id, kind FROM renewals WHERE cluster_uid = ? AND state = ? ORDER BY id",
                             (cluster_uid, AWAITING_APPROVAL)).fetchone()
            if row is None:
                return False
            db.execute("UPDATE renewals SET state = 'Pending', approved_at = ? WHERE id = ?", (epoch(now), row["id"]))
            self._event(db, cluster_uid, f"the repave of {row['kind']} {row['id']} was approved", renewal_id=row["id"],
                        at=now)
            return True

    @staticmethod
    def repave_status(db: sqlite3.Connection, cluster_uid: str) -> RepaveStatus | None:
        """The cluster's latest repave, None when it never repaved."""
        row = db.execute("SELECT * FROM renewals WHERE cluster_uid = ? AND mode = 'repave' ORDER BY id DESC LIMIT 1",
                         (cluster_uid,)).fetchone()
        if row is None:
            return None
        held = row["state"] == AWAITING_APPROVAL
        reason = upgrade_reason(row["version"]) if row["kind"] == "upgrade" else RENEWAL_REASON
        message = "the repave waits for approval" if held else "the repave was approved"
        return RepaveStatus(REPAVE_PENDING if held else REPAVE_APPROVED, row["approved_at"] or row["requested_at"],
                            (reason,), message)

    def renewal_state(self, renewal_id: int) -> str:
        with self.store.snapshot() as db:
            row = db.execute("SELECT state FROM renewals WHERE id = ?", (renewal_id,)).fetchone()
        return str(row["state"]) if row else "Unknown"

    # --- the state machine

    def step(self) -> float | None:
        """Carry out the next due change; 0.0 if one was made, else seconds until one is due (None: idle)."""
        now = self.clock()
        for action in (self._machine_timer, self._renewal_action, self._start_renewal):
            if action(now):
                return 0.0
        return self._next_due(now)

    def _machine_timer(self, now: dt.datetime) -> bool:
        with self.store.snapshot() as db:
            row = db.execute(
                "SELECT * FROM machines WHERE state IN ('Provisioning', 'Deleting') AND state_until <= ? "
                "ORDER BY state_until LIMIT 1", (epoch(now),),
            ).fetchone()
        if row is None:
            return False
        machine = dict(row)
        if machine["state"] == "Provisioning":
            if machine["control_plane"]:
                with self.store.snapshot() as db:
                    faulty = self._renewal_faults_apply(db, machine["renewal_id"])
                    keep = machine["replaces"] if self.fault("stale-expiry") and faulty else None
                    renewed = self._renewed_leaf_days() if faulty else self.leaf_days
                    self._join(db, machine["cluster_uid"], machine, now, keep_from=keep, leaf_days=renewed)
            with self.store.transaction() as db:
                db.execute("UPDATE machines SET state = 'Running', ready_at = ?, state_until = NULL "
                           "WHERE uid = ? AND state = 'Provisioning'", (epoch(now), machine["uid"]))
                self._event(db, machine["cluster_uid"], f"{machine['name']} running", machine_uid=machine["uid"],
                            renewal_id=machine["renewal_id"], at=now)
            return True
        with self.store.transaction() as db:
            db.execute("UPDATE machines SET state = 'Deleted', deleted_at = ?, state_until = NULL "
                       "WHERE uid = ? AND state = 'Deleting'", (epoch(now), machine["uid"]))
            self._event(db, machine["cluster_uid"], f"{machine['name']} deleted", machine_uid=machine["uid"], at=now)
        shutil.rmtree(self.machine_dir(machine["cluster_uid"], machine["uid"]), ignore_errors=True)
        return True

    def _start_renewal(self, now: dt.datetime) -> bool:
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT r.* FROM renewals r WHERE r.state = 'Pending' AND NOT EXISTS (SELECT 1 FROM renewals o "
                "WHERE o.cluster_uid = r.cluster_uid AND o.state = 'Running') ORDER BY r.id LIMIT 1"
            ).fetchone()
            if row is None:
                return False
            cluster_uid = row["cluster_uid"]
            upgrade = row["kind"] == "upgrade"
            if upgrade and self.fault("upgrade-without-renewal"):
                self.complete(db, dict(row), self._locked_time(now))  # the version changes, nothing else
                return True
            annotations = json.loads(
                db.execute("SELECT spc_annotations FROM clusters WHERE uid = ?", (cluster_uid,)).fetchone()[0])
            # The annotation chooses what a certificate renewal renews; an upgrade upgrades every machine.
            only = (annotations.get(CONTROLPLANE_ONLY) == "true" and not self.fault("annotation-ignored")
                    and not upgrade)
            machines = db.execute(
                "SELECT uid, pool FROM machines WHERE cluster_uid = ? AND state IN ('Provisioning', 'Running') "
                "ORDER BY created_at, name", (cluster_uid,),
            ).fetchall()
            plan = {
                "control_plane": [m["uid"] for m in machines if m["pool"] == CONTROL_PLANE_POOL],
                "workers": [] if only else [m["uid"] for m in machines if m["pool"] == WORKER_POOL],
                "done": [],
            }
            now = self._locked_time(now)
            # In place, the first machine is renewed one step after the start; a repave waits on machines.
            first = epoch(now) + self.timing.real(self.timing.renew_machine_s) if row["mode"] == "in-place" else None
            db.execute("UPDATE renewals SET state = 'Running', started_at = ?, controlplane_only = ?, plan = ?, "
                       "next_at = ? WHERE id = ?", (epoch(now), int(only), json.dumps(plan), first, row["id"]))
            self._event(db, cluster_uid, f"{row['kind']} {row['id']} started ({row['mode']}"
                        f"{', control plane only' if only else ''})", renewal_id=row["id"], at=now)
        if self.fault("ca-rotated") and not upgrade:
            machine_pki.rotate_cluster_cas(self.shared_dir(cluster_uid), keys=self.keys, now=now,
                                           ca_days=self.ca_days)
        return True

    def _renewal_action(self, now: dt.datetime) -> bool:
        with self.store.snapshot() as db:
            row = db.execute("SELECT * FROM renewals WHERE state = 'Running' ORDER BY id LIMIT 1").fetchone()
        if row is None:
            return False
        renewal = dict(row)
        if renewal["mode"] == "in-place":
            return self._in_place_action(renewal, now)
        with self.store.transaction() as db:
            return _RepaveStep(self, db, renewal, now).run()

    def _in_place_action(self, renewal: dict[str, Any], now: dt.datetime) -> bool:
        plan = json.loads(renewal["plan"])
        pending = [uid for uid in plan["control_plane"] if uid not in plan["done"]]
        if renewal["next_at"] is not None and renewal["next_at"] > epoch(now):
            return False
        cluster_uid = renewal["cluster_uid"]
        faulty = renewal["kind"] == "renewal"  # the renewal faults leave an upgrade alone
        if faulty and self.fault("in-place-replaces-machine") and len(pending) == 1 and plan["done"]:
            plan["done"].append(pending[0])
            with self.store.transaction() as db:  # the last machine is replaced; the others were renewed in place
                db.execute("UPDATE renewals SET plan = ?, next_at = ? WHERE id = ?",
                           (json.dumps(plan), epoch(now) + self.timing.real(self.timing.renew_machine_s),
                            renewal["id"]))
                self.create_machine(db, renewal, CONTROL_PLANE_POOL, pending[0], now)
                self.delete_machine(db, renewal, pending[0], now)
            return True
        if pending:
            folder = self.machine_dir(cluster_uid, pending[0])
            if folder.exists():
                machine_pki.renew_in_place(
                    folder, keys=self.keys, now=now, leaf_days=self._renewed_leaf_days() if faulty else self.leaf_days,
                    skip=(STALE_LEAF,) if self.fault("stale-expiry") and faulty else (),
                    shared=self.shared_dir(cluster_uid) if self.fault("ca-rotated") and faulty else None,
                )
            plan["done"].append(pending[0])
            with self.store.transaction() as db:
                db.execute("UPDATE renewals SET plan = ?, next_at = ? WHERE id = ?",
                           (json.dumps(plan), epoch(now) + self.timing.real(self.timing.renew_machine_s),
                            renewal["id"]))
                self._event(db, cluster_uid, f"renewed the certificates of machine {pending[0]} in place",
                            machine_uid=pending[0], renewal_id=renewal["id"], at=now)
            return True
        with self.store.transaction() as db:
            self.complete(db, renewal, now)
        return True

    def complete(self, db: sqlite3.Connection, renewal: dict[str, Any], now: dt.datetime) -> None:
        now = self._locked_time(now)
        db.execute("UPDATE renewals SET state = 'Completed', finished_at = ? WHERE id = ?",
                   (epoch(now), renewal["id"]))
        if renewal["kind"] == "upgrade":
            db.execute("UPDATE clusters SET kubernetes_version = ? WHERE uid = ?",
                       (renewal["version"], renewal["cluster_uid"]))
        self._event(db, renewal["cluster_uid"], f"{renewal['kind']} {renewal['id']} completed",
                    renewal_id=renewal["id"], at=now)

    def create_machine(self, db: sqlite3.Connection, renewal: dict[str, Any], pool: str, replaces: str,
                       now: dt.datetime) -> None:
        """A new machine of ``pool`` for ``renewal``, replacing ``replaces``, provisioning from ``now``."""
        stalled = self.fault("provisioning-stalls")
        provision_s = self.timing.provision_s * (STALL_FACTOR if stalled else 1)
        self._insert_machine(db, renewal["cluster_uid"], pool, at=now, renewal_id=renewal["id"], replaces=replaces,
                             until=epoch(now) + self.timing.real(provision_s))

    def delete_machine(self, db: sqlite3.Connection, renewal: dict[str, Any], uid: str, now: dt.datetime) -> None:
        until = epoch(now) + self.timing.real(self.timing.delete_s)
        db.execute("UPDATE machines SET state = 'Deleting', deleting_at = ?, state_until = ? WHERE uid = ?",
                   (epoch(now), until, uid))
        name = db.execute("SELECT name FROM machines WHERE uid = ?", (uid,)).fetchone()["name"]
        self._event(db, renewal["cluster_uid"], f"deleting {name}", machine_uid=uid, renewal_id=renewal["id"], at=now)

    def _locked_time(self, now: dt.datetime) -> dt.datetime:
        """The time a renewal changes state, read inside the write transaction that changes it.

        A step's ``now`` is read before its transactions, and a step may wait for the write lock while
        a renew request holds it: stamped with ``now``, a renewal accepted just after another completed
        could seem requested before that one finished. Read under the lock, the times follow the order
        the changes were made in."""
        return max(now, self.clock())

    def _renewed_leaf_days(self) -> int:
        return 400 if self.fault("leaf-400-days") else self.leaf_days

    @staticmethod
    def _renewal_faults_apply(db: sqlite3.Connection, renewal_id: int | None) -> bool:
        """Whether a machine made by ``renewal_id`` is subject to the renewal faults: made by a certificate
        renewal (each of those faults fails one renewal rule), not by an upgrade or when the cluster was."""
        if renewal_id is None:
            return False
        row = db.execute("SELECT kind FROM renewals WHERE id = ?", (renewal_id,)).fetchone()
        return row is not None and row["kind"] == "renewal"

    def _next_due(self, now: dt.datetime) -> float | None:
        with self.store.snapshot() as db:
            times = [
                db.execute("SELECT MIN(state_until) FROM machines WHERE state IN ('Provisioning', 'Deleting')")
                .fetchone()[0],
                db.execute("SELECT MIN(next_at) FROM renewals WHERE state = 'Running'").fetchone()[0],
            ]
            running = db.execute("SELECT COUNT(*) FROM renewals WHERE state IN ('Running', 'Pending')").fetchone()[0]
        due = [t for t in times if t is not None]
        if due:
            # Nothing was due a moment ago: never 0 here, or the worker would spin while it waits.
            return max(0.01, float(min(due)) - epoch(now))
        return 0.05 if running else None

    def close(self) -> None:
        self.store.close()


class _RepaveStep:
    """One decision of a repave, inside one transaction: the next machine to create or remove, or done."""

    def __init__(self, platform: Platform, db: sqlite3.Connection, renewal: dict[str, Any], now: dt.datetime) -> None:
        self.platform, self.db, self.renewal, self.now = platform, db, renewal, now
        self.plan = json.loads(renewal["plan"])
        rows = db.execute("SELECT * FROM machines WHERE cluster_uid = ? AND state != 'Deleted'",
                          (renewal["cluster_uid"],)).fetchall()
        self.live = {row["uid"]: dict(row) for row in rows}
        created = db.execute("SELECT * FROM machines WHERE renewal_id = ?", (renewal["id"],)).fetchall()
        self.replacements = {row["replaces"]: dict(row) for row in created}

    def run(self) -> bool:
        phases = [self._control_plane, self._workers]
        if self.platform.fault("workers-first"):
            phases.reverse()
        for phase in phases:
            acted, finished = phase()
            if acted:
                return True
            if not finished:
                return False
        self.platform.complete(self.db, self.renewal, self.now)
        return True

    def _create(self, pool: str, replaces: str) -> None:
        self.platform.create_machine(self.db, self.renewal, pool, replaces, self.now)

    def _delete(self, uid: str) -> None:
        self.platform.delete_machine(self.db, self.renewal, uid, self.now)

    def _control_plane(self) -> tuple[bool, bool]:
        """(acted, finished): surge all replacements first, then retire the old machines one at a time."""
        olds = self.plan["control_plane"]
        if self.platform.fault("scale-in-first"):
            return self._one_at_a_time(olds, CONTROL_PLANE_POOL, remove_first=True)
        for old in olds:
            if old not in self.replacements:
                self._create(CONTROL_PLANE_POOL, old)
                return True, False
        if any(self.replacements[old]["state"] != "Running" for old in olds):
            return False, False
        alive = [old for old in olds if old in self.live]
        if any(self.live[old]["state"] == "Deleting" for old in alive):
            return False, False
        if alive:
            self._delete(alive[0])
            return True, False
        return False, True

    def _workers(self) -> tuple[bool, bool]:
        return self._one_at_a_time(self.plan["workers"], WORKER_POOL, remove_first=False)

    def _one_at_a_time(self, olds: list[str], pool: str, *, remove_first: bool) -> tuple[bool, bool]:
        """Replace each old machine in turn: a new one runs before its old one goes (or, as a fault, after)."""
        for old in olds:
            steps = (self._retire, self._replace) if remove_first else (self._replace, self._retire)
            for step in steps:
                acted, finished = step(old, pool)
                if acted or not finished:
                    return acted, False
        return False, True

    def _replace(self, old: str, pool: str) -> tuple[bool, bool]:
        """(acted, finished) of making ``old``'s replacement and waiting for it to run."""
        new = self.replacements.get(old)
        if new is None:
            self._create(pool, old)
            return True, False
        return False, new["state"] == "Running"

    def _retire(self, old: str, pool: str) -> tuple[bool, bool]:
        """(acted, finished) of removing ``old`` and waiting for it to be gone."""
        if old not in self.live:
            return False, True
        if self.live[old]["state"] != "Deleting":
            self._delete(old)
            return True, False
        return False, False
