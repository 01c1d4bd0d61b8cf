"""NL205 allow-all-rule: an allow-everything rule next to specific rules in the same list."""

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
    listing,
)


class AllowAllRule(Rule):
    meta = RuleMeta(
        code="NL205",
        name="allow-all-rule",
        severity=Severity.WARNING,
        summary="An ingress or egress rule with no peers and no ports allows all traffic in "
        "that direction, which makes the other, more specific rules of the list meaningless.",
        why=(
            "A rule without `from`/`to` (or with an empty list) allows every peer, and a rule "
            "without `ports` (or with an empty list) allows every port, so `- {}`, "
            "`- ports: []` or `- from: []` allows all traffic to (or from) the selected pods. "
            "Rules only add to each other: next to such a rule, the carefully written rules of "
            "the same list restrict nothing. It is usually a leftover from debugging, or a YAML "
            "indentation slip that cut the peers or ports off the item they belonged to."
        ),
        fix="Delete the allow-all item, or move the peers and ports back under it.",
        not_reported=(
            "A list whose only rule is `- {}`: it is the documented way to allow all traffic in "
            "a direction. A rule with a peer such as `namespaceSelector: {}`: it allows all "
            "pods of the cluster, but not addresses outside it."
        ),
        added_in="0.1.0",
        tags=("security", "pitfall"),
        security_severity=6.0,
    )

    def check_policy(self, ctx: Context, policy: NetworkPolicy) -> Iterator[Finding]:
        if not policy.valid:
            return
        for direction in (Direction.INGRESS, Direction.EGRESS):
            rules = policy.rules(direction)
            stray = [r for r in rules if r.allows_all_peers and r.allows_all_ports]
            specific = [r for r in rules if r not in stray]
            if not stray or not specific:
                continue
            key = direction.rules_key
            others = listing(f"{key}[{r.index}]" for r in specific)
            for rule in stray:
                yield ctx.finding(
                    rule.span,
                    f"{key}[{rule.index}] of {display(policy)} allows all {key} traffic (no "
                    f"`{direction.peers_key}`, no `ports`), so {others} "
                    f"{'restricts' if len(specific) == 1 else 'restrict'} nothing",
                    fix="Delete this item if it is a leftover, or indent the peers and ports "
                    "that belong to it.",
                    related=[
                        Related(r.span, f"{key}[{r.index}], made meaningless") for r in specific
                    ],
                    subject=policy,
                )


RULE = AllowAllRule
