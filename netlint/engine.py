"""Runs the selected rules over the objects of the reported files, against the whole index."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netlint.api import Context, Rule, RuleMeta
from netlint.findings import Finding, Severity
from netlint.index import Index
from netlint.model import Namespace, NetworkPolicy, Workload
from netlint.source import Span

#: Raised-exception findings use this code; its metadata lives in rules/nl900_rule_crashed.py.
CRASH_CODE = "NL900"


@dataclass(frozen=True, slots=True)
class ActiveRule:
    rule: Rule
    severity: Severity
    options: Mapping[str, Any]

    @property
    def meta(self) -> RuleMeta:
        return self.rule.meta


def _overrides(rule: Rule, hook: str) -> bool:
    return getattr(type(rule), hook) is not getattr(Rule, hook)


def run(
    index: Index,
    rules: Sequence[ActiveRule],
    reported: Callable[[str], bool],
    *,
    crash_meta: RuleMeta | None = None,
    debug: bool = False,
) -> list[Finding]:
    """Findings of every rule for the objects in files that ``reported`` accepts."""
    findings: list[Finding] = []
    files = [f for f in index.files.values() if reported(f.path)]
    policies = [p for p in index.policies if reported(p.ref.path)]
    workloads = [w for w in index.workloads if reported(w.ref.path)]
    namespaces = [n for n in index.namespace_objects.values() if reported(n.ref.path)]
    for active in rules:
        rule = active.rule
        ctx = Context(index, rule.meta, active.severity, active.options)
        plan: list[tuple[str, Iterable[Any]]] = [
            ("check_file", files),
            ("check_policy", policies),
            ("check_workload", workloads),
            ("check_namespace", namespaces),
        ]
        for hook, subjects in plan:
            if not _overrides(rule, hook):
                continue
            method = getattr(rule, hook)
            for subject in subjects:
                try:
                    findings.extend(method(ctx, subject))
                except Exception as exc:  # one rule's bug must not cost the user the other findings
                    findings.append(_crash(rule.meta, subject, exc, crash_meta))
                    if debug:
                        traceback.print_exc(file=sys.stderr)
    return findings


def _crash(meta: RuleMeta, subject: Any, exc: Exception, crash_meta: RuleMeta | None) -> Finding:
    if isinstance(subject, (NetworkPolicy, Workload, Namespace)):
        span: Span = subject.ref.span.first_line
        what = f"{subject.ref.kind} {subject.ref.namespace}/{subject.ref.name}"
        about = subject.ref.subject
    else:
        span = Span(subject.path, 1, 1, 1, 2)
        what = subject.path
        about = None
    detail = str(exc).splitlines()[0] if str(exc) else ""
    return Finding(
        code=CRASH_CODE,
        name=crash_meta.name if crash_meta else "rule-crashed",
        severity=crash_meta.severity if crash_meta else Severity.ERROR,
        message=(
            f"rule {meta.code} {meta.name} crashed on {what}: {type(exc).__name__}"
            + (f": {detail}" if detail else "")
            + " (a netlint bug: please report it; other rules still ran)"
        ),
        span=span,
        subject=about,
    )
