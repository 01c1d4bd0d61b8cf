"""Who can reach whom: the connectivity the NetworkPolicies of an index allow.

A *connection* is a protocol (TCP, UDP, SCTP) and a destination port from a source to a
destination, where each end is a workload of the repo (an :class:`Endpoint`: its pods, replicas
collapsed) or a range of addresses outside the modelled pods (an :class:`External`). It is
allowed when the source's egress allows it AND the destination's ingress allows it
(docs/connectivity.md has the whole semantics):

- a pod that no valid NetworkPolicy isolates in a direction is open in that direction;
- an isolated pod allows the union of the rules of the policies that isolate it; a rule allows
  its ports (named ports resolved on the destination pod: a container port with that name and
  protocol, none: nothing) to the peers it names;
- ipBlocks never match pods and selectors never match addresses; external ranges are the atoms
  of the partition of every ipBlock of the index, merged where touching atoms get the same answer;
- answers are three-valued: a namespaceSelector on a label of a namespace the repo does not
  declare *may* match, so what it would allow is kept apart (``possible`` minus ``certain``),
  never counted as allowed nor as denied; an other engine's policy (Calico, Cilium,
  AdminNetworkPolicy: :class:`~netlint.core.model.ForeignPolicy`) that may apply to an end makes
  the whole answer for that pair unknown.

API (everything takes an :class:`~netlint.analysis.index.Index`: ``layout.cluster`` for the
whole project, or one unit's index):

- :func:`connectivity` -> :class:`ConnectivityMap`: every ordered pair, computed per *group* of
  workloads with equal policy relevance (the policies isolating them in each direction, the
  peers that select them, their named ports), so that 10,000 workloads cost groups x groups, not
  pairs. :meth:`ConnectivityMap.records` yields one :class:`Record` per (src, dst) with a
  non-empty certain or uncertain part, sorted as netpol-analyzer sorts.
- :func:`explain` -> :class:`PairAnswer`: one pair, computed directly (no grouping), with every
  policy that isolates each end (``policy.name_span``) and every rule that allows part of it
  (``rule.span``), with the ports it contributes. ``explain``/``diff``/expectations build on it;
  the tests check that :func:`connectivity` agrees with it on random repos.
- :class:`Conns`: a set of (protocol, port), exact; ``str()`` is netpol-analyzer's canonical
  string (``TCP 80,8080-8090,UDP 53``, ``All Connections``).
"""

from __future__ import annotations

import functools
import heapq
import ipaddress
import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from netlint.analysis.algebra import (
    PORT_MAX,
    PORT_MIN,
    PROTOCOLS,
    IntervalSet,
    PortSet,
    UnsupportedTraffic,
    ip_set,
    port_set,
)
from netlint.analysis.index import Index
from netlint.analysis.tri import Tri
from netlint.core.model import (
    Direction,
    ForeignPolicy,
    LabelSelector,
    NetworkPolicy,
    Peer,
    Rule,
    Workload,
)
from netlint.core.selectors import Operator

__all__ = [
    "ConnectivityMap",
    "Conns",
    "Contribution",
    "Endpoint",
    "Explainer",
    "External",
    "PairAnswer",
    "Record",
    "Side",
    "connectivity",
    "endpoint_of",
    "explain",
]

_FULL_PORTS: Final = IntervalSet.span(PORT_MIN, PORT_MAX, PORT_MIN, PORT_MAX)
_IP_TOP: Final = {4: (1 << 32) - 1, 6: (1 << 128) - 1}


# ---------------------------------------------------------------------------------------------
# Connection sets


