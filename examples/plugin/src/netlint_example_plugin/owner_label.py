"""EX101 owner-label: every NetworkPolicy names its owner in a label.

The rule uses only :mod:`netlint.api` and rule contract v2: typed options (a frozen dataclass of
:func:`~netlint.api.option` fields, read as ``ctx.options.label``), prose in sections, and the
finding's fix apart from its message.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from netlint.api import (
    Context,
    Finding,
    NetworkPolicy,
    Options,
    Rule,
    RuleMeta,
    Severity,
    display,
    option,
)


@dataclass(frozen=True)
class OwnerLabelOptions(Options):
    label: str = option(
        "team",
        description="The label that names a policy's owner.",
        schema={"type": "string", "minLength": 1},
    )


class OwnerLabel(Rule):
    meta = RuleMeta(
        code="EX101",
        name="owner-label",
        severity=Severity.WARNING,
        summary="A NetworkPolicy has no owner label, so nobody is asked when it blocks traffic.",
        why="When a policy drops traffic, the first question is who wrote it and why. A label "
        "that names the owning team answers it from `kubectl get networkpolicy -L team`.",
        fix="Add the label (`team` unless configured) to the policy's `metadata.labels`.",
        not_reported="Policies that the API server would reject (NL002): fix those first.",
        added_in="0.1.0",
        tags=("ownership",),
        security_severity=2.0,
        options=OwnerLabelOptions,
    )

    def check_policy(self, ctx: Context, policy: NetworkPolicy) -> Iterator[Finding]:
        options: OwnerLabelOptions = ctx.options
        if not policy.valid or options.label in policy.labels:
            return
        yield ctx.finding(
            policy.name_span.first_line,
            f"{display(policy)} has no `{options.label}` label",
            fix=f"Add `{options.label}: <owner>` to its metadata.labels.",
            subject=policy,
        )
