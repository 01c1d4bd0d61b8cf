"""NL105 shadowed-rule: a rule whose every connection other rules already allow.

Coverage is decided exactly by :mod:`netlint.analysis.algebra` over symbolic traffic (selected pod x
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

import bisect
import heapq
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from netlint.api import (
    IP,
    KINDS,
    PORT,
    Box,
    Context,
    Dim,
    Direction,
    Element,
    Finding,
    Index,
    LabelValues,
    Namespaces,
    NetworkPolicy,
    PolicyRule,
    PortSet,
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
    #: Per namespace, how many rules the work budget left undecided (for ``--verbose``).
    undecided: dict[str, int] = field(default_factory=dict)


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
            "one states the intended access. The work per namespace is bounded (linear in its "
            "rules): past the bound, rules not yet decided are not reported (never a false "
            "claim), and `--verbose` says how many."
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

    def notes(self, index: Index) -> Iterator[str]:
        """For ``--verbose``: namespaces where the work bound left rules undecided."""
        per_index = self._cache.get(index)
        for namespace, count in sorted(per_index.undecided.items() if per_index else ()):
            yield (
                f"NL105: {count} rules of namespace {namespace!r} left undecided (too many "
                "overlapping rules to decide in bounded time); none of them is reported"
            )

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
            analysis, undecided = _analyse(index, per_index.facts, namespace, cross_policy)
            per_index.analyses[key] = analysis
            if undecided:
                per_index.undecided[namespace] = undecided
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


#: Work (rules compared and pieces cut, each weighted by the dimensions of the piece) one
#: namespace and direction may take: a base, plus so much per rule. Real repos stay far below;
#: past the bound the rules not yet decided are neither reported nor dropped: silence is safe.
WORK_PER_RULE = 1_000
WORK_BASE = 4_000_000
#: Work one rule's piece-by-piece check may take before the check by union takes over.
PIECEWISE_WORK = 2_000


class _Exhausted(TooComplex):
    """The namespace's work budget is spent: the rules left are undecided."""


_Item = tuple[int, _Entry, Box]
#: An index key: a label value, or a (protocol, port number or name) pair.
_Key = object
#: How many port numbers a port set may list and still be indexed by number.
_MAX_PORT_KEYS = 64
#: Label dimensions indexed per traffic kind (the most often constrained ones).
_INDEXED_LABEL_DIMS = 3


def _keys(element: Element | None) -> frozenset[_Key] | None:
    """Index keys of a box's set in one dimension: two sets that meet share a key, or one of
    them has no keys (None: unconstrained, cofinite, or may be absent)."""
    if isinstance(element, LabelValues):
        if element.cofinite or element.absent:
            return None
        return frozenset(element.values)
    if isinstance(element, PortSet):
        keys: set[_Key] = set()
        for protocol, numbers, names in element.entries:
            if names.cofinite:
                return None
            count = sum(b - a + 1 for a, b in numbers.intervals)
            if count > _MAX_PORT_KEYS:
                return None
            keys.update((protocol, n) for a, b in numbers.intervals for n in range(a, b + 1))
            keys.update((protocol, name) for name in names.values)
        return frozenset(keys)
    return None


