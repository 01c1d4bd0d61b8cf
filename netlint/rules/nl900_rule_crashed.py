"""NL900 rule-crashed: a rule raised an exception on an object; the other rules still ran."""

from __future__ import annotations

from netlint.api import Rule, RuleMeta, Severity


class RuleCrashed(Rule):
    """Reported by the engine, not by a hook: the metadata gives the finding its text."""

    meta = RuleMeta(
        code="NL900",
        name="rule-crashed",
        severity=Severity.ERROR,
        summary="A rule raised an exception while checking this object (a bug in the rule).",
        rationale=(
            "netlint never lets one rule's bug hide the other findings: the exception becomes "
            "this finding, at the object the rule was checking, and the run goes on. Please "
            "report it with the object that triggers it; `--debug` prints the traceback. The "
            "rule's other findings for this object are missing."
        ),
        tags=("netlint",),
        security_severity=1.0,
        bad_example=None,
    )


RULE = RuleCrashed
