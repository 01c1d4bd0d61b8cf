"""Exact set algebra over NetworkPolicy traffic, as pure functions and immutable values.

A *connection* is what one rule may allow: a selected pod (the *subject*, in the policy's
namespace), a remote end (a pod, seen through its namespace's labels and its own labels, or an
IP address) and a destination port (a protocol with a port number or a port name). A
:class:`Traffic` is a set of connections, kept as a finite union of :class:`Box` es.

A box is a product: one set per *dimension*, every other dimension unconstrained. Dimensions are

- one per label key in each of three label spaces (:data:`SUBJECT`, :data:`NAMESPACE`,
  :data:`POD`). A key's set is a :class:`LabelValues`: a finite or cofinite set of values plus
  whether the key may be absent. ``matchLabels`` and the four ``matchExpressions`` operators each
  constrain one key, so a selector is exactly a box (``NotIn``/``DoesNotExist`` include absent);
- the port (:data:`PORT`): a :class:`PortSet`, per protocol an interval set of numbers plus a
  finite or cofinite set of port names. Names are opaque: a name never equals a number, because
  it resolves per pod to any number;
- the IP address (:data:`IP`): an :class:`IntervalSet` of integers (IPv4 and IPv6 are separate
  traffic kinds, so an address is one integer of its family).

Selector peers and ipBlock peers are disjoint kinds of traffic (``pods``, ``ipv4``, ``ipv6``):
an ipBlock never stands for pods and a selector never for addresses (implementations differ on
ipBlocks matching pod IPs, so claiming either would be unsound).

Every operation is exact. Each dimension's sets form a Boolean algebra with an exact emptiness
test (finite/cofinite sets over the infinite set of strings; interval sets over a finite range
of integers). For boxes ``A`` and ``B`` over dimensions ``d1..dn``::

    A - B = union over i of  (A1 & B1) * ... * (A(i-1) & B(i-1)) * (Ai - Bi) * A(i+1) * ... * An

a disjoint union of boxes, and a box is empty exactly when one of its sets is (label maps have
finite support, so a value can be picked in every constrained key independently). Subtracting
the boxes of a union one after the other therefore decides whether a target lies inside the
union, with no sampling and no approximation; :meth:`Traffic.covers` does that.

Namespaces are label sets the repo rarely knows. :class:`Namespaces` holds what is certain:
every namespace carries ``kubernetes.io/metadata.name`` (never absent) and a namespace the repo
declares carries its declared labels. Other keys of a namespace are unknown (any value, or
absent), so coverage claims hold whatever labels a cluster adds. Restricting a target to the
namespaces that can exist needs only the declared names that some box mentions in its name key:
a namespace named by no box behaves like a fresh, undeclared name (see :meth:`Namespaces.restrict`).

Typical use, "do these egress rules let the pod reach kube-dns on UDP 53?"::

    dns = Traffic(pods=(Box({
        (NAMESPACE, NAME_LABEL): LabelValues.one_of(["kube-system"]),
        (POD, "k8s-app"): LabelValues.one_of(["kube-dns"]),
        PORT: PortSet.number("UDP", 53),
    }),))
    allowed = Traffic()
    for policy, rule in egress_rules_of_policies_selecting_the_pod:
        allowed = allowed.union(rule_traffic(policy, rule, subject=False))
    allowed.covers(dns, Namespaces(declared_labels))   # exact
"""

from __future__ import annotations

import ipaddress
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Self

from netlint.core.model import (
    NAME_LABEL,
    IPBlock,
    LabelSelector,
    NetworkPolicy,
    Peer,
    PortSpec,
    Rule,
)
from netlint.core.selectors import Operator, RequirementLike

__all__ = [
    "DEFAULT_BUDGET",
    "IP",
    "KINDS",
    "NAMESPACE",
    "POD",
    "PORT",
    "PORT_MAX",
    "PORT_MIN",
    "PROTOCOLS",
    "SUBJECT",
    "Box",
    "Connection",
    "Dim",
    "Element",
    "IntervalSet",
    "LabelValues",
    "Namespaces",
    "PortSet",
    "Strings",
    "TooComplex",
    "Traffic",
    "UnsupportedTraffic",
    "ip_set",
    "labels_exactly",
    "mentioned_names",
    "peer_dims",
    "peer_traffic",
    "port_set",
    "rule_traffic",
    "selector_box",
    "selector_covers",
    "subject_traffic",
]

