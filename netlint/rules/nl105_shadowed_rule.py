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

import bisect
import heapq
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from netlint.api import (
    IP,
    KINDS,
    PORT,
    Box,
    Certainty,
    Context,
    Dim,
    Direction,
    Element,
    Finding,
    Index,
    LabelValues,
    Namespaces,
    NetworkPolicy,
    Options,
    PolicyRule,
    PortSet,
    Related,
    Rule,
    RuleMeta,
    Severity,
    TooComplex,
    Traffic,
    UnsupportedTraffic,
    display,
    listing,
    mentioned_names,
    option,
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
class _PerRun:
    """What one run derives from its index (kept in the run's memo): namespace facts, and the
    verdicts of each namespace."""

    facts: Namespaces
    #: By deploy unit (its id; None for a run without units) and namespace.
    analyses: dict[tuple[str | None, str], _Analysis] = field(default_factory=dict)
    #: Per unit and namespace, how many rules the work budget left undecided (for
    #: ``--verbose``).
    undecided: dict[tuple[str | None, str], int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ShadowedRuleOptions(Options):
    cross_policy: bool = option(
        True,
        description="Let rules of other policies in the namespace cover a rule (false: only "
        "the other rules of the same policy count).",
        schema={"type": "boolean"},
    )


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
        why=(
            "NetworkPolicies only add: a pod's allowed traffic is the union of the rules of "
            "every policy that selects it. A rule whose connections are all inside that union "
            "changes nothing, so it misleads the reader (narrowing or deleting it has no "
            "effect) and often hides a mistake: the covering rule is broader than intended, "
            "or a copy was left behind.\n\n"
            "netlint decides coverage symbolically, for every pod the policy's podSelector can "
            "match (declared in the repo or not): label selectors by containment (all four "
            "matchExpressions operators; `NotIn` and `DoesNotExist` match pods without the "
            "key), namespaces by their labels (only `kubernetes.io/metadata.name` and the "
            "labels of a Namespace the repo declares are taken as known), ipBlock ranges minus "
            "`except`, and ports as ranges per protocol (a named port equals only the same "
            "name). Coverage may come from several rules together, of the same policy or of "
            "other policies in the namespace whose podSelector selects the pods (unless "
            "`cross-policy` is false) that are applied together with it: in the same deploy "
            "unit (the same file, kustomize build, GitOps or config unit; see docs/units.md); "
            "an ipBlock never covers pods and a selector never covers "
            "addresses. Of two rules that cover each other the later one in file order is "
            "reported. The covering rules are named in the message and linked as related "
            "locations."
        ),
        fix=(
            "Remove the shadowed rule, or narrow the covering rule if the shadowed one states "
            "the intended access. Deleting every reported rule at once is safe: the rules left "
            "allow exactly what all of them allowed."
        ),
        not_reported=(
            "Rules Kubernetes ignores (a direction policyTypes leaves out, a policy with NL002 "
            "errors) neither cover nor get reported, nor does a second declaration of the same "
            "namespace/name, which replaces the first rather than adding to it (a rule whose "
            "only cover depends on such a declaration is not reported either).\n\n"
            "Covers from files that are not applied with the rule: another plain file (two "
            "files of a folder are often alternatives, or steps of a tutorial) or another "
            "kustomize build. Declare a folder that is applied as one in the config "
            "(`units:`).\n\n"
            "The work per namespace is bounded (linear in its rules): past the bound, rules "
            "not yet decided are not reported (never a false claim), and `--verbose` says how "
            "many."
        ),
        added_in="0.1.0",
        tags=("redundancy", "maintainability"),
        certainty=Certainty.TOGETHER,
        security_severity=3.0,
        options=ShadowedRuleOptions,
    )

    def __init__(self) -> None:
        # The engine asks for ``notes(index)`` after the run, when the run's Context (and its
        # memo) is gone: so the undecided counts alone are also kept here, for the latest run
        # over each index, and weakly (they go with their index). Everything else lives in
        # the run's memo.
        self._undecided: weakref.WeakKeyDictionary[Index, dict[tuple[str | None, str], int]] = (
            weakref.WeakKeyDictionary()
        )

    def notes(self, index: Index) -> Iterator[str]:
        """For ``--verbose``: namespaces where the work bound left rules undecided."""
        found = self._undecided.get(index, {})
        for (unit, namespace), count in sorted(
            found.items(), key=lambda i: (i[0][0] or "", i[0][1])
        ):
            where = f" of unit {unit}" if unit is not None else ""
            yield (
                f"NL105: {count} rules of namespace {namespace!r}{where} left undecided (too "
                "many overlapping rules to decide in bounded time); none of them is reported"
            )

    def check_policy(self, ctx: Context, policy: NetworkPolicy) -> Iterator[Finding]:
        if not policy.valid:
            return
        analysis = self._analysis(ctx, policy.namespace)
        for direction in Direction:
            for rule in policy.effective_rules(direction):
                verdict = analysis.get(rule)
                if verdict is not None:
                    yield _finding(ctx, policy, rule, verdict)

    def _analysis(self, ctx: Context, namespace: str) -> _Analysis:
        # Namespace labels are facts of the cluster; the rules that may cover one another are
        # those applied together: the unit's.
        per_run = ctx.cluster_memo("run", lambda: self._start(ctx.cluster))
        unit = ctx.unit.id if ctx.unit is not None else None
        analysis = per_run.analyses.get((unit, namespace))
        if analysis is None:
            options: ShadowedRuleOptions = ctx.options
            analysis, undecided = _analyse(
                ctx.index, per_run.facts, namespace, options.cross_policy
            )
            per_run.analyses[(unit, namespace)] = analysis
            if undecided:
                per_run.undecided[(unit, namespace)] = undecided
        return analysis

    def _start(self, index: Index) -> _PerRun:
        facts = Namespaces({name: ns.labels for name, ns in index.namespace_objects.items()})
        per_run = _PerRun(facts)
        # This run's counts replace an earlier run's over the same index (see __init__).
        self._undecided[index] = per_run.undecided
        return per_run


def _finding(ctx: Context, policy: NetworkPolicy, rule: PolicyRule, verdict: _Verdict) -> Finding:
    what = f"{_label(rule)} of {display(policy)}"
    # The message names the covers; where they are is in the related locations.
    names = [_name(policy, entry) for entry in verdict.covers]
    if verdict.duplicate:
        message = f"{what} duplicates {names[0]}"
        fix = (
            "It allows the same connections, for every pod the policy selects: remove one of them."
        )
    else:
        together = " together" if len(names) > 1 else ""
        message = f"{what} is shadowed by {listing(names)}{together}"
        covering = "rule" if len(names) == 1 else "rules"
        fix = (
            "For every pod the policy can select, every connection it allows is already "
            f"allowed: remove it, or narrow the covering {covering} if this one states the "
            "intended access."
        )
    related = [
        Related(entry.rule.span, f"covered by {_describe(entry)}") for entry in verdict.covers
    ]
    return ctx.finding(rule.span, message, fix=fix, related=related, subject=policy)


def _name(home: NetworkPolicy, entry: _Entry) -> str:
    """A cover as the message names it: its line in the same file, its policy's name when it
    is another policy's (where it is, the related locations say)."""
    rule = entry.rule
    named = _label(rule)
    if entry.policy is not home:
        named += f" of {entry.policy.namespace}/{entry.policy.name}"
    if rule.span.path == home.ref.path:
        named += f" (line {rule.span.line})"
    return named


def _describe(entry: _Entry) -> str:
    span = entry.rule.span
    return (
        f"{_label(entry.rule)} of {entry.policy.namespace}/{entry.policy.name} "
        f"({span.path}:{span.line})"
    )


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


class _Exhausted(TooComplex):
    """The namespace's work budget is spent: the rules left are undecided."""


#: An index key: a label value, or a (protocol, port number or name) pair.
_Key = object
#: Per indexed dimension of a traffic kind, a box's keys there (None: may meet anything).
_Sig = tuple[frozenset[_Key] | None, ...]
_Item = tuple[int, _Entry, Box, _Sig]
#: Which rules a search may return.
_Accept = Callable[[_Entry], bool]
#: How many port numbers a port set may list and still be indexed by number.
_MAX_PORT_KEYS = 64
#: Label dimensions indexed per traffic kind (the most often constrained ones).
_INDEXED_LABEL_DIMS = 3
#: Port numbers per block of the coarse port signature: 64 blocks span every port, so a range
#: of any width has few keys, and ranges far apart still tell apart without a box comparison.
_PORT_BLOCK_BITS = 10


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


def _blocks(element: Element | None) -> frozenset[_Key] | None:
    """Coarse keys of a port set: the blocks of numbers it touches and its names, so that two
    port sets that meet share one (None: every name of some protocol, or no port set)."""
    if not isinstance(element, PortSet):
        return None
    keys: set[_Key] = set()
    for protocol, numbers, names in element.entries:
        if names.cofinite:
            return None
        for a, b in numbers.intervals:
            keys.update(
                (protocol, block)
                for block in range(a >> _PORT_BLOCK_BITS, (b >> _PORT_BLOCK_BITS) + 1)
            )
        keys.update((protocol, name) for name in names.values)
    return frozenset(keys)


def _may_meet(mine: _Sig, theirs: _Sig) -> bool:
    """False when two boxes' signatures prove they do not meet: in some dimension both have
    keys and share none. A cheap test before the exact :meth:`Box.intersects`."""
    for a, b in zip(mine, theirs, strict=True):
        if a is not None and b is not None and a.isdisjoint(b):
            return False
    return True


class _Finder:
    """Rules' boxes, indexed so that a box is compared only with boxes that may meet it.

    Per traffic kind, a few dimensions are indexed: the boxes with a finite set there are
    listed under each of its values, the others (wild) apart. Two boxes that meet share a value
    in every indexed dimension where both are finite, so the boxes meeting ``box`` are among
    the lists of its values plus the wild list, in whichever indexed dimension that is least.
    Each listed box carries its keys in every indexed dimension (its signature), so that most
    boxes of a list that do not meet ``box`` are passed over without comparing the boxes.
    Lists are in file order; ``kept`` lists grow as visited rules are kept.
    """

    def __init__(self, entries: Sequence[_Entry]) -> None:
        self.position = {entry: i for i, entry in enumerate(entries)}
        #: Visited rules kept, each with its rank in the order they were kept.
        self.kept: dict[_Entry, int] = {}
        boxes: dict[str, list[tuple[int, _Entry, Box]]] = {kind: [] for kind in KINDS}
        for i, entry in enumerate(entries):
            for kind, box in entry.traffic.boxes():
                boxes[kind].append((i, entry, box))
        self.dims: dict[str, list[Dim]] = {}
        for kind, listed in boxes.items():
            counts: dict[Dim, int] = {}
            for _, _, box in listed:
                for dim, element in box.dims.items():
                    if dim != PORT and dim != IP and _keys(element) is not None:
                        counts[dim] = counts.get(dim, 0) + 1
            best = sorted(counts, key=lambda d: (-counts[d], d))[:_INDEXED_LABEL_DIMS]
            self.dims[kind] = [PORT, *best]
        #: Each rule's items, built once: the same tuples go into the kept lists.
        self.items: dict[_Entry, list[tuple[str, _Item]]] = {entry: [] for entry in entries}
        items: dict[str, list[_Item]] = {kind: [] for kind in KINDS}
        for kind, listed in boxes.items():
            for i, entry, box in listed:
                item = (i, entry, box, self.signature(kind, box))
                items[kind].append(item)
                self.items[entry].append((kind, item))
        self.all = items
        self.buckets: dict[tuple[str, Dim], dict[_Key, list[_Item]]] = {}
        self.wild: dict[tuple[str, Dim], list[_Item]] = {}
        self.kept_buckets: dict[tuple[str, Dim], dict[_Key, list[_Item]]] = {}
        self.kept_wild: dict[tuple[str, Dim], list[_Item]] = {}
        self.kept_all: dict[str, list[_Item]] = {kind: [] for kind in KINDS}
        #: Per kind and protocol, the port numbers with a bucket, sorted: a port set of many
        #: numbers finds the buckets of the numbers it holds without listing its own.
        self.numbers: dict[str, dict[str, list[int]]] = {}
        self.kept_numbers: dict[str, dict[str, list[int]]] = {}
        for kind, listed_items in items.items():
            for d, dim in enumerate(self.dims[kind]):
                buckets: dict[_Key, list[_Item]] = {}
                wild: list[_Item] = []
                for item in listed_items:
                    keys = item[3][d + 1]
                    if keys is None:
                        wild.append(item)
                    for key in keys or ():
                        buckets.setdefault(key, []).append(item)
                self.buckets[(kind, dim)] = buckets
                self.wild[(kind, dim)] = wild
                self.kept_buckets[(kind, dim)] = {}
                self.kept_wild[(kind, dim)] = []
            self.numbers[kind] = _numbers(self.buckets[(kind, PORT)])
            self.kept_numbers[kind] = {}

    def signature(self, kind: str, box: Box) -> _Sig:
        """The box's coarse port keys, then its keys in each indexed dimension of ``kind``."""
        dims = box.dims
        return (_blocks(dims.get(PORT)), *(_keys(dims.get(dim)) for dim in self.dims[kind]))

    def keep(self, entry: _Entry) -> None:
        """Record a visited rule as kept: it may now cover rules visited after it."""
        self.kept[entry] = len(self.kept)
        for kind, item in self.items[entry]:
            self.kept_all[kind].append(item)
            for d, dim in enumerate(self.dims[kind]):
                keys = item[3][d + 1]
                if keys is None:
                    self.kept_wild[(kind, dim)].append(item)
                buckets = self.kept_buckets[(kind, dim)]
                for key in keys or ():
                    found = buckets.get(key)
                    if found is None:
                        found = buckets[key] = []
                        if dim == PORT:
                            _add_number(self.kept_numbers[kind], key)
                    found.append(item)

    def lists(self, kind: str, box: Box, sig: _Sig, kept: bool) -> list[list[_Item]]:
        """The smallest set of lists holding every item that may meet ``box`` (of signature
        ``sig``)."""
        buckets_of = self.kept_buckets if kept else self.buckets
        wild_of = self.kept_wild if kept else self.wild
        best = [self.kept_all[kind] if kept else self.all[kind]]
        cost = len(best[0])
        for d, dim in enumerate(self.dims[kind]):
            keys: Iterable[_Key] | None = sig[d + 1]
            if keys is None and dim == PORT and sig[0] is not None:
                # Many port numbers: the buckets of the numbers in them, found by bisection.
                numbers = self.kept_numbers[kind] if kept else self.numbers[kind]
                keys = _number_keys(box.dims[PORT], numbers, cost)
            if keys is None:
                continue
            buckets = buckets_of[(kind, dim)]
            lists = [buckets[k] for k in keys if k in buckets]
            lists.append(wild_of[(kind, dim)])
            size = sum(len(listed) for listed in lists)
            if size < cost:
                best, cost = lists, size
        return best

    def nearest(
        self,
        kind: str,
        box: Box,
        sig: _Sig,
        below: int,
        kept: bool,
        accept: _Accept,
        budget: _Budget,
    ) -> tuple[int, _Entry] | None:
        """Among kept rules (by the order they were kept) or among all rules (by position),
        the greatest under ``below`` that ``accept`` takes and whose boxes meet ``box``."""
        order: Callable[[_Item], int] = self._kept_rank if kept else _first
        best: tuple[int, _Entry] | None = None
        for listed in self.lists(kind, box, sig, kept):
            for n in range(bisect.bisect_left(listed, below, key=order) - 1, -1, -1):
                item = listed[n]
                rank = order(item)
                if best is not None and rank <= best[0]:
                    break
                budget.spend()
                _, other, candidate, theirs = item
                if _may_meet(sig, theirs) and accept(other) and candidate.intersects(box):
                    best = (rank, other)
                    break
        return best

    def _kept_rank(self, item: _Item) -> int:
        return self.kept[item[1]]

    def first_kept(
        self,
        kind: str,
        box: Box,
        sig: _Sig,
        after: int,
        accept: _Accept,
        budget: _Budget,
    ) -> tuple[int, _Entry] | None:
        """The kept rule with the least position past ``after`` that ``accept`` takes and
        whose boxes meet ``box`` (kept lists are in file order when rules are kept in file
        order, as in the final set)."""
        best: tuple[int, _Entry] | None = None
        for listed in self.lists(kind, box, sig, kept=True):
            for n in range(bisect.bisect_right(listed, after, key=_first), len(listed)):
                i, other, candidate, theirs = listed[n]
                if best is not None and i >= best[0]:
                    break
                budget.spend()
                if _may_meet(sig, theirs) and accept(other) and candidate.intersects(box):
                    best = (i, other)
                    break
        return best


def _numbers(buckets: dict[_Key, list[_Item]]) -> dict[str, list[int]]:
    """Per protocol, the sorted port numbers among the keys of a port index."""
    found: dict[str, list[int]] = {}
    for key in buckets:
        _add_number(found, key)
    return found


def _add_number(numbers: dict[str, list[int]], key: _Key) -> None:
    if isinstance(key, tuple) and isinstance(key[1], int):
        bisect.insort(numbers.setdefault(key[0], []), key[1])


def _number_keys(element: Element, numbers: dict[str, list[int]], limit: int) -> list[_Key] | None:
    """The port index keys a port set with many numbers (and finitely many names) may share:
    the indexed numbers inside its intervals and its names. None when there are ``limit`` or
    more (counted by bisection before any is listed): another list is no longer."""
    assert isinstance(element, PortSet)
    spans: list[tuple[str, list[int], int, int]] = []
    count = 0
    for protocol, interval_set, names in element.entries:
        count += len(names.values)
        listed = numbers.get(protocol, [])
        for a, b in interval_set.intervals:
            lo, hi = bisect.bisect_left(listed, a), bisect.bisect_right(listed, b)
            count += hi - lo
            spans.append((protocol, listed, lo, hi))
        if count >= limit:
            return None
    keys: list[_Key] = [(protocol, n) for protocol, listed, lo, hi in spans for n in listed[lo:hi]]
    keys.extend((protocol, name) for protocol, _, names in element.entries for name in names.values)
    return keys


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
        own_finders: dict[NetworkPolicy, _Finder] = {}
        for entry in dropped:
            try:
                search = _Search(entry, finals, own, own_finders, cross_policy, budget)
                covers = _minimal(targets[entry], search, budget)
                if not covers:
                    # The final kept rules this one may combine with do not cover it: it was
                    # dropped as covered by a rule that a second declaration of its own policy
                    # (which replaces this one, so never covers it) covered in turn. No claim.
                    continue
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
    """Whether the rules that may still cover ``entry`` (visited and kept, or not visited
    yet) together allow all of ``target``.

    First by :func:`_cutting_prefix` over those rules, nearest first, which settles copies and
    chains of covering rules in a few steps; when that fragments the target past
    ``_DECIDE_PIECES``, by subtracting the union of every candidate in order of preference
    (own policy first, then file order), as netlint always did. Both are exact.
    """
    if target.is_empty():
        return False  # it allows nothing at all: not a shadow of anything
    still = _Still(entry, finder, cross_policy, budget)
    try:
        return _cutting_prefix(target, still, budget, _DECIDE_PIECES) is not None
    except _Fragmented:
        pass
    position = finder.position[entry]
    candidates: dict[_Entry, None] = {}
    for kind, box in target.boxes():
        sig = finder.signature(kind, box)
        for kept in (True, False):
            for listed in finder.lists(kind, box, sig, kept):
                budget.spend(len(listed))
                for _, other, _, theirs in listed:
                    if other is not entry and _may_meet(sig, theirs):
                        candidates[other] = None
    covers = [
        other
        for other in candidates
        if (finder.position[other] < position or other in finder.kept)
        and _compatible(entry, other, cross_policy)
        and other.traffic.intersects(entry.traffic)
    ]
    covers.sort(key=lambda other: (other.policy is not entry.policy, finder.position[other]))
    budget.spend(len(covers) * (1 + len(target.pods) + len(target.ipv4) + len(target.ipv6)))
    union = Traffic()
    for cover in covers:
        union = union.union(cover.traffic)
    return bool(covers) and target.subtract(union).is_empty()


#: Pieces the nearest-first search of :func:`_decide` may leave before the union takes over.
_DECIDE_PIECES = 256


class _Fragmented(Exception):
    """A cover search cut what is left into more pieces than its caller allows."""


class _Still:
    """The rules that may still cover a visited rule, ranked nearest first: the visited rules
    kept, the most recently kept first, then the rules before it, the nearest first (copies and
    chains of covering rules are often neighbours)."""

    def __init__(self, entry: _Entry, finder: _Finder, cross_policy: bool, budget: _Budget) -> None:
        self.entry = entry
        self.finder = finder
        self.kept = len(finder.kept)
        self.position = finder.position[entry]
        self.cross_policy = cross_policy
        self.budget = budget

    def _ok(self, other: _Entry) -> bool:
        return _compatible(self.entry, other, self.cross_policy)

    def first(self, kind: str, box: Box, after: int) -> tuple[int, _Entry] | None:
        """The rule of least rank above ``after`` (-1: any) whose boxes meet ``box``: ranks
        ``0..kept-1`` are kept rules, latest kept first; then rules before this one."""
        finder, kept = self.finder, self.kept
        sig = finder.signature(kind, box)
        if after < kept - 1:
            found = finder.nearest(kind, box, sig, kept - 1 - after, True, self._ok, self.budget)
            if found is not None:
                return (kept - 1 - found[0], found[1])
            after = kept - 1
        top = self.position + kept - 1
        found = finder.nearest(kind, box, sig, top - after, False, self._ok, self.budget)
        return None if found is None else (top - found[0], found[1])


class _Search:
    """The final kept rules that may cover a dropped rule, in order of preference: its own
    policy's first, then the others' (those it may combine with), each group in file order.

    A rule's rank is its place in that order. :meth:`first` finds, for one box, the rule of
    least rank past a given one that meets the box, through the index: rules that meet no part
    of what is left to cover are never looked at.
    """

    def __init__(
        self,
        entry: _Entry,
        finals: _Finder,
        own: dict[NetworkPolicy, list[_Entry]],
        own_finders: dict[NetworkPolicy, _Finder],
        cross_policy: bool,
        budget: _Budget,
    ) -> None:
        self.entry = entry
        self.finals = finals
        self.own = own.get(entry.policy, [])
        self.own_finder: _Finder | None = None
        if len(self.own) > _OWN_SCAN:
            finder = own_finders.get(entry.policy)
            if finder is None:
                finder = own_finders[entry.policy] = _Finder(self.own)
                for other in self.own:
                    finder.keep(other)
            self.own_finder = finder
        self.cross_policy = cross_policy
        self.budget = budget

    def _other(self, other: _Entry) -> bool:
        # Another policy's rule; of the same name it is the same API object and never counts.
        policy = self.entry.policy
        return other.policy is not policy and other.policy.name != policy.name

    def first(self, kind: str, box: Box, after: int) -> tuple[int, _Entry] | None:
        """The rule of least rank above ``after`` (-1: any) whose boxes meet ``box``."""
        mine = len(self.own)
        if after < mine:
            found = self._first_own(kind, box, after)
            if found is not None:
                return found
            after = mine - 1
        if not self.cross_policy:
            return None
        sig = self.finals.signature(kind, box)
        other = self.finals.first_kept(kind, box, sig, after - mine, self._other, self.budget)
        return None if other is None else (mine + other[0], other[1])

    def _first_own(self, kind: str, box: Box, after: int) -> tuple[int, _Entry] | None:
        if self.own_finder is not None:
            sig = self.own_finder.signature(kind, box)
            return self.own_finder.first_kept(kind, box, sig, after, _anything, self.budget)
        sig = self.finals.signature(kind, box)
        for rank in range(after + 1, len(self.own)):
            other = self.own[rank]
            for other_kind, (_, _, candidate, theirs) in self.finals.items[other]:
                self.budget.spend()
                if other_kind == kind and _may_meet(sig, theirs) and candidate.intersects(box):
                    return (rank, other)
        return None


#: Up to this many final kept rules of its own policy, a dropped rule's search scans them all;
#: past it, they get an index of their own.
_OWN_SCAN = 16
#: Pieces what is left to cover may hold before the search gives up (as a subtraction does).
_MAX_PIECES = 50_000


def _inside(box: Box, cover: Box) -> bool:
    """A cheap sufficient test that ``cover`` holds all of ``box`` (copies of a rule): every
    set ``cover`` constrains, ``box`` constrains to the same set. The subtraction is exact
    without it, only slower."""
    mine = box.dims
    return all(mine.get(dim) == theirs for dim, theirs in cover.dims.items())


def _anything(_: _Entry) -> bool:
    return True


def _remaining(target: Traffic, cuts: Iterable[_Entry], budget: _Budget) -> Traffic:
    remaining = target
    for cut in cuts:
        if remaining.is_empty():
            break
        budget.spend(len(remaining.pods) + len(remaining.ipv4) + len(remaining.ipv6))
        remaining = remaining.subtract(cut.traffic)
    return remaining


class _Ranked(Protocol):
    def first(self, kind: str, box: Box, after: int) -> tuple[int, _Entry] | None: ...


def _cutting_prefix(
    target: Traffic, search: _Ranked, budget: _Budget, pieces_cap: int = 0
) -> list[_Entry] | None:
    """The candidates, in the order of their rank, up to the first whose prefix covers the
    target, less those that meet nothing the candidates before them left (None: they never
    cover it). Exact, and the decision of coverage too.

    Each piece left to cover holds the least-ranked candidate meeting it; the least of those
    is the next candidate that meets what is left, and only the pieces holding it are cut (the
    others do not meet it). Dropping candidates that meet nothing left changes no cover: what
    they share with the target, the earlier candidates already cover. A piece's search starts
    past the rank that cut it out, so no candidate is looked at twice for one piece. Past
    ``pieces_cap`` pieces left (0: no cap), :class:`_Fragmented`; past ``_MAX_PIECES``,
    :class:`TooComplex`.
    """
    heap: list[tuple[int, int, _Entry, str, Box]] = []
    for kind, box in target.boxes():
        found = search.first(kind, box, -1)
        if found is None:
            return None
        heap.append((found[0], len(heap), found[1], kind, box))
    heapq.heapify(heap)
    made = len(heap)
    prefix: list[_Entry] = []
    while heap:
        rank, _, cut, _, _ = heap[0]
        prefix.append(cut)
        while heap and heap[0][0] == rank:
            _, _, _, kind, box = heapq.heappop(heap)
            pieces = [box]
            for cover in cut.traffic.kind(kind):
                pieces = [
                    piece
                    for whole in pieces
                    if not _inside(whole, cover)
                    for piece in whole.subtract(cover)
                ]
                budget.spend(1 + len(pieces))
            for piece in pieces:
                found = search.first(kind, piece, rank)
                if found is None:
                    return None
                heapq.heappush(heap, (found[0], made, found[1], kind, piece))
                made += 1
        if pieces_cap and len(heap) > pieces_cap:
            raise _Fragmented
        if len(heap) > _MAX_PIECES:
            raise TooComplex(f"cover search grew past {_MAX_PIECES} pieces")
    return prefix


def _minimal(target: Traffic, search: _Search, budget: _Budget) -> list[_Entry] | None:
    """A cover with no rule to spare: of the candidates, in order of preference, drop from the
    least preferred end every rule the others can do without (None: they do not cover).

    The same result as trying each rule from the end, but only the shortest prefix that covers
    is ever built: with ``k`` the first candidate at which the prefix covers the target, every
    later one goes (the prefix still covers without it) and ``k`` stays (the prefix before it
    does not cover); then the same holds again for the prefix before ``k``, with ``k`` kept.
    Candidates that meet nothing their predecessors left are never ``k``, so they are left out.
    """
    prefix = _cutting_prefix(target, search, budget)
    if prefix is None:
        return None
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
