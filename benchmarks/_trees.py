"""Reference trees for the benchmarks, made once per script run."""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kubecert.reference.pki import FreshKeys, InitOptions, init_pki


def make_tree(algorithm: str = "RSA-2048") -> Path:
    root = Path(tempfile.mkdtemp(prefix="kubecert-bench-")) / "kubernetes"
    init_pki(root, InitOptions(key_algorithm=algorithm), keys=FreshKeys(), now=dt.datetime.now(dt.UTC))
    return root


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)
