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

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

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
from netlint.analysis.index import Index, NamespaceMatch, PeerMatch
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
    "mentioned_names",
    "requirement_matches",
    "rule_traffic",
    "subject_traffic",
]


@dataclass(frozen=True, slots=True)
class RuleMeta:
    """Everything said about a rule, in one place: it feeds ``netlint rules``, the generated
    docs and SARIF's ``tool.driver.rules``."""

    code: str
    name: str
    severity: Severity
    #: One sentence: what is wrong.
    summary: str
    #: Why it matters and what to do instead (Markdown).
    rationale: str
    tags: tuple[str, ...] = ()
    #: GitHub code scanning's security severity, in (0, 10].
    security_severity: float = 5.0
    precision: str = "very-high"
    #: Option defaults, and the JSON Schema of each option (for config validation).
    options: Mapping[str, Any] = field(default_factory=dict)
    options_schema: Mapping[str, Any] = field(default_factory=dict)
    #: Examples for rules that do not ship ``rules/<CODE>-<name>/{bad,good}.yaml``.
    bad_example: str | None = None
    good_example: str | None = None


class Rule:
    """Base class of rules. Override the hooks that the rule needs."""

    meta: ClassVar[RuleMeta]

    def check_file(self, ctx: Context, file: FileResult) -> Iterable[Finding]:
        return ()

    def check_policy(self, ctx: Context, policy: NetworkPolicy) -> Iterable[Finding]:
        return ()

    def check_workload(self, ctx: Context, workload: Workload) -> Iterable[Finding]:
        return ()

    def check_namespace(self, ctx: Context, namespace: Namespace) -> Iterable[Finding]:
        return ()


@dataclass(frozen=True, slots=True)
class Context:
    """What a rule sees: the whole repo's index, its options, and how to make findings."""

    index: Index
    meta: RuleMeta
    severity: Severity
    options: Mapping[str, Any]

    def finding(
        self,
        span: Span,
        message: str,
        *,
        related: Iterable[Related] = (),
        subject: Object | str | None = None,
    ) -> Finding:
        return Finding(
            code=self.meta.code,
            name=self.meta.name,
            severity=self.severity,
            message=message,
            span=span,
            related=tuple(related),
            subject=subject if subject is None or isinstance(subject, str) else subject.ref.subject,
        )

    def problems(self, file: FileResult) -> Iterator[Problem]:
        """The input problems of ``file`` that belong to this rule's code."""
        return (p for p in file.problems if p.code == self.meta.code)
