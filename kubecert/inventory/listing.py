"""Reading ``kubeadm certs check-expiration`` output: the tables, ``-o json`` or ``-o yaml``.

Text comes in two shapes. The seed's (kubeadm up to about v1.19): one table, columns CERTIFICATE,
EXPIRES, RESIDUAL TIME, EXTERNALLY MANAGED with ``true``/``false``, no CA column, no CA table. kubeadm
v1.20+ (and v1.31): five columns, CERTIFICATE AUTHORITY added, ``yes``/``no``, then a blank line and a
second table of the CAs. Cells are separated by tabwriter padding (at least two spaces; dates hold
single spaces). A missing file is a row ``!MISSING! <name>``. Dates are Go's ``Jan 02, 2006 15:04 MST``
in UTC, to the minute; residual times are apimachinery's (Short)HumanDuration, truncated: ``364d``,
``9y``, ``2y327d``. ``-o json|yaml`` is kind ``CertificateExpirationInfo`` with RFC 3339 dates and
``residualTime`` in seconds. Lines kubeadm prints before the tables (``[check-expiration] ...``)
are skipped.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from kubecert.inventory.safe_json import JsonError, JsonTooDeep, loads_bounded
from kubecert.inventory.safe_yaml import YamlBeyondBound, YamlError, load_bounded

CERTIFICATES = "certificates"
AUTHORITIES = "authorities"

_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"), start=1)}
_DATE = re.compile(r"([A-Z][a-z]{2}) (\d{1,2}), (\d{4}) (\d{2}):(\d{2}) (UTC|GMT)")
_CELLS = re.compile(r"\s{2,}")
_DURATION_PART = re.compile(r"(\d+)([ydhms])")
_UNIT_SECONDS = {"y": 365 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_YES = {"yes": True, "true": True, "no": False, "false": False}
_SHOWN_CHARS = 80  # of a value quoted in an error: the output may be hostile and long


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."


class ListingError(ValueError):
    """Output that is not a check-expiration listing; the message says what was expected."""


class ListingBeyondBound(ListingError):
    """Output larger or deeper than kubecert reads: not judged, rather than wrong."""


@dataclass(frozen=True)
class Residual:
    """A residual time as printed: the actual one is in [seconds, seconds + precision)."""

    text: str
    seconds: int | None  # None for "<invalid>"
    precision: int  # seconds

    @classmethod
    def parse(cls, text: str) -> Residual:
        text = text.strip()
        if text == "<invalid>":
            return cls(text, None, 1)
        parts = _DURATION_PART.findall(text)
        if not parts or "".join(a + b for a, b in parts) != text:
            raise ListingError(f"residual time {_brief(text)} is not a duration like 364d, 9y or 2y327d")
        seconds = sum(int(amount) * _UNIT_SECONDS[unit] for amount, unit in parts)
        return cls(text, seconds, _UNIT_SECONDS[parts[-1][1]])


@dataclass(frozen=True)
class ListingRow:
    name: str
    table: str  # CERTIFICATES or AUTHORITIES
    missing: bool
    expires: dt.datetime | None = None
    expires_precision: dt.timedelta = dt.timedelta(minutes=1)
    residual: Residual | None = None
    ca: str | None = None  # None when the listing has no CA column (or for a CA)
    externally_managed: bool | None = None


@dataclass(frozen=True)
class Listing:
    form: str  # how the listing was written, for the evidence
    certificates: tuple[ListingRow, ...]
    authorities: tuple[ListingRow, ...] | None  # None: this form has no CA table
    has_ca_column: bool

    def row(self, table: str, name: str) -> ListingRow | None:
        rows = self.certificates if table == CERTIFICATES else (self.authorities or ())
        return next((row for row in rows if row.name == name), None)


MAX_LISTING_CHARS = 1 << 20  # kubeadm's listing is a few KiB


def parse_listing(text: str) -> Listing:
    if len(text) > MAX_LISTING_CHARS:
        raise ListingBeyondBound(f"{len(text)} characters, over kubecert's bound of {MAX_LISTING_CHARS} for a listing")
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            document = loads_bounded(stripped)
        except JsonTooDeep as exc:
            raise ListingBeyondBound(f"JSON {exc}, kubecert's bound") from None
        except JsonError as exc:
            raise ListingError(f"output looks like JSON but is not: {exc}") from None
        return _structured(document, "kubeadm -o json")
    if re.search(r"^kind: *CertificateExpirationInfo", text, re.M):
        try:
            document = load_bounded(text, max_bytes=MAX_LISTING_CHARS)
        except YamlBeyondBound as exc:
            raise ListingBeyondBound(f"YAML {exc}") from None
        except YamlError as exc:
            raise ListingError(f"output looks like YAML but is not: {exc}") from None
        return _structured(document, "kubeadm -o yaml")
    return _text(text)


def _text(text: str) -> Listing:
    lines = text.splitlines()
    header_at = next((i for i, line in enumerate(lines) if _CELLS.split(line.strip())[0] == "CERTIFICATE"), None)
    if header_at is None:
        raise ListingError("no check-expiration table: expected a header line starting with CERTIFICATE  EXPIRES")
    columns = _CELLS.split(lines[header_at].strip())
    certificates, end = _table(lines, header_at, columns, CERTIFICATES)
    authorities: list[ListingRow] | None = None
    ca_header = next((i for i in range(end, len(lines)) if lines[i].strip().startswith("CERTIFICATE AUTHORITY")), None)
    if ca_header is not None:
        authorities, _ = _table(lines, ca_header, _CELLS.split(lines[ca_header].strip()), AUTHORITIES)
    has_ca_column = "CERTIFICATE AUTHORITY" in columns
    form = "kubeadm text, five columns and a CA table" if has_ca_column else "kubeadm text, four columns (before v1.20)"
    return Listing(form, tuple(certificates), tuple(authorities) if authorities is not None else None, has_ca_column)


def _table(lines: list[str], header_at: int, columns: list[str], table: str) -> tuple[list[ListingRow], int]:
    for wanted in ("EXPIRES", "RESIDUAL TIME", "EXTERNALLY MANAGED"):
        if wanted not in columns:
            raise ListingError(f"the {table} table's header has no {wanted} column: {' | '.join(columns)}")
    rows: list[ListingRow] = []
    index = header_at + 1
    while index < len(lines) and lines[index].strip():
        line = lines[index].strip()
        index += 1
        if line.startswith("!MISSING!"):
            rows.append(ListingRow(line.removeprefix("!MISSING!").split()[0], table, missing=True))
            continue
        cells = _CELLS.split(line)
        if len(cells) != len(columns):
            raise ListingError(f"row {_brief(line)} has {len(cells)} cells, the header {len(columns)}")
        cell = dict(zip(columns, cells, strict=True))
        managed = cell["EXTERNALLY MANAGED"].lower()
        if managed not in _YES:
            raise ListingError(f"row {_brief(cells[0])}: EXTERNALLY MANAGED is "
                               f"{_brief(cell['EXTERNALLY MANAGED'])}, "
                               "expected yes/no or true/false")
        rows.append(ListingRow(
            name=cells[0], table=table, missing=False, expires=_go_date(cell["EXPIRES"], cells[0]),
            residual=Residual.parse(cell["RESIDUAL TIME"]), ca=cell.get("CERTIFICATE AUTHORITY"),
            externally_managed=_YES[managed],
        ))
    return rows, index


def _go_date(text: str, name: str) -> dt.datetime:
    match = _DATE.fullmatch(text.strip())
    if match is None or match.group(1) not in _MONTHS:
        raise ListingError(f"row {_brief(name)}: EXPIRES {_brief(text)} is not a date like "
                           "'May 15, 2027 13:03 UTC'")
    month, day, year, hour, minute = _MONTHS[match.group(1)], *map(int, match.group(2, 3, 4, 5))
    try:
        return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)
    except ValueError as exc:
        raise ListingError(f"row {_brief(name)}: EXPIRES {_brief(text)}: {exc}") from None


def _structured(document: Any, form: str) -> Listing:
    if not isinstance(document, dict) or document.get("kind") != "CertificateExpirationInfo":
        raise ListingError("structured output is not a CertificateExpirationInfo object")
    certificates = tuple(_entry(e, CERTIFICATES) for e in document.get("certificates") or [])
    authorities = tuple(_entry(e, AUTHORITIES) for e in document.get("certificateAuthorities") or [])
    return Listing(form, certificates, authorities, has_ca_column=True)


def _entry(entry: Any, table: str) -> ListingRow:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise ListingError(f"a {table} entry has no name: {_brief(entry)}")
    name = entry["name"]
    if entry.get("missing"):
        return ListingRow(name, table, missing=True)
    raw = entry.get("expirationDate")
    try:
        expires = raw if isinstance(raw, dt.datetime) else dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise ListingError(f"entry {_brief(name)}: expirationDate {_brief(raw)} is not an RFC 3339 "
                           "date-time") from None
    residual = entry.get("residualTime")
    if not isinstance(residual, int):
        raise ListingError(f"entry {_brief(name)}: residualTime {_brief(residual)} is not a number of seconds")
    return ListingRow(
        name=name, table=table, missing=False, expires=expires.astimezone(dt.UTC),
        expires_precision=dt.timedelta(seconds=1), residual=Residual(f"{residual}s", residual, 1),
        ca=entry.get("caName") or ("" if table == AUTHORITIES else None),
        externally_managed=bool(entry.get("externallyManaged")),
    )
