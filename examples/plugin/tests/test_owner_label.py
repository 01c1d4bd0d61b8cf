"""EX101 against its fixtures, with netlint.testing: each file's `# expect:` markers name the
findings it must get (line, and here column and message text too)."""

from __future__ import annotations

from pathlib import Path

from netlint.testing import assert_markers

FIXTURES = Path(__file__).parent / "fixtures"


def test_a_policy_without_the_label_is_reported_at_its_name() -> None:
    findings = assert_markers(FIXTURES / "bad.yaml", rules=["EX101"])
    assert findings[0].fix == "Add `team: <owner>` to its metadata.labels."


def test_the_label_is_an_option() -> None:
    assert_markers(
        FIXTURES / "owner.yaml", rules=["EX101"], config=FIXTURES.parent / "config-owner.yaml"
    )
