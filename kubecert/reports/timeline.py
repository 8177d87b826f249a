"""The expiry timeline of one target, as geometry for the HTML report's inline SVG.

Every certificate with a known NotAfter is one bar from NotBefore to NotAfter (from the observation when
the target reports the expiry only), CAs in a group above the leaves; a line marks the moment the dates
were judged ("today", or --at) and another the expiry horizon (min_remaining_days later). Bars of
certificates a failed result names are marked failing. Computed here, drawn by the template: the SVG
needs no script and prints as it shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

WIDTH, LABEL_WIDTH, ROW, TOP, GROUP_GAP = 960, 230, 18, 24, 14
PLOT = WIDTH - LABEL_WIDTH - 20
MAX_TICKS = 20  # a timeline from year 1 (--at 0001-01-01) to 9999 marks every few centuries, not every year
_TICK_YEARS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
_LAST_MOMENT = dt.datetime.max.replace(tzinfo=dt.UTC)


def _moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Bar:
    label: str
    y: float
    x: float
    width: float
    css: str  # "ca" or "leaf", plus "failing", plus "start-unknown"
    tooltip: str


@dataclass(frozen=True)
class Mark:
    x: float
    label: str
    css: str


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    bars: list[Bar]
    marks: list[Mark]
    ticks: list[Mark]
    groups: list[tuple[str, float]]  # heading and its y


def build(certificates: Sequence[Mapping[str, Any]], judged_at: str, horizon_days: int,
          failing: set[str]) -> Timeline | None:
    """The timeline of ``certificates`` (a target's list in the report); None when none has an expiry."""
    dated = [c for c in certificates if c.get("not_after")]
    if not dated:
        return None
    now = _moment(judged_at)
    try:
        horizon = now + dt.timedelta(days=horizon_days)
    except OverflowError:  # past the year 9999: the horizon holds every date there is
        horizon = _LAST_MOMENT
    starts = {id(c): _moment(c["not_before"]) if c.get("not_before") else now for c in dated}
    first = min([*starts.values(), now])
    last = max([*(_moment(c["not_after"]) for c in dated), horizon])
    span = max((last - first).total_seconds(), 1.0)

    def x_of(moment: dt.datetime) -> float:
        return round(LABEL_WIDTH + PLOT * (moment - first).total_seconds() / span, 2)

    bars: list[Bar] = []
    groups: list[tuple[str, float]] = []
    y = float(TOP)
    for heading, members in (("CAs", [c for c in dated if c.get("is_ca")]),
                             ("leaves and client certificates", [c for c in dated if not c.get("is_ca")])):
        if not members:
            continue
        groups.append((heading, y))
        y += ROW
        for cert in members:
            start, end = starts[id(cert)], _moment(cert["not_after"])
            css = ["ca" if cert.get("is_ca") else "leaf"]
            if cert["name"] in failing or cert["path"] in failing:
                css.append("failing")
            if not cert.get("not_before"):
                css.append("start-unknown")
            label = f"{cert.get('machine')}: {cert['name']}" if cert.get("machine") else cert["name"]
            since = cert.get("not_before") or "unknown (reported expiry only)"
            bars.append(Bar(label, y, x_of(start), max(x_of(end) - x_of(start), 1.0), " ".join(css),
                            f"{label}: {since} → {cert['not_after']}"))
            y += ROW
        y += GROUP_GAP
    y += ROW  # room for the labels of the marks below the bars
    marks = [Mark(x_of(now), f"judged {judged_at[:10]}", "today"),
             Mark(x_of(horizon), f"horizon +{horizon_days}d", "horizon")]
    step = next(years for years in _TICK_YEARS if (last.year - first.year) // years < MAX_TICKS)
    ticks = [Mark(x_of(dt.datetime(year, 1, 1, tzinfo=dt.UTC)), f"{year:04d}", "tick")
             for year in range(first.year + 1, last.year + 1) if year % step == 0]
    return Timeline(WIDTH, int(y), bars, marks, ticks, groups)
