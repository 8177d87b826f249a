"""``Retry-After`` as RFC 9110 (10.2.3) has it: a number of seconds in ASCII digits, or an HTTP-date in one of
its three forms (IMF-fixdate, RFC 850, asctime). Anything else is no advice at all: ``str.isdigit`` takes
"²" and ``float`` then fails, and the locale-dependent ``strptime`` would read month names differently on
another machine, so both forms are matched here by hand, and the wait is bounded by the caller.
"""

from __future__ import annotations

import datetime as dt
import re

_MAX_CHARS = 64  # the longest form is 29 characters; a longer header is not read
_DAYS = "Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_LONG_DAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH = "|".join(_MONTHS)
_CLOCK = r"(?P<h>[0-9]{2}):(?P<m>[0-9]{2}):(?P<s>[0-9]{2})"
_FORMS = (
    re.compile(rf"(?:{_DAYS}), (?P<d>[0-9]{{2}}) (?P<mon>{_MONTH}) (?P<y>[0-9]{{4}}) {_CLOCK} GMT"),
    re.compile(rf"(?:{_LONG_DAYS}), (?P<d>[0-9]{{2}})-(?P<mon>{_MONTH})-(?P<yy>[0-9]{{2}}) {_CLOCK} GMT"),
    re.compile(rf"(?:{_DAYS}) (?P<mon>{_MONTH}) (?P<d>[ 0-9][0-9]) {_CLOCK} (?P<y>[0-9]{{4}})"),
)


def retry_after_s(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait from ``now`` (0 for a date in the past), or None when ``value`` is not a valid
    ``Retry-After``."""
    if not value or len(value) > _MAX_CHARS:
        return None
    text = value.strip(" \t")  # RFC 9110's optional whitespace; str.strip would take \x1c-\x1f and \x85 too
    if re.fullmatch(r"[0-9]{1,10}", text):
        return float(int(text))
    moment = _http_date(text)
    return None if moment is None else max(0.0, (moment - now).total_seconds())


def _http_date(text: str) -> dt.datetime | None:
    for form in _FORMS:
        match = form.fullmatch(text)
        if match is None:
            continue
        fields = match.groupdict()
        year = int(fields["y"]) if fields.get("y") else _two_digit_year(int(fields["yy"]))
        try:
            return dt.datetime(year, _MONTHS.index(fields["mon"]) + 1, int(fields["d"]), int(fields["h"]),
                               int(fields["m"]), int(fields["s"]), tzinfo=dt.UTC)
        except ValueError:  # 31 February, hour 25, year 0
            return None
    return None


def _two_digit_year(yy: int) -> int:
    """RFC 850's two-digit year: 70-99 are the 1900s, the rest this century (RFC 9110 says "more than 50
    years in the future" means the past; for a retry hint the difference is moot)."""
    return 1900 + yy if yy >= 70 else 2000 + yy
