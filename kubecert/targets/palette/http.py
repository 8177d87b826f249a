"""The palette target's HTTP: one ``requests`` session, careful with the API key.

- Every call has a connect and a read timeout, and an overall time limit.
- Redirects are never followed automatically: one to the same origin is followed by hand (GET only);
  one to another host is refused, so the ``ApiKey`` header never reaches it.
- Reads (GET) are retried with backoff on 429 and 503, honouring a valid ``Retry-After``; writes never are.
- Bodies are read up to a size limit; a larger answer is an error, not memory exhaustion.
- Every body kept as evidence has every credential this client sent replaced by ``<redacted>``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import secrets
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import requests
import urllib3

from kubecert.inventory.platform import Exchange, Sent
from kubecert.inventory.safe_json import JsonError, JsonTooDeep, loads_bounded
from kubecert.targets.deadline import Deadline, WatchedAdapter
from kubecert.targets.errors import TargetUnavailable
from kubecert.targets.palette.retry_after import retry_after_s

REDACTED = "<redacted>"
_TEXT_LIMIT = 2000


@dataclass(frozen=True)
class HttpLimits:
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0
    total_timeout_s: float = 60.0
    max_body_bytes: int = 8 * 1024 * 1024
    read_retries: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 15.0
    max_redirects: int = 3


class Credential:
    """A secret value that never shows itself in repr, str or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Credential(<hidden>)"

    __str__ = __repr__


@dataclass(frozen=True)
class _Outgoing:
    method: str
    url: str
    path: str
    headers: dict[str, str]
    params: dict[str, Any] | None
    data: bytes | None
    sent: Sent


