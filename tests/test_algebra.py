"""Property tests of netlint.analysis.algebra against brute force evaluation of Kubernetes
semantics.

The brute force never uses the algebra: it evaluates selectors with ``netlint.core.selectors``,
CIDRs with ``ipaddress`` and ports by hand, over a finite universe that holds a representative
of every cell the generated policies can tell apart: each label key with every value the
generators use, one value they never use, and "absent"; every port number they use plus one
beyond; named ports they use plus one they never use; every address at or next to a CIDR
boundary. Exactness of the algebra means agreement in both directions on that universe."""

from __future__ import annotations

import ipaddress
import itertools
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from hypothesis import event, given, settings
from hypothesis import strategies as st

from netlint.analysis.algebra import (
    PORT_MAX,
    PROTOCOLS,
    Box,
    Connection,
    IntervalSet,
    LabelValues,
    Namespaces,
    PortSet,
    Strings,
    Traffic,
    port_set,
    rule_traffic,
    selector_box,
    selector_covers,
)
from netlint.core.model import (
    NAME_LABEL,
    Direction,
    Except,
    IPBlock,
    LabelSelector,
    NetworkPolicy,
    ObjectRef,
    Peer,
    PortSpec,
    Requirement,
    Rule,
)
from netlint.core.selectors import Operator
from netlint.core.source import Span

SPAN = Span("t.yaml", 1, 1, 1, 2)
NAMESPACE = "own"

# -- alphabets ---------------------------------------------------------------------------------

POD_KEYS = ("app", "tier")
POD_VALUES = ("a", "b")
NS_VALUES = {NAME_LABEL: ("own", "other"), "team": ("x", "y")}
FRESH = "zz-fresh"
PORT_NUMBERS = (1, 2, 3)
PORT_NAMES = ("http", "dns")
CIDRS_V4 = ("0.0.0.0/0", "10.0.0.0/8", "10.0.0.0/30", "10.0.0.0/31", "10.0.0.2/31", "10.0.0.1/32")
CIDRS_V6 = ("::/0", "fd00::/8", "fd00::/126", "fd00::/127", "fd00::2/127", "fd00::1/128")
IPS = tuple(
    ipaddress.ip_address(a)
    for a in (
        "9.255.255.255",
        "10.0.0.0",
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.3",
        "10.0.0.4",
        "11.0.0.0",
        "fcff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "fd00::",
        "fd00::1",
        "fd00::2",
        "fd00::3",
        "fd00::4",
        "fe00::",
    )
)


def label_maps(
    values: Mapping[str, Sequence[str]], required: Sequence[str] = ()
) -> list[dict[str, str]]:
    """Every label map over the keys: each key holds one of its values, a fresh value, or
    (unless ``required``) nothing."""
    choices = []
    for key, vals in values.items():
        options: list[str | None] = [*vals, FRESH]
        if key not in required:
            options.append(None)
        choices.append([(key, v) for v in options])
    return [{k: v for k, v in combo if v is not None} for combo in itertools.product(*choices)]


POD_LABELS = label_maps(dict.fromkeys(POD_KEYS, POD_VALUES))
#: The name label is never absent on a namespace.
NS_LABELS = label_maps(NS_VALUES, required=(NAME_LABEL,))
PORTS = [
    (protocol, port)
    for protocol in PROTOCOLS
    for port in (*PORT_NUMBERS, PORT_NUMBERS[-1] + 1, PORT_MAX, *PORT_NAMES, FRESH)
]

# -- model objects -----------------------------------------------------------------------------


def requirement(key: str, operator: Operator, values: Sequence[str] = ()) -> Requirement:
    return Requirement(key, operator, frozenset(values), "matchExpressions", SPAN)


def selector(*requirements: Requirement) -> LabelSelector:
    return LabelSelector(tuple(requirements), SPAN, SPAN)


