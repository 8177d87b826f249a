"""Who may call: the ``ApiKey`` header (or ``Authorization: Bearer``), the ``ProjectUid`` scope, and request
budgets.

The key is checked before any budget is charged: requests with the key spend the API's budget, requests
without it (or with a wrong one) a small one of their own, so an anonymous flood earns 429s for itself and
never for the callers who hold the key. With a per-address rate (Palette's resource limits: 10 requests a
second per IP), every request first spends its client address's budget, whatever it carries.

No ``ProjectUid`` means a tenant-scoped request, as in Palette: the tenant's key then sees every
project's clusters. A ``ProjectUid`` that is not one of the tenant's projects is refused (403); one
that does not own the cluster asked for gets 404, so that a cluster's existence is not revealed.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Header, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from kubecert.reference.api.errors import ApiError

# Declared as security schemes so that the OpenAPI document says how to authenticate; they never refuse
# by themselves (auto_error=False): the gate decides, so that every refusal has Palette's error shape.
API_KEY = APIKeyHeader(name="ApiKey", scheme_name="ApiKey", auto_error=False,
                       description="The tenant's API key.")
BEARER = HTTPBearer(scheme_name="Bearer", auto_error=False,
                    description="The same key in an Authorization bearer token (Palette takes a token there too).")


@dataclass(frozen=True)
class Caller:
    project_uid: str | None  # None: tenant scope


class RequestBudget:
    """A token bucket: ``rate`` requests a second on average, bursts up to ``burst``; 0 turns it off."""

    def __init__(self, rate: float, burst: float | None = None, *, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.rate, self.burst = rate, burst if burst is not None else rate * 2
        self._clock = clock
        self._tokens, self._at = self.burst, clock()
        self._lock = threading.Lock()

    def take(self) -> float:
        """0.0 when the request may go ahead, else how many seconds until it could."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate


class AddressBudgets:
    """One RequestBudget per client address, ``rate`` a second each (bursts of twice that); 0 turns them off.
    At most ``MAX_ADDRESSES`` are kept: the longest unused is forgotten first (it has its whole burst back)."""

    MAX_ADDRESSES = 4096

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._budgets: OrderedDict[str, RequestBudget] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, address: str) -> float:
        if self.rate <= 0:
            return 0.0
        with self._lock:
            budget = self._budgets.pop(address, None) or RequestBudget(self.rate, clock=self._clock)
            self._budgets[address] = budget
            while len(self._budgets) > self.MAX_ADDRESSES:
                self._budgets.popitem(last=False)
        return budget.take()


def anonymous_rate(rate: float) -> float:
    """The budget of requests without a valid key: a tenth of the API's (at least one a second), off with it."""
    return max(rate / 10, 1.0) if rate > 0 else 0.0


class Gate:
    def __init__(self, api_key: str, projects: set[str], *, check_key: bool, check_project: bool,
                 budget: RequestBudget, anonymous: RequestBudget, per_address: AddressBudgets | None = None) -> None:
        self._key = api_key.encode()
        self.projects = projects
        self.check_key, self.check_project = check_key, check_project
        self.budget, self.anonymous = budget, anonymous
        self.per_address = per_address or AddressBudgets(0)

    def __call__(
        self,
        request: Request,
        api_key: Annotated[str | None, Security(API_KEY)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
        project_uid: Annotated[str | None, Header(
            alias="ProjectUid", description="Scope the request to this project; without it, to the tenant.")] = None,
    ) -> Caller:
        sent = api_key or (bearer.credentials.strip() if bearer is not None else "")
        valid = not self.check_key or hmac.compare_digest(sent.encode(), self._key)
        address = request.client.host if request.client is not None else ""
        wait = self.per_address.take(address) or (self.budget if valid else self.anonymous).take()
        if wait:
            raise ApiError(429, "TooManyRequests", "request rate exceeded; retry later",
                           {"Retry-After": str(max(1, math.ceil(wait)))})
        if not sent and not valid:
            raise ApiError(401, "Unauthorized", "authentication required: send the ApiKey header")
        if not valid:
            raise ApiError(401, "Unauthorized", "the API key is not valid")
        project = project_uid or None
        if project is not None and project not in self.projects and self.check_project:
            raise ApiError(403, "ProjectNotFoundInTenant", "the project is not one of this tenant's projects")
        return Caller(project)
