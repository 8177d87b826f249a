"""Reading real implementations' documents: unknown fields, missing optional fields, dates with or
without fractions, pages, and names that change."""

from __future__ import annotations

import datetime as dt

import pytest

from kubecert.inventory.platform import parse_time, read_time
from kubecert.inventory.renewal_progress import RenewalWatch, UpgradeWatch
from kubecert.targets.palette import parse

UTC = dt.UTC


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-05-23T16:51:05.000Z", dt.datetime(2024, 5, 23, 16, 51, 5, tzinfo=UTC)),
    ("2024-05-23T16:51:05Z", dt.datetime(2024, 5, 23, 16, 51, 5, tzinfo=UTC)),
    ("2033-05-23T16:45:22.209Z", dt.datetime(2033, 5, 23, 16, 45, 22, 209000, tzinfo=UTC)),
    ("2024-05-23T16:51:05.123456789Z", dt.datetime(2024, 5, 23, 16, 51, 5, 123456, tzinfo=UTC)),
    ("2024-05-23T18:51:05+02:00", dt.datetime(2024, 5, 23, 16, 51, 5, tzinfo=UTC)),
    ("2024-05-23t16:51:05z", dt.datetime(2024, 5, 23, 16, 51, 5, tzinfo=UTC)),
])
def test_rfc3339_dates_with_or_without_fractions(text: str, expected: dt.datetime) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["2024-05-23", "2024-05-23 16:51:05", "1716483065", 1716483065, None, "",
                                  "2024-13-23T16:51:05Z"])
def test_what_is_not_rfc3339_is_not_a_date(text: object) -> None:
    assert parse_time(text) is None


@pytest.mark.parametrize(("text", "why"), [
    ("9999-12-31T23:59:59-01:00", "is outside the dates kubecert can represent"),  # the year 10000 in UTC
    ("0001-01-01T00:00:00+01:00", "is outside the dates kubecert can represent"),  # the year 0 in UTC
    ("\u0662\u0660\u0662\u0664-05-23T16:51:05Z", "is not an RFC 3339 date-time"),  # Arabic-Indic digits
    ("2024-02-30T00:00:00Z", "is not an RFC 3339 date-time"),
])
def test_a_date_no_datetime_holds_is_no_date_and_says_why(text: str, why: str) -> None:
    assert parse_time(text) is None and str(read_time(text)).startswith(why)


def test_extreme_dates_in_a_listing_and_a_cluster_object_are_read_as_unknown() -> None:
    document = {"machineCertificates": [{"name": "cp-1", "certificateAuthorities": [
        {"name": "ca", "expiry": "9999-12-31T23:59:59-01:00", "certificates": [
            {"name": "kube-apiserver", "expiry": "0001-01-01T00:00:00+01:00"}]}]}]}
    machines, problems = parse.certificates(document)
    assert [c.expiry for c in machines[0].certificates] == [None, None] and not problems
    assert parse.cluster({"metadata": {"creationTimestamp": "0001-01-01T00:00:00+01:00"}}, "c-1").created is None


def test_listing_ignores_unknown_fields_and_names_what_is_missing() -> None:
    document = {"machineCertificates": [
        {"name": "cp-1", "extra": True, "certificateAuthorities": [
            {"name": "ca", "expiry": "2035-01-01T00:00:00Z", "certificates": [
                {"name": "kube-apiserver", "expiry": "2026-01-01T00:00:00Z", "more": []},
                {"name": "kube-apiserver-kubelet-client"}]}]},
        {"certificateAuthorities": []},
    ], "unknown": {}}
    machines, problems = parse.certificates(document)
    assert [m.machine for m in machines] == ["cp-1", "(machine 2, unnamed)"]
    apiserver = next(c for c in machines[0].certificates if c.reported_name == "kube-apiserver")
    assert apiserver.canonical == "apiserver" and apiserver.authority == "ca" and not apiserver.is_ca
    assert next(c for c in machines[0].certificates if c.reported_name.endswith("kubelet-client")).expiry is None
    assert problems == ["machineCertificates[1] ((machine 2, unnamed)): no certificateAuthorities"]
    assert parse.certificates({"machineCertificates": None}) == ((), ["machineCertificates: missing or not a list"])
    assert parse.certificates("not json at all")[1]


def test_machines_need_only_a_name() -> None:
    items = [{"metadata": {"name": "a"}}, {"metadata": {"uid": "no-name"}}, "junk",
             {"metadata": {"name": "b", "uid": "u-b", "creationTimestamp": "2025-01-01T00:00:00Z",
                           "deletionTimestamp": "2025-02-01T00:00:00.5Z"},
              "status": {"instanceState": "Running", "addresses": [{"type": "Hostname", "address": "ip-b"}]}}]
    found = parse.machines(items, "cp", True)
    assert [m.name for m in found] == ["a", "b"]
    assert found[0].key == "name:a" and found[0].state is None and not found[0].running
    assert found[1].key == "u-b" and found[1].transitional and found[1].hostnames == ("ip-b",)


