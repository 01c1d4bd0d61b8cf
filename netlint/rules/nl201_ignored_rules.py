"""NL201 ignored-rules: ingress/egress rules of a direction that ``policyTypes`` leaves out."""

from __future__ import annotations

from collections.abc import Iterator

from netlint.api import (
    Context,
    Direction,
    Finding,
    NetworkPolicy,
    Related,
    Rule,
    RuleMeta,
    Severity,
    display,
    plural,
)


class IgnoredRules(Rule):
    meta = RuleMeta(
        code="NL201",
        name="ignored-rules",
        severity=Severity.WARNING,
        summary="`spec.ingress` or `spec.egress` holds rules, but `spec.policyTypes` is written "
        "and leaves that direction out, so Kubernetes ignores the rules.",
        why=(
            "When `policyTypes` is written, it alone decides which directions a policy "
            "isolates, and the rules of a direction it does not list are silently dropped: "
            "`kubectl apply` accepts them, reviewers read them, and no traffic is ever allowed "
            "or denied by them. This usually happens when egress rules are added to an "
            "ingress policy (or copied from one) without updating `policyTypes`."
        ),
        fix=(
            "Add the direction to `policyTypes` to enforce the rules (this also isolates the "
            "selected pods in that direction: everything the rules do not allow is then "
            "denied), or delete the rules."
        ),
        not_reported=(
            "An empty list (`egress: []`) with the direction left out: it is pointless but "
            "changes nothing, whichever way it is read. An empty `policyTypes: []`, which the "
            "API server defaults like an absent one, so it ignores nothing. Policies that the "
            "API server would reject (NL002) are not checked."
        ),
        added_in="0.1.0",
        tags=("correctness", "policy-types"),
        security_severity=5.0,
    )

    def check_policy(self, ctx: Context, policy: NetworkPolicy) -> Iterator[Finding]:
        declared = policy.declared_policy_types
        if not policy.valid or not declared:
            return
        listed = {value for value, _ in declared}
        for direction in Direction:
            rules = policy.rules(direction)
            key_span = policy.rules_key_span(direction)
            if direction.value in listed or not rules or key_span is None:
                continue
            written = ", ".join(value for value, _ in declared)
            them = "them" if len(rules) > 1 else "it"
            message = (
                f"{display(policy)} has {plural(len(rules), f'{direction.rules_key} rule')}, "
                f"but policyTypes [{written}] does not list {direction.value}, so Kubernetes "
                f"ignores {them}"
            )
            fix = (
                f"Add {direction.value} to policyTypes to enforce {them} (this also isolates "
                f"the selected pods for {direction.rules_key}), or delete "
                f"spec.{direction.rules_key}."
            )
            related = []
            if policy.policy_types_key_span is not None:
                related.append(
                    Related(
                        policy.policy_types_key_span,
                        f"policyTypes is written without {direction.value}",
                    )
                )
            yield ctx.finding(key_span, message, fix=fix, related=related, subject=policy)


RULE = IgnoredRules
