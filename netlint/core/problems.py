"""What is wrong with an input, found while reading it, tagged by kind rather than by the rule
that reports it: the reading layer knows what it found (a syntax error, an object the API server
would reject, its own failure), not which rule codes exist. Input rules (``ProblemRule`` in
:mod:`netlint.analysis.context`) each declare the kind they report."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from netlint.core.source import Span

__all__ = ["Problem", "ProblemKind"]


class ProblemKind(enum.Enum):
    """What kind of problem an input has. The values are stable: the cache stores them."""

    #: Not YAML/JSON that Kubernetes could read: unreadable, undecodable, a syntax error, a
    #: duplicate key, or over a limit (too large, too deep, too many documents, alias bombs).
    SYNTAX = "syntax"
    #: Well-formed, but the API server would reject it: wrong structure, type or value.
    INVALID = "invalid"
    #: netlint's own failure on an input (a bug), reported so that the rest is still linted.
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with the input, found while reading it: reported by the input rule whose
    kind is ``kind``."""

    kind: ProblemKind
    message: str
    span: Span
    #: ``Kind/namespace/name`` of the object it was found in, when known.
    subject: str | None = None