#: Label spaces: the selected pod, the remote pod's namespace, the remote pod.
SUBJECT: Final = "subject"
NAMESPACE: Final = "namespace"
POD: Final = "pod"
#: A dimension: ``(space, label key)``; the port and the IP address have an empty key.
Dim = tuple[str, str]
PORT: Final[Dim] = ("port", "")
IP: Final[Dim] = ("ip", "")
#: The protocols a NetworkPolicy port may name (networking.k8s.io/v1).
PROTOCOLS: Final = ("SCTP", "TCP", "UDP")
PORT_MIN: Final = 1
PORT_MAX: Final = 65535
_NAME_DIM: Final[Dim] = (NAMESPACE, NAME_LABEL)
#: Pieces a subtraction may hold before :class:`TooComplex` (real policies stay far below).
DEFAULT_BUDGET: Final = 50_000


class TooComplex(Exception):
    """A subtraction grew past its budget of boxes; the question is left undecided."""


class UnsupportedTraffic(ValueError):
    """A rule the algebra cannot represent exactly (e.g. a protocol Kubernetes does not accept)."""


# ---------------------------------------------------------------------------------------------
# One dimension's sets


class Element(ABC):
    """A set in one dimension. Sets of one dimension share their universe."""

    __slots__ = ()

    @abstractmethod
    def intersect(self, other: Self) -> Self: ...

    @abstractmethod
    def union(self, other: Self) -> Self: ...

    @abstractmethod
    def complement(self) -> Self: ...

    @abstractmethod
    def is_empty(self) -> bool: ...

    @abstractmethod
    def is_full(self) -> bool: ...

    @abstractmethod
    def full(self) -> Self:
        """The universe of this set's dimension."""

    @abstractmethod
    def contains(self, value: object) -> bool: ...

    def subtract(self, other: Self) -> Self:
        return self.intersect(other.complement())

    def covers(self, other: Self) -> bool:
        return other.subtract(self).is_empty()

    def meets(self, other: Self) -> bool:
        """Whether the two sets share an element (cheaper than building the intersection)."""
        return not self.intersect(other).is_empty()


def _strings_meet(a: frozenset[str], a_cofinite: bool, b: frozenset[str], b_cofinite: bool) -> bool:
    if a_cofinite and b_cofinite:
        return True  # both miss only finitely many of infinitely many strings
    if a_cofinite:
        return not b <= a
    if b_cofinite:
        return not a <= b
    return not a.isdisjoint(b)


@dataclass(frozen=True, slots=True)
class Strings(Element):
    """A finite set of strings, or (``cofinite``) every string but a finite set."""

    values: frozenset[str] = frozenset()
    cofinite: bool = False

    @classmethod
    def of(cls, *values: str) -> Strings:
        return cls(frozenset(values), False)

    @classmethod
    def every(cls) -> Strings:
        return cls(frozenset(), True)

    def intersect(self, other: Strings) -> Strings:
        a, b = self.values, other.values
        if not self.cofinite:
            return Strings(a - b if other.cofinite else a & b, False)
        return Strings(a | b, True) if other.cofinite else Strings(b - a, False)

    def union(self, other: Strings) -> Strings:
        a, b = self.values, other.values
        if not self.cofinite:
            return Strings(b - a, True) if other.cofinite else Strings(a | b, False)
        return Strings(a & b, True) if other.cofinite else Strings(a - b, True)

    def complement(self) -> Strings:
        return Strings(self.values, not self.cofinite)

    def meets(self, other: Strings) -> bool:
        return _strings_meet(self.values, self.cofinite, other.values, other.cofinite)

    def is_empty(self) -> bool:
        return not self.cofinite and not self.values

    def is_full(self) -> bool:
        return self.cofinite and not self.values

    def full(self) -> Strings:
        return Strings.every()

    def contains(self, value: object) -> bool:
        return isinstance(value, str) and (value in self.values) != self.cofinite

    def __str__(self) -> str:
        listed = ",".join(sorted(self.values))
        if self.cofinite:
            return f"any except ({listed})" if listed else "any"
        return f"({listed})"


