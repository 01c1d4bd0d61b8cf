"""``path:line:col: CODE severity: message [name]``, the shape editors' problem matchers read,
then the related locations and the fix (``help:``), indented.

Everything the repo wrote (file names, messages quoting names, labels, annotations and parser
excerpts) is escaped (netlint.core.escape): one finding is one line, and no byte of it is
a terminal control or a CI workflow command.
"""

from __future__ import annotations

from netlint.core.escape import text as safe
from netlint.core.findings import Severity
from netlint.output.report import Report

_COLORS = {Severity.ERROR: "\033[31m", Severity.WARNING: "\033[33m", Severity.NOTE: "\033[36m"}
_BOLD, _DIM, _RESET = "\033[1m", "\033[2m", "\033[0m"


def render(report: Report, *, color: bool = False) -> str:
    lines = []
    for finding in report.findings:
        span = finding.span
        where = f"{report.display_path(span.path)}:{span.line}:{span.col}:"
        severity = finding.severity.value
        # Plugins choose codes and names: escaped like the rest, before any colour is added.
        name = f"[{safe(finding.name)}]"
        if color:
            where = f"{_BOLD}{where}{_RESET}"
            severity = f"{_COLORS[finding.severity]}{severity}{_RESET}"
            name = f"{_DIM}{name}{_RESET}"
        lines.append(f"{where} {safe(finding.code)} {severity}: {safe(finding.message)} {name}")
        for related in finding.related:
            rel = related.span
            lines.append(
                f"    {report.display_path(rel.path)}:{rel.line}:{rel.col}: {safe(related.message)}"
            )
        if finding.fix:
            # Indented, so problem matchers (which read `path:line:col:` lines) skip it.
            lines.append(f"    help: {safe(finding.fix)}")
    lines.append(summary(report))
    return "\n".join(lines) + "\n"


def summary(report: Report) -> str:
    counts = report.severity_counts()
    total = len(report.findings)
    parts = [f"{counts[s]} {s.value}{'s' if counts[s] != 1 else ''}" for s in Severity if counts[s]]
    found = f"{total} finding{'s' if total != 1 else ''}" + (
        f" ({', '.join(parts)})" if parts else ""
    )
    objects = ", ".join(
        f"{n} {kind}{'s' if n != 1 else ''}"
        for kind, n in (
            ("policy", report.objects["NetworkPolicy"]),
            ("workload", report.objects["Workload"]),
            ("namespace", report.objects["Namespace"]),
        )
    ).replace("policys", "policies")
    scope = (
        f"{report.files_reported} of {report.files_linted} files reported"
        if (report.files_reported != report.files_linted)
        else f"{report.files_linted} files"
    )
    line = f"{found} in {scope} ({objects})"
    templated = sum(1 for s in report.skipped if s.reason == "templated")
    other = len(report.skipped) - templated
    if templated:
        line += f"; {templated} templated file{'s' if templated != 1 else ''} skipped"
    if other:
        line += f"; {other} other file{'s' if other != 1 else ''} skipped (--verbose lists them)"
    if report.suppressed:
        line += f"; {report.suppressed} suppressed"
    if report.baselined:
        line += f"; {report.baselined} in the baseline"
    return line + "."
