"""NL105 shadowed-rule: a rule whose every connection other rules already allow.

Coverage is decided exactly by :mod:`netlint.algebra` over symbolic traffic (selected pod x
remote end x port), so it holds for pods the repo does not declare. A rule of another policy of
the namespace counts for the selected pods its own podSelector matches: the selected pod is a
dimension of the traffic, so a policy for ``app=a`` and one for ``app=b`` together can cover a
rule of a policy for ``app in (a, b)``.

Within one namespace and direction, the effective rules of valid policies are visited from the
last in file order to the first; a rule covered by the union of the rules still kept is dropped
and reported. Each dropped rule is covered by the rules kept at that moment, and every rule
dropped later is itself covered by the rules kept then, so by induction the final kept rules
allow exactly what all the rules allowed: deleting every reported rule at once is safe, and of
two duplicates the later is reported. Findings name a minimal set of final kept rules.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from netlint.api import (
    Context,
    Direction,
    Finding,
    Index,
    Namespaces,
    NetworkPolicy,
    PolicyRule,
    Related,
    Rule,
    RuleMeta,
    Severity,
    TooComplex,
    Traffic,
    UnsupportedTraffic,
    mentioned_names,
    rule_traffic,
    subject_traffic,
)


@dataclass(frozen=True, slots=True, eq=False)
class _Entry:
    policy: NetworkPolicy
    rule: PolicyRule
    traffic: Traffic


@dataclass(frozen=True, slots=True)
class _Verdict:
    covers: tuple[_Entry, ...]
    duplicate: bool


_Analysis = dict[PolicyRule, _Verdict]


@dataclass(slots=True)
class _PerIndex:
    """What one run's index yields: namespace facts, and the verdicts of each namespace."""

    facts: Namespaces
    analyses: dict[tuple[str, bool], _Analysis] = field(default_factory=dict)


def _label(rule: PolicyRule) -> str:
    return f"{rule.direction.rules_key}[{rule.index}]"


def _order(entry: _Entry) -> tuple[str, int, int]:
    span = entry.rule.span
    return (span.path, span.line, span.col)


class ShadowedRule(Rule):
    meta = RuleMeta(
        code="NL105",
        name="shadowed-rule",
        severity=Severity.WARNING,
        summary="An ingress or egress rule allows nothing that other rules of the same "
        "direction do not already allow, for every pod its policy can select.",
        rationale=(
            "NetworkPolicies only add: a pod's allowed traffic is the union of the rules of "
            "every policy that selects it. A rule whose connections are all inside that union "
            "changes nothing, so it misleads the reader (narrowing or deleting it has no "
            "effect) and often hides a mistake: the covering rule is broader than intended, "
            "or a copy was left behind. netlint decides coverage symbolically, for every pod "
            "the policy's podSelector can match (declared in the repo or not): label selectors "
            "by containment (all four matchExpressions operators; `NotIn` and `DoesNotExist` "
            "match pods without the key), namespaces by their labels (only "
            "`kubernetes.io/metadata.name` and the labels of a Namespace the repo declares "
            "are taken as known), ipBlock ranges minus `except`, and ports as ranges per "
            "protocol (a named port equals only the same name). Coverage may come from several "
            "rules together, of the same policy or of other policies in the namespace whose "
            "podSelector selects the pods; an ipBlock never covers pods and a selector never "
            "covers addresses. Rules Kubernetes ignores (a direction policyTypes leaves out, a "
            "policy with NL002 errors) neither cover nor get reported, nor does a second "
            "declaration of the same namespace/name, which replaces the first rather than "
            "adding to it. Of two rules that cover each other the later one in file order "
            "is reported. The covering rules are named in the message and linked as related "
            "locations. Remove the shadowed rule, or narrow the covering rule if the shadowed "
            "one states the intended access."
        ),
        tags=("redundancy", "maintainability"),
        security_severity=3.0,
        options={"cross-policy": True},
        options_schema={
            "cross-policy": {
                "type": "boolean",
                "description": "Let rules of other policies in the namespace cover a rule "
                "(false: only the other rules of the same policy count).",
            }
        },
    )

    def __init__(self) -> None:
        self._cache: weakref.WeakKeyDictionary[Index, _PerIndex] = weakref.WeakKeyDictionary()

    def check_policy(self, ctx: Context, policy: NetworkPolicy) -> Iterator[Finding]:
        if not policy.valid:
            return
        analysis = self._analysis(ctx.index, policy.namespace, bool(ctx.options["cross-policy"]))
        for direction in Direction:
            for rule in policy.effective_rules(direction):
                verdict = analysis.get(rule)
                if verdict is not None:
                    yield self._finding(ctx, policy, rule, verdict)

    def _analysis(self, index: Index, namespace: str, cross_policy: bool) -> _Analysis:
        per_index = self._cache.get(index)
        if per_index is None:
            facts = Namespaces({name: ns.labels for name, ns in index.namespace_objects.items()})
            per_index = self._cache[index] = _PerIndex(facts)
        key = (namespace, cross_policy)
        if key not in per_index.analyses:
            per_index.analyses[key] = _analyse(index, per_index.facts, namespace, cross_policy)
        return per_index.analyses[key]

    def _finding(
        self, ctx: Context, policy: NetworkPolicy, rule: PolicyRule, verdict: _Verdict
    ) -> Finding:
        what = f"{_label(rule)} of NetworkPolicy {policy.namespace}/{policy.name}"
        names = [_describe(policy, entry) for entry in verdict.covers]
        if verdict.duplicate:
            message = (
                f"{what} duplicates {names[0]}: it allows the same connections for every pod "
                "the policy selects; remove one of them"
            )
        else:
            plural = len(names) > 1
            message = (
                f"{what} is shadowed: every connection it allows, for every pod the policy can "
                f"select, is already allowed by {_join(names)}; remove it, or narrow the "
                f"covering rule{'s' if plural else ''} if this one states the intended access"
            )
        related = [
            Related(entry.rule.span, f"covered by {_describe(None, entry)}")
            for entry in verdict.covers
        ]
        return ctx.finding(rule.span, message, related=related, subject=policy)