@dataclass(frozen=True, slots=True)
class Conns:
    """A set of (protocol, port number): per protocol an interval set of ports."""

    ports: tuple[tuple[str, IntervalSet], ...] = ()

    @classmethod
    def all(cls) -> Conns:
        return _ALL

    @classmethod
    def none(cls) -> Conns:
        return _NONE

    @classmethod
    def of(cls, by_protocol: Mapping[str, IntervalSet]) -> Conns:
        return cls(tuple((p, s) for p, s in sorted(by_protocol.items()) if not s.is_empty()))

    @classmethod
    def port(cls, protocol: str, start: int, end: int | None = None) -> Conns:
        span = IntervalSet.span(start, start if end is None else end, PORT_MIN, PORT_MAX)
        return cls.of({protocol: span})

    def _map(self) -> dict[str, IntervalSet]:
        return dict(self.ports)

    def union(self, other: Conns) -> Conns:
        if not other.ports or self is _ALL:
            return self
        if not self.ports or other is _ALL:
            return other
        out = self._map()
        for p, s in other.ports:
            out[p] = out[p].union(s) if p in out else s
        return Conns.of(out)

    def intersect(self, other: Conns) -> Conns:
        if self is _ALL:
            return other
        if other is _ALL:
            return self
        theirs = other._map()
        return Conns.of({p: s.intersect(theirs[p]) for p, s in self.ports if p in theirs})

    def subtract(self, other: Conns) -> Conns:
        if not other.ports:
            return self
        theirs = other._map()
        return Conns.of({p: s.subtract(theirs[p]) if p in theirs else s for p, s in self.ports})

    def is_empty(self) -> bool:
        return not self.ports

    def is_all(self) -> bool:
        return len(self.ports) == len(PROTOCOLS) and all(s.is_full() for _, s in self.ports)

    def contains(self, protocol: str, port: int) -> bool:
        return any(p == protocol and s.contains(port) for p, s in self.ports)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Conns) and self.ports == other.ports

    def __hash__(self) -> int:
        return hash(self.ports)

    def key(self) -> tuple[tuple[str, tuple[tuple[int, int], ...]], ...]:
        return tuple((p, s.intervals) for p, s in self.ports)

    def __str__(self) -> str:
        """netpol-analyzer's canonical form."""
        if self.is_all():
            return "All Connections"
        if not self.ports:
            return "No Connections"
        return ",".join(f"{p} {s}" for p, s in self.ports)

    def structured(self) -> dict[str, object]:
        """``{"all": true}`` or protocol -> list of ``n`` / ``[lo, hi]`` (score.py's form)."""
        if self.is_all():
            return {"all": True}
        return {p: [a if a == b else [a, b] for a, b in s.intervals] for p, s in self.ports}


_ALL: Final = Conns(tuple((p, _FULL_PORTS) for p in PROTOCOLS))
_NONE: Final = Conns()


def resolve(ports: PortSet, destination: Workload | None) -> Conns:
    """A rule's ports as numbers at ``destination``: a named port is every container port of
    the destination with that name and protocol (none, or no pod: nothing)."""
    out: dict[str, IntervalSet] = {}
    for protocol, numbers, names in ports.entries:
        found = numbers
        if destination is not None and not names.cofinite:
            for name in names.values:
                for cport in destination.named_port(name):
                    if cport.protocol == protocol and PORT_MIN <= cport.port <= PORT_MAX:
                        found = found.union(
                            IntervalSet.span(cport.port, cport.port, PORT_MIN, PORT_MAX)
                        )
        out[protocol] = found
    return Conns.of(out)


