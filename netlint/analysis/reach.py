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
- :meth:`Explainer.egress` -> :class:`Side`: the source's egress alone, towards ends the repo
  may know only in part (:class:`Placed` pods, :class:`SomeAddress`): NL103 asks it whether
  pods reach cluster DNS.
- :class:`Conns`: a set of (protocol, port), exact; ``str()`` is netpol-analyzer's canonical
  string (``TCP 80,8080-8090,UDP 53``, ``All Connections``).
"""

from __future__ import annotations

import dataclasses
import functools
import heapq
import ipaddress
import itertools
import operator
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
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
    AdminPolicy,
    AdminRule,
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
    "AdminContribution",
    "ConnectivityMap",
    "Conns",
    "Contribution",
    "Endpoint",
    "Explainer",
    "External",
    "PairAnswer",
    "Placed",
    "Record",
    "Side",
    "SomeAddress",
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


def _selected(selector: LabelSelector, end: Workload | Placed) -> Tri:
    """Whether a pod selector selects the pods of ``end``."""
    if isinstance(end, Workload):
        return Tri.TRUE if selector.matches(end.pod_labels) else Tri.FALSE
    return end.selects(selector)


def _conns_at(ports: PortSet, destination: Workload | Placed | None) -> Conns:
    if isinstance(destination, Placed):
        if destination.ports is not None:
            return destination.ports(ports)
        return resolve(ports, None)
    return resolve(ports, destination)


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


def pods_key(workload: Workload) -> tuple[object, ...]:
    """What every answer about a workload's pods depends on: their namespace, labels, named
    ports and network. Copies alike in these (a base that two overlays apply, replicas of one
    owner) get the same answer from every policy, so one of them answers for all."""
    return (
        workload.namespace,
        tuple(sorted(workload.pod_labels.items())),
        tuple(sorted((p.name or "", p.protocol, p.port) for p in workload.ports)),
        workload.host_network,
    )


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


@dataclass(frozen=True, slots=True, eq=False)
class Placed:
    """Pods the repo describes only in part, as an end of one side (:meth:`Explainer.egress`):
    cluster DNS, which a repo rarely declares, or the pods a policy is written for when the
    repo declares none of them. What is known is their namespace and, per pod selector, whether
    it selects them (``selects``; UNKNOWN where it asks about labels the repo does not give);
    as a destination, what a rule's ports are at them (``ports``; None: a named port is
    nothing there, as at a workload without such a container port)."""

    namespace: str
    selects: Callable[[LabelSelector], Tri]
    #: What an answer that depends on their unknown labels depends on.
    unknown: str
    ports: Callable[[PortSet], Conns] | None = None
    #: The policies of the namespace that may select them (a superset, in the repo's order),
    #: when the caller has them indexed; None: every policy of the namespace is asked.
    policies: Callable[[], Iterable[NetworkPolicy]] | None = None


@dataclass(frozen=True, slots=True)
class SomeAddress:
    """One address of IP ``version`` that the repo does not give (the cluster DNS service's):
    a rule with any ipBlock of that version may allow it, and none surely does."""

    version: int
    unknown: str


#: Either end of a side: a declared workload, pods known in part, or addresses.
Remote = Workload | Placed | External | SomeAddress


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


@dataclass(frozen=True, slots=True, eq=False)
class _AdminRule:
    """A rule of an AdminNetworkPolicy or the BaselineAdminNetworkPolicy, compiled."""

    policy: AdminPolicy
    rule: AdminRule
    ports: PortSet
    #: Indexes into the index-wide list of selector peers of this direction.
    peers: tuple[int, ...]
    ips: Mapping[int, IntervalSet]


#: One admin rule as it applies at an end: the rule, and whether its policy's subject
#: selects the end (UNKNOWN: it depends on an undeclared namespace's labels, or on the
#: undefined order of two policies of one priority).
_Entry_ = tuple[_AdminRule, Tri]


@dataclass(frozen=True, slots=True)
class _AdminAt:
    """The admin rules that apply at one end in one direction, in evaluation order."""

    #: AdminNetworkPolicies' rules, by ascending priority then as written.
    tiers: tuple[_Entry_, ...] = ()
    #: The BaselineAdminNetworkPolicy's rules (used where no NetworkPolicy isolates the end).
    baseline: tuple[_Entry_, ...] = ()
    #: Why some subject verdict is unknown (the end's own namespace labels, a priority tie).
    reasons: tuple[str, ...] = ()

    def key(self) -> tuple[object, ...]:
        return (
            tuple((id(r), t.value) for r, t in self.tiers),
            tuple((id(r), t.value) for r, t in self.baseline),
            self.reasons,
        )

    def __bool__(self) -> bool:
        return bool(self.tiers or self.baseline)


_NO_ADMIN: Final = _AdminAt()


class _Conflict(NamedTuple):
    """Same-named NetworkPolicies that may decide one side (:meth:`_Compiled.conflicted_at`)."""

    reasons: tuple[str, ...]
    #: Per choice the cluster may have made (which variant of each name it keeps): the ids of
    #: the policy objects it then does not keep. Empty when there are more than
    #: ``_MAX_CHOICES``: everything the side decides is then unknown.
    choices: tuple[frozenset[int], ...]


#: Choices tried per side: past it (names whose product of variants is larger), unknown.
_MAX_CHOICES: Final = 64


@dataclass(slots=True)
class _Compiled:
    """Every valid policy's effective rules, with its selector peers numbered."""

    index: Index
    rules: dict[tuple[NetworkPolicy, Direction], list[_Rule]] = field(default_factory=dict)
    peers: dict[Direction, list[tuple[NetworkPolicy | AdminPolicy, Peer]]] = field(
        default_factory=dict
    )
    #: Port names some rule uses (only those make container ports matter).
    names: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    #: Modelled AdminNetworkPolicies by ascending priority, and the BaselineAdminNetworkPolicy.
    admins: list[AdminPolicy] = field(default_factory=list)
    baseline: AdminPolicy | None = None
    admin_rules: dict[tuple[AdminPolicy, Direction], list[_AdminRule]] = field(default_factory=dict)
    #: Each rule's ports as a set, by rule object: shared with the map of another revision
    #: (``netlint diff``), whose unchanged policies are the same objects.
    port_sets: dict[Rule, PortSet] = field(default_factory=dict)
    _isolating: dict[tuple[Workload, Direction], tuple[NetworkPolicy, ...]] = field(
        default_factory=dict
    )
    #: Foreign policies that are not modelled (other engines, malformed or extra BANPs).
    unmodelled: set[int] = field(default_factory=set)
    #: By namespace, per name that different NetworkPolicies share (:meth:`_same_named`):
    #: its variants, each the policy objects of one :meth:`NetworkPolicy.semantic_key`.
    conflicts: dict[str, list[tuple[tuple[NetworkPolicy, ...], ...]]] = field(default_factory=dict)
    _conflicted: dict[tuple[Workload | Placed, Direction], _Conflict | None] = field(
        default_factory=dict
    )

    @classmethod
    def of(
        cls,
        index: Index,
        port_sets: dict[Rule, PortSet] | None = None,
        *,
        same_named: bool = True,
        lazy: bool = False,
    ) -> _Compiled:
        """``lazy``: each policy's rules compiled when a side first asks for them
        (:meth:`rules_of`), for pair questions that touch a few policies of a big repo; the
        map needs every rule numbered up front."""
        compiled = cls(index, peers={Direction.INGRESS: [], Direction.EGRESS: []})
        if port_sets is not None:
            compiled.port_sets = port_sets
        compiled._admin_policies()
        if same_named:
            compiled._same_named()
        for policy in index.policies:
            if not policy.valid:
                compiled.notes.append(
                    f"policy {policy.namespace}/{policy.name} is not modelled: the API server "
                    "rejects it (NL002), or its spec holds a substitution placeholder "
                    "(${VAR}, {{x}}) whose value the repo does not give"
                )
                continue
            if lazy:
                continue
            for direction in (Direction.INGRESS, Direction.EGRESS):
                if direction in policy.policy_types:
                    compiled.rules_of(policy, direction)
        return compiled

    def rules_of(self, policy: NetworkPolicy, direction: Direction) -> list[_Rule]:
        """A valid policy's compiled rules of a direction its policyTypes hold."""
        found = self.rules.get((policy, direction))
        if found is None:
            try:
                found = [
                    self._rule(policy, rule, direction)
                    for rule in policy.effective_rules(direction)
                ]
            except UnsupportedTraffic:
                found = []
            self.rules[(policy, direction)] = found
        return found

    def _rule(self, policy: NetworkPolicy, rule: Rule, direction: Direction) -> _Rule:
        ports = self.port_sets.get(rule)
        if ports is None:
            ports = self.port_sets[rule] = port_set(rule.ports)
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

    def _same_named(self) -> None:
        """A cluster holds one NetworkPolicy of a namespace and name. The same object applied
        by several units (a base two overlays include) or equal copies of it are one policy;
        different ones under one name are whichever is applied last, which the repo does not
        say: each side is answered for every choice the cluster may have made
        (:meth:`conflicted_at`), never for their union."""
        named: dict[tuple[str, str], list[NetworkPolicy]] = defaultdict(list)
        for policy in self.index.policies:
            # generateName: the API server names each one anew, so they are no replacements;
            # a policy it rejects replaces nothing.
            if policy.valid and not policy.generated_name:
                named[(policy.namespace, policy.name)].append(policy)
        for (namespace, name), policies in named.items():
            if len(policies) < 2:
                continue
            variants: dict[object, list[NetworkPolicy]] = {}
            for policy in policies:
                variants.setdefault(policy.semantic_key(), []).append(policy)
            if len(variants) < 2:
                continue
            found = tuple(tuple(copies) for copies in variants.values())
            self.conflicts.setdefault(namespace, []).append(found)
            self.notes.append(
                f"{len(found)} different NetworkPolicies named {namespace}/{name} "
                f"({_definitions(found)}): the cluster keeps the one applied last, which the "
                "repo does not say, so what only some of them allow is uncertain"
            )

    def conflicted_at(self, workload: Workload | Placed, direction: Direction) -> _Conflict | None:
        """The choices among same-named policies that may decide ``workload``'s
        ``direction``: names whose variants enforce different things there (one isolates and
        another does not, or their rules differ). None when no such name applies."""
        if workload.namespace not in self.conflicts:
            return None
        key = (workload, direction)
        if key in self._conflicted:
            return self._conflicted[key]
        reasons: list[str] = []
        # Per name, the ways the cluster may choose: the ids of the objects it then drops
        # (variants that enforce the same thing here are one way).
        ways: list[list[frozenset[int]]] = []
        for variants in self.conflicts[workload.namespace]:
            effects: dict[object, list[NetworkPolicy]] = {}
            for copies in variants:
                selected = _selected(copies[0].pod_selector, workload)
                effect: object = None if selected is Tri.FALSE else copies[0].effect_key(direction)
                if selected is Tri.UNKNOWN:
                    # One that may select the pods and one that surely does differ.
                    effect = (effect, selected)
                effects.setdefault(effect, []).extend(copies)
            if len(effects) < 2:
                continue
            first = variants[0][0]
            reasons.append(
                f"which variant of NetworkPolicy {first.namespace}/{first.name} the cluster "
                f"keeps, the one applied last ({_definitions(variants)})"
            )
            every = {id(p) for kept in effects.values() for p in kept}
            ways.append([frozenset(every - {id(p) for p in kept}) for kept in effects.values()])
        found: _Conflict | None = None
        if ways:
            count = 1
            for options in ways:
                count *= len(options)
            choices: tuple[frozenset[int], ...] = ()
            if count <= _MAX_CHOICES:
                choices = tuple(
                    frozenset().union(*combination) for combination in itertools.product(*ways)
                )
            found = _Conflict(tuple(reasons), choices)
        self._conflicted[key] = found
        return found

    def may_isolate(
        self, end: Placed, direction: Direction
    ) -> tuple[tuple[NetworkPolicy, Tri], ...]:
        """The policies that may isolate pods known in part, each with whether it selects
        them (TRUE or UNKNOWN): the valid ones of their namespace whose effective
        policyTypes hold ``direction`` (``Index.isolating_policies``' definition)."""
        candidates = (
            end.policies() if end.policies is not None else self.index.policies_in(end.namespace)
        )
        found: list[tuple[NetworkPolicy, Tri]] = []
        for policy in candidates:
            if not policy.valid or direction not in policy.policy_types:
                continue
            if policy.namespace != end.namespace:
                continue
            selected = end.selects(policy.pod_selector)
            if selected is not Tri.FALSE:
                found.append((policy, selected))
        return tuple(found)

    def isolating(self, workload: Workload, direction: Direction) -> tuple[NetworkPolicy, ...]:
        # Asked once per pair and end: a diff or an expectations file asks of the same
        # workloads thousands of times.
        key = (workload, direction)
        found = self._isolating.get(key)
        if found is None:
            found = self._isolating[key] = tuple(self.index.isolating_policies(workload, direction))
        return found

    def _admin_policies(self) -> None:
        """Compile the modelled AdminNetworkPolicies and the BaselineAdminNetworkPolicy; note
        what is left unmodelled (every answer it could change is then unknown)."""
        # By name: a cluster holds one object of a kind and name. The same object (a base
        # that several overlays apply) or equal copies of it are one policy; different ones
        # under one name are whichever is applied last, which the repo does not say.
        named: dict[tuple[str, str], dict[object, ForeignPolicy]] = {}
        for foreign in self.index.cluster_foreign_policies:
            admin = foreign.admin
            if admin is None:
                self.unmodelled.add(id(foreign))
                if foreign.unmodelled_reason is not None:
                    self.notes.append(
                        f"{foreign.kind} {foreign.ref.name} is not modelled "
                        f"({foreign.unmodelled_reason}): every answer it could change is unknown"
                    )
                continue
            versions = named.setdefault((admin.kind, admin.name), {})
            versions.setdefault(repr(admin.semantic_key()), foreign)
        for (kind, name), versions in named.items():
            kept = list(versions.values())
            if len(kept) > 1:
                self.unmodelled.update(
                    id(f)
                    for f in self.index.cluster_foreign_policies
                    if f.admin is not None and (f.admin.kind, f.admin.name) == (kind, name)
                )
                self.notes.append(
                    f"{len(kept)} different {kind} objects named {name}: the cluster keeps the one "
                    "applied last, so none is modelled and every answer they could change is "
                    "unknown"
                )
                continue
            admin = kept[0].admin
            assert admin is not None
            if admin.is_baseline:
                self.baseline = admin
            else:
                self.admins.append(admin)
        self.admins.sort(key=lambda a: a.priority or 0)
        for admin in (*self.admins, *([self.baseline] if self.baseline else [])):
            for direction in (Direction.INGRESS, Direction.EGRESS):
                compiled: list[_AdminRule] = []
                for rule in admin.rules(direction):
                    if rule.has_nodes:
                        self.notes.append(
                            f"{admin.kind} {admin.name} rule {rule.name or rule.rule.index}: "
                            "nodes peers are not modelled (netlint has no nodes), ignored"
                        )
                    try:
                        compiled.append(self._admin_rule(admin, rule, direction))
                    except UnsupportedTraffic:
                        continue
                if compiled:
                    self.admin_rules[(admin, direction)] = compiled

    def _admin_rule(self, admin: AdminPolicy, rule: AdminRule, direction: Direction) -> _AdminRule:
        ports = port_set(rule.rule.ports)
        for _, _, names in ports.entries:
            if not names.cofinite:
                self.names |= names.values
        numbered: list[int] = []
        ips: dict[int, IntervalSet] = {}
        for peer in rule.rule.peers:
            if peer.ip_block is not None:
                version, addresses = ip_set(peer.ip_block)
                previous = ips.get(version)
                ips[version] = addresses if previous is None else previous.union(addresses)
            else:
                numbered.append(len(self.peers[direction]))
                self.peers[direction].append((admin, peer))
        return _AdminRule(admin, rule, ports, tuple(numbered), ips)

    def unmodelled_for(self, namespace: str) -> list[ForeignPolicy]:
        """The foreign policies that may apply in ``namespace`` and are not modelled."""
        return [
            f
            for f in self.index.foreign_policies_for(namespace)
            if f.namespace is not None or id(f) in self.unmodelled
        ]

    def admin_at(self, workload: Workload | Placed, direction: Direction) -> _AdminAt:
        """The admin rules that apply at ``workload`` in ``direction``."""
        if not self.admin_rules:
            return _NO_ADMIN
        reasons: set[str] = set()
        chosen: list[tuple[AdminPolicy, Tri]] = []
        for admin in self.admins:
            if (admin, direction) not in self.admin_rules:
                continue
            verdict = self._subject(admin, workload)
            if verdict is Tri.UNKNOWN:
                reasons.add(_unknown_at(workload))
            if verdict is not Tri.FALSE:
                chosen.append((admin, verdict))
        # Two policies of one priority that may both apply: Kubernetes leaves their order
        # undefined, so each rule of theirs may or may not come first (unknown, never
        # guessed).
        tiers: list[_Entry_] = []
        for priority, same in itertools.groupby(chosen, key=lambda item: item[0].priority):
            group = list(same)
            if len(group) > 1:
                names = " and ".join(f"AdminNetworkPolicy {a.name}" for a, _ in group)
                reasons.add(f"the order of {names}, which share priority {priority}")
                group = [(a, Tri.UNKNOWN) for a, _ in group]
            for admin, verdict in group:
                tiers.extend((r, verdict) for r in self.admin_rules[(admin, direction)])
        baseline: list[_Entry_] = []
        if self.baseline is not None and (self.baseline, direction) in self.admin_rules:
            verdict = self._subject(self.baseline, workload)
            if verdict is Tri.UNKNOWN:
                reasons.add(_unknown_at(workload))
            if verdict is not Tri.FALSE:
                baseline = [(r, verdict) for r in self.admin_rules[(self.baseline, direction)]]
        if not tiers and not baseline:
            return _NO_ADMIN
        return _AdminAt(tuple(tiers), tuple(baseline), tuple(sorted(reasons)))

    def _subject(self, admin: AdminPolicy, workload: Workload | Placed) -> Tri:
        pods = Tri.TRUE
        if admin.subject_pods is not None:
            pods = _selected(admin.subject_pods, workload)
            if pods is Tri.FALSE:
                return pods
        return pods & Tri.of(
            self.index.namespace_selector_matches(admin.subject_namespaces, workload.namespace)
        )


def _namespace_match(
    index: Index, policy: NetworkPolicy | AdminPolicy, peer: Peer, namespace: str
) -> Tri:
    if peer.namespace_selector is None:
        # Only a NetworkPolicy's peers lack a namespaceSelector (an admin peer always has one).
        return Tri.of(isinstance(policy, NetworkPolicy) and namespace == policy.namespace)
    return Tri.of(index.namespace_selector_matches(peer.namespace_selector, namespace))


def peer_matches(
    index: Index, policy: NetworkPolicy | AdminPolicy, peer: Peer, workload: Workload | Placed
) -> Tri:
    """Whether a selector peer of ``policy`` selects the workload's pods (UNKNOWN: it depends
    on labels of a namespace the repo does not declare, or of pods known in part)."""
    if peer.ip_block is not None or (peer.pod_selector is None and peer.namespace_selector is None):
        return Tri.FALSE
    if peer.pod_selector is not None:
        pods = _selected(peer.pod_selector, workload)
        if pods is Tri.FALSE:
            return pods
        if pods is Tri.UNKNOWN:
            return pods & _namespace_match(index, policy, peer, workload.namespace)
    return _namespace_match(index, policy, peer, workload.namespace)


def _unknown_namespace(namespace: str) -> str:
    return f"labels of namespace {namespace}, which the repo does not declare"


# ---------------------------------------------------------------------------------------------
# AdminNetworkPolicy and BaselineAdminNetworkPolicy: tiers around the NetworkPolicies


@dataclass(frozen=True, slots=True)
class AdminContribution:
    """An AdminNetworkPolicy or BaselineAdminNetworkPolicy rule that matches the pair:
    ``action`` (Allow, Deny, Pass) for ``conns``, the part of its ports that reached it
    undecided (``certain`` False: only if its subject or peer selects what the repo does not
    say, or a policy of equal priority does not come first)."""

    policy: AdminPolicy
    rule: AdminRule
    conns: Conns
    certain: bool

    @property
    def action(self) -> str:
        return self.rule.action


class _Tier(NamedTuple):
    """One tier's outcome: what it may allow, may deny, and may hand on (Pass or no match)."""

    allow: Conns
    deny: Conns
    onward: Conns
    #: Whether an unknown peer verdict (the remote's namespace) decided part of it.
    remote_unknown: bool
    #: Whether an unknown subject verdict (the end's own namespace, a priority tie) did.
    own_unknown: bool


def _tier(
    entries: Sequence[_Entry_],
    verdict: Callable[[_AdminRule], Tri],
    conns_of: Callable[[_AdminRule], Conns],
    found: list[AdminContribution] | None,
) -> _Tier:
    """Rules in order, the first match per connection wins. With unknown verdicts the sets
    over-approximate every possible world: ``allow``/``deny``/``onward`` are what *may* end
    so; a connection that reaches an unknown rule stays pending as well."""
    pending = _ALL
    allow = deny = passed = _NONE
    remote_unknown = own_unknown = False
    for rule, subject in entries:
        if pending.is_empty():
            break
        peer = verdict(rule)
        if peer is Tri.FALSE or subject is Tri.FALSE:
            continue
        hit = pending.intersect(conns_of(rule))
        if hit.is_empty():
            continue
        action = rule.rule.action
        if action == "Allow":
            allow = allow.union(hit)
        elif action == "Deny":
            deny = deny.union(hit)
        else:
            passed = passed.union(hit)
        sure = peer is Tri.TRUE and subject is Tri.TRUE
        if sure:
            pending = pending.subtract(hit)
        else:
            remote_unknown = remote_unknown or peer is Tri.UNKNOWN
            own_unknown = own_unknown or subject is Tri.UNKNOWN
        if found is not None:
            found.append(AdminContribution(rule.policy, rule.rule, hit, sure))
    return _Tier(allow, deny, pending.union(passed), remote_unknown, own_unknown)


def _either(answers: Collection[_Answer]) -> _Answer:
    """One side whichever same-named variants the cluster keeps, from its answer for each
    choice: what every choice allows is certain, what any allows possible. No answer (more
    choices than are tried): nothing certain, anything possible."""
    if not answers:
        return _NONE, _ALL
    certain = functools.reduce(Conns.intersect, (c for c, _ in answers))
    return certain, functools.reduce(Conns.union, (p for _, p in answers))


def _after(tier: _Tier, onward: _Answer) -> _Answer:
    """A tier's (certain, possible) given what the next layer answers for what it hands on."""
    certain, possible = onward
    return (
        _ALL.subtract(tier.deny).subtract(tier.onward.subtract(certain)),
        tier.allow.union(tier.onward.intersect(possible)),
    )


def _layered(
    admin: _AdminAt,
    policies: _Answer | None,
    verdict: Callable[[_AdminRule], Tri],
    conns_of: Callable[[_AdminRule], Conns],
    found: list[AdminContribution] | None = None,
) -> tuple[_Answer, bool, bool]:
    """One side: the AdminNetworkPolicies' rules, then (what they pass or do not match) the
    NetworkPolicies' answer ``policies``, or where none isolates the end (``policies`` None)
    the BaselineAdminNetworkPolicy's rules, then the default allow. Returns the answer and
    whether the remote's and the end's own unknowns decided part of it."""
    remote = own = False
    lower = _OPEN if policies is None else policies
    # The baseline is computed first (the tiers above need its answer) but listed last, in
    # the order Kubernetes evaluates the rules.
    below: list[AdminContribution] | None = None if found is None else []
    if policies is None and admin.baseline:
        tier = _tier(admin.baseline, verdict, conns_of, below)
        lower = _after(tier, _OPEN)
        remote, own = tier.remote_unknown, tier.own_unknown
    answer = lower
    onward = _ALL
    if admin.tiers:
        tier = _tier(admin.tiers, verdict, conns_of, found)
        answer = _after(tier, lower)
        remote, own = remote or tier.remote_unknown, own or tier.own_unknown
        onward = tier.onward
    if found is not None and below:
        # Only what the AdminNetworkPolicies may hand on reaches the baseline.
        for item in below:
            conns = item.conns.intersect(onward)
            if not conns.is_empty():
                found.append(AdminContribution(item.policy, item.rule, conns, item.certain))
    return answer, remote, own


def _inside(addresses: IntervalSet | None, remote: External) -> Tri:
    """Whether every address of ``remote`` is in ``addresses`` (UNKNOWN: some are)."""
    if addresses is None:
        return Tri.FALSE
    common = addresses.intersect(
        IntervalSet.span(remote.lo, remote.hi, 0, _IP_TOP[remote.version])
    ).intervals
    if not common:
        return Tri.FALSE
    return Tri.TRUE if common == ((remote.lo, remote.hi),) else Tri.UNKNOWN


def _definitions(variants: Sequence[Sequence[NetworkPolicy]]) -> str:
    """Where same-named ``variants`` are defined: fewer places than variants when one
    definition is built differently (an overlay patches what a base declares)."""
    places = list(
        dict.fromkeys(f"{p.ref.path}:{p.name_span.line}" for copies in variants for p in copies)
    )
    return ", ".join(places) + (
        ", built differently by the units that apply it" if len(places) < len(variants) else ""
    )


def _foreign_reasons(foreign: Iterable[ForeignPolicy]) -> list[str]:
    # Once each: one name may stand for several objects (the same base applied twice).
    return list(
        dict.fromkeys(
            f"{f.kind} {f.ref.namespace + '/' if f.namespace else ''}{f.ref.name} (not modelled)"
            for f in foreign
        )
    )


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
    #: None for an external end (nothing isolates it), or pods known in part.
    workload: Workload | None
    #: Policies that select the end and enforce the direction; empty: open by default.
    isolated_by: tuple[NetworkPolicy, ...]
    contributions: tuple[Contribution, ...]
    certain: Conns
    possible: Conns
    #: AdminNetworkPolicy and BaselineAdminNetworkPolicy rules that match the pair, in the
    #: order they are evaluated.
    admin: tuple[AdminContribution, ...] = ()
    #: What an unknown part of this side depends on.
    reasons: tuple[str, ...] = ()
    #: Of ``isolated_by``: same-named variants whose choice decides this side (the cluster
    #: keeps one of them, which the repo does not say).
    variants: tuple[NetworkPolicy, ...] = ()

    @property
    def default_open(self) -> bool:
        """Nothing restricts the side: no NetworkPolicy isolates it and no admin rule
        matches."""
        return not self.isolated_by and not self.admin


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
    end: Workload | Placed | None,
    remote: Remote,
    destination: Workload | Placed | None,
) -> Side:
    if end is None:
        return Side(direction, None, (), (), _ALL, _ALL)
    # The policies that isolate the end, each with whether it surely selects it (only pods
    # known in part may be selected UNKNOWN).
    judged: tuple[tuple[NetworkPolicy, Tri], ...]
    if isinstance(end, Workload):
        judged = tuple((p, Tri.TRUE) for p in compiled.isolating(end, direction))
    else:
        judged = compiled.may_isolate(end, direction)
    policies = tuple(p for p, _ in judged)
    admin = compiled.admin_at(end, direction)
    workload = end if isinstance(end, Workload) else None
    if not policies and not admin:
        return Side(direction, workload, (), (), _ALL, _ALL)
    contributions: list[Contribution] = []
    #: Per contribution, what its uncertain part depends on (None: it is certain).
    unsure: list[str | None] = []
    for policy, selected in judged:
        for compiled_rule in compiled.rules_of(policy, direction):
            verdict = _rule_verdict(compiled, policy, compiled_rule, remote)
            if verdict is Tri.FALSE:
                continue
            conns = _conns_at(compiled_rule.ports, destination)
            if conns.is_empty():
                continue
            sure = verdict is Tri.TRUE and selected is Tri.TRUE
            contributions.append(Contribution(policy, compiled_rule.rule, conns, sure))
            unsure.append(None if sure else _unknown_at(remote if verdict is Tri.UNKNOWN else end))

    def verdict_of(rule: _AdminRule) -> Tri:
        if isinstance(remote, External):
            return _inside(rule.ips.get(remote.version), remote)
        if isinstance(remote, SomeAddress):
            return Tri.UNKNOWN if rule.ips.get(remote.version) else Tri.FALSE
        return Tri.any_of(
            peer_matches(compiled.index, rule.policy, peer, remote)
            for peer in rule.rule.rule.peers
            if peer.ip_block is None
        )

    reasons: set[str] = set()
    decided: list[AdminContribution] = []
    # One answer per choice among same-named policies the cluster may have made (one choice,
    # dropping nothing, where there are none): what every choice allows is certain.
    conflict = compiled.conflicted_at(end, direction)
    answers: set[_Answer] = set()
    for number, dropped in enumerate(conflict.choices if conflict else (frozenset[int](),)):
        certain = possible = _NONE
        for c, why in zip(contributions, unsure, strict=True):
            if id(c.policy) not in dropped:
                possible = possible.union(c.conns)
                if why is None:
                    certain = certain.union(c.conns)
                else:
                    reasons.add(why)
        kept = [t for p, t in judged if id(p) not in dropped]
        # Isolated surely, maybe (a policy that may select pods known in part), or not.
        isolations: list[_Answer | None] = []
        if Tri.TRUE in kept:
            isolations.append((certain, possible))
        elif kept:
            isolations += [(certain, possible), None]
        else:
            isolations.append(None)
        for which, isolated in enumerate(isolations):
            if not admin:
                answers.add(_OPEN if isolated is None else isolated)
                continue
            answer, remote_unknown, own_unknown = _layered(
                admin,
                isolated,
                verdict_of,
                lambda rule: _conns_at(rule.ports, destination),
                decided if number == which == 0 else None,
            )
            answers.add(answer)
            if remote_unknown:
                if isinstance(remote, External):
                    reasons.add(f"which addresses of {remote.label} an AdminNetworkPolicy names")
                else:
                    reasons.add(_unknown_at(remote))
            if own_unknown:
                reasons.update(admin.reasons)
    certain, possible = _either(answers)
    variants: tuple[NetworkPolicy, ...] = ()
    if conflict is not None and len(answers) != 1:
        reasons.update(conflict.reasons)
        dropped_somewhere = frozenset[int]().union(*conflict.choices)
        variants = tuple(p for p in policies if id(p) in dropped_somewhere)
    return Side(
        direction,
        workload,
        policies,
        tuple(contributions),
        certain,
        possible,
        tuple(decided),
        tuple(sorted(reasons)),
        variants,
    )


