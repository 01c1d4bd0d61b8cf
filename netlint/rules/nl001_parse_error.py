"""NL001 parse-error: the file is not YAML/JSON that Kubernetes could read."""

from __future__ import annotations

from collections.abc import Iterator

from netlint.api import Context, FileResult, Finding, Rule, RuleMeta, Severity


class ParseError(Rule):
    meta = RuleMeta(
        code="NL001",
        name="parse-error",
        severity=Severity.ERROR,
        summary="The file is not valid YAML or JSON, or it is too large, too deep or too "
        "alias-heavy to read safely.",
        rationale=(
            "kubectl and every GitOps tool refuse a manifest they cannot parse, so nothing in "
            "the file reaches the cluster, and netlint cannot check the objects in it either. "
            "Covers syntax errors, invalid UTF-8, control characters, duplicate keys (rejected "
            "by the API server's strict decoding), recursive aliases, alias expansion bombs, "
            "nesting deeper than `limits.max-depth`, files over `limits.max-file-bytes` and "
            "more than `limits.max-documents` documents. Documents before the error are still "
            "linted. Files that are Go/Helm templates are skipped and counted, not reported."
        ),
        tags=("correctness", "yaml"),
        security_severity=4.0,
    )

    def check_file(self, ctx: Context, file: FileResult) -> Iterator[Finding]:
        for problem in ctx.problems(file):
            yield ctx.finding(problem.span, problem.message, subject=problem.subject)


RULE = ParseError
