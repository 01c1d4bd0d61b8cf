"""Suppressions: inline comments, file-level comments, object annotations, and a baseline.

- ``# netlint: disable=NL104`` (codes or names, comma-separated, or ``all``) on the finding's
  line, or alone on the line before it;
- ``# netlint: disable-file=NL101,NL103`` anywhere in a file, for the whole file;
- ``netlint.dev/ignore: "NL101,NL103"`` in an object's annotations, for findings about it;
- a baseline file of fingerprints (``--write-baseline``/``--baseline``) for adopting netlint on a
  repo with existing findings.

A comment or annotation that suppresses nothing, for a rule that ran, is itself reported
(NL901), so stale suppressions do not pile up.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from netlint.core.findings import Finding, Severity
from netlint.core.model import Namespace, NetworkPolicy, Workload
from netlint.core.source import LineIndex, Span
from netlint.read.build import IGNORE_ANNOTATION
from netlint.read.directives import Directive

ANNOTATION: Final = IGNORE_ANNOTATION
UNUSED_CODE: Final = "NL901"


def _matches(token: str, finding: Finding, known: Mapping[str, str]) -> bool:
    """Whether a suppression token names the finding's rule: ``all``, its code, its name, or a
    name it had before (``RuleMeta.old_names``, through ``known``)."""
    token = token.lower()
    return token in ("all", finding.code.lower(), finding.name.lower()) or (
        known.get(token) == finding.code
    )


@dataclass(slots=True)
class Outcome:
    kept: list[Finding]
    suppressed: int = 0
    unused: list[Finding] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Use:
    """A suppression token and where it was written, to report it when it is never used."""

    token: str
    span: Span
    what: str


def apply(
    findings: Sequence[Finding],
    directives: Mapping[str, Sequence[Directive]],
    objects: Iterable[NetworkPolicy | Workload | Namespace],
    known: Mapping[str, str],
    ran: Collection[str],
    reported: Callable[[str], bool],
    unused_severity: Severity | None,
) -> Outcome:
    """Drop suppressed findings; report suppressions that suppressed nothing.

    ``known`` maps every rule's lower-case code, name and old names to its code, ``ran`` holds
    the codes of the rules that ran: a suppression of a rule that did not run is not "unused",
    one of a rule that does not exist is a typo. Unused suppressions are reported in ``reported``
    files only, and not at all when ``unused_severity`` is None (NL901 is off).
    """
    used: set[_Use] = set()
    inline: dict[tuple[str, int], list[_Use]] = {}
    whole_file: dict[str, list[_Use]] = {}
    for path, items in directives.items():
        for directive in items:
            for token in directive.tokens:
                use = _Use(token, directive.span, "comment")
                if directive.file_level:
                    whole_file.setdefault(path, []).append(use)
                    continue
                inline.setdefault((path, directive.span.line), []).append(use)
                if directive.own_line:
                    inline.setdefault((path, directive.span.line + 1), []).append(use)
    by_subject: dict[str, list[_Use]] = {}
    for obj in objects:
        value = obj.annotations.get(ANNOTATION)
        if value:
            span = obj.annotation_span or obj.name_span
            by_subject[obj.ref.subject] = [
                _Use(t.strip(), span, "annotation") for t in value.split(",") if t.strip()
            ]
    outcome = Outcome([])
    for finding in findings:
        candidates = [
            *whole_file.get(finding.span.path, ()),
            *inline.get((finding.span.path, finding.span.line), ()),
            *(by_subject.get(finding.subject, ()) if finding.subject else ()),
        ]
        hit = [use for use in candidates if _matches(use.token, finding, known)]
        if hit:
            used.update(hit)
            outcome.suppressed += 1
        else:
            outcome.kept.append(finding)
    if unused_severity is None:
        return outcome
    every = {
        u for uses in (*inline.values(), *whole_file.values(), *by_subject.values()) for u in uses
    }
    for use in sorted(every - used, key=lambda u: (u.span, u.token)):
        if not reported(use.span.path):
            continue
        token = use.token.lower()
        code = known.get(token)
        if token != "all" and code is None:
            message = f"{use.token} in this {use.what} is not a netlint rule (see `netlint rules`)"
        elif token == "all" or code in ran:
            message = (
                f"unused suppression: {use.token} reported nothing this {use.what} covers; "
                "remove it"
            )
        else:
            continue  # the rule did not run, so the suppression may still be needed
        outcome.unused.append(
            Finding(UNUSED_CODE, "unused-suppression", unused_severity, message, use.span)
        )
    return outcome


# ---------------------------------------------------------------------------------------------
# Baseline


def fingerprints(findings: Sequence[Finding], text_of: Callable[[str], str | None]) -> list[str]:
    """A fingerprint per finding that survives unrelated edits: the rule, the file, the object
    and the text of the finding's line (not its number), plus an occurrence count for repeats."""
    seen: Counter[str] = Counter()
    out: list[str] = []
    lines: dict[str, LineIndex] = {}
    for finding in findings:
        path = finding.span.path
        if path not in lines:
            lines[path] = LineIndex(text_of(path) or "")
        anchor = lines[path].line(finding.span.line)
        key = "\0".join((finding.code, path, finding.subject or "", " ".join(anchor.split())))
        seen[key] += 1
        digest = hashlib.sha256(f"{key}\0{seen[key]}".encode()).hexdigest()[:32]
        out.append(digest)
    return out


def write_baseline(
    path: Path, findings: Sequence[Finding], text_of: Callable[[str], str | None]
) -> int:
    entries = {
        fp: {"code": f.code, "path": f.span.path, "line": f.span.line, "message": f.message}
        for fp, f in zip(fingerprints(findings, text_of), findings, strict=True)
    }
    document = {"netlint-baseline": 1, "findings": dict(sorted(entries.items()))}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return len(entries)


class BaselineError(Exception):
    pass


def read_baseline(path: Path) -> set[str]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BaselineError(f"{path}: cannot read the baseline: {exc}") from None
    if not isinstance(document, dict) or document.get("netlint-baseline") != 1:
        raise BaselineError(f"{path}: not a netlint baseline (written by --write-baseline)")
    entries = document.get("findings")
    if not isinstance(entries, dict):
        raise BaselineError(f"{path}: the baseline has no 'findings' mapping")
    return set(entries)
