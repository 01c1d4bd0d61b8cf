"""``netlint explain SRC DST``: why one connection is allowed, denied or unknown.

The answer is :func:`netlint.analysis.reach.explain` (the same computation as the map): each
end's side (the source's egress, the destination's ingress), the policies that isolate it and
the rules that allow part of the pair, each with ``file:line``. For what is not allowed, the
*nearest* rules: rules of the isolating policies whose ports cover the asked connection but
whose peers miss the other end (naming each selector requirement that fails), or whose peers
select it but whose ports do not cover it. Nothing here decides reachability itself.

Every string from the repo is escaped for its format (:mod:`netlint.core.escape`).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from netlint.analysis.algebra import UnsupportedTraffic, port_set
from netlint.analysis.index import Index
from netlint.analysis.reach import (
    AdminContribution,
    Conns,
    External,
    PairAnswer,
    Side,
    endpoint_of,
    explain,
    pods_key,
    resolve,
)
from netlint.core import escape
from netlint.core.model import (
    Direction,
    ForeignPolicy,
    NetworkPolicy,
    Object,
    Peer,
    Rule,
    Workload,
)
from netlint.core.selectors import describe, requirement_matches
from netlint.core.source import Span

FORMATS: Final = ("text", "json")
_IP_TOP: Final = {4: (1 << 32) - 1, 6: (1 << 128) - 1}
#: Hints listed per side at most (the nearest first): a policy with hundreds of rules must not
#: bury the answer.
MAX_HINTS: Final = 5


class EndError(ValueError):
    """An end that names nothing, or more than one workload."""


def _workload_label(workload: Workload) -> str:
    return endpoint_of(workload).label


def parse_end(index: Index, text: str) -> Workload | External:
    """``ns/name``, ``name`` (unique across namespaces), either with the kind as the map
    prints ends (``ns/name[Deployment]``), or an IP address or CIDR.

    A Pod with a controller is found by its own name and by its owner's (``endpoint_of``).
    Copies of one workload that several deploy units apply (a base two overlays include) are
    one end when their pods are alike, as in the map; a name shared by different workloads,
    or by copies whose pods differ, is an error that lists them."""
    value = text.strip()
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        network = None
    if network is not None:
        lo = int(network.network_address)
        return External(network.version, lo, lo + network.num_addresses - 1)
    kind = None
    if value.endswith("]") and "[" in value:
        value, _, kind = value[:-1].rpartition("[")
    namespace, slash, name = value.rpartition("/")
    if not name or (slash and not namespace) or kind == "":
        raise EndError(
            f"{text.strip()!r}: expected NAMESPACE/NAME, NAME, NAMESPACE/NAME[KIND], or an IP "
            "address or CIDR"
        )
    candidates = [w for w in index.workloads if not w.is_fragment]
    own = [
        w
        for w in candidates
        if w.name == name
        and (not slash or w.namespace == namespace)
        and (kind is None or w.kind == kind)
    ]
    if not own:
        # A pod of a controller, named as netpol-analyzer names it: its owner.
        own = [
            w
            for w in candidates
            if (end := endpoint_of(w)).name == name
            and (not slash or w.namespace == namespace)
            and (kind is None or end.kind == kind)
        ]
    if not own:
        raise EndError(f"{text.strip()!r}: no workload of the repo has that name")
    ends = sorted({endpoint_of(w).label for w in own})
    if len(ends) > 1:
        found = ", ".join(ends[:10])
        raise EndError(
            f"{text.strip()!r} names {len(ends)} workloads ({found}): name one as "
            "NAMESPACE/NAME[KIND]"
        )
    own.sort(key=lambda w: (w.ref.path, w.ref.span.line, w.ref.span.col))
    variants = {pods_key(w): w for w in reversed(own)}
    if len(variants) > 1:
        shown = "; ".join(_variant(w) for w in sorted(variants.values(), key=own.index)[:5])
        raise EndError(
            f"{text.strip()!r} is applied by several deploy units with different pods "
            f"({len(variants)} variants: {shown}): choose one unit with --unit ID "
            "(`netlint units` prints the ids)"
        )
    return own[0]


def _variant(workload: Workload) -> str:
    """One copy of a workload as a reader tells it from the others: where it is written and
    what its pods are (overlays patch one base line into copies that differ here)."""
    labels = ",".join(f"{k}={v}" for k, v in sorted(workload.pod_labels.items())) or "no labels"
    ports = ",".join(sorted(f"{p.port}/{p.protocol}" for p in workload.ports))
    parts = [f"{workload.ref.path}:{workload.ref.span.line}", f"pods {labels}"]
    if ports:
        parts.append(f"ports {ports}")
    if workload.host_network:
        parts.append("host network")
    return " ".join(parts)


def end_namespaces(texts: Iterable[str]) -> frozenset[str] | None:
    """The namespaces that ends written as ``parse_end`` reads them live in (none for an
    address); None when one is a bare name, which may live in any namespace."""
    found: set[str] = set()
    for text in texts:
        value = text.strip()
        try:
            ipaddress.ip_network(value, strict=False)
            continue
        except ValueError:
            pass
        namespace, slash, name = value.rpartition("/")
        if not (slash and namespace and name):
            return None
        found.add(namespace)
    return frozenset(found)


def end_label(end: Workload | External) -> str:
    return _workload_label(end) if isinstance(end, Workload) else end.label


def location(span: Span) -> str:
    return f"{span.path}:{span.line}"


def rule_name(rule: Rule) -> str:
    return f"{rule.direction.rules_key}[{rule.index}]"


def policy_name(policy: NetworkPolicy) -> str:
    return f"{policy.namespace}/{policy.name}"


#: What an admin rule's action does to the connections it matches, in words.
_ADMIN_VERBS: Final = {"Allow": "allows", "Deny": "denies", "Pass": "passes"}


def admin_name(contribution: AdminContribution) -> str:
    """``AdminNetworkPolicy 'name' (priority 10)``, ``BaselineAdminNetworkPolicy 'default'``."""
    policy = contribution.policy
    priority = "" if policy.priority is None else f" (priority {policy.priority})"
    return f"{policy.kind} '{policy.name}'{priority}"


def admin_rule_name(contribution: AdminContribution) -> str:
    """The rule by its ``name`` (netpol-analyzer's way), or by index when it has none."""
    rule = contribution.rule
    return rule.name or f"{rule.rule.direction.rules_key}[{rule.rule.index}]"


def admin_message(contribution: AdminContribution, conns: Conns) -> str:
    verb = _ADMIN_VERBS.get(contribution.action, contribution.action.lower())
    onward = " to the NetworkPolicies" if contribution.action == "Pass" else ""
    maybe = "" if contribution.certain else " (if it applies: see depends on)"
    return (
        f"{admin_name(contribution)} {verb} {conns}{onward} by rule "
        f"'{admin_rule_name(contribution)}'{maybe}"
    )


@dataclass(frozen=True, slots=True)
class Hint:
    """A rule that would allow the asked connection if changed, and what it lacks."""

    direction: Direction
    policy: NetworkPolicy
    rule: Rule
    #: What the rule would allow the pair, if its peers matched (or what it allows, if only
    #: its ports miss).
    conns: Conns
    #: Each requirement that fails, in words.
    fails: tuple[str, ...]
    #: ``peer``: ports cover the connection, the peers miss the other end; ``ports``: the
    #: peers select it, the ports do not cover it.
    kind: str

    @property
    def message(self) -> str:
        head = f"{rule_name(self.rule)} of {policy_name(self.policy)}"
        if self.kind == "ports":
            allowed = "nothing" if self.conns.is_empty() else f"only {self.conns}"
            return f"{head} selects the other end but allows {allowed}"
        return f"{head} allows {self.conns} but " + "; ".join(self.fails)


@dataclass(slots=True)
class Explanation:
    answer: PairAnswer
    #: The connection asked about (``--port``), or None: every connection.
    port: tuple[str, int] | None
    hints: dict[Direction, list[Hint]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def asked(self) -> Conns:
        if self.port is None:
            return Conns.all()
        return Conns.port(self.port[0], self.port[1])

    @property
    def allowed(self) -> Conns:
        return self.answer.certain.intersect(self.asked)

    @property
    def unknown(self) -> Conns:
        return self.answer.uncertain.intersect(self.asked)

    @property
    def verdict(self) -> str:
        """``allowed`` (some of what was asked is, for certain), ``unknown`` (only what the
        repo does not say could allow it), else ``denied``."""
        if not self.allowed.is_empty():
            return "allowed"
        if not self.unknown.is_empty():
            return "unknown"
        return "denied"


def explain_pair(
    index: Index,
    src: Workload | External,
    dst: Workload | External,
    port: tuple[str, int] | None = None,
) -> Explanation:
    """The answer for one pair (``port``: one connection), with the nearest rules for what
    each isolated side does not allow."""
    answer = explain(focused(index, (src, dst)), src, dst)
    found = Explanation(answer, port)
    if isinstance(src, External) and isinstance(dst, External):
        found.notes.append("two address ranges: no policy decides traffic between them")
    for end in (src, dst):
        if isinstance(end, Workload) and end.host_network:
            found.notes.append(
                f"{_workload_label(end)} runs on the host network (hostNetwork: true): whether "
                "NetworkPolicies apply to it is up to the network plugin; the answer is the one "
                "for a pod the policies apply to"
            )
    for side in (answer.egress, answer.ingress):
        if side.default_open or side.workload is None:
            continue
        missing = found.asked.subtract(side.certain)
        if missing.is_empty():
            continue
        remote = dst if side.direction is Direction.EGRESS else src
        found.hints[side.direction] = nearest(
            index, side, remote, dst, missing, ports=port is not None
        )
    return found


def focused(index: Index, ends: Iterable[Workload | External]) -> Index:
    """The part of ``index`` that can decide a pair of these ends: the policies of their
    namespaces (a NetworkPolicy selects pods of its own namespace only), every Namespace
    (peers' namespaceSelectors), the other engines' policies that may apply to them, and the
    ends. Compiling it instead of the whole repo's thousands of policies is what keeps one
    explanation fast; the answer is the same (tests/test_explain.py checks it)."""
    # Once each: a pair of a workload with itself must not index it twice.
    workloads = list({id(e): e for e in ends if isinstance(e, Workload)}.values())
    spaces = sorted({w.namespace for w in workloads})
    objects: list[Object | ForeignPolicy] = [p for ns in spaces for p in index.policies_in(ns)]
    objects += index.namespace_objects.values()
    foreign = {id(f): f for ns in spaces for f in index.foreign_policies_for(ns)}
    objects += foreign.values()
    objects += workloads
    return Index((), objects)


def nearest(
    index: Index,
    side: Side,
    remote: Workload | External,
    dst: Workload | External,
    missing: Conns,
    *,
    ports: bool = True,
) -> list[Hint]:
    """Rules of the side's isolating policies that come closest to allowing ``missing``:
    rules whose ports cover part of it but whose peers miss ``remote``, and (``ports``: when
    one connection was asked, else every rule that selects the remote would be listed) rules
    whose peers select it on other ports."""
    destination = dst if isinstance(dst, Workload) else None
    hints: list[Hint] = []
    for policy in side.isolated_by:
        for rule in policy.effective_rules(side.direction):
            try:
                conns = resolve(port_set(rule.ports), destination)
            except UnsupportedTraffic:
                continue
            covered = conns.intersect(missing)
            fails = _peer_failures(index, policy, rule, remote)
            if fails is None:
                # The peers select the other end (or may): only the ports can miss.
                if ports and covered.is_empty():
                    hints.append(Hint(side.direction, policy, rule, conns, (), "ports"))
                continue
            if not covered.is_empty():
                hints.append(Hint(side.direction, policy, rule, covered, fails, "peer"))
    # Rules that lack only a matching peer first, fewest failing requirements first; then the
    # rules that select the other end on other ports. Ties keep the file order.
    hints.sort(key=lambda h: (h.kind != "peer", len(h.fails)))
    return hints[:MAX_HINTS]


def _peer_failures(
    index: Index, policy: NetworkPolicy, rule: Rule, remote: Workload | External
) -> tuple[str, ...] | None:
    """None when some peer of the rule selects (or may select) ``remote``; else what fails,
    for the peer that fails least."""
    if not rule.peers:
        return None
    best: tuple[str, ...] | None = None
    for peer in rule.peers:
        fails = (
            _address_failures(peer, remote)
            if isinstance(remote, External)
            else _pod_failures(index, policy, peer, remote)
        )
        if not fails:
            return None
        if best is None or len(fails) < len(best):
            best = fails
    return best


def _address_failures(peer: Peer, remote: External) -> tuple[str, ...]:
    block = peer.ip_block
    if block is None:
        return ("its peer is a selector, and selectors never match addresses",)
    if block.network.version != remote.version:
        return (f"its ipBlock {block.cidr} is IPv{block.network.version}",)
    lo, hi = int(block.network.network_address), int(block.network.broadcast_address)
    if not (lo <= remote.lo and remote.hi <= hi):
        return (f"its ipBlock {block.cidr} does not hold all of {remote.label}",)
    for cut in block.excepts:
        a, b = int(cut.network.network_address), int(cut.network.broadcast_address)
        if a <= remote.hi and remote.lo <= b:
            return (f"its ipBlock {block.cidr} excepts {cut.cidr}",)
    return ()


def _labels_of(labels: Mapping[str, str], key: str) -> str:
    if key in labels:
        return f"{key}={labels[key]}"
    return f"no label {key}"


def _pod_failures(
    index: Index, policy: NetworkPolicy, peer: Peer, remote: Workload
) -> tuple[str, ...]:
    if peer.ip_block is not None:
        return (f"its peer is ipBlock {peer.ip_block.cidr}, and ipBlocks never match pods",)
    fails: list[str] = []
    who = f"{remote.namespace}/{remote.name}"
    if peer.pod_selector is not None:
        labels = remote.pod_labels
        for requirement in peer.pod_selector.requirements:
            if not requirement_matches(requirement, labels):
                fails.append(
                    f"its podSelector {describe(requirement)} does not match {who} "
                    f"({_labels_of(labels, requirement.key)})"
                )
    if peer.namespace_selector is None:
        if remote.namespace != policy.namespace:
            fails.append(
                f"without a namespaceSelector it selects pods of namespace {policy.namespace} "
                f"only, not of {remote.namespace}"
            )
    elif index.namespace_selector_matches(peer.namespace_selector, remote.namespace) is False:
        labels = index.namespace_labels(remote.namespace)
        for requirement in peer.namespace_selector.requirements:
            if not requirement_matches(requirement, labels):
                fails.append(
                    f"its namespaceSelector {describe(requirement)} does not match namespace "
                    f"{remote.namespace} ({_labels_of(labels, requirement.key)})"
                )
    return tuple(fails)


# -- text ------------------------------------------------------------------------------------


def _side_lines(side: Side, hints: Sequence[Hint], asked: Conns) -> Iterable[str]:
    what = "egress" if side.direction is Direction.EGRESS else "ingress"
    if side.workload is None:
        yield f"  {what}: an address range (no policy applies to it)"
        return
    who = _workload_label(side.workload)
    if side.default_open:
        yield f"  {what} of {who}: open, no NetworkPolicy isolates it for {what}"
        return
    allowed = side.certain.intersect(asked)
    state = "isolated" if side.isolated_by else "no NetworkPolicy isolates it"
    possible = side.possible.intersect(asked).subtract(allowed)
    more = "" if possible.is_empty() else f", may allow {possible}"
    yield f"  {what} of {who}: {state}, allows {allowed}{more}"
    kept = "if the cluster keeps this definition"
    variants = {id(p) for p in side.variants}
    # Admin rules come first: they are evaluated before the NetworkPolicies.
    for decided in side.admin:
        conns = decided.conns.intersect(asked)
        if not conns.is_empty():
            yield f"    {admin_message(decided, conns)}  {location(decided.rule.rule.span)}"
    for policy in side.isolated_by:
        count = len(policy.effective_rules(side.direction))
        rules = f"{count} {what} rule{'s' if count != 1 else ''}" if count else f"no {what} rules"
        which = f" {kept}" if id(policy) in variants else ""
        yield (
            f"    isolated by {policy_name(policy)} ({rules}){which}  {location(policy.name_span)}"
        )
    for contribution in side.contributions:
        conns = contribution.conns.intersect(asked)
        if conns.is_empty():
            continue
        maybe = "" if contribution.certain else " (if the other end's namespace matches)"
        if id(contribution.policy) in variants:
            maybe += f" ({kept})"
        yield (
            f"    allowed by {rule_name(contribution.rule)} of {policy_name(contribution.policy)}:"
            f" {conns}{maybe}  {location(contribution.rule.span)}"
        )
    for hint in hints:
        yield f"    nearest: {hint.message}  {location(hint.rule.span)}"


def render_text(found: Explanation) -> str:
    answer = found.answer
    asked = f" on {found.port[1]}/{found.port[0]}" if found.port else ""
    lines = [f"{end_label(answer.src)} => {end_label(answer.dst)}{asked}: {found.verdict}"]
    if not found.allowed.is_empty():
        lines.append(f"  allowed: {found.allowed}")
    if not found.unknown.is_empty():
        lines.append(f"  unknown: {found.unknown} (depends on {'; '.join(answer.reasons)})")
    denied = found.asked.subtract(found.allowed).subtract(found.unknown)
    if not denied.is_empty() and found.port is None and found.verdict != "denied":
        lines.append(f"  denied: {denied}")
    for side in (answer.egress, answer.ingress):
        lines.extend(_side_lines(side, found.hints.get(side.direction, ()), found.asked))
    if answer.foreign:
        lines.append("  every answer is unknown: " + "; ".join(answer.reasons))
    lines.extend(f"  note: {n}" for n in found.notes)
    return "".join(escape.text(line) + "\n" for line in lines)


# -- JSON ------------------------------------------------------------------------------------


def _at(span: Span) -> dict[str, object]:
    return {"file": span.path, "line": span.line, "location": location(span)}


def _side_json(side: Side, hints: Sequence[Hint], asked: Conns) -> dict[str, object]:
    variants = {id(p) for p in side.variants}
    return {
        "end": _workload_label(side.workload) if side.workload is not None else None,
        "open": side.default_open,
        "allowed": str(side.certain.intersect(asked)),
        "may_allow": str(side.possible.intersect(asked)),
        "isolated_by": [
            {"policy": policy_name(p), "variant": id(p) in variants, **_at(p.name_span)}
            for p in side.isolated_by
        ],
        "admin": [
            {
                "kind": c.policy.kind,
                "policy": c.policy.name,
                "priority": c.policy.priority,
                "rule": admin_rule_name(c),
                "action": c.action,
                "conn": str(c.conns.intersect(asked)),
                "certain": c.certain,
                "message": admin_message(c, c.conns.intersect(asked)),
                **_at(c.rule.rule.span),
            }
            for c in side.admin
            if not c.conns.intersect(asked).is_empty()
        ],
        "allowed_by": [
            {
                "policy": policy_name(c.policy),
                "rule": rule_name(c.rule),
                "conn": str(c.conns.intersect(asked)),
                "certain": c.certain,
                "variant": id(c.policy) in variants,
                **_at(c.rule.span),
            }
            for c in side.contributions
            if not c.conns.intersect(asked).is_empty()
        ],
        "nearest": [
            {
                "policy": policy_name(h.policy),
                "rule": rule_name(h.rule),
                "kind": h.kind,
                "conn": str(h.conns),
                "fails": list(h.fails),
                "message": h.message,
                **_at(h.rule.span),
            }
            for h in hints
        ],
    }


def as_json(found: Explanation) -> dict[str, object]:
    answer = found.answer
    return {
        "src": end_label(answer.src),
        "dst": end_label(answer.dst),
        "port": f"{found.port[1]}/{found.port[0]}" if found.port else None,
        "verdict": found.verdict,
        "allowed": str(found.allowed),
        "unknown": str(found.unknown),
        "depends_on": list(answer.reasons),
        "egress": _side_json(answer.egress, found.hints.get(Direction.EGRESS, ()), found.asked),
        "ingress": _side_json(answer.ingress, found.hints.get(Direction.INGRESS, ()), found.asked),
        "host_network": any(
            isinstance(end, Workload) and end.host_network for end in (answer.src, answer.dst)
        ),
        "notes": found.notes,
    }


def render_json(found: Explanation) -> str:
    return escape.json_document(json.dumps(as_json(found), indent=2, ensure_ascii=False)) + "\n"


def render(found: Explanation, form: str) -> str:
    return render_json(found) if form == "json" else render_text(found)
