"""Findings: immutable values with a 1-based span, a short message and, apart, a fix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from netlint.core.source import Span


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.NOTE: 1, Severity.WARNING: 2, Severity.ERROR: 3}


@dataclass(frozen=True, slots=True)
class Related:
    """Another place a finding refers to (the rule that shadows this one, the first duplicate)."""

    span: Span
    message: str


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    name: str
    severity: Severity
    message: str
    span: Span
    related: tuple[Related, ...] = ()
    #: ``Kind/namespace/name`` of the object the finding is about, when there is one.
    subject: str | None = None
    #: How to fix it, apart from the message (which says what is wrong, in about a line): the
    #: text format prints it as ``help:``, SARIF as markdown, the language server on a line of
    #: its own.
    fix: str | None = None

    @property
    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.span.path, self.span.line, self.span.col, self.code, self.message)
