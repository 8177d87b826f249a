"""Properties of the date rules (KC-VAL-01..04, KC-EXP-01) and of fmt_duration.

Certificates are built in code with explicit NotBefore and NotAfter and judged in-process: for any dates,
profile parameters and judging time (``now``, what ``--at`` sets), each verdict is what the rule's
statement says. Leaves are always issued after their CA here: a leaf whose NotBefore equals its CA's
(kubeadm before v1.31) is judged by another branch of KC-VAL-01, which these properties leave alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import assume, example, given
from hypothesis import strategies as st

from kubecert.inventory.model import CertRecord, Inventory, KeyFacts, PublicKeyFacts, Role
from kubecert.reference.pki.issue import CertTemplate, issue_ca, issue_leaf, sign, template_of
from kubecert.rules import BUILTIN_PROFILES, RuleContext, Status, evaluate, get
from kubecert.rules._common import fmt_duration

SECOND = dt.timedelta(seconds=1)
DAY = dt.timedelta(days=1)
CA_KEY = ec.generate_private_key(ec.SECP256R1())  # P-256: a key costs microseconds, a signature too
LEAF_KEY = ec.generate_private_key(ec.SECP256R1())
PROFILE = BUILTIN_PROFILES["palette"]

# X.509 times are whole seconds; these years encode as UTCTime and GeneralizedTime alike.
moments = st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2400, 1, 1), timezones=st.just(dt.UTC)).map(
    lambda moment: moment.replace(microsecond=0))
# The judging time: the observation's (with microseconds) or any --at.
instants = st.datetimes(dt.datetime(1980, 1, 1), dt.datetime(2500, 1, 1), timezones=st.just(dt.UTC))
seconds_of = st.integers


def _ca_cert(not_before: dt.datetime, not_after: dt.datetime) -> x509.Certificate:
    template = CertTemplate(cn="kubernetes", not_before=not_before, not_after=not_after, dns=("kubernetes",),
                            is_ca=True)
    return sign(template, public_key=CA_KEY.public_key(), signer_key=CA_KEY)


# The CA every leaf here is issued by, in force long before and after any leaf's dates.
CA_CERT = _ca_cert(dt.datetime(1970, 1, 1, tzinfo=dt.UTC), dt.datetime(2600, 1, 1, tzinfo=dt.UTC))


def _leaf_cert(not_before: dt.datetime, not_after: dt.datetime, ca: x509.Certificate = CA_CERT) -> x509.Certificate:
    template = CertTemplate(cn="kube-apiserver", not_before=not_before, not_after=not_after, eku=("serverAuth",))
    return sign(template, public_key=LEAF_KEY.public_key(), signer_key=CA_KEY, issuer=ca)


def _ca(cert: x509.Certificate) -> CertRecord:
    key = KeyFacts(path="/pki/ca.key", pem_type="EC PRIVATE KEY", public=PublicKeyFacts.of(CA_KEY.public_key()))
    return CertRecord(name="ca", role=Role.CA, path="/pki/ca.crt", cert=cert, pem=b"", key=key)


def _leaf(cert: x509.Certificate) -> CertRecord:
    return CertRecord(name="apiserver", role=Role.LEAF, path="/pki/apiserver.crt", cert=cert, pem=b"")


def _judge(rule: str, records: list[CertRecord], now: dt.datetime, observed: dt.datetime | None = None,
           **parameters: int) -> dict[str, Status]:
    """Each record's status under ``rule``, judged at ``now`` with the palette profile and ``parameters``."""
    profile = dataclasses.replace(PROFILE, **parameters)
    inventory = Inventory(target="pki:/pki", observed_at=observed or now,
                          certificates={record.name: record for record in records})
    verdict = evaluate(get(rule), RuleContext(inventory=inventory, profile=profile, now=now))
    assert verdict.status is not Status.ERROR, verdict.message
    return {finding.subject: finding.status for finding in verdict.findings}


def _verdict(passes: bool) -> Status:
    return Status.PASSED if passes else Status.FAILED


# --- KC-VAL-01: leaves are valid leaf_days from issuance (NotBefore + backdate)


@given(issued=moments, leaf_days=st.integers(1, 3650), backdate=st.integers(0, 3600), slack=st.integers(0, 3600),
       now=instants, observed=instants)
def test_val_01_passes_a_leaf_as_kubeadm_issues_it_and_fails_it_a_day_longer_or_shorter(
    issued: dt.datetime, leaf_days: int, backdate: int, slack: int, now: dt.datetime, observed: dt.datetime,
) -> None:
    """kubeadm's leaf (NotBefore = issuance − backdate, NotAfter = issuance + leaf_days) passes whenever the
    profile tolerates at least its backdate, at any judging time; a day more or less fails."""
    leaf = issue_leaf(CA_CERT, CA_KEY, cn="kube-apiserver", eku=("serverAuth",), key=LEAF_KEY, now=issued,
                      leaf_days=leaf_days, backdate=dt.timedelta(seconds=backdate))
    parameters = {"leaf_days": leaf_days, "backdate_seconds": backdate + slack}
    assert _judge("KC-VAL-01", [_ca(CA_CERT), _leaf(leaf)], now, observed, **parameters)["apiserver"] is Status.PASSED
    template = template_of(leaf)
    for change in (DAY, -DAY):
        other = sign(dataclasses.replace(template, not_after=template.not_after + change),
                     public_key=LEAF_KEY.public_key(), signer_key=CA_KEY, issuer=CA_CERT)
        assert _judge("KC-VAL-01", [_ca(CA_CERT), _leaf(other)], now, observed, **parameters)["apiserver"] \
            is Status.FAILED, change


