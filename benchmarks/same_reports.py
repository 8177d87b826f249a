"""Whether two checkouts of kubecert write the same canonical report: a run of the whole reference (`kubecert
check` with no target) and a fleet run of it (`--fleet`), each judged at one moment (--at), by this checkout and
by another (its sources put first on PYTHONPATH). Timings, hosts, command lines and what a fresh reference
platform makes anew each run (keys, fingerprints, serials, dates, its temporary folders) are left out.

    python benchmarks/same_reports.py --baseline ../other-checkout
    python benchmarks/same_reports.py --baseline ../other-checkout --inventory targets.yaml  # and a fleet's file

With --inventory, a fleet run of that inventory file (--fleet, --profile kubeadm) is compared as well: the
trees fleet.py builds (.bench-trees) make a 100-cluster one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SHOWN = 10  # differing results printed
RUNS = {"reference": [], "fleet": ["--fleet"]}
MOMENTS = ("started_at", "finished_at", "observed_at", "duration_s", "host", "command_line")
# What a fresh reference platform makes anew, and what a run measures.
FRESH_KEYS = ("serial", "fingerprint", "sha256", "key_id", "uid", "elapsed", "looks", "progress_reports")
FRESH = [
    (re.compile(r"\b(reference-\d+-(?:cp|w|worker))-[0-9a-f]{6}\b"), r"\1-<machine>"),  # a machine made this run
    (re.compile(r"\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d"), "<dated>"),  # the kubelet's dated file names
    (re.compile(r"\b\d+(\.\d+)? s\b"), "<seconds> s"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d| UTC)?"), "<moment>"),
    (re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{12,}\b"), "<hex>"),  # fingerprints, serials, key ids
    (re.compile(r"(?<![\w-])\d{6,}(?![\w-])"), "<number>"),  # decimal serials
    (re.compile(r"\d+d( \d+h)?( \d+m)?"), "<span>"),  # remaining times, from dates made this run
    (re.compile(re.escape(tempfile.gettempdir()) + r"/[^\s'\",)\]]*"), "<tmp>"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
]


def normalised(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "<fresh>" if any(word in k for word in FRESH_KEYS) else normalised(v)
                for k, v in value.items() if k not in MOMENTS}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    if isinstance(value, str):
        for pattern, replacement in FRESH:
            value = pattern.sub(replacement, value)
    return value


def read(path: Path) -> Any:
    """A report as its content: what a minor version says once (1.9's rules section) put back into each result,
    as a reader sees it, and its version left out, so that two minors of one content compare equal."""
    from kubecert.reports import canonical

    document = json.loads(path.read_text())
    canonical.upgraded(document)
    for key in ("schema", "rules"):
        document.pop(key, None)
    return normalised(document)


def report(pythonpath: str | None, extra: list[str], at: str, folder: Path) -> Any:
    path = folder / "kubecert.json"
    if path.exists():  # kept from an earlier call (--keep): compared again
        return read(path)
    env = {**os.environ, **({"PYTHONPATH": pythonpath} if pythonpath else {})}
    subprocess.run([sys.executable, "-m", "kubecert", "check", "-q", "--at", at, "--json", str(path), *extra],
                   cwd=folder, env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return read(path)


def _differences(a: Any, b: Any, where: str) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _differences(a.get(k), b.get(k), f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {json.dumps(a)[:160]} / {json.dumps(b)[:160]}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, metavar="CHECKOUT", help="the other checkout's root")
    parser.add_argument("--keep", metavar="DIR", help="keep the reports in DIR; reports already there are reused")
    parser.add_argument("--inventory", type=Path, metavar="FILE", help="also a fleet run of this inventory file")
    parser.add_argument("--only-inventory", action="store_true", help="with --inventory: that run alone")
    options = parser.parse_args()
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z")
    differ = 0
    runs = {} if options.only_inventory and options.inventory else dict(RUNS)
    if options.inventory:
        runs["inventory"] = ["--inventory", str(options.inventory.resolve()), "--fleet", "--profile", "kubeadm"]
    for name, extra in runs.items():
        with tempfile.TemporaryDirectory() as scratch:
            folders = [Path(options.keep or scratch) / name / side for side in ("this", "baseline")]
            for folder in folders:
                folder.mkdir(parents=True, exist_ok=True)
            mine = report(None, extra, at, folders[0])
            theirs = report(str(Path(options.baseline).resolve()), extra, at, folders[1])
        same = mine == theirs
        differ += not same
        print(f"{name}: {len(mine['results'])} results, {'the same' if same else 'DIFFERENT'}")
        if not same:
            for key in sorted(set(mine) | set(theirs)):
                if mine.get(key) != theirs.get(key):
                    print(f"  differs: {key}")
            differing = [(a, b) for a, b in zip(mine["results"], theirs["results"], strict=False) if a != b]
            print(f"  {len(differing)} results differ")
            for a, b in differing[:SHOWN]:
                print(f"  {a['rule']} {a['target']}:", *_differences(a, b, ""))
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
