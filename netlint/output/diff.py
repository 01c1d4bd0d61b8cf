"""``netlint diff``: what a change of the manifests opens and closes.

Two connectivity maps (:mod:`netlint.analysis.reach`: a base and a head, each a directory or a
git revision) are compared record by record, streamed in their common sort order (a map of a
large repo has millions of records; neither is held whole). External ranges are re-partitioned
on both maps' edges, and touching ranges with equal (before, after) merged, as netpol-analyzer's
diff does. Each change is explained from both sides with :meth:`ConnectivityMap.explain`: the
head's rules that allow what was gained (the first one the base did not have is the rule that
*opens* it: SARIF puts the result there), the base's rules that allowed what was lost and the
head's policies that now isolate an end.

Formats: text (netpol-analyzer's ``diff-type: ...`` lines, each followed by its causes), JSON
(``{"diff": [{"src", "dst", "ref1", "ref2", ...}]}``, what the oracle's ``score.py`` reads, plus
causes), Markdown (a PR comment: a summary, a table and a Mermaid graph of what changed) and
SARIF (rule ``NL-DIFF``: each newly allowed connection on the rule that opens it, written by
netlint's SARIF reporter). Every string from the repo is escaped for its format.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter
from pathlib import Path
from typing import Final, NamedTuple

from netlint.analysis.index import Index
from netlint.analysis.reach import (
    ConnectivityMap,
    Conns,
    Endpoint,
    External,
    PairAnswer,
    Record,
    Side,
    endpoint_of,
    pods_key,
)
from netlint.core import escape
from netlint.core.findings import Finding, Related, Severity
from netlint.core.model import Direction, ForeignPolicy, LabelSelector, NetworkPolicy, Workload
from netlint.core.rule import RuleMeta
from netlint.core.source import Span
from netlint.output.connectivity import mermaid_quote
from netlint.output.explain import admin_name, admin_rule_name, location, policy_name, rule_name
from netlint.output.report import Report

FORMATS: Final = ("text", "json", "markdown", "sarif")
End = Endpoint | External
_NONE: Final = Conns.none()
#: Causes kept per change (the first are the ones that matter: a rule that opens it).
MAX_CAUSES: Final = 8
#: Rows of the Markdown table and edges of its graph (a PR comment has a size limit, and a
#: Mermaid graph of thousands of edges renders as nothing).
MAX_TABLE_ROWS: Final = 200
MAX_GRAPH_EDGES: Final = 100

DIFF_META: Final = RuleMeta(
    code="NL-DIFF",
    name="connection-opened",
    severity=Severity.NOTE,
    summary="A change of the manifests allows a connection the base did not allow.",
    why="A connection the policies newly allow is a change of what can reach a workload: "
    "it should be intended, and seen in review before it reaches a cluster.",
    fix="If the connection is not intended, narrow the rule the result points at (its peers "
    "or its ports); if it is, nothing needs doing.",
    tags=("connectivity", "diff"),
    security_severity=4.0,
    precision="very-high",
    added_in="0.2.0",
)


@dataclass(frozen=True, slots=True)
class Cause:
    """A policy line behind a change: in the ``base`` or the ``head``."""

    revision: str
    #: ``allows`` (head rule allowing what was gained), ``allowed`` (base rule that allowed
    #: what was lost), ``denies`` (head AdminNetworkPolicy rule denying what was lost),
    #: ``isolates`` (head policy that now isolates an end), ``opens`` (an end no policy
    #: isolates any more: the location is the workload).
    role: str
    policy: str | None
    rule: str | None
    span: Span
    conns: Conns | None
    #: The end, for ``opens``.
    subject: str | None = None

    @property
    def message(self) -> str:
        if self.role == "opens":
            return f"no policy isolates {self.subject} for {self.rule} any more"
        if self.role == "isolates":
            return f"{self.policy} now isolates {self.subject} for {self.rule}"
        return f"{self.rule} of {self.policy} {self.role} {self.conns}"


@dataclass(slots=True)
class Change:
    src: End
    dst: End
    before: Conns
    after: Conns
    before_uncertain: Conns
    after_uncertain: Conns
    causes: list[Cause] = field(default_factory=list)
    #: The head's rule that opens what was gained (the SARIF location), if any.
    opener: Cause | None = None
    info: str = ""

    @property
    def kind(self) -> str:
        if self.before == self.after:
            return "uncertain"
        if self.before.is_empty():
            return "added"
        if self.after.is_empty():
            return "removed"
        return "changed"

    @property
    def gained(self) -> Conns:
        return self.after.subtract(self.before)


@dataclass(slots=True)
class Diff:
    base: str
    head: str
    changes: list[Change]
    notes: list[str] = field(default_factory=list)

    def of_kind(self, *kinds: str) -> list[Change]:
        order = {k: i for i, k in enumerate(kinds)}
        found = [c for c in self.changes if c.kind in order]
        found.sort(key=lambda c: (order[c.kind], c.src.label.encode(), c.dst.label.encode()))
        return found


# -- comparing two maps ----------------------------------------------------------------------


def _rows(found: ConnectivityMap) -> Iterator[tuple[End, list[Record]]]:
    for src, group in itertools.groupby(found.records(), key=attrgetter("src")):
        yield src, list(group)


_Ranged = tuple[External, Conns, Conns]


def _repartition(
    before: Sequence[_Ranged], after: Sequence[_Ranged]
) -> Iterator[tuple[External, Conns, Conns, Conns, Conns]]:
    """Ranges where the two sides differ, cut at both sides' edges, touching ranges with equal
    values merged. Within one side the ranges are disjoint (one map's partition)."""
    versions = sorted({e.version for e, _, _ in (*before, *after)})
    for version in versions:
        sides = [
            sorted((r for r in items if r[0].version == version), key=lambda r: r[0].lo)
            for items in (before, after)
        ]
        cuts = sorted({p for items in sides for e, _, _ in items for p in (e.lo, e.hi + 1)})
        at = [0, 0]
        run: tuple[int, int, tuple[Conns, Conns, Conns, Conns]] | None = None
        for lo, nxt in itertools.pairwise(cuts):
            values: list[Conns] = []
            for i, items in enumerate(sides):
                while at[i] < len(items) and items[at[i]][0].hi < lo:
                    at[i] += 1
                if at[i] < len(items) and items[at[i]][0].lo <= lo:
                    values += [items[at[i]][1], items[at[i]][2]]
                else:
                    values += [_NONE, _NONE]
            value = (values[0], values[1], values[2], values[3])
            if run is not None and run[2] == value and run[1] + 1 == lo:
                run = (run[0], nxt - 1, value)
                continue
            if run is not None:
                yield from _differing(version, run)
            run = (lo, nxt - 1, value)
        if run is not None:
            yield from _differing(version, run)


def _differing(
    version: int, run: tuple[int, int, tuple[Conns, Conns, Conns, Conns]]
) -> Iterator[tuple[External, Conns, Conns, Conns, Conns]]:
    lo, hi, (c1, u1, c2, u2) = run
    if c1 != c2 or u1 != u2:
        yield External(version, lo, hi), c1, c2, u1, u2


class _Side:
    """One map, with its endpoints' workloads for explaining."""

    def __init__(self, found: ConnectivityMap) -> None:
        self.map = found
        self.members: dict[Endpoint, list[Workload]] = defaultdict(list)
        for workload in found.workloads:
            self.members[found.endpoint[workload]].append(workload)
        self.versions = set(found.versions())
        self._alike: dict[Endpoint, dict[tuple[object, ...], Workload]] = {}

    def alike(self, end: Endpoint) -> dict[tuple[object, ...], Workload]:
        """One member of ``end`` per kind of pod (members whose pods are alike answer alike:
        a base that thirteen overlays apply is thirteen copies, 169 pairs, one answer)."""
        found = self._alike.get(end)
        if found is None:
            found = self._alike[end] = {pods_key(w): w for w in self.members.get(end, ())}
        return found

    def end(self, end: End) -> Workload | External | None:
        if isinstance(end, External):
            return end
        found = self.members.get(end)
        return found[0] if found else None

    def explain(self, src: End, dst: End) -> PairAnswer | None:
        a, b = self.end(src), self.end(dst)
        if a is None or b is None:
            return None
        return self.map.explain(a, b)


def compare(base: ConnectivityMap, head: ConnectivityMap, base_name: str, head_name: str) -> Diff:
    """Every pair whose certain or uncertain connections differ, with its causes.

    Only the pairs a change can reach are computed when they are few (:func:`_affected`): a
    pair's answer is a function of its two workloads, their namespaces' labels and other
    engines' policies, and the policies isolating the source's egress and the destination's
    ingress; when none of those differs between the maps, neither does the answer. Otherwise
    the two maps are compared whole."""
    before, after = _Side(base), _Side(head)
    affected = _affected(before, after)
    if affected is None:
        changes = _compare_whole(base, head)
    else:
        changes = _compare_some(before, after, affected)
    old_ends, new_ends = set(before.members), set(after.members)
    for change in changes:
        _explain(change, before, after)
        gone = [e.label for e in (change.src, change.dst) if e in old_ends and e not in new_ends]
        new = [e.label for e in (change.src, change.dst) if e in new_ends and e not in old_ends]
        if new:
            change.info = f"workload {' and '.join(new)} added"
        elif gone:
            change.info = f"workload {' and '.join(gone)} removed"
    notes = sorted(set(base.notes) | set(head.notes))
    return Diff(base_name, head_name, changes, notes)


#: Pair evaluations (each side of each pair, in both maps) up to which only the pairs a change
#: can reach are computed; beyond it the whole maps are compared (grouped: cheaper per pair).
MAX_PAIR_EVALUATIONS: Final = 400_000


def _workload_print(workload: Workload) -> object:
    return (
        workload.kind,
        workload.name,
        workload.is_fragment,
        tuple(sorted(workload.pod_labels.items())),
        tuple(sorted((p.name or "", p.protocol, p.port) for p in workload.ports)),
    )


class _Reach(NamedTuple):
    """The endpoints whose answers a change may reach: whose egress answers may differ, whose
    ingress answers may, the same towards pods only (a change of rules whose peers are all
    ipBlocks reaches external ranges alone: ipBlocks never match pods), and those that changed
    themselves."""

    sources: set[Endpoint]
    destinations: set[Endpoint]
    pod_sources: set[Endpoint]
    pod_destinations: set[Endpoint]
    changed: set[Endpoint]


def _affected(before: _Side, after: _Side) -> _Reach | None:
    """What a change reaches (``_Reach``), or None when it is too much to compute pair by pair
    (or a cluster-scoped foreign policy changed, which reaches everything)."""
    sides = (before, after)
    indexes = [s.map.index for s in sides]
    cluster_wide = [_foreign_print(i.cluster_foreign_policies) for i in indexes]
    if cluster_wide[0] != cluster_wide[1]:
        return None
    # Workloads that changed, or whose namespace did (labels, other engines' policies). Both
    # revisions share the workloads of unchanged files: the same objects need no print.
    old, new = before.members, after.members
    changed = {
        e
        for e in old.keys() | new.keys()
        if not _same_objects(old.get(e), new.get(e))
        and _members_print(old.get(e)) != _members_print(new.get(e))
    }
    ends = old.keys() | new.keys()
    for space in {e.namespace for e in ends}:
        a, b = (_namespace_print(i, space) for i in indexes)
        if a != b:
            changed.update(e for e in ends if e.namespace == space)
    sources, destinations = set(changed), set(changed)
    pod_sources, pod_destinations = set(changed), set(changed)
    # Policies that changed: every workload they select, in either map, for their directions.
    # Both revisions share the objects of unchanged files (the base takes the work tree's
    # parsed results and builds): only names whose objects differ have their keys compared.
    named = [_policies_by_name(i) for i in indexes]
    for key in named[0].keys() | named[1].keys():
        a, b = named[0].get(key, []), named[1].get(key, [])
        if len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True)):
            continue
        if Counter(p.enforced_key() for p in a) == Counter(p.enforced_key() for p in b):
            continue
        towards_pods = {
            d
            for d in (Direction.EGRESS, Direction.INGRESS)
            if Counter(_pod_facing_key(p, d) for p in a)
            != Counter(_pod_facing_key(p, d) for p in b)
        }
        for side, index in zip(sides, indexes, strict=True):
            for policy in index.policies_in(key[0]):
                if policy.name != key[1]:
                    continue
                for workload in index.selected_workloads(policy):
                    end = side.map.endpoint.get(workload)
                    if end is None:
                        continue
                    if Direction.EGRESS in policy.policy_types:
                        sources.add(end)
                        if Direction.EGRESS in towards_pods:
                            pod_sources.add(end)
                    if Direction.INGRESS in policy.policy_types:
                        destinations.add(end)
                        if Direction.INGRESS in towards_pods:
                            pod_destinations.add(end)
    atoms = sum(len(a) for s in sides for d in s.map.partition.values() for a in d.values())
    pairs = len(pod_sources) + len(pod_destinations)
    if 4 * (pairs * len(ends) + (len(sources) + len(destinations)) * atoms) > MAX_PAIR_EVALUATIONS:
        return None
    return _Reach(sources, destinations, pod_sources, pod_destinations, changed)