def ip_block(cidr: str, excepts: Sequence[str] = ()) -> IPBlock:
    network = ipaddress.ip_network(cidr)
    return IPBlock(
        cidr,
        network,
        tuple(Except(e, ipaddress.ip_network(e), SPAN) for e in excepts),
        SPAN,
        SPAN,
    )


def peer(
    pods: LabelSelector | None = None,
    namespaces: LabelSelector | None = None,
    block: IPBlock | None = None,
) -> Peer:
    return Peer(pods, namespaces, block, 0, SPAN)


def port(
    protocol: str = "TCP", number: int | str | None = None, end: int | None = None
) -> PortSpec:
    return PortSpec(protocol, number, end, True, 0, SPAN, None, None, None)


def rule(peers: Sequence[Peer] = (), ports: Sequence[PortSpec] = (), line: int = 1) -> Rule:
    span = Span("t.yaml", line, 5, line, 10)
    return Rule(Direction.INGRESS, 0, tuple(peers), tuple(ports), span, None, None, ())


def policy(pods: LabelSelector, rules: Sequence[Rule] = (), name: str = "p") -> NetworkPolicy:
    ref = ObjectRef("NetworkPolicy", name, NAMESPACE, "t.yaml", 0, (), SPAN)
    return NetworkPolicy(
        ref=ref,
        name=name,
        namespace=NAMESPACE,
        namespace_declared=True,
        pod_selector=pods,
        policy_types=frozenset((Direction.INGRESS,)),
        declared_policy_types=None,
        ingress=tuple(rules),
        egress=(),
        name_span=SPAN,
        namespace_span=None,
        spec_span=None,
        policy_types_key_span=None,
        ingress_key_span=None,
        egress_key_span=None,
        labels={},
        annotations={},
        valid=True,
    )


# -- brute force semantics (no algebra) --------------------------------------------------------


@dataclass(frozen=True)
class Remote:
    namespace: Mapping[str, str] | None = None
    pod: Mapping[str, str] | None = None
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None


def peer_matches(owner: NetworkPolicy, item: Peer, remote: Remote) -> bool:
    if item.ip_block is not None:
        address = remote.ip
        block = item.ip_block
        return (
            address is not None
            and address.version == block.network.version
            and address in block.network
            and not any(address in e.network for e in block.excepts)
        )
    if remote.namespace is None or remote.pod is None:
        return False
    if item.namespace_selector is None:
        namespace_ok = remote.namespace.get(NAME_LABEL) == owner.namespace
    else:
        namespace_ok = item.namespace_selector.matches(remote.namespace)
    pod_ok = item.pod_selector is None or item.pod_selector.matches(remote.pod)
    return namespace_ok and pod_ok


def port_matches(spec: PortSpec, protocol: str, number: int | str) -> bool:
    if spec.protocol != protocol:
        return False
    if spec.port is None:
        return True
    if isinstance(spec.port, str) or isinstance(number, str):
        return spec.port == number
    return spec.port <= number <= (spec.end_port if spec.end_port is not None else spec.port)


def peers_allow(owner: NetworkPolicy, item: Rule, remote: Remote) -> bool:
    return not item.peers or any(peer_matches(owner, p, remote) for p in item.peers)


def ports_allow(item: Rule, protocol: str, number: int | str) -> bool:
    return not item.ports or any(port_matches(s, protocol, number) for s in item.ports)


def allows(
    owner: NetworkPolicy,
    item: Rule,
    subject: Mapping[str, str],
    remote: Remote,
    protocol: str,
    number: int | str,
) -> bool:
    return (
        owner.pod_selector.matches(subject)
        and peers_allow(owner, item, remote)
        and ports_allow(item, protocol, number)
    )


def remotes(declared: Mapping[str, Mapping[str, str]]) -> Iterator[Remote]:
    """Every remote end of the universe that can exist: a declared namespace keeps its labels."""
    for ns in NS_LABELS:
        fixed = declared.get(ns[NAME_LABEL])
        if fixed is not None and any(ns.get(k) != v for k, v in fixed.items()):
            continue
        for pod in POD_LABELS:
            yield Remote(namespace=ns, pod=pod)
    for address in IPS:
        yield Remote(ip=address)


