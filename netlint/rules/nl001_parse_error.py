"""NL001 parse-error: the file is not YAML/JSON that Kubernetes could read."""

from __future__ import annotations

from netlint.api import ProblemKind, ProblemRule, RuleMeta, Severity


class ParseError(ProblemRule):
    kind = ProblemKind.SYNTAX
    meta = RuleMeta(
        code="NL001",
        name="parse-error",
        severity=Severity.ERROR,
        summary="The file is not valid YAML or JSON, or it is too large, too deep or too "
        "alias-heavy to read safely.",
        why=(
            "kubectl and every GitOps tool refuse a manifest they cannot parse, so nothing in "
            "the file reaches the cluster, and netlint cannot check the objects in it either. "
            "Covers syntax errors, invalid UTF-8, control characters, duplicate keys (rejected "
            "by the API server's strict decoding), recursive aliases, alias expansion bombs, "
            "nesting deeper than `limits.max-depth`, files over `limits.max-file-bytes` and "
            "more than `limits.max-documents` documents."
        ),
        fix=(
            "Correct the YAML at the reported line: close the bracket or quote, indent with "
            "spaces, write each key once, and quote a value that holds a control character.\n\n"
            "A file over a limit is usually generated: split it, or, if it is trusted, raise "
            "the limit under `limits:` in `.netlint.yaml` (`max-file-bytes`, `max-documents`, "
            "`max-depth`, `max-alias-expansion`)."
        ),
        not_reported=(
            "Documents before the error are still linted. Files that are Go/Helm templates "
            "are skipped and counted, not reported."
        ),
        added_in="0.1.0",
        tags=("correctness", "yaml"),
        security_severity=4.0,
    )


RULE = ParseError