class ApiClient:
    def __init__(self, target: str, base_url: str, api_key: Credential, project: str | None, *,
                 verify: bool | str = True, limits: HttpLimits | None = None) -> None:
        self.target = target
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self.project = project
        self.limits = limits or HttpLimits()
        self._session = requests.Session()
        self._session.trust_env = False  # no .netrc credentials or proxy settings from the environment
        self._adapter = WatchedAdapter()
        self._deadline = Deadline(self._adapter, self.limits.total_timeout_s)  # the current exchange's
        self._session.mount("https://", self._adapter)
        self._session.mount("http://", self._adapter)
        self._session.verify = verify
        self._session.headers.update({"Accept": "application/json", "User-Agent": "kubecert"})
        self._sent_secrets: list[str] = [api_key.reveal()]

    def close(self) -> None:
        self._session.close()

    def wrong_key(self) -> str:
        """A well-formed key that is not the user's: for the checks that expect a refusal."""
        key = secrets.token_urlsafe(32)
        self._sent_secrets.append(key)
        return key

    def redact(self, text: str) -> str:
        for secret in self._sent_secrets:
            if secret:
                text = text.replace(secret, REDACTED)
        return text

    def echoed(self, text: str) -> bool:
        return any(secret and secret in text for secret in self._sent_secrets)

    def _decoded_redacted(self, document: Any) -> tuple[Any, bool]:
        """``_redact_document``, walked only when the decoded document holds a credential at all: one pass in
        C over its text tells, where walking a large answer in Python would cost seconds."""
        text = json.dumps(document, ensure_ascii=False)
        if not any(secret and (secret in text or json.dumps(secret)[1:-1] in text) for secret in self._sent_secrets):
            return document, False
        return self._redact_document(document)

    def _redact_document(self, value: Any) -> tuple[Any, bool]:
        """A decoded JSON answer with every credential removed from every string (keys too), and whether
        one was there: a body may spell the key with JSON escapes that only decoding reveals."""
        if isinstance(value, str):
            return self.redact(value), self.echoed(value)
        if isinstance(value, list):
            pairs = [self._redact_document(item) for item in value]
            return [item for item, _ in pairs], any(found for _, found in pairs)
        if isinstance(value, dict):
            items = [(self._redact_document(k), self._redact_document(v)) for k, v in value.items()]
            return {k: v for (k, _), (v, _) in items}, any(kf or vf for (_, kf), (_, vf) in items)
        return value, False

    # --- requests

    def request(
        self, method: str, path: str, *, key: str | bool | None = True, project: str | bool | None = True,
        params: dict[str, Any] | None = None, body: Any = None, content_type: str | None = None,
        sent: Sent = Sent.API_KEY,
    ) -> Exchange:
        """Send one request. ``key``/``project``: True the configured value, False/None none, a string
        that value. Transport failures raise TargetUnavailable with a one-line reason."""
        headers: dict[str, str] = {}
        chosen_key = self._key.reveal() if key is True else (key or None)
        if chosen_key:
            headers["ApiKey"] = chosen_key
        chosen_project = self.project if project is True else (project or None)
        if chosen_project:
            headers["ProjectUid"] = chosen_project
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type or "application/json"
        url = self.base_url + path
        started = time.monotonic()
        outgoing = _Outgoing(method, url, path, headers, params, data, sent)
        deadline = self._deadline = Deadline(self._adapter, self.limits.total_timeout_s)
        try:
            with deadline.running():
                return self._attempts(outgoing, started, deadline)
        except TargetUnavailable:
            if deadline.expired:
                raise TargetUnavailable(f"{self.target}: {deadline.message(f'{method} {path}')}") from None
            raise

    def _attempts(self, outgoing: _Outgoing, started: float, deadline: Deadline) -> Exchange:
        method, path = outgoing.method, outgoing.path
        attempt = 0
        while True:
            response, error = self._send(method, outgoing.url, headers=outgoing.headers, params=outgoing.params,
                                         data=outgoing.data, started=started)
            status = response.status_code if response is not None else None
            if method == "GET" and status in (429, 503) and attempt < self.limits.read_retries:
                wait = self._backoff(response, attempt)
                if time.monotonic() + wait - started < self.limits.total_timeout_s:
                    if response is not None:
                        response.close()
                    time.sleep(wait)
                    attempt += 1
                    continue
            exchange = self._exchange(method, path, sent=outgoing.sent, response=response, error=error,
                                      started=started)
            if deadline.expired and exchange.error is not None:
                return dataclasses.replace(exchange, error=deadline.message(f"{method} {path}"))
            return exchange

    def _backoff(self, response: requests.Response | None, attempt: int) -> float:
        wait: float = self.limits.backoff_s * (2 ** attempt)
        advised = retry_after_s(response.headers.get("Retry-After"), _utc_now()) if response is not None else None
        if advised is not None:
            wait = max(wait, advised)
        return min(wait, self.limits.max_backoff_s)

    def _send(self, method: str, url: str, *, headers: dict[str, str], params: dict[str, Any] | None,
              data: bytes | None, started: float) -> tuple[requests.Response | None, str | None]:
        for _ in range(self.limits.max_redirects + 1):
            try:
                response = self._request_once(method, url, headers=headers, params=params, data=data)
            except requests.exceptions.SSLError as exc:
                raise TargetUnavailable(
                    f"{self.target}: TLS verification of {_origin(url)} failed ({_reason(exc)}); give the server's "
                    "CA with --ca-bundle FILE") from None
            except requests.exceptions.Timeout:
                raise TargetUnavailable(f"{self.target}: {_origin(url)} did not answer {method} {_path(url)} within "
                                        f"{self.limits.read_timeout_s:g} s") from None
            except requests.exceptions.ConnectionError as exc:
                if _dropped(exc):
                    raise TargetUnavailable(f"{self.target}: {_origin(url)} closed the connection before answering "
                                            f"{method} {_path(url)}") from None
                raise TargetUnavailable(f"{self.target}: cannot connect to {_origin(url)} ({_reason(exc)})") from None
            except requests.exceptions.RequestException as exc:
                raise TargetUnavailable(f"{self.target}: request to {_origin(url)} failed: {_reason(exc)}") from None
            if not response.is_redirect:
                return response, None
            location = urllib.parse.urljoin(response.url, response.headers.get("Location", ""))
            response.close()
            if _origin(location) != _origin(url):
                return None, (f"redirected to another host ({_origin(location)}); not followed, so the API key was "
                              "not sent there")
            if method != "GET":
                return None, f"redirected ({location}); kubecert does not repeat a {method} at another address"
            if time.monotonic() - started > self.limits.total_timeout_s:
                break
            url, params = location, None
        return None, f"more than {self.limits.max_redirects} redirects"

    def _request_once(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One request. A GET that went out on a kept-alive connection the server was just closing (no answer
        at all) is sent once more, at once, on a new connection: servers close idle connections after a few
        seconds, and a poll interval of the same length races them. A write is never repeated."""
        send = functools.partial(self._session.request, method, url, allow_redirects=False, stream=True,
                                 timeout=(self.limits.connect_timeout_s, self.limits.read_timeout_s), **kwargs)
        try:
            return send()
        except requests.exceptions.ConnectionError as exc:
            if method != "GET" or not _dropped(exc) or self._deadline.expired:  # a cut by the deadline is final
                raise
            return send()

    def _exchange(self, method: str, path: str, *, sent: Sent, response: requests.Response | None,
                  error: str | None, started: float) -> Exchange:
        moment = _utc_now()
        if response is None:
            return Exchange(method, path, sent, None, elapsed_s=time.monotonic() - started, error=error, at=moment)
        try:
            body, error = self._read(response, started)
        finally:
            response.close()
        content_type = response.headers.get("Content-Type")
        raw = body.decode("utf-8", "replace")
        echoed = self.echoed(raw)
        text = self.redact(raw)
        document = None
        if body and content_type and "json" in content_type.lower():
            try:
                document, hidden = self._decoded_redacted(loads_bounded(raw))
            except JsonTooDeep as exc:
                error = error or f"the JSON answer is not used: {exc}"
            except JsonError:
                pass  # not JSON after all: the rules that need JSON say so
            else:
                if hidden and not echoed:  # escaped in the body: show it decoded, and redacted
                    text = json.dumps(document, ensure_ascii=False)
                echoed = echoed or hidden
        return Exchange(method, path, sent, response.status_code, content_type, time.monotonic() - started,
                        len(body), document, text[:_TEXT_LIMIT], error, moment, echoed)

    def _read(self, response: requests.Response, started: float) -> tuple[bytes, str | None]:
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > self.limits.max_body_bytes:
                    return b"".join(chunks), f"answer larger than {self.limits.max_body_bytes} bytes; not read"
                if time.monotonic() - started > self.limits.total_timeout_s:
                    return b"".join(chunks), f"answer not read within {self.limits.total_timeout_s:g} s"
                chunks.append(chunk)
        except requests.exceptions.RequestException as exc:
            return b"".join(chunks), f"answer cut short: {_reason(exc)}"
        return b"".join(chunks), None


def _dropped(exc: requests.exceptions.ConnectionError) -> bool:
    """The connection was closed with no answer (urllib3's ProtocolError), not refused or unreachable."""
    return bool(exc.args) and isinstance(exc.args[0], urllib3.exceptions.ProtocolError)


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme, 0)
    return f"{parts.scheme}://{parts.hostname}:{port}"


def _path(url: str) -> str:
    return urllib.parse.urlsplit(url).path


def _reason(exc: BaseException) -> str:
    """The innermost useful words of a requests/urllib3 error, on one line."""
    text = str(exc)
    for marker in ("certificate verify failed", "Connection refused", "Name or service not known",
                   "timed out", "No route to host", "wrong version number"):
        if marker in text:
            return marker
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
