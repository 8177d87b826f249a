"""``kubecert reference serve`` in a child process, as a user runs it: started on a state file, its
printed URL, CA bundle, key file, kubeconfig and cluster read back, and stopped (SIGTERM) or killed (SIGKILL).

For the reference's own tests and benchmarks: a server in its own process shares no interpreter lock
with the clients that measure it, and can be killed at any moment and started again on the same file.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import requests

_READY = "ready; stop with"
_STOP_TIMEOUT_S = 10.0


@dataclass
class ServedProcess:
    process: subprocess.Popen[str]
    url: str
    ca_bundle: str
    key: str = field(repr=False)
    cluster: str
    project: str
    kubeconfig: str  # of the Kubernetes-style API that holds the SpectroCluster objects
    output: str

    def session(self) -> requests.Session:
        """A session that trusts the server's CA and nothing from the environment."""
        session = requests.Session()
        session.trust_env = False
        session.verify = self.ca_bundle
        return session

    def call(self, method: str, path: str, *, timeout: float = 10.0, **headers: str) -> requests.Response:
        """One request on a fresh connection, with the key and the cluster's project unless overridden."""
        sent = {"ApiKey": self.key, "ProjectUid": self.project, **headers}
        with self.session() as session:
            return session.request(method, self.url + path, headers=sent, timeout=timeout)

    def kill(self) -> None:
        """SIGKILL: the server gets no chance to tidy up."""
        self.process.kill()
        self.process.wait(_STOP_TIMEOUT_S)


def _pump(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


@contextmanager
def serve(state: Path, *args: str, start_timeout: float = 60.0) -> Iterator[ServedProcess]:
    """``kubecert reference serve --port 0 --state STATE ARGS``, until the block ends (then SIGTERM)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "kubecert", "reference", "serve", "--port", "0", "--state", str(state), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    pump = threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True)
    pump.start()
    output = ""
    deadline = time.monotonic() + start_timeout
    try:
        while _READY not in output:
            try:
                output += lines.get(timeout=0.2)
            except queue.Empty:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"kubecert reference serve did not start: {output}") from None
        yield _read_banner(process, output)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(_STOP_TIMEOUT_S)
        pump.join(_STOP_TIMEOUT_S)  # the output ends with the process
        process.stdout.close()


def _read_banner(process: subprocess.Popen[str], output: str) -> ServedProcess:
    lines = output.splitlines()
    fields = dict(line.split(": ", 1) for line in lines if ": " in line)
    # "cluster NAME uid UID project NAME uid UID (MODE) kubernetes VERSION, profile UID ...": the first cluster
    words = next(line for line in lines if line.startswith("cluster ")).split()
    key = Path(fields["API key file"].split(" (")[0]).read_text(encoding="utf-8").strip()
    return ServedProcess(process, lines[0].split()[-1], fields["CA bundle"], key, words[3], words[7],
                         fields["kubeconfig"].split(" (")[0], output)
