"""SARIF output: the OASIS schema, GitHub code scanning's checklist, and its fingerprints."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import SHARED, lint

from netlint.core.findings import Finding, Severity
from netlint.core.source import Span
from netlint.output.fingerprint import line_hashes
from netlint.output.report import Report
from netlint.output.reporters import render
from netlint.output.reporters.sarif import MAX_RESULTS

SCHEMA = json.loads((SHARED / "schemas" / "sarif-schema-2.1.0.json").read_text())

BROKEN = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api
  namespace: shop
  labels: {emoji: "😀😀", team: yes}
spec:
  podSelector: {}
  policyTypes: [ingress]
"""


def sarif_of(report: Report, **options: Any) -> dict[str, Any]:
    return json.loads(render("sarif", report, **options))  # type: ignore[no-any-return]


def validate_github(log: dict[str, Any]) -> None:
    """Every point of ../shared/sarif/README.md's checklist that a file can show."""
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    assert len(log["runs"]) == 1
    assert len(gzip.compress(json.dumps(log).encode())) < 10 * 1024 * 1024
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "netlint"
    assert "results" in run and len(run["results"]) <= 25_000
    rules = driver["rules"]
    assert len(rules) <= 25_000
    assert run["columnKind"] in ("utf16CodeUnits", "unicodeCodePoints")
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids))
    for rule in rules:
        assert 0 < len(rule["name"]) <= 255
        assert 0 < len(rule["shortDescription"]["text"]) <= 1024
        assert 0 < len(rule["fullDescription"]["text"]) <= 1024
        assert rule["help"]["text"] and rule["help"]["markdown"]
        assert rule["helpUri"].startswith("https://")
        assert rule["defaultConfiguration"]["level"] in ("note", "warning", "error")
        props = rule["properties"]
        assert isinstance(props["tags"], list) and len(props["tags"]) <= 20
        assert all(isinstance(t, str) for t in props["tags"])
        assert props["precision"] in ("very-high", "high", "medium", "low")
        assert props["problem.severity"] in ("error", "warning", "recommendation")
        assert isinstance(props["security-severity"], str)
        assert 0 < float(props["security-severity"]) <= 10
    for base in run.get("originalUriBaseIds", {}).values():
        if "uri" in base:
            assert base["uri"].endswith("/")
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("note", "warning", "error")
        assert result["message"]["text"]
        assert "id" not in result["message"] and "arguments" not in result["message"]
        assert 1 <= len(result["locations"]) <= 1000
        physical = result["locations"][0]["physicalLocation"]
        uri = physical["artifactLocation"]["uri"]
        assert physical["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert not uri.startswith(("/", "file:")) and "\\" not in uri and " " not in uri
        assert ".." not in uri.split("/")
        region = physical["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
        assert region["endLine"] >= region["startLine"] and region["endColumn"] >= 1
        if region["endLine"] == region["startLine"]:
            assert region["endColumn"] > region["startColumn"]
        assert isinstance(result["partialFingerprints"]["primaryLocationLineHash"], str)
        for related in result.get("relatedLocations", []):
            assert related["physicalLocation"]["region"]["startLine"] >= 1


def test_sarif_for_a_broken_policy_meets_github_rules(tmp_path: Path) -> None:
    (tmp_path / "k8s dir").mkdir()
    (tmp_path / "k8s dir" / "pol.yaml").write_text(BROKEN, encoding="utf-8")
    report = lint(tmp_path)
    log = sarif_of(report)
    validate_github(log)
    results = log["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"NL002"}
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert uris == {"k8s%20dir/pol.yaml"}
    lines = sorted(r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in results)
    assert lines == [6, 6, 9]  # the emoji label value, `team: yes`, `ingress`


def test_columns_are_utf16_units_after_non_bmp_characters(tmp_path: Path) -> None:
    (tmp_path / "pol.yaml").write_text(BROKEN, encoding="utf-8")
    log = sarif_of(lint(tmp_path))
    team = next(r for r in log["runs"][0]["results"] if "team" in r["message"]["text"])
    region = team["locations"][0]["physicalLocation"]["region"]
    # `  labels: {emoji: "😀😀", team: yes}`: `yes` is at code points 31-33, UTF-16 units 33-35.
    assert (region["startColumn"], region["endColumn"]) == (33, 36)
    assert log["runs"][0]["columnKind"] == "utf16CodeUnits"


def test_fingerprints_match_githubs_algorithm(tmp_path: Path) -> None:
    (tmp_path / "pol.yaml").write_text(BROKEN, encoding="utf-8")
    log = sarif_of(lint(tmp_path))
    expected = line_hashes(BROKEN)
    for result in log["runs"][0]["results"]:
        line = result["locations"][0]["physicalLocation"]["region"]["startLine"]
        assert result["partialFingerprints"]["primaryLocationLineHash"] == expected[line]


@pytest.mark.parametrize(
    ("text", "hashes"),
    [
        ("", ["c129715d7a2bc9a3:1"]),
        (
            " a\nb\n  \t\tc\n d",
            ["271789c17abda88f:1", "54703d4cd895b18:1", "180aee12dab6264:1", "a23a3dc5e078b07b:1"],
        ),
        (
            " hello; \t\nworld!!!\n\n\n  \t\tGreetings\n End",
            [
                "8b7cf3e952e7aeb2:1",
                "b1ae1287ec4718d9:1",
                "bff680108adb0fcc:1",
                "c6805c5e1288b612:1",
                "b86d3392aea1be30:1",
                "e6ceba753e1a442:1",
            ],
        ),
        (
            "x = 2\nx = 1\nprint(x)\nx = 3\nprint(x)\nx = 4\nprint(x)\n",
            [
                "e54938cc54b302f1:1",
                "bb609acbe9138d60:1",
                "1131fd5871777f34:1",
                "5c482a0f8b35ea28:1",
                "54517377da7028d2:1",
                "2c644846cb18d53e:1",
                "f1b89f20de0d133:1",
                "c129715d7a2bc9a3:1",
            ],
        ),
        (
            "Lorem ipsum dolor sit amet.\n" * 10,
            [f"a7f2ff13bc495cf2:{i}" for i in range(1, 7)]
            + [
                "a7f2ff1481e87703:1",
                "a9cf91f7bbf1862b:1",
                "55ec222b86bcae53:1",
                "cc97dc7b1d7d8f7b:1",
                "c129715d7a2bc9a3:1",
            ],
        ),
    ],
)
def test_githubs_published_fingerprint_vectors(text: str, hashes: list[str]) -> None:
    result = line_hashes(text)
    assert [result[i] for i in sorted(result)] == hashes


@pytest.mark.parametrize("newline", ["\n", "\r", "\r\n"])
def test_fingerprints_ignore_line_ending_style(newline: str) -> None:
    text = newline.join([" hello; \t", "world!!!", "", "", "  \t\tGreetings", " End", ""])
    result = line_hashes(text)
    assert [result[i] for i in sorted(result)] == [
        "e9496ae3ebfced30:1",
        "fb7c023a8b9ccb3f:1",
        "ce8ba1a563dcdaca:1",
        "e20e36e16fcb0cc8:1",
        "b3edc88f2938467e:1",
        "c8e28b0b4002a3a0:1",
        "c129715d7a2bc9a3:1",
    ]


def test_a_policy_line_hashes_like_github() -> None:
    # The sample in ../shared/sarif/README.md: `    - {}` at line 9 of a NetworkPolicy.
    text = (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: allow-all\n"
        "spec:\n  podSelector: {}\n  policyTypes: [Ingress]\n  ingress:\n    - {}\n"
    )
    assert line_hashes(text, [9])[9].endswith(":1")


def _finding(i: int, severity: Severity) -> Finding:
    return Finding(
        "NL002", "invalid-manifest", severity, f"m{i}", Span("a.yaml", i + 1, 1, i + 1, 2)
    )


def test_results_are_capped_with_a_notification(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("a: 1\n" * 10)
    findings = [_finding(i, Severity.NOTE) for i in range(MAX_RESULTS)]
    findings.append(_finding(MAX_RESULTS, Severity.ERROR))
    report = Report(findings=findings, root=tmp_path, rules=[])
    log = sarif_of(report)
    run = log["runs"][0]
    assert len(run["results"]) == MAX_RESULTS
    assert any(r["level"] == "error" for r in run["results"])  # the most severe are kept
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert "1 of 25001 results were left out" in notes[0]["message"]["text"]


def test_category_only_when_given(tmp_path: Path) -> None:
    (tmp_path / "pol.yaml").write_text(BROKEN, encoding="utf-8")
    report = lint(tmp_path)
    assert "automationDetails" not in sarif_of(report)["runs"][0]
    log = sarif_of(report, category="netlint/prod")
    assert log["runs"][0]["automationDetails"] == {"id": "netlint/prod"}


def test_empty_results_array_is_present(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
    log = sarif_of(lint(tmp_path))
    validate_github(log)
    assert log["runs"][0]["results"] == []


def test_uris_are_relative_to_the_git_top_when_the_config_sits_lower(tmp_path: Path) -> None:
    import subprocess

    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    project = tmp_path / "deploy" / "k8s"
    project.mkdir(parents=True)
    (project / ".netlint.yaml").write_text("select: [NL002]\n")
    (project / "pol.yaml").write_text(BROKEN, encoding="utf-8")
    report = lint(project, config=project / ".netlint.yaml")
    assert report.findings[0].span.path == "pol.yaml"
    log = sarif_of(report)
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri["uri"] == "deploy/k8s/pol.yaml"
    assert render("github", report).startswith("::error file=deploy/k8s/pol.yaml,")
