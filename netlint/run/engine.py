"""Runs the selected rules over the objects of the reported files, against the whole index."""

from __future__ import annotations

import multiprocessing
import os
import sys
import traceback
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from netlint.analysis.context import Context, ProblemRule, Rule
from netlint.analysis.index import Index
from netlint.core.findings import Finding, Severity
from netlint.core.model import Namespace, NetworkPolicy, Workload
from netlint.core.problems import ProblemKind
from netlint.core.rule import RuleMeta
from netlint.core.source import Span
from netlint.run.workers import exit_with_parent

#: Who a rule's crash is reported as when the catalogue has no rule of kind INTERNAL to report
#: it (one without netlint's own rules): the identity of netlint's NL900. A crash is never
#: dropped for want of a rule to report it.
_CRASH_FALLBACK = RuleMeta(
    code="NL900",
    name="rule-crashed",
    severity=Severity.ERROR,
    summary="netlint raised an exception while running a rule.",
)


def crash_meta_of(rules: Iterable[Rule]) -> RuleMeta | None:
    """The meta of the rule that reports netlint's own failures (the input rule of kind
    ``INTERNAL``, NL900 in netlint's catalogue): a rule's crash is reported as its finding. A
    built-in one wins over a plugin's (the ``NL`` prefix is reserved for built-ins), so a plugin
    cannot take over crash reports by declaring the kind too."""
    internal = [
        r.meta for r in rules if isinstance(r, ProblemRule) and r.kind is ProblemKind.INTERNAL
    ]
    internal.sort(key=lambda meta: (not meta.code.startswith("NL"), meta.code))
    return internal[0] if internal else None


@dataclass(frozen=True, slots=True)
class ActiveRule:
    rule: Rule
    severity: Severity
    #: The rule's typed options (``RuleMeta.options``), None for a rule without options.
    options: Any

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
    share: tuple[int, int] | None = None,
    notes: list[str] | None = None,
) -> list[Finding]:
    """Findings of every rule for the objects in files that ``reported`` accepts.

    ``share`` ``(k, n)`` keeps the k-th of n parts of the work: files by path, objects by
    namespace, so that a rule's per-namespace caches serve one process only. ``notes`` receives
    what rules tell ``--verbose`` (a rule with a ``notes(index)`` method: e.g. questions it left
    undecided because an input was too big to decide them in bounded time).
    """
    findings: list[Finding] = []
    mine = _share_filter(share)
    files = [f for f in index.files.values() if reported(f.path) and mine(f.path)]
    policies = [p for p in index.policies if reported(p.ref.path) and mine(p.namespace)]
    workloads = [w for w in index.workloads if reported(w.ref.path) and mine(w.namespace)]
    namespaces = [
        n for n in index.namespace_objects.values() if reported(n.ref.path) and mine(n.name)
    ]
    for active in rules:
        rule = active.rule
        # One memo per rule and run: what the rule derives from the whole index is computed
        # once, and never outlives the index it came from.
        kind = rule.kind if isinstance(rule, ProblemRule) else None
        ctx = Context(index, rule.meta, active.severity, active.options, {}, kind)
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
        told = getattr(rule, "notes", None)
        if notes is not None and callable(told):
            notes.extend(str(note) for note in told(index))
    return findings


def _share_filter(share: tuple[int, int] | None) -> Callable[[str], bool]:
    if share is None:
        return lambda key: True
    part, parts = share
    return lambda key: zlib.crc32(key.encode()) % parts == part


#: What forked workers inherit instead of receiving it pickled: the index, rules and options.
_FORKED: dict[str, Any] = {}
#: Below this many objects to check, forking costs more than the rules.
PARALLEL_MIN_OBJECTS = 2000


def run_parallel(
    index: Index,
    rules: Sequence[ActiveRule],
    reported: Callable[[str], bool],
    *,
    jobs: int,
    crash_meta: RuleMeta | None = None,
    debug: bool = False,
    notes: list[str] | None = None,
) -> list[Finding]:
    """``run`` split across forked processes, which share the index copy-on-write.

    Only where fork exists (Linux) and the repo is big enough to pay for it; the findings are
    the same as ``run``'s (the caller sorts them).
    """
    size = len(index.policies) + len(index.workloads)
    if jobs < 2 or size < PARALLEL_MIN_OBJECTS or sys.platform != "linux":
        return run(index, rules, reported, crash_meta=crash_meta, debug=debug, notes=notes)
    _FORKED.update(index=index, rules=rules, reported=reported, crash_meta=crash_meta, debug=debug)
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(
            max_workers=jobs - 1,
            mp_context=context,
            initializer=exit_with_parent,
            initargs=(os.getpid(),),
        ) as pool:
            futures = [pool.submit(_run_share, (part, jobs)) for part in range(1, jobs)]
            findings, told = _run_share((0, jobs))
            told_all = [told]
            for future in futures:
                more, told = future.result()
                findings.extend(more)
                told_all.append(told)
            if notes is not None:
                notes.extend(note for told in told_all for note in told)
    finally:
        _FORKED.clear()
    return findings


def _run_share(share: tuple[int, int]) -> tuple[list[Finding], list[str]]:
    notes: list[str] = []
    findings = run(
        _FORKED["index"],
        _FORKED["rules"],
        _FORKED["reported"],
        crash_meta=_FORKED["crash_meta"],
        debug=_FORKED["debug"],
        share=share,
        notes=notes,
    )
    return findings, notes


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
    reporter = crash_meta or _CRASH_FALLBACK
    return Finding(
        code=reporter.code,
        name=reporter.name,
        severity=reporter.severity,
        message=(
            f"rule {meta.code} {meta.name} crashed on {what}: {type(exc).__name__}"
            + (f": {detail}" if detail else "")
            + " (a netlint bug: please report it; other rules still ran)"
        ),
        span=span,
        subject=about,
    )
