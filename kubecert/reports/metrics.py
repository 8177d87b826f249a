"""The report as an OpenMetrics text file, for node-exporter's textfile collector (``--metrics FILE``).

Certificate series use the names and labels of x509-certificate-exporter (``x509_cert_not_after``,
``x509_cert_not_before``, ``x509_cert_expired`` with ``filepath``, ``subject_CN``, ``issuer_CN``), so alerts
written for that exporter work on kubecert's file too; ``target`` and ``name`` say which node or API and
which kubeadm certificate. ``kubecert_rule_status`` is 1 for a (rule, target)'s status and 0 for the others,
so ``kubecert_rule_status{status="failed"} == 1`` alerts on a failed rule. prometheus_client is imported
here only, when the file is asked for (``pip install 'kubecert[reports]'``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from kubecert.status import STATUSES

_CERT_LABELS = ("target", "name", "filepath", "subject_CN", "issuer_CN")
RULE_STATUSES = (*STATUSES, "accepted")


def _seconds(moment: str) -> float:
    return dt.datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()


def _now_of(document: Mapping[str, Any], target: Mapping[str, Any]) -> str:
    """The moment expiry is judged: --at when given, else when the target was read, else when the run ended."""
    return str(document.get("evaluated_as_of") or target.get("observed_at") or document["finished_at"])


def render(report: Mapping[str, Any]) -> str:
    from prometheus_client import CollectorRegistry
    from prometheus_client.openmetrics.exposition import generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(report))
    exposition: bytes = generate_latest(registry)  # type: ignore[no-untyped-call]
    return exposition.decode("utf-8")


class _Collector:
    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        not_after = GaugeMetricFamily("x509_cert_not_after", "NotAfter of the certificate, in seconds since the epoch",
                                      labels=_CERT_LABELS)
        not_before = GaugeMetricFamily("x509_cert_not_before",
                                       "NotBefore of the certificate, in seconds since the epoch", labels=_CERT_LABELS)
        expired = GaugeMetricFamily("x509_cert_expired", "1 when the certificate had expired when it was judged",
                                    labels=_CERT_LABELS)
        for target in self.document["targets"]:
            judged_at = _seconds(_now_of(self.document, target))
            for cert in target.get("certificates", ()):
                labels = [target["id"], cert["name"], cert["path"], cert.get("subject_cn") or "",
                          cert.get("issuer_cn") or ""]
                if cert.get("not_after"):
                    not_after.add_metric(labels, _seconds(cert["not_after"]))
                    expired.add_metric(labels, 1.0 if _seconds(cert["not_after"]) <= judged_at else 0.0)
                if cert.get("not_before"):
                    not_before.add_metric(labels, _seconds(cert["not_before"]))
        yield from (not_after, not_before, expired)
        yield self._rule_status()
        complete = GaugeMetricFamily("kubecert_report_complete", "1 when the run finished; 0 for a partial report")
        complete.add_metric([], 1.0 if self.document.get("complete", True) else 0.0)
        finished = GaugeMetricFamily("kubecert_report_finished", "when the run finished, in seconds since the epoch")
        finished.add_metric([], _seconds(self.document["finished_at"]))
        yield from (complete, finished)

    def _rule_status(self) -> Any:
        from prometheus_client.core import GaugeMetricFamily

        family = GaugeMetricFamily("kubecert_rule_status", "1 for the status a rule has on a target, else 0",
                                   labels=("rule", "target", "status"))
        for result in self.document["results"]:
            status = "accepted" if result.get("accepted") else result["status"]
            for candidate in RULE_STATUSES:
                family.add_metric([result["rule"], result["target"], candidate], 1.0 if candidate == status else 0.0)
        return family
