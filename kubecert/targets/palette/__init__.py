"""``palette:``: a cluster through a Palette-like management API. What this module holds is light (the
kind's options and the names of the API); the backend is in target.py, its HTTP in http.py, the parsing of
answers in parse.py, renewals and upgrades watched in watch.py, the upgrade's request in upgrade.py and the
SpectroCluster object in spc.py."""

from __future__ import annotations

from kubecert.options import Kind, Option

DEFAULT_KEY_ENV = "PALETTE_API_KEY"
DEFAULT_POLL_S = 5.0
DEFAULT_REQUEST_DEADLINE_S = 60.0
# Reads of a healthy API take seconds; a quarter of an hour is far past them and still ends a run against an
# API that answers every request just inside its deadline (a hundred pages of machines, a minute each).
DEFAULT_TIME_BUDGET_S = 900.0
CONTROLPLANE_ONLY = "spectrocloud.com/cert-renew-controlplane-only"

OPTIONS: tuple[Option, ...] = (
    Option("palette-cluster", "palette: the cluster uid (or ?cluster=UID in the target URI)", "UID"),
    Option("palette-project", "palette: the project uid sent as ProjectUid (or ?project=UID); "
           "without one, requests are tenant-scoped", "UID"),
    Option("api-key-env", f"palette: the environment variable that holds the API key (default "
           f"{DEFAULT_KEY_ENV})", "NAME"),
    Option("api-key-file", "palette: a file that holds the API key (instead of the environment)", "FILE"),
    Option("ca-bundle", "palette: CA certificates (PEM) to verify the API's TLS certificate with "
           "(default: the system's)", "FILE"),
    Option("insecure-skip-tls-verify", "palette: do NOT verify the API's TLS certificate (the API key "
           "can then be stolen by anyone on the path)", kind=Kind.FLAG),
    Option("renewal-deadline", "palette: seconds a renewal may take before KC-RPV-08 fails "
           "(default: the profile's renewal_deadline_seconds)", "SECONDS"),
    Option("poll-interval", f"palette: seconds between looks while a renewal runs (default "
           f"{DEFAULT_POLL_S:g})", "SECONDS"),
    Option("api-deadline", f"palette: seconds one request may take, from connecting to the answer's last byte "
           f"(default {DEFAULT_REQUEST_DEADLINE_S:g}); a request cut at its deadline marks the API unresponsive and "
           "every check still to come errors at once", "SECONDS"),
    Option("api-time-budget", f"palette: seconds kubecert may spend on one palette target, waiting for a renewal "
           f"or an upgrade aside (default {DEFAULT_TIME_BUDGET_S:g}); once spent, the request in flight is cut and "
           "every check still to come errors at once", "SECONDS"),
    Option("palette-kubeconfig", "palette: a kubeconfig of the Kubernetes API that holds the cluster's "
           "SpectroCluster object (what kubectl annotate spc uses), for KC-RPV-06's control-plane-only annotation; "
           "without it KC-RPV-06 is skipped", "FILE"),
    Option("upgrade-profile", "palette: the uid of the cluster profile version KC-RPV-10 upgrades the cluster to "
           "(its Kubernetes pack carries a release the cluster does not run yet); it replaces the attached version "
           "of the same name, as Palette's own client does", "UID"),
    Option("upgrade-replaces", "palette: the uid of the attached cluster profile version --upgrade-profile "
           "replaces (default: the attached version with the same name)", "UID"),
)
