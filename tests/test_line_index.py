"""One line index (netlint.core.source.LineIndex) for suppressions, baselines, SARIF and GitHub's
line hashes: lines break at CRLF, CR and LF, as editors and GitHub break them, and nowhere else (not
at NEL, LS or PS, where YAML 1.1 and ``str.splitlines`` break, nor at VT, FF or FS, where
``str.splitlines`` does)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import lint

from netlint.core.findings import Finding, Severity
from netlint.core.source import LineIndex, Positions, Span, text_point, units
from netlint.output.fingerprint import line_hashes
from netlint.output.reporters import render
from netlint.read.directives import scan
from netlint.run.runner import CheckRequest, check, write_baseline
from netlint.run.suppress import fingerprints

ENDINGS = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}
#: Breaks for YAML 1.1 (NEL, LS, PS) but not for editors: they sit inside an editor line.
INLINE = {"none": "", "nel": "\x85", "ls": "\u2028", "ps": "\u2029"}

# NL002 on `ingress` (suppressed on its line), on `port: 0` (suppressed from the line before)
# and on `port: 70000` (kept); a column-1 suppression of NL104 that suppresses nothing (NL901).
POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api
  namespace: shop
  annotations: {{note: "a{sep}b", owner: "😀 team"}}
spec:
  podSelector: {{}}
  policyTypes: [ingress]  # netlint: disable=NL002
  ingress:
    - ports:
        # netlint: disable=invalid-manifest
        - port: 0
        - port: 70000
# netlint: disable=NL104
"""


def policy(ending: str = "\n", sep: str = "") -> str:
    return POLICY.format(sep=sep).replace("\n", ending)


def editor_line(text: str, needle: str) -> int:
    """The 1-based editor line holding ``needle``, counted independently of LineIndex."""
    normal = text.replace("\r\n", "\n").replace("\r", "\n")
    return next(i for i, line in enumerate(normal.split("\n"), 1) if needle in line)


def test_the_index_breaks_lines_as_editors_do() -> None:
    text = "a\r\nb\rc\nd\x85e\u2028f\u2029g\x0bh\x0ci\x1cj\n"
    index = LineIndex(text)
    assert len(index) == 5  # a, b, c, d..j, and the empty line after the final LF
    assert [index.line(n) for n in range(1, 6)] == [
        "a",
        "b",
        "c",
        "d\x85e\u2028f\u2029g\x0bh\x0ci\x1cj",
        "",
    ]
    assert index.line(0) == "" and index.line(6) == ""
    assert index.point(text.index("b")) == (2, 1)
    assert index.point(text.index("c")) == (3, 1)
    assert index.point(text.index("j")) == (4, 13)
    assert index.start(4) == text.index("d") and index.start(99) == len(text)
    assert text_point("p", text, text.index("j")) == Span("p", 4, 13, 4, 14)


def test_columns_in_each_unit() -> None:
    index = LineIndex("x\r😀é z\r\n")
    col = 4  # `z`, after an emoji (2 UTF-16 units, 4 bytes), é (1 unit, 2 bytes) and a space
    assert index.line(2)[col - 1] == "z"
    assert index.units(2, col, "utf-32") == 3
    assert index.units(2, col, "utf-16") == 4
    assert index.units(2, col, "utf-8") == 7
    assert index.units(2, 99, "utf-16") == 5  # capped at the end of the line
    assert units("caf\udce9", "utf-16") == 4  # a byte that was not UTF-8: one unit


def test_lsp_positions_stay_inside_the_text() -> None:
    # What the language server publishes: 0-based lines, columns in the negotiated units.
    index = LineIndex("a😀b\r\nxy")
    assert index.position(1, 3) == (0, 3)  # `b`, after a two-unit emoji
    assert index.position(1, 3, "utf-8") == (0, 5)
    assert index.position(0, 1) == (0, 0)  # before the first line: the first
    assert index.position(9, 1, "utf-16") == (1, 2)  # past the end: the end of the last line
    assert index.span_range(Span("p", 1, 2, 2, 2)) == ((0, 1), (1, 1))
    # A finding into a buffer shortened since: the end clamps before the start, and joins it.
    assert index.span_range(Span("p", 9, 1, 1, 1)) == ((1, 2), (1, 2))


def test_parser_positions_are_editor_lines() -> None:
    class Mark:  # what libyaml reports: a character index (lines are recomputed from it)
        def __init__(self, index: int) -> None:
            self.index, self.line, self.column = index, -1, -1

    text = "a: 1\u2028b: 2\r\nc: 3\n"
    span = Positions("p", text).span(Mark(text.index("c")), Mark(text.index("3")))
    assert span == Span("p", 2, 1, 2, 4)