@dataclass(frozen=True, slots=True)
class LabelValues(Element):
    """The states one label key may be in: a value from a finite or cofinite set of strings,
    and (``absent``) not set at all."""

    values: frozenset[str] = frozenset()
    cofinite: bool = False
    absent: bool = False

    @classmethod
    def any(cls) -> LabelValues:
        """Any value or absent: the key is unconstrained."""
        return cls(frozenset(), True, True)

    @classmethod
    def present(cls) -> LabelValues:
        return cls(frozenset(), True, False)

    @classmethod
    def one_of(cls, values: Iterable[str]) -> LabelValues:
        return cls(frozenset(values), False, False)

    @classmethod
    def requirement(cls, operator: Operator, values: Iterable[str]) -> LabelValues:
        """The states of its key that a matchLabels entry or a matchExpressions item accepts."""
        if operator is Operator.IN:
            return cls(frozenset(values), False, False)
        if operator is Operator.NOT_IN:
            return cls(frozenset(values), True, True)
        if operator is Operator.EXISTS:
            return cls(frozenset(), True, False)
        return cls(frozenset(), False, True)

    def _strings(self) -> Strings:
        return Strings(self.values, self.cofinite)

    def _with(self, strings: Strings, absent: bool) -> LabelValues:
        return LabelValues(strings.values, strings.cofinite, absent)

    def intersect(self, other: LabelValues) -> LabelValues:
        return self._with(self._strings().intersect(other._strings()), self.absent and other.absent)

    def union(self, other: LabelValues) -> LabelValues:
        return self._with(self._strings().union(other._strings()), self.absent or other.absent)

    def complement(self) -> LabelValues:
        return LabelValues(self.values, not self.cofinite, not self.absent)

    def meets(self, other: LabelValues) -> bool:
        return (self.absent and other.absent) or _strings_meet(
            self.values, self.cofinite, other.values, other.cofinite
        )

    def covers(self, other: LabelValues) -> bool:
        """``other`` inside this set, without building the difference: selector containment
        (:meth:`Box.covers`) asks this once per pair of policies."""
        if other.absent and not self.absent:
            return False
        if not other.cofinite:
            return (
                other.values.isdisjoint(self.values)
                if self.cofinite
                else other.values <= self.values
            )
        # A cofinite set lies only inside a cofinite set that excludes less.
        return self.cofinite and self.values <= other.values

    def is_empty(self) -> bool:
        return not self.cofinite and not self.values and not self.absent

    def is_full(self) -> bool:
        return self.cofinite and not self.values and self.absent

    def full(self) -> LabelValues:
        return LabelValues.any()

    def contains(self, value: object) -> bool:
        """``value`` is the key's value, None when the key is absent."""
        if value is None:
            return self.absent
        return isinstance(value, str) and (value in self.values) != self.cofinite

    def __str__(self) -> str:
        text = str(self._strings())
        return f"{text} or absent" if self.absent else text


@dataclass(frozen=True, slots=True)
class IntervalSet(Element):
    """A set of integers in ``[lo, hi]``: sorted, disjoint, non-adjacent closed intervals."""

    intervals: tuple[tuple[int, int], ...]
    lo: int
    hi: int

    @classmethod
    def empty(cls, lo: int, hi: int) -> IntervalSet:
        return cls((), lo, hi)

    @classmethod
    def span(cls, start: int, end: int, lo: int, hi: int) -> IntervalSet:
        """``[start, end]`` clipped to the universe ``[lo, hi]``."""
        start, end = max(start, lo), min(end, hi)
        return cls(((start, end),) if start <= end else (), lo, hi)

    @classmethod
    def of(cls, pairs: Iterable[tuple[int, int]], lo: int, hi: int) -> IntervalSet:
        """Normalise any intervals (overlapping, adjacent, unsorted) into a set."""
        merged: list[tuple[int, int]] = []
        for start, end in sorted((max(a, lo), min(b, hi)) for a, b in pairs):
            if start > end:
                continue
            if merged and start <= merged[-1][1] + 1:
                if end > merged[-1][1]:
                    merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        return cls(tuple(merged), lo, hi)

    def intersect(self, other: IntervalSet) -> IntervalSet:
        out: list[tuple[int, int]] = []
        a, b = self.intervals, other.intervals
        i = j = 0
        while i < len(a) and j < len(b):
            start = max(a[i][0], b[j][0])
            end = min(a[i][1], b[j][1])
            if start <= end:
                out.append((start, end))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return IntervalSet(tuple(out), self.lo, self.hi)

    def union(self, other: IntervalSet) -> IntervalSet:
        return IntervalSet.of((*self.intervals, *other.intervals), self.lo, self.hi)

    def meets(self, other: IntervalSet) -> bool:
        a, b = self.intervals, other.intervals
        i = j = 0
        while i < len(a) and j < len(b):
            if max(a[i][0], b[j][0]) <= min(a[i][1], b[j][1]):
                return True
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return False

    def complement(self) -> IntervalSet:
        out: list[tuple[int, int]] = []
        start = self.lo
        for a, b in self.intervals:
            if a > start:
                out.append((start, a - 1))
            start = b + 1
        if start <= self.hi:
            out.append((start, self.hi))
        return IntervalSet(tuple(out), self.lo, self.hi)

    def is_empty(self) -> bool:
        return not self.intervals

    def is_full(self) -> bool:
        return self.intervals == ((self.lo, self.hi),)

    def full(self) -> IntervalSet:
        return IntervalSet(((self.lo, self.hi),), self.lo, self.hi)

    def contains(self, value: object) -> bool:
        if not isinstance(value, int) or isinstance(value, bool):
            return False
        return any(a <= value <= b for a, b in self.intervals)

    def __str__(self) -> str:
        return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in self.intervals) or "none"


