"""``kubecert reference serve`` as users run it: a subprocess on a state file. Killed with SIGKILL in the
middle of a repave and started again on the same file, it finishes the repave with no machine lost or
made twice. Concurrent renew requests start one renewal. The API key is never printed."""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    ca_bundle: str
    key: str
    cluster: str
    project: str
    output: str

    def call(self, method: str, path: str, **headers: str) -> requests.Response:
        sent = {"ApiKey": self.key, "ProjectUid": self.project, **headers}
        with requests.Session() as session:
            session.trust_env = False
            return session.request(method, self.url + path, headers=sent, verify=self.ca_bundle, timeout=10)


def _lines(stream: Any, into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


@contextmanager
def serve(state: Path, *args: str) -> Iterator[Served]:
    process = subprocess.Popen(
        [sys.executable, "-m", "kubecert", "reference", "serve", "--port", "0", "--state", str(state), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()
    output = ""
    deadline = time.monotonic() + 60
    try:
        while "ready; stop with" not in output:
            try:
                output += lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"serve did not start: {output}") from None
        fields = dict(line.split(": ", 1) for line in output.splitlines() if ": " in line)
        words = next(line for line in output.splitlines() if line.startswith("cluster ")).split()
        key = Path(fields["API key file"].split(" (")[0]).read_text().strip()
        yield Served(process, output.splitlines()[0].split()[-1], fields["CA bundle"], key, words[3], words[7], output)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def machines(served: Served, pool: str) -> list[dict[str, Any]]:
    cluster = served.call("GET", f"/v1/spectroclusters/{served.cluster}").json()
    config = cluster["spec"]["cloudConfigRef"]["uid"]
    answer = served.call("GET", f"/v1/cloudconfigs/aws/{config}/machinePools/{pool}/machines").json()
    return list(answer["items"])


def repave_state(served: Served) -> str:
    return str(served.call("GET", f"/v1/spectroclusters/{served.cluster}").json()["status"]["repave"]["state"])


def test_serve_prints_where_and_not_the_key(tmp_path: Path) -> None:
    with serve(tmp_path / "state.db", "--seed-clusters", "2", "--workers", "1", "--control-planes", "1") as served:
        assert served.url.startswith("https://127.0.0.1:")
        assert served.key and served.key not in served.output
        assert served.output.count("cluster reference-") == 2
        assert os.stat(f"{tmp_path / 'state.db'}.apikey").st_mode & 0o777 == 0o600
        answer = served.call("GET", f"/v1/spectroclusters/{served.cluster}/k8certificates")
        assert answer.status_code == 200 and len(answer.json()["machineCertificates"]) == 1
        assert served.call("GET", "/v1/spectroclusters/nope", ApiKey="wrong").status_code == 401


def test_unknown_fault_is_a_one_line_usage_error(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "kubecert", "reference", "serve", "--state", str(tmp_path / "s.db"),
                             "--fault", "no-such-fault"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 3
    assert result.stderr.startswith("kubecert: error: unknown fault 'no-such-fault'; known faults: renew-answers-200")
    assert "Traceback" not in result.stderr


def test_killed_mid_repave_and_restarted_the_repave_completes_without_losing_or_doubling(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    shape = ("--control-planes", "2", "--workers", "2", "--time-scale", "40")  # provisioning 1.5 s, deletion 0.5 s
    with serve(state, *shape) as served:
        pools = ("control-plane-pool", "worker-pool")
        original = {m["metadata"]["uid"] for pool in pools for m in machines(served, pool)}
        assert served.call("PATCH", f"/v1/spectroclusters/{served.cluster}/k8certificates/renew").status_code == 204
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # mid-way: the new control plane runs, an old machine is going
            cp = machines(served, "control-plane-pool")
            if any(m["status"]["instanceState"] == "Deleting" for m in cp):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the repave never reached the removal of the old control plane")
        served.process.kill()  # SIGKILL: no chance to tidy up
        served.process.wait(10)
    with serve(state, *shape) as restarted:
        assert "cluster reference-1" in restarted.output and restarted.output.count("cluster ") == 1
        deadline = time.monotonic() + 60
        while repave_state(restarted) != "Completed":
            assert time.monotonic() < deadline, "the repave did not complete after the restart"
            time.sleep(0.1)
        cp, workers = machines(restarted, "control-plane-pool"), machines(restarted, "worker-pool")
        listing = restarted.call("GET", f"/v1/spectroclusters/{restarted.cluster}/k8certificates").json()
    assert len(cp) == 2 and len(workers) == 2
    assert all(m["status"]["instanceState"] == "Running" for m in cp + workers)
    assert not original & {m["metadata"]["uid"] for m in cp + workers}
    assert sorted(e["name"] for e in listing["machineCertificates"]) == sorted(m["metadata"]["name"] for m in cp)
    with sqlite3.connect(state) as db:
        made = db.execute("SELECT pool, COUNT(*) FROM machines WHERE renewal_id IS NOT NULL GROUP BY pool").fetchall()
        live = db.execute("SELECT COUNT(*) FROM machines WHERE state != 'Deleted'").fetchone()[0]
        renewals = db.execute("SELECT state FROM renewals").fetchall()
        folders = db.execute("SELECT cluster_uid, uid, state FROM machines WHERE control_plane = 1").fetchall()
    assert dict(made) == {"control-plane-pool": 2, "worker-pool": 2}  # one replacement per machine: none doubled
    assert live == 4 and renewals == [("Completed",)]
    for cluster, uid, machine_state in folders:  # each running control plane has its PKI; removed ones none
        assert (Path(f"{state}.machines") / cluster / uid / "pki" / "ca.crt").exists() == (machine_state == "Running")


def test_concurrent_renew_requests_start_one_renewal(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    with serve(state, "--control-planes", "1", "--workers", "1", "--time-scale", "100") as served:
        path = f"/v1/spectroclusters/{served.cluster}/k8certificates/renew"
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: served.call("PATCH", path), range(8)))
        codes = sorted(a.status_code for a in answers)
        conflict = next(a for a in answers if a.status_code == 409).json()
        deadline = time.monotonic() + 60
        while repave_state(served) != "Completed":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert codes == [204] + [409] * 7
    assert conflict["code"] == "CertificateRenewalInProgress" and conflict["message"] and conflict["ref"]
    with sqlite3.connect(state) as db:
        assert db.execute("SELECT COUNT(*) FROM renewals").fetchone()[0] == 1
        assert db.execute("SELECT COUNT(*) FROM machines WHERE renewal_id IS NOT NULL").fetchone()[0] == 2
