"""The catalog is the contract with users: every ID of the first catalog, each once, each with a source."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kubecert.inventory.facts import NodeFacts
from kubecert.profiles import Profile
from kubecert.rules import all_rules, catalog, get, sources
from kubecert.targets.pki import PkiTarget

# The IDs of the first catalog; reports and CI gates refer to them, so none may disappear or be renamed.
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


def test_a_rule_is_made_once_a_process() -> None:
    # Every check asks for its rule several times (its gate, its verdict, its report), for every target of a fleet.
    assert get("KC-VAL-01") is get("KC-VAL-01")
    assert [id(rule) for rule in all_rules()] == [id(get(rule.id)) for rule in all_rules()]


def test_unknown_rule_is_a_clear_error() -> None:
    with pytest.raises(catalog.UnknownRule, match="KC-NOPE-01 is not a kubecert rule"):
        get("KC-NOPE-01")


def test_registering_an_id_outside_the_catalog_fails() -> None:
    with pytest.raises(catalog.UnknownRule, match="not in the catalog"):
        catalog.implements("KC-NOPE-99")(lambda ctx: [])


# ---------------------------------------------------------------- adding a rule: catalog, function, fault


def test_every_rule_is_implemented_or_planned() -> None:
    """A catalog entry without a function is a mistake unless the catalog says it is planned; `kubecert rules`
    says a rule is implemented from the catalog alone, so the functions must agree with it."""
    unexplained = [r.id for r in all_rules() if r.function is None and not r.planned]
    assert unexplained == [], f"{unexplained}: add the function (@implements) or mark the entry planned = true"
    assert [r.id for r in all_rules() if r.function is not None and r.planned] == []
    assert all(r.implemented == (r.function is not None) for r in all_rules())


def test_each_rule_is_implemented_in_its_familys_module() -> None:
    """A run imports the family of each rule it judges and no other (a node's check none of the API's rules), so a
    function registered from another family's module would be missing whenever its own family is loaded alone."""
    elsewhere = {r.id: r.function.__module__ for r in all_rules() if r.function is not None
                 and not (r.function.__module__ + ".").startswith(catalog.family_module(r.family) + ".")}
    assert elsewhere == {}, "move each function into kubecert/rules/<its family> (catalog.toml's family)"


def test_each_action_and_probe_has_a_maker_and_the_catalog_uses_known_names() -> None:
    from kubecert.capabilities import CAPABILITIES, Action, Probe
    from kubecert.contexts import STEPS

    assert set(Action) | set(Probe) == STEPS
    for rule in all_rules():
        assert set(rule.capabilities) <= CAPABILITIES, rule.id
        assert not (rule.action and rule.probe), rule.id
        assert rule.disruptive or rule.action is None, rule.id


@pytest.mark.parametrize(("field", "value", "message"), [
    ("capabilities", ["x509", "x059"], "unknown capability 'x059'"),
    ("action", "renew-al", "unknown action 'renew-al'"),
    ("probe", "acess", "unknown probe 'acess'"),
    ("sources", ["PAL", "PALETTE"], "unknown source 'PALETTE'"),
    ("parameters", ["leaf_dayz"], "unknown parameter 'leaf_dayz'"),
    ("capabilites", ["x509"], "unknown field 'capabilites'"),
    ("roles", ["worker", "master"], "unknown role 'master'"),
    ("roles", [], "names at least one node role"),
])
def test_a_typo_in_the_catalog_is_an_error_at_load(field: str, value: object, message: str) -> None:
    """A misspelt name must not silently drop a rule (it would make no check and no result)."""
    entry = {"id": "KC-TEST-01", "family": "x", "title": "t", "statement": "s", "sources": ["PAL"],
             "citation": "c", field: value}
    with pytest.raises(catalog.CatalogError, match=message):
        catalog._validate(entry)


def test_an_action_makes_a_rule_disruptive() -> None:
    entry = {"id": "KC-TEST-01", "family": "x", "title": "t", "statement": "s", "sources": ["PAL"],
             "citation": "c", "action": "renew-all"}
    with pytest.raises(catalog.CatalogError, match="must be disruptive"):
        catalog._validate(entry)


def test_every_rule_a_node_folder_is_judged_by_says_which_nodes_it_concerns(tmp_path: Path) -> None:
    """Without roles a control-plane rule would judge a worker and find a wall of missing files."""
    folder = PkiTarget(f"pki:{tmp_path}", Profile("x"), {})
    undeclared = [rule.id for rule in all_rules() if folder.concerns(rule.capabilities) and not rule.roles]
    assert undeclared == []
    assert {rule.id for rule in all_rules() if "worker" in rule.roles} >= {f"KC-KLT-0{n}" for n in range(1, 6)}
# ---------------------------------------------------------------- remediation and sources


def test_every_implemented_rule_says_what_fixes_it() -> None:
    """kube-bench gives a remediation with every failure; so does kubecert, from the catalog."""
    without = [r.id for r in all_rules() if r.implemented and not r.remediation.strip()]
    assert without == [], f"{without}: add remediation = \"...\" (the command, platform action or mode that fixes it)"


@pytest.mark.parametrize("value", ["", "   ", 3, ["chmod 600"]])
def test_a_remediation_that_is_not_text_is_an_error_at_load(value: object) -> None:
    entry = {"id": "KC-TEST-01", "family": "x", "title": "t", "statement": "s", "sources": ["PAL"],
             "citation": "c", "remediation": value}
    with pytest.raises(catalog.CatalogError, match="KC-TEST-01: remediation must be non-empty text"):
        catalog._validate(entry)


def test_every_source_names_the_document_version_it_was_read_from() -> None:
    for key, source in sources().items():
        assert source.url.startswith("https://"), key
        assert source.version.strip(), key


@pytest.mark.parametrize(("source", "message"), [
    ({"title": "t", "url": "https://x"}, r"\[sources.X\]: version must be non-empty text"),
    ({"title": "t", "url": "https://x", "version": "1", "edition": "2"}, "unknown field 'edition'"),
])
def test_a_source_without_its_version_is_an_error_at_load(source: dict[str, str], message: str) -> None:
    with pytest.raises(catalog.CatalogError, match=message):
        catalog._validate_sources({"sources": {"X": source}})
