"""The reference Palette-like API under concurrent keep-alive clients: requests, req/s and latency
percentiles for 1, 10 and 50 clients, each reading (cluster, certificates, machine pages) and renewing
now and then, against `kubecert reference serve` in its own process (no request budget, 200x time).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from kubecert.reference.api import loadgen
from kubecert.reference.api.served_process import serve

SECONDS = 5.0
SHAPE = ("--control-planes", "3", "--workers", "2", "--time-scale", "200", "--rate-limit", "0")


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="kubecert-bench-api-"))
    try:
        with serve(work / "state.db", *SHAPE) as served:
            cluster = served.call("GET", f"/v1/spectroclusters/{served.cluster}").json()
            target = loadgen.Target(served.url, served.ca_bundle, served.key, served.cluster,
                                    cluster["spec"]["cloudConfigRef"]["uid"])
            print(f"{'clients':>8}{'requests':>10}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}"
                  f"{'204':>6}{'409':>6}{'errors':>8}")
            for clients in (1, 10, 50):
                report = loadgen.run(target, clients=clients, seconds=SECONDS)
                print(f"{clients:>8}{report.requests:>10}{report.requests / report.seconds:>8.0f}"
                      f"{report.percentile(0.5) * 1000:>9.1f}{report.percentile(0.99) * 1000:>9.1f}"
                      f"{report.statuses['renew', 204]:>6}{report.statuses['renew', 409]:>6}"
                      f"{sum(report.errors.values()):>8}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
