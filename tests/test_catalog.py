"""The catalog is the contract with users: every ID of the first catalog, each once, each with a source."""

from __future__ import annotations

import re

import pytest

from kubecert.inventory.facts import NodeFacts
from kubecert.profiles import Profile
from kubecert.rules import all_rules, catalog, get, sources

# The IDs RULES.md defines; reports and CI gates refer to them, so none may disappear or be renamed.
CATALOG_IDS = (
    [f"KC-INV-0{i}" for i in range(1, 5)] + [f"KC-VAL-0{i}" for i in range(1, 5)] + ["KC-EXP-01"]
    + [f"KC-X509-0{i}" for i in range(1, 7)] + [f"KC-ID-0{i}" for i in range(1, 4)]
    + [f"KC-FILE-0{i}" for i in range(1, 4)] + [f"KC-KCFG-0{i}" for i in range(1, 4)] + ["KC-EXT-01"]
    + [f"KC-REN-0{i}" for i in range(1, 8)] + ["KC-CSR-01", "KC-CSR-02", "KC-CHK-01", "KC-UPG-01"]
    + [f"KC-API-0{i}" for i in range(1, 7)] + [f"KC-RPV-0{i}" for i in range(1, 10)]
    + [f"KC-CL-0{i}" for i in range(1, 5)]
)
STATIC_IDS = CATALOG_IDS[:25]


def test_every_catalog_id_is_present_once() -> None:
    ids = [rule.id for rule in all_rules()]
    assert len(ids) == len(set(ids))
    assert set(CATALOG_IDS) <= set(ids)


def test_ids_are_well_formed_and_families_have_modules() -> None:
    for rule in all_rules():
        assert re.fullmatch(r"KC-[A-Z0-9]+-\d{2}", rule.id), rule.id
        assert rule.statement and rule.title and rule.citation, rule.id


def test_every_rule_names_known_sources_and_parameters() -> None:
    known_sources = set(sources())
    parameters = set(Profile("x").parameters()) | set(NodeFacts.FIELDS)
    for rule in all_rules():
        assert rule.sources and set(rule.sources) <= known_sources, rule.id
        assert set(rule.parameters) <= parameters, (rule.id, set(rule.parameters) - parameters)


def test_static_rules_are_implemented() -> None:
    implemented = {rule.id for rule in all_rules() if rule.implemented}
    assert set(STATIC_IDS) <= implemented


def test_disruptive_rules_are_the_ones_that_change_a_target() -> None:
    disruptive = {rule.id for rule in all_rules() if rule.disruptive}
    assert {"KC-REN-01", "KC-CSR-01", "KC-UPG-01", "KC-RPV-01"} <= disruptive
    assert not disruptive & set(STATIC_IDS)
    assert "KC-CHK-01" not in disruptive  # listing expirations changes nothing


def test_unknown_rule_is_a_clear_error() -> None:
    with pytest.raises(catalog.UnknownRule, match="KC-NOPE-01 is not a kubecert rule"):
        get("KC-NOPE-01")


def test_registering_an_id_outside_the_catalog_fails() -> None:
    with pytest.raises(catalog.UnknownRule, match="not in the catalog"):
        catalog.implements("KC-NOPE-99")(lambda ctx: [])
