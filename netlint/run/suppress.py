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
import re
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
from netlint.run.config import escape

ANNOTATION: Final = IGNORE_ANNOTATION
UNUSED_CODE: Final = "NL901"
#: The rule of files that do not parse (netlint.rules.nl001_parse_error).
PARSE_ERROR_CODE: Final = "NL001"


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
    broken: Collection[str] | None = None,
) -> Outcome:
    """Drop suppressed findings; report suppressions that suppressed nothing.

    ``known`` maps every rule's lower-case code, name and old names to its code, ``ran`` holds
    the codes of the rules that ran: a suppression of a rule that did not run is not "unused",
    one of a rule that does not exist is a typo. Unused suppressions are reported in ``reported``
    files only, and not at all when ``unused_severity`` is None (NL901 is off).

    Nor in ``broken`` files, whose YAML does not parse (by default: those with an NL001
    finding): the objects after the error are not read, so their findings are not known, and
    a suppression there may be needed again as soon as the file parses (an editor sees the
    file broken at almost every keystroke).
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
    if broken is None:
        broken = {f.span.path for f in findings if f.code == PARSE_ERROR_CODE}
    every = {
        u for uses in (*inline.values(), *whole_file.values(), *by_subject.values()) for u in uses
    }
    for use in sorted(every - used, key=lambda u: (u.span, u.token)):
        if not reported(use.span.path) or use.span.path in broken:
            continue
        token = use.token.lower()
        code = known.get(token)
        if token != "all" and code is None:
            message = f"{use.token} in this {use.what} is not a netlint rule"
            fix = "Correct the rule's code or name (`netlint rules` lists them), or remove it."
        elif token == "all" or code in ran:
            message = f"unused suppression: {use.token} reported nothing this {use.what} covers"
            fix = "Remove it: left in place, it would hide the next real finding it covers."
        else:
            continue  # the rule did not run, so the suppression may still be needed
        outcome.unused.append(
            Finding(UNUSED_CODE, "unused-suppression", unused_severity, message, use.span, fix=fix)
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


#: A fingerprint as ``fingerprints`` writes it.
_FINGERPRINT: Final = re.compile(r"[0-9a-f]{32}")
#: The fields ``write_baseline`` gives each entry, and their types (all informational).
_ENTRY_FIELDS: Final[Mapping[str, type]] = {"code": str, "path": str, "line": int, "message": str}


def read_baseline(path: Path) -> set[str]:
    """The fingerprints of a baseline file. Anything but a baseline as ``write_baseline``
    writes it is a BaselineError naming the file (a usage error), never a traceback: JSON
    nested too deeply for the decoder, a fingerprint that is not one, an entry that is not a
    mapping of the written fields (a baseline accepted half-read would hide findings, or show
    findings the user meant to accept)."""
    shown = escape(str(path))
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BaselineError(f"{shown}: cannot read the baseline: {escape(str(exc))}") from None
    except RecursionError:  # json's decoder recurses once per nested array or object
        raise BaselineError(f"{shown}: cannot read the baseline: nested too deeply") from None
    if not isinstance(document, dict) or document.get("netlint-baseline") != 1:
        raise BaselineError(f"{shown}: not a netlint baseline (written by --write-baseline)")
    entries = document.get("findings")
    if not isinstance(entries, dict):
        raise BaselineError(f"{shown}: the baseline has no 'findings' mapping")
    for key, entry in entries.items():
        problem = _entry_problem(key, entry)
        if problem is not None:
            raise BaselineError(
                f"{shown}: malformed baseline entry {escape(repr(key), 60)}: {problem} "
                "(write the baseline again with --write-baseline)"
            )
    return set(entries)


def _entry_problem(key: str, entry: object) -> str | None:
    if not _FINGERPRINT.fullmatch(key):
        return "the key is not a fingerprint (32 hexadecimal digits)"
    if not isinstance(entry, dict):
        return "not a mapping"
    for name, kind in _ENTRY_FIELDS.items():
        value = entry.get(name)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            return f"{name} is not {'an integer' if kind is int else 'a string'}"
    return None