def _pod_facing_key(policy: NetworkPolicy, direction: Direction) -> object:
    """What of a policy can answer a pod in ``direction`` (``enforced_key`` without what only
    addresses meet): whether it is valid, whom it selects, whether it isolates the direction,
    and its rules that hold pods, each with its selector peers and ports. A rule whose peers are
    all ipBlocks holds no pod, and neither does an ipBlock beside a selector."""
    if direction not in policy.policy_types:
        return (policy.valid, _selector_print(policy.pod_selector), None)
    rules = []
    for rule in policy.rules(direction):
        peers = [
            (_selector_print(p.pod_selector), _selector_print(p.namespace_selector))
            for p in rule.peers
            if p.ip_block is None
            and (p.pod_selector is not None or p.namespace_selector is not None)
        ]
        if rule.peers and not peers:
            continue
        ports = tuple((p.protocol, p.port, p.end_port) for p in rule.ports)
        rules.append((not rule.peers, tuple(peers), ports))
    return (policy.valid, _selector_print(policy.pod_selector), tuple(rules))


def _selector_print(selector: LabelSelector | None) -> object:
    if selector is None:
        return None
    return frozenset((r.key, r.operator, r.values) for r in selector.requirements)


def _same_objects(a: Sequence[Workload] | None, b: Sequence[Workload] | None) -> bool:
    return (
        a is not None
        and b is not None
        and len(a) == len(b)
        and all(x is y for x, y in zip(a, b, strict=True))
    )


