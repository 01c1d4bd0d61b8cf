"""NL204 unknown-named-port: a named port that no destination pod declares."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence

from netlint.api import (
    Certainty,
    Context,
    Finding,
    NetworkPolicy,
    PolicyRule,
    PortSpec,
    Rule,
    RuleMeta,
    Severity,
    Workload,
    display,
    listing,
)


class UnknownNamedPort(Rule):
    meta = RuleMeta(
        code="NL204",
        name="unknown-named-port",
        severity=Severity.WARNING,
        summary="A named port (`port: http`) that no container of the destination pods "
        "declares with that protocol, so the port entry matches no traffic.",
        why=(
            "A named port is resolved per destination pod, against the `name` and `protocol` "
            "of its containers' `ports`. For an ingress rule the destinations are the pods the "
            "policy selects; for an egress rule, the pods its peers select. When none of them "
            "declares the name with the rule's protocol (TCP unless `protocol` says otherwise), "
            "the entry matches nothing: traffic the author meant to allow is dropped, usually "
            "because of a typo (`grcp`), a renamed container port, or a missing "
            "`protocol: UDP`."
        ),
        fix="Use a name the pods declare, declare it in the pod template, or write the port "
        "number. The finding suggests a close name, or the protocol the pods declare the name "
        "with.",
        not_reported=(
            "Only judged when the repo knows the destination pods: silent when the policy "
            "selects no declared pod, when an egress rule has no `to` (anywhere) or an "
            "`ipBlock` peer, or when a peer reaches a namespace whose workloads or labels the "
            "repo does not hold."
        ),
        added_in="0.1.0",
        tags=("correctness", "pitfall"),
        security_severity=3.0,
        certainty=Certainty.MAY,
    )

    def check_policy(self, ctx: Context, policy: NetworkPolicy) -> Iterator[Finding]:
        if not policy.valid:
            return
        for rule in policy.ingress:
            named = [p for p in rule.ports if p.is_named]
            if not named:
                continue
            pods = ctx.cluster.selected_workloads(policy)
            if pods:
                where = "the pods it selects"
                yield from _check(ctx, policy, rule, named, pods, where)
        for rule in policy.egress:
            named = [p for p in rule.ports if p.is_named]
            if not named:
                continue
            pods = _egress_destinations(ctx, policy, rule)
            if pods:
                where = "the pods its peers select"
                yield from _check(ctx, policy, rule, named, pods, where)


def _egress_destinations(
    ctx: Context, policy: NetworkPolicy, rule: PolicyRule
) -> Sequence[Workload]:
    """Every declared pod the rule's peers select, or nothing when the repo cannot list them
    all (no peers = anywhere; ipBlocks hold pods and outside hosts alike)."""
    if not rule.peers:
        return ()
    pods: dict[Workload, None] = {}
    for peer in rule.peers:
        if peer.ip_block is not None:
            return ()
        match = ctx.cluster.peer_workloads(policy, peer)
        if not match.complete:
            return ()
        pods.update(dict.fromkeys(match.workloads))
    return tuple(pods)


def _check(
    ctx: Context,
    policy: NetworkPolicy,
    rule: PolicyRule,
    named: Sequence[PortSpec],
    pods: Sequence[Workload],
    where: str,
) -> Iterator[Finding]:
    declared = {(p.name, p.protocol) for w in pods for p in w.ports if p.name}
    # Several files may declare the same workload (variants, test scenarios): listing() names
    # it once.
    checked = listing(display(w) for w in pods)
    for spec in named:
        name = str(spec.port)
        if (name, spec.protocol) in declared:
            continue
        message = (
            f"{rule.direction.rules_key}[{rule.index}] of {display(policy)} allows named port "
            f"'{name}' ({spec.protocol}), which no container of {where} declares"
        )
        other = sorted({proto for n, proto in declared if n == name})
        candidates = sorted({n for n, proto in declared if proto == spec.protocol})
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
        if other:
            hint = f"The pods declare '{name}' only as {'/'.join(other)}" + (
                f"; their {spec.protocol} port '{close[0]}' may be the one meant."
                if close
                else f": set `protocol: {other[0]}` if that is the port meant."
            )
        elif close:
            hint = f"Did you mean '{close[0]}'?"
        elif candidates:
            shown = listing((f"'{n}'" for n in candidates), limit=5)
            hint = f"Use a name they declare ({shown}), or the port number."
        else:
            hint = f"They declare no named {spec.protocol} port: use the port number."
        yield ctx.finding(
            spec.port_span or spec.span,
            message,
            fix=f"{hint} Pods checked: {checked}.",
            subject=policy,
        )


RULE = UnknownNamedPort
