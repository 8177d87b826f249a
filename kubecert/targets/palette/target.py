"""``palette:https://HOST[:PORT]?cluster=UID&project=UID``: a cluster through a Palette-like management API.

Works against any implementation of the documented routes (the Palette API specification), not only
kubecert's reference. The API key comes from an environment variable (``--api-key-env``, default
PALETTE_API_KEY) or a file (``--api-key-file``), never from the command line, and never appears in
output, evidence or reports. TLS is verified (``--ca-bundle`` for a private CA); turning verification
off warns loudly. Every route it calls is one of the Palette API's (the SDK's route list is
kubecert/reference/api/spec/routes.json). The SpectroCluster object, which the Palette API has no route for, is
annotated through the Kubernetes API that ``--palette-kubeconfig`` reaches (spc.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import secrets
import stat
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from kubecert.extras import MissingExtra, require
from kubecert.inventory.facts import NodeFacts
from kubecert.inventory.files import MAX_FILE_BYTES
from kubecert.inventory.platform import (
    AccessProbes,
    ClusterRead,
    Exchange,
    ListingOverwrite,
    Machine,
    PlatformObservation,
    RenewalRecord,
    Sample,
    Sent,
    UnauthenticatedRenewal,
    UpgradeRecord,
)
from kubecert.inventory.platform_inventory import PlatformInventory
from kubecert.profiles import Profile
from kubecert.targets.base import Target, logged_warning, split_uri
from kubecert.targets.cluster.access import KubeconfigAccess, KubeconfigRefused, access_from_file
from kubecert.targets.cluster.trust import KubeconfigTrust
from kubecert.targets.deadline import TimeBudget
from kubecert.targets.errors import TargetError, TargetUnavailable, TargetUnresponsive
from kubecert.targets.palette import (
    DEFAULT_KEY_ENV,
    DEFAULT_POLL_S,
    DEFAULT_REQUEST_DEADLINE_S,
    DEFAULT_TIME_BUDGET_S,
    parse,
    spc,
    upgrade,
    watch,
)
from kubecert.targets.palette.http import ApiClient, Credential, HttpLimits
from kubecert.userfiles import UserFileError, named, read_user_file

T = TypeVar("T")

_QUERY_KEYS = ("cluster", "project")
_MAX_PAGES = 100
# The cluster object read as the SDK's clients read it (api/client/v1/v1_spectro_clusters_get_parameters.go):
# the generated client's defaults, pack values resolved, and tags included. KC-API-08 wants the same cluster.
CLUSTER_QUERIES = ("includeNonSpectroLabels=false&resolvePackValues=false", "resolvePackValues=true",
                   "includeTags=system,profile")


@dataclasses.dataclass(frozen=True)
class Connection:
    """Where and as whom to talk to the API."""

    base_url: str
    cluster_uid: str
    project_uid: str | None
    api_key: Credential
    verify: bool | str  # True: system CAs; a path: that bundle; False: not verified
    kubeconfig: KubeconfigAccess | None = None  # --palette-kubeconfig, checked when the target is made


class PaletteTarget(Target):
    scheme = "palette"
    default_profile = "palette"

    def __init__(self, uri: str, profile: Profile, options: Mapping[str, Any], facts: NodeFacts | None = None) -> None:
        super().__init__(uri, _with_deadline(uri, profile, options), options, facts)
        self.poll_s = _positive(uri, options.get("poll-interval"), "--poll-interval", DEFAULT_POLL_S)
        deadline_s = _positive(uri, options.get("api-deadline"), "--api-deadline", DEFAULT_REQUEST_DEADLINE_S)
        self.limits = HttpLimits(connect_timeout_s=min(HttpLimits.connect_timeout_s, deadline_s),
                                 read_timeout_s=min(HttpLimits.read_timeout_s, deadline_s), total_timeout_s=deadline_s)
        self.budget = TimeBudget(_positive(uri, options.get("api-time-budget"), "--api-time-budget",
                                           DEFAULT_TIME_BUDGET_S), "--api-time-budget")
        self._connection: Connection | None = None
        self._client: ApiClient | None = None
        self._pools: list[tuple[str, bool]] | None = None
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.upgrade_asked: upgrade.UpgradeAsk | None = None  # KC-RPV-10's upgrade, when the user names one
        self._upgrade: upgrade.UpgradeRequest | None = None  # the same, as the API says it (read when first needed)
        self._check_config()

    # --- configuration

    def _check_config(self) -> None:
        """The user's URI and options, validated now: a mistake is a usage error before anything runs."""
        self._connection = connection_from(self.id, self.options)
        self.upgrade_asked = upgrade.ask_from(self.id, self.options)

    def connection(self) -> Connection:
        if self._connection is None:
            raise TargetUnavailable(f"{self.id}: not configured")
        return self._connection

    @property
    def cluster_uid(self) -> str:
        return self.connection().cluster_uid

    @property
    def kubeconfig(self) -> KubeconfigAccess | None:
        return self.connection().kubeconfig

    @property
    def settle_s(self) -> float:
        """How long a finished renewal must stay finished (and how long a refused one is watched)."""
        return max(3 * self.poll_s, 1.0)

    @property
    def capabilities(self) -> frozenset[str]:
        offered = {"api", "expiry", "machines", "renew"}
        if self._connection is not None and self._connection.kubeconfig is not None:
            offered.add("annotate")
        if self.upgrade_asked is not None:
            offered.add("upgrade")
        return frozenset(offered)

    def capability_reasons(self) -> dict[str, str]:
        return {"upgrade": upgrade.REASON, "annotate": spc.REASON}

    @property
    def upgrade_to(self) -> upgrade.UpgradeRequest | None:
        """The asked-for upgrade as the API says it: the new profile version's Kubernetes release and the attached
        version it replaces, read once (TargetUnavailable, saying what is missing, when they cannot be)."""
        if self._upgrade is None and self.upgrade_asked is not None:
            self._upgrade = upgrade.resolve(self.client(), self.id, self._cluster_path(), self.upgrade_asked)
        return self._upgrade

    @property
    def identity(self) -> str:
        if self._connection is None:
            return self.id
        c = self._connection
        return f"palette:{c.base_url.lower()}/{c.cluster_uid}" + (f"?project={c.project_uid}" if c.project_uid else "")

    def location(self) -> dict[str, str]:
        if self._connection is None:
            return {}
        c = self._connection
        tls = "NOT VERIFIED" if c.verify is False else (f"verified with {c.verify}" if isinstance(c.verify, str)
                                                         else "verified with the system's CAs")
        return {"api": c.base_url, "cluster": c.cluster_uid, "project": c.project_uid or "(tenant scope)",
                "tls": tls}

    def client(self) -> ApiClient:
        if self._client is None:
            c = self.connection()
            if c.verify is False:
                self.progress(f"WARNING: TLS verification is OFF for {self.id}: anyone between kubecert and "
                              f"{c.base_url} can read the API key and forge every answer")
                import urllib3

                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            self._client = ApiClient(self.id, c.base_url, c.api_key, c.project_uid, verify=c.verify,
                                     limits=self.limits, budget=self.budget)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    # --- reading the platform

    def _cluster_path(self, suffix: str = "") -> str:
        return f"/v1/spectroclusters/{urllib.parse.quote(self.connection().cluster_uid, safe='')}{suffix}"

    def _observe(self, now: dt.datetime) -> PlatformInventory:
        observation = self.look(now)
        return PlatformInventory(target=self.id, observed_at=observation.observed_at, platform=observation,
                                 location=self.location(), facts=self.declared)

    def observe_platform(self) -> PlatformObservation:
        inventory = self.observe()
        assert isinstance(inventory, PlatformInventory)
        assert inventory.platform is not None
        return inventory.platform

    def look(self, now: dt.datetime | None = None) -> PlatformObservation:
        """One full look: certificates, cluster object and machines. Raises TargetUnavailable when the
        certificates cannot be had at all (down, refused, unknown cluster)."""
        moment = now or _now()
        exchange = self.client().request("GET", self._cluster_path("/k8certificates"))
        _require(self.id, exchange, "the certificate listing")
        machines_certs, problems = parse.certificates(exchange.document)
        sample = self.sample(certificates=(exchange, machines_certs))
        problems += [sample.error] if sample.error else []
        return PlatformObservation(
            observed_at=moment, certificates_exchange=exchange, certificates=machines_certs, cluster=sample.cluster,
            machines=sample.machines if sample.error is None else None, problems=tuple(problems),
        )

    def sample(self, certificates: tuple[Exchange, Any] | None = None) -> Sample:
        """The platform now, for watching a renewal; a failure becomes the sample's error, not an exception."""
        moment = _now()
        try:
            cluster_ex = self.client().request("GET", self._cluster_path())
            cluster = parse.cluster(cluster_ex.document, self.connection().cluster_uid) \
                if cluster_ex.status == 200 else None
            if certificates is None:
                cert_ex = self.client().request("GET", self._cluster_path("/k8certificates"))
                certs = parse.certificates(cert_ex.document)[0] if cert_ex.status == 200 else ()
                if cert_ex.status != 200:
                    return Sample(moment, (), (), cluster, _failure("the certificate listing", cert_ex))
            else:
                certs = certificates[1]
            if cluster is None:
                return Sample(moment, (), certs, None, _failure("the cluster object", cluster_ex))
            machines, error = self._machines(cluster.cloud_type, cluster.config_uid)
        except TargetUnresponsive:
            raise  # nothing more will be asked: the look, and what waits on it, ends here
        except TargetUnavailable as exc:
            return Sample(moment, (), (), None, str(exc))
        return Sample(moment, tuple(machines), tuple(certs), cluster, error)

    def _machines(self, cloud_type: str | None, config_uid: str | None) -> tuple[list[Machine], str | None]:
        if not cloud_type or not config_uid:
            return [], "the cluster object names no spec.cloudType and spec.cloudConfigRef.uid"
        base = f"/v1/cloudconfigs/{urllib.parse.quote(cloud_type, safe='')}/{urllib.parse.quote(config_uid, safe='')}"
        if self._pools is None:
            config = self.client().request("GET", base)
            if config.status != 200:
                return [], _failure("the cloud config", config)
            self._pools = parse.pools(config.document)
            if not self._pools:
                return [], "the cloud config lists no spec.machinePoolConfig"
        found: list[Machine] = []
        # Workers first: a worker change seen before a control plane that is not yet done really came
        # first (the reads are not one snapshot; this order never shows a worker early by mistake).
        for pool, control_plane in sorted(self._pools, key=lambda p: p[1]):
            params: dict[str, Any] | None = {"limit": 50}
            offset = 0
            for _ in range(_MAX_PAGES):
                page = self.client().request("GET", f"{base}/machinePools/{urllib.parse.quote(pool, safe='')}/machines",
                                             params=params)
                if page.status != 200:
                    return [], _failure(f"the machines of pool {pool}", page)
                items = page.document.get("items") if isinstance(page.document, dict) else None
                items = items if isinstance(items, list) else []
                found += parse.machines(items, pool, control_plane)
                following = parse.next_page(page.document, offset, len(items))
                if following is None:
                    break
                offset = following.get("offset", offset + len(items))
                params = {"limit": 50, **following}
        return found, None

    # --- what the checks ask for (each done once per run and kept)

    def _once(self, key: str, make: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = make()
            return self._cache[key]  # type: ignore[no-any-return]

    def access_probes(self) -> AccessProbes:
        return self._once("probes", self._probe_access)

    def _probe_access(self) -> AccessProbes:
        client = self.client()
        try:
            self.observe()
        except TargetUnresponsive:
            raise
        except TargetUnavailable as exc:  # a wrong key, say: the probes' answers would mean nothing
            return AccessProbes(self.connection().cluster_uid, (), 0, echoed_elsewhere=tuple(client.echoes),
                                unavailable=str(exc))
        earlier = tuple(client.echoes)  # the observation's answers that repeated a credential
        certs, cluster = self._cluster_path("/k8certificates"), self._cluster_path()
        exchanges = []
        for path in (certs, cluster):
            exchanges.append(client.request("GET", path, key=None, sent=Sent.NO_KEY))
            exchanges.append(client.request("GET", path, key=client.wrong_key(), sent=Sent.WRONG_KEY))
        foreign = secrets.token_hex(12)
        exchanges.append(client.request("GET", certs, project=foreign, sent=Sent.FOREIGN_PROJECT))
        unknown = f"/v1/spectroclusters/{secrets.token_hex(12)}/k8certificates"
        exchanges.append(client.request("GET", unknown, sent=Sent.UNKNOWN_CLUSTER))
        probed = len(client.echoes)
        reads = tuple(self._cluster_read(query) for query in ("", *CLUSTER_QUERIES))
        # An answer of the reads that repeated a credential is KC-API-06's, as any answer outside the probe is.
        echoed = earlier + tuple(client.echoes[probed:])
        return AccessProbes(self.connection().cluster_uid, tuple(exchanges), secrets_sent=3, echoed_elsewhere=echoed,
                            cluster_reads=reads)

    def _cluster_read(self, query: str) -> ClusterRead:
        """The cluster object read with the key and ``query``, and what kubecert understands of it."""
        exchange = self.client().request("GET", self._cluster_path(), params=urllib.parse.parse_qs(query) or None)
        understood = exchange.status == 200 and isinstance(exchange.document, dict)
        return ClusterRead(query, exchange, parse.cluster(exchange.document, self.cluster_uid) if understood else None)

    def listing_overwrite(self) -> ListingOverwrite:
        return self._once("listing-overwrite", self._overwrite_listing)

    def _overwrite_listing(self) -> ListingOverwrite:
        """KC-API-07: a PUT cannot be asked read-only. The listing is read and sent back as it was, so that an API
        that wrongly takes one of these requests is given what it already had; then read again."""
        client = self.client()
        path = self._cluster_path("/k8certificates")
        before = client.request("GET", path)
        if before.status != 200 or not isinstance(before.document, dict):
            return ListingOverwrite(before, unavailable=_failure("the certificate listing", before))
        listing = before.document
        exchanges = (
            client.request("PUT", path, body=listing, key=None, sent=Sent.NO_KEY),
            client.request("PUT", path, body=listing, key=client.wrong_key(), sent=Sent.WRONG_KEY),
            client.request("PUT", path, body=listing, project=secrets.token_hex(12), sent=Sent.FOREIGN_PROJECT),
        )
        return ListingOverwrite(before, exchanges, client.request("GET", path))

    def renew(self, *, key: str | bool | None = True, sent: Sent = Sent.API_KEY) -> Exchange:
        return self.client().request("PATCH", self._cluster_path("/k8certificates/renew"), key=key, sent=sent)

    def renewal(self, controlplane_only: bool = False) -> RenewalRecord:
        if controlplane_only:
            return self._once("renewal-cp-only", lambda: watch.renew_controlplane_only(self))
        return self._once("renewal", lambda: watch.renew_and_watch(self))

    def unauthenticated_renewal(self) -> UnauthenticatedRenewal:
        return self._once("unauthenticated", lambda: watch.refused_renewal(self))

    def request_upgrade(self, wanted: upgrade.UpgradeRequest) -> Exchange:
        return self.client().request("PATCH", self._cluster_path("/profiles"), params=dict(upgrade.QUERY),
                                     body=wanted.body())

    def upgrade(self) -> UpgradeRecord:
        return self._once("upgrade", self._upgraded)

    def _upgraded(self) -> UpgradeRecord:
        record = watch.upgrade_and_watch(self)
        if self._upgrade is not None:
            record.replaces = self._upgrade.replaces
        return record

    # --- the SpectroCluster object's annotation

    def spc_annotation(self, name: str) -> str | None:
        return spc.read_annotation(self, name)

    def set_spc_annotation(self, name: str, value: str | None) -> None:
        spc.write_annotation(self, name, value)

    def cluster_name(self) -> str | None:
        cluster = self.observe_platform().cluster
        return cluster.name if cluster is not None else None


def connection_from(uri: str, options: Mapping[str, Any]) -> Connection:
    base, query = split_uri(uri, "palette", _QUERY_KEYS)
    parts = urllib.parse.urlsplit(base)
    if parts.scheme != "https" or not parts.hostname:
        raise TargetError(f"{uri}: give the API's HTTPS address, e.g. palette:https://api.spectrocloud.com"
                          "?cluster=UID&project=UID (plain http would send the API key in clear)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise TargetError(f"{uri}: the address is scheme://host[:port] only; options go after ?")
    cluster = query.get("cluster") or options.get("palette-cluster")
    if not cluster:
        raise TargetError(f"{uri}: which cluster? add ?cluster=UID or --palette-cluster UID")
    project = query.get("project") or options.get("palette-project") or None
    key = _api_key(uri, options)
    verify: bool | str = True
    bundle = options.get("ca-bundle")
    if options.get("insecure-skip-tls-verify"):
        verify = False
    elif bundle:
        verify = _ca_bundle(uri, Path(bundle))
    return Connection(f"https://{parts.netloc}", cluster, project, key, verify, _kubeconfig(uri, options))


def _kubeconfig(uri: str, options: Mapping[str, Any]) -> KubeconfigAccess | None:
    """--palette-kubeconfig, checked now: one that kubecert refuses is a usage error naming its field."""
    given = options.get("palette-kubeconfig")
    if not given:
        return None
    path = Path(given)
    try:
        read_user_file(path, "--palette-kubeconfig: the kubeconfig", MAX_FILE_BYTES)  # a typo's /dev/zero, now
    except UserFileError as exc:
        raise TargetError(f"{uri}: {exc}") from None
    try:
        require("cluster", f"{uri}: --palette-kubeconfig")
    except MissingExtra as exc:
        raise TargetError(str(exc)) from None
    try:
        return access_from_file(path, None, KubeconfigTrust.given(options))
    except KubeconfigRefused as exc:
        raise TargetError(f"{uri}: --palette-kubeconfig: {exc}") from None


MAX_KEY_CHARS = 4096
MAX_KEY_FILE_BYTES = 64 << 10
MAX_CA_BUNDLE_BYTES = 4 << 20  # Debian's whole ca-certificates.crt is some 220 KiB


def _ca_bundle(uri: str, path: Path) -> str:
    """Where the bundle really is, once read as a bounded regular file that holds a certificate (requests
    reads it again from there)."""
    try:
        bundle = read_user_file(path, "--ca-bundle", MAX_CA_BUNDLE_BYTES)
    except UserFileError as exc:
        raise TargetError(f"{uri}: {exc}") from None
    if b"-----BEGIN CERTIFICATE-----" not in bundle.data:
        raise TargetError(f"{uri}: {named('--ca-bundle', path)}: holds no PEM certificate")
    return str(bundle.real)


def _api_key(uri: str, options: Mapping[str, Any]) -> Credential:
    path = options.get("api-key-file")
    if path:
        try:
            found = read_user_file(Path(path), "--api-key-file", MAX_KEY_FILE_BYTES)
            text = found.data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise TargetError(f"{uri}: --api-key-file {path} is not UTF-8 text (the key is not shown)") from None
        except UserFileError as exc:
            raise TargetError(f"{uri}: {exc}") from None
        mode = found.mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            logged_warning(f"WARNING: the API key file {path} can be read by other users "
                           f"(mode {mode:04o}); chmod 600 it")
        if not text:
            raise TargetError(f"{uri}: --api-key-file {path} is empty")
        return _checked_key(uri, text, f"--api-key-file {path}")
    variable = options.get("api-key-env") or DEFAULT_KEY_ENV
    value = os.environ.get(variable, "").strip()
    if not value:
        raise TargetError(f"{uri}: no API key: set the environment variable {variable} or pass --api-key-file FILE")
    return _checked_key(uri, value, f"the environment variable {variable}")


def _checked_key(uri: str, key: str, where: str) -> Credential:
    """The key as a Credential, if an HTTP header can carry it; never echoed when it cannot."""
    if "\n" in key or "\r" in key:
        raise TargetError(f"{uri}: the API key in {where} has {len(key.splitlines())} lines; an API key is one "
                          "line (the key is not shown)")
    if len(key) > MAX_KEY_CHARS or not all(0x21 <= ord(c) <= 0x7E for c in key):
        raise TargetError(f"{uri}: the API key in {where} is not a header-safe token (printable ASCII, no spaces, "
                          f"at most {MAX_KEY_CHARS} characters); the key is not shown")
    return Credential(key)


def _with_deadline(uri: str, profile: Profile, options: Mapping[str, Any]) -> Profile:
    raw = options.get("renewal-deadline")
    if raw is None:
        return profile
    seconds = _positive(uri, raw, "--renewal-deadline", 0)
    return profile.with_overrides({"renewal_deadline_seconds": round(seconds)}, origin="--renewal-deadline")


def _positive(uri: str, raw: Any, name: str, default: float) -> float:
    if raw is None:
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise TargetError(f"{uri}: {name} {raw!r} is not a number of seconds") from None
    if value <= 0:
        raise TargetError(f"{uri}: {name} must be more than 0 seconds")
    return value


def _require(target: str, exchange: Exchange, what: str) -> None:
    """The certificate listing is the one read without which nothing can be checked."""
    if exchange.status == 200:
        return
    raise TargetUnavailable(f"{target}: {_failure(what, exchange)}")


def _failure(what: str, exchange: Exchange) -> str:
    if exchange.status is None:
        return f"{what} ({exchange.method} {exchange.path}) could not be read: {exchange.error}"
    hint = {401: " (is the API key right?)", 403: " (does the key's user have access to the project?)",
            404: " (is the cluster uid right, and in this project?)"}.get(exchange.status, "")
    code = exchange.document.get("code") if isinstance(exchange.document, dict) else None
    said_code = f" {code}" if code else ""
    why = f" ({exchange.error})" if exchange.error else ""  # a Retry-After refused, a body too large
    return f"{what}: {exchange.method} {exchange.path} answered {exchange.status}{said_code}{hint}{why}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
