"""NL208 ignored-isolation-annotation: a Namespace asks for default-deny ingress with the beta
``net.beta.kubernetes.io/network-policy`` annotation, which Kubernetes ignores since 1.7."""

from __future__ import annotations

from collections.abc import Iterator

from netlint.api import (
    Certainty,
    Context,
    Direction,
    Finding,
    Namespace,
    Rule,
    RuleMeta,
    Severity,
)

ANNOTATION = Namespace.LEGACY_ISOLATION_ANNOTATION


class IgnoredIsolationAnnotation(Rule):
    meta = RuleMeta(
        code="NL208",
        name="ignored-isolation-annotation",
        severity=Severity.WARNING,
        summary=f"A Namespace relies on the `{ANNOTATION}` annotation for default-deny "
        "ingress, which Kubernetes has ignored since 1.7.",
        why=(
            "Before NetworkPolicy became `networking.k8s.io/v1` (Kubernetes 1.7), a namespace "
            "was isolated by annotating it with "
            f'`{ANNOTATION}: \'{{"ingress": {{"isolation": "DefaultDeny"}}}}\'`. '
            "Kubernetes 1.7 dropped that behaviour: no network plugin reads the annotation any "
            "more, and a pod is isolated only by a NetworkPolicy that selects it. A namespace "
            "that still relies on the annotation has no default deny: every pod that no policy "
            "selects accepts connections from anywhere, while the manifest reads as if the "
            "namespace were locked down."
        ),
        fix=(
            "Add a default-deny policy to the namespace (and remove the annotation):\n\n"
            "```yaml\n"
            "apiVersion: networking.k8s.io/v1\n"
            "kind: NetworkPolicy\n"
            "metadata:\n"
            "  name: default-deny-ingress\n"
            "  namespace: <the namespace>\n"
            "spec:\n"
            "  podSelector: {}\n"
            "  policyTypes: [Ingress]\n"
            "```\n\n"
            "Then allow what the pods need with policies that select them."
        ),
        not_reported=(
            "An annotation whose value does not ask for `DefaultDeny` (ignoring it changes "
            "nothing), and a namespace where some NetworkPolicy that may be applied with it "
            "selects every pod for ingress (`podSelector: {}` with Ingress) or where another "
            "engine's policy applies (Calico, Cilium): there the annotation is dead but "
            "harmless."
        ),
        references=(
            "https://kubernetes.io/docs/concepts/services-networking/network-policies/"
            "#default-deny-all-ingress-traffic",
            "https://github.com/kubernetes/kubernetes/blob/master/CHANGELOG/CHANGELOG-1.7.md",
        ),
        added_in="0.2.0",
        tags=("security", "isolation", "deprecated"),
        security_severity=6.0,
        # "Nothing isolates this namespace" is a claim of absence.
        certainty=Certainty.MAY,
    )

    def check_namespace(self, ctx: Context, namespace: Namespace) -> Iterator[Finding]:
        span = namespace.legacy_isolation_span
        if span is None or "DefaultDeny" not in namespace.annotations.get(ANNOTATION, ""):
            return
        # A claim of absence: it asks of everything that may be applied with the namespace (every
        # deploy unit), and any default-deny policy there silences it.
        everything = ctx.cluster
        name = namespace.name
        if everything.foreign_policies_for(name) or any(
            p.pod_selector.is_empty and Direction.INGRESS in p.policy_types
            for p in everything.policies_in(name)
        ):
            return
        yield ctx.finding(
            span,
            f"Namespace {name} asks for default-deny ingress with the annotation {ANNOTATION}, "
            "which Kubernetes has ignored since 1.7: no NetworkPolicy selects every pod of "
            f"{name} for ingress, so its pods that no policy selects accept connections from "
            "anywhere",
            fix=(
                f"Add a NetworkPolicy in {name} with `podSelector: {{}}` and "
                "`policyTypes: [Ingress]` (a default deny), and remove the annotation."
            ),
            subject=namespace,
        )


RULE = IgnoredIsolationAnnotation
