"""Runs the selected rules: per file, and per deploy unit over the objects it applies."""

from __future__ import annotations

import sys
import traceback
import zlib
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

from netlint.analysis.context import Context, ProblemRule, Rule
from netlint.analysis.wording import listing
from netlint.core.findings import Finding, Severity
from netlint.core.model import Namespace, NetworkPolicy, Workload
from netlint.core.problems import ProblemKind
from netlint.core.rule import RuleMeta
from netlint.core.source import Span
from netlint.core.units import Certainty, Unit
from netlint.run.workers import ordered_map

if TYPE_CHECKING:
    from netlint.analysis.layout import Layout, UnitIndex

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


class Only:
    """A filter of the files to report that also lists them: ``reported`` for a re-lint of a
    few files (an editor's buffer, the files a hook was given), so that the run visits their
    units and objects alone instead of asking about every file of a big repo."""

    __slots__ = ("paths",)

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = frozenset(paths)

    def __call__(self, path: str) -> bool:
        return path in self.paths


def _overrides(rule: Rule, hook: str) -> bool:
    return getattr(type(rule), hook) is not getattr(Rule, hook)


def run(
    layout: Layout,
    rules: Sequence[ActiveRule],
    reported: Callable[[str], bool],
    *,
    crash_meta: RuleMeta | None = None,
    debug: bool = False,
    share: tuple[int, int] | None = None,
    notes: list[str] | None = None,
    stop: Callable[[], bool] | None = None,
) -> list[Finding]:
    """Findings of every rule: ``check_file`` once per file that ``reported`` accepts, the
    object hooks once per deploy unit for the unit's objects (see docs/units.md).

    An object is checked when its own file is reported, or, for all the objects of a unit,
    when a reported file of the unit holds none of them (a changed kustomization or patch
    re-checks what the build applies). Rules skip units they cannot judge (``_applies``).
    Findings that several units give alike are reported once, naming the units when some
    units reading that file do not give it (see ``_merge``).

    ``share`` ``(k, n)`` keeps the k-th of n parts of the work: files by path, units by id,
    so that a rule's per-unit caches serve one process only. ``notes`` receives what rules
    tell ``--verbose`` (a rule with a ``notes(index)`` method: e.g. questions it left
    undecided because an input was too big to decide them in bounded time). ``stop``, when
    given, is asked before every hook call: once it is true the run ends with ``Superseded``
    (the language server drops a lint a newer edit made stale).
    """
    held: list[tuple[Finding, Unit | None]] = []

    def call(rule: Rule, hook: str, ctx: Context, subject: Any) -> list[Finding]:
        if stop is not None and stop():
            raise Superseded
        return _call(rule, hook, ctx, subject, crash_meta, debug)

    mine = _share_filter(share)
    cluster = layout.cluster
    entries: Sequence[UnitIndex] = layout.units
    if isinstance(reported, Only):
        # The same files and units, in the same order, as the filter below would keep.
        named = sorted(p for p in reported.paths if p in cluster.files)
        files = [cluster.files[p] for p in named if mine(p)]
        entries = layout.reading(reported.paths)
    else:
        files = [f for f in cluster.files.values() if reported(f.path) and mine(f.path)]
    plans = []
    for entry in entries:
        if not mine(entry.unit.id):
            continue
        changed = [path for path in entry.unit.files if reported(path)]
        if not changed:
            continue
        index = entry.index
        holders = {o.ref.path for o in entry.objects}
        whole = any(path not in holders for path in changed)

        def chosen(items: Iterable[Any], whole: bool = whole) -> list[Any]:
            return list(items) if whole else [o for o in items if reported(o.ref.path)]

        subjects = {
            "check_policy": chosen(index.policies),
            "check_workload": chosen(index.workloads),
            "check_namespace": chosen(index.namespace_objects.values()),
        }
        plans.append((entry, subjects))
    for active in rules:
        rule = active.rule
        # One memo per rule and run: what the rule derives from an index is computed once,
        # and never outlives the index it came from (the context keys it by unit).
        memo: dict[Hashable, Any] = {}
        kind = rule.kind if isinstance(rule, ProblemRule) else None
        meta, severity, options = rule.meta, active.severity, active.options
        if _overrides(rule, "check_file"):
            ctx = Context(cluster, meta, severity, options, memo, kind)
            for file in files:
                held.extend((f, None) for f in call(rule, "check_file", ctx, file))
        hooks = [h for h in _OBJECT_HOOKS if _overrides(rule, h)]
        if hooks:
            for entry, subjects in plans:
                if not _applies(meta.certainty, entry.unit):
                    continue
                ctx = Context(entry.index, meta, severity, options, memo, kind, cluster, entry.unit)
                for hook in hooks:
                    for subject in subjects[hook]:
                        held.extend((f, entry.unit) for f in call(rule, hook, ctx, subject))
        told = getattr(rule, "notes", None)
        if notes is not None and callable(told):
            notes.extend(str(note) for note in told(cluster))
    return _merge(held, layout)