def _numbers(start: int = PORT_MIN, end: int = PORT_MAX) -> IntervalSet:
    return IntervalSet.span(start, end, PORT_MIN, PORT_MAX)


@dataclass(frozen=True, slots=True)
class PortSet(Element):
    """Destination ports: per protocol, port numbers and port names.

    ``entries`` holds ``(protocol, numbers, names)`` for the protocols with some port, sorted.
    A named port is an opaque token: it resolves per pod to a number this set cannot know, so
    ``http`` is neither inside nor outside ``80``; only the same name (and protocol) or "every
    port of the protocol" covers it.
    """

    entries: tuple[tuple[str, IntervalSet, Strings], ...] = ()

    @classmethod
    def every(cls) -> PortSet:
        return cls(tuple((p, _numbers(), Strings.every()) for p in PROTOCOLS))

    @classmethod
    def protocol(cls, protocol: str) -> PortSet:
        """Every port of one protocol."""
        return cls.build({protocol: (_numbers(), Strings.every())})

    @classmethod
    def number(cls, protocol: str, start: int, end: int | None = None) -> PortSet:
        return cls.build({protocol: (_numbers(start, start if end is None else end), Strings())})

    @classmethod
    def name(cls, protocol: str, name: str) -> PortSet:
        return cls.build({protocol: (_numbers(0, -1), Strings.of(name))})

    @classmethod
    def build(cls, by_protocol: Mapping[str, tuple[IntervalSet, Strings]]) -> PortSet:
        for protocol in by_protocol:
            if protocol not in PROTOCOLS:
                raise UnsupportedTraffic(f"protocol {protocol!r} is not one of {PROTOCOLS}")
        return cls(
            tuple(
                (p, numbers, names)
                for p, (numbers, names) in sorted(by_protocol.items())
                if not (numbers.is_empty() and names.is_empty())
            )
        )

    def _map(self) -> dict[str, tuple[IntervalSet, Strings]]:
        return {p: (numbers, names) for p, numbers, names in self.entries}

    def intersect(self, other: PortSet) -> PortSet:
        theirs = other._map()
        out: dict[str, tuple[IntervalSet, Strings]] = {}
        for p, numbers, names in self.entries:
            if p in theirs:
                out[p] = (numbers.intersect(theirs[p][0]), names.intersect(theirs[p][1]))
        return PortSet.build(out)

    def meets(self, other: PortSet) -> bool:
        theirs = other._map()
        for p, numbers, names in self.entries:
            if p in theirs and (numbers.meets(theirs[p][0]) or names.meets(theirs[p][1])):
                return True
        return False

    def union(self, other: PortSet) -> PortSet:
        out = self._map()
        for p, numbers, names in other.entries:
            if p in out:
                out[p] = (out[p][0].union(numbers), out[p][1].union(names))
            else:
                out[p] = (numbers, names)
        return PortSet.build(out)

    def complement(self) -> PortSet:
        mine = self._map()
        out: dict[str, tuple[IntervalSet, Strings]] = {}
        for p in PROTOCOLS:
            if p in mine:
                out[p] = (mine[p][0].complement(), mine[p][1].complement())
            else:
                out[p] = (_numbers(), Strings.every())
        return PortSet.build(out)

    def is_empty(self) -> bool:
        return not self.entries

    def is_full(self) -> bool:
        return len(self.entries) == len(PROTOCOLS) and all(
            numbers.is_full() and names.is_full() for _, numbers, names in self.entries
        )

    def full(self) -> PortSet:
        return PortSet.every()

    def contains(self, value: object) -> bool:
        """``value`` is ``(protocol, port)`` with a port number or a port name."""
        if not isinstance(value, tuple) or len(value) != 2:
            return False
        protocol, port = value
        for p, numbers, names in self.entries:
            if p == protocol:
                return names.contains(port) if isinstance(port, str) else numbers.contains(port)
        return False

    def __str__(self) -> str:
        if self.is_full():
            return "every port"
        parts = []
        for p, numbers, names in self.entries:
            if numbers.is_full() and names.is_full():
                parts.append(f"{p} (every port)")
                continue
            bits = [str(numbers)] if not numbers.is_empty() else []
            if not names.is_empty():
                bits.append(f"names {names}")
            parts.append(f"{p} {' '.join(bits)}")
        return "; ".join(parts) or "no port"