def _rule_verdict(
    compiled: _Compiled, policy: NetworkPolicy, compiled_rule: _Rule, remote: Remote
) -> Tri:
    """Whether one rule's peers hold the remote end (ports aside)."""
    if compiled_rule.all_peers:
        return Tri.TRUE
    if isinstance(remote, External):
        # A NetworkPolicy rule holds a range or not: part of it is not the range.
        inside = _inside(compiled_rule.ips.get(remote.version), remote)
        return Tri.TRUE if inside is Tri.TRUE else Tri.FALSE
    if isinstance(remote, SomeAddress):
        return Tri.UNKNOWN if compiled_rule.ips.get(remote.version) else Tri.FALSE
    return Tri.any_of(
        peer_matches(compiled.index, policy, peer, remote) for peer in compiled_rule.rule.peers
    )


def _unknown_at(end: Workload | Placed | SomeAddress | External) -> str:
    """What a verdict about ``end`` that is unknown depends on: a workload's namespace labels,
    or what the repo does not say about pods or an address it knows in part."""
    if isinstance(end, Workload):
        return _unknown_namespace(end.namespace)
    if isinstance(end, External):  # never unknown for a NetworkPolicy rule (Tri.of)
        return f"which addresses of {end.label} a rule names"
    return end.unknown


