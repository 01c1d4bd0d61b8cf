"""The bundled example repo shows every rule firing, on exactly the lines its markers name."""

from __future__ import annotations

from conftest import REPO, describe, lint

from netlint.run.registry import load_catalogue
from netlint.testing import expected_markers, mismatch_report, mismatches

EXAMPLES = REPO / "examples"
#: The example plugin's fixtures expect its own rule; examples/.netlint.yaml excludes them.
PLUGIN = EXAMPLES / "plugin"


def test_examples_fire_exactly_where_marked() -> None:
    codes = {rule.meta.code for rule in load_catalogue().rules}
    report = lint(EXAMPLES, config=EXAMPLES / ".netlint.yaml")
    markers = [
        m
        for m in expected_markers(EXAMPLES)
        if m.code in codes and not (EXAMPLES / m.path).is_relative_to(PLUGIN)
    ]
    missing, unexpected = mismatches(markers, report.findings)
    assert not missing and not unexpected, mismatch_report(missing, unexpected)


def test_the_example_plugin_is_not_part_of_the_shop() -> None:
    report = lint(EXAMPLES, config=EXAMPLES / ".netlint.yaml")
    assert expected_markers(PLUGIN), "the example plugin's fixtures have no markers"
    assert not [f for f in report.findings if f.span.path.startswith("plugin/")], describe(
        report.findings
    )


def test_every_rule_fires_in_the_examples() -> None:
    report = lint(EXAMPLES, config=EXAMPLES / ".netlint.yaml")
    fired = {f.code for f in report.findings}
    silent = {
        rule.meta.code
        for rule in load_catalogue().rules
        if rule.meta.code not in fired and rule.meta.code != "NL900"
    }
    assert not silent, f"rules that never fire in examples/: {sorted(silent)}"
