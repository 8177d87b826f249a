"""The palette target's HTTP: one ``requests`` session, careful with the API key.

- Every call has a connect and a read timeout and a deadline for the whole exchange, and all of a target's
  calls together a time budget. A call that hits a timeout or the deadline marks the API unresponsive: every
  later call fails at once with the first deadline's words, without sending anything.
- Redirects are never followed automatically: one to the same origin is followed by hand (GET only);
  one to another host is refused, so the ``ApiKey`` header never reaches it.
- Every request is retried with backoff on 429 (the API did not take it: Palette's resource limits answer
  ``TooManyRequests`` past 10 requests a second per IP), reads on 503 too, honouring a valid ``Retry-After``;
  a write answered anything else is never sent again. A ``Retry-After`` longer than kubecert waits is refused,
  never cut short: the answer stands, with an error naming the value and the bound. (urllib3's ``Retry`` would
  cut it to its maximum and sleep that, and reads dates more loosely than retry_after.py: a subclass that
  undoes both, hears the answers it retries and does not drain their bodies is more than twice this loop's length.)
- Bodies are read up to a size limit; a larger answer is an error, not memory exhaustion.
- Everything the server said (status line, headers, redirect address, body, the errors they cause) passes
  through one place, ``_Heard``, that hides every credential this client sent, in every spelling
  (kubecert.secret_text), and records where the server repeated one: KC-API-06's finding.
"""

from __future__ import annotations

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
from kubecert.secret_text import REDACTED, SecretText
from kubecert.targets.deadline import Deadline, TimeBudget, WatchedAdapter
from kubecert.targets.errors import TargetUnavailable, TargetUnresponsive
from kubecert.targets.palette.retry_after import retry_after_s
from kubecert.text import escaped

__all__ = ["REDACTED", "ApiClient", "Credential", "HttpLimits"]

_TEXT_LIMIT = 2000
_HEADER_NAME_SHOWN = 64


@dataclass(frozen=True)
class HttpLimits:
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0
    total_timeout_s: float = 60.0
    max_body_bytes: int = 8 * 1024 * 1024
    retries: int = 4
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

    @property
    def request(self) -> str:
        return f"{self.method} {self.path}"


class _Heard:
    """What the server said during one exchange, hidden of every credential as it comes in, with the places
    where one was repeated."""

    def __init__(self, secret_text: SecretText) -> None:
        self._secret_text = secret_text
        self.echoed: list[str] = []

    def text(self, said: str, where: str) -> str:
        hidden, found = self._secret_text.hide_found(said)
        if found and where not in self.echoed:
            self.echoed.append(where)
        return hidden

    def document(self, document: Any, where: str) -> Any:
        # One pass in C over the text tells whether the walk in Python is needed at all (a large answer).
        if not self._secret_text.found(json.dumps(document, ensure_ascii=False)):
            return document
        hidden, _ = self._secret_text.hide_document(document)
        if where not in self.echoed:
            self.echoed.append(where)
        return hidden

    def error(self, said: str) -> str:
        """An error's words: most quote what was already looked at (a Location); where one quotes the server
        first (a urllib3 error naming a bad chunk length), that is where the echo was."""
        hidden, found = self._secret_text.hide_found(said)
        if found and not self.echoed:
            self.echoed.append("an error it caused")
        return hidden

    def response(self, response: requests.Response) -> None:
        """The status line and every header: hidden where shown, here only looked at for echoes."""
        self.text(f"{response.status_code} {response.reason or ''}", "the status line")
        for name, value in response.headers.items():
            shown_name = escaped(self.text(name, "a header's name")[:_HEADER_NAME_SHOWN])
            self.text(value, f"the {shown_name} header")


