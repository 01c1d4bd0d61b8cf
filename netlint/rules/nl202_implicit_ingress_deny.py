"""NL202 implicit-ingress-deny: an egress policy without policyTypes also isolates ingress."""

from __future__ import annotations

from collections.abc import Iterator

from netlint.api import (
    Box,
    Context,
    Direction,
    Finding,
    NetworkPolicy,
    Related,
    Rule,
    RuleMeta,
    Severity,
    display,
    subject_traffic,
)


class ImplicitIngressDeny(Rule):
    meta = RuleMeta(
        code="NL202",
        name="implicit-ingress-deny",
        severity=Severity.WARNING,
        summary="A policy with egress rules, no `ingress` and no `policyTypes` also isolates "
        "ingress: it denies all inbound traffic to the pods it selects.",
        why=(
            "When `policyTypes` is absent (or empty), the API server sets it to `[Ingress]`, "
            "plus `Egress` when `spec.egress` has rules. A policy written only to restrict "
            "egress therefore also makes the selected pods ingress-isolated, and since it has "
            "no ingress rules, every inbound connection to them is dropped unless another "
            "policy allows it. The breakage shows up far from the change (a service that "
            "suddenly times out), which makes it hard to trace.\n\n"
            "The finding points at the policy's `spec.podSelector` key: the pods it selects "
            "are the ones that lose their inbound traffic, and `policyTypes` belongs next to it."
        ),
        fix=(
            "Write `policyTypes: [Egress]` if only egress was meant, or "
            "`policyTypes: [Ingress, Egress]` to make the deny explicit."
        ),
        not_reported=(
            "A policy that writes an `ingress` key (even `ingress: []`): it states its ingress "
            "intent. Nor one whose pods are already ingress-isolated by another policy of the "
            "namespace whose `podSelector` selects at least the same pods, whatever labels the "
            "pods carry (such as a default-deny `podSelector: {}`, or `app In (api, web)` for "
            "`app: api`): the implicit isolation then changes nothing. A policy that has the "
            "same pitfall cannot vouch for another: each is reported. Policies that the API "
            "server would reject (NL002) are not checked."
        ),
        added_in="0.1.0",
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
        written = "an empty" if policy.declared_policy_types is not None else "no"
        selector = policy.pod_selector
        message = (
            f"{display(policy)} has egress rules and {written} policyTypes, so it also "
            f"isolates its pods ({selector}) for ingress"
        )
        related = []
        if policy.egress_key_span is not None:
            related.append(
                Related(policy.egress_key_span, "egress rules make the default [Ingress, Egress]")
            )
        yield ctx.finding(
            selector.key_span.first_line,
            message,
            fix="Write `policyTypes: [Egress]` if only egress was meant, or "
            "`policyTypes: [Ingress, Egress]` to make the deny explicit.",
            related=related,
            subject=policy,
        )


def _already_isolating(ctx: Context, policy: NetworkPolicy) -> NetworkPolicy | None:
    """Another valid policy of the namespace that ingress-isolates every pod ``policy`` selects,
    whatever pods exist: its podSelector matches every label set this one's matches (exact
    containment of the selected-pod boxes, so `app In (a, b)` covers `app: a` and `app`
    Exists covers both; a podSelector that matches nothing is covered by any)."""
    inner = _selected(policy)
    vouchers = ctx.cluster_memo(
        ("vouchers", policy.namespace), lambda: _vouchers(ctx, policy.namespace)
    )
    for other, outer in vouchers:
        if other is policy:
            continue
        if inner is None or (outer is not None and outer.covers(inner)):
            return other
    return None


def _vouchers(ctx: Context, namespace: str) -> tuple[tuple[NetworkPolicy, Box | None], ...]:
    """The policies of the namespace that may vouch for another's implicit ingress isolation,
    each with the box of the pods it selects: computed once per namespace, since every
    candidate of the namespace is compared with all of them."""
    found = []
    for other in ctx.cluster.policies_in(namespace):
        if not other.valid or Direction.INGRESS not in other.policy_types:
            continue
        if other.ingress_key_span is None and not other.declared_policy_types and other.egress:
            # Same pitfall in the other policy: its isolation may be just as unintended, and
            # it is reported on its own; it cannot vouch for this one.
            continue
        found.append((other, _selected(other)))
    return tuple(found)


def _selected(policy: NetworkPolicy) -> Box | None:
    """The pods the policy's podSelector matches, as one box; None when it matches none."""
    boxes = subject_traffic(policy).kind("pods")
    return boxes[0] if boxes else None


RULE = ImplicitIngressDeny