class _Finder:
    """Rules' boxes, indexed so that a box is compared only with boxes that may meet it.

    Per traffic kind, a few dimensions are indexed: the boxes with a finite set there are
    listed under each of its values, the others (wild) apart. Two boxes that meet share a value
    in every indexed dimension where both are finite, so the boxes meeting ``box`` are among
    the lists of its values plus the wild list, in whichever indexed dimension that is least.
    Lists are in file order; ``kept`` lists grow as visited rules are kept.
    """

    def __init__(self, entries: Sequence[_Entry]) -> None:
        self.position = {entry: i for i, entry in enumerate(entries)}
        self.kept: set[_Entry] = set()
        items: dict[str, list[_Item]] = {kind: [] for kind in KINDS}
        for i, entry in enumerate(entries):
            for kind, box in entry.traffic.boxes():
                items[kind].append((i, entry, box))
        self.all = items
        self.dims: dict[str, list[Dim]] = {}
        self.buckets: dict[tuple[str, Dim], dict[_Key, list[_Item]]] = {}
        self.wild: dict[tuple[str, Dim], list[_Item]] = {}
        self.kept_buckets: dict[tuple[str, Dim], dict[_Key, list[_Item]]] = {}
        self.kept_wild: dict[tuple[str, Dim], list[_Item]] = {}
        self.kept_all: dict[str, list[_Item]] = {kind: [] for kind in KINDS}
        for kind, listed in items.items():
            counts: dict[Dim, int] = {}
            for _, _, box in listed:
                for dim, element in box.dims.items():
                    if dim != PORT and dim != IP and _keys(element) is not None:
                        counts[dim] = counts.get(dim, 0) + 1
            best = sorted(counts, key=lambda d: (-counts[d], d))[:_INDEXED_LABEL_DIMS]
            self.dims[kind] = [PORT, *best]
            for dim in self.dims[kind]:
                buckets: dict[_Key, list[_Item]] = {}
                wild: list[_Item] = []
                for item in listed:
                    keys = _keys(item[2].dims.get(dim))
                    if keys is None:
                        wild.append(item)
                    for key in keys or ():
                        buckets.setdefault(key, []).append(item)
                self.buckets[(kind, dim)] = buckets
                self.wild[(kind, dim)] = wild
                self.kept_buckets[(kind, dim)] = {}
                self.kept_wild[(kind, dim)] = []

    def is_kept(self, entry: _Entry) -> bool:
        """Whether a visited rule was kept."""
        return entry in self.kept

    def keep(self, entry: _Entry) -> None:
        """Record a visited rule as kept: it may now cover rules visited after it."""
        self.kept.add(entry)
        i = self.position[entry]
        for kind, box in entry.traffic.boxes():
            item = (i, entry, box)
            self.kept_all[kind].append(item)
            for dim in self.dims[kind]:
                keys = _keys(box.dims.get(dim))
                if keys is None:
                    self.kept_wild[(kind, dim)].append(item)
                for key in keys or ():
                    self.kept_buckets[(kind, dim)].setdefault(key, []).append(item)

    def _lists(self, kind: str, box: Box, kept: bool) -> list[list[_Item]]:
        """The smallest set of lists holding every item that may meet ``box``."""
        buckets_of = self.kept_buckets if kept else self.buckets
        wild_of = self.kept_wild if kept else self.wild
        best = [self.kept_all[kind] if kept else self.all[kind]]
        cost = len(best[0])
        for dim in self.dims[kind]:
            keys = _keys(box.dims.get(dim))
            if keys is None:
                continue
            buckets = buckets_of[(kind, dim)]
            lists = [buckets[k] for k in keys if k in buckets]
            lists.append(wild_of[(kind, dim)])
            size = sum(len(found) for found in lists)
            if size < cost:
                best, cost = lists, size
        return best

    def before(self, kind: str, box: Box, position: int) -> Iterator[_Item]:
        """Items of rules earlier than ``position`` that may meet ``box``, nearest first."""
        for listed in self._lists(kind, box, kept=False):
            for n in range(bisect.bisect_left(listed, position, key=_first) - 1, -1, -1):
                yield listed[n]

    def kept_after(self, kind: str, box: Box) -> Iterator[_Item]:
        """Items of visited, kept rules that may meet ``box``, the most recently kept first."""
        for listed in self._lists(kind, box, kept=True):
            yield from reversed(listed)

    def kept_in_order(self, kind: str, box: Box) -> Iterator[_Item]:
        """Items of kept rules that may meet ``box``, in file order (a rule may repeat)."""
        return heapq.merge(*self._lists(kind, box, kept=True), key=_first)


def _first(item: _Item) -> int:
    return item[0]


class _Budget:
    def __init__(self, size: int) -> None:
        self.left = WORK_BASE + WORK_PER_RULE * size

    def spend(self, amount: int = 1) -> None:
        self.left -= amount
        if self.left < 0:
            raise _Exhausted("NL105 work budget spent")


