"""Input rules by kind: the reading layer tags each problem with a ProblemKind, and the rule that
reports a kind is found through the catalogue (ProblemRule.kind), never by a rule code."""

from __future__ import annotations

from collections.abc import Iterator

from netlint.analysis.index import Index
from netlint.analysis.layout import Layout
from netlint.api import (
    Context,
    FileResult,
    Finding,
    NetworkPolicy,
    ProblemKind,
    ProblemRule,
    Rule,
    RuleMeta,
    Severity,
)
from netlint.read.build import BuildOptions
from netlint.read.load import load
from netlint.read.parse import Limits
from netlint.run import engine
from netlint.run.engine import ActiveRule, crash_meta_of
from netlint.run.registry import load_catalogue

# An unknown field (INVALID) in the first document, a syntax error (SYNTAX) in the second.
BROKEN = b"""\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a, namespace: shop}
spec:
  podSelector: {}
  colour: blue
---
a: [1, 2
"""


def _meta(code: str) -> RuleMeta:
    return RuleMeta(code=code, name=code.lower(), severity=Severity.WARNING, summary="A test rule.")


class AcmeInvalid(ProblemRule):
    kind = ProblemKind.INVALID
    meta = _meta("ACME002")


class AcmeInternal(ProblemRule):
    kind = ProblemKind.INTERNAL
    meta = _meta("ACME900")


class Crashes(Rule):
    meta = _meta("ACME001")

    def check_policy(self, ctx: Context, policy: NetworkPolicy) -> Iterator[Finding]:
        raise KeyError("boom")


def _run(*rules: Rule, crash: RuleMeta | None = None) -> tuple[FileResult, list[Finding]]:
    result = load("p.yaml", BROKEN, BuildOptions(), Limits())
    active = [ActiveRule(rule, Severity.WARNING, None) for rule in rules]
    return result, engine.run(
        Layout.together([result]), active, lambda path: True, crash_meta=crash
    )


def test_each_kind_is_reported_by_one_builtin_rule() -> None:
    reporters = [r for r in load_catalogue().rules if isinstance(r, ProblemRule)]
    assert {r.kind: r.meta.code for r in reporters} == {
        ProblemKind.SYNTAX: "NL001",
        ProblemKind.INVALID: "NL002",
        ProblemKind.INTERNAL: "NL900",
    }
    assert len(reporters) == len(ProblemKind)
    # The three are declarations only: reporting is the base's.
    assert all(type(r).check_file is ProblemRule.check_file for r in reporters)


def test_a_problem_rule_reports_exactly_the_problems_of_its_kind() -> None:
    result, findings = _run(AcmeInvalid())
    assert {p.kind for p in result.problems} == {ProblemKind.INVALID, ProblemKind.SYNTAX}
    invalid = [p for p in result.problems if p.kind is ProblemKind.INVALID]
    assert [(f.code, f.span, f.message, f.subject) for f in findings] == [
        ("ACME002", p.span, p.message, p.subject) for p in invalid
    ]
    assert findings and all(f.severity is Severity.WARNING for f in findings)


def test_a_rule_that_reports_no_kind_sees_no_problems() -> None:
    result, _ = _run()
    assert result.problems
    ctx = Context(Index([result]), Crashes.meta, Severity.WARNING)
    assert list(ctx.problems(result)) == []


def test_a_crash_is_reported_by_the_rule_of_kind_internal() -> None:
    assert (crash_meta_of(load_catalogue().rules) or _meta("none")).code == "NL900"
    assert crash_meta_of([Crashes(), AcmeInternal()]) is AcmeInternal.meta
    _, findings = _run(Crashes(), crash=crash_meta_of([AcmeInternal()]))
    assert [(f.code, f.name) for f in findings] == [("ACME900", "acme900")]
    assert "rule ACME001 acme001 crashed on NetworkPolicy shop/a: KeyError" in findings[0].message


def test_without_an_internal_rule_a_crash_is_still_reported() -> None:
    assert crash_meta_of([Crashes()]) is None
    _, findings = _run(Crashes())
    assert [(f.code, f.severity) for f in findings] == [("NL900", Severity.ERROR)]
