"""``kubecert rules [PATTERN ...]``: the catalog, or the rules the patterns choose, as text, JSON or Markdown."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Sequence

from kubecert._version import __version__
from kubecert.rules.catalog import Rule, all_rules, sources
from kubecert.rules.selection import NoRuleMatches, chosen_rules

EXIT_OK, EXIT_USAGE = 0, 3
WIDTH = 100


def add_rules(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("patterns", nargs="*", metavar="RULE",
                        help="rule ids or patterns to show, any case (KC-VAL-02, 'kc-val-*'); default every rule")
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print the rules as JSON")
    shape.add_argument("--markdown", action="store_true", help="print the rules as a Markdown table")
    parser.set_defaults(handler=run_rules)


def run_rules(args: argparse.Namespace) -> int:
    catalog = all_rules()
    try:
        rules = chosen_rules(catalog, args.patterns, option="")
    except NoRuleMatches as exc:
        print("\n".join(f"kubecert rules: {line}" for line in str(exc).splitlines()), file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        cited = {source for rule in rules for source in rule.sources}
        document = {"sources": {k: s.to_json() for k, s in sources().items() if k in cited or not args.patterns},
                    "rules": [r.to_json() for r in rules]}
        print(json.dumps(document, indent=2))
    elif args.markdown:
        print(rules_markdown(rules))
    else:
        if not args.patterns:
            implemented = sum(r.implemented for r in catalog)
            print(f"{len(catalog)} rules, {implemented} implemented in kubecert {__version__}\n")
        print("\n".join(_described(rule) for rule in rules))
    return EXIT_OK


def _described(rule: Rule) -> str:
    mark = "implemented" if rule.implemented else "not implemented yet"
    flags = ", disruptive" if rule.disruptive else ""
    facts = [f"sources: {', '.join(rule.sources)}"]
    for name, values in (("parameters", rule.parameters), ("needs", rule.capabilities), ("nodes", rule.roles)):
        if values:
            facts.append(f"{name}: {', '.join(values)}")
    lines = [f"{rule.id}  {rule.title}  [{mark}{flags}]", _paragraph(rule.statement), _paragraph("; ".join(facts))]
    lines += [_paragraph(f"{label}: {text}") for label, text in (("fix", rule.remediation), ("note", rule.note))
              if text]
    return "\n".join(lines)


def _paragraph(text: str) -> str:
    """Indented and wrapped at spaces only: identifiers such as front-proxy-client stay whole."""
    return textwrap.fill(text, WIDTH, initial_indent="    ", subsequent_indent="    ",
                         break_on_hyphens=False, break_long_words=False)


def rules_markdown(rules: Sequence[Rule]) -> str:
    """The catalog as the README shows it (a test keeps the two the same)."""
    lines = ["| ID | rule | sources | needs | nodes | implemented |", "|---|---|---|---|---|---|"]
    for rule in rules:
        needs = ", ".join(rule.capabilities) + (" (disruptive)" if rule.disruptive else "")
        implemented = "yes" if rule.implemented else "not yet (planned)"
        lines.append(f"| {rule.id} | {rule.title} | {', '.join(rule.sources)} | {needs} | {', '.join(rule.roles)} "
                     f"| {implemented} |")
    return "\n".join(lines)
