"""Acting on a node: renewal, CSR-only renewal, the expiration listing and upgrade, as a target offers them.

``NodeActions`` is what the renewal checks call. The reference target implements it in-process with
the reference implementation; the ``pki`` target implements it with ``CommandActions``, running the
commands the user gives (``--renew-command``, ...), each at most ``--action-timeout`` seconds, without a
shell. A command is split like a shell would (shlex) and then each word has its placeholders filled,
so a path with spaces stays one argument. Output is kept, scrubbed of private keys, as evidence.
"""

from __future__ import annotations

import datetime as dt
import os
import selectors
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubecert.options import Option, OptionsHint
from kubecert.targets.errors import TargetError

if TYPE_CHECKING:
    from kubecert.inventory.action import ActionRecord

DEFAULT_ACTION_TIMEOUT = 600.0  # seconds: kubeadm upgrade waits for static pods, renewal takes seconds
MAX_OUTPUT_BYTES = 1 << 20  # of each stream: kubeadm prints a few KiB


@dataclass(frozen=True)
class ActionCommand:
    """One ``--*-command`` option: which capability it gives, and the placeholders it must use."""

    option: str  # e.g. "renew-command"
    capability: str
    required: tuple[str, ...]  # placeholders the command cannot do without
    example: str


COMMANDS: tuple[ActionCommand, ...] = (
    ActionCommand("renew-command", "renew", (), "kubeadm certs renew all"),
    ActionCommand("renew-one-command", "renew_one", ("name",), "kubeadm certs renew {name}"),
    ActionCommand("csr-command", "csr", ("csr_dir",),
                  "kubeadm certs generate-csr --config FILE --cert-dir {csr_dir}/pki --kubeconfig-dir {csr_dir}"),
    ActionCommand("check-expiration-command", "expiration_listing", (), "kubeadm certs check-expiration"),
    ActionCommand("upgrade-command", "upgrade", ("certificate_renewal",),
                  "kubeadm upgrade node --certificate-renewal={certificate_renewal}"),
)
ACTION_CAPABILITIES = frozenset(command.capability for command in COMMANDS)

ACTION_OPTIONS: tuple[Option, ...] = (
    Option("renew-command", "pki targets: the command that renews every certificate on the node, e.g. "
                 "'kubeadm certs renew all' (placeholders {pki_dir}, {kubeconfig_dir})", metavar="COMMAND"),
    Option("renew-one-command", "pki targets: the command that renews the one certificate {name}, e.g. "
                 "'kubeadm certs renew {name}'", metavar="COMMAND"),
    Option("csr-command", "pki targets: the command that writes keys and CSRs into {csr_dir} without "
                 "renewing, e.g. 'kubeadm certs generate-csr --config FILE --cert-dir {csr_dir}/pki "
                 "--kubeconfig-dir {csr_dir}'", metavar="COMMAND"),
    Option("check-expiration-command", "pki targets: the command that prints the expiration listing, e.g. "
                 "'kubeadm certs check-expiration' (text, -o json or -o yaml)", metavar="COMMAND"),
    Option("upgrade-command", "pki targets: the command that upgrades the control plane with certificate "
                 "renewal {certificate_renewal} (true/false), e.g. 'kubeadm upgrade node "
                 "--certificate-renewal={certificate_renewal}'", metavar="COMMAND"),
    Option("action-timeout", f"pki and kind targets: seconds each command may run before it is stopped "
                 f"(default {DEFAULT_ACTION_TIMEOUT:g})", metavar="SECONDS"),
)


def action_timeout(options: Mapping[str, Any]) -> float:
    text = options.get("action-timeout")
    if text is None:
        return DEFAULT_ACTION_TIMEOUT
    try:
        seconds = float(text)
    except (TypeError, ValueError):
        seconds = -1.0
    if not 0 < seconds < 86400:
        raise TargetError(f"--action-timeout {text!r}: expected a number of seconds between 0 and 86400")
    return seconds


def fill(template: list[str], values: Mapping[str, str]) -> list[str]:
    """The command's words with {placeholders} replaced; other braces are left as they are."""
    words = []
    for word in template:
        filled = word
        for key, value in values.items():
            filled = filled.replace("{" + key + "}", value)
        words.append(filled)
    return words


STOP_GRACE_S = 5.0  # seconds a stopped command gets between SIGTERM and SIGKILL
_CHUNK = 1 << 16


@dataclass
class _Output:
    """What a command printed on one stream: the first MAX_OUTPUT_BYTES kept, the rest only counted."""

    kept: bytearray = field(default_factory=bytearray)
    total: int = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = MAX_OUTPUT_BYTES - len(self.kept)
        if room > 0:
            self.kept += chunk[:room]

    def text(self) -> str:
        return self.kept.decode(errors="replace")