# ---------------------------------------------------------------------------------------------
# Boxes


class Box:
    """A product of one set per dimension; a dimension not in ``dims`` is unconstrained.

    Never empty: constructors drop empty boxes (``Box.make`` returns None for them).
    """

    __slots__ = ("dims",)

    def __init__(self, dims: Mapping[Dim, Element]) -> None:
        self.dims: Mapping[Dim, Element] = dims

    @staticmethod
    def make(dims: Mapping[Dim, Element]) -> Box | None:
        """The box, with unconstrained sets left out; None when some set is empty."""
        kept: dict[Dim, Element] = {}
        for dim, element in dims.items():
            if element.is_empty():
                return None
            if not element.is_full():
                kept[dim] = element
        return Box(kept)

    def intersect(self, other: Box) -> Box | None:
        dims = dict(self.dims)
        for dim, theirs in other.dims.items():
            mine = dims.get(dim)
            if mine is None:
                dims[dim] = theirs
                continue
            both = mine.intersect(theirs)
            if both.is_empty():
                return None
            dims[dim] = both
        return Box(dims)

    def intersects(self, other: Box) -> bool:
        mine_dims = self.dims
        for dim, theirs in other.dims.items():
            mine = mine_dims.get(dim)
            if mine is not None and not mine.meets(theirs):
                return False
        return True

    def subtract(self, other: Box) -> list[Box]:
        """``self \\ other`` as disjoint boxes (``[self]`` when they do not meet)."""
        meets: list[tuple[Dim, Element, Element]] = []
        for dim, theirs in other.dims.items():
            mine = self.dims.get(dim)
            if mine is None:
                meets.append((dim, theirs, theirs.full()))
                continue
            both = mine.intersect(theirs)
            if both.is_empty():
                return [self]
            meets.append((dim, both, mine))
        pieces: list[Box] = []
        current = dict(self.dims)
        for dim, both, mine in meets:
            rest = mine.subtract(both)
            if not rest.is_empty():
                pieces.append(Box({**current, dim: rest}))
            current[dim] = both
        return pieces

    def covers(self, other: Box) -> bool:
        """Whether every point of ``other`` is in this box, exactly. Boxes are never empty, so
        one lies inside another exactly when each of its sets lies inside the other's set of
        that dimension (a dimension missing from a box is unconstrained)."""
        theirs_dims = other.dims
        for dim, mine in self.dims.items():
            theirs = theirs_dims.get(dim)
            if theirs is None:
                if not mine.is_full():
                    return False
            elif not mine.covers(theirs):
                return False
        return True

    def contains(self, point: Mapping[Dim, object]) -> bool:
        """Whether a point is in the box; a label dimension missing from the point is absent."""
        return all(element.contains(point.get(dim)) for dim, element in self.dims.items())

    def __repr__(self) -> str:
        inner = ", ".join(f"{space}.{key}={element}" for (space, key), element in self.dims.items())
        return f"Box({inner})"


_ANY: Final = Box({})


def _subtract_all(boxes: Iterable[Box], cuts: Sequence[Box], budget: int) -> list[Box]:
    remaining = list(boxes)
    for cut in cuts:
        if not remaining:
            break
        nxt: list[Box] = []
        for box in remaining:
            nxt.extend(box.subtract(cut))
        if len(nxt) > budget:
            raise TooComplex(f"subtraction grew past {budget} boxes")
        remaining = nxt
    return remaining


# ---------------------------------------------------------------------------------------------
# Connections and traffic


@dataclass(frozen=True, slots=True)
class Connection:
    """One concrete connection, for membership tests.

    ``subject`` is the selected pod's labels; the remote end is a pod (``namespace`` labels,
    including ``kubernetes.io/metadata.name``, and ``pod`` labels) or an ``ip`` address; the
    port is a number or the name the destination pod gives it.
    """

    subject: Mapping[str, str]
    protocol: str
    port: int | str
    namespace: Mapping[str, str] | None = None
    pod: Mapping[str, str] | None = None
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None

    def point(self) -> tuple[str, dict[Dim, object]]:
        """The connection's traffic kind and its coordinates."""
        coords: dict[Dim, object] = {(SUBJECT, k): v for k, v in self.subject.items()}
        coords[PORT] = (self.protocol, self.port)
        if self.ip is not None:
            coords[IP] = int(self.ip)
            return ("ipv4" if self.ip.version == 4 else "ipv6"), coords
        for key, value in (self.namespace or {}).items():
            coords[(NAMESPACE, key)] = value
        for key, value in (self.pod or {}).items():
            coords[(POD, key)] = value
        return "pods", coords