def _compatible(entry: _Entry, other: _Entry, cross_policy: bool) -> bool:
    # Two declarations of one namespace/name are one API object: whichever is applied last
    # replaces the other, so they never hold together.
    return other.policy is entry.policy or (cross_policy and other.policy.name != entry.policy.name)


def _analyse(
    index: Index, facts: Namespaces, namespace: str, cross_policy: bool
) -> tuple[_Analysis, int]:
    """The verdicts of one namespace, and how many rules were left undecided by the budget."""
    verdicts: _Analysis = {}
    undecided = 0
    for direction in Direction:
        entries = _entries(index, namespace, direction)
        if len(entries) < 2:
            continue
        names = mentioned_names(*(entry.traffic for entry in entries))
        targets = {entry: facts.restrict(entry.traffic, names) for entry in entries}
        finder = _Finder(entries)
        budget = _Budget(len(entries))
        kept: dict[_Entry, None] = dict.fromkeys(entries)
        dropped: list[_Entry] = []
        for n, entry in enumerate(reversed(entries)):
            try:
                covered = _decide(entry, targets[entry], finder, cross_policy, budget)
            except _Exhausted:
                undecided += len(entries) - n
                break  # every rule left stays kept: sound, it only keeps more
            except TooComplex:
                covered = False  # undecided: stay silent rather than guess
            if covered:
                del kept[entry]
                dropped.append(entry)
            else:
                finder.keep(entry)
        # The kept rules allow all that every rule allowed: name covers among them only, so a
        # finding never points at a rule that is itself reported.
        finals = _Finder([e for e in entries if e in kept])
        for entry in finals.position:
            finals.keep(entry)
        own: dict[NetworkPolicy, list[_Entry]] = {}
        for entry in finals.position:
            own.setdefault(entry.policy, []).append(entry)
        for entry in dropped:
            try:
                covers = _minimal(
                    targets[entry],
                    _preferred(entry, finals, own.get(entry.policy, ()), cross_policy, budget),
                    budget,
                )
                duplicate = len(covers) == 1 and _within(covers[0], entry, facts)
            except _Exhausted:
                undecided += 1
                continue
            except TooComplex:
                continue
            verdicts[entry.rule] = _Verdict(tuple(covers), duplicate)
    return verdicts, undecided


def _decide(
    entry: _Entry, target: Traffic, finder: _Finder, cross_policy: bool, budget: _Budget
) -> bool:
    """Whether the kept rules that may cover ``entry`` together allow all of ``target``.

    First piece by piece, which settles copies and chains of covering rules in a few steps;
    when that fragments the target (``PIECEWISE_WORK`` spent), by subtracting the union of
    every candidate in order of preference. Both are exact.
    """
    if target.is_empty():
        return False  # it allows nothing at all: not a shadow of anything
    settled = _piecewise(entry, target, finder, cross_policy, budget)
    if settled is not None:
        return settled
    everything = len(finder.position)
    candidates: dict[_Entry, None] = {}
    for kind, box in target.boxes():
        for source in (
            finder.kept_after(kind, box),
            finder.before(kind, box, everything),
        ):
            for _, other, _ in source:
                budget.spend()
                if other not in candidates and other is not entry:
                    candidates[other] = None
    position = finder.position[entry]
    covers = [
        other
        for other in candidates
        if (finder.position[other] < position or finder.is_kept(other))
        and _compatible(entry, other, cross_policy)
        and other.traffic.intersects(entry.traffic)
    ]
    covers.sort(key=lambda other: (other.policy is not entry.policy, finder.position[other]))
    budget.spend(len(covers) * (1 + len(target.pods) + len(target.ipv4) + len(target.ipv6)))
    union = Traffic()
    for cover in covers:
        union = union.union(cover.traffic)
    return bool(covers) and target.subtract(union).is_empty()