def explain(index: Index, src: Workload | External, dst: Workload | External) -> PairAnswer:
    """The answer for one ordered pair, with the policies and rules behind it."""
    return _explain(_Compiled.of(index, lazy=True), src, dst)


def _explain(compiled: _Compiled, src: Workload | External, dst: Workload | External) -> PairAnswer:
    destination = dst if isinstance(dst, Workload) else None
    source = src if isinstance(src, Workload) else None
    egress = _side(compiled, Direction.EGRESS, source, dst, destination)
    ingress = _side(compiled, Direction.INGRESS, destination, src, destination)
    certain = egress.certain.intersect(ingress.certain)
    possible = egress.possible.intersect(ingress.possible)
    reasons: list[str] = []
    # An unknown part of one side is what that side's reasons name (for a NetworkPolicy, the
    # other end's namespace: ingress peers select the source, egress peers the destination).
    if not egress.certain.intersect(ingress.possible).subtract(certain).is_empty():
        reasons.extend(ingress.reasons)
    if not egress.possible.intersect(ingress.certain).subtract(certain).is_empty():
        reasons.extend(egress.reasons)
    if not possible.subtract(certain).is_empty() and not reasons:
        # Both sides unknown at once: both sides' reasons.
        reasons.extend((*ingress.reasons, *egress.reasons))
    foreign: list[ForeignPolicy] = []
    for end in (src, dst):
        if isinstance(end, Workload):
            foreign.extend(f for f in compiled.unmodelled_for(end.namespace) if f not in foreign)
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
    compiled_rules: list[_Rule | _AdminRule] = [
        r for (_, d), rules in compiled.rules.items() if d is direction for r in rules
    ]
    # AdminNetworkPolicy egress networks cut the ranges as ipBlocks do.
    compiled_rules += [
        r for (_, d), rules in compiled.admin_rules.items() if d is direction for r in rules
    ]
    if compiled_rules:
        for rule in compiled_rules:
            for version, addresses in rule.ips.items():
                found = cuts.setdefault(version, {0, _IP_TOP[version] + 1})
                for a, b in addresses.intervals:
                    found.add(a)
                    found.add(b + 1)
    return {
        version: [(a, b - 1) for a, b in zip(sorted(points), sorted(points)[1:], strict=False)]
        for version, points in cuts.items()
    }