def brute_covered(
    target: tuple[NetworkPolicy, Rule],
    covers: Sequence[tuple[NetworkPolicy, Rule]],
    declared: Mapping[str, Mapping[str, str]],
) -> tuple[bool, bool]:
    """Whether every connection the target allows is allowed by some cover (a rule is peers x
    ports, so per selected pod and remote end the target's ports must lie in the covers'), and
    whether the target allows any connection at all."""
    owner, item = target
    port_sets = {
        id(r): frozenset(p for p in PORTS if ports_allow(r, *p)) for _, r in (target, *covers)
    }
    nonempty = False
    for subject in POD_LABELS:
        if not owner.pod_selector.matches(subject):
            continue
        active = [(q, r) for q, r in covers if q.pod_selector.matches(subject)]
        for remote in remotes(declared):
            if not peers_allow(owner, item, remote) or not port_sets[id(item)]:
                continue
            nonempty = True
            allowed: set[tuple[str, int | str]] = set()
            for q, r in active:
                if peers_allow(q, r, remote):
                    allowed |= port_sets[id(r)]
            if not port_sets[id(item)] <= allowed:
                return False, True
    return True, nonempty


# -- strategies --------------------------------------------------------------------------------


def requirements_over(values: Mapping[str, Sequence[str]]) -> st.SearchStrategy[Requirement]:
    def build(key: str) -> st.SearchStrategy[Requirement]:
        vals = st.lists(st.sampled_from(values[key]), min_size=1, max_size=2, unique=True)
        return st.one_of(
            st.builds(requirement, st.just(key), st.just(Operator.IN), vals),
            st.builds(requirement, st.just(key), st.just(Operator.NOT_IN), vals),
            st.just(requirement(key, Operator.EXISTS)),
            st.just(requirement(key, Operator.DOES_NOT_EXIST)),
        )

    return st.sampled_from(sorted(values)).flatmap(build)


def selectors(
    values: Mapping[str, Sequence[str]], max_size: int = 2
) -> st.SearchStrategy[LabelSelector]:
    return st.lists(requirements_over(values), max_size=max_size).map(lambda rs: selector(*rs))


POD_SELECTORS = selectors(dict.fromkeys(POD_KEYS, POD_VALUES))
NS_SELECTORS = selectors(NS_VALUES)


@st.composite
def ip_blocks(draw: st.DrawFn) -> IPBlock:
    cidr = draw(st.sampled_from(CIDRS_V4 + CIDRS_V6))
    network = ipaddress.ip_network(cidr)
    inside = [
        c
        for c in CIDRS_V4 + CIDRS_V6
        if (n := ipaddress.ip_network(c)).version == network.version
        and n.subnet_of(network)  # type: ignore[arg-type]
        and n.prefixlen > network.prefixlen
    ]
    excepts = draw(st.lists(st.sampled_from(inside), max_size=2, unique=True)) if inside else []
    return ip_block(cidr, excepts)


PEERS = st.one_of(
    st.builds(peer, pods=POD_SELECTORS),
    st.builds(peer, namespaces=NS_SELECTORS),
    st.builds(peer, pods=POD_SELECTORS, namespaces=NS_SELECTORS),
    st.builds(peer, block=ip_blocks()),
)


@st.composite
def port_specs(draw: st.DrawFn) -> PortSpec:
    protocol = draw(st.sampled_from(PROTOCOLS))
    kind = draw(st.sampled_from(("all", "number", "range", "name")))
    if kind == "all":
        return port(protocol)
    if kind == "name":
        return port(protocol, draw(st.sampled_from(PORT_NAMES)))
    start = draw(st.sampled_from(PORT_NUMBERS))
    if kind == "number":
        return port(protocol, start)
    return port(protocol, start, draw(st.sampled_from([n for n in PORT_NUMBERS if n >= start])))


