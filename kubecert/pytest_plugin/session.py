"""The plugin's state for one pytest session: the settings, the targets, and each target's contexts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest

from kubecert.contexts import TargetContexts
from kubecert.profiles import Profile, ProfileError, resolve
from kubecert.pytest_plugin.options import Settings
from kubecert.rules.catalog import Rule
from kubecert.targets.base import Target
from kubecert.targets.errors import TargetError
from kubecert.targets.registry import Registry

SESSION_KEY = pytest.StashKey["KubecertSession"]()
READS_KEY = "kubecert_reads"  # in an xdist worker's workeroutput: the targets it read


@dataclass
class KubecertSession:
    settings: Settings
    registry: Registry
    targets: dict[str, Target] = field(default_factory=dict)  # constructed up front, opened on first use
    contexts: dict[str, TargetContexts] = field(default_factory=dict)
    selected: dict[str, list[Rule]] = field(default_factory=dict)  # target → the rules it is judged by
    closed: bool = False
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @classmethod
    def start(cls, settings: Settings, registry: Registry) -> KubecertSession:
        """Validate every target and profile now, so a typo is a usage error before anything runs."""
        session = cls(settings, registry)
        identities: dict[str, str] = {}
        try:
            # Each listed target with its own profile (an inventory entry's), and the parts it stands for with it.
            listed = [(uri, entry) for entry in settings.targets
                      for uri in registry.expand([entry], settings.target_options)]
            registry.require_extras(uri for uri, _ in listed)  # every missing extra in one message
            for uri, entry in listed:
                if uri in session.targets:
                    continue
                target = registry.open(uri, session._profile_for(entry), settings.target_options, settings.facts)
                first = identities.setdefault(target.identity, uri)
                if first != uri:  # pki:/x/pki/ and pki:/y/../x/pki are one folder: check it once
                    target.progress(f"{uri} is {first} ({target.identity}); it is checked once, as {first}")
                    target.close()
                    continue
                session.targets[uri] = target
                session.contexts[uri] = TargetContexts(target, settings.at)
        except (TargetError, ProfileError) as exc:
            session.close()
            raise pytest.UsageError(str(exc)) from None
        return session

    def _profile_for(self, entry: str) -> Profile:
        spec = self.settings.target_profiles.get(entry, self.settings.profile)
        base = resolve(spec, self.registry.kind_of(entry).default_profile)
        return base.with_overrides(self.settings.overrides, origin="command line")

    def disruptive_allowed(self, uri: str) -> bool:
        return self.settings.allow_disruptive or self.registry.kind_of(uri).disruptive_by_default

    def read_targets(self) -> list[str]:
        """The targets this process read or acted on."""
        return [uri for uri, contexts in self.contexts.items() if contexts.used]

    def close(self) -> None:
        """Release every target, once: an xdist worker does it when its session finishes, and again at
        unconfigure is nothing."""
        if self.closed:
            return
        self.closed = True
        for target in self.targets.values():
            target.close()


def kubecert_session(config: pytest.Config) -> KubecertSession:
    return config.stash[SESSION_KEY]