class _GroupKey(NamedTuple):
    """What decides a group member's answers (see :meth:`ConnectivityMap._groups`)."""

    policies: tuple[int, ...]
    signature: tuple[tuple[int, object], ...]
    foreign: bool
    conflict: _Conflict | None
    ports: tuple[object, ...]
    #: An unknown answer names the member's namespace: "" when no answer is unknown.
    namespace: str
    admin: tuple[object, ...]


@dataclass(slots=True, eq=False)
class _Group:
    """Workloads with equal policy relevance in one role (as sources, or as destinations)."""

    key: _GroupKey
    members: list[Workload]
    #: Tri per selector peer of the other role's direction that may select the members.
    signature: dict[int, Tri]
    isolated_by: tuple[NetworkPolicy, ...]
    #: The rules of ``isolated_by`` for the group's own direction.
    rules: tuple[_Rule, ...]
    foreign: bool
    #: Same-named policies whose choice may decide the group's own direction
    #: (:meth:`_Compiled.conflicted_at`).
    conflict: _Conflict | None
    #: Per such choice (one when there is none; none when there are too many to try): the
    #: rules of the policies the cluster then keeps, and whether any of them isolates.
    choices: tuple[tuple[tuple[_Rule, ...], bool], ...]
    #: The named container ports that some rule uses (destinations only): with the
    #: signature, all that decides an answer about the group's members.
    ports: tuple[object, ...]
    #: The admin rules at the members in the group's own direction.
    admin: _AdminAt = _NO_ADMIN

    @property
    def broad(self) -> bool:
        """Whether the group's own direction may allow a remote that no peer names: open by
        default (or by the baseline's default), a rule without peers, or an other engine's
        policy. An AdminNetworkPolicy's rules name their peers."""
        return (
            self.foreign
            or self.conflict is not None
            or not self.isolated_by
            or any(r.all_peers for r in self.rules)
        )


