"""The plugin's state for one pytest session: settings, the targets, and (on the controller) results."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest

from kubecert.plugins.options import Settings
from kubecert.plugins.targets import Registry, Target, TargetError
from kubecert.rules.profiles import Profile, ProfileError, resolve

SESSION_KEY = pytest.StashKey["KubecertSession"]()


@dataclass
class KubecertSession:
    settings: Settings
    registry: Registry
    targets: dict[str, Target] = field(default_factory=dict)  # constructed up front, opened on first use
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # report results by nodeid
    target_facts: dict[str, dict[str, Any]] = field(default_factory=dict)  # what each target said of itself
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    collected: int = 0

    @classmethod
    def start(cls, settings: Settings, registry: Registry) -> KubecertSession:
        """Validate every target and profile now, so a typo is a usage error before anything runs."""
        session = cls(settings, registry)
        try:
            for uri in registry.expand(settings.targets):
                session.targets[uri] = registry.open(uri, session._profile_for(uri), settings.target_options)
        except (TargetError, ProfileError) as exc:
            raise pytest.UsageError(str(exc)) from None
        return session

    def _profile_for(self, uri: str) -> Profile:
        base = resolve(self.settings.profile, self.registry.kind_of(uri).default_profile)
        return base.with_overrides(self.settings.overrides, origin="command line")

    def disruptive_allowed(self, uri: str) -> bool:
        return self.settings.allow_disruptive or self.registry.kind_of(uri).disruptive_by_default

    def close(self) -> None:
        for target in self.targets.values():
            target.close()


def kubecert_session(config: pytest.Config) -> KubecertSession:
    return config.stash[SESSION_KEY]
