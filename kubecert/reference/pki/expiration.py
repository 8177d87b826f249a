"""``kubeadm certs check-expiration`` for a tree: the listing, its text tables and its json/yaml forms.

As kubeadm v1.31+ (cmd/kubeadm/app/cmd/certs.go, phases/certs/renewal/manager.go): one row per leaf
and per renewed kubeconfig (admin, super-admin, controller-manager, scheduler), sorted by name; one row
per CA, sorted; a leaf is externally managed when its CA's certificate is there without its key. The
text is two tables through Go's tabwriter (minwidth 10, padding 3); dates in Go's layout
``Jan 02, 2006 15:04 MST``; residual time through apimachinery's HumanDuration. ``-o json|yaml`` prints
the output API object ``CertificateExpirationInfo`` (output.kubeadm.k8s.io/v1alpha3). The tree's release
(versions.py) decides whether super-admin.conf has a row (v1.29+) and whether ``-o`` exists (v1.30+).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning

from kubecert import layout
from kubecert.reference.errors import ReferenceUsageError
from kubecert.reference.pki.kubeconfig import current_user, decode_data
from kubecert.reference.pki.renewal_faults import LISTING_STALE, check_renewal_fault
from kubecert.reference.pki.tree import PkiTree
from kubecert.reference.pki.versions import KubeadmVersion

API_VERSION = "output.kubeadm.k8s.io/v1alpha3"
KIND = "CertificateExpirationInfo"
OUTPUT_FORMATS = ("text", "json", "yaml")

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MINUTE, _HOUR, _DAY, _YEAR = 60, 3600, 86400, 365 * 86400


@dataclass(frozen=True)
class ExpirationEntry:
    """One row: kubeadm's output API ``Certificate``."""

    name: str
    expiration_date: dt.datetime | None  # None when missing
    residual_seconds: int
    ca_name: str  # "" for a CA
    externally_managed: bool
    missing: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Go's JSON of the output API type: its field order, caName omitted when empty."""
        data: dict[str, Any] = {
            "name": self.name,
            "expirationDate": _rfc3339(self.expiration_date) if self.expiration_date else None,
            "residualTime": self.residual_seconds,
            "externallyManaged": self.externally_managed,
        }
        if self.ca_name:
            data["caName"] = self.ca_name
        data["missing"] = self.missing
        return data


@dataclass(frozen=True)
class ExpirationInfo:
    certificates: tuple[ExpirationEntry, ...]
    certificate_authorities: tuple[ExpirationEntry, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "apiVersion": API_VERSION,
            "certificates": [entry.to_dict() for entry in self.certificates],
            "certificateAuthorities": [entry.to_dict() for entry in self.certificate_authorities],
        }


def check_expiration(root: Path, *, now: dt.datetime, external_etcd: bool | None = None,
                     fault: str | None = None) -> ExpirationInfo:
    """The listing for the tree at ``root`` (/etc/kubernetes) as of ``now``.

    The tree is read here, as kubeadm reads it, with the reference's own code: the checker's loader is
    what KC-CHK-01 compares this listing against, so the two readings must be independent.
    ``external_etcd`` None: decided as kubeadm's configuration would have it, by the local etcd's
    static pod manifest (kubeadm writes manifests/etcd.yaml only for local etcd).
    """
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    tree = PkiTree(Path(root))
    if external_etcd is None:
        external_etcd = not (tree.manifests_dir / "etcd.yaml").exists()
    specs = layout.expected_certs(external_etcd)
    rows = [_row(spec.name, spec.ca or "", _cert(tree, spec.name), tree, now) for spec in specs if not spec.is_ca]
    known = KubeadmVersion.of_tree(tree.root).renewed(external_etcd)
    rows += [_row(spec.name, "ca", _kubeconfig_cert(tree, spec.name), tree, now)
             for spec in layout.KUBECONFIGS if spec.renewed and spec.name in known]
    cas = [_row(spec.name, "", _cert(tree, spec.name), tree, now) for spec in specs if spec.is_ca]
    if check_renewal_fault(fault, "check-expiration") == LISTING_STALE:
        rows = [_a_year_later(row) if row.name == "apiserver" else row for row in rows]
    return ExpirationInfo(
        certificates=tuple(sorted(rows, key=lambda row: row.name)),
        certificate_authorities=tuple(sorted(cas, key=lambda row: row.name)),
    )


def _row(name: str, ca: str, cert: x509.Certificate | None, tree: PkiTree, now: dt.datetime) -> ExpirationEntry:
    if cert is None:
        return ExpirationEntry(name, None, 0, ca, False, missing=True)
    not_after = cert.not_valid_after_utc
    authority = ca or name
    return ExpirationEntry(name, not_after, residual_seconds(not_after, now), ca, _externally_managed(tree, authority))


def _a_year_later(row: ExpirationEntry) -> ExpirationEntry:
    if row.expiration_date is None:
        return row
    year = 365 * _DAY
    return dataclasses.replace(row, expiration_date=row.expiration_date + dt.timedelta(seconds=year),
                               residual_seconds=row.residual_seconds + year)


def _externally_managed(tree: PkiTree, ca: str) -> bool:
    """kubeadm's test: the CA certificate is there and its key file is not."""
    return tree.cert_path(ca).exists() and not tree.key_path(ca).exists()


def _cert(tree: PkiTree, name: str) -> x509.Certificate | None:
    """The certificate ``name`` or None when its file is missing; one that is there but unusable makes
    kubeadm fail rather than list it as missing."""
    path = tree.cert_path(name)
    if not path.exists() and not path.is_symlink():
        return None
    try:
        return _first_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ReferenceUsageError(f"cannot check expiration: {path}: {_why(exc)}") from None