@pytest.mark.parametrize("sep", INLINE, ids=INLINE)
@pytest.mark.parametrize("ending", ENDINGS, ids=ENDINGS)
def test_suppressions_apply_to_the_editor_line(tmp_path: Path, ending: str, sep: str) -> None:
    text = policy(ENDINGS[ending], INLINE[sep])
    (tmp_path / "p.yaml").write_bytes(text.encode())
    report = lint(tmp_path)
    got = [(f.code, f.span.line, f.span.col) for f in report.findings]
    kept = editor_line(text, "port: 70000")
    unused = editor_line(text, "disable=NL104")
    assert got == [("NL002", kept, 17), ("NL901", unused, 1)], got
    assert report.suppressed == 2
    # The directives themselves, as scan reads them.
    directives = scan("p.yaml", text)
    assert [(d.span.line, d.span.col, d.own_line) for d in directives] == [
        (editor_line(text, "[ingress]"), 27, False),
        (editor_line(text, "invalid-manifest"), 9, True),
        (unused, 1, True),
    ]


@pytest.mark.parametrize("sep", INLINE, ids=INLINE)
@pytest.mark.parametrize("ending", ["crlf", "cr"])
def test_a_baseline_survives_a_change_of_line_endings(
    tmp_path: Path, ending: str, sep: str
) -> None:
    target = tmp_path / "p.yaml"
    target.write_bytes(policy("\n", INLINE[sep]).encode())
    baseline = tmp_path / "netlint-baseline.json"
    outcome = check(CheckRequest(root=tmp_path, use_cache=False))
    assert write_baseline(outcome, baseline) == 2  # NL002 and NL901
    lines = {entry["line"] for entry in json.loads(baseline.read_text())["findings"].values()}
    assert lines == {editor_line(policy(), "port: 70000"), editor_line(policy(), "NL104")}
    target.write_bytes(policy(ENDINGS[ending], INLINE[sep]).encode())
    report = check(CheckRequest(root=tmp_path, use_cache=False, baseline=baseline)).report
    assert report.findings == [] and report.baselined == 2


@pytest.mark.parametrize("sep", ["\x85", "\u2028", "\u2029", "\x0b", "\x0c", "\x1c"])
def test_a_fingerprint_reads_the_editor_line(sep: str) -> None:
    # Line 2 is `key: value` for an editor; str.splitlines would make it `b: 2`.
    finding = Finding("NL999", "x", Severity.WARNING, "m", Span("p", 2, 1, 2, 2))
    with_sep = fingerprints([finding], lambda _: f"a: 1{sep}b: 2\nkey: value\n")
    plain = fingerprints([finding], lambda _: "other: 1\nkey: value\n")
    moved = fingerprints([finding], lambda _: "other: 1\nkey: changed\n")
    assert with_sep == plain != moved


@pytest.mark.parametrize("ending", ENDINGS, ids=ENDINGS)
def test_sarif_columns_and_line_hashes_follow_the_same_lines(tmp_path: Path, ending: str) -> None:
    # `yes` (NL002: not a string) comes after an emoji, on a line after an LS inside a line.
    text = (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: api\n"
        '  namespace: shop\n  annotations: {note: "a\u2028b",\n'
        '    owner: "😀 team", reviewed: yes}\n'
        "spec:\n  podSelector: {}\n  policyTypes: [Ingress]\n"
    ).replace("\n", ENDINGS[ending])
    (tmp_path / "p.yaml").write_bytes(text.encode())
    report = lint(tmp_path)
    (finding,) = report.findings
    line = editor_line(text, "reviewed: yes")
    prefix = '    owner: "😀 team", reviewed: '
    assert (finding.span.line, finding.span.col) == (line, len(prefix) + 1)
    log = json.loads(render("sarif", report))
    (result,) = log["runs"][0]["results"]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == line
    assert region["startColumn"] == len(prefix) + 2  # the emoji is two UTF-16 units
    assert region["endColumn"] == region["startColumn"] + 3
    # GitHub's hash reads CR and CRLF as LF: the same value for every line ending.
    lf = text.replace("\r\n", "\n").replace("\r", "\n")
    expected = line_hashes(lf, [line])[line]
    assert result["partialFingerprints"]["primaryLocationLineHash"] == expected
