"""A corpus of hostile platforms during a renewal, served over real HTTPS and watched by the palette target:
repave states that are no state or that hold the repave for approval, repave reasons past every bound,
listings and machines that change at every look. Each case ends in verdicts or one clear error, never an
exception, a hang or a raw control character, within its time and memory bound; a bound that is hit is never
a pass. The watch runs under the audit guard: it writes nothing and starts no process."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import audit
import pytest
from vendor_api import KEY, vendor_api

from kubecert.contexts import TargetContexts
from kubecert.inventory.facts import NodeFacts
from kubecert.profiles import BUILTIN
from kubecert.rules import Status, Verdict, evaluate, get
from kubecert.targets.palette import parse
from kubecert.targets.palette.target import PaletteTarget

from http_servers import Answer, Seen, switchable
from support import Cost, measured

CLUSTER, PROJECT = "c-123", "p-1"
OBJECT = f"/v1/spectroclusters/{CLUSTER}"
LISTING = f"{OBJECT}/k8certificates"
RENEW = f"{OBJECT}/k8certificates/renew"
REPAVE_STATUS = f"{OBJECT}/repave/status"
RULES = ("KC-RPV-04", "KC-RPV-07", "KC-RPV-08", "KC-RPV-11")
E, F, P, NA = Status.ERROR, Status.FAILED, Status.PASSED, Status.NOT_APPLICABLE
HELD = dict.fromkeys(RULES, E)  # a repave on hold: nothing to judge, and said so
STILL = {"KC-RPV-04": E, "KC-RPV-07": E, "KC-RPV-08": F, "KC-RPV-11": E}  # nothing moves: the deadline is hit
CPU_BOUND_S = 20.0  # what one case may make kubecert (and the in-process server) do, tracemalloc on
HANG_BOUND_S = 90.0  # the renewal deadline (3 s) and a rate limit's backoff (7.5 s), far over: only a hang
MEMORY_BOUND = 160 << 20
LINE_BOUND = 4_000  # characters of one progress line or verdict message: states and reasons are cut short
JSON = {"Content-Type": "application/json"}
GOOD = vendor_api(CLUSTER, PROJECT)
# (document, path, looks since the renew request or -1 before it) → the document to answer, or an Answer.
Change = Callable[[Any, str, int], Any]


class Platform:
    """The vendor API, answering the renew request with 204 and counting the looks after it."""

    def __init__(self, change: Change) -> None:
        self.change = change
        self.looks = -1
        self.lock = threading.Lock()

    def respond(self, seen: Seen) -> Answer:
        path = seen.path.split("?")[0]
        if seen.method == "PATCH" and path == RENEW:
            with self.lock:
                self.looks = 0
            return Answer(204)
        if seen.method == "GET" and path == OBJECT and self.looks >= 0:
            with self.lock:
                self.looks += 1
        answer = GOOD(seen)
        document = json.loads(answer.body) if answer.status == 200 else None
        changed = self.change(copy.deepcopy(document), path, self.looks)
        if isinstance(changed, Answer):
            return changed
        return answer if changed is None else Answer(200, json.dumps(changed).encode(), JSON)


def _object_state(state: Any, *, before: bool = False) -> Change:
    """The cluster object's status.repave.state set to ``state`` after the request (or all along)."""
    def change(document: Any, path: str, looks: int) -> Any:
        if path != OBJECT or (looks < 0 and not before):
            return None
        document.setdefault("status", {})["repave"] = {"state": state}
        return document
    return change


def _held_with(reasons: Answer) -> Change:
    """Pending after the request, and ``reasons`` as the repave's status."""
    pending = _object_state("Pending")

    def change(document: Any, path: str, looks: int) -> Any:
        return reasons if path == REPAVE_STATUS else pending(document, path, looks)
    return change


def _renewed_each_look(machines: int) -> Change:
    """A listing of ``machines`` entries whose every leaf expires later at each look: in place, without end."""
    def change(document: Any, path: str, looks: int) -> Any:
        if path != LISTING:
            return None
        entry = document["machineCertificates"][0]
        listed = []
        for index in range(machines):
            copied = copy.deepcopy(entry)
            copied["name"] = f"ip-10-0-{index // 250}-{index % 250}.ec2.internal"
            for authority in copied["certificateAuthorities"]:
                for leaf in authority["certificates"]:
                    leaf["expiry"] = f"2027-01-{1 + max(looks, 0) % 28:02d}T00:00:00Z"
            listed.append(copied)
        return {"machineCertificates": listed}
    return change


def _new_uids_each_look(document: Any, path: str, looks: int) -> Any:
    """Every look shows the control-plane machines under new uids: a repave that never ends."""
    if "/machinePools/cp/machines" not in path or looks < 0:
        return None
    for item in document["items"]:
        item["metadata"]["uid"] += f"-{looks}"
    return document


