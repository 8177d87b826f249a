"""Named faults of the reference platform and its API: opt-in misbehaviours, each with the rules it fails.

A fault is data: its name, the rules a correct kubecert must fail on it (and no other), and what it
does. The platform and the HTTP layer ask ``active(name)``; none is ever on unless named at start.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kubecert.reference.errors import ReferenceUsageError


@dataclass(frozen=True)
class PlatformFault:
    name: str
    rules: tuple[str, ...]  # the rules it must fail; every other rule must still pass
    description: str
    unjudged: tuple[str, ...] = ()  # rules that cannot be judged under it (an error, not a failure)


_ALL = (
    PlatformFault("renew-answers-200", ("KC-RPV-01",), "the renew request answers 200 with a JSON body instead of 204"),
    PlatformFault("renew-waits-for-repave", ("KC-RPV-01",),
                  "the renew request answers only once the whole renewal has finished",
                  ("KC-RPV-07",)),  # no second request can be sent while the renewal runs
    PlatformFault("ca-rotated", ("KC-RPV-03",), "renewal makes new CAs instead of keeping the cluster's"),
    PlatformFault("leaf-400-days", ("KC-RPV-02",), "renewed leaves are valid 400 days instead of 365"),
    PlatformFault("stale-expiry", ("KC-RPV-02",),
                  "renewal leaves front-proxy-client as it was: one certificate keeps its old expiry"),
    PlatformFault("annotation-ignored", ("KC-RPV-06",),
                  "renewal repaves the workers despite spectrocloud.com/cert-renew-controlplane-only"),
    PlatformFault("scale-in-first", ("KC-RPV-04",),
                  "a repave removes each old control-plane machine before its replacement runs"),
    PlatformFault("workers-first", ("KC-RPV-05",), "a repave replaces the workers before the control plane"),
    PlatformFault("no-auth", ("KC-API-04", "KC-RPV-09"), "the ApiKey header is not checked"),
    PlatformFault("project-not-checked", ("KC-API-05",), "any ProjectUid header may read any cluster"),
    PlatformFault("echo-key", ("KC-API-06",), "error bodies repeat the ApiKey the request sent"),
    PlatformFault("second-renewal", ("KC-RPV-07",),
                  "a renew request during a renewal queues a second renewal instead of starting nothing"),
    PlatformFault("missing-leaf", ("KC-API-02",), "the certificate listing leaves out kube-etcd-peer"),
    PlatformFault("expiry-not-rfc3339", ("KC-API-01",), "the certificate listing gives expiries as epoch seconds",
                  ("KC-API-03", "KC-RPV-02", "KC-RPV-03")),  # dates that cannot be read cannot be judged
    PlatformFault("kubeadm-ca-days", ("KC-API-03",),
                  "the cluster's CAs are made for kubeadm's 3650 days instead of Palette's 3652"),
)

FAULTS: dict[str, PlatformFault] = {fault.name: fault for fault in _ALL}


def checked(names: Iterable[str]) -> frozenset[str]:
    """The named faults, refusing an unknown name with the list of known ones."""
    chosen = frozenset(names)
    unknown = sorted(chosen - FAULTS.keys())
    if unknown:
        raise ReferenceUsageError(f"unknown fault {unknown[0]!r}; known faults: {', '.join(FAULTS)}")
    return chosen