RULES = st.builds(
    rule,
    st.lists(PEERS, max_size=2),
    st.lists(port_specs(), max_size=2),
)
DECLARED = st.sampled_from(
    [
        {},
        {"own": {NAME_LABEL: "own", "team": "x"}},
        {"own": {NAME_LABEL: "own"}, "other": {NAME_LABEL: "other", "team": "y"}},
    ]
)


def union(traffics: Sequence[Traffic]) -> Traffic:
    out = Traffic()
    for t in traffics:
        out = out.union(t)
    return out


# -- each dimension's sets ---------------------------------------------------------------------

STRING_UNIVERSE = ("a", "b", "c", FRESH)


def strings_sets() -> st.SearchStrategy[Strings]:
    return st.builds(
        Strings, st.frozensets(st.sampled_from(("a", "b", "c")), max_size=3), st.booleans()
    )


def label_value_sets() -> st.SearchStrategy[LabelValues]:
    return st.builds(
        LabelValues,
        st.frozensets(st.sampled_from(("a", "b", "c")), max_size=3),
        st.booleans(),
        st.booleans(),
    )


def interval_sets(lo: int = 0, hi: int = 15) -> st.SearchStrategy[IntervalSet]:
    pair = st.tuples(st.integers(lo - 2, hi + 2), st.integers(lo - 2, hi + 2))
    return st.lists(pair, max_size=4).map(lambda ps: IntervalSet.of(ps, lo, hi))


@st.composite
def port_sets(draw: st.DrawFn) -> PortSet:
    specs = draw(st.lists(port_specs(), max_size=3))
    return port_set(specs) if specs else PortSet()


def _members(
    element: Strings | LabelValues | IntervalSet | PortSet, universe: Sequence[object]
) -> set[object]:
    return {v for v in universe if element.contains(v)}


@settings(max_examples=200, deadline=None)
@given(strings_sets(), strings_sets())
def test_strings_are_a_boolean_algebra(a: Strings, b: Strings) -> None:
    u = STRING_UNIVERSE
    sa, sb = _members(a, u), _members(b, u)
    assert _members(a.intersect(b), u) == sa & sb
    assert _members(a.union(b), u) == sa | sb
    assert _members(a.subtract(b), u) == sa - sb
    assert _members(a.complement(), u) == set(u) - sa
    assert a.subtract(b).is_empty() == (sa <= sb)
    assert a.is_full() == (sa == set(u))
    assert a.meets(b) == bool(sa & sb)


@settings(max_examples=200, deadline=None)
@given(label_value_sets(), label_value_sets())
def test_label_values_are_a_boolean_algebra(a: LabelValues, b: LabelValues) -> None:
    u = (*STRING_UNIVERSE, None)
    sa, sb = _members(a, u), _members(b, u)
    assert _members(a.intersect(b), u) == sa & sb
    assert _members(a.union(b), u) == sa | sb
    assert _members(a.subtract(b), u) == sa - sb
    assert _members(a.complement(), u) == set(u) - sa
    assert a.is_empty() == (not sa)
    assert a.covers(b) == (sb <= sa)
    assert a.meets(b) == bool(sa & sb)


@settings(max_examples=200, deadline=None)
@given(interval_sets(), interval_sets())
def test_interval_sets_are_a_boolean_algebra(a: IntervalSet, b: IntervalSet) -> None:
    u = range(0, 16)
    sa, sb = _members(a, u), _members(b, u)
    assert _members(a.intersect(b), u) == sa & sb
    assert _members(a.union(b), u) == sa | sb
    assert _members(a.subtract(b), u) == sa - sb
    assert _members(a.complement(), u) == set(u) - sa
    assert a.is_empty() == (not sa)
    assert a.is_full() == (sa == set(u))
    assert a.meets(b) == bool(sa & sb)
    # normal form: equal sets have equal representations
    assert (sa == sb) == (a.intervals == b.intervals)