def _many(count: int, item: dict[str, Any]) -> bytes:
    return json.dumps({"spec": {"reasons": [item] * count}}).encode()


CASES: dict[str, tuple[Change, dict[str, Status]]] = {
    # status.repave.state: an approval state, or no state at all
    "pending-after-the-request": (_object_state("Pending"), HELD),
    "pending-before-the-request": (_object_state("Pending", before=True), HELD),
    "pending-in-lower-case": (_object_state("pending"), HELD),
    "state-huge": (_object_state("Pending" + "x" * (1 << 20)), STILL),
    "state-control-characters": (_object_state("Pend\x1b[2J\ring"), STILL),
    "state-an-object": (_object_state({"state": "Pending"}), STILL),
    "state-repaving": (_object_state("Repaving"), STILL),  # no state of the enum: it says nothing of progress
    # the reasons of a repave on hold
    "reasons-past-every-bound": (_held_with(Answer(200, _many(5_000, {"code": "C\x1b[31m" * 50, "message": "m" * 300}),
                                                   JSON)), HELD),  # 4.4 MB: under the client's bound on answers
    "reasons-nested-without-end": (_held_with(Answer(200, b'{"spec": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", JSON)),
                                   HELD),
    "reasons-429-forever": (_held_with(Answer(429, b"", {"Retry-After": "0"})), HELD),
    "reasons-not-json": (_held_with(Answer(200, b"<html>", {"Content-Type": "text/html"})), HELD),
    # listings and machines that change at every look: in place, renewing again and again; a repave without end
    # (each shows itself done at the first look, so no second request is sent: KC-RPV-07 cannot be judged, and
    # KC-RPV-01, not run here, fails them)
    "a-thousand-machines-renewed-at-every-look": (_renewed_each_look(1000),
                                                  {"KC-RPV-04": NA, "KC-RPV-07": E, "KC-RPV-08": P, "KC-RPV-11": P}),
    "new-uids-at-every-look": (_new_uids_each_look, {"KC-RPV-04": P, "KC-RPV-07": E, "KC-RPV-08": P, "KC-RPV-11": NA}),
}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, Any]]]:
    with switchable(GOOD, tls_dir=tmp_path_factory.mktemp("tls")) as (server, current):
        yield server, current


def _watch(url: str, bundle: Path | None, lines: list[str]) -> tuple[dict[str, Verdict], Cost]:
    target = PaletteTarget(f"palette:{url}?cluster={CLUSTER}&project={PROJECT}", BUILTIN["palette"],
                           {"ca-bundle": str(bundle) if bundle else None, "api-key-env": "KUBECERT_CORPUS_KEY",
                            "renewal-deadline": "3", "poll-interval": "0.05"}, NodeFacts())
    target.progress = lines.append
    contexts = TargetContexts(target)
    try:
        with measured() as cost:
            found = {rule: evaluate(get(rule), contexts.for_rule(get(rule))) for rule in RULES}
    finally:
        target.close()
    return found, cost


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hostile_platform_during_a_renewal_is_judged_within_bounds(
        api: Any, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    server, current = api
    monkeypatch.setenv("KUBECERT_CORPUS_KEY", KEY)
    change, expected = CASES[name]
    platform = Platform(change)
    current["respond"] = platform.respond
    server.seen.clear()
    lines: list[str] = []
    with audit.guard() as seen:
        found, cost = _watch(server.url, server.ca_bundle, lines)
    assert not seen.writes_outside([]) and not seen.processes, seen.events
    assert cost.within(cpu_s=CPU_BOUND_S, memory=MEMORY_BOUND, hang_s=HANG_BOUND_S), cost
    assert {rule: verdict.status for rule, verdict in found.items()} == expected, {
        rule: verdict.message for rule, verdict in found.items()}
    for verdict in found.values():
        text = verdict.message + json.dumps(verdict.evidence())
        assert "\x1b" not in text and "\r" not in text and len(verdict.message) < LINE_BOUND, verdict.message
    # Progress lines are escaped where they are shown (the terminal's writer); here, that they stay short.
    assert all(len(line) < LINE_BOUND for line in lines), max(lines, key=len)
    held = expected["KC-RPV-08"] is Status.ERROR
    assert ("waits for approval" in found["KC-RPV-08"].message) is held, found["KC-RPV-08"].message
    if name == "pending-before-the-request":
        assert not [s for s in server.seen if s.method == "PATCH"], "a renew request was sent to a held repave"
    if name == "reasons-past-every-bound":  # the first reasons, each cut short, control characters escaped
        message = found["KC-RPV-08"].message
        assert message.count("…") == parse.MAX_REPAVE_REASONS and "C\\x1b[31m" in message, message


def test_the_corpus_covers_states_reasons_and_changing_answers() -> None:
    assert len(CASES) >= 12