def _excess(backdate: int) -> st.SearchStrategy[int]:
    """Seconds beyond the expected lifetime: within two seconds of an edge of the tolerance, or anything
    up to two days either way."""
    near = st.builds(int.__add__, st.sampled_from([-1, 0, backdate, backdate + 1]), st.integers(-2, 2))
    return near | seconds_of(-2 * 86400, 2 * 86400)


@given(not_before=moments, leaf_days=st.integers(1, 3650), backdate=st.integers(0, 3600), data=st.data(),
       now=instants)
def test_val_01_tolerates_exactly_the_backdate_and_a_rounding_second(
    not_before: dt.datetime, leaf_days: int, backdate: int, data: st.DataObject, now: dt.datetime,
) -> None:
    """Lifetime = leaf_days + excess seconds passes iff 0 ≤ excess ≤ backdate + 1 s, whatever ``now`` is."""
    excess = data.draw(_excess(backdate), label="excess")
    assume(leaf_days * 86400 + excess > 0)  # NotAfter after NotBefore
    leaf = _leaf_cert(not_before, not_before + leaf_days * DAY + excess * SECOND)
    status = _judge("KC-VAL-01", [_ca(CA_CERT), _leaf(leaf)], now, leaf_days=leaf_days, backdate_seconds=backdate)
    assert status["apiserver"] is _verdict(0 <= excess <= backdate + 1)


# --- KC-VAL-02: CAs are valid ca_days


@given(issued=moments, ca_days=st.integers(1, 3 * 3652), backdate=st.integers(0, 3600), slack=st.integers(0, 3600),
       now=instants)
def test_val_02_passes_a_ca_as_kubeadm_issues_it_and_fails_it_a_day_longer_or_shorter(
    issued: dt.datetime, ca_days: int, backdate: int, slack: int, now: dt.datetime,
) -> None:
    ca = issue_ca(cn="kubernetes", key=CA_KEY, now=issued, ca_days=ca_days, backdate=dt.timedelta(seconds=backdate))
    parameters = {"ca_days": ca_days, "backdate_seconds": backdate + slack}
    assert _judge("KC-VAL-02", [_ca(ca)], now, **parameters) == {"ca": Status.PASSED}
    for change in (DAY, -DAY):
        other = _ca_cert(ca.not_valid_before_utc, ca.not_valid_after_utc + change)
        assert _judge("KC-VAL-02", [_ca(other)], now, **parameters) == {"ca": Status.FAILED}, change


@given(not_before=moments, ca_days=st.integers(1, 3 * 3652), backdate=st.integers(0, 3600), data=st.data(),
       now=instants)
def test_val_02_tolerates_a_rounding_second_either_way_and_the_backdate(
    not_before: dt.datetime, ca_days: int, backdate: int, data: st.DataObject, now: dt.datetime,
) -> None:
    """Lifetime = ca_days + excess seconds passes iff −1 s ≤ excess ≤ backdate + 1 s, whatever ``now`` is."""
    excess = data.draw(_excess(backdate), label="excess")
    assume(ca_days * 86400 + excess > 0)
    ca = _ca_cert(not_before, not_before + ca_days * DAY + excess * SECOND)
    status = _judge("KC-VAL-02", [_ca(ca)], now, ca_days=ca_days, backdate_seconds=backdate)
    assert status == {"ca": _verdict(-1 <= excess <= backdate + 1)}


# --- KC-VAL-03: no leaf outlives its CA


@given(ca_from=moments, ca_life=seconds_of(1, 40 * 365 * 86400), leaf_from=moments,
       leaf_life=seconds_of(1, 40 * 365 * 86400), now=instants)
def test_val_03_fails_iff_the_leaf_expires_after_its_ca(
    ca_from: dt.datetime, ca_life: int, leaf_from: dt.datetime, leaf_life: int, now: dt.datetime,
) -> None:
    ca = _ca_cert(ca_from, ca_from + ca_life * SECOND)
    leaf = _leaf_cert(leaf_from, leaf_from + leaf_life * SECOND, ca)
    status = _judge("KC-VAL-03", [_ca(ca), _leaf(leaf)], now)
    assert status == {"apiserver": _verdict(leaf.not_valid_after_utc <= ca.not_valid_after_utc)}


# --- KC-VAL-04 and KC-EXP-01: judged at ``now``, whatever it is