KINDS: Final = ("pods", "ipv4", "ipv6")


@dataclass(frozen=True, slots=True)
class Traffic:
    """A set of connections: a union of boxes per kind of remote end."""

    pods: tuple[Box, ...] = ()
    ipv4: tuple[Box, ...] = ()
    ipv6: tuple[Box, ...] = ()

    @classmethod
    def everything(cls) -> Traffic:
        return cls((_ANY,), (_ANY,), (_ANY,))

    def kind(self, kind: str) -> tuple[Box, ...]:
        if kind == "pods":
            return self.pods
        return self.ipv4 if kind == "ipv4" else self.ipv6

    def _per_kind(self, boxes: Mapping[str, Iterable[Box]]) -> Traffic:
        return Traffic(
            tuple(boxes.get("pods", ())), tuple(boxes.get("ipv4", ())), tuple(boxes.get("ipv6", ()))
        )

    def boxes(self) -> Iterator[tuple[str, Box]]:
        for kind in KINDS:
            for box in self.kind(kind):
                yield kind, box

    def is_empty(self) -> bool:
        return not (self.pods or self.ipv4 or self.ipv6)

    def union(self, other: Traffic) -> Traffic:
        return Traffic(self.pods + other.pods, self.ipv4 + other.ipv4, self.ipv6 + other.ipv6)

    def intersect(self, other: Traffic) -> Traffic:
        out: dict[str, list[Box]] = {}
        for kind in KINDS:
            out[kind] = [
                both
                for mine in self.kind(kind)
                for theirs in other.kind(kind)
                if (both := mine.intersect(theirs)) is not None
            ]
        return self._per_kind(out)

    def intersects(self, other: Traffic) -> bool:
        pairs = ((self.pods, other.pods), (self.ipv4, other.ipv4), (self.ipv6, other.ipv6))
        for mine, theirs in pairs:
            for a in mine:
                for b in theirs:
                    if a.intersects(b):
                        return True
        return False

    def subtract(self, other: Traffic, *, budget: int = DEFAULT_BUDGET) -> Traffic:
        """``self \\ other``, exact (raises :class:`TooComplex` past ``budget`` boxes)."""
        return self._per_kind(
            {kind: _subtract_all(self.kind(kind), other.kind(kind), budget) for kind in KINDS}
        )

    def covers(
        self,
        other: Traffic,
        namespaces: Namespaces | None = None,
        *,
        budget: int = DEFAULT_BUDGET,
    ) -> bool:
        """Whether every connection of ``other`` that can exist (given what ``namespaces``
        knows) is in ``self``. Exact; raises :class:`TooComplex` past ``budget`` boxes."""
        target = (namespaces or Namespaces()).restrict(other, mentioned_names(self, other))
        return target.subtract(self, budget=budget).is_empty()

    def contains(self, connection: Connection) -> bool:
        kind, coords = connection.point()
        return any(box.contains(coords) for box in self.kind(kind))

    def mentioned(self, dim: Dim) -> frozenset[str]:
        """The values some box names in a label dimension (listed or excluded)."""
        found: set[str] = set()
        for _, box in self.boxes():
            element = box.dims.get(dim)
            if isinstance(element, LabelValues):
                found |= element.values
        return frozenset(found)

    def keys(self, space: str) -> frozenset[str]:
        """The label keys that some box constrains in ``space``: the only keys whose state can
        decide a question about this traffic (see :func:`labels_exactly`)."""
        return frozenset(key for _, box in self.boxes() for sp, key in box.dims if sp == space)


def mentioned_names(*traffics: Traffic) -> frozenset[str]:
    """Namespace names that some box lists or excludes in ``kubernetes.io/metadata.name``."""
    found: frozenset[str] = frozenset()
    for traffic in traffics:
        found |= traffic.mentioned(_NAME_DIM)
    return found


