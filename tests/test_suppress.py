"""Suppressions (comments, annotations) and the baseline, with unused ones reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import lint

from netlint.run.runner import CheckRequest, check, write_baseline

# Two NL002 findings: line 8 (`ingress`) and line 11 (port 0).
POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api
  namespace: shop{annotations}
spec:
  podSelector: {{}}
  policyTypes: [ingress]{comment8}
  ingress:
    - ports:
        - port: 0{comment11}
"""


def policy(annotations: str = "", comment8: str = "", comment11: str = "") -> str:
    return POLICY.format(annotations=annotations, comment8=comment8, comment11=comment11)


def findings(root: Path, select: list[str] | None = None) -> list[tuple[int, str, str]]:
    report = lint(root, select=select)
    return [(f.span.line, f.code, f.message) for f in report.findings]


def lines(root: Path, select: list[str] | None = None) -> list[tuple[int, str]]:
    return [(line, code) for line, code, _ in findings(root, select)]


def test_no_suppression(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(policy())
    assert lines(tmp_path) == [(8, "NL002"), (11, "NL002")]


def test_comment_on_the_line(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(policy(comment8="  # netlint: disable=NL002"))
    assert lines(tmp_path) == [(11, "NL002")]


def test_comment_on_the_line_before_by_name(tmp_path: Path) -> None:
    text = policy().replace(
        "        - port: 0", "        # netlint: disable=invalid-manifest\n        - port: 0"
    )
    (tmp_path / "p.yaml").write_text(text)
    assert lines(tmp_path) == [(8, "NL002")]


def test_trailing_comment_does_not_cover_the_next_line(tmp_path: Path) -> None:
    text = policy().replace("  ingress:\n", "  ingress: # netlint: disable=NL002\n")
    (tmp_path / "p.yaml").write_text(text)
    found = lines(tmp_path)
    assert (11, "NL002") in found and (9, "NL901") in found


def test_file_level_comment(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("# netlint: disable-file=NL002, NL104\n" + policy())
    # NL002's two findings are gone; NL104 ran and found nothing to suppress.
    assert lines(tmp_path) == [(1, "NL901")]


def test_annotation_on_the_object(tmp_path: Path) -> None:
    annotations = '\n  annotations:\n    netlint.dev/ignore: "NL002"'
    (tmp_path / "p.yaml").write_text(policy(annotations=annotations))
    assert lines(tmp_path) == []


def test_unused_comment_is_reported_at_the_comment(tmp_path: Path) -> None:
    text = policy(comment8="  # netlint: disable=NL002").replace(
        "  name: api", "  name: api  # netlint: disable=NL002"
    )
    (tmp_path / "p.yaml").write_text(text)
    result = findings(tmp_path)
    assert [(line, code) for line, code, _ in result] == [(4, "NL901"), (11, "NL002")]
    assert "unused suppression: NL002 reported nothing" in result[0][2]


def test_unused_annotation_is_reported_at_the_annotation(tmp_path: Path) -> None:
    annotations = '\n  annotations:\n    netlint.dev/ignore: "NL104"'
    (tmp_path / "p.yaml").write_text(policy(annotations=annotations))
    result = lines(tmp_path)
    assert (7, "NL901") in result


def test_misspelled_rule_in_a_suppression(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(policy(comment8="  # netlint: disable=invalid-manifests"))
    result = findings(tmp_path)
    assert result[0][:2] == (8, "NL002")
    assert result[1][:2] == (8, "NL901") and "not a netlint rule" in result[1][2]


def test_unused_suppression_findings_carry_their_fix_apart(tmp_path: Path) -> None:
    text = policy(comment8="  # netlint: disable=invalid-manifests").replace(
        "  name: api", "  name: api  # netlint: disable=NL002"
    )
    (tmp_path / "p.yaml").write_text(text)
    unused = {f.span.line: f for f in lint(tmp_path).findings if f.code == "NL901"}
    assert unused[4].message == "unused suppression: NL002 reported nothing this comment covers"
    assert unused[4].fix is not None and unused[4].fix.startswith("Remove it")
    assert unused[8].message == "invalid-manifests in this comment is not a netlint rule"
    assert unused[8].fix is not None and "`netlint rules`" in unused[8].fix


def test_suppressions_of_rules_that_did_not_run_are_not_unused(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(policy(comment8="  # netlint: disable=NL104"))
    assert lines(tmp_path, select=["NL002", "NL901"]) == [(8, "NL002"), (11, "NL002")]


def test_a_comment_inside_a_string_is_not_a_directive(tmp_path: Path) -> None:
    text = policy(annotations='\n  annotations:\n    note: "# netlint: disable=NL002"')
    (tmp_path / "p.yaml").write_text(text)
    assert lines(tmp_path) == [(10, "NL002"), (13, "NL002")]


def test_baseline_hides_known_findings_across_unrelated_edits(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(policy())
    baseline = tmp_path / "netlint-baseline.json"
    outcome = check(CheckRequest(root=tmp_path, use_cache=False))
    assert write_baseline(outcome, baseline) == 2
    document = json.loads(baseline.read_text())
    assert document["netlint-baseline"] == 1 and len(document["findings"]) == 2
    # Unrelated edits: a comment block above, re-indentation elsewhere.
    text = "# owned by team shop\n# reviewed 2026-11\n" + policy().replace(
        "  name: api", "  name:   api"
    )
    (tmp_path / "p.yaml").write_text(text)
    report = check(CheckRequest(root=tmp_path, use_cache=False, baseline=baseline)).report
    assert report.findings == [] and report.baselined == 2
    # A new problem is reported.
    (tmp_path / "p.yaml").write_text(text.replace("port: 0", "port: 0\n        - port: 70000"))
    report = check(CheckRequest(root=tmp_path, use_cache=False, baseline=baseline)).report
    assert [(f.span.line, f.code) for f in report.findings] == [(14, "NL002")]


def test_baseline_from_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(policy())

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "netlint", "check", "--no-cache", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )

    written = run("--write-baseline", "base.json")
    assert written.returncode == 0 and "wrote 2 findings" in written.stderr
    again = run("--baseline", "base.json")
    assert again.returncode == 0 and "2 in the baseline" in again.stdout
    (tmp_path / "bad.json").write_text("{}")
    broken = run("--baseline", "bad.json")
    assert broken.returncode == 2 and "not a netlint baseline" in broken.stderr
