"""NL900 rule-crashed: a rule raised an exception on an object; the other rules still ran."""

from __future__ import annotations

from netlint.api import ProblemKind, ProblemRule, RuleMeta, Severity


class RuleCrashed(ProblemRule):
    """Reports the reader's own failures (problems of kind INTERNAL); the engine reports a
    rule's crash under this rule's code too (it finds the rule by its kind)."""

    kind = ProblemKind.INTERNAL
    meta = RuleMeta(
        code="NL900",
        name="rule-crashed",
        severity=Severity.ERROR,
        summary="netlint raised an exception while reading a document or running a rule on an "
        "object (a netlint bug); everything else was still linted.",
        why=(
            "netlint never lets one rule's bug hide the other findings: the exception becomes "
            "this finding, at the object the rule was checking, and the run goes on. The "
            "rule's other findings for this object are missing."
        ),
        fix="Please report it with the object that triggers it; `--debug` prints the traceback.",
        not_reported=(
            "Only the rule that crashed lost findings, and only for that object (or, for a "
            "failure while reading, that document): the other rules, objects and documents "
            "were linted as usual."
        ),
        added_in="0.1.0",
        tags=("netlint",),
        security_severity=1.0,
    )


RULE = RuleCrashed
