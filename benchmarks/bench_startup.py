"""How long the commands take from start to exit: `kubecert --help`, `--version`, `rules` and a check of one
node's folder (every report, and the JSON one alone), beside `python -c pass`, the floor any command pays.

Each command is started afresh REPEAT times (after one run that is not counted, so the files are in the page
cache), the commands in turn, and the median is printed. ``--baseline PYTHON`` runs every command with
another installation's interpreter too (another checkout's virtual environment, say), interleaved with this
one's, and prints the two side by side with their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _trees import make_tree

REPEAT = 11


def commands(tree: Path) -> dict[str, list[str]]:
    """Label → the arguments after ``python``."""
    return {
        "python -c pass": ["-c", "pass"],
        "kubecert --help": ["-m", "kubecert", "--help"],
        "kubecert --version": ["-m", "kubecert", "--version"],
        "kubecert rules": ["-m", "kubecert", "rules"],
        # No report option: every format into reports/, as on a node.
        "kubecert check --target pki:TREE": ["-m", "kubecert", "check", "-q", "--profile", "palette",
                                             "--target", f"pki:{tree / 'pki'}"],
        # The JSON report alone, as a pipeline that reads the verdict asks for.
        "the same with --json r.json": ["-m", "kubecert", "check", "-q", "--profile", "palette",
                                        "--target", f"pki:{tree / 'pki'}", "--json", "r.json"],
    }


def seconds(python: str, args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    # No timeout: waiting with one polls the child in growing sleeps, which would add milliseconds to each run.
    subprocess.run([python, *args], cwd=cwd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", metavar="PYTHON", help="also time the commands with this interpreter")
    parser.add_argument("--repeat", type=int, default=REPEAT, help="runs counted per command (default %(default)s)")
    options = parser.parse_args()
    pythons = [sys.executable, *([options.baseline] if options.baseline else [])]
    work = Path(tempfile.mkdtemp(prefix="kubecert-bench-startup-"))
    runs = commands(make_tree())

    samples: dict[tuple[str, str], list[float]] = {(label, python): [] for label in runs for python in pythons}
    for round_ in range(options.repeat + 1):
        for label, args in runs.items():
            for python in pythons:
                taken = seconds(python, args, work)
                if round_:  # the first round warms the page cache
                    samples[label, python].append(taken)
    median = {key: statistics.median(values) for key, values in samples.items()}

    floor = median["python -c pass", sys.executable]
    header = f"{'command':<36}{'this':>9}{'x floor':>9}"
    if options.baseline:
        header += f"{'baseline':>10}{'this/baseline':>15}"
    print(f"median wall seconds of {options.repeat} runs each; this = {sys.executable}"
          + (f", baseline = {options.baseline}" if options.baseline else ""))
    print(header)
    for label in runs:
        this = median[label, sys.executable]
        line = f"{label:<36}{this:>8.3f}s{this / floor:>8.1f}x"
        if options.baseline:
            other = median[label, options.baseline]
            line += f"{other:>9.3f}s{this / other:>14.2f}x"
        print(line)


if __name__ == "__main__":
    main()