def _members_print(members: Sequence[Workload] | None) -> object:
    return None if members is None else tuple(sorted(repr(_workload_print(w)) for w in members))


def _foreign_print(found: Iterable[ForeignPolicy]) -> object:
    """Other engines' policies by name, and an AdminNetworkPolicy's by what it decides too
    (netlint models those: a changed rule changes answers everywhere its subject reaches)."""
    return tuple(
        sorted(
            (
                f.kind,
                f.ref.name,
                f.namespace or "",
                repr(f.admin.semantic_key()) if f.admin is not None else "",
                f.unmodelled_reason or "",
            )
            for f in found
        )
    )


def _namespace_print(index: Index, namespace: str) -> object:
    return (
        index.is_declared(namespace),
        tuple(sorted(index.namespace_labels(namespace).items())),
        _foreign_print(index.foreign_policies_for(namespace)),
    )


def _policies_by_name(index: Index) -> dict[tuple[str, str], list[NetworkPolicy]]:
    found: dict[tuple[str, str], list[NetworkPolicy]] = defaultdict(list)
    for policy in index.policies:
        found[(policy.namespace, policy.name)].append(policy)
    return found


def _answer(side: _Side, src: End, dst: End) -> tuple[Conns, Conns]:
    """(certain, uncertain) of a pair of ends, as the map's records merge the pods of one
    owner; nothing for an end the map does not have, or an IP version it does not list."""
    ends: list[list[Workload | External]] = []
    for end in (src, dst):
        if isinstance(end, External):
            if end.version not in side.versions:
                return _NONE, _NONE
            ends.append([end])
        else:
            ends.append(list(side.alike(end).values()))
    pairs = [(a, b) for a in ends[0] for b in ends[1]]
    certain = uncertain = _NONE
    for a, b in pairs:
        answer = side.map.explain(a, b)
        certain = certain.union(answer.certain)
        uncertain = uncertain.union(answer.uncertain)
    return certain, uncertain.subtract(certain)


