"""JSON output, documented by ``schemas/findings.schema.json``.

Strings hold what the repo wrote; the document is always valid UTF-8 (a file name that is not
UTF-8 shows U+FFFD for its bad bytes) and safe to print (netlint.core.escape).
"""

from __future__ import annotations

import json
from typing import Any

from netlint import __version__
from netlint.core.escape import json_document
from netlint.core.findings import Severity
from netlint.core.source import Span
from netlint.output.report import Report


def _location(span: Span) -> dict[str, Any]:
    return {
        "path": span.path,
        "line": span.line,
        "column": span.col,
        "end_line": span.end_line,
        "end_column": span.end_col,
    }


#: The document's format (schemas/findings.schema.json): 2 added ``format`` and ``fix``.
FORMAT = 2


def render(report: Report) -> str:
    counts = report.severity_counts()
    document = {
        "format": FORMAT,
        "version": __version__,
        "root": str(report.root),
        "findings": [
            {
                "code": f.code,
                "name": f.name,
                "severity": f.severity.value,
                "message": f.message,
                "fix": f.fix,
                **_location(f.span),
                "subject": f.subject,
                "related": [{**_location(r.span), "message": r.message} for r in f.related],
            }
            for f in report.findings
        ],
        "summary": {
            "findings": len(report.findings),
            "errors": counts[Severity.ERROR],
            "warnings": counts[Severity.WARNING],
            "notes": counts[Severity.NOTE],
            "files": report.files_linted,
            "files_reported": report.files_reported,
            "policies": report.objects["NetworkPolicy"],
            "workloads": report.objects["Workload"],
            "namespaces": report.objects["Namespace"],
            "suppressed": report.suppressed,
            "baselined": report.baselined,
            "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
        },
    }
    return json_document(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"
