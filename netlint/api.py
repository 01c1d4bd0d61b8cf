"""The public API for rules, built-in and third-party alike.

A rule is a class with a ``meta`` (its code, name, default severity and prose) and one or more
hooks the engine calls for each object of the files being reported:

    class BroadCidr(Rule):
        meta = RuleMeta(code="NL104", name="broad-cidr", ...)

        def check_policy(self, ctx: Context, policy: NetworkPolicy) -> Iterable[Finding]:
            ...
            yield ctx.finding(block.cidr_span, "...", subject=policy)

The traffic algebra (``Traffic``, ``rule_traffic``...: sets of connections with exact union,
subtraction and coverage, see :mod:`netlint.analysis.algebra`) is part of this API, and so is
the reachability core's answer for one pair of ends (``Explainer``, ``PairAnswer``, ``Conns``,
see :mod:`netlint.analysis.reach`) with the connectivity expectations a file states
(``FileResult.expectations``).

Register it in the ``netlint.rules`` entry-point group (``NLxxx = "pkg.module:BroadCidr"``).
A hook that raises becomes an NL900 finding at that object and the run goes on.
"""

from __future__ import annotations

from netlint.analysis.algebra import (
    IP,
    KINDS,
    NAMESPACE,
    POD,
    PORT,
    Box,
    Dim,
    Element,
    IntervalSet,
    LabelValues,
    Namespaces,
    PortSet,
    TooComplex,
    Traffic,
    UnsupportedTraffic,
    labels_exactly,
    mentioned_names,
    peer_dims,
    peer_traffic,
    port_set,
    rule_traffic,
    selector_box,
    selector_covers,
    subject_traffic,
)
from netlint.analysis.context import Context, ProblemRule, Rule
from netlint.analysis.hypothetical import (
    HypotheticalPod,
    KeyConstraint,
    SelectorIndex,
    hypothetical_pod,
    may_carry,
    selects_hypothetical,
)
from netlint.analysis.index import Index, NamespaceMatch, PeerMatch
from netlint.analysis.reach import (
    Conns,
    Contribution,
    Endpoint,
    Explainer,
    External,
    PairAnswer,
    Placed,
    Side,
    SomeAddress,
    endpoint_of,
)
from netlint.analysis.tri import Tri
from netlint.analysis.wording import display, listing, plural
from netlint.core.findings import Finding, Related, Severity
from netlint.core.model import (
    BUILTIN_NAMESPACES,
    NAME_LABEL,
    ContainerPort,
    Direction,
    Except,
    ForeignPolicy,
    IPBlock,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Object,
    ObjectRef,
    Peer,
    PortSpec,
    Requirement,
    Workload,
)
from netlint.core.model import (
    Rule as PolicyRule,
)
from netlint.core.problems import Problem, ProblemKind
from netlint.core.rule import Options, RuleMeta, option
from netlint.core.selectors import Operator, describe, describe_all, requirement_matches
from netlint.core.source import Span
from netlint.core.units import Certainty, Unit, UnitKind
from netlint.read.expectations import EndSpec, Expectation
from netlint.read.result import FileResult

__all__ = [
    "BUILTIN_NAMESPACES",
    "IP",
    "KINDS",
    "NAMESPACE",
    "NAME_LABEL",
    "POD",
    "PORT",
    "Box",
    "Certainty",
    "Conns",
    "ContainerPort",
    "Context",
    "Contribution",
    "Dim",
    "Direction",
    "Element",
    "EndSpec",
    "Endpoint",
    "Except",
    "Expectation",
    "Explainer",
    "External",
    "FileResult",
    "Finding",
    "ForeignPolicy",
    "HypotheticalPod",
    "IPBlock",
    "Index",
    "IntervalSet",
    "KeyConstraint",
    "LabelSelector",
    "LabelValues",
    "Namespace",
    "NamespaceMatch",
    "Namespaces",
    "NetworkPolicy",
    "Object",
    "ObjectRef",
    "Operator",
    "Options",
    "PairAnswer",
    "Peer",
    "PeerMatch",
    "Placed",
    "PolicyRule",
    "PortSet",
    "PortSpec",
    "Problem",
    "ProblemKind",
    "ProblemRule",
    "Related",
    "Requirement",
    "Rule",
    "RuleMeta",
    "SelectorIndex",
    "Severity",
    "Side",
    "SomeAddress",
    "Span",
    "TooComplex",
    "Traffic",
    "Tri",
    "Unit",
    "UnitKind",
    "UnsupportedTraffic",
    "Workload",
    "describe",
    "describe_all",
    "display",
    "endpoint_of",
    "hypothetical_pod",
    "labels_exactly",
    "listing",
    "may_carry",
    "mentioned_names",
    "option",
    "peer_dims",
    "peer_traffic",
    "plural",
    "port_set",
    "requirement_matches",
    "rule_traffic",
    "selector_box",
    "selector_covers",
    "selects_hypothetical",
    "subject_traffic",
]