def _atoms(sides: Sequence[_Side], direction: Direction) -> list[External]:
    """The ranges of both maps' partitions of ``direction``, cut at each other's edges."""
    out: list[External] = []
    versions = sorted({v for s in sides for v in s.map.partition[direction]})
    for version in versions:
        cuts = {
            p
            for s in sides
            for lo, hi in s.map.partition[direction].get(version, ())
            for p in (lo, hi + 1)
        }
        out += [External(version, a, b - 1) for a, b in itertools.pairwise(sorted(cuts))]
    return out


def _compare_some(before: _Side, after: _Side, reach: _Reach) -> list[Change]:
    changes: list[Change] = []
    sides = (before, after)
    sources, destinations, changed = reach.sources, reach.destinations, reach.changed
    pod_sources, pod_destinations = reach.pod_sources, reach.pod_destinations
    ends = sorted(set(before.members) | set(after.members), key=lambda e: e.label.encode())
    pairs = {(s, d) for s in pod_sources for d in ends if d != s}
    pairs |= {(s, d) for d in pod_destinations for s in ends if s != d}
    for src, dst in sorted(pairs, key=lambda p: (p[0].label.encode(), p[1].label.encode())):
        # A side depends on its own end's isolating policies and on the other end's pods: when
        # only one side can differ and it does not, neither does the answer.
        egress_may = src in pod_sources or dst in changed
        ingress_may = dst in pod_destinations or src in changed
        if egress_may != ingress_may:
            direction = Direction.EGRESS if egress_may else Direction.INGRESS
            if _side_unchanged(sides, src, dst, direction):
                continue
        (c1, u1), (c2, u2) = (_answer(side, src, dst) for side in sides)
        if c1 != c2 or u1 != u2:
            changes.append(Change(src, dst, c1, c2, u1, u2))
    for end, direction in [(e, Direction.EGRESS) for e in sorted(sources, key=_label)] + [
        (e, Direction.INGRESS) for e in sorted(destinations, key=_label)
    ]:
        ranged: list[list[_Ranged]] = [[], []]
        for atom in _atoms(sides, direction):
            for i, side in enumerate(sides):
                pair = (end, atom) if direction is Direction.EGRESS else (atom, end)
                certain, uncertain = _answer(side, *pair)
                if not certain.is_empty() or not uncertain.is_empty():
                    ranged[i].append((atom, certain, uncertain))
        for ext, c1, c2, u1, u2 in _repartition(ranged[0], ranged[1]):
            if direction is Direction.EGRESS:
                changes.append(Change(end, ext, c1, c2, u1, u2))
            else:
                changes.append(Change(ext, end, c1, c2, u1, u2))
    return changes