# ---------------------------------------------------------------------------------------------
# Ends


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A workload as netpol-analyzer names it: a Pod with a controller is its owner."""

    namespace: str
    name: str
    kind: str

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}[{self.kind}]"


def endpoint_of(workload: Workload) -> Endpoint:
    if workload.owner is not None:
        kind, name = workload.owner
        return Endpoint(workload.namespace, name, kind or workload.kind)
    return Endpoint(workload.namespace, workload.name, workload.kind)


@dataclass(frozen=True, slots=True)
class External:
    """Addresses ``lo``..``hi`` (integers) of one IP version, outside the modelled pods."""

    version: int
    lo: int
    hi: int

    @property
    def label(self) -> str:
        address = ipaddress.IPv4Address if self.version == 4 else ipaddress.IPv6Address
        return f"{address(self.lo)}-{address(self.hi)}[External]"

    @property
    def cidrs(self) -> list[str]:
        address = ipaddress.IPv4Address if self.version == 4 else ipaddress.IPv6Address
        return [
            str(n) for n in ipaddress.summarize_address_range(address(self.lo), address(self.hi))
        ]


End = Endpoint | External


class Record(NamedTuple):
    """What ``src`` may open to ``dst``: ``certain`` is allowed whatever the repo does not say;
    ``uncertain`` (disjoint from it) depends on what ``reasons`` name."""

    src: End
    dst: End
    certain: Conns
    uncertain: Conns
    reasons: tuple[str, ...] = ()
    #: Set when an end runs on the host network (policies may not apply to it: CNI-dependent).
    host_network: bool = False


# ---------------------------------------------------------------------------------------------
# Rules, compiled once


@dataclass(frozen=True, slots=True, eq=False)
class _Rule:
    policy: NetworkPolicy
    rule: Rule
    ports: PortSet
    all_peers: bool
    #: Indexes into the index-wide list of selector peers of this direction.
    peers: tuple[int, ...]
    ips: Mapping[int, IntervalSet]


@dataclass(slots=True)
class _Compiled:
    """Every valid policy's effective rules, with its selector peers numbered."""

    index: Index
    rules: dict[tuple[NetworkPolicy, Direction], list[_Rule]] = field(default_factory=dict)
    peers: dict[Direction, list[tuple[NetworkPolicy, Peer]]] = field(default_factory=dict)
    #: Port names some rule uses (only those make container ports matter).
    names: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, index: Index) -> _Compiled:
        compiled = cls(index, peers={Direction.INGRESS: [], Direction.EGRESS: []})
        for policy in index.policies:
            if not policy.valid:
                compiled.notes.append(
                    f"policy {policy.namespace}/{policy.name} is not modelled: the API server "
                    "rejects it (NL002)"
                )
                continue
            for direction in (Direction.INGRESS, Direction.EGRESS):
                if direction not in policy.policy_types:
                    continue
                try:
                    compiled.rules[(policy, direction)] = [
                        compiled._rule(policy, rule, direction)
                        for rule in policy.effective_rules(direction)
                    ]
                except UnsupportedTraffic:
                    compiled.rules[(policy, direction)] = []
        return compiled

    def _rule(self, policy: NetworkPolicy, rule: Rule, direction: Direction) -> _Rule:
        ports = port_set(rule.ports)
        for _, _, names in ports.entries:
            if not names.cofinite:
                self.names |= names.values
        numbered: list[int] = []
        ips: dict[int, IntervalSet] = {}
        for peer in rule.peers:
            if peer.ip_block is not None:
                version, addresses = ip_set(peer.ip_block)
                previous = ips.get(version)
                ips[version] = addresses if previous is None else previous.union(addresses)
            elif peer.pod_selector is not None or peer.namespace_selector is not None:
                numbered.append(len(self.peers[direction]))
                self.peers[direction].append((policy, peer))
        return _Rule(policy, rule, ports, not rule.peers, tuple(numbered), ips)

    def isolating(self, workload: Workload, direction: Direction) -> list[NetworkPolicy]:
        return [p for p in self.index.policies_selecting(workload) if (p, direction) in self.rules]


def _namespace_match(index: Index, policy: NetworkPolicy, peer: Peer, namespace: str) -> Tri:
    if peer.namespace_selector is None:
        return Tri.of(namespace == policy.namespace)
    return Tri.of(index.namespace_selector_matches(peer.namespace_selector, namespace))


def peer_matches(index: Index, policy: NetworkPolicy, peer: Peer, workload: Workload) -> Tri:
    """Whether a selector peer of ``policy`` selects the workload's pods (UNKNOWN: it depends
    on labels of a namespace the repo does not declare)."""
    if peer.ip_block is not None or (peer.pod_selector is None and peer.namespace_selector is None):
        return Tri.FALSE
    if peer.pod_selector is not None and not peer.pod_selector.matches(workload.pod_labels):
        return Tri.FALSE
    return _namespace_match(index, policy, peer, workload.namespace)


def _unknown_namespace(namespace: str) -> str:
    return f"labels of namespace {namespace}, which the repo does not declare"


def _foreign_reasons(foreign: Iterable[ForeignPolicy]) -> list[str]:
    return [
        f"{f.kind} {f.ref.namespace + '/' if f.namespace else ''}{f.ref.name} (not modelled)"
        for f in foreign
    ]


# ---------------------------------------------------------------------------------------------
# One pair, directly: explain, and the reference the grouped map is tested against


@dataclass(frozen=True, slots=True)
class Contribution:
    """A rule that allows ``conns`` of the pair (``certain`` False: only if a namespace the
    repo does not declare carries the labels its selector asks for)."""

    policy: NetworkPolicy
    rule: Rule
    conns: Conns
    certain: bool


@dataclass(frozen=True, slots=True)
class Side:
    """One direction at one end: the source's egress or the destination's ingress."""

    direction: Direction
    #: None for an external end (nothing isolates it).
    workload: Workload | None
    #: Policies that select the end and enforce the direction; empty: open by default.
    isolated_by: tuple[NetworkPolicy, ...]
    contributions: tuple[Contribution, ...]
    certain: Conns
    possible: Conns

    @property
    def default_open(self) -> bool:
        return not self.isolated_by


