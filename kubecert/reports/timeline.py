"""The expiry timeline of one target, as geometry for the HTML report's inline SVG.

Every certificate with a known NotAfter is one row, CAs in a group above the leaves, drawn twice: once on
the scale of the whole lives (NotBefore to NotAfter, from the observation when the target reports the
expiry only), where ten years make "expires in ten days" and "expired" look alike, and once zoomed on the
expiry horizon (from one horizon before the moment the dates were judged to two after it), where they
do not; then its time left in words. A line marks the moment the dates were judged ("today", or --at)
and another the horizon (min_remaining_days later) in both. Red is an expiry problem, told from the
dates as the expiry rules tell it: expired, or expiring before the horizon; a certificate a failed rule
names for anything else is marked apart. Computed here, drawn by the template: the SVG needs no script
and prints as it shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LABEL_WIDTH, PLOT, GAP, ZOOM_PLOT, LEFT_WIDTH = 230, 480, 28, 300, 120
ZOOM_X = LABEL_WIDTH + PLOT + GAP
LEFT_X = ZOOM_X + ZOOM_PLOT + 10
WIDTH = LEFT_X + LEFT_WIDTH
ROW, TOP, GROUP_GAP = 18, 38, 14
MAX_TICKS = 20  # a timeline from year 1 (--at 0001-01-01) to 9999 marks every few centuries, not every year
MAX_ZOOM_TICKS = 8
_TICK_YEARS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
_TICK_DAYS = (1, 2, 5, 7, 10, 15, 30, 60, 90, 180, 365, 730, 1825, 3650, 36500, 365000, 3650000)
_FIRST_MOMENT = dt.datetime.min.replace(tzinfo=dt.UTC)
_LAST_MOMENT = dt.datetime.max.replace(tzinfo=dt.UTC)
_DAY = dt.timedelta(days=1)


def _moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _shifted(moment: dt.datetime, days: int) -> dt.datetime:
    """``moment`` moved by ``days``, held to the calendar's ends (a horizon of a century from year 9999)."""
    try:
        return moment + dt.timedelta(days=days)
    except OverflowError:
        return _LAST_MOMENT if days > 0 else _FIRST_MOMENT


@dataclass(frozen=True)
class Bar:
    label: str
    y: float
    x: float
    width: float
    css: str  # "ca" or "leaf"; "expired", "expiring" or "flagged"; "start-unknown"
    tooltip: str
    zoom_x: float  # the bar cut to the zoom's window; zoom_width 0 when it lies outside
    zoom_width: float
    left: str  # its time left in words: "12d left", "expired 3d ago"


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
    marks: list[Mark]  # judged and horizon on the scale of the whole lives
    ticks: list[Mark]  # its years
    groups: list[tuple[str, float]]  # heading and its y
    zoom_marks: list[Mark]  # judged and horizon in the zoom
    zoom_ticks: list[Mark]  # days from the judged moment
    judged: str  # the moment the dates were judged, the horizon's end and the zoom's window, as dates
    horizon_days: int
    horizon_end: str
    zoom_from: str
    zoom_to: str
    # Where the template draws the columns.
    label_width: int = LABEL_WIDTH
    zoom_x: int = ZOOM_X
    zoom_plot: int = ZOOM_PLOT
    left_x: int = LEFT_X


def expiry_problem(not_after: dt.datetime, now: dt.datetime, horizon: dt.datetime) -> str | None:
    """"expired", "expiring" (before the horizon, as KC-EXP-01 judges: less than the horizon left) or None."""
    if not_after <= now:
        return "expired"
    if not_after < horizon:
        return "expiring"
    return None


def time_left(not_after: dt.datetime, now: dt.datetime) -> str:
    if not_after <= now:
        ago = (now - not_after) // _DAY
        return f"expired {ago}d ago" if ago else "expired today"
    left = (not_after - now) // _DAY
    return f"{left:,}d left" if left else "under 1d left"


