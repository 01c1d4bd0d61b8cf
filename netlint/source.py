"""Source positions.

Every position in netlint is 1-based, with an exclusive end column, counted in Unicode code
points (what the YAML parser counts). ruamel's marks are 0-based: :func:`span_of_marks` is the
only place that converts them, and reporters convert code points to UTF-16 units where a format
asks for that.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Span(NamedTuple):
    """A region of a file: 1-based line and column, ``end_col`` exclusive."""

    path: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"

    @property
    def first_line(self) -> Span:
        """The part of the span on its first line (tight regions keep PR annotations visible)."""
        if self.end_line == self.line:
            return self
        return Span(self.path, self.line, self.col, self.line, self.col + 1)


def span_of_marks(path: str, start: Any, end: Any) -> Span:
    """Convert a pair of 0-based parser marks (``.line``, ``.column``) to a Span."""
    return Span(path, start.line + 1, start.column + 1, end.line + 1, end.column + 1)


def point(path: str, line0: int, col0: int, width: int = 1) -> Span:
    """A span of ``width`` characters at a 0-based (line, column), as parsers report errors."""
    return Span(path, line0 + 1, col0 + 1, line0 + 1, col0 + 1 + width)


def file_span(path: str) -> Span:
    """The start of a file, for findings about the file as a whole (size, encoding)."""
    return Span(path, 1, 1, 1, 1)