def _side_unchanged(
    sides: Sequence[_Side], src: Endpoint, dst: Endpoint, direction: Direction
) -> bool:
    """Whether the ``direction`` side of each pair of kinds of pod of ``src`` and ``dst`` is
    the same in both maps (both ends unchanged: the same kinds of pod in both)."""
    found = [
        {
            (ka, kb): (answer.certain, answer.possible)
            for ka, a in side.alike(src).items()
            for kb, b in side.alike(dst).items()
            for answer in (side.map.side(direction, a, b),)
        }
        for side in sides
    ]
    return found[0] == found[1]


def _label(end: Endpoint) -> bytes:
    return end.label.encode()


def _compare_whole(base: ConnectivityMap, head: ConnectivityMap) -> list[Change]:
    changes: list[Change] = []
    inward: list[dict[Endpoint, list[_Ranged]]] = [defaultdict(list), defaultdict(list)]

    def row(src: End, old: list[Record], new: list[Record]) -> None:
        if isinstance(src, External):
            for i, records in enumerate((old, new)):
                for r in records:
                    if isinstance(r.dst, Endpoint):
                        inward[i][r.dst].append((src, r.certain, r.uncertain))
            return
        plain: list[dict[End, tuple[Conns, Conns]]] = [{}, {}]
        ranged: list[list[_Ranged]] = [[], []]
        for i, records in enumerate((old, new)):
            for r in records:
                if isinstance(r.dst, External):
                    ranged[i].append((r.dst, r.certain, r.uncertain))
                else:
                    plain[i][r.dst] = (r.certain, r.uncertain)
        for dst in sorted(plain[0].keys() | plain[1].keys(), key=lambda e: e.label.encode()):
            c1, u1 = plain[0].get(dst, (_NONE, _NONE))
            c2, u2 = plain[1].get(dst, (_NONE, _NONE))
            if c1 != c2 or u1 != u2:
                changes.append(Change(src, dst, c1, c2, u1, u2))
        for ext, c1, c2, u1, u2 in _repartition(ranged[0], ranged[1]):
            changes.append(Change(src, ext, c1, c2, u1, u2))

    old_rows, new_rows = _rows(base), _rows(head)
    a, b = next(old_rows, None), next(new_rows, None)
    while a is not None or b is not None:
        ka = a[0].label.encode() if a is not None else None
        kb = b[0].label.encode() if b is not None else None
        if b is None or (a is not None and ka is not None and kb is not None and ka < kb):
            assert a is not None
            row(a[0], a[1], [])
            a = next(old_rows, None)
        elif a is None or (ka is not None and kb is not None and kb < ka):
            row(b[0], [], b[1])
            b = next(new_rows, None)
        else:
            row(a[0], a[1], b[1])
            a, b = next(old_rows, None), next(new_rows, None)
    for dst in sorted(inward[0].keys() | inward[1].keys(), key=lambda e: e.label.encode()):
        for ext, c1, c2, u1, u2 in _repartition(inward[0].get(dst, []), inward[1].get(dst, [])):
            changes.append(Change(ext, dst, c1, c2, u1, u2))
    return changes


