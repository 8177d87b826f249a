"""Profiles: the built-ins follow their sources; a user's file overrides and is validated by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubecert.profiles import BUILTIN, ProfileError, check_spec, load_file, resolve


def test_builtins_follow_their_sources() -> None:
    assert (BUILTIN["kubeadm"].leaf_days, BUILTIN["kubeadm"].ca_days) == (365, 3650)
    assert (BUILTIN["palette"].leaf_days, BUILTIN["palette"].ca_days) == (365, 3652)
    # The 2023 page repaves, today's renews in place: the palette profile judges the mode the platform shows.
    assert BUILTIN["palette"].renewal_mode == "auto"
    assert BUILTIN["kubeadm"].min_remaining_days == 30


def test_auto_picks_the_targets_default() -> None:
    assert resolve("auto", "palette").name == "palette"
    assert resolve("auto", "kubeadm").name == "kubeadm"


def test_user_file_extends_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text("extends: palette\nmin_remaining_days: 60\nfile_modes: cis\nextra_sans: [api.acme.test]\n")
    profile, facts = load_file(path)
    assert (profile.name, profile.ca_days, profile.min_remaining_days) == ("acme", 3652, 60)
    assert profile.file_modes == "cis"
    # node facts are declarations beside the profile, not policy inside it
    assert facts.extra_sans == ("api.acme.test",) and "extra_sans" not in profile.parameters()
    assert facts.source("extra_sans") == "declared in acme.yaml"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("leaf_dayz: 365\n", "unknown profile parameter 'leaf_dayz'"),
        ("leaf_days: soon\n", "leaf_days must be a whole number"),
        ("renewal_mode: sideways\n", "renewal_mode must be one of auto, in-place, repave"),
        ("extends: openshift\n", "extends: 'openshift' is not a built-in profile"),
        ("service_cidr: 10.96.0.0/33\n", "service_cidr '10.96.0.0/33' is not a network"),
        ("- a list\n", "a profile is a mapping"),
        ("leaf_days: [\n", "invalid YAML"),
    ],
)
def test_bad_profile_names_file_and_parameter(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(ProfileError, match=message) as raised:
        load_file(path)
    assert str(path) in str(raised.value)


def test_unknown_profile_name_lists_the_choices() -> None:
    with pytest.raises(ProfileError, match="neither a built-in profile"):
        check_spec("kubeadmm")


def test_the_shipped_report_schema_is_the_one_the_report_types_generate() -> None:
    from kubecert.reports.schema import generate, shipped

    regenerate = "python -m kubecert.reports.schema > kubecert/reports/report.schema.json"
    assert shipped() == generate(), f"regenerate it: {regenerate}"


def test_a_part_whose_extra_is_missing_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from kubecert.inventory.facts import NodeFacts
    from kubecert.targets.errors import TargetError
    from kubecert.targets.registry import Registry

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a))
    with pytest.raises(TargetError, match=r"reference:palette needs kubecert's 'reference' extra \(fastapi not "
                                          r"installed\): pip install 'kubecert\[reference\]'"):
        Registry().open("reference:palette", BUILTIN["palette"], {}, NodeFacts())
    # the parts that need nothing more still open
    Registry().open("reference:pki", BUILTIN["palette"], {}, NodeFacts()).close()
