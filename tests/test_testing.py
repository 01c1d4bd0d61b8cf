"""netlint.testing: the ``# expect:`` marker grammar, and asserting a fixture against it."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import INVALID_POLICY, VALID_POLICY, Write, line_of, policy

from netlint.testing import Marker, assert_markers, expected_markers, lint_fixture, parse_markers


def test_a_bare_code_and_a_comma_list_parse_as_before() -> None:
    text = "a: 1 # expect: NL102\nb: 2  #expect:NL203 ,NL102\n# expect-below: NL001\n{}\n"
    assert parse_markers(text, "f.yaml") == [
        Marker("f.yaml", 1, "NL102"),
        Marker("f.yaml", 2, "NL203"),
        Marker("f.yaml", 2, "NL102"),
        Marker("f.yaml", 4, "NL001"),
    ]


def test_a_marker_may_state_a_column_and_a_message() -> None:
    text = 'x # expect: NL102@11 "did you mean", NL203@5, EX101 "a \\"quoted\\" \\\\ name"\n'
    assert parse_markers(text) == [
        Marker("", 1, "NL102", 11, "did you mean"),
        Marker("", 1, "NL203", 5, None),
        Marker("", 1, "EX101", None, 'a "quoted" \\ name'),
    ]


def test_text_that_is_no_marker_is_ignored() -> None:
    assert parse_markers("# expected: NL102\n# expect: nl102\n# expect:\n") == []


def test_matching_markers_pass_and_return_the_findings(write: Write) -> None:
    path = write("bad.yaml", INVALID_POLICY.replace("[ingress]", "[ingress] # expect: NL002@17"))
    findings = assert_markers(path, ["NL002"])
    assert [(f.code, f.span.line, f.span.col) for f in findings] == [("NL002", 8, 17)]


def test_a_wrong_column_is_missing_and_unexpected(write: Write) -> None:
    path = write("bad.yaml", INVALID_POLICY.replace("[ingress]", "[ingress] # expect: NL002@3"))
    with pytest.raises(AssertionError) as raised:
        assert_markers(path, ["NL002"])
    report = str(raised.value)
    assert "missing:    bad.yaml:8: NL002@3" in report
    assert "unexpected: bad.yaml:8:17: NL002" in report


def test_a_message_the_finding_does_not_say_is_missing(write: Write) -> None:
    marked = INVALID_POLICY.replace("[ingress]", '[ingress] # expect: NL002 "no such words"')
    with pytest.raises(AssertionError) as raised:
        assert_markers(write("bad.yaml", marked), ["NL002"])
    assert 'missing:    bad.yaml:8: NL002 "no such words"' in str(raised.value)


def test_an_unmarked_finding_and_an_unmet_marker_are_listed_with_lines(write: Write) -> None:
    text = VALID_POLICY.replace("name: api", "name: api # expect: NL002") + "---\n" + INVALID_POLICY
    path = write("bad.yaml", text)
    with pytest.raises(AssertionError) as raised:
        assert_markers(path, ["NL002"])
    lines = str(raised.value).splitlines()[1:]
    assert lines[0] == f"missing:    bad.yaml:{line_of(path, 'expect')}: NL002"
    assert lines[1].startswith(f"unexpected: bad.yaml:{line_of(path, '[ingress]')}:17: NL002")


def test_a_folder_is_one_project_with_paths_relative_to_it(write: Write, tmp_path: Path) -> None:
    write("case/policies/a.yaml", policy("a", body="  policyTypes: [ingress] # expect: NL002\n"))
    write("case/policies/b.yaml", VALID_POLICY)
    case = tmp_path / "case"
    assert expected_markers(case) == [Marker("policies/a.yaml", 8, "NL002")]
    assert [f.span.path for f in assert_markers(case, ["invalid-manifest"])] == ["policies/a.yaml"]


def test_the_input_rules_always_run(write: Write) -> None:
    """A fixture that does not parse fails the test even when only another rule is named."""
    path = write("bad.yaml", "kind: ConfigMap\na: [\n")
    assert [f.code for f in lint_fixture(path, ["NL207"])] == ["NL001"]
