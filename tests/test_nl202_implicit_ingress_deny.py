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
    assert finding.message == (
        "NetworkPolicy shop/api-egress has egress rules and no policyTypes, so it also isolates "
        "its pods (app=api) for ingress"
    )
    assert finding.fix is not None
    assert "`policyTypes: [Egress]`" in finding.fix
    assert "`policyTypes: [Ingress, Egress]`" in finding.fix
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


def test_isolation_by_a_wider_selector_is_found_exactly(tmp_path: Path, write: Write) -> None:
    """Containment is decided on the pods the selectors match, not on their requirements:
    `app In (api, web)` and `app Exists` select every `app: api` pod, `app NotIn (web)` does
    too, while `app NotIn (api)` selects none of them."""
    write("egress.yaml", policy("api-egress", "{matchLabels: {app: api}}", EGRESS_ONLY))
    wider = {
        "in.yaml": "{key: app, operator: In, values: [api, web]}",
        "exists.yaml": "{key: app, operator: Exists}",
        "not-in.yaml": "{key: app, operator: NotIn, values: [web]}",
    }
    for name, expression in wider.items():
        write(
            name,
            policy(
                name.removesuffix(".yaml"),
                f"{{matchExpressions: [{expression}]}}",
                "  policyTypes: [Ingress]\n",
            ),
        )
        assert found(lint(tmp_path, [tmp_path], select=["NL202"])) == set(), name
        (tmp_path / name).unlink()
    write(
        "other.yaml",
        policy(
            "not-api",
            "{matchExpressions: [{key: app, operator: NotIn, values: [api]}]}",
            "  policyTypes: [Ingress]\n",
        ),
    )
    assert found(lint(tmp_path, [tmp_path], select=["NL202"])) == {("egress.yaml", 7, "NL202")}


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
    assert "has egress rules and an empty policyTypes," in report.findings[0].message