_OBJECT_HOOKS: Final = ("check_policy", "check_workload", "check_namespace")


class Superseded(BaseException):
    """Ends a run whose ``stop`` became true. A BaseException, so that the guard against a
    rule's bugs (which turns an Exception into an NL900 finding) lets it through."""


def _applies(certainty: Certainty, unit: Unit) -> bool:
    """Whether a rule of this certainty can judge the unit. A claim of absence (MAY) needs
    a unit built completely: what netlint could not apply may be what it would call missing.
    A claim about objects together needs a build that happens: kustomize refuses a failed
    one, so its objects never meet. A claim about one object holds of it as written."""
    if certainty is Certainty.MAY:
        return unit.complete
    if certainty is Certainty.TOGETHER:
        return not unit.failed
    return True


def _call(
    rule: Rule, hook: str, ctx: Context, subject: Any, crash_meta: RuleMeta | None, debug: bool
) -> list[Finding]:
    try:
        return list(getattr(rule, hook)(ctx, subject))
    except Exception as exc:  # one rule's bug must not cost the user the other findings
        if debug:
            traceback.print_exc(file=sys.stderr)
        return [_crash(rule.meta, subject, exc, crash_meta)]


def _merge(held: Sequence[tuple[Finding, Unit | None]], layout: Layout) -> list[Finding]:
    """One finding for each that units give alike. Where only some of the units that read the
    finding's file give it (an overlay that changes what its base says), the message names
    them: "(in kustomize overlays/prod)"."""
    units: dict[Finding, list[Unit]] = {}
    for finding, unit in held:
        found = units.setdefault(finding, [])
        if unit is not None and unit not in found:
            found.append(unit)
    out = []
    for finding, where in units.items():
        readers = layout.units_of.get(finding.span.path, ())
        if where and len(readers) > 1 and len(where) < len(readers):
            names = listing(u.name for u in where)
            finding = replace(finding, message=f"{finding.message} (in {names})")
        out.append(finding)
    return out


def _share_filter(share: tuple[int, int] | None) -> Callable[[str], bool]:
    if share is None:
        return lambda key: True
    part, parts = share
    return lambda key: zlib.crc32(key.encode()) % parts == part


#: Below this many objects to check, forking costs more than the rules.
PARALLEL_MIN_OBJECTS = 2000


def run_parallel(
    layout: Layout,
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
    if isinstance(reported, Only):
        # A re-lint of a few files checks the objects of their units alone: forking a copy of
        # a big repo's process for them cost more than the rules (and each copy worked out
        # the rules' cluster-wide facts again).
        size = sum(
            len(e.index.policies) + len(e.index.workloads) for e in layout.reading(reported.paths)
        )
    else:
        size = len(layout.cluster.policies) + len(layout.cluster.workloads)
    if jobs < 2 or size < PARALLEL_MIN_OBJECTS or sys.platform != "linux":
        return run(layout, rules, reported, crash_meta=crash_meta, debug=debug, notes=notes)

    def share(part: int) -> tuple[list[Finding], list[str]]:
        told: list[str] = []
        found = run(
            layout,
            rules,
            reported,
            crash_meta=crash_meta,
            debug=debug,
            share=(part, jobs),
            notes=told,
        )
        return found, told

    # Forked workers inherit the index, rules and options (copy-on-write), not pickled.
    findings: list[Finding] = []
    for found, told in ordered_map(share, jobs, jobs=jobs):
        findings.extend(found)
        if notes is not None:
            notes.extend(told)
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
