"""``kubecert reference serve`` as users run it: a subprocess on a state file. It prints where it serves
and never the key; an unknown fault is a usage error; concurrent renew requests start one renewal.
Killed in the middle of a repave and started again: test_api_crash.py."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kubecert.reference.api.served_process import ServedProcess, serve


def renewal_state(served: ServedProcess) -> str:
    """The reason of the cluster's renewal condition: InProgress, then Completed (status.repave.state is an
    approval state, not progress)."""
    conditions = served.call("GET", f"/v1/spectroclusters/{served.cluster}").json()["status"]["conditions"]
    return str(conditions[0]["reason"]) if conditions else ""


def test_serve_prints_where_and_not_the_key(tmp_path: Path) -> None:
    with serve(tmp_path / "state.db", "--seed-clusters", "2", "--workers", "1", "--control-planes", "1") as served:
        assert served.url.startswith("https://127.0.0.1:")
        assert served.key and served.key not in served.output
        assert served.output.count("cluster reference-") == 2
        # What KC-RPV-10's --upgrade-profile names: a later version of the cluster's profile.
        assert served.output.count(" kubernetes 1.31.4, profile ") == 2
        assert served.output.count("(later versions: 1.31.5 ") == 2
        assert os.stat(f"{tmp_path / 'state.db'}.apikey").st_mode & 0o777 == 0o600
        assert os.stat(served.kubeconfig).st_mode & 0o777 == 0o600  # for --palette-kubeconfig, kubectl annotate
        answer = served.call("GET", f"/v1/spectroclusters/{served.cluster}/k8certificates")
        assert answer.status_code == 200 and len(answer.json()["machineCertificates"]) == 1
        assert served.call("GET", "/v1/spectroclusters/nope", ApiKey="wrong").status_code == 401


def test_unknown_fault_is_a_one_line_usage_error(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "kubecert", "reference", "serve", "--state", str(tmp_path / "s.db"),
                             "--fault", "no-such-fault"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 3
    assert result.stderr.startswith("kubecert: error: unknown fault 'no-such-fault'; known faults: renew-answers-200")
    assert "Traceback" not in result.stderr


def test_concurrent_renew_requests_start_one_renewal(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    with serve(state, "--control-planes", "1", "--workers", "1", "--time-scale", "100") as served:
        path = f"/v1/spectroclusters/{served.cluster}/k8certificates/renew"
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: served.call("PATCH", path), range(8)))
        codes = sorted(a.status_code for a in answers)
        conflict = next(a for a in answers if a.status_code == 409).json()
        deadline = time.monotonic() + 60
        while renewal_state(served) != "Completed":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert codes == [204] + [409] * 7
    assert conflict["code"] == "CertificateRenewalInProgress" and conflict["message"] and conflict["ref"]
    with sqlite3.connect(state) as db:
        assert db.execute("SELECT COUNT(*) FROM renewals").fetchone()[0] == 1
        assert db.execute("SELECT COUNT(*) FROM machines WHERE renewal_id IS NOT NULL").fetchone()[0] == 2
