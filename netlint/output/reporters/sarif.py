"""SARIF 2.1.0 for GitHub code scanning, built with sarif-om.

Checked against the OASIS schema and GitHub's rules (../shared/sarif/README.md): relative,
percent-encoded URIs under ``%SRCROOT%`` (from the file name's bytes: a name that is not UTF-8
round-trips); a full region on every result, with columns in UTF-16 units (``columnKind``);
GitHub's ``primaryLocationLineHash``; rule help with examples; a string
``security-severity``; at most 25,000 results, the most severe kept, with a notification when
some are left out. Messages escape ``[``/``]`` so that no repo text becomes a link, and the log is
valid UTF-8 whatever the repo holds (netlint.core.escape).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import attr
import sarif_om as om

from netlint import __version__
from netlint.core.escape import json_document, markdown_text, sarif_message, uri_path
from netlint.core.findings import Finding, Severity
from netlint.core.rule import RuleMeta
from netlint.core.source import LineIndex, Span
from netlint.output import ruledocs
from netlint.output.fingerprint import line_hashes
from netlint.output.report import Report

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/netlint/netlint"
#: GitHub rejects a run with more results than this.
MAX_RESULTS = 25_000
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}
_PROBLEM_SEVERITY = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.NOTE: "recommendation",
}


def render(report: Report, *, category: str | None = None) -> str:
    findings = report.findings
    notifications = []
    if len(findings) > MAX_RESULTS:
        kept = sorted(findings, key=lambda f: -f.severity.rank)[:MAX_RESULTS]
        kept.sort(key=lambda f: f.sort_key)
        notifications.append(
            om.Notification(
                message=om.Message(
                    text=f"{len(findings) - MAX_RESULTS} of {len(findings)} results were left out: "
                    f"GitHub code scanning accepts at most {MAX_RESULTS} per run. The most severe "
                    "are kept; run netlint with --select or a baseline to see the rest."
                ),
                level="warning",
            )
        )
        findings = kept
    rules = list(report.rules)
    known = {meta.code for meta in rules}
    rules += [_placeholder_meta(f) for f in findings if f.code not in known]
    rules = list({meta.code: meta for meta in rules}.values())
    index = {meta.code: i for i, meta in enumerate(rules)}
    columns = _Columns(report)
    hashes = _fingerprints(report, findings)
    run = om.Run(
        tool=om.Tool(
            driver=om.ToolComponent(
                name="netlint",
                semantic_version=__version__,
                version=__version__,
                information_uri=INFORMATION_URI,
                rules=[_rule(meta) for meta in rules],
            )
        ),
        results=[_result(f, index[f.code], columns, hashes) for f in findings],
        column_kind="utf16CodeUnits",
        original_uri_base_ids={
            "%SRCROOT%": om.ArtifactLocation(
                description=om.Message(text="The top of the repository's git work tree.")
            )
        },
    )
    if category is not None:
        run.automation_details = om.RunAutomationDetails(id=category)
    if notifications:
        run.invocations = [
            om.Invocation(execution_successful=True, tool_execution_notifications=notifications)
        ]
    log = om.SarifLog(schema_uri=SCHEMA_URI, version="2.1.0", runs=[run])
    return json_document(json.dumps(to_json(log), indent=2, ensure_ascii=False)) + "\n"


def to_json(obj: Any) -> Any:
    """sarif-om objects as SARIF JSON: camelCase names from the schema, and no placeholder
    defaults (sarif-om fills ``ruleIndex: -1`` and the like, which GitHub's checks reject)."""
    if attr.has(type(obj)):
        out: dict[str, Any] = {}
        for field in attr.fields(type(obj)):
            value = getattr(obj, field.name)
            if value is None:
                continue
            default = field.default
            if isinstance(default, attr.Factory):  # type: ignore[arg-type]
                default = default.factory()
            if field.name != "level" and value == default and default is not attr.NOTHING:
                continue
            out[field.metadata["schema_property_name"]] = to_json(value)
        names = {field.name for field in attr.fields(type(obj))}
        for key, value in vars(obj).items():
            if key not in names:  # properties set on a PropertyBag beyond its declared tags
                out[key] = to_json(value)
        return out
    if isinstance(obj, dict):
        return {k: to_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json(v) for v in obj]
    return obj


def _properties(tags: list[str], extra: dict[str, str]) -> om.PropertyBag:
    bag = om.PropertyBag(tags=tags)
    # SARIF property names such as "security-severity" are not Python identifiers.
    vars(bag).update(extra)
    return bag


def _rule(meta: RuleMeta) -> om.ReportingDescriptor:
    tags = list(dict.fromkeys(("security", *meta.tags)))[:20]
    return om.ReportingDescriptor(
        id=meta.code,
        name=meta.name,
        short_description=om.MultiformatMessageString(text=ruledocs.clip(meta.summary)),
        full_description=om.MultiformatMessageString(
            text=ruledocs.clip(" ".join((meta.summary, meta.why or meta.rationale)))
        ),
        help=om.MultiformatMessageString(
            text=ruledocs.plain(meta), markdown=ruledocs.markdown(meta, heading="##")
        ),
        help_uri=ruledocs.help_uri(meta),
        default_configuration=om.ReportingConfiguration(level=_LEVEL[meta.severity]),
        properties=_properties(
            tags,
            {
                "precision": meta.precision,
                "security-severity": f"{meta.security_severity:.1f}",
                "problem.severity": _PROBLEM_SEVERITY[meta.severity],
            },
        ),
    )


def _placeholder_meta(finding: Finding) -> RuleMeta:
    """Metadata for a code no loaded rule declares (a plugin that failed to load)."""
    return RuleMeta(
        code=finding.code,
        name=finding.name,
        severity=finding.severity,
        summary=f"{finding.code} {finding.name}",
        why="Reported by a rule whose metadata is not available in this run.",
    )


class _Columns:
    """Code-point columns to UTF-16 columns; only lines with non-BMP characters differ."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.lines: dict[str, LineIndex | None] = {}

    def convert(self, path: str, line: int, col: int) -> int:
        if path not in self.lines:
            text = self.report.text_of(path)
            needs = text is not None and any(ord(c) > 0xFFFF for c in text)
            # The parser reads past a UTF-8 BOM, so its columns do not count it.
            index = LineIndex(text.removeprefix("\ufeff")) if needs and text is not None else None
            self.lines[path] = index
        lines = self.lines[path]
        if lines is None or line > len(lines):
            return col
        return lines.units(line, col, "utf-16") + 1


def _region(span: Span, columns: _Columns) -> om.Region:
    end_col = span.end_col
    if span.end_line == span.line and end_col <= span.col:
        end_col = span.col + 1  # SARIF regions are non-empty: cover one character
    return om.Region(
        start_line=span.line,
        start_column=columns.convert(span.path, span.line, span.col),
        end_line=span.end_line,
        end_column=columns.convert(span.path, span.end_line, end_col),
    )


def _location(span: Span, columns: _Columns, **extra: Any) -> om.Location:
    path = columns.report.repo_path(span.path)
    return om.Location(
        physical_location=om.PhysicalLocation(
            artifact_location=om.ArtifactLocation(uri=uri_path(path), uri_base_id="%SRCROOT%"),
            region=_region(span, columns),
        ),
        **extra,
    )


def _fingerprints(report: Report, findings: list[Finding]) -> dict[tuple[str, int], str]:
    lines: dict[str, set[int]] = defaultdict(set)
    for finding in findings:
        lines[finding.span.path].add(finding.span.line)
    out: dict[tuple[str, int], str] = {}
    for path, wanted in lines.items():
        text = report.text_of(path)
        if text is None:
            continue
        for line, value in line_hashes(text, wanted).items():
            out[(path, line)] = value
    return out


def _message(finding: Finding) -> om.Message:
    """The message, and the fix after it: in the text that GitHub shows, and as Markdown for
    viewers that render it (both escaped: neither can carry a link from the repository)."""
    if not finding.fix:
        return om.Message(text=sarif_message(finding.message))
    return om.Message(
        text=sarif_message(f"{finding.message}\nHow to fix: {finding.fix}"),
        markdown=(
            f"{markdown_text(finding.message)}\n\n**How to fix:** {markdown_text(finding.fix)}"
        ),
    )


def _result(
    finding: Finding, rule_index: int, columns: _Columns, hashes: dict[tuple[str, int], str]
) -> om.Result:
    result = om.Result(
        rule_id=finding.code,
        rule_index=rule_index,
        level=_LEVEL[finding.severity],
        message=_message(finding),
        locations=[_location(finding.span, columns)],
    )
    value = hashes.get((finding.span.path, finding.span.line))
    if value is not None:
        result.partial_fingerprints = {"primaryLocationLineHash": value}
    if finding.related:
        result.related_locations = [
            _location(r.span, columns, id=i + 1, message=om.Message(text=sarif_message(r.message)))
            for i, r in enumerate(finding.related)
        ]
    return result
