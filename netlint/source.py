"""Source positions.

Every position in netlint is 1-based, with an exclusive end column, counted in Unicode code
points (what the YAML parser counts). libyaml's marks are 0-based: :class:`Positions` is the
only place that converts them, and reporters convert code points to UTF-16 units where a format
asks for that.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Any, Final, NamedTuple


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


#: Line breaks as editors and GitHub count them. YAML 1.1 also breaks lines at NEL, LS and PS,
#: which editors show inside a line.
_EDITOR_BREAK: Final = re.compile("\r\n|\r|\n")
_YAML_ONLY_BREAKS: Final = ("\x85", "\u2028", "\u2029")


class Positions:
    """Turns one file's 0-based parser marks into Spans: the one place where that happens.

    libyaml counts NEL, LS and PS as line breaks; editors do not. For the rare file that holds
    them, positions are recomputed from the mark's character index, so that a finding's line is
    the line an editor shows.
    """

    __slots__ = ("_starts", "has_merge_keys", "path")

    def __init__(self, path: str, text: str | None = None) -> None:
        self.path = path
        #: Whether the text may hold YAML merge keys (`<<`); unknown text may.
        self.has_merge_keys = text is None or "<<" in text
        self._starts: list[int] | None = None
        text = text or ""
        if any(c in text for c in _YAML_ONLY_BREAKS):
            self._starts = [0] + [m.end() for m in _EDITOR_BREAK.finditer(text)]

    def _at(self, mark: Any) -> tuple[int, int]:
        if self._starts is None:
            return mark.line, mark.column
        line = bisect_right(self._starts, mark.index) - 1
        return line, mark.index - self._starts[line]

    def span(self, start: Any, end: Any) -> Span:
        """The span between two parser marks (``.line``, ``.column``, ``.index``)."""
        if self._starts is None:  # the common case, on the hot path of every node
            return Span(self.path, start.line + 1, start.column + 1, end.line + 1, end.column + 1)
        line, col = self._at(start)
        end_line, end_col = self._at(end)
        return Span(self.path, line + 1, col + 1, end_line + 1, end_col + 1)

    def point(self, mark: Any, width: int = 1) -> Span:
        """``width`` characters at a parser mark (where parsers report errors)."""
        line, col = self._at(mark)
        return point(self.path, line, col, width)


def text_point(path: str, text: str, index: int) -> Span:
    """A one-character span at a character index of ``text``, lines split as editors do."""
    starts = [0] + [m.end() for m in _EDITOR_BREAK.finditer(text, 0, index)]
    return point(path, len(starts) - 1, index - starts[-1])


def point(path: str, line0: int, col0: int, width: int = 1) -> Span:
    """A span of ``width`` characters at a 0-based (line, column), as parsers report errors."""
    return Span(path, line0 + 1, col0 + 1, line0 + 1, col0 + 1 + width)
