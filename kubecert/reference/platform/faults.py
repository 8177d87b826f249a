"""Named faults of the reference platform and its API: opt-in misbehaviours, each with the rules it fails.

A fault is data: its name, the rules a correct kubecert must fail on it (and no other), and what it
does. The platform and the HTTP layer ask ``active(name)``; none is ever on unless named at start.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubecert.capabilities import Action
from kubecert.reference.errors import ReferenceUsageError
from kubecert.reference.faults import Fault, Layer


@dataclass(frozen=True)
class PlatformFault(Fault):
    """A misbehaviour of the platform or its API; ``fails`` are the rules it must fail, all of them.

    It shows on a cluster that renews by ``renewal_mode`` with ``control_planes`` control-plane machines, checked
    with the profile's renewal_mode ``pinned`` to a mode (as a user pins what the platform's documentation says),
    or with none pinned (auto)."""

    renewal_mode: str = "repave"
    control_planes: int = 1
    pinned: str | None = None
    also_in_place: bool = False  # its in-place code path differs from the repave one: it is checked in both ways

    @property
    def rules(self) -> tuple[str, ...]:
        return self.fails

    @property
    def renewal_modes(self) -> tuple[str, ...]:
        """The ways of renewing a cluster it is checked on: its own, and in place too where it says so."""
        return tuple(dict.fromkeys((self.renewal_mode, *(("in-place",) if self.also_in_place else ()))))


def _platform(name: str, rules: tuple[str, ...], description: str, **more: Any) -> PlatformFault:
    return PlatformFault(name=name, layer=Layer.PLATFORM, fails=rules, description=description, **more)


_ALL = (
    _platform("renew-answers-200", ("KC-RPV-01",), "the renew request answers 200 with a JSON body instead of 204"),
    _platform("renew-waits-for-repave", ("KC-RPV-01",),
              "the renew request answers only once the whole renewal has finished",
              unjudged_named=("KC-RPV-07",),
              note="no second request can be sent while the renewal runs; the catalog does not say which rules send "
                   "one (KC-RPV-07 shares its action with every rule of a renewal)"),
    _platform("ca-rotated", ("KC-RPV-03",), "renewal makes new CAs instead of keeping the cluster's"),
    _platform("leaf-400-days", ("KC-RPV-02",), "renewed leaves are valid 400 days instead of 365"),
    _platform("stale-expiry", ("KC-RPV-02",),
              "renewal leaves front-proxy-client as it was: one certificate keeps its old expiry", also_in_place=True),
    _platform("annotation-ignored", ("KC-RPV-06",),
                  "renewal repaves the workers despite spectrocloud.com/cert-renew-controlplane-only"),
    _platform("scale-in-first", ("KC-RPV-04",),
                  "a repave removes each old control-plane machine before its replacement runs"),
    _platform("workers-first", ("KC-RPV-05",), "a repave replaces the workers before the control plane"),
    _platform("no-auth", ("KC-API-04", "KC-RPV-09", "KC-API-07"),
              "the ApiKey header is not checked"),  # the listing's PUT then refuses a keyless request with 403
    _platform("project-not-checked", ("KC-API-05",), "any ProjectUid header may read any cluster"),
    _platform("echo-key", ("KC-API-06",), "error bodies repeat the ApiKey the request sent"),
    _platform("second-renewal", ("KC-RPV-07",),
              "a renew request during a renewal queues a second renewal instead of starting nothing",
              also_in_place=True),
    _platform("missing-leaf", ("KC-API-02",), "the certificate listing leaves out kube-etcd-peer"),
    _platform("expiry-not-rfc3339", ("KC-API-01",), "the certificate listing gives expiries as epoch seconds",
              unjudged_named=("KC-API-03", "KC-RPV-02", "KC-RPV-03", "KC-RPV-10"),
              note="dates that cannot be read cannot be judged; the catalog's expiry capability is the listing's names "
                   "as well as its dates, and most rules needing it read only the names or the answers to requests, "
                   "so the rules that read the dates are named"),
    _platform("provisioning-stalls", ("KC-RPV-08",),
              "a renewal's new machines never finish provisioning: the renewal outlives any deadline",
              takes_away=frozenset({Action.API_RENEWAL, Action.API_RENEWAL_CONTROLPLANE_ONLY,
                                    Action.UNAUTHENTICATED_RENEWAL, Action.API_UPGRADE}),
              keeps=("KC-RPV-01", "KC-RPV-11"),
              note="what a renewal that never finishes does cannot be judged whole, nor the renewals, upgrades and "
                   "requests after it while it still runs; KC-RPV-01 judges the renew request's answer, which comes "
                   "at once, and KC-RPV-11 is of renewal in place, not applicable on the repave platform the fault "
                   "runs on"),
    _platform("kubeadm-ca-days", ("KC-API-03",),
                  "the cluster's CAs are made for kubeadm's 3650 days instead of Palette's 3652"),
    _platform("upgrade-without-renewal", ("KC-RPV-10",),
              "an upgrade changes the cluster's Kubernetes version and renews no certificate"),
    # A machine renewed in place tells this from a repave: a cluster of one control-plane machine would show a repave.
    _platform("in-place-replaces-machine", ("KC-RPV-11",),
              "an in-place renewal renews every control-plane machine but the last in place and replaces the last",
              renewal_mode="in-place", control_planes=2),
    _platform("repaves-despite-in-place", ("KC-RPV-11",),
              "a cluster documented to renew in place (the check pins renewal_mode in-place) repaves instead",
              renewal_mode="in-place", pinned="in-place"),
    _platform("listing-put-unchecked", ("KC-API-07",),
              "PUT .../k8certificates answers 204 to anyone: no key, project or permission is checked"),
    _platform("cluster-query-refused", ("KC-API-08",),
              "the cluster object answers 400 to a read with query parameters (the SDK's defaults, resolvePackValues, "
              "includeTags)"),
)

FAULTS: dict[str, PlatformFault] = {fault.name: fault for fault in _ALL}


def checked(names: Iterable[str]) -> frozenset[str]:
    """The named faults, refusing an unknown name with the list of known ones."""
    chosen = frozenset(names)
    unknown = sorted(chosen - FAULTS.keys())
    if unknown:
        raise ReferenceUsageError(f"unknown fault {unknown[0]!r}; known faults: {', '.join(FAULTS)}")
    return chosen
