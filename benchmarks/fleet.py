"""A fleet of N reference clusters checked by kubecert (and as many targets it cannot read), beside the two
yardsticks, in one run.

    python benchmarks/fleet.py                 # N = 100, 300, 1000
    python benchmarks/fleet.py --sizes 50 100 --repeat 3
    python benchmarks/fleet.py --sizes 100 1000 10000 --openssl-max 1000   # 10,000 without the openssl loop

Trees are built once per size with ECDSA keys from a small pool (key generation is not what is measured)
in a folder that later runs reuse (--trees, default .bench-trees). Every command then runs --repeat times,
interleaved (one run of each in turn, so a drifting machine slows all alike); the table shows medians:

- kubecert fleet: ``kubecert check --fleet`` over all N, every static rule, JSON, HTML and JUnit reports;
- kubecert per check: the same with ``--per-check`` (one pytest item per rule and target; sizes up to
  --per-check-max only: it grows past a minute a run);
- kubecert -n 2: the fleet run over two xdist workers;
- kubecert unreadable (and unreadable per check): the same two runs over N ``pki:`` targets whose folders do
  not exist, every check an error (exit 2): a target that cannot be read must cost no more than one that can;
- openssl loop: ``openssl x509 -checkend`` on every certificate file, one process each (what a shell
  script of an operator does; it judges far less); sizes up to --openssl-max only (about 0.23 s a cluster
  here: 40 minutes a run at 10,000), its ratio "—" above;
- floor: one Python process that reads, parses and signature-verifies every certificate with
  `cryptography` (_floor.py), the least any checker of these files must do.

Peak RSS is that of the largest process of the command. "growth" is a size's seconds per cluster over the
smallest size's: 1.0 is linear.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
KUBECERT = [sys.executable, "-m", "kubecert", "check", "-q", "--profile", "kubeadm"]
STATIC = ["--", "-m", "not disruptive"]  # every rule that only reads; the renewals need commands anyway


@dataclass
class Sample:
    wall_s: float
    peak_mib: float
    code: int


def build_trees(folder: Path, count: int, workers: int = 2) -> list[Path]:
    """``count`` reference control-plane trees under ``folder`` (made once; later runs reuse them)."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = [folder / f"c{n:05d}" for n in range(count)]
    missing = [path for path in wanted if not (path / "kubernetes" / "pki" / "ca.crt").exists()]
    if missing:
        print(f"building {len(missing)} reference trees in {folder} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        chunks = [missing[i::workers] for i in range(workers)]
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_build_chunk, chunks))
        print(f"built in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return [path / "kubernetes" / "pki" for path in wanted]


def _build_chunk(paths: Sequence[Path]) -> None:
    from kubecert.reference.pki import InitOptions, KeyPool, init_pki
    from kubecert.reference.pki.options import PROFILE_CA_DAYS

    keys = KeyPool(size=24)
    now = dt.datetime.now(dt.UTC)
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)
        options = InitOptions(key_algorithm="ECDSA-P256", node_name=f"cp-{path.name}",
                              ca_days=PROFILE_CA_DAYS["kubeadm"])
        init_pki(path / "kubernetes", options, keys=keys, now=now)


def certificate_files(pki_dirs: Sequence[Path]) -> list[Path]:
    """Every file that holds a certificate: the PKI folder's and the kubelet's (the kubeconfigs embed theirs)."""
    found = []
    for pki in pki_dirs:
        kubelet = pki.parent / "kubelet" / "pki"
        found += sorted([*pki.glob("*.crt"), *pki.glob("etcd/*.crt"), kubelet / "kubelet.crt",
                         kubelet / "kubelet-client-current.pem"])
    return found


def count_certificates(pki_dirs: Sequence[Path]) -> int:
    """The files' certificates and the kubeconfigs' embedded ones: what kubecert and the floor read."""
    embedded = sum(conf.read_bytes().count(b"client-certificate-data:") for pki in pki_dirs
                   for conf in pki.parent.glob("*.conf"))
    return len(certificate_files(pki_dirs)) + embedded