#: One side's answer: (certain, possible); ``possible is certain`` when nothing is unknown.
_Answer = tuple[Conns, Conns]
_OPEN: Final[_Answer] = (_ALL, _ALL)
_CLOSED: Final[_Answer] = (_NONE, _NONE)


class ConnectivityMap:
    """The connections of every ordered pair of an index's workloads and external ranges."""

    def __init__(
        self, index: Index, *, with_external: bool = True, like: ConnectivityMap | None = None
    ) -> None:
        """``like``: the map of another revision of the same repo, whose compiled rule ports
        are taken for the rules both share."""
        self.index = index
        self._compiled: _Compiled = _Compiled.of(index, like._compiled.port_sets if like else None)
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
        self._ip_cache: dict[
            tuple[object, ...], list[tuple[External, Conns, Conns, tuple[str, ...]]]
        ] = {}
        self.partition = {
            d: _partition(self._compiled, d) for d in (Direction.INGRESS, Direction.EGRESS)
        }

    def explain(self, src: Workload | External, dst: Workload | External) -> PairAnswer:
        """:func:`explain` on this map's index, reusing its compiled rules (``netlint diff``
        explains every changed pair)."""
        return _explain(self._compiled, src, dst)

    def side(self, direction: Direction, src: Workload, dst: Workload) -> Side:
        """One side of :meth:`explain`'s answer for two workloads: the source's egress or the
        destination's ingress (``netlint diff`` compares one side first where only it can
        differ)."""
        if direction is Direction.EGRESS:
            return _side(self._compiled, direction, src, dst, dst)
        return _side(self._compiled, direction, dst, src, dst)

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
                # Only a NetworkPolicy's peers lack a namespaceSelector.
                assert isinstance(policy, NetworkPolicy)
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
        groups: dict[_GroupKey, _Group] = {}
        names = self._compiled.names
        for workload in self.workloads:
            policies = tuple(self._compiled.isolating(workload, direction))
            signature = matched.get(workload, {})
            foreign = bool(self._compiled.unmodelled_for(workload.namespace))
            conflict = self._compiled.conflicted_at(workload, direction)
            admin = self._compiled.admin_at(workload, direction)
            ports: tuple[object, ...] = ()
            if direction is Direction.INGRESS and names:
                ports = tuple(
                    sorted((p.name, p.protocol, p.port) for p in workload.ports if p.name in names)
                )
            key = _GroupKey(
                tuple(id(p) for p in policies),
                tuple(sorted((n, t.value) for n, t in signature.items())),
                foreign,
                conflict,
                ports,
                # An unknown answer names the member's namespace, so it is part of the key.
                workload.namespace
                if admin.reasons or any(t is Tri.UNKNOWN for t in signature.values())
                else "",
                admin.key(),
            )
            group = groups.get(key)
            if group is None:
                rules = tuple(r for p in policies for r in self._compiled.rules[(p, direction)])
                choices: tuple[tuple[tuple[_Rule, ...], bool], ...] = ((rules, bool(policies)),)
                if conflict is not None:
                    choices = tuple(
                        (
                            tuple(r for r in rules if id(r.policy) not in dropped),
                            any(id(p) not in dropped for p in policies),
                        )
                        for dropped in conflict.choices
                    )
                group = _Group(
                    key, [], signature, policies, rules, foreign, conflict, choices, ports, admin
                )
                groups[key] = group
            group.members.append(workload)
        return list(groups.values())

    # -- one direction, per group pair --------------------------------------------------------

    def _resolve(self, rule: _Rule | _AdminRule, destination: _Group) -> Conns:
        key = (id(rule), destination.ports)
        found = self._resolved.get(key)
        if found is None:
            found = self._resolved[key] = resolve(rule.ports, destination.members[0])
        return found

    def _side(
        self, group: _Group, remote: _Group, destination: _Group
    ) -> tuple[Conns, Conns, tuple[str, ...]]:
        """What ``group``'s own direction allows to or from the members of ``remote`` (named
        ports resolved at ``destination``): (certain, possible, what an unknown part depends
        on); ``possible is certain`` when nothing is unknown."""
        if group.conflict is None:
            return self._chosen_side(
                group, remote, destination, group.rules, bool(group.isolated_by)
            )
        # Which same-named variants the cluster keeps: what every choice allows is certain.
        answers: set[_Answer] = set()
        reasons: set[str] = set()
        for rules, isolated in group.choices:
            certain, possible, why = self._chosen_side(group, remote, destination, rules, isolated)
            answers.add((certain, possible))
            reasons.update(why)
        certain, possible = _either(answers)
        if certain == possible:
            return certain, certain, ()
        if len(answers) != 1:  # the choices differ (or are too many to try)
            reasons.update(group.conflict.reasons)
        return certain, possible, tuple(sorted(reasons))

    def _chosen_side(
        self,
        group: _Group,
        remote: _Group,
        destination: _Group,
        rules: tuple[_Rule, ...],
        isolated: bool,
    ) -> tuple[Conns, Conns, tuple[str, ...]]:
        """:meth:`_side` where the NetworkPolicies at ``group`` are ``rules`` (isolating it
        when ``isolated``)."""
        if not group.admin:
            certain, possible = self._np_side(remote, destination, rules, isolated)
            if possible is certain:
                return certain, possible, ()
            return certain, possible, (_unknown_namespace(remote.members[0].namespace),)
        signature = remote.signature

        def verdict(rule: _AdminRule) -> Tri:
            found = Tri.FALSE
            for number in rule.peers:
                one = signature.get(number)
                if one is Tri.TRUE:
                    return one
                if one is Tri.UNKNOWN:
                    found = one
            return found

        np_answer = self._np_side(remote, destination, rules, isolated) if isolated else None
        (certain, possible), remote_unknown, own_unknown = _layered(
            group.admin, np_answer, verdict, lambda rule: self._resolve(rule, destination)
        )
        reasons: set[str] = set()
        if np_answer is not None and np_answer[1] is not np_answer[0]:
            remote_unknown = True
        if remote_unknown:
            reasons.add(_unknown_namespace(remote.members[0].namespace))
        if own_unknown:
            reasons.update(group.admin.reasons)
        if certain == possible:
            return certain, certain, ()
        return certain, possible, tuple(sorted(reasons))

    def _np_side(
        self, remote: _Group, destination: _Group, rules: tuple[_Rule, ...], isolated: bool
    ) -> _Answer:
        """The NetworkPolicies' part of :meth:`_chosen_side`."""
        if not isolated:
            return _OPEN
        certain = possible = _NONE
        unknown = False
        signature = remote.signature
        for rule in rules:
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
                    found.update(_foreign_reasons(self._compiled.unmodelled_for(namespace)))
            return _NONE, _ALL, tuple(sorted(found))
        e_certain, e_possible, e_reasons = self._side(src, dst, dst)
        if e_possible.is_empty():
            return _NONE, _NONE, ()
        i_certain, i_possible, i_reasons = self._side(dst, src, dst)
        certain = e_certain.intersect(i_certain)
        if e_possible is e_certain and i_possible is i_certain:
            return certain, _NONE, ()
        uncertain = e_possible.intersect(i_possible).subtract(certain)
        reasons: list[str] = []
        if not uncertain.is_empty():
            # As :func:`_explain` names them: each side's own reasons, where its unknown part
            # is what makes the pair's.
            if not e_certain.intersect(i_possible).subtract(certain).is_empty():
                reasons.extend(i_reasons)
            if not e_possible.intersect(i_certain).subtract(certain).is_empty():
                reasons.extend(e_reasons)
            if not reasons:
                reasons = [*i_reasons, *e_reasons]
        return certain, uncertain, tuple(sorted(set(reasons)))

    def _ip_side(
        self, direction: Direction, group: _Group
    ) -> list[tuple[External, Conns, Conns, tuple[str, ...]]]:
        """The external ranges a group's members may reach (egress) or be reached from
        (ingress), as (range, certain, uncertain, reasons), merged where touching ranges get
        equal answers. Named ports never resolve for an address (no pod declares them).

        The answer changes only at the edges of the group's own ipBlocks (and admin
        networks), so it is swept over those, not over the atoms of every ipBlock of the
        index (the same function, merged)."""
        key = (
            direction,
            group.key.policies,
            group.key.conflict,
            group.ports,
            group.key.admin,
            group.key.namespace,
        )
        cached = self._ip_cache.get(key)
        if cached is not None:
            return cached
        destination = group.members[0] if direction is Direction.INGRESS else None
        admin = group.admin
        entries = (*admin.tiers, *admin.baseline)
        split_reasons = group.conflict.reasons if group.conflict is not None else ()
        out: list[tuple[External, Conns, Conns, tuple[str, ...]]] = []
        for version in self.versions():
            top = _IP_TOP[version]
            if not group.choices:  # more choices among same-named policies than are tried
                out.append((External(version, 0, top), _NONE, _ALL, split_reasons))
                continue
            if len(group.choices) == 1 and not group.choices[0][1] and not admin:
                out.append((External(version, 0, top), _ALL, _NONE, ()))
                continue
            edges = {0, top + 1}
            # Per choice (see _Group.choices): what its rules allow to every address, and
            # per address range.
            swept: list[tuple[Conns, list[tuple[int, int, Conns]], bool]] = []
            for rules, isolated in group.choices:
                everywhere = _NONE
                pieces: list[tuple[int, int, Conns]] = []
                for rule in rules:
                    if rule.all_peers:
                        everywhere = everywhere.union(resolve(rule.ports, destination))
                        continue
                    addresses = rule.ips.get(version)
                    if addresses is None:
                        continue
                    conns = resolve(rule.ports, destination)
                    if not conns.is_empty():
                        pieces.extend((a, b, conns) for a, b in addresses.intervals)
                edges.update(a for a, _, _ in pieces)
                edges.update(b + 1 for _, b, _ in pieces)
                swept.append((everywhere, pieces, isolated))
            for entry, _ in entries:
                for a, b in getattr(entry.ips.get(version), "intervals", ()):
                    edges.update((a, b + 1))
            cuts = sorted(edges)
            run: tuple[int, int, Conns, Conns, bool] | None = None
            for lo, nxt in itertools.pairwise(cuts):
                answers: set[_Answer] = set()
                for everywhere, pieces, isolated in swept:
                    conns = everywhere
                    for a, b, more in pieces:
                        if a <= lo <= b:
                            conns = conns.union(more)
                    answer: _Answer = (conns, conns) if isolated else _OPEN
                    if admin:

                        def verdict(rule: _AdminRule, at: int = lo, version: int = version) -> Tri:
                            addresses = rule.ips.get(version)
                            return Tri.of(addresses is not None and addresses.contains(at))

                        answer, _, _ = _layered(
                            admin,
                            (conns, conns) if isolated else None,
                            verdict,
                            lambda rule: resolve(rule.ports, destination),
                        )
                    answers.add(answer)
                certain, possible = _either(answers)
                split = len(answers) > 1
                if run is not None and run[2:] == (certain, possible, split):
                    run = (run[0], nxt - 1, certain, possible, split)
                    continue
                if run is not None:
                    self._ip_emit(out, version, run, admin, split_reasons)
                run = (lo, nxt - 1, certain, possible, split)
            if run is not None:
                self._ip_emit(out, version, run, admin, split_reasons)
        self._ip_cache[key] = out
        return out

    @staticmethod
    def _ip_emit(
        out: list[tuple[External, Conns, Conns, tuple[str, ...]]],
        version: int,
        run: tuple[int, int, Conns, Conns, bool],
        admin: _AdminAt,
        split_reasons: tuple[str, ...],
    ) -> None:
        """Adds a run of touching ranges with one answer (``split``: the choices among
        same-named policies answer differently there)."""
        lo, hi, certain, possible, split = run
        if possible.is_empty():
            return
        uncertain = possible.subtract(certain)
        reasons: tuple[str, ...] = ()
        if not uncertain.is_empty():
            reasons = tuple(sorted({*admin.reasons, *(split_reasons if split else ())}))
        out.append((External(version, lo, hi), certain, uncertain, reasons))

    def versions(self) -> list[int]:
        """IPv4 always; IPv6 only when some rule names IPv6 addresses (docs/connectivity.md)."""
        return sorted({v for d in self.partition.values() for v in d})

    # -- records ------------------------------------------------------------------------------

    def _destinations_of(self) -> Callable[[_Group], Iterable[_Group]]:
        """The destination groups a source group may reach: those whose ingress names it
        through a selector peer, and those that may let in anything. Pairs are enumerated
        sparsely: a destination group whose ingress names its sources only through selector
        peers meets only the source groups those peers select."""
        broad = [d for d in self.destinations if d.broad]
        naming: dict[int, list[_Group]] = defaultdict(list)
        for dst in self.destinations:
            if dst.broad:
                continue
            # An AdminNetworkPolicy's Allow may let in what no NetworkPolicy names.
            numbers = {n for r in dst.rules for n in r.peers}
            numbers.update(n for r, _ in dst.admin.tiers for n in r.peers)
            for number in numbers:
                naming[number].append(dst)

        def reached(src: _Group) -> Iterable[_Group]:
            chosen = {id(d): d for d in broad}
            for number in src.signature:
                for dst in naming.get(number, ()):
                    chosen[id(dst)] = dst
            return chosen.values()

        return reached

    def records(self) -> Iterator[Record]:
        """One record per ordered pair of ends with a non-empty answer, sorted by source label
        then destination label (byte order, as netpol-analyzer sorts). Pods of one owner are
        one endpoint (their answers merged); an endpoint's pair with itself is never listed."""
        for part in self.records_by_source():
            yield from part()

    def records_by_source(self) -> list[Callable[[], Iterator[Record]]]:
        """:meth:`records` cut by source, in the same order: each call gives one source's
        records. Only the ends and their order are computed here; a source's pairs are
        computed when its records are asked for, so a writer can give sources to several
        processes and still write them in order (``netlint connectivity`` of a large repo)."""
        ends: set[End] = set(self.endpoint.values())
        outward: dict[int, list[tuple[External, Conns, Conns, tuple[str, ...]]]] = {}
        inward: list[tuple[_Group, list[tuple[External, Conns, Conns, tuple[str, ...]]]]] = []
        if self.with_external:
            for group in self.sources:
                outward[id(group)] = self._external(Direction.EGRESS, group)
                ends.update(e for e, *_ in outward[id(group)])
            inward = [(g, self._external(Direction.INGRESS, g)) for g in self.destinations]
            for _, found in inward:
                ends.update(e for e, *_ in found)
        rank = {end: i for i, end in enumerate(sorted(ends, key=lambda e: e.label.encode()))}
        into: dict[External, list[_Entry]] = defaultdict(list)
        for group, found in inward:
            for d in group.members:
                target = self.endpoint[d]
                for ext, certain, uncertain, reasons in found:
                    into[ext].append((rank[target], target, certain, uncertain, reasons))
        for entries in into.values():
            entries.sort(key=_first)
        host = {rank[self.endpoint[w]] for w in self.workloads if w.host_network}
        members: dict[Endpoint, list[Workload]] = defaultdict(list)
        for workload in self.workloads:
            members[self.endpoint[workload]].append(workload)
        rows = _Rows(self, rank, outward, self._destinations_of())
        sources: list[tuple[int, End]] = [(rank[e], e) for e in members]
        sources += [(rank[e], e) for e in into]
        parts: list[Callable[[], Iterator[Record]]] = []
        for source_rank, source in sorted(sources, key=lambda item: item[0]):
            on_host = source_rank in host
            if isinstance(source, External):
                emit = functools.partial(_emit, source, source_rank, into[source], on_host, host)
            else:
                groups = [self._source_of[w] for w in members[source]]
                emit = functools.partial(rows.emit, source, source_rank, groups, on_host, host)
            parts.append(emit)
        return parts

    def _external(
        self, direction: Direction, group: _Group
    ) -> list[tuple[External, Conns, Conns, tuple[str, ...]]]:
        if group.foreign:
            namespace = group.members[0].namespace
            reasons = tuple(_foreign_reasons(self._compiled.unmodelled_for(namespace)))
            return [(e, _NONE, _ALL, reasons) for e in self._universe()]
        return self._ip_side(direction, group)

    def _universe(self) -> list[External]:
        return [External(v, 0, _IP_TOP[v]) for v in self.versions()]


