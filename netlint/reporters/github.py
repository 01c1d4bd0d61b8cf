"""GitHub Actions workflow commands: one annotation per finding."""

from __future__ import annotations

from netlint.findings import Severity
from netlint.report import Report

_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


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
        lines.append(f"::{_COMMAND[f.severity]} {','.join(props)}::{_data(f.message)}")
    return "\n".join(lines) + ("\n" if lines else "")
