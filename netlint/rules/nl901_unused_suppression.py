"""NL901 unused-suppression: a suppression comment or annotation that suppresses nothing."""

from __future__ import annotations

from netlint.api import Rule, RuleMeta, Severity


class UnusedSuppression(Rule):
    """Reported after all rules ran, from what the suppressions matched: no hook of its own."""

    meta = RuleMeta(
        code="NL901",
        name="unused-suppression",
        severity=Severity.WARNING,
        summary="A `# netlint: disable=...` comment or `netlint.dev/ignore` annotation "
        "suppresses nothing, or names a rule that does not exist.",
        why=(
            "Suppressions outlive the findings they were written for: once the manifest is "
            "fixed, a leftover `disable` would silently hide the next real problem on that "
            "line. A suppression is unused when the rule it names ran and reported nothing it "
            "covers (the same line or the line after a comment on its own line; the whole file "
            "for `disable-file`; the object for the annotation)."
        ),
        fix="Remove the suppression, or fix the rule name it misspells.",
        not_reported=(
            "Suppressions of rules that did not run (deselected with `--select`/`--ignore`): "
            "they may still be needed when the rule runs."
        ),
        added_in="0.1.0",
        tags=("netlint", "maintainability"),
        security_severity=2.0,
    )


RULE = UnusedSuppression