_Entry = tuple[int, End, Conns, Conns, tuple[str, ...]]


#: An entry's rank, as a sort and group key: ``itemgetter`` runs in C, and the map's writer
#: calls it for each of millions of entries.
_first: Final = operator.itemgetter(0)


#: Builds a Record without the Python-level ``__new__`` of a NamedTuple (all six fields given):
#: a large map writes millions of them.
_new_record: Final = tuple.__new__


class _Rows:
    """Each source group's row: its answers to every end, sorted by the end's rank. A row is
    computed when a source first needs it and dropped once every source of the group has
    been given (in this process): a large map holds a few rows, not all of them."""

    def __init__(
        self,
        found: ConnectivityMap,
        rank: Mapping[End, int],
        outward: Mapping[int, list[tuple[External, Conns, Conns, tuple[str, ...]]]],
        reached: Callable[[_Group], Iterable[_Group]],
    ) -> None:
        self._map = found
        self._rank = rank
        self._outward = outward
        self._reached = reached
        #: How many sources still need each group's row (by the group's id): one per pod.
        self._wanted = Counter(id(found._source_of[w]) for w in found.workloads)
        self._rows: dict[int, list[_Entry]] = {}
        # Each destination group's ends with their ranks, once: a group is the destination of
        # many pairs, and an end's rank costs two lookups that hash a dataclass.
        self._ranked: dict[int, list[tuple[int, End]]] = {}

    def _row(self, src: _Group) -> list[_Entry]:
        found = self._rows.get(id(src))
        if found is not None:
            return found
        row: list[_Entry] = []
        chart = self._map
        for dst in self._reached(src):
            certain, uncertain, reasons = chart._pair(src, dst)
            if certain.is_empty() and uncertain.is_empty():
                continue
            ends_of = self._ranked.get(id(dst))
            if ends_of is None:
                rank, endpoint = self._rank, chart.endpoint
                ends_of = self._ranked[id(dst)] = [
                    (rank[end], end) for end in (endpoint[d] for d in dst.members)
                ]
            row.extend([(r, t, certain, uncertain, reasons) for r, t in ends_of])
        outward = self._outward.get(id(src))
        if outward:
            rank = self._rank
            row.extend((rank[e], e, c, u, r) for e, c, u, r in outward)
        row.sort(key=_first)
        self._rows[id(src)] = row
        return row

    def emit(
        self,
        source: End,
        source_rank: int,
        groups: list[_Group],
        source_on_host: bool,
        host: set[int],
    ) -> Iterator[Record]:
        """:func:`_emit` of a source whose pods are in ``groups`` (replicas of one owner may
        fall in several), their rows merged by rank."""
        rows = [self._row(g) for g in groups]
        for group in groups:
            key = id(group)
            self._wanted[key] -= 1
            if self._wanted[key] <= 0:
                self._rows.pop(key, None)
        merged = rows[0] if len(rows) == 1 else heapq.merge(*rows, key=_first)
        return _emit(source, source_rank, merged, source_on_host, host)


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
        yield _new_record(
            Record,
            (
                source,
                target,
                certain,
                uncertain.subtract(certain) if uncertain.ports else uncertain,
                reasons,
                source_on_host or rank in host,
            ),
        )


