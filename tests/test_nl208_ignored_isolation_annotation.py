"""NL208 ignored-isolation-annotation: the message, the fix, the cache, and which default-deny
policies count (the fixtures in rules/NL208-*/ place the findings)."""

from __future__ import annotations

from pathlib import Path

from conftest import found, lint

from netlint.run.runner import CheckRequest, check

CODE = "NL208"

NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: payments
  annotations:
    net.beta.kubernetes.io/network-policy: |
      {"ingress": {"isolation": "DefaultDeny"}}
"""


def deny(namespace: str, selector: str = "{}", types: str = "[Ingress]") -> str:
    return (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        f"metadata: {{name: deny, namespace: {namespace}}}\n"
        f"spec: {{podSelector: {selector}, policyTypes: {types}}}\n"
    )


def test_message_and_fix(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write("ns.yaml", NAMESPACE)
    (finding,) = lint(tmp_path, [tmp_path], select=[CODE]).findings
    assert (finding.span.line, finding.span.col) == (6, 5)
    assert finding.message == (
        "Namespace payments asks for default-deny ingress with the annotation "
        "net.beta.kubernetes.io/network-policy, which Kubernetes has ignored since 1.7: no "
        "NetworkPolicy selects every pod of payments for ingress, so its pods that no policy "
        "selects accept connections from anywhere"
    )
    assert "`podSelector: {}`" in str(finding.fix) and "policyTypes: [Ingress]" in str(finding.fix)
    assert finding.subject == "Namespace/payments/payments"


def test_only_a_policy_selecting_every_pod_for_ingress_counts(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write("ns.yaml", NAMESPACE)
    write("p.yaml", deny("payments", "{matchLabels: {app: web}}"))
    write("egress.yaml", deny("payments", types="[Egress]").replace("name: deny", "name: out"))
    write("other.yaml", deny("shop"))
    assert found(lint(tmp_path, [tmp_path], select=[CODE])) == {("ns.yaml", 6, CODE)}
    write("all.yaml", deny("payments").replace("name: deny", "name: all"))
    assert found(lint(tmp_path, [tmp_path], select=[CODE])) == set()


def test_a_default_deny_of_another_deploy_unit_counts(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Whether anything isolates the namespace is a question of absence: a default deny that
    may be applied to the cluster from another unit answers it."""
    write("namespaces/ns.yaml", NAMESPACE)
    write("policies/kustomization.yaml", "resources: [deny.yaml]\n")
    write("policies/deny.yaml", deny("payments"))
    assert list(lint(tmp_path, [tmp_path], select=[CODE]).findings) == []


def test_a_cached_namespace_keeps_the_annotation_span(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write("ns.yaml", NAMESPACE)
    runs = [check(CheckRequest(root=tmp_path, select=[CODE])).report for _ in range(2)]
    assert [found(r) for r in runs] == [{("ns.yaml", 6, CODE)}] * 2
    assert (tmp_path / ".netlint_cache").is_dir()
