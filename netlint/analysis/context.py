"""The rule contract's runtime half: the base class of rules and what a rule sees when it runs
(:class:`Context`). Rules and plugins import both from :mod:`netlint.api`."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from netlint.analysis.index import Index
from netlint.core.findings import Finding, Related, Severity
from netlint.core.model import Namespace, NetworkPolicy, Object, Workload
from netlint.core.problems import Problem, ProblemKind
from netlint.core.rule import RuleMeta
from netlint.core.source import Span
from netlint.core.units import Unit
from netlint.read.result import FileResult

T = TypeVar("T")


class Rule:
    """Base class of rules. Override the hooks that the rule needs; keep per-run state in
    ``ctx.memo``, never on the instance or the module (the language server runs many runs in
    one process, and rule workers share one index copy-on-write)."""

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
    """What a rule sees: the index of the deploy unit being checked (``index``: the objects
    applied together), the index of everything that may be applied with it (``cluster``: every
    unit), the unit itself, its typed options (None for a rule without options), memos for
    this run, and how to make findings.

    A claim about objects that interact uses ``index``; a claim that something is absent
    ("no policy selects it") asks ``cluster`` before it speaks (docs/units.md). For
    ``check_file`` hooks, which run once per file, ``index`` is the cluster's.
    """

    index: Index
    meta: RuleMeta
    severity: Severity
    options: Any = None
    _memo: dict[Hashable, Any] = field(default_factory=dict, repr=False, compare=False)
    #: The kind of input problem the rule reports (``ProblemRule.kind``); None for other rules.
    kind: ProblemKind | None = None
    #: Every unit's objects; None when the run has one unit (then it is ``index``).
    _cluster: Index | None = None
    #: The unit being checked (None in ``check_file`` hooks).
    unit: Unit | None = None

    @property
    def cluster(self) -> Index:
        """Everything that may be applied with the unit: the objects of every unit."""
        return self._cluster if self._cluster is not None else self.index

    def memo(self, key: Hashable, factory: Callable[[], T]) -> T:
        """``factory()``, computed once per run, rule and unit for ``key``: what a rule
        derives from ``ctx.index`` (facts per namespace, verdicts it reuses) lives here."""
        return self._memoized((self.unit.id if self.unit is not None else None, key), factory)

    def cluster_memo(self, key: Hashable, factory: Callable[[], T]) -> T:
        """``factory()``, computed once per run and rule for ``key``, whatever the unit: what a
        rule derives from ``ctx.cluster`` lives here."""
        return self._memoized(("\0cluster", key), factory)

    def _memoized(self, key: Hashable, factory: Callable[[], T]) -> T:
        try:
            return self._memo[key]  # type: ignore[no-any-return]
        except KeyError:
            value = self._memo[key] = factory()
            return value

    def finding(
        self,
        span: Span,
        message: str,
        *,
        fix: str | None = None,
        related: Iterable[Related] = (),
        subject: Object | str | None = None,
    ) -> Finding:
        """A finding of this rule: ``message`` says what is wrong (about a line), ``fix`` how
        to put it right."""
        return Finding(
            code=self.meta.code,
            name=self.meta.name,
            severity=self.severity,
            message=message,
            span=span,
            related=tuple(related),
            subject=subject if subject is None or isinstance(subject, str) else subject.ref.subject,
            fix=fix,
        )

    def problems(self, file: FileResult) -> Iterator[Problem]:
        """The input problems of ``file`` of the kind this rule reports (none for a rule that
        is not a :class:`ProblemRule`)."""
        return (p for p in file.problems if p.kind is self.kind)


class ProblemRule(Rule):
    """Base of input rules: each reports the problems of one kind that reading the files found
    (NL001 syntax, NL002 what the API server rejects, NL900 netlint's own failures), one finding
    per problem, where it was found. A subclass sets ``meta`` and ``kind``, nothing else."""

    kind: ClassVar[ProblemKind]

    def check_file(self, ctx: Context, file: FileResult) -> Iterator[Finding]:
        for problem in ctx.problems(file):
            yield ctx.finding(problem.span, problem.message, subject=problem.subject)


__all__ = ["Context", "ProblemRule", "Rule"]