@st.composite
def dates_and_now(draw: st.DrawFn, horizon_days: int | None = None, skew: int | None = None
                  ) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
    """NotBefore, NotAfter and a judging time: anywhere, or within a few days of an edge that matters."""
    not_before = draw(moments)
    not_after = not_before + draw(seconds_of(1, 3 * 365 * 86400)) * SECOND
    edges = [not_before, not_after]
    if horizon_days is not None:
        edges.append(not_after - horizon_days * DAY)
    if skew is not None:
        edges.append(not_before - skew * SECOND)
    near = st.builds(lambda edge, offset: edge + dt.timedelta(microseconds=offset), st.sampled_from(edges),
                     st.integers(-3 * 86400 * 10**6, 3 * 86400 * 10**6) | st.integers(-2 * 10**6, 2 * 10**6))
    return not_before, not_after, draw(near | instants)


@given(data=st.data(), skew=st.integers(0, 3600), role=st.sampled_from([Role.CA, Role.LEAF]))
def test_val_04_fails_iff_now_is_after_not_after_or_before_not_before_less_the_skew(
    data: st.DataObject, skew: int, role: Role,
) -> None:
    not_before, not_after, now = data.draw(dates_and_now(skew=skew))
    record = _ca(_ca_cert(not_before, not_after)) if role is Role.CA else _leaf(_leaf_cert(not_before, not_after))
    status = _judge("KC-VAL-04", [record], now, clock_skew_seconds=skew)
    assert status == {record.name: _verdict(not (now > not_after or now < not_before - skew * SECOND))}


def test_val_04_boundaries_are_not_after_and_not_before_less_the_skew() -> None:
    not_before, not_after = dt.datetime(2025, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    record = _leaf(_leaf_cert(not_before, not_after))
    tick = dt.timedelta(microseconds=1)
    earliest = not_before - 300 * SECOND
    for now, status in ((not_after, Status.PASSED), (not_after + tick, Status.FAILED),
                        (earliest, Status.PASSED), (earliest - tick, Status.FAILED)):
        assert _judge("KC-VAL-04", [record], now, clock_skew_seconds=300) == {"apiserver": status}, now


@given(data=st.data(), horizon=st.integers(0, 400), role=st.sampled_from([Role.CA, Role.LEAF]))
def test_exp_01_fails_iff_less_than_min_remaining_days_remain_at_now(
    data: st.DataObject, horizon: int, role: Role,
) -> None:
    not_before, not_after, now = data.draw(dates_and_now(horizon_days=horizon))
    record = _ca(_ca_cert(not_before, not_after)) if role is Role.CA else _leaf(_leaf_cert(not_before, not_after))
    status = _judge("KC-EXP-01", [record], now, min_remaining_days=horizon)
    assert status == {record.name: _verdict(not_after - now >= horizon * DAY)}


def test_exp_01_boundary_is_exactly_min_remaining_days() -> None:
    not_after = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    record = _leaf(_leaf_cert(not_after - 365 * DAY, not_after))
    exactly = not_after - 30 * DAY
    assert _judge("KC-EXP-01", [record], exactly, min_remaining_days=30) == {"apiserver": Status.PASSED}
    later = exactly + dt.timedelta(microseconds=1)
    assert _judge("KC-EXP-01", [record], later, min_remaining_days=30) == {"apiserver": Status.FAILED}


# --- fmt_duration

_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def _parsed(text: str) -> tuple[bool, int, list[str]]:
    """(negative, the seconds it shows, the units it shows in order) of a fmt_duration string."""
    parts = text.removeprefix("-").split(" ")
    assert all(re.fullmatch(r"(0|[1-9]\d*)[dhms]", part) for part in parts), text
    units = [part[-1] for part in parts]
    assert units == sorted(set(units), key="dhms".index) and (units == ["s"] or "s" not in units), text
    return text.startswith("-"), sum(int(part[:-1]) * _UNIT_SECONDS[part[-1]] for part in parts), units


durations = st.timedeltas(min_value=dt.timedelta(days=-4_000_000), max_value=dt.timedelta(days=4_000_000))


@given(delta=durations)
@example(delta=dt.timedelta(microseconds=-1))  # less than a second before: no sign on "0s"
@example(delta=dt.timedelta(days=3_000_000, seconds=59, microseconds=999_999))  # exact at any size
@example(delta=dt.timedelta(days=1, minutes=5))
@example(delta=dt.timedelta(days=-365, seconds=-59))
def test_fmt_duration_shows_the_sign_and_the_whole_seconds_truncated_to_the_largest_units(
    delta: dt.timedelta,
) -> None:
    text = fmt_duration(delta)
    negative, shown, units = _parsed(text)
    whole = abs(delta) // SECOND  # whole seconds, truncated toward zero
    assert negative == (delta < dt.timedelta(0) and whole > 0), text
    if whole < 60:
        assert units == ["s"] and shown == whole, text
        return
    assert shown == whole - whole % 60, text  # seconds are dropped, not rounded
    hours, minutes = whole // 3600 % 24, whole // 60 % 60
    assert ("d" in units) == (whole >= 86400) and ("m" in units) == (minutes > 0), text
    # every unit shown is nonzero, except the hours between days and minutes ("1d 0h 5m")
    assert ("h" in units) == (hours > 0 or ("d" in units and minutes > 0)), text