def _drain(process: subprocess.Popen[bytes], streams: dict[int, _Output], deadline: float) -> bool:
    """Read the command's pipes into ``streams`` until both are closed and it has ended; False when the
    deadline came first. Output past the bound is read and dropped, so the command never blocks on a full
    pipe and kubecert never holds more than the bound."""
    with selectors.DefaultSelector() as selector:
        for descriptor in streams:
            selector.register(descriptor, selectors.EVENT_READ)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, _CHUNK)
                if chunk:
                    streams[key.fd].add(chunk)
                else:
                    selector.unregister(key.fd)
    try:
        process.wait(timeout=max(deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        return False
    return True


def run_command(action: str, argv: list[str], timeout: float,
                interrupted: Callable[[str], None] | None = None) -> ActionRecord:
    """Run ``argv`` (no shell) for at most ``timeout`` seconds; the whole process group is stopped after.

    When kubecert itself is stopped meanwhile (Ctrl-C, SIGTERM), the command's process group is stopped
    before the interruption goes on, so nothing keeps changing the node once kubecert has let go of it;
    ``interrupted`` is told, for the report. Of each stream, the first MAX_OUTPUT_BYTES are kept and the
    rest counted (ActionRecord says when output was cut).
    """
    from kubecert.inventory.action import ActionRecord

    shown = shlex.join(argv)
    started = dt.datetime.now(dt.UTC)
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   start_new_session=True)
    except OSError as exc:
        return ActionRecord.of(action, shown, started_at=started, finished_at=dt.datetime.now(dt.UTC),
                               exit_code=None, problem=f"could not start {argv[0]!r}: {exc.strerror or exc}")
    stdout, stderr = process.stdout, process.stderr  # both PIPE, so never None
    assert stdout is not None
    assert stderr is not None
    out, err = _Output(), _Output()
    streams = {stdout.fileno(): out, stderr.fileno(): err}
    problem = None
    try:
        if not _drain(process, streams, time.monotonic() + timeout):
            _stop(process)
            _drain(process, streams, time.monotonic() + STOP_GRACE_S)  # what it said while stopping
            problem = f"timed out after {timeout:g}s and was stopped"
    except BaseException:
        _stop(process)
        if interrupted is not None:
            interrupted(f"{action} ({shown}) was stopped midway: the node may be half-renewed; look at it before "
                        "trusting it")
        raise
    finally:
        stdout.close()
        stderr.close()
    return ActionRecord.of(
        action, shown, started_at=started, finished_at=dt.datetime.now(dt.UTC),
        exit_code=None if problem else process.returncode, problem=problem,
        stdout=out.text(), stderr=err.text(), stdout_bytes=out.total, stdout_cut=out.total > len(out.kept),
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the command's whole process group, SIGKILL after a grace period if anything is left."""
    for signum, wait in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, STOP_GRACE_S)):
        try:
            os.killpg(process.pid, signum)
        except (ProcessLookupError, PermissionError):
            process.send_signal(signum)
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        if not _group_alive(process.pid):
            return


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class CommandActions:
    """NodeActions by the user's own commands (``kubeadm certs renew all``, ...)."""

    def __init__(self, commands: Mapping[str, list[str]], *, pki_dir: Path, kubeconfig_dir: Path,
                 timeout: float) -> None:
        self.commands = dict(commands)  # option name → the command's words, placeholders unfilled
        self.pki_dir = pki_dir
        self.kubeconfig_dir = kubeconfig_dir
        self.timeout = timeout
        self.interrupted: Callable[[str], None] | None = None  # told when kubecert stops a command midway

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, pki_dir: Path, kubeconfig_dir: Path) -> CommandActions | None:
        """The commands the user gave, checked now so that a mistake is a usage error before any check runs."""
        commands: dict[str, list[str]] = {}
        for spec in COMMANDS:
            text = options.get(spec.option)
            if not text:
                continue
            try:
                words = shlex.split(text)
            except ValueError as exc:
                raise TargetError(f"--{spec.option} {text!r}: {exc}") from None
            if not words:
                raise TargetError(f"--{spec.option} is empty")
            for placeholder in spec.required:
                if not any("{" + placeholder + "}" in word for word in words):
                    raise TargetError(f"--{spec.option} {text!r} must use {{{placeholder}}}, e.g. {spec.example!r}")
            commands[spec.option] = words
        if not commands:
            return None
        return cls(commands, pki_dir=pki_dir, kubeconfig_dir=kubeconfig_dir, timeout=action_timeout(options))

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset(spec.capability for spec in COMMANDS if spec.option in self.commands)

    def _run(self, option: str, action: str, **values: str) -> ActionRecord:
        template = self.commands.get(option)
        if template is None:
            raise RuntimeError(f"no --{option} was given")  # the capability gate keeps checks from here
        filled = {"pki_dir": str(self.pki_dir), "kubeconfig_dir": str(self.kubeconfig_dir), **values}
        return run_command(action, fill(template, filled), self.timeout, self.interrupted)

    def renew_all(self) -> ActionRecord:
        return self._run("renew-command", "renew all")

    def renew_one(self, name: str) -> ActionRecord:
        return self._run("renew-one-command", f"renew {name}", name=name)

    def generate_csr(self, csr_dir: Path) -> ActionRecord:
        return self._run("csr-command", "generate-csr", csr_dir=str(csr_dir))

    def check_expiration(self) -> ActionRecord:
        return self._run("check-expiration-command", "check-expiration")

    def upgrade(self, certificate_renewal: bool) -> ActionRecord:
        flag = "true" if certificate_renewal else "false"
        return self._run("upgrade-command", f"upgrade (certificate renewal {flag})", certificate_renewal=flag)


def capability_reasons() -> dict[str, str]:
    """Why a pki target lacks an action capability: the option that would give it."""
    return {spec.capability: OptionsHint(f"give --{spec.option} (e.g. {spec.example!r}) to let kubecert act on "
                                         "the node", (f"--{spec.option}",))
            for spec in COMMANDS}
