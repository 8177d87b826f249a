"""A container engine's command-line client (``docker`` or ``podman``), as kind's nodes are reached through it.

Every call runs without a shell, with a timeout, and with its output bounded: what a container prints is
hostile input like anything else a target sends. A call that fails says which command and why (the
engine's own words, escaped), as ``TargetUnavailable``; nothing here ever raises a traceback for a user.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shlex
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence

from kubecert.targets.commands import STOP_GRACE_S
from kubecert.targets.errors import TargetError, TargetUnavailable
from kubecert.text import escaped

RUNTIMES = ("docker", "podman")
PROVIDER_ENV = "KIND_EXPERIMENTAL_PROVIDER"  # how kind itself is told to use podman
CALL_TIMEOUT_S = 60.0
MAX_OUTPUT_BYTES = 1 << 20  # a listing, a kubeconfig, a status line
_CHUNK = 1 << 16


def chosen_runtime(options: Mapping[str, object], env: Mapping[str, str] = os.environ) -> str:
    """The runtime's command: the URI's ``runtime=``, else kind's own variable, else the first one on PATH."""
    wanted = options.get("runtime") or env.get(PROVIDER_ENV) or ""
    if wanted:
        if str(wanted) not in RUNTIMES:
            raise TargetError(f"runtime={escaped(str(wanted))!r}: expected one of {', '.join(RUNTIMES)}")
        return str(wanted)
    return next((name for name in RUNTIMES if shutil.which(name)), RUNTIMES[0])


class ContainerRuntime:
    """``docker``/``podman`` calls, each bounded in time and output."""

    def __init__(self, command: str, *, timeout: float = CALL_TIMEOUT_S) -> None:
        self.command = command
        self.timeout = timeout

    def run(self, args: Sequence[str], *, timeout: float | None = None, max_bytes: int = MAX_OUTPUT_BYTES) -> bytes:
        """Run ``COMMAND ARGS``; its standard output, or TargetUnavailable saying what went wrong."""
        binary = shutil.which(self.command)
        shown_command = shlex.join([self.command, *args])
        if binary is None:
            raise TargetUnavailable(f"{self.command} is not on PATH: kind's nodes are containers reached through "
                                    f"{' or '.join(RUNTIMES)} (choose with kind:NAME?runtime=podman or {PROVIDER_ENV})")
        try:
            process = subprocess.Popen([binary, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            raise TargetUnavailable(f"{shown_command}: could not start: {exc.strerror or exc}") from None
        try:
            out, err = bounded_output(process, timeout or self.timeout, max_bytes, shown_command)
        except BaseException:
            kill_group(process)
            raise
        if process.returncode != 0:
            said = escaped(err.decode(errors="replace").strip().splitlines()[-1] if err.strip() else "")
            raise TargetUnavailable(f"{shown_command}: exit {process.returncode}" + (f": {said}" if said else ""))
        return out

    def text(self, args: Sequence[str], *, timeout: float | None = None) -> str:
        return self.run(args, timeout=timeout).decode(errors="replace")


def bounded_output(process: subprocess.Popen[bytes], timeout: float, max_bytes: int,
                    shown_command: str) -> tuple[bytes, bytes]:
    """Read the process's stdout (at most ``max_bytes``) and stderr until it exits or ``timeout`` passes."""
    assert process.stdout is not None
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    chunks: dict[int, list[bytes]] = {process.stdout.fileno(): [], process.stderr.fileno(): []}
    sizes = dict.fromkeys(chunks, 0)
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        selector.register(process.stderr, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                kill_group(process)
                raise TargetUnavailable(f"{shown_command}: no end after {timeout:g} s; stopped")
            for key, _ in selector.select(min(left, 1.0)):
                data = os.read(key.fd, _CHUNK)
                if not data:
                    selector.unregister(key.fileobj)
                    continue
                sizes[key.fd] += len(data)
                if sizes[key.fd] > max_bytes:
                    kill_group(process)
                    raise TargetUnavailable(f"{shown_command}: printed more than {max_bytes} bytes; stopped")
                chunks[key.fd].append(data)
    try:
        process.wait(timeout=max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        kill_group(process)
        raise TargetUnavailable(f"{shown_command}: no end after {timeout:g} s; stopped") from None
    return b"".join(chunks[process.stdout.fileno()]), b"".join(chunks[process.stderr.fileno()])


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """The call's whole process group, at once: a read is not worth a grace period."""
    try:
        os.killpg(process.pid, 9)
    except (ProcessLookupError, PermissionError):
        process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_GRACE_S)
