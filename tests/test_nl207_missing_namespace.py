"""NL207 missing-namespace: the note names the namespace netlint assumed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import found, lint

Write = Callable[[str, str], Path]

POLICY = (
    "apiVersion: networking.k8s.io/v1\n"  # 1
    "kind: NetworkPolicy\n"  # 2
    "metadata:\n"  # 3
    "  name: deny-all\n"  # 4
    "spec:\n"  # 5
    "  podSelector: {}\n"  # 6
)


def test_names_the_default_namespace(tmp_path: Path, write: Write) -> None:
    path = write("p.yaml", POLICY)
    report = lint(tmp_path, [path], select=["NL207"])
    assert found(report) == {("p.yaml", 4, "NL207")}
    (finding,) = report.findings
    assert (finding.span.col, finding.span.end_col) == (9, 17)
    assert finding.severity.value == "note"
    assert finding.message == (
        "NetworkPolicy deny-all has no metadata.namespace: its namespace is set at apply time "
        "(netlint assumes default)"
    )
    assert finding.fix is not None and "`namespace: <name>`" in finding.fix


def test_names_the_configured_namespace_and_can_be_switched_off(
    tmp_path: Path, write: Write
) -> None:
    path = write("p.yaml", POLICY)
    config = write(".netlint.yaml", "select: [NL207]\ndefault-namespace: payments\n")
    report = lint(tmp_path, [path], config=config)
    assert found(report) == {("p.yaml", 4, "NL207")}
    assert "(netlint assumes payments)" in report.findings[0].message
    off = write("off.yaml", "select: [NL207]\nrules:\n  NL207:\n    severity: 'off'\n")
    assert found(lint(tmp_path, [path], config=off)) == set()


def test_workloads_and_namespaced_policies_are_not_reported(tmp_path: Path, write: Write) -> None:
    write("policy.yaml", POLICY.replace("  name: deny-all\n", "  name: a\n  namespace: shop\n"))
    write(
        "deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n"
        "  template:\n    metadata:\n      labels: {app: web}\n",
    )
    report = lint(tmp_path, [tmp_path], select=["NL207"])
    assert found(report) == set()
    assert report.objects["NetworkPolicy"] == 1 and report.objects["Workload"] == 1
