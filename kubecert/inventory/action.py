"""What an action on a target did: when it ran, what ran, how it ended, what it said.

Kept as evidence beside the before/after observations. Output is scrubbed of private keys when the record
is made (any key's PEM, DER in base64 or hex, openssl's dumps: keymaterial.py), and again, with the
target's own keys known, when a verdict is made. Evidence keeps output only where a reader needs it: why
an action failed. A rule that reads the output keeps what it read (the listing's rows, a refusal line).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from kubecert.inventory.keymaterial import REDACTED, KeyTraces, scrub
from kubecert.timestamps import isoformat

__all__ = ["REDACTED", "ActionRecord", "scrub", "tail"]

EVIDENCE_TAIL_CHARS = 4000  # of each stream, when it is kept: enough to see why kubeadm failed


def tail(text: str, limit: int = EVIDENCE_TAIL_CHARS) -> str:
    return text if len(text) <= limit else "..." + text[-limit:]


@dataclass(frozen=True)
class ActionRecord:
    """One run of one action (``renew all``, ``generate-csr``, ...) on one target."""

    action: str  # what kubecert asked for: "renew all", "renew apiserver", "upgrade (certificate renewal off)"
    command: str  # what ran: the user's command line after substitution, or the reference function
    started_at: dt.datetime
    finished_at: dt.datetime
    exit_code: int | None  # None when it did not finish (timeout) or could not start
    stdout: str = ""  # scrubbed; as much as was kept (rules parse it); evidence keeps the tail
    stderr: str = ""
    problem: str | None = None  # why it did not run to an end: not found, timed out, ...
    stdout_bytes: int = 0  # how much the command printed on stdout
    stdout_cut: bool = False  # more than kubecert keeps: what a rule would parse is not all of it

    @classmethod
    def of(cls, action: str, command: str, *, started_at: dt.datetime, finished_at: dt.datetime,
           exit_code: int | None, stdout: str = "", stderr: str = "", problem: str | None = None,
           stdout_bytes: int | None = None, stdout_cut: bool = False) -> ActionRecord:
        """A record whose output is scrubbed of private keys; ``stdout_bytes``: what was printed, when the
        runner kept only part of it (``stdout_cut``)."""
        printed = len(stdout.encode()) if stdout_bytes is None else stdout_bytes
        return cls(action, command, started_at, finished_at, exit_code, scrub(stdout), scrub(stderr), problem,
                   printed, stdout_cut)

    def cleaned(self, traces: KeyTraces) -> ActionRecord:
        """This record with the target's own keys (``traces``) removed from its output, in any encoding."""
        return dataclasses.replace(self, stdout=scrub(self.stdout, traces), stderr=scrub(self.stderr, traces))

    @property
    def succeeded(self) -> bool:
        return self.problem is None and self.exit_code == 0

    def failure(self) -> str | None:
        """Why the action cannot be judged by its results, or None when it ran to a successful end."""
        if self.problem is not None:
            return f"{self.action} did not complete: {self.problem}"
        if self.exit_code != 0:
            last = (self.stderr.strip() or self.stdout.strip()).splitlines()[-1:] or [""]
            return f"{self.action} exited with {self.exit_code}: {last[0][:300]}".rstrip(": ")
        return None

    @property
    def output(self) -> str:
        return self.stdout + ("\n" + self.stderr if self.stderr else "")

    def evidence(self) -> dict[str, Any]:
        """When and what ran, how it ended and how much it printed; the output's tail only when it failed."""
        facts: dict[str, Any] = {
            "action": self.action,
            "command": self.command,
            "started_at": isoformat(self.started_at),
            "finished_at": isoformat(self.finished_at),
            "exit_code": self.exit_code,
            "stdout_bytes": self.stdout_bytes,
        }
        if self.stdout_cut:
            facts["stdout_cut"] = True
        if self.failure() is not None:
            facts["stdout_tail"] = tail(self.stdout)
            if self.stderr:
                facts["stderr_tail"] = tail(self.stderr)
        if self.problem:
            facts["problem"] = self.problem
        return facts