@dataclass(frozen=True, slots=True)
class PairAnswer:
    src: Workload | External
    dst: Workload | External
    egress: Side
    ingress: Side
    certain: Conns
    uncertain: Conns
    reasons: tuple[str, ...]
    foreign: tuple[ForeignPolicy, ...]


def _side(
    compiled: _Compiled,
    direction: Direction,
    end: Workload | None,
    remote: Workload | External,
    destination: Workload | None,
) -> Side:
    if end is None:
        return Side(direction, None, (), (), _ALL, _ALL)
    policies = compiled.isolating(end, direction)
    if not policies:
        return Side(direction, end, (), (), _ALL, _ALL)
    contributions: list[Contribution] = []
    certain, possible = _NONE, _NONE
    for policy in policies:
        for compiled_rule in compiled.rules[(policy, direction)]:
            if isinstance(remote, External):
                addresses = compiled_rule.ips.get(remote.version)
                inside = compiled_rule.all_peers or (
                    addresses is not None
                    and addresses.intersect(
                        IntervalSet.span(remote.lo, remote.hi, 0, _IP_TOP[remote.version])
                    ).intervals
                    == ((remote.lo, remote.hi),)
                )
                verdict = Tri.of(inside)
            elif compiled_rule.all_peers:
                verdict = Tri.TRUE
            else:
                verdict = Tri.any_of(
                    peer_matches(compiled.index, policy, peer, remote)
                    for peer in compiled_rule.rule.peers
                )
            if verdict is Tri.FALSE:
                continue
            conns = resolve(compiled_rule.ports, destination)
            if conns.is_empty():
                continue
            contributions.append(
                Contribution(policy, compiled_rule.rule, conns, verdict is Tri.TRUE)
            )
            possible = possible.union(conns)
            if verdict is Tri.TRUE:
                certain = certain.union(conns)
    return Side(direction, end, tuple(policies), tuple(contributions), certain, possible)


def explain(index: Index, src: Workload | External, dst: Workload | External) -> PairAnswer:
    """The answer for one ordered pair, with the policies and rules behind it."""
    return _explain(_Compiled.of(index), src, dst)


def _explain(compiled: _Compiled, src: Workload | External, dst: Workload | External) -> PairAnswer:
    destination = dst if isinstance(dst, Workload) else None
    source = src if isinstance(src, Workload) else None
    egress = _side(compiled, Direction.EGRESS, source, dst, destination)
    ingress = _side(compiled, Direction.INGRESS, destination, src, destination)
    certain = egress.certain.intersect(ingress.certain)
    possible = egress.possible.intersect(ingress.possible)
    reasons: list[str] = []
    # Ingress peers select the source, egress peers the destination: an unknown answer on one
    # side is about the other end's namespace.
    if not egress.certain.intersect(ingress.possible).subtract(certain).is_empty() and isinstance(
        src, Workload
    ):
        reasons.append(_unknown_namespace(src.namespace))
    if not egress.possible.intersect(ingress.certain).subtract(certain).is_empty() and isinstance(
        dst, Workload
    ):
        reasons.append(_unknown_namespace(dst.namespace))
    if not possible.subtract(certain).is_empty() and not reasons:
        # Both sides unknown at once: both ends' namespaces.
        for end in (src, dst):
            if isinstance(end, Workload):
                reasons.append(_unknown_namespace(end.namespace))
    foreign: list[ForeignPolicy] = []
    for end in (src, dst):
        if isinstance(end, Workload):
            foreign.extend(
                f for f in compiled.index.foreign_policies_for(end.namespace) if f not in foreign
            )
    if foreign:
        reasons.extend(_foreign_reasons(foreign))
        possible, certain = _ALL, _NONE
    return PairAnswer(
        src,
        dst,
        egress,
        ingress,
        certain,
        possible.subtract(certain),
        tuple(sorted(set(reasons))),
        tuple(foreign),
    )


# ---------------------------------------------------------------------------------------------
# The whole map, per group


def _partition(compiled: _Compiled, direction: Direction) -> dict[int, list[tuple[int, int]]]:
    """Atoms of every ipBlock of ``direction``'s rules, per IP version. IPv4 always has its
    universe; IPv6 only when some rule names IPv6 addresses (see docs/connectivity.md)."""
    cuts: dict[int, set[int]] = {4: {0, _IP_TOP[4] + 1}}
    for (_, rule_direction), rules in compiled.rules.items():
        if rule_direction is not direction:
            continue
        for rule in rules:
            for version, addresses in rule.ips.items():
                found = cuts.setdefault(version, {0, _IP_TOP[version] + 1})
                for a, b in addresses.intervals:
                    found.add(a)
                    found.add(b + 1)
    return {
        version: [(a, b - 1) for a, b in zip(sorted(points), sorted(points)[1:], strict=False)]
        for version, points in cuts.items()
    }