def _key(side: Side, contribution_rule: str, policy: str) -> tuple[str, str, str]:
    return (side.direction.value, policy, contribution_rule)


def _admin_causes(
    answer: PairAnswer | None, action: str, conns: Conns, revision: str, role: str
) -> list[Cause]:
    """The AdminNetworkPolicy and baseline rules of ``answer`` with ``action`` that decide
    part of ``conns``."""
    if answer is None:
        return []
    found = []
    for side in (answer.egress, answer.ingress):
        for c in side.admin:
            part = c.conns.intersect(conns)
            if c.action == action and not part.is_empty():
                rule = f"rule '{admin_rule_name(c)}'"
                found.append(Cause(revision, role, admin_name(c), rule, c.rule.rule.span, part))
    return found


def _explain(change: Change, before: _Side, after: _Side) -> None:
    gained, lost = change.gained, change.before.subtract(change.after)
    old = before.explain(change.src, change.dst)
    new = after.explain(change.src, change.dst)
    causes: list[Cause] = []
    if not gained.is_empty() and new is not None:
        had: dict[tuple[str, str, str], Conns] = {}
        if old is not None:
            for side in (old.egress, old.ingress):
                for c in side.contributions:
                    key = _key(side, rule_name(c.rule), policy_name(c.policy))
                    had[key] = had.get(key, _NONE).union(c.conns)
        fresh: Cause | None = None
        for side in (new.egress, new.ingress):
            if side.workload is None:
                continue
            what = side.direction.rules_key
            if side.default_open:
                was = _same_side(old, side.direction)
                if was is not None and not was.default_open:
                    label = _label_of(side.workload)
                    cause = Cause("head", "opens", None, what, side.workload.name_span, None, label)
                    causes.append(cause)
                    fresh = fresh or cause
                continue
            for c in side.contributions:
                conns = c.conns.intersect(gained)
                if conns.is_empty():
                    continue
                name, rule = policy_name(c.policy), rule_name(c.rule)
                cause = Cause("head", "allows", name, rule, c.rule.span, conns)
                causes.append(cause)
                # The first rule that allows more of it than it (or its namesake) did in the
                # base is the one that opens it.
                known = had.get(_key(side, rule, name), _NONE)
                if fresh is None and not conns.subtract(known).is_empty():
                    fresh = cause
        # An admin rule that allows it: the opener when the base had no such allowing rule.
        admitted = _admin_causes(new, "Allow", gained, "head", "allows")
        before_admitted = {
            (c.policy, c.rule) for c in _admin_causes(old, "Allow", gained, "base", "allowed")
        }
        causes.extend(admitted)
        if fresh is None:
            fresh = next((c for c in admitted if (c.policy, c.rule) not in before_admitted), None)
        change.opener = fresh or next((c for c in causes if c.revision == "head"), None)
    if not lost.is_empty():
        if old is not None:
            for side in (old.egress, old.ingress):
                for c in side.contributions:
                    conns = c.conns.intersect(lost)
                    if not conns.is_empty():
                        causes.append(
                            Cause(
                                "base",
                                "allowed",
                                policy_name(c.policy),
                                rule_name(c.rule),
                                c.rule.span,
                                conns,
                            )
                        )
        causes.extend(_admin_causes(old, "Allow", lost, "base", "allowed"))
        causes.extend(_admin_causes(new, "Deny", lost, "head", "denies"))
        if new is not None:
            for side in (new.egress, new.ingress):
                if side.workload is None:
                    continue
                was = _same_side(old, side.direction)
                before_names = {policy_name(p) for p in was.isolated_by} if was else set()
                for policy in side.isolated_by:
                    if policy_name(policy) not in before_names:
                        causes.append(
                            Cause(
                                "head",
                                "isolates",
                                policy_name(policy),
                                side.direction.rules_key,
                                policy.name_span,
                                None,
                                _label_of(side.workload),
                            )
                        )
    causes, change.opener = _distinct(causes, change.opener)
    change.causes = causes[:MAX_CAUSES]