@settings(max_examples=200, deadline=None)
@given(port_sets(), port_sets())
def test_port_sets_are_a_boolean_algebra(a: PortSet, b: PortSet) -> None:
    u = PORTS
    sa, sb = _members(a, u), _members(b, u)
    assert _members(a.intersect(b), u) == sa & sb
    assert _members(a.union(b), u) == sa | sb
    assert _members(a.subtract(b), u) == sa - sb
    assert _members(a.complement(), u) == set(u) - sa
    assert a.is_empty() == (not sa)
    assert a.covers(b) == (sb <= sa)
    assert a.meets(b) == bool(sa & sb)


@settings(max_examples=100, deadline=None)
@given(st.lists(port_specs(), max_size=3), st.sampled_from(PORTS))
def test_port_set_is_the_rules_ports(specs: list[PortSpec], probe: tuple[str, int | str]) -> None:
    item = rule(ports=specs)
    assert port_set(specs).contains(probe) == ports_allow(item, *probe)


@settings(max_examples=200, deadline=None)
@given(POD_SELECTORS)
def test_selector_box_matches_like_the_selector(chosen: LabelSelector) -> None:
    dims = selector_box("pod", chosen.requirements)
    for labels in POD_LABELS:
        point = {("pod", k): v for k, v in labels.items()}
        inside = dims is not None and Box(dims).contains(point)
        assert inside == chosen.matches(labels), labels


@settings(max_examples=300, deadline=None)
@given(POD_SELECTORS, selectors(dict.fromkeys(POD_KEYS, POD_VALUES), max_size=3), st.booleans())
def test_selector_covers_is_exact(outer: LabelSelector, other: LabelSelector, narrow: bool) -> None:
    """Containment of selectors against brute force over every label map the selectors can
    tell apart. ``narrow`` builds the inner selector as the outer one plus requirements, so that
    covering pairs are not rare; the others are mostly incomparable, or contradictory."""
    inner = selector(*outer.requirements, *other.requirements) if narrow else other
    expected = all(outer.matches(labels) for labels in POD_LABELS if inner.matches(labels))
    event(f"covers={expected}" + ("" if any(map(inner.matches, POD_LABELS)) else " (inner empty)"))
    assert selector_covers(outer, inner) == expected


def test_selector_covers_beyond_a_subset_of_requirements() -> None:
    """What a comparison of requirements misses: a wider value set, Exists over a value,
    NotIn of an excluded value, and a selector that matches nothing."""
    app_a = selector(requirement("app", Operator.IN, ["a"]))
    assert selector_covers(selector(requirement("app", Operator.IN, ["a", "b"])), app_a)
    assert selector_covers(selector(requirement("app", Operator.EXISTS)), app_a)
    assert selector_covers(selector(requirement("app", Operator.NOT_IN, ["b"])), app_a)
    assert not selector_covers(app_a, selector(requirement("app", Operator.EXISTS)))
    # NotIn also matches pods without the key, which In (a) does not.
    assert not selector_covers(app_a, selector(requirement("app", Operator.NOT_IN, ["b"])))
    nothing = selector(
        requirement("app", Operator.IN, ["a"]), requirement("app", Operator.DOES_NOT_EXIST)
    )
    assert selector_covers(app_a, nothing)
    assert not selector_covers(nothing, app_a)
    assert selector_covers(selector(), app_a) and not selector_covers(app_a, selector())


# -- traffic -----------------------------------------------------------------------------------


def connections() -> Iterator[tuple[Mapping[str, str], Remote, str, int | str]]:
    for subject in POD_LABELS:
        for remote in remotes({}):
            for protocol, number in PORTS:
                yield subject, remote, protocol, number


ALL_CONNECTIONS = list(connections())


def sample(seed: int, size: int) -> list[tuple[Mapping[str, str], Remote, str, int | str]]:
    """Connections drawn from the whole universe (too big to walk for every example)."""
    return random.Random(seed).sample(ALL_CONNECTIONS, size)


def as_connection(
    subject: Mapping[str, str], remote: Remote, protocol: str, number: int | str
) -> Connection:
    return Connection(subject, protocol, number, remote.namespace, remote.pod, remote.ip)