def _describe(home: NetworkPolicy | None, entry: _Entry) -> str:
    span = entry.rule.span
    if entry.policy is home:
        return f"{_label(entry.rule)} (line {span.line})"
    return (
        f"{_label(entry.rule)} of {entry.policy.namespace}/{entry.policy.name} "
        f"({span.path}:{span.line})"
    )


def _join(names: Sequence[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _entries(index: Index, namespace: str, direction: Direction) -> list[_Entry]:
    entries: list[_Entry] = []
    for policy in index.policies_in(namespace):
        if not policy.valid or direction not in policy.policy_types:
            continue
        for rule in policy.rules(direction):
            try:
                traffic = rule_traffic(policy, rule)
            except UnsupportedTraffic:
                continue  # left out as target and as cover: claims nothing either way
            entries.append(_Entry(policy, rule, traffic))
    entries.sort(key=_order)
    return entries


def _analyse(index: Index, facts: Namespaces, namespace: str, cross_policy: bool) -> _Analysis:
    verdicts: _Analysis = {}
    for direction in Direction:
        entries = _entries(index, namespace, direction)
        if len(entries) < 2:
            continue
        names = mentioned_names(*(entry.traffic for entry in entries))
        targets = {entry: facts.restrict(entry.traffic, names) for entry in entries}
        neighbours = _neighbours(entries, cross_policy)
        kept: dict[_Entry, None] = dict.fromkeys(entries)
        dropped: list[_Entry] = []
        for entry in reversed(entries):
            try:
                covered = _covered(targets[entry], _candidates(entry, kept, targets, neighbours))
            except TooComplex:
                continue  # undecided: stay silent rather than guess
            if covered:
                del kept[entry]
                dropped.append(entry)
        # The kept rules allow all that every rule allowed: name covers among them only, so a
        # finding never points at a rule that is itself reported.
        for entry in dropped:
            candidates = _candidates(entry, kept, targets, neighbours)
            try:
                covers = _minimal(targets[entry], candidates)
                duplicate = len(covers) == 1 and _within(covers[0], entry, facts)
            except TooComplex:
                continue
            verdicts[entry.rule] = _Verdict(tuple(covers), duplicate)
    return verdicts


def _neighbours(entries: Sequence[_Entry], cross_policy: bool) -> dict[_Entry, list[_Entry]]:
    """For each rule, the rules that may cover part of it: allowed to, and sharing traffic."""
    found: dict[_Entry, list[_Entry]] = {entry: [] for entry in entries}
    for i, entry in enumerate(entries):
        for other in entries[i + 1 :]:
            if other.policy is not entry.policy and not (
                cross_policy and other.policy.name != entry.policy.name
            ):
                # Two declarations of one namespace/name are one API object: whichever is
                # applied last replaces the other, so they never hold together.
                continue
            if entry.traffic.intersects(other.traffic):
                found[entry].append(other)
                found[other].append(entry)
    return found


def _candidates(
    entry: _Entry,
    kept: Mapping[_Entry, None],
    targets: Mapping[_Entry, Traffic],
    neighbours: Mapping[_Entry, list[_Entry]],
) -> list[_Entry]:
    """Kept rules that may cover ``entry``: its own policy's first, then in file order."""
    if targets[entry].is_empty():
        return []  # it allows nothing at all: not a shadow of anything
    found = [other for other in neighbours[entry] if other in kept]
    found.sort(key=lambda other: (other.policy is not entry.policy, _order(other)))
    return found


def _covered(target: Traffic, covers: Sequence[_Entry]) -> bool:
    if target.is_empty() or not covers:
        return False
    union = Traffic()
    for cover in covers:
        union = union.union(cover.traffic)
    return target.subtract(union).is_empty()


def _minimal(target: Traffic, candidates: list[_Entry]) -> list[_Entry]:
    """A cover with no rule to spare: drop candidates from the least preferred end."""
    needed = list(candidates)
    for candidate in reversed(candidates):
        trial = [c for c in needed if c is not candidate]
        if _covered(target, trial):
            needed = trial
    return needed


def _within(cover: _Entry, entry: _Entry, facts: Namespaces) -> bool:
    """Whether ``cover``, for the pods ``entry``'s policy selects, allows nothing more than
    ``entry`` does (the two rules then duplicate each other)."""
    mine = cover.traffic.intersect(subject_traffic(entry.policy))
    return entry.traffic.covers(mine, facts)


RULE = ShadowedRule
