"""The public API for rules, built-in and third-party alike.

A rule is a class with a ``meta`` (its code, name, default severity and prose) and one or more
hooks the engine calls for each object of the files being reported:

    class BroadCidr(Rule):
        meta = RuleMeta(code="NL104", name="broad-cidr", ...)

        def check_policy(self, ctx: Context, policy: NetworkPolicy) -> Iterable[Finding]:
            ...
            yield ctx.finding(block.cidr_span, "...", subject=policy)

The traffic algebra (``Traffic``, ``rule_traffic``...: sets of connections with exact union,
subtraction and coverage, see :mod:`netlint.analysis.algebra`) is part of this API.

Register it in the ``netlint.rules`` entry-point group (``NLxxx = "pkg.module:BroadCidr"``).
A hook that raises becomes an NL900 finding at that object and the run goes on.
"""

from __future__ import annotations

from netlint.analysis.algebra import (
    IP,
    KINDS,
    PORT,
    Box,
    Dim,
    Element,
    LabelValues,
    Namespaces,
    PortSet,
    TooComplex,
    Traffic,
    UnsupportedTraffic,
    mentioned_names,
    rule_traffic,
    subject_traffic,
)
from netlint.analysis.context import Context, Rule
from netlint.analysis.index import Index, NamespaceMatch, PeerMatch
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
from netlint.core.rule import Options, RuleMeta, option
from netlint.core.selectors import Operator, describe, describe_all, requirement_matches
from netlint.core.source import Span
from netlint.read.load import FileResult
from netlint.read.parse import Problem

__all__ = [
    "BUILTIN_NAMESPACES",
    "IP",
    "KINDS",
    "NAME_LABEL",
    "PORT",
    "Box",
    "ContainerPort",
    "Context",
    "Dim",
    "Direction",
    "Element",
    "Except",
    "FileResult",
    "Finding",
    "ForeignPolicy",
    "IPBlock",
    "Index",
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
    "Peer",
    "PeerMatch",
    "PolicyRule",
    "PortSet",
    "PortSpec",
    "Problem",
    "Related",
    "Requirement",
    "Rule",
    "RuleMeta",
    "Severity",
    "Span",
    "TooComplex",
    "Traffic",
    "UnsupportedTraffic",
    "Workload",
    "describe",
    "describe_all",
    "display",
    "listing",
    "mentioned_names",
    "option",
    "plural",
    "requirement_matches",
    "rule_traffic",
    "subject_traffic",
]