def run(command: Sequence[str], cwd: Path) -> Sample:
    """One whole-process run: wall seconds and the peak RSS of its largest process (from wait4)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Sample(wall, usage.ru_maxrss / 1024, process.returncode)


def commands(pki_dirs: Sequence[Path], work: Path, per_check: bool, openssl: bool) -> dict[str, list[str]]:
    targets = work / "targets.yaml"
    targets.write_text("targets:\n" + "".join(f"  - pki:{p}\n" for p in pki_dirs))
    unreadable = work / "unreadable.yaml"  # as many targets, none of whose folders exists
    unreadable.write_text("targets:\n" + "".join(f"  - pki:{work / 'gone' / p.parent.parent.name / 'pki'}\n"
                                                  for p in pki_dirs))
    files = work / "files.txt"
    files.write_text("".join(f"{f}\n" for f in certificate_files(pki_dirs)))
    reports = ["--json", str(work / "r.json"), "--html", str(work / "r.html"), "--junitxml", str(work / "r.xml")]
    found = {
        "kubecert fleet": [*KUBECERT, "--inventory", str(targets), "--fleet", *reports, *STATIC],
        "kubecert -n 2": [*KUBECERT, "--inventory", str(targets), "--fleet", *reports, *STATIC, "-n", "2"],
        "kubecert unreadable": [*KUBECERT, "--inventory", str(unreadable), "--fleet", *reports, *STATIC],
        "openssl loop": ["sh", "-c", 'while read -r f; do openssl x509 -checkend 2592000 -noout -in "$f" '
                         '>/dev/null || echo "$f"; done < "$0"', str(files)],
        "floor": [sys.executable, str(HERE / "_floor.py"), str(files)],
    }
    if not openssl:
        del found["openssl loop"]
    if per_check:
        found["kubecert per check"] = [*KUBECERT, "--inventory", str(targets), "--per-check", *reports, *STATIC]
        found["kubecert unreadable per check"] = [*KUBECERT, "--inventory", str(unreadable), "--per-check", *reports,
                                                  *STATIC]
    return found


def measure(size: int, trees: Path, scratch: Path, *, repeat: int, per_check_max: int,
            openssl_max: int) -> dict[str, list[Sample]]:
    pki_dirs = build_trees(trees, size)
    work = scratch / f"n{size}"
    work.mkdir(parents=True, exist_ok=True)
    chosen = commands(pki_dirs, work, size <= per_check_max, size <= openssl_max)
    samples: dict[str, list[Sample]] = {name: [] for name in chosen}
    for round_number in range(repeat):
        for name, command in chosen.items():
            print(f"N={size} run {round_number + 1}/{repeat}: {name}", file=sys.stderr, flush=True)
            samples[name].append(run(command, work))
    return samples


def table(results: dict[int, dict[str, list[Sample]]], certificates: dict[int, int]) -> str:
    lines = ["| clusters | certificates | command | wall s (median) | peak RSS MiB | ÷ openssl | ÷ floor | growth |",
             "|---:|---:|---|---:|---:|---:|---:|---:|"]
    smallest = min(results)
    for size, samples in sorted(results.items()):
        medians = {name: statistics.median(s.wall_s for s in runs) for name, runs in samples.items()}
        for name, runs in samples.items():
            first = statistics.median(s.wall_s for s in results[smallest][name]) if name in results[smallest] else None
            growth = (medians[name] / size) / (first / smallest) if first else None
            codes = sorted({s.code for s in runs})
            expected = ([2],) if "unreadable" in name else ([0], [1])  # every check of an unreadable target errs
            note = "" if codes in expected or name == "openssl loop" else f" (exit {codes})"
            openssl = medians.get("openssl loop")
            lines.append(
                f"| {size} | {certificates[size]} | {name}{note} | {medians[name]:.2f} | "
                f"{max(s.peak_mib for s in runs):.0f} | {f'{medians[name] / openssl:.3f}' if openssl else '—'} | "
                f"{medians[name] / medians['floor']:.1f} | {f'{growth:.2f}' if growth else '—'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--per-check-max", type=int, default=300)
    parser.add_argument("--openssl-max", type=int, default=1000)
    parser.add_argument("--trees", type=Path, default=Path(".bench-trees"))
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="kubecert-bench-fleet-"))
    try:
        results = {size: measure(size, args.trees.resolve(), scratch, repeat=args.repeat,
                                 per_check_max=args.per_check_max, openssl_max=args.openssl_max)
                   for size in sorted(args.sizes)}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    certificates = {size: count_certificates(build_trees(args.trees.resolve(), size)) for size in results}
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"medians of {args.repeat} interleaved runs\n")
    print(table(results, certificates))


if __name__ == "__main__":
    main()
