"""NL203 split-peers: a namespaceSelector peer and a podSelector peer that were meant as one."""

from __future__ import annotations

from collections.abc import Iterator

from netlint.api import (
    NAME_LABEL,
    Certainty,
    Context,
    Finding,
    LabelSelector,
    NetworkPolicy,
    Operator,
    Peer,
    PolicyRule,
    Related,
    Rule,
    RuleMeta,
    Severity,
    display,
    listing,
)


class SplitPeers(Rule):
    meta = RuleMeta(
        code="NL203",
        name="split-peers",
        severity=Severity.WARNING,
        summary="A `namespaceSelector` peer next to a `podSelector` peer, written as two list "
        "items (ORed) where one peer with both selectors (ANDed) was evidently meant.",
        why=(
            "In `from`/`to`, each list item is a separate peer and the peers are ORed. "
            "`- namespaceSelector: …` followed by `- podSelector: …` allows *every* pod in the "
            "selected namespaces, plus the labelled pods of the policy's own namespace. One "
            "item holding both selectors (no `-` before the second) allows only the labelled "
            "pods in the selected namespaces. The stray `-` opens far more than intended.\n\n"
            "The rule reports only when the OR cannot be what was meant: the namespaceSelector "
            "already covers the policy's own namespace (`{}`, or a selector matching it), so "
            "the podSelector item adds nothing; or the pods the podSelector names do not run "
            "in the policy's namespace (the repo declares its workloads and none matches) while "
            "they do run in a namespace the namespaceSelector selects. Both orders "
            "(namespaceSelector first or podSelector first) are checked. The finding points at "
            "the second item's selector key, where the `-` to remove is."
        ),
        fix=(
            "Make the two items one peer: remove the `-` before the second selector, so that "
            "`namespaceSelector` and `podSelector` are keys of the same item (ANDed)."
        ),
        not_reported=(
            "Two such items are often a deliberate OR (\"the ingress controller's namespace, "
            'or our own frontend pods"): they are not reported when the podSelector item may '
            "reach pods of the policy's own namespace, or when the repo does not declare the "
            "workloads that would tell. An empty `podSelector: {}` item is never reported."
        ),
        added_in="0.1.0",
        tags=("security", "pitfall"),
        security_severity=6.0,
        certainty=Certainty.MAY,
    )

    def check_policy(self, ctx: Context, policy: NetworkPolicy) -> Iterator[Finding]:
        if not policy.valid:
            return
        for rule in (*policy.ingress, *policy.egress):
            peers = rule.peers
            i = 0
            while i + 1 < len(peers):
                finding = _pair(ctx, policy, rule, peers[i], peers[i + 1])
                if finding is None:
                    i += 1
                    continue
                yield finding
                i += 2


def _only_namespaces(peer: Peer) -> LabelSelector | None:
    if peer.pod_selector is None and peer.ip_block is None:
        return peer.namespace_selector
    return None


def _only_pods(peer: Peer) -> LabelSelector | None:
    if peer.namespace_selector is None and peer.ip_block is None:
        return peer.pod_selector
    return None


def _pair(
    ctx: Context, policy: NetworkPolicy, rule: PolicyRule, first: Peer, second: Peer
) -> Finding | None:
    if second.index != first.index + 1:
        return None
    namespaces, pods = _only_namespaces(first), _only_pods(second)
    ns_peer = first
    if namespaces is None or pods is None:
        namespaces, pods = _only_namespaces(second), _only_pods(first)
        ns_peer = second
    if namespaces is None or pods is None or pods.is_empty:
        return None
    evidence = _evidence(ctx, policy, rule, ns_peer, namespaces, pods)
    if evidence is None:
        return None
    key = rule.direction.peers_key
    at = second.namespace_selector if second is ns_peer else second.pod_selector
    if at is None:
        return None
    moved = "namespaceSelector" if second is ns_peer else "podSelector"
    where = _namespaces(namespaces)
    return ctx.finding(
        at.key_span,
        f"{display(policy)}, {rule.direction.rules_key}[{rule.index}]: {key}[{first.index}] and "
        f"{key}[{second.index}] are ORed peers: every pod in {where}, or pods {pods} in "
        f"{policy.namespace}",
        fix=f"{evidence} For pods {pods} in {where}, make them one peer: remove the `-` before "
        f"`{moved}:`.",
        related=[Related(first.span, f"{key}[{first.index}], the other half of the peer")],
        subject=policy,
    )


def _namespaces(selector: LabelSelector) -> str:
    if selector.is_empty:
        return "every namespace"
    reqs = selector.requirements
    if all(r.key == NAME_LABEL and r.operator is Operator.IN for r in reqs):
        names = sorted(frozenset.intersection(*(r.values for r in reqs)))
        if len(names) == 1:
            return f"namespace {names[0]}"
        if names:
            return f"namespaces {', '.join(names)}"
    return f"namespaces matching {selector}"


def _evidence(
    ctx: Context,
    policy: NetworkPolicy,
    rule: PolicyRule,
    ns_peer: Peer,
    namespaces: LabelSelector,
    pods: LabelSelector,
) -> str | None:
    """Why the OR cannot be what was meant, or None when it plausibly is."""
    key = rule.direction.peers_key
    if ctx.cluster.namespace_selector_matches(namespaces, policy.namespace) is True:
        return (
            f"{key}[{ns_peer.index}] already allows every pod of {policy.namespace}, so the "
            "podSelector item adds nothing."
        )
    own = ctx.cluster.workloads_in(policy.namespace)
    if not own or any(pods.matches(w.pod_labels) for w in own):
        # Pods of the policy's own namespace unknown, or the OR reaches real pods there.
        return None
    elsewhere = [
        w
        for namespace in ctx.cluster.namespaces_matching(namespaces).matched
        for w in ctx.cluster.workloads_in(namespace)
        if pods.matches(w.pod_labels)
    ]
    if not elsewhere:
        return None
    # Several files may declare the same workload (variants, test scenarios): listing() and
    # the count name it once.
    names = [display(w) for w in elsewhere]
    count = len(set(names))
    return (
        f"No workload of {policy.namespace} has {pods}, but {listing(names)} in "
        f"{_namespaces(namespaces)} {'does' if count == 1 else 'do'}."
    )


RULE = SplitPeers