def _distinct(causes: list[Cause], opener: Cause | None) -> tuple[list[Cause], Cause | None]:
    """One cause per line and role: copies of a policy that several deploy units apply (a base
    two overlays include) give the same rule at the same line once each, their connections
    merged. The opener becomes its line's merged cause."""
    merged: dict[tuple[object, ...], Cause] = {}
    key_of_opener = None
    for cause in causes:
        key = (cause.revision, cause.role, cause.policy, cause.rule, cause.span, cause.subject)
        if cause is opener:
            key_of_opener = key
        seen = merged.get(key)
        if seen is None:
            merged[key] = cause
        elif seen.conns is not None and cause.conns is not None:
            merged[key] = replace(seen, conns=seen.conns.union(cause.conns))
    found = merged.get(key_of_opener) if key_of_opener is not None else None
    return list(merged.values()), found


def _same_side(answer: PairAnswer | None, direction: Direction) -> Side | None:
    if answer is None:
        return None
    return answer.egress if direction is Direction.EGRESS else answer.ingress


def _label_of(workload: Workload) -> str:
    return endpoint_of(workload).label


# -- text ------------------------------------------------------------------------------------

_ORDER: Final = ("changed", "added", "removed")


def _line(change: Change) -> str:
    info = f", workloads-diff-info: {change.info}" if change.info else ""
    return (
        f"diff-type: {change.kind}, source: {change.src.label}, destination: {change.dst.label}, "
        f"ref1: {_conn(change.before)}, ref2: {_conn(change.after)}{info}"
    )


def _conn(conns: Conns) -> str:
    return str(conns)


def render_text(diff: Diff) -> str:
    lines: list[str] = []
    main = diff.of_kind(*_ORDER)
    if main:
        lines.append("Connectivity diff:")
        for change in main:
            lines.append(_line(change))
            lines.extend(
                f"    {c.revision}: {c.message}{' (opens it)' if c is change.opener else ''}"
                f"  {location(c.span)}"
                for c in change.causes
            )
    uncertain = diff.of_kind("uncertain")
    if uncertain:
        lines.append("")
        lines.append("Depends on what the repo does not say (changed, not counted above):")
        for change in uncertain:
            lines.append(
                f"source: {change.src.label}, destination: {change.dst.label}, "
                f"ref1: {_conn(change.before_uncertain)}, ref2: {_conn(change.after_uncertain)}"
            )
    if not main and not uncertain:
        lines.append(f"No connectivity change between {diff.base} and {diff.head}.")
    if diff.notes:
        lines += ["", "Notes:"] + [f"  {n}" for n in diff.notes]
    return "".join(escape.text(line) + "\n" for line in lines)


# -- JSON ------------------------------------------------------------------------------------


def _cause_json(cause: Cause) -> dict[str, object]:
    return {
        "revision": cause.revision,
        "role": cause.role,
        "policy": cause.policy,
        "rule": cause.rule,
        "conn": str(cause.conns) if cause.conns is not None else None,
        "file": cause.span.path,
        "line": cause.span.line,
        "location": location(cause.span),
        "message": cause.message,
    }


def _causes_json(change: Change) -> list[dict[str, object]]:
    return [{**_cause_json(c), "opens": c is change.opener} for c in change.causes]


def as_json(diff: Diff) -> dict[str, object]:
    main = diff.of_kind(*_ORDER)
    uncertain = diff.of_kind("uncertain")
    counts = {k: sum(1 for c in main if c.kind == k) for k in _ORDER}
    return {
        "base": diff.base,
        "head": diff.head,
        "summary": {**counts, "uncertain": len(uncertain)},
        "diff": [
            {
                "diff-type": c.kind,
                "src": c.src.label,
                "dst": c.dst.label,
                "ref1": str(c.before),
                "ref2": str(c.after),
                "uncertain1": str(c.before_uncertain),
                "uncertain2": str(c.after_uncertain),
                **({"workloads-diff-info": c.info} if c.info else {}),
                "causes": _causes_json(c),
            }
            for c in main
        ],
        "uncertain": [
            {
                "src": c.src.label,
                "dst": c.dst.label,
                "uncertain1": str(c.before_uncertain),
                "uncertain2": str(c.after_uncertain),
            }
            for c in uncertain
        ],
        "notes": diff.notes,
    }


def render_json(diff: Diff) -> str:
    return escape.json_document(json.dumps(as_json(diff), indent=2, ensure_ascii=False)) + "\n"


# -- Markdown --------------------------------------------------------------------------------


def _md(value: str) -> str:
    return escape.markdown_text(escape.text(value)).replace("|", "\\|").replace("`", "\\`")


