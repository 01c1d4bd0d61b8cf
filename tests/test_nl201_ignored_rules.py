"""NL201 ignored-rules: which lists count as ignored, and what the finding says."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import found, lint

Write = Callable[[str, str], Path]

HEAD = (
    "apiVersion: networking.k8s.io/v1\n"  # 1
    "kind: NetworkPolicy\n"  # 2
    "metadata:\n"  # 3
    "  name: api\n"  # 4
    "  namespace: shop\n"  # 5
    "spec:\n"  # 6
    "  podSelector: {}\n"  # 7
)


def test_both_directions_left_out_are_both_reported(tmp_path: Path, write: Write) -> None:
    # A policy may list only one type; here Egress, but both lists hold rules.
    path = write(
        "p.yaml",
        HEAD
        + "  policyTypes: [Egress]\n"  # 8
        + "  ingress:\n"  # 9
        + "    - {}\n"  # 10
        + "    - from:\n"  # 11
        + "        - podSelector: {}\n"  # 12
        + "  egress:\n"  # 13
        + "    - {}\n",  # 14
    )
    report = lint(tmp_path, [path], select=["NL201"])
    assert found(report) == {("p.yaml", 9, "NL201")}
    (finding,) = report.findings
    assert finding.message.startswith("NetworkPolicy shop/api has 2 ingress rules, but ")
    assert "policyTypes [Egress] does not list Ingress, so Kubernetes ignores them" in (
        finding.message
    )
    assert [(r.span.line, r.message) for r in finding.related] == [
        (8, "policyTypes is written without Ingress")
    ]


def test_absent_empty_or_null_lists_are_not_reported(tmp_path: Path, write: Write) -> None:
    cases = {
        "absent.yaml": "  policyTypes: [Ingress]\n  ingress: []\n",
        "empty.yaml": "  policyTypes: [Ingress]\n  egress: []\n",
        "null.yaml": "  policyTypes: [Ingress]\n  egress:\n",
        "defaulted.yaml": "  policyTypes: []\n  egress:\n    - {}\n",
        "unwritten.yaml": "  egress:\n    - {}\n",
    }
    paths = [write(name, HEAD + body) for name, body in cases.items()]
    flagged = write("flagged.yaml", HEAD + "  policyTypes: [Ingress]\n  egress:\n    - {}\n")
    report = lint(tmp_path, [*paths, flagged], select=["NL201"])
    assert found(report) == {("flagged.yaml", 9, "NL201")}
    assert "has 1 egress rule, but policyTypes [Ingress] does not list Egress" in (
        report.findings[0].message
    )


def test_invalid_policy_is_left_to_nl002(tmp_path: Path, write: Write) -> None:
    path = write(
        "p.yaml",
        HEAD + "  policyTypes: [Ingress]\n  egress:\n    - to:\n        - {}\n",
    )
    report = lint(tmp_path, [path], select=["NL201", "NL002"])
    assert {code for _, _, code in found(report)} == {"NL002"}
    assert ("p.yaml", 11, "NL002") in found(report)