class ApiClient:
    def __init__(self, target: str, base_url: str, api_key: Credential, project: str | None, *,
                 verify: bool | str = True, limits: HttpLimits | None = None, budget: TimeBudget | None = None
                 ) -> None:
        self.target = target
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self.project = project
        self.limits = limits or HttpLimits()
        self.budget = budget or TimeBudget(float("inf"), "no budget")
        self._session = _ManualRedirects()
        self._session.trust_env = False  # no .netrc credentials or proxy settings from the environment
        self._adapter = WatchedAdapter()
        self._deadline = Deadline(self._adapter, self.limits.total_timeout_s)  # the current exchange's
        self._session.mount("https://", self._adapter)
        self._session.mount("http://", self._adapter)
        self._session.verify = verify
        self._session.headers.update({"Accept": "application/json", "User-Agent": "kubecert"})
        self._secret_text = SecretText([api_key.reveal()])
        self.unresponsive: str | None = None  # the first deadline hit: no request is sent after it
        # (request, where in the answer) of each answer that repeated a credential: ("GET /p (api key)", ("the body",))
        self.echoes: list[tuple[str, tuple[str, ...]]] = []

    def close(self) -> None:
        self._session.close()

    def wrong_key(self) -> str:
        """A well-formed key that is not the user's: for the checks that expect a refusal."""
        key = secrets.token_urlsafe(32)
        self._secret_text.add(key)
        return key

    # --- requests

    def request(
        self, method: str, path: str, *, key: str | bool | None = True, project: str | bool | None = True,
        params: dict[str, Any] | None = None, body: Any = None, content_type: str | None = None,
        sent: Sent = Sent.API_KEY,
    ) -> Exchange:
        """Send one request. ``key``/``project``: True the configured value, False/None none, a string
        that value. Transport failures raise TargetUnavailable with a one-line reason, a deadline or the
        spent budget TargetUnresponsive."""
        if self.unresponsive is not None:
            raise TargetUnresponsive(f"{self.target}: {method} {path} not sent: {self.unresponsive}")
        self.budget.start()
        allowed = self.budget.remaining()
        if allowed <= 0:
            self.unresponsive = self.budget.message()
            raise TargetUnresponsive(f"{self.target}: {method} {path} not sent: {self.unresponsive}")
        outgoing = self._outgoing(method, path, key=key, project=project, params=params, body=body,
                                  content_type=content_type, sent=sent)
        heard = _Heard(self._secret_text)
        by_budget = allowed < self.limits.total_timeout_s
        deadline = self._deadline = Deadline(self._adapter, min(allowed, self.limits.total_timeout_s))
        started = time.monotonic()
        try:
            with deadline.running():
                exchange = self._attempts(outgoing, heard, started, deadline)
        except TargetUnavailable as exc:
            cut = deadline.expired or time.monotonic() - started >= deadline.seconds
            said = str(exc)
            if cut:
                said = f"{self.target}: " + (f"{outgoing.request} was cut: {self.budget.message()}" if by_budget
                                             else deadline.message(outgoing.request))
            said = heard.error(said)
            self._remember_echo(outgoing, heard)
            if cut or isinstance(exc, TargetUnresponsive):
                if self.unresponsive is None:
                    self.unresponsive = f"the API stopped answering earlier ({said.removeprefix(f'{self.target}: ')})"
                raise TargetUnresponsive(said) from None
            raise TargetUnavailable(said) from None
        self._remember_echo(outgoing, heard)
        return exchange

    def _outgoing(self, method: str, path: str, *, key: str | bool | None, project: str | bool | None,
                  params: dict[str, Any] | None, body: Any, content_type: str | None, sent: Sent) -> _Outgoing:
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
        return _Outgoing(method, self.base_url + path, path, headers, params, data, sent)

    def _remember_echo(self, outgoing: _Outgoing, heard: _Heard) -> None:
        if heard.echoed:
            self.echoes.append((f"{outgoing.request} ({outgoing.sent})", tuple(heard.echoed)))

    def _attempts(self, outgoing: _Outgoing, heard: _Heard, started: float, deadline: Deadline) -> Exchange:
        attempt = 0
        while True:
            response, error = self._send(outgoing, heard, started)
            status = response.status_code if response is not None else None
            if (status == 429 or (outgoing.method == "GET" and status == 503)) and attempt < self.limits.retries:
                wait, error = self._backoff(response, attempt)
                error = error or self._wait_refused(wait, started, deadline)
                if error is None:
                    if response is not None:
                        response.close()
                    time.sleep(wait)
                    attempt += 1
                    continue
            exchange = self._exchange(outgoing, heard, response=response, error=error, started=started)
            if exchange.error is not None and (deadline.expired or time.monotonic() - started > deadline.seconds):
                raise TargetUnresponsive(f"{self.target}: {deadline.message(outgoing.request)}")
            return exchange

    def _backoff(self, response: requests.Response | None, attempt: int) -> tuple[float, str | None]:
        """How long to wait before sending again: the backoff, or longer where the server says so; and why not at
        all when it asks for longer than kubecert waits (a wait never cut short: not sent again before it said)."""
        wait: float = min(self.limits.backoff_s * (2 ** attempt), self.limits.max_backoff_s)
        said = response.headers.get("Retry-After") if response is not None else None
        advised = retry_after_s(said, _utc_now())
        if advised is None or advised <= self.limits.max_backoff_s:
            return max(wait, advised or 0.0), None
        return wait, (f"not sent again: Retry-After: {escaped(said or '')} asks for {advised:.0f} s, more than "
                      f"kubecert waits ({self.limits.max_backoff_s:g} s)")

    def _wait_refused(self, wait: float, started: float, deadline: Deadline) -> str | None:
        """Why a wait is not begun: it would end past the exchange's deadline (the sooner of its own and what is
        left of the target's time budget), where the request could not be sent anyway."""
        if time.monotonic() + wait - started < deadline.seconds:
            return None
        bound = ("the exchange's deadline" if deadline.seconds >= self.limits.total_timeout_s
                 else f"what is left of the target's time budget ({self.budget.option})")
        return f"not sent again: a wait of {wait:g} s would pass {bound}: {deadline.seconds:g} s from its start"

    def _send(self, outgoing: _Outgoing, heard: _Heard, started: float
              ) -> tuple[requests.Response | None, str | None]:
        method, url, params = outgoing.method, outgoing.url, outgoing.params
        for _ in range(self.limits.max_redirects + 1):
            response = self._request_once(outgoing, url, params)
            heard.response(response)
            if not response.is_redirect:
                return response, None
            location = heard.text(response.headers.get("Location", ""), "the Location header")
            next_url, refused = _redirect(response.url, response.headers.get("Location", ""))
            response.close()
            if refused is not None:
                return None, f"redirected to {refused}; not followed, so the API key was not sent there"
            assert next_url is not None
            if method != "GET":
                return None, f"redirected ({location}); kubecert does not repeat a {method} at another address"
            if time.monotonic() - started > self._deadline.seconds:
                break
            url, params = next_url, None
        return None, f"more than {self.limits.max_redirects} redirects"

    def _request_once(self, outgoing: _Outgoing, url: str, params: dict[str, Any] | None) -> requests.Response:
        """One request, its transport failures as TargetUnavailable. A GET that went out on a kept-alive
        connection the server was just closing (no answer at all) is sent once more, at once, on a new
        connection: servers close idle connections after a few seconds, and a poll interval of the same
        length races them. A write is never repeated."""
        method = outgoing.method
        read_timeout = min(self.limits.read_timeout_s, self._deadline.seconds)
        send = functools.partial(self._session.request, method, url, allow_redirects=False, stream=True,
                                 timeout=(self.limits.connect_timeout_s, read_timeout), params=params,
                                 headers=outgoing.headers, data=outgoing.data)
        try:
            try:
                return send()
            except requests.exceptions.ConnectionError as exc:
                if method != "GET" or not _dropped(exc) or self._deadline.expired:  # a cut by the deadline is final
                    raise
                return send()
        except requests.exceptions.SSLError as exc:
            raise TargetUnavailable(
                f"{self.target}: TLS verification of {_origin(url)} failed ({_reason(exc)}); give the server's "
                "CA with --ca-bundle FILE") from None
        except requests.exceptions.ConnectTimeout:
            raise TargetUnresponsive(f"{self.target}: {_origin(url)} could not be reached within "
                                     f"{self.limits.connect_timeout_s:g} s") from None
        except requests.exceptions.Timeout:
            raise TargetUnresponsive(f"{self.target}: {_origin(url)} did not answer {method} {_path(url)} within "
                                     f"{read_timeout:g} s") from None
        except requests.exceptions.ConnectionError as exc:
            if _dropped(exc):
                raise TargetUnavailable(f"{self.target}: {_origin(url)} closed the connection before answering "
                                        f"{method} {_path(url)}") from None
            raise TargetUnavailable(f"{self.target}: cannot connect to {_origin(url)} ({_reason(exc)})") from None
        except requests.exceptions.RequestException as exc:
            raise TargetUnavailable(f"{self.target}: request to {_origin(url)} failed: {_reason(exc)}") from None

    def _exchange(self, outgoing: _Outgoing, heard: _Heard, *, response: requests.Response | None,
                  error: str | None, started: float) -> Exchange:
        """The exchange as evidence: every string in it is what ``heard`` let through."""
        method, path, sent = outgoing.method, outgoing.path, outgoing.sent
        moment = _utc_now()
        if response is None:
            return Exchange(method, path, sent, None, elapsed_s=time.monotonic() - started,
                            error=heard.error(error or "") or None, at=moment, echoed=tuple(heard.echoed))
        try:
            body, unread = self._read(response, started)
        finally:
            response.close()
        error = "; ".join(filter(None, (error, unread))) or None  # a Retry-After refused, and a body not read
        content_type = response.headers.get("Content-Type")
        raw = body.decode("utf-8", "replace")
        text = heard.text(raw, "the body")
        document = None
        if body and content_type and "json" in content_type.lower():
            try:
                document = heard.document(loads_bounded(raw), "the body")
            except JsonTooDeep as exc:
                error = error or f"the JSON answer is not used: {exc}"
            except JsonError:
                pass  # not JSON after all: the rules that need JSON say so
        return Exchange(method, path, sent, response.status_code,
                        heard.text(content_type, "the Content-Type header") if content_type else None,
                        time.monotonic() - started, len(body), document, text[:_TEXT_LIMIT],
                        heard.error(error) if error else None, moment, tuple(heard.echoed))

    def _read(self, response: requests.Response, started: float) -> tuple[bytes, str | None]:
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > self.limits.max_body_bytes:
                    return b"".join(chunks), f"answer larger than {self.limits.max_body_bytes} bytes; not read"
                if time.monotonic() - started > self._deadline.seconds:
                    return b"".join(chunks), f"answer not read within {self._deadline.seconds:g} s"
                chunks.append(chunk)
        except requests.exceptions.RequestException as exc:
            return b"".join(chunks), f"answer cut short: {_reason(exc)}"
        return b"".join(chunks), None


