"""`kubecert check` on the reference, and the cost per target as one run judges more targets.

A fleet run parametrizes every check over its targets; this measures one target against 1, 10 and 50
copies of a tree in a single pytest run, so the per-target cost can be read off side by side.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _trees import make_tree

REPEAT = 3


def run(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kubecert", *args], cwd=cwd, check=False, capture_output=True, timeout=900)
    return time.perf_counter() - start


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="kubecert-bench-check-"))
    reference = sorted(run(["check", "-q"], work) for _ in range(REPEAT))[REPEAT // 2]
    report = json.loads((work / "reports" / "kubecert.json").read_text())
    print(f"kubecert check (embedded reference): {reference:.2f} s median of {REPEAT}, "
          f"{len(report['results'])} results, summary {report['summary']}")

    tree = make_tree()
    print(f"\n{'targets':>8}{'wall':>10}{'per target':>14}{'vs 1 target':>14}")
    base = None
    for count in (1, 10, 50):
        fleet = work / f"fleet-{count}"
        targets = []
        for index in range(count):
            copy = fleet / f"node-{index}"
            shutil.copytree(tree, copy, symlinks=True, copy_function=shutil.copy2)  # the kubelet's links stay links
            targets += ["--target", f"pki:{copy / 'pki'}"]
        wall = run(["check", "-q", "--profile", "palette", *targets], work)
        base = base or wall
        print(f"{count:>8}{wall:>9.2f}s{wall / count:>13.3f}s{wall / base:>13.1f}x")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
