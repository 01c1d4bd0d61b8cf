"""NL202 implicit-ingress-deny: an egress policy without policyTypes also isolates ingress."""

from __future__ import annotations

from collections.abc import Iterator

from netlint.api import (
    Context,
    Direction,
    Finding,
    LabelSelector,
    NetworkPolicy,
    Related,
    Rule,
    RuleMeta,
    Severity,
)


class ImplicitIngressDeny(Rule):
    meta = RuleMeta(
        code="NL202",
        name="implicit-ingress-deny",
        severity=Severity.WARNING,
        summary="A policy with egress rules, no `ingress` and no `policyTypes` also isolates "
        "ingress: it denies all inbound traffic to the pods it selects.",
        rationale=(
            "When `policyTypes` is absent (or empty), the API server sets it to `[Ingress]`, "
            "plus `Egress` when `spec.egress` has rules. A policy written only to restrict "
            "egress therefore also makes the selected pods ingress-isolated, and since it has "
            "no ingress rules, every inbound connection to them is dropped unless another "
            "policy allows it. The breakage shows up far from the change (a service that "
            "suddenly times out), which makes it hard to trace. Write `policyTypes: [Egress]` "
            "if only egress was meant, or `policyTypes: [Ingress, Egress]` to make the deny "
            "explicit.\n\n"
            "The finding points at the policy's `spec.podSelector` key: the pods it selects "
            "are the ones that lose their inbound traffic, and `policyTypes` belongs next to "
            "it. A policy that writes an `ingress` key (even `ingress: []`) states its ingress "
            "intent and is not reported. Nor is one whose pods are already ingress-isolated "
            "by another policy of the namespace whose `podSelector` selects at least the same "
            "pods (such as a default-deny `podSelector: {}`): the implicit isolation then "
            "changes nothing. Policies that the API server would reject (NL002) are not "
            "checked."
        ),
        tags=("correctness", "policy-types", "availability"),
        security_severity=3.0,
    )

    def check_policy(self, ctx: Context, policy: NetworkPolicy) -> Iterator[Finding]:
        if (
            not policy.valid
            or policy.declared_policy_types
            or not policy.egress
            or policy.ingress_key_span is not None
        ):
            return
        if _already_isolating(ctx, policy) is not None:
            return
        written = "is empty" if policy.declared_policy_types is not None else "is absent"
        count = len(policy.egress)
        selector = policy.pod_selector
        message = (
            f"NetworkPolicy {policy.namespace}/{policy.name} has {count} egress "
            f"rule{'s' if count > 1 else ''} and no ingress rules, and its policyTypes "
            f"{written}, so Kubernetes applies [Ingress, Egress]: it denies all inbound traffic "
            f"to the pods it selects ({selector}) unless another policy allows it; add "
            "`policyTypes: [Egress]` if only egress was meant, or "
            "`policyTypes: [Ingress, Egress]` to make the deny explicit"
        )
        related = []
        if policy.egress_key_span is not None:
            related.append(
                Related(policy.egress_key_span, "egress rules make the default [Ingress, Egress]")
            )
        yield ctx.finding(selector.key_span.first_line, message, related=related, subject=policy)


def _already_isolating(ctx: Context, policy: NetworkPolicy) -> NetworkPolicy | None:
    """Another valid policy of the namespace that ingress-isolates every pod ``policy`` selects,
    whatever pods exist: its selector's requirements are a subset of this one's."""
    for other in ctx.index.policies_in(policy.namespace):
        if other is policy or not other.valid or Direction.INGRESS not in other.policy_types:
            continue
        if other.ingress_key_span is None and not other.declared_policy_types and other.egress:
            # Same pitfall in the other policy: its isolation may be just as unintended, and
            # it is reported on its own; it cannot vouch for this one.
            continue
        if _contains(other.pod_selector, policy.pod_selector):
            return other
    return None


def _contains(outer: LabelSelector, inner: LabelSelector) -> bool:
    """Whether every pod ``inner`` matches is matched by ``outer`` (sound, not complete)."""
    wanted = {(r.key, r.operator, r.values) for r in inner.requirements}
    return all((r.key, r.operator, r.values) in wanted for r in outer.requirements)


RULE = ImplicitIngressDeny