@settings(max_examples=40, deadline=None)
@given(POD_SELECTORS, RULES, st.integers(0, 2**32))
def test_rule_traffic_contains_what_the_rule_allows(
    selected: LabelSelector, item: Rule, seed: int
) -> None:
    owner = policy(selected, [item])
    traffic = rule_traffic(owner, item)
    for subject, remote, protocol, number in sample(seed, 3000):
        expected = allows(owner, item, subject, remote, protocol, number)
        assert traffic.contains(as_connection(subject, remote, protocol, number)) == expected


@settings(max_examples=40, deadline=None)
@given(POD_SELECTORS, RULES, RULES, st.integers(0, 2**32))
def test_traffic_operations_are_pointwise(
    selected: LabelSelector, first: Rule, second: Rule, seed: int
) -> None:
    owner = policy(selected, [first, second])
    a, b = rule_traffic(owner, first), rule_traffic(owner, second)
    results = {
        "union": a.union(b),
        "intersect": a.intersect(b),
        "subtract": a.subtract(b),
    }
    for subject, remote, protocol, number in sample(seed, 2000):
        conn = as_connection(subject, remote, protocol, number)
        in_a = allows(owner, first, subject, remote, protocol, number)
        in_b = allows(owner, second, subject, remote, protocol, number)
        assert results["union"].contains(conn) == (in_a or in_b)
        assert results["intersect"].contains(conn) == (in_a and in_b)
        assert results["subtract"].contains(conn) == (in_a and not in_b)
        if in_a and in_b:
            assert a.intersects(b)


@settings(max_examples=120, deadline=None)
@given(
    POD_SELECTORS,
    RULES,
    st.lists(RULES, max_size=2),
    st.lists(st.tuples(POD_SELECTORS, st.lists(RULES, min_size=1, max_size=2)), max_size=2),
    DECLARED,
)
def test_covers_is_exact(
    selected: LabelSelector,
    target: Rule,
    siblings: list[Rule],
    others: list[tuple[LabelSelector, list[Rule]]],
    declared: dict[str, dict[str, str]],
) -> None:
    """Coverage by other rules of the policy and by rules of policies with any podSelector (a
    cover applies to the selected pods its own policy selects), against brute force."""
    owner = policy(selected, [target, *siblings])
    covers = [(owner, r) for r in siblings]
    for i, (pods, rules) in enumerate(others):
        other = policy(pods, rules, name=f"q{i}")
        covers += [(other, r) for r in rules]
    facts = Namespaces(declared)
    union_traffic = union([rule_traffic(q, r) for q, r in covers])
    expected, nonempty = brute_covered((owner, target), covers, declared)
    event(f"covered={expected}" + ("" if nonempty else " (allows nothing)"))
    assert union_traffic.covers(rule_traffic(owner, target), facts) == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(PORT_NUMBERS), min_size=1, max_size=3), RULES)
def test_port_ranges_cover_as_a_union(cuts: list[int], base: Rule) -> None:
    """Adjacent ranges together cover their hull: 1-a plus (a+1)-3 covers 1-3."""
    owner = policy(selector())
    bounds = sorted({0, *cuts, PORT_NUMBERS[-1]})
    pieces = [
        rule(base.peers, [port("TCP", lo + 1, hi)])
        for lo, hi in itertools.pairwise(bounds)
        if lo < hi
    ]
    whole = rule(base.peers, [port("TCP", 1, PORT_NUMBERS[-1])])
    traffic = union([rule_traffic(owner, r) for r in pieces])
    assert traffic.covers(rule_traffic(owner, whole))
    # and no proper subset of the pieces does, unless the peers allow nothing
    if len(pieces) > 1 and not Namespaces().restrict(rule_traffic(owner, whole)).is_empty():
        assert not union([rule_traffic(owner, r) for r in pieces[1:]]).covers(
            rule_traffic(owner, whole)
        )