class _ManualRedirects(requests.Session):
    """A session that leaves redirects to ``_send``: requests would parse a redirect's Location even when told
    not to follow it (to offer ``Response.next``), and a hostile one ("https://[x") raises a bare ValueError."""

    def get_redirect_target(self, resp: requests.Response) -> None:
        return None


def _redirect(current: str, location: str) -> tuple[str | None, str | None]:
    """(the address to follow, None), or (None, where it leads and why that is refused): a redirect is followed
    only to the same scheme, host and port, and never to an address with user credentials in it."""
    if not location:
        return None, "no address (a redirect without Location)"
    try:
        joined = urllib.parse.urljoin(current, location)
        target = _origin(joined)
        userinfo = urllib.parse.urlsplit(joined).username is not None
    except ValueError:
        return None, "an address that is not a URL"
    if target != _origin(current):
        return None, f"another host ({target})"
    if userinfo:
        return None, "an address with user credentials in it"
    return joined, None


def _dropped(exc: requests.exceptions.ConnectionError) -> bool:
    """The connection was closed with no answer (urllib3's ProtocolError), not refused or unreachable."""
    return bool(exc.args) and isinstance(exc.args[0], urllib3.exceptions.ProtocolError)


def _origin(url: str) -> str:
    """scheme://host:port; ValueError when the port is not one."""
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
