"""The bundled example repo shows every rule firing, on exactly the lines its markers name."""

from __future__ import annotations

from conftest import REPO, describe, expected_markers, found, lint

from netlint.run.registry import load_catalogue

EXAMPLES = REPO / "examples"


def test_examples_fire_exactly_where_marked() -> None:
    codes = {rule.meta.code for rule in load_catalogue().rules}
    files = sorted(p for p in EXAMPLES.rglob("*.yaml") if p.name != ".netlint.yaml")
    report = lint(EXAMPLES, config=EXAMPLES / ".netlint.yaml")
    expected = {m for m in expected_markers(EXAMPLES, files) if m[2] in codes}
    actual = {(f"{f[0]}", f[1], f[2]) for f in found(report)}
    assert actual == expected, describe(report.findings)


def test_every_rule_fires_in_the_examples() -> None:
    report = lint(EXAMPLES, config=EXAMPLES / ".netlint.yaml")
    fired = {f.code for f in report.findings}
    silent = {
        rule.meta.code
        for rule in load_catalogue().rules
        if rule.meta.code not in fired and rule.meta.code != "NL900"
    }
    assert not silent, f"rules that never fire in examples/: {sorted(silent)}"