def build(certificates: Sequence[Mapping[str, Any]], judged_at: str, horizon_days: int,
          failing: set[str]) -> Timeline | None:
    """The timeline of ``certificates`` (a target's list in the report); None when none has an expiry.
    ``failing`` holds the names and paths a failed rule named."""
    dated = [c for c in certificates if c.get("not_after")]
    if not dated:
        return None
    now = _moment(judged_at)
    horizon = _shifted(now, horizon_days)
    starts = {id(c): _moment(c["not_before"]) if c.get("not_before") else now for c in dated}
    first = min([*starts.values(), now])
    last = max([*(_moment(c["not_after"]) for c in dated), horizon])
    span = max((last - first).total_seconds(), 1.0)
    zoom_days = max(horizon_days, 1)
    zoom_first, zoom_last = _shifted(now, -zoom_days), _shifted(now, 2 * zoom_days)
    zoom_span = max((zoom_last - zoom_first).total_seconds(), 1.0)

    def x_of(moment: dt.datetime) -> float:
        return round(LABEL_WIDTH + PLOT * (moment - first).total_seconds() / span, 2)

    def zoom_x_of(moment: dt.datetime) -> float:
        moment = min(max(moment, zoom_first), zoom_last)
        return round(ZOOM_X + ZOOM_PLOT * (moment - zoom_first).total_seconds() / zoom_span, 2)

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
            problem = expiry_problem(end, now, horizon)
            if problem:
                css.append(problem)
            elif cert["name"] in failing or cert["path"] in failing:
                css.append("flagged")
            if not cert.get("not_before"):
                css.append("start-unknown")
            label = f"{cert.get('machine')}: {cert['name']}" if cert.get("machine") else cert["name"]
            since = cert.get("not_before") or "unknown (reported expiry only)"
            zoom_start, zoom_end = zoom_x_of(start), zoom_x_of(end)
            shown = end >= zoom_first and start <= zoom_last
            bars.append(Bar(label, y, x_of(start), max(x_of(end) - x_of(start), 1.0), " ".join(css),
                            f"{label}: {since} → {cert['not_after']}", zoom_start,
                            max(zoom_end - zoom_start, 1.0) if shown else 0.0, time_left(end, now)))
            y += ROW
        y += GROUP_GAP
    y += ROW  # room for the labels of the marks below the bars
    marks = [Mark(x_of(now), f"judged {judged_at[:10]}", "today"),
             Mark(x_of(horizon), f"horizon +{horizon_days}d", "horizon")]
    step = next(years for years in _TICK_YEARS if (last.year - first.year) // years < MAX_TICKS)
    ticks = [Mark(x_of(dt.datetime(year, 1, 1, tzinfo=dt.UTC)), f"{year:04d}", "tick")
             for year in range(first.year + 1, last.year + 1) if year % step == 0]
    zoom_marks = [Mark(zoom_x_of(now), "judged", "today"), Mark(zoom_x_of(horizon), f"+{horizon_days}d", "horizon")]
    return Timeline(WIDTH, int(y), bars, marks, ticks, groups, zoom_marks,
                    _zoom_ticks(now, zoom_first, zoom_last, zoom_x_of), judged_at[:10], horizon_days,
                    horizon.date().isoformat(), zoom_first.date().isoformat(), zoom_last.date().isoformat())


def _zoom_ticks(now: dt.datetime, first: dt.datetime, last: dt.datetime,
                x_of: Callable[[dt.datetime], float]) -> list[Mark]:
    """Ticks every few days from the judged moment, labelled by their distance from it."""
    before, after = (now - first) // _DAY, (last - now) // _DAY
    step = next((days for days in _TICK_DAYS if (before + after) // days <= MAX_ZOOM_TICKS), _TICK_DAYS[-1])
    offsets = range(-(before // step) * step, after + 1, step)
    return [Mark(x_of(_shifted(now, offset)), f"{offset:+,}d" if offset else "0", "tick") for offset in offsets]