def test_pages_follow_continue_tokens_then_offsets() -> None:
    assert parse.next_page({"listmeta": {"continue": "t2"}}, 0, 50) == {"continue": "t2"}
    assert parse.next_page({"listmeta": {"continue": "", "count": 120, "offset": 0}}, 0, 50) == {"offset": 50}
    assert parse.next_page({"listmeta": {"count": 120}}, 100, 20) is None
    assert parse.next_page({"items": []}, 0, 0) is None


def test_cluster_object_with_only_its_uid() -> None:
    cluster = parse.cluster({}, "c-1")
    assert (cluster.uid, cluster.name, cluster.created, cluster.renewal_in_progress) == ("c-1", None, None, False)
    busy = parse.cluster({"status": {"conditions": [{"type": "X", "reason": "InProgress"}]}}, "c-1")
    assert busy.renewal_in_progress


@pytest.mark.parametrize(("state", "held"), [("Pending", True), ("Approved", False), ("Reverted", False), ("", False),
                                             ("Repaving", False)])
def test_the_repave_state_is_an_approval_state_not_progress(state: str, held: bool) -> None:
    """The SDK's v1ClusterRepaveState: Pending (waits for approval), Approved, Reverted. None of them says a
    renewal runs (a value outside the enum neither); Pending says nothing moves until someone approves."""
    cluster = parse.cluster({"status": {"repave": {"state": state}}}, "c-1")
    assert not cluster.renewal_in_progress
    assert cluster.repave_awaits_approval is held


def test_repave_reasons_are_read_bounded() -> None:
    reasons = [{"code": "PackValuesUpdated", "message": "kubernetes values changed"}, {"code": "X" * 500}, "junk",
               {"message": "only a message"}, {}] + [{"code": f"c{i}"} for i in range(20)]
    found = parse.repave_reasons({"spec": {"reasons": reasons}})
    assert found[:3] == ["PackValuesUpdated: kubernetes values changed", "X" * parse.MAX_REASON_CHARS + "…",
                         "only a message"]
    assert len(found) == 8  # of the first MAX_REPAVE_REASONS entries, all but the two without words
    assert parse.repave_reasons({"spec": {"reasons": "junk"}}) == parse.repave_reasons(None) == []


def test_a_repave_is_followed_by_uid_even_when_names_change() -> None:
    from kubecert.inventory.platform import Exchange, Machine, PlatformObservation, Sample

    def machine(uid: str, name: str, cp: bool, state: str = "Running") -> Machine:
        return Machine(uid, name, "cp" if cp else "w", cp, state, None)

    before = PlatformObservation(dt.datetime.now(UTC), Exchange("GET", "/", "api key", 200), (), None,
                                 (machine("1", "cp-a", True), machine("2", "w-a", False)))
    renamed = Sample(dt.datetime.now(UTC), (machine("1", "cp-renamed", True), machine("2", "w-a", False)), (), None)
    assert not RenewalWatch(before, False).look(renamed).done  # the same machine under a new name is not new
    replaced = Sample(dt.datetime.now(UTC), (machine("3", "cp-a", True), machine("4", "w-a", False)), (), None)
    progress = RenewalWatch(before, False).look(replaced)
    assert progress.done and progress.summary == "1/1 control-plane machines new, 1/1 workers new"
    assert progress.mode == "repave"


def test_the_versions_a_cluster_reports_come_from_status_packs() -> None:
    status = {"packs": [{"name": "kubernetes", "version": "1.31.4", "profileUid": "p"}, {"name": "cni", "tag": "3.2"},
                        {"name": "no-version"}, {"version": "1.0"}, "junk"]}
    assert parse.cluster({"status": status}, "c-1").pack_versions == {"kubernetes": "1.31.4", "cni": "3.2"}
    assert parse.cluster({"status": {"packs": "junk"}}, "c-1").pack_versions == {}


def test_an_upgrade_is_done_once_machines_are_new_or_the_cluster_reports_the_version_at_rest() -> None:
    from kubecert.inventory.platform import Exchange, Machine, PlatformObservation, Sample
    from kubecert.inventory.renewal_progress import Progress

    def look(version: str, state: str = "Running", uid: str = "1") -> Sample:
        cluster = parse.cluster({"status": {"packs": [{"name": "kubernetes", "version": version}]}}, "c")
        return Sample(dt.datetime.now(UTC), (Machine(uid, "cp", "cp", True, state, None),), (), cluster)

    old = look("1.31.4")
    before = PlatformObservation(old.at, Exchange("GET", "/", "api key", 200), (), old.cluster, old.machines)
    def watched(sample: Sample) -> Progress:
        return UpgradeWatch(before, "kubernetes", "1.31.5").look(sample)

    assert not watched(look("1.31.4")).done
    assert not watched(look("1.31.5", state="Provisioning")).done
    upgraded = watched(look("1.31.5"))
    assert upgraded.done
    assert upgraded.summary == "0/1 control-plane machines renewed or replaced, kubernetes 1.31.5"
    assert watched(look("1.31.4", uid="2")).done  # replaced