@dataclass(frozen=True, slots=True)
class Namespaces:
    """What is certain about namespaces: ``declared`` maps the names the repo declares to their
    labels (``kubernetes.io/metadata.name`` included or not). Every namespace carries its name
    label; a declared one carries its declared labels; any other key may hold anything."""

    declared: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: The declared names, as a set once (``restrict`` runs for every rule NL105 compares).
    _names: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_names", frozenset(self.declared))

    def restrict(self, traffic: Traffic, mentioned: Iterable[str] | None = None) -> Traffic:
        """``traffic`` limited to namespaces that can exist: the name label present, and a
        declared namespace's labels fixed wherever its name is one of ``mentioned`` (None: every
        declared name).

        Exactness: for a box set to be contained in a union, only declared names that some box
        mentions need splitting off. At any other declared name ``Y``, every box behaves as at a
        fresh undeclared name ``Z`` (no box lists ``Y`` or ``Z``), and ``Z`` carries arbitrary
        labels; so a connection outside the union at ``Y`` has a twin at ``Z`` that is too.
        """
        names = self._names if mentioned is None else self._names.intersection(mentioned)
        ordered = sorted(names)
        # Each name's declared labels as dimensions, made once for all the boxes at it.
        labels_of: dict[str, dict[Dim, LabelValues]] = {}
        pods: list[Box] = []
        for box in traffic.pods:
            written = box.dims.get(_NAME_DIM)
            allowed = LabelValues.present()
            if isinstance(written, LabelValues):
                allowed = allowed.intersect(written)
            # The names the box allows, in name order: of a finite set, its own values alone
            # (a box of one namespace need not be tried against every declared name).
            if allowed.cofinite:
                inside = [n for n in ordered if n not in allowed.values]
            else:
                inside = sorted(names & allowed.values)
            for name in inside:
                labels = labels_of.get(name)
                if labels is None:
                    labels = labels_of[name] = {
                        (NAMESPACE, key): LabelValues.one_of((value,))
                        for key, value in self.declared[name].items()
                        if key != NAME_LABEL
                    }
                dims: dict[Dim, Element] = {
                    **box.dims,
                    **labels,
                    _NAME_DIM: LabelValues.one_of((name,)),
                }
                for dim, value in labels.items():
                    held = box.dims.get(dim)
                    if held is not None:  # a label the box constrains too: both hold
                        dims[dim] = held.intersect(value)
                fixed = Box.make(dims)
                if fixed is not None:
                    pods.append(fixed)
            rest = allowed.subtract(LabelValues.one_of(names))
            kept = Box.make({**box.dims, _NAME_DIM: rest})
            if kept is not None:
                pods.append(kept)
        return Traffic(tuple(pods), traffic.ipv4, traffic.ipv6)


# ---------------------------------------------------------------------------------------------
# From the model


def selector_box(space: str, requirements: Iterable[RequirementLike]) -> dict[Dim, Element] | None:
    """The sets a label selector allows in ``space``, ANDed per key; None when it can match
    nothing (e.g. ``app In (a)`` with ``app NotIn (a)``)."""
    dims: dict[Dim, LabelValues] = {}
    for req in requirements:
        dim = (space, req.key)
        allowed = LabelValues.requirement(req.operator, req.values)
        previous = dims.get(dim)
        if previous is not None:
            allowed = allowed.intersect(previous)
        if allowed.is_empty():
            return None
        dims[dim] = allowed
    return {dim: element for dim, element in dims.items() if not element.is_full()}


def selector_covers(outer: LabelSelector, inner: LabelSelector) -> bool:
    """Whether ``outer`` matches every label map that ``inner`` matches, exactly: both are
    boxes over label keys (:func:`selector_box`), compared with :meth:`Box.covers`. A selector
    that can match nothing is covered by every selector."""
    inside = selector_box(SUBJECT, inner.requirements)
    if inside is None:
        return True
    around = selector_box(SUBJECT, outer.requirements)
    if around is None:
        return False  # inner matches some label map, outer none
    return Box(around).covers(Box(inside))


def port_set(specs: Sequence[PortSpec]) -> PortSet:
    """The ports of a rule's ``ports`` list (every port when the list is empty)."""
    if not specs:
        return PortSet.every()
    result = PortSet()
    for spec in specs:
        if spec.port is None:
            one = PortSet.protocol(spec.protocol)
        elif isinstance(spec.port, str):
            one = PortSet.name(spec.protocol, spec.port)
        else:
            one = PortSet.number(spec.protocol, spec.port, spec.end_port)
        result = result.union(one)
    return result