@dataclass(slots=True, eq=False)
class _Group:
    """Workloads with equal policy relevance in one role (as sources, or as destinations)."""

    key: tuple[object, ...]
    members: list[Workload]
    #: Tri per selector peer of the other role's direction that may select the members.
    signature: dict[int, Tri]
    isolated_by: tuple[NetworkPolicy, ...]
    #: The rules of ``isolated_by`` for the group's own direction.
    rules: tuple[_Rule, ...]
    foreign: bool
    #: The named container ports that some rule uses (destinations only): with the
    #: signature, all that decides an answer about the group's members.
    ports: tuple[object, ...]

    @property
    def broad(self) -> bool:
        """Whether the group's own direction may allow a remote that no peer names: open by
        default, a rule without peers, or an other engine's policy."""
        return self.foreign or not self.isolated_by or any(r.all_peers for r in self.rules)


#: One side's answer: (certain, possible); ``possible is certain`` when nothing is unknown.
_Answer = tuple[Conns, Conns]
_OPEN: Final[_Answer] = (_ALL, _ALL)
_CLOSED: Final[_Answer] = (_NONE, _NONE)


class ConnectivityMap:
    """The connections of every ordered pair of an index's workloads and external ranges."""

    def __init__(self, index: Index, *, with_external: bool = True) -> None:
        self.index = index
        self._compiled = _Compiled.of(index)
        self.notes: list[str] = list(self._compiled.notes)
        self.workloads: list[Workload] = []
        for workload in index.workloads:
            if workload.is_fragment:
                self.notes.append(
                    f"{workload.kind} {workload.namespace}/{workload.name} is not modelled: its "
                    "pod labels are assembled elsewhere (a kustomize patch or base)"
                )
                continue
            self.workloads.append(workload)
        self.endpoint = {w: endpoint_of(w) for w in self.workloads}
        self.with_external = with_external
        self._resolved: dict[tuple[int, tuple[object, ...]], Conns] = {}
        self._ip_cache: dict[tuple[object, ...], list[tuple[External, Conns]]] = {}
        self.partition = {
            d: _partition(self._compiled, d) for d in (Direction.INGRESS, Direction.EGRESS)
        }

    def explain(self, src: Workload | External, dst: Workload | External) -> PairAnswer:
        """:func:`explain` on this map's index, reusing its compiled rules (``netlint diff``
        explains every changed pair)."""
        return _explain(self._compiled, src, dst)

    # The groups are made when the records are first asked for: ``netlint diff`` of a small
    # change asks only :meth:`explain` about the pairs it can reach (a third of a large
    # repo's map cost is grouping).

    @functools.cached_property
    def sources(self) -> list[_Group]:
        return self._groups(Direction.EGRESS, self._peer_matches(Direction.INGRESS))

    @functools.cached_property
    def destinations(self) -> list[_Group]:
        return self._groups(Direction.INGRESS, self._peer_matches(Direction.EGRESS))

    @functools.cached_property
    def _source_of(self) -> dict[Workload, _Group]:
        return {w: g for g in self.sources for w in g.members}

    # -- grouping -----------------------------------------------------------------------------

    def _peer_matches(self, direction: Direction) -> dict[Workload, dict[int, Tri]]:
        """For each workload, the selector peers of ``direction``'s rules that may select it,
        found through each peer's namespaces and the label index (not workloads x peers)."""
        index = self.index
        found: dict[Workload, dict[int, Tri]] = defaultdict(dict)
        modelled = set(self.workloads)
        namespace_cache: dict[tuple[object, ...], list[tuple[str, Tri]]] = {}
        for number, (policy, peer) in enumerate(self._compiled.peers[direction]):
            if peer.namespace_selector is None:
                spaces = [(policy.namespace, Tri.TRUE)]
            else:
                key = _selector_key(peer.namespace_selector)
                if key not in namespace_cache:
                    namespace_cache[key] = self._namespaces(peer.namespace_selector)
                spaces = namespace_cache[key]
            for namespace, verdict in spaces:
                for workload in index.workloads_in(namespace):
                    if workload in modelled and (
                        peer.pod_selector is None or peer.pod_selector.matches(workload.pod_labels)
                    ):
                        found[workload][number] = verdict
        return found

    def _namespaces(self, selector: LabelSelector) -> list[tuple[str, Tri]]:
        index = self.index
        candidates: Iterable[str] = index.namespaces_with_workloads()
        for requirement in selector.requirements:
            if (
                requirement.key == "kubernetes.io/metadata.name"
                and requirement.operator is Operator.IN
            ):
                candidates = [n for n in requirement.values if index.workloads_in(n)]
                break
        out: list[tuple[str, Tri]] = []
        for namespace in candidates:
            verdict = Tri.of(index.namespace_selector_matches(selector, namespace))
            if verdict is not Tri.FALSE:
                out.append((namespace, verdict))
        return out

    def _groups(
        self, direction: Direction, matched: Mapping[Workload, dict[int, Tri]]
    ) -> list[_Group]:
        """Sources (``direction`` egress) or destinations (ingress), grouped by what decides
        their answers: the policies isolating them, the peers selecting them, their foreign
        policies, and (destinations) the named ports rules use."""
        groups: dict[tuple[object, ...], _Group] = {}
        names = self._compiled.names
        for workload in self.workloads:
            policies = tuple(self._compiled.isolating(workload, direction))
            signature = matched.get(workload, {})
            foreign = bool(self.index.foreign_policies_for(workload.namespace))
            ports: tuple[object, ...] = ()
            if direction is Direction.INGRESS and names:
                ports = tuple(
                    sorted((p.name, p.protocol, p.port) for p in workload.ports if p.name in names)
                )
            key = (
                tuple(id(p) for p in policies),
                tuple(sorted((n, t.value) for n, t in signature.items())),
                foreign,
                ports,
                # An unknown answer names the member's namespace, so it is part of the key.
                workload.namespace if any(t is Tri.UNKNOWN for t in signature.values()) else "",
            )
            group = groups.get(key)
            if group is None:
                rules = tuple(r for p in policies for r in self._compiled.rules[(p, direction)])
                group = _Group(key, [], signature, policies, rules, foreign, ports)
                groups[key] = group
            group.members.append(workload)
        return list(groups.values())

    # -- one direction, per group pair --------------------------------------------------------

    def _resolve(self, rule: _Rule, destination: _Group) -> Conns:
        key = (id(rule), destination.ports)
        found = self._resolved.get(key)
        if found is None:
            found = self._resolved[key] = resolve(rule.ports, destination.members[0])
        return found

    def _side(self, group: _Group, remote: _Group, destination: _Group) -> _Answer:
        """What ``group``'s own direction allows to or from the members of ``remote`` (named
        ports resolved at ``destination``)."""
        if not group.isolated_by:
            return _OPEN
        certain = possible = _NONE
        unknown = False
        signature = remote.signature
        for rule in group.rules:
            if rule.all_peers:
                verdict = Tri.TRUE
            else:
                verdict = Tri.FALSE
                for number in rule.peers:
                    found = signature.get(number)
                    if found is Tri.TRUE:
                        verdict = found
                        break
                    if found is Tri.UNKNOWN:
                        verdict = found
                if verdict is Tri.FALSE:
                    continue
            conns = self._resolve(rule, destination)
            if verdict is Tri.TRUE:
                certain = certain.union(conns)
            else:
                unknown = True
            possible = possible.union(conns)
        return (certain, possible if unknown else certain)

    def _pair(self, src: _Group, dst: _Group) -> tuple[Conns, Conns, tuple[str, ...]]:
        """(certain, uncertain, reasons) for the members of two groups."""
        if src.foreign or dst.foreign:
            found: set[str] = set()
            for group in (src, dst):
                if group.foreign:
                    namespace = group.members[0].namespace
                    found.update(_foreign_reasons(self.index.foreign_policies_for(namespace)))
            return _NONE, _ALL, tuple(sorted(found))
        e_certain, e_possible = self._side(src, dst, dst)
        if e_possible.is_empty():
            return _NONE, _NONE, ()
        i_certain, i_possible = self._side(dst, src, dst)
        certain = e_certain.intersect(i_certain)
        if e_possible is e_certain and i_possible is i_certain:
            return certain, _NONE, ()
        uncertain = e_possible.intersect(i_possible).subtract(certain)
        reasons: list[str] = []
        if not uncertain.is_empty():
            # Ingress peers select the source, egress peers the destination.
            if not e_certain.intersect(i_possible).subtract(certain).is_empty():
                reasons.append(_unknown_namespace(src.members[0].namespace))
            if not e_possible.intersect(i_certain).subtract(certain).is_empty():
                reasons.append(_unknown_namespace(dst.members[0].namespace))
            if not reasons:
                reasons = [
                    _unknown_namespace(src.members[0].namespace),
                    _unknown_namespace(dst.members[0].namespace),
                ]
        return certain, uncertain, tuple(sorted(set(reasons)))

    def _ip_side(self, direction: Direction, group: _Group) -> list[tuple[External, Conns]]:
        """The external ranges a group's members may reach (egress) or be reached from
        (ingress), merged where touching ranges get equal answers. Named ports never resolve
        for an address (no pod declares them).

        The answer changes only at the edges of the group's own ipBlocks, so it is swept over
        those, not over the atoms of every ipBlock of the index (the same function, merged)."""
        key = (direction, group.key[0], group.ports)
        cached = self._ip_cache.get(key)
        if cached is not None:
            return cached
        destination = group.members[0] if direction is Direction.INGRESS else None
        out: list[tuple[External, Conns]] = []
        for version in self._versions():
            top = _IP_TOP[version]
            if not group.isolated_by:
                out.append((External(version, 0, top), _ALL))
                continue
            everywhere = _NONE
            pieces: list[tuple[int, int, Conns]] = []
            for rule in group.rules:
                if rule.all_peers:
                    everywhere = everywhere.union(resolve(rule.ports, destination))
                    continue
                addresses = rule.ips.get(version)
                if addresses is None:
                    continue
                conns = resolve(rule.ports, destination)
                if not conns.is_empty():
                    pieces.extend((a, b, conns) for a, b in addresses.intervals)
            cuts = sorted({0, top + 1, *(a for a, _, _ in pieces), *(b + 1 for _, b, _ in pieces)})
            run: tuple[int, int, Conns] | None = None
            for lo, nxt in itertools.pairwise(cuts):
                conns = everywhere
                for a, b, more in pieces:
                    if a <= lo <= b:
                        conns = conns.union(more)
                if run is not None and run[2] == conns:
                    run = (run[0], nxt - 1, conns)
                    continue
                if run is not None and not run[2].is_empty():
                    out.append((External(version, run[0], run[1]), run[2]))
                run = (lo, nxt - 1, conns)
            if run is not None and not run[2].is_empty():
                out.append((External(version, run[0], run[1]), run[2]))
        self._ip_cache[key] = out
        return out

    def _versions(self) -> list[int]:
        """IPv4 always; IPv6 only when some rule names IPv6 addresses (docs/connectivity.md)."""
        return sorted({v for d in self.partition.values() for v in d})

    # -- records ------------------------------------------------------------------------------

    def group_pairs(self) -> Iterator[tuple[_Group, _Group, Conns, Conns, tuple[str, ...]]]:
        """Every (source group, destination group) with something possibly allowed. Pairs are
        enumerated sparsely: a destination group whose ingress names its sources only through
        selector peers meets only the source groups those peers select."""
        selected_by: dict[int, list[_Group]] = defaultdict(list)
        for group in self.sources:
            for number in group.signature:
                selected_by[number].append(group)
        for dst in self.destinations:
            if dst.broad:
                candidates: Iterable[_Group] = self.sources
            else:
                chosen: dict[int, _Group] = {}
                for rule in dst.rules:
                    for number in rule.peers:
                        for group in selected_by.get(number, ()):
                            chosen[id(group)] = group
                candidates = chosen.values()
            for src in candidates:
                certain, uncertain, reasons = self._pair(src, dst)
                if certain.is_empty() and uncertain.is_empty():
                    continue
                yield src, dst, certain, uncertain, reasons

    def records(self) -> Iterator[Record]:
        """One record per ordered pair of ends with a non-empty answer, sorted by source label
        then destination label (byte order, as netpol-analyzer sorts). Pods of one owner are
        one endpoint (their answers merged); an endpoint's pair with itself is never listed."""
        # Each source group's row is built once, sorted by destination rank, and shared by its
        # members: 10,000 workloads make few distinct rows.
        rows: dict[int, list[tuple[int, End, Conns, Conns, tuple[str, ...]]]] = defaultdict(list)
        into: dict[External, list[tuple[int, End, Conns, Conns, tuple[str, ...]]]] = defaultdict(
            list
        )
        ends: set[End] = set(self.endpoint.values())
        pairs = list(self.group_pairs())
        outward: dict[int, list[tuple[External, Conns, Conns, tuple[str, ...]]]] = {}
        if self.with_external:
            for group in self.sources:
                outward[id(group)] = self._external(Direction.EGRESS, group)
                ends.update(e for e, *_ in outward[id(group)])
            inward = [(g, self._external(Direction.INGRESS, g)) for g in self.destinations]
            for _, found in inward:
                ends.update(e for e, *_ in found)
        rank = {end: i for i, end in enumerate(sorted(ends, key=lambda e: e.label.encode()))}
        for src, dst, certain, uncertain, reasons in pairs:
            row = rows[id(src)]
            for d in dst.members:
                target = self.endpoint[d]
                row.append((rank[target], target, certain, uncertain, reasons))
        if self.with_external:
            for group in self.sources:
                rows[id(group)].extend((rank[e], e, c, u, r) for e, c, u, r in outward[id(group)])
            for group, found in inward:
                for d in group.members:
                    target = self.endpoint[d]
                    for ext, certain, uncertain, reasons in found:
                        into[ext].append((rank[target], target, certain, uncertain, reasons))
        for row in rows.values():
            row.sort(key=_first)
        for row in into.values():
            row.sort(key=_first)
        host = {rank[self.endpoint[w]] for w in self.workloads if w.host_network}
        members: dict[Endpoint, list[Workload]] = defaultdict(list)
        for workload in self.workloads:
            members[self.endpoint[workload]].append(workload)
        sources: list[tuple[int, End]] = [(rank[e], e) for e in members]
        sources += [(rank[e], e) for e in into]
        for source_rank, source in sorted(sources, key=lambda item: item[0]):
            if isinstance(source, External):
                merged: Iterable[tuple[int, End, Conns, Conns, tuple[str, ...]]] = into[source]
            else:
                own = members[source]
                parts = [rows.get(id(self._source_of[w]), []) for w in own]
                merged = parts[0] if len(parts) == 1 else heapq.merge(*parts, key=_first)
            yield from _emit(source, source_rank, merged, source_rank in host, host)

    def _external(
        self, direction: Direction, group: _Group
    ) -> list[tuple[External, Conns, Conns, tuple[str, ...]]]:
        if group.foreign:
            namespace = group.members[0].namespace
            reasons = tuple(_foreign_reasons(self.index.foreign_policies_for(namespace)))
            return [(e, _NONE, _ALL, reasons) for e in self._universe()]
        return [(e, c, _NONE, ()) for e, c in self._ip_side(direction, group)]

    def _universe(self) -> list[External]:
        return [External(v, 0, _IP_TOP[v]) for v in self._versions()]