def render_markdown(diff: Diff) -> str:
    main = diff.of_kind(*_ORDER)
    counts = {k: sum(1 for c in main if c.kind == k) for k in _ORDER}
    out = [f"### Connectivity diff: {_md(diff.base)} → {_md(diff.head)}", ""]
    if not main:
        out.append("No connection is added, removed or changed.")
    else:
        out.append(
            f"**{counts['added']} added, {counts['removed']} removed, {counts['changed']} "
            "changed** connections."
        )
        out += [
            "",
            "| change | source | destination | before | after | because |",
            "|---|---|---|---|---|---|",
        ]
        for change in main[:MAX_TABLE_ROWS]:
            because = "<br>".join(
                f"{c.revision}: {_md(c.message)} ({_md(location(c.span))})"
                for c in change.causes[:3]
            )
            out.append(
                f"| {change.kind} | {_md(change.src.label)} | {_md(change.dst.label)} | "
                f"{change.before} | {change.after} | {because} |"
            )
        if len(main) > MAX_TABLE_ROWS:
            out.append(f"\n{len(main) - MAX_TABLE_ROWS} more changes: see `netlint diff`.")
        out += ["", *_mermaid(main[:MAX_GRAPH_EDGES])]
        if len(main) > MAX_GRAPH_EDGES:
            out.append(f"The graph shows the first {MAX_GRAPH_EDGES} changes.")
    uncertain = diff.of_kind("uncertain")
    if uncertain:
        out.append(
            f"\n{len(uncertain)} pairs changed only in what depends on what the repo does not say."
        )
    return "\n".join(out) + "\n"


_COLOURS: Final = {"added": "#2da44e", "removed": "#cf222e", "changed": "#bf8700"}


def _mermaid(changes: Iterable[Change]) -> list[str]:
    ids: dict[End, str] = {}
    nodes: list[str] = []
    edges: list[str] = []
    styles: list[str] = []

    def ident(end: End) -> str:
        found = ids.get(end)
        if found is None:
            found = ids[end] = f"n{len(ids)}"
            nodes.append(f"  {found}[{mermaid_quote(end.label)}]")
        return found

    for i, change in enumerate(changes):
        a, b = ident(change.src), ident(change.dst)
        if change.kind == "added":
            label, arrow = f"+ {change.after}", "-->"
        elif change.kind == "removed":
            label, arrow = f"- {change.before}", "-.->"
        else:
            label, arrow = f"{change.before} to {change.after}", "==>"
        edges.append(f"  {a} {arrow}|{mermaid_quote(label)}| {b}")
        styles.append(f"  linkStyle {i} stroke:{_COLOURS[change.kind]}")
    return ["```mermaid", "flowchart LR", *nodes, *edges, *styles, "```"]


# -- SARIF -----------------------------------------------------------------------------------


def findings(diff: Diff) -> list[Finding]:
    """One NL-DIFF finding per connection the head newly allows, on the rule that opens it."""
    out: list[Finding] = []
    for change in diff.changes:
        gained = change.gained
        if gained.is_empty() or change.opener is None:
            continue
        related = tuple(
            Related(c.span, f"{c.revision}: {c.message}")
            for c in change.causes
            if c is not change.opener and c.revision == "head"
        )
        out.append(
            Finding(
                code=DIFF_META.code,
                name=DIFF_META.name,
                severity=DIFF_META.severity,
                message=(
                    f"this change lets {change.src.label} reach {change.dst.label} on {gained}"
                    f" ({change.opener.message})"
                ),
                span=change.opener.span.first_line,
                related=related,
            )
        )
    out.sort(key=lambda f: f.sort_key)
    return out


#: The texts of some files of the head revision, when it is not the work tree (SARIF's
#: fingerprints and columns are of the head's text: ``Revision.texts``).
Texts = Callable[[Iterable[str]], dict[str, str]]


def render_sarif(diff: Diff, root: Path, texts: Texts | None = None) -> str:
    from netlint.output.reporters import sarif

    found = findings(diff)
    cited = {s.path for f in found for s in (f.span, *(r.span for r in f.related))}
    overrides = texts(cited) if texts is not None else {}
    report = Report(found, root, [DIFF_META], overrides=overrides)
    return sarif.render(report, category="netlint-diff")


def render(diff: Diff, form: str, root: Path, texts: Texts | None = None) -> str:
    if form == "json":
        return render_json(diff)
    if form == "markdown":
        return render_markdown(diff)
    if form == "sarif":
        return render_sarif(diff, root, texts)
    return render_text(diff)