def _kubeconfig_cert(tree: PkiTree, name: str) -> x509.Certificate | None:
    path = tree.kubeconfig_path(name)
    if not path.exists() and not path.is_symlink():
        return None
    try:
        user = current_user(tree.kubeconfig(name))
        data = user.get("client-certificate-data")
        if not data:
            raise ReferenceUsageError(f"cannot check expiration: {path} embeds no client certificate")
        return _first_certificate(decode_data(str(data)))
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise ReferenceUsageError(f"cannot check expiration: {path}: {_why(exc)}") from None


def _first_certificate(pem: bytes) -> x509.Certificate:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)  # serial-0 CAs of old kubeadm
        return x509.load_pem_x509_certificates(pem)[0]


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def residual_seconds(not_after: dt.datetime, now: dt.datetime) -> int:
    """Whole seconds from ``now`` to ``not_after``, truncated toward zero as Go's Duration/Second."""
    delta = not_after - now
    microseconds = (delta.days * _DAY + delta.seconds) * 1_000_000 + delta.microseconds
    whole = abs(microseconds) // 1_000_000
    return whole if microseconds >= 0 else -whole


def human_duration(seconds: int) -> str:  # noqa: PLR0911 - one branch per precision, as the Go original
    """apimachinery's duration.HumanDuration (2-3 significant figures), for a whole number of seconds."""
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 2 * _MINUTE:
        return f"{seconds}s"
    minutes = seconds // _MINUTE
    if minutes < 10:
        rest = seconds % _MINUTE
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 3 * 60:
        return f"{minutes}m"
    hours = seconds // _HOUR
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def go_date(moment: dt.datetime) -> str:
    """Go's ``Jan 02, 2006 15:04 MST`` for a UTC time (certificate times are UTC)."""
    utc = moment.astimezone(dt.UTC)
    return f"{_MONTHS[utc.month - 1]} {utc.day:02d}, {utc.year:04d} {utc.hour:02d}:{utc.minute:02d} UTC"


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def render_text(info: ExpirationInfo) -> str:
    lines = ["CERTIFICATE\tEXPIRES\tRESIDUAL TIME\tCERTIFICATE AUTHORITY\tEXTERNALLY MANAGED"]
    for row in info.certificates:
        if row.missing or row.expiration_date is None:
            lines.append(f"!MISSING! {row.name}\t\t\t\t")
        else:
            lines.append(
                f"{row.name}\t{go_date(row.expiration_date)}\t{human_duration(row.residual_seconds)}\t"
                f"{row.ca_name}\t{_yes_no(row.externally_managed):<8}"
            )
    lines.append("")
    lines.append("CERTIFICATE AUTHORITY\tEXPIRES\tRESIDUAL TIME\tEXTERNALLY MANAGED")
    for row in info.certificate_authorities:
        if row.missing or row.expiration_date is None:
            lines.append(f"!MISSING! {row.name}\t\t\t")
        else:
            lines.append(
                f"{row.name}\t{go_date(row.expiration_date)}\t{human_duration(row.residual_seconds)}\t"
                f"{_yes_no(row.externally_managed):<8}"
            )
    return tabwrite(lines, minwidth=10, padding=3)


def tabwrite(lines: list[str], *, minwidth: int, padding: int) -> str:
    """Go's text/tabwriter with a space pad character and no flags.

    A cell is text ended by a tab; a line's last cell is not part of any column. A column block is a
    run of consecutive lines having a cell in that column; its width is the widest cell plus
    ``padding``, at least ``minwidth``. Each cell is padded to its block's width, empty cells too.
    """
    cells = [line.split("\t") for line in lines]
    out: list[list[str]] = [[] for _ in cells]  # each line's padded column cells

    def format_block(first: int, last: int, column: int) -> None:
        line = first
        while line < last:
            if column >= len(cells[line]) - 1:
                line += 1
                continue
            start = line
            width = minwidth
            while line < last and column < len(cells[line]) - 1:
                width = max(width, len(cells[line][column]) + padding)
                line += 1
            for index in range(start, line):
                out[index].append(cells[index][column].ljust(width))
            format_block(start, line, column + 1)

    format_block(0, len(cells), 0)
    return "".join("".join(out[index]) + line_cells[-1] + "\n" for index, line_cells in enumerate(cells))


def render_json(info: ExpirationInfo) -> str:
    # kubectl-style JSON printer: json.MarshalIndent with four spaces, then a newline.
    return json.dumps(info.to_dict(), indent=4) + "\n"


class _Timestamp(str):
    """A string go-yaml would quote: it reads as a timestamp when plain."""


class _GoYamlDumper(yaml.SafeDumper):
    pass


def _represent_timestamp(dumper: yaml.SafeDumper, value: _Timestamp) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style='"')


_GoYamlDumper.add_representer(_Timestamp, _represent_timestamp)


def render_yaml(info: ExpirationInfo) -> str:
    """sigs.k8s.io/yaml of the JSON: keys sorted, timestamps double-quoted."""
    document = info.to_dict()
    for section in ("certificates", "certificateAuthorities"):
        for entry in document[section]:
            if entry["expirationDate"] is not None:
                entry["expirationDate"] = _Timestamp(entry["expirationDate"])
    return yaml.dump(document, Dumper=_GoYamlDumper, default_flow_style=False, sort_keys=True)


def render(info: ExpirationInfo, output: str = "text") -> str:
    if output == "text":
        return render_text(info)
    if output == "json":
        return render_json(info)
    if output == "yaml":
        return render_yaml(info)
    raise ReferenceUsageError(f"unknown output format {output!r}; expected one of {', '.join(OUTPUT_FORMATS)}")