def _piecewise(
    entry: _Entry,
    target: Traffic,
    finder: _Finder,
    cross_policy: bool,
    budget: _Budget,
) -> bool | None:
    """Each piece of the target left is cut by the first kept rule found to meet it (rules kept
    after a visit first, then the nearest earlier rules, which are all still kept); a piece that
    no such rule meets is outside their union. None: undecided, ``PIECEWISE_WORK`` spent."""
    allowance = PIECEWISE_WORK
    position = finder.position[entry]
    work: list[tuple[str, Box]] = list(target.boxes())
    while work:
        kind, box = work.pop()
        # A comparison costs in proportion to the dimensions the piece constrains.
        size = 1 + len(box.dims)
        cut: Box | None = None
        for source in (finder.kept_after(kind, box), finder.before(kind, box, position)):
            for _, other, candidate in source:
                budget.spend(size)
                allowance -= size
                if _compatible(entry, other, cross_policy) and candidate.intersects(box):
                    cut = candidate
                    break
            if cut is not None:
                break
        if cut is None:
            return False
        pieces = box.subtract(cut)
        budget.spend(size * len(pieces))
        allowance -= size * (1 + len(pieces))
        if allowance < 0:
            return None
        work.extend((kind, piece) for piece in pieces)
    return True


def _preferred(
    entry: _Entry,
    finals: _Finder,
    own: Sequence[_Entry],
    cross_policy: bool,
    budget: _Budget,
) -> Iterator[_Entry]:
    """Kept rules that may cover ``entry``: its own policy's first, then in file order (each
    once; rules that do not meet it may be left out, they never change a cover)."""
    for other in own:
        budget.spend()
        if other is not entry and other.traffic.intersects(entry.traffic):
            yield other
    seen: set[_Entry] = set(own)
    streams = [finals.kept_in_order(kind, box) for kind, box in entry.traffic.boxes()]
    for _, other, _ in heapq.merge(*streams, key=_first):
        budget.spend()
        if other in seen:
            continue
        seen.add(other)
        if _compatible(entry, other, cross_policy) and other.traffic.intersects(entry.traffic):
            yield other


def _remaining(target: Traffic, cuts: Iterable[_Entry], budget: _Budget) -> Traffic:
    remaining = target
    for cut in cuts:
        if remaining.is_empty():
            break
        budget.spend(len(remaining.pods) + len(remaining.ipv4) + len(remaining.ipv6))
        remaining = remaining.subtract(cut.traffic)
    return remaining


def _minimal(target: Traffic, candidates: Iterator[_Entry], budget: _Budget) -> list[_Entry]:
    """A cover with no rule to spare: of the candidates, in order of preference, drop from the
    least preferred end every rule the others can do without.

    The same result as trying each rule from the end, but only the shortest prefix that covers
    is ever built: with ``k`` the first candidate at which the prefix covers the target, every
    later one goes (the prefix still covers without it) and ``k`` stays (the prefix before it
    does not cover); then the same holds again for the prefix before ``k``, with ``k`` kept.
    """
    prefix: list[_Entry] = []
    remaining = target
    for candidate in candidates:
        prefix.append(candidate)
        budget.spend(len(remaining.pods) + len(remaining.ipv4) + len(remaining.ipv6))
        remaining = remaining.subtract(candidate.traffic)
        if remaining.is_empty():
            break
    else:
        # Not covered: a rule dropped as covered by a rule of another policy, itself dropped as
        # covered by a second declaration of this rule's policy (which cannot cover this one).
        # Trying each rule from the end then drops none, so every candidate is named, as netlint
        # always did (the message then names rules that do not cover it, or none at all).
        return prefix
    chosen: list[_Entry] = []
    while prefix:
        last = prefix.pop()
        chosen.append(last)
        rest = _remaining(target, chosen, budget)
        if rest.is_empty():
            break
        for k, candidate in enumerate(prefix):
            budget.spend(len(rest.pods) + len(rest.ipv4) + len(rest.ipv6))
            rest = rest.subtract(candidate.traffic)
            if rest.is_empty():
                del prefix[k + 1 :]
                break
        else:
            break  # unreachable: the prefix with ``last`` covers
    chosen.reverse()
    return chosen


def _within(cover: _Entry, entry: _Entry, facts: Namespaces) -> bool:
    """Whether ``cover``, for the pods ``entry``'s policy selects, allows nothing more than
    ``entry`` does (the two rules then duplicate each other)."""
    mine = cover.traffic.intersect(subject_traffic(entry.policy))
    return entry.traffic.covers(mine, facts)


RULE = ShadowedRule
