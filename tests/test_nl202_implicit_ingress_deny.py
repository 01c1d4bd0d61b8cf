"""NL202 implicit-ingress-deny: when the implicit Ingress type changes nothing, stay silent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import found, lint

Write = Callable[[str, str], Path]


def policy(name: str, selector: str, body: str, namespace: str = "shop") -> str:
    return (
        "apiVersion: networking.k8s.io/v1\n"  # 1
        "kind: NetworkPolicy\n"  # 2
        "metadata:\n"  # 3
        f"  name: {name}\n"  # 4
        f"  namespace: {namespace}\n"  # 5
        "spec:\n"  # 6
        f"  podSelector: {selector}\n"  # 7
        f"{body}"
    )


EGRESS_ONLY = "  egress:\n    - to:\n        - podSelector: {}\n"


def test_message_names_the_pods_and_both_fixes(tmp_path: Path, write: Write) -> None:
    path = write("p.yaml", policy("api-egress", "{matchLabels: {app: api}}", EGRESS_ONLY))
    report = lint(tmp_path, [path], select=["NL202"])
    assert found(report) == {("p.yaml", 7, "NL202")}
    (finding,) = report.findings
    assert finding.span.col == 3 and finding.span.end_line == 7
    assert "NetworkPolicy shop/api-egress has 1 egress rule and no ingress rules" in (
        finding.message
    )
    assert "denies all inbound traffic to the pods it selects (app=api)" in finding.message
    assert "`policyTypes: [Egress]`" in finding.message
    assert "`policyTypes: [Ingress, Egress]`" in finding.message
    assert [r.span.line for r in finding.related] == [8]


def test_covering_ingress_isolation_elsewhere_silences_it(tmp_path: Path, write: Write) -> None:
    selected = "{matchLabels: {app: api, tier: backend}}"
    write("egress.yaml", policy("api-egress", selected, EGRESS_ONLY))
    # Selects every pod with app=api, so also those with app=api,tier=backend.
    write(
        "ingress.yaml",
        policy("api-ingress", "{matchLabels: {app: api}}", "  policyTypes: [Ingress]\n"),
    )
    report = lint(tmp_path, [tmp_path], select=["NL202"])
    assert found(report) == set()


def test_narrower_or_egress_only_or_foreign_isolation_does_not(
    tmp_path: Path, write: Write
) -> None:
    write("egress.yaml", policy("api-egress", "{matchLabels: {app: api}}", EGRESS_ONLY))
    # Narrower: only some of the api pods.
    write(
        "narrow.yaml",
        policy("canary", "{matchLabels: {app: api, track: canary}}", "  policyTypes: [Ingress]\n"),
    )
    # Egress only: isolates nothing for ingress.
    write("egress-deny.yaml", policy("deny-egress", "{}", "  policyTypes: [Egress]\n"))
    # Another namespace.
    write("other.yaml", policy("deny-all", "{}", "  policyTypes: [Ingress]\n", "billing"))
    # The same pitfall elsewhere cannot vouch for this policy: both are reported.
    write("twin.yaml", policy("all-egress", "{}", EGRESS_ONLY))
    report = lint(tmp_path, [tmp_path], select=["NL202"])
    assert found(report) == {("egress.yaml", 7, "NL202"), ("twin.yaml", 7, "NL202")}


def test_written_ingress_or_policy_types_are_explicit(tmp_path: Path, write: Write) -> None:
    cases = {
        "ingress-null.yaml": "  ingress:\n" + EGRESS_ONLY,
        "ingress-rules.yaml": "  ingress:\n    - {}\n" + EGRESS_ONLY,
        "types.yaml": "  policyTypes: [Ingress, Egress]\n" + EGRESS_ONLY,
        "egress-empty.yaml": "  egress: []\n",
    }
    for name, body in cases.items():
        write(f"{name}", policy(name.removesuffix(".yaml"), "{}", body, name.split(".")[0]))
    write("flagged.yaml", policy("x", "{}", "  policyTypes: []\n" + EGRESS_ONLY, "x"))
    report = lint(tmp_path, [tmp_path], select=["NL202"])
    assert found(report) == {("flagged.yaml", 7, "NL202")}
    assert "its policyTypes is empty" in report.findings[0].message