_Entry = tuple[int, End, Conns, Conns, tuple[str, ...]]


def _first(item: _Entry) -> int:
    return item[0]


def _emit(
    source: End,
    source_rank: int,
    row: Iterable[tuple[int, End, Conns, Conns, tuple[str, ...]]],
    source_on_host: bool,
    host: set[int],
) -> Iterator[Record]:
    """Records of one source from its row sorted by rank, entries of one end merged (replicas
    of one owner), the source itself left out. Ends are compared by rank (an int), which is
    what keeps four million records cheap."""
    for rank, entries in itertools.groupby(row, key=_first):
        if rank == source_rank:
            continue
        (_, target, certain, uncertain, reasons), *more = entries
        for _, _, more_certain, more_uncertain, more_reasons in more:
            certain = certain.union(more_certain)
            uncertain = uncertain.union(more_uncertain)
            reasons = tuple(sorted({*reasons, *more_reasons}))
        yield Record(
            source,
            target,
            certain,
            uncertain.subtract(certain) if uncertain.ports else uncertain,
            reasons,
            source_on_host or rank in host,
        )


def _selector_key(selector: LabelSelector) -> tuple[object, ...]:
    return tuple(
        sorted((r.key, r.operator.value, tuple(sorted(r.values))) for r in selector.requirements)
    )


def connectivity(index: Index, *, with_external: bool = True) -> ConnectivityMap:
    """The connectivity map of an index (``layout.cluster``, or one unit's index)."""
    return ConnectivityMap(index, with_external=with_external)


class Explainer:
    """:func:`explain` for many pairs of one index: its policies compiled once (a rule that
    asks about many pairs, such as NL301's expectations, would otherwise compile them per
    pair)."""

    def __init__(self, index: Index) -> None:
        self._compiled = _Compiled.of(index)

    @property
    def notes(self) -> list[str]:
        """What is not modelled (policies the API server rejects), as the map notes it."""
        return list(self._compiled.notes)

    def explain(self, src: Workload | External, dst: Workload | External) -> PairAnswer:
        return _explain(self._compiled, src, dst)
