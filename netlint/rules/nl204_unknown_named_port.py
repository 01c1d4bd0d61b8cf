"""NL204 unknown-named-port: a named port that no destination pod declares."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence

from netlint.api import (
    Context,
    Finding,
    NetworkPolicy,
    PolicyRule,
    PortSpec,
    Rule,
    RuleMeta,
    Severity,
    Workload,
)

#: Workloads named in a message before "and N more".
SHOWN = 3


class UnknownNamedPort(Rule):
    meta = RuleMeta(
        code="NL204",
        name="unknown-named-port",
        severity=Severity.WARNING,
        summary="A named port (`port: http`) that no container of the destination pods "
        "declares with that protocol, so the port entry matches no traffic.",
        rationale=(
            "A named port is resolved per destination pod, against the `name` and `protocol` "
            "of its containers' `ports`. For an ingress rule the destinations are the pods the "
            "policy selects; for an egress rule, the pods its peers select. When none of them "
            "declares the name with the rule's protocol (TCP unless `protocol` says otherwise), "
            "the entry matches nothing: traffic the author meant to allow is dropped, usually "
            "because of a typo (`grcp`), a renamed container port, or a missing "
            "`protocol: UDP`. Use a name the pods declare, declare it in the pod template, or "
            "write the port number.\n\n"
            "Only judged when the repo knows the destination pods: silent when the policy "
            "selects no declared pod, when an egress rule has no `to` (anywhere) or an "
            "`ipBlock` peer, or when a peer reaches a namespace whose workloads or labels the "
            "repo does not hold."
        ),
        tags=("correctness", "pitfall"),
        security_severity=3.0,
    )

    def check_policy(self, ctx: Context, policy: NetworkPolicy) -> Iterator[Finding]:
        if not policy.valid:
            return
        for rule in policy.ingress:
            named = [p for p in rule.ports if p.is_named]
            if not named:
                continue
            pods = ctx.index.selected_workloads(policy)
            if pods:
                where = "the pods the policy selects"
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
        match = ctx.index.peer_workloads(policy, peer)
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
    for spec in named:
        name = str(spec.port)
        if (name, spec.protocol) in declared:
            continue
        message = (
            f"{rule.direction.rules_key}[{rule.index}] of NetworkPolicy "
            f"{policy.namespace}/{policy.name} allows named port '{name}' ({spec.protocol}), "
            f"but no container of {where} ({_names(pods)}) declares it: this port entry "
            "matches no traffic."
        )
        other = sorted({proto for n, proto in declared if n == name})
        candidates = sorted({n for n, proto in declared if proto == spec.protocol})
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
        if other:
            message += f" The pods declare '{name}' only as {'/'.join(other)}"
            message += (
                f"; their {spec.protocol} port '{close[0]}' may be the one meant."
                if close
                else f": set `protocol: {other[0]}` if that is the port meant."
            )
        elif close:
            message += f" Did you mean '{close[0]}'?"
        elif candidates:
            shown = ", ".join(f"'{n}'" for n in candidates[:5])
            message += f" They declare {shown}{' ...' if len(candidates) > 5 else ''}."
        else:
            message += f" They declare no named {spec.protocol} port: use the port number."
        yield ctx.finding(spec.port_span or spec.span, message, subject=policy)


def _names(pods: Sequence[Workload]) -> str:
    # Several files may declare the same workload (variants, test scenarios): name it once.
    names = list(dict.fromkeys(f"{w.kind} {w.namespace}/{w.name}" for w in pods))
    shown = ", ".join(names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


RULE = UnknownNamedPort