def _selector_key(selector: LabelSelector) -> tuple[object, ...]:
    return tuple(
        sorted((r.key, r.operator.value, tuple(sorted(r.values))) for r in selector.requirements)
    )


def connectivity(
    index: Index, *, with_external: bool = True, like: ConnectivityMap | None = None
) -> ConnectivityMap:
    """The connectivity map of an index (``layout.cluster``, or one unit's index); ``like``:
    the map of another revision, see ``ConnectivityMap``."""
    return ConnectivityMap(index, with_external=with_external, like=like)


class Explainer:
    """:func:`explain` for many pairs of one index: its policies compiled once (a rule that
    asks about many pairs, such as NL301's expectations, would otherwise compile them per
    pair)."""

    def __init__(self, index: Index, *, same_named: bool = True) -> None:
        """``same_named=False``: every NetworkPolicy as written, none replacing another of
        its name. For a rule that judges each policy in the unit that applies it (NL103):
        same-named variants of different units are mostly alternatives (overlays) that never
        meet, and the one replaced in the cluster view still decides where it is applied."""
        self._compiled = _Compiled.of(index, same_named=same_named, lazy=True)
        self._egress: dict[tuple[object, ...], Side] = {}

    @property
    def notes(self) -> list[str]:
        """What is not modelled (policies the API server rejects), as the map notes it."""
        return list(self._compiled.notes)

    def explain(self, src: Workload | External, dst: Workload | External) -> PairAnswer:
        return _explain(self._compiled, src, dst)

    def egress(self, src: Workload | Placed, dst: Remote) -> Side:
        """The source's side alone: what its egress allows towards ``dst``, which may be
        known only in part (NL103 asks it of cluster DNS, which a repo rarely declares; the
        destination's ingress is then not the repo's to say). Other engines' policies are
        not in it: see :meth:`unmodelled`."""
        destination = dst if isinstance(dst, Workload | Placed) else None
        compiled = self._compiled
        if not isinstance(src, Workload) or src.namespace in compiled.conflicts:
            return _side(compiled, Direction.EGRESS, src, dst, destination)
        # Workloads that the same policies and admin rules isolate get the same side towards
        # one end (the pods of a namespace under its default-deny and allow-dns policies).
        key = (
            id(dst),
            tuple(map(id, compiled.isolating(src, Direction.EGRESS))),
            compiled.admin_at(src, Direction.EGRESS).key(),
        )
        found = self._egress.get(key)
        if found is None:
            found = self._egress[key] = _side(compiled, Direction.EGRESS, src, dst, destination)
            return found
        return dataclasses.replace(found, workload=src)

    def unmodelled(self, namespace: str) -> list[ForeignPolicy]:
        """Other engines' policies that may apply to pods of ``namespace`` and are not
        modelled: every answer they could change is unknown (:func:`explain` says so)."""
        return self._compiled.unmodelled_for(namespace)
