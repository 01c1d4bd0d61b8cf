"""NL900 rule-crashed: a rule raised an exception on an object; the other rules still ran."""

from __future__ import annotations

from collections.abc import Iterator

from netlint.api import Context, FileResult, Finding, Rule, RuleMeta, Severity


class RuleCrashed(Rule):
    """Reported by the engine when a rule raises; its hook reports the reader's own failures."""

    meta = RuleMeta(
        code="NL900",
        name="rule-crashed",
        severity=Severity.ERROR,
        summary="netlint raised an exception while reading a document or running a rule on an "
        "object (a netlint bug); everything else was still linted.",
        rationale=(
            "netlint never lets one rule's bug hide the other findings: the exception becomes "
            "this finding, at the object the rule was checking, and the run goes on. Please "
            "report it with the object that triggers it; `--debug` prints the traceback. The "
            "rule's other findings for this object are missing."
        ),
        tags=("netlint",),
        security_severity=1.0,
    )

    def check_file(self, ctx: Context, file: FileResult) -> Iterator[Finding]:
        for problem in ctx.problems(file):
            yield ctx.finding(problem.span, problem.message, subject=problem.subject)


RULE = RuleCrashed