def ip_set(block: IPBlock) -> tuple[int, IntervalSet]:
    """An ipBlock as (IP version, the addresses of ``cidr`` minus every ``except``)."""
    network = block.network
    top = (1 << network.max_prefixlen) - 1
    addresses = IntervalSet.span(
        int(network.network_address), int(network.broadcast_address), 0, top
    )
    for excluded in block.excepts:
        if excluded.network.version != network.version:
            continue
        cut = IntervalSet.span(
            int(excluded.network.network_address), int(excluded.network.broadcast_address), 0, top
        )
        addresses = addresses.subtract(cut)
    return network.version, addresses


def subject_traffic(policy: NetworkPolicy) -> Traffic:
    """Every connection of any kind whose selected pod the policy selects."""
    dims = selector_box(SUBJECT, policy.pod_selector.requirements)
    if dims is None:
        return Traffic()
    box = Box(dims)
    return Traffic((box,), (box,), (box,))


def rule_traffic(policy: NetworkPolicy, rule: Rule, *, subject: bool = True) -> Traffic:
    """The connections one rule of ``policy`` allows, for the pods the policy selects
    (``subject=False``: for any pod, leaving the subject dimensions unconstrained).

    A peer with only a podSelector means pods of the policy's own namespace, that is the
    namespace whose ``kubernetes.io/metadata.name`` is the policy's namespace. Raises
    :class:`UnsupportedTraffic` for a protocol Kubernetes does not accept.
    """
    base: dict[Dim, Element] = {}
    if subject:
        selected = selector_box(SUBJECT, policy.pod_selector.requirements)
        if selected is None:
            return Traffic()
        base.update(selected)
    ports = port_set(rule.ports)
    if not ports.is_full():
        base[PORT] = ports
    if not rule.peers:
        box = Box(base)
        return Traffic((box,), (box,), (box,))
    pods: list[Box] = []
    families = {
        4: IntervalSet.empty(0, (1 << 32) - 1),
        6: IntervalSet.empty(0, (1 << 128) - 1),
    }
    for peer in rule.peers:
        if peer.ip_block is not None:
            version, addresses = ip_set(peer.ip_block)
            families[version] = families[version].union(addresses)
            continue
        dims = peer_dims(policy, peer)
        if dims is not None:
            pods.append(Box({**base, **dims}))
    ipv4 = (Box({**base, IP: families[4]}),) if not families[4].is_empty() else ()
    ipv6 = (Box({**base, IP: families[6]}),) if not families[6].is_empty() else ()
    return Traffic(tuple(pods), ipv4, ipv6)


def peer_dims(policy: NetworkPolicy, peer: Peer) -> dict[Dim, Element] | None:
    """The remote pods a selector peer of ``policy`` names, as sets in the :data:`NAMESPACE` and
    :data:`POD` spaces (a podSelector alone: the policy's own namespace); None for an ipBlock
    peer, a peer with neither selector (NL002) or one that can match nothing."""
    if peer.ip_block is not None or (peer.pod_selector is None and peer.namespace_selector is None):
        return None
    if peer.namespace_selector is None:
        namespace: dict[Dim, Element] | None = {_NAME_DIM: LabelValues.one_of((policy.namespace,))}
    else:
        namespace = selector_box(NAMESPACE, peer.namespace_selector.requirements)
    pod = selector_box(POD, peer.pod_selector.requirements) if peer.pod_selector else {}
    if namespace is None or pod is None:
        return None
    return {**namespace, **pod}


def peer_traffic(policy: NetworkPolicy, peer: Peer) -> Traffic:
    """The connections to the remote ends one peer of ``policy`` names, at every port and for
    any subject: a selector peer's pods, or an ipBlock's addresses."""
    if peer.ip_block is not None:
        version, addresses = ip_set(peer.ip_block)
        if addresses.is_empty():
            return Traffic()
        box = Box({IP: addresses})
        return Traffic(ipv4=(box,)) if version == 4 else Traffic(ipv6=(box,))
    dims = peer_dims(policy, peer)
    return Traffic() if dims is None else Traffic(pods=(Box(dims),))


def labels_exactly(
    space: str, labels: Mapping[str, str], keys: Iterable[str]
) -> dict[Dim, Element]:
    """The sets of an object that carries exactly ``labels`` (a declared pod, a declared
    namespace), relative to ``keys``: each of its labels fixed, each other key of ``keys``
    absent, every other key left free.

    A box is a finite product, so it cannot say "no other label"; but a question about traffic
    depends only on the keys its boxes constrain. With ``keys`` those keys
    (:meth:`Traffic.keys`), coverage and intersection are decided as for the exact object."""
    dims: dict[Dim, Element] = {(space, k): LabelValues.one_of((v,)) for k, v in labels.items()}
    for key in keys:
        dims.setdefault((space, key), LabelValues(frozenset(), False, True))
    return dims
