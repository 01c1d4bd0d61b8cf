"""Rule contract v2's old names: a renamed rule keeps its config, selection and suppressions."""

from __future__ import annotations

from pathlib import Path

from netlint.api import Rule, RuleMeta, Severity
from netlint.run.config import load_config
from netlint.run.registry import Catalogue, is_selected

META = RuleMeta(
    code="XX101",
    name="new-name",
    severity=Severity.WARNING,
    summary="A renamed rule.",
    why="It was renamed.",
    fix="Nothing.",
    old_names=("old-name",),
)


class Renamed(Rule):
    meta = META


def test_an_old_name_answers_wherever_a_name_does(tmp_path: Path) -> None:
    assert META.answers_to("old-name") and META.answers_to("OLD-NAME")
    assert META.answers_to("xx101") and META.answers_to("new-name")
    assert not META.answers_to("other")
    rule = Renamed()
    assert Catalogue((rule,), ()).find("old-name") is rule
    assert is_selected(META, ["old-name"], [])
    config = tmp_path / ".netlint.yaml"
    config.write_text("rules:\n  old-name: {severity: error}\n")
    loaded = load_config(config, tmp_path, [rule], explicit=True)
    assert loaded.severity_for(META) is Severity.ERROR
