"""GitHub Actions workflow commands: one annotation per finding.

Every value is escaped as ``@actions/core`` escapes it (``escapeData`` for the message,
``escapeProperty`` for ``file`` and ``title``), after the repo's controls are made visible
(netlint.core.escape): one finding is one command, whatever its names hold.
"""

from __future__ import annotations

from netlint.core.escape import github_data as _data
from netlint.core.escape import github_property as _property
from netlint.core.findings import Severity
from netlint.output.report import Report

_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}


def render(report: Report) -> str:
    lines = []
    for f in report.findings:
        s = f.span
        props = [
            f"file={_property(report.repo_path(s.path))}",
            f"line={s.line}",
            f"col={s.col}",
            f"endLine={s.end_line}",
        ]
        if s.end_line == s.line:
            props.append(f"endColumn={s.end_col}")
        props.append(f"title={_property(f'{f.code} {f.name}')}")
        # The annotation shows the message, then the fix on a line of its own.
        text = f"{f.message}\nhelp: {f.fix}" if f.fix else f.message
        lines.append(f"::{_COMMAND[f.severity]} {','.join(props)}::{_data(text)}")
    return "\n".join(lines) + ("\n" if lines else "")
