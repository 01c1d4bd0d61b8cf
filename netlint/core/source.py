"""Source positions.

Every position in netlint is 1-based, with an exclusive end column, counted in Unicode code
points (what the YAML parser counts). libyaml's marks are 0-based: :class:`Positions` is the
only place that converts them, and reporters convert code points to UTF-16 units where a format
asks for that.

Lines are broken where editors, GitHub and the LSP break them: at CRLF, CR and LF, and nowhere
else. :class:`LineIndex` is the one implementation of that: suppression comments, baseline
fingerprints, SARIF columns, GitHub's line hashes and LSP positions all count lines with it, so a
file with CR-only line endings, or with NEL, LS, PS, VT or FF inside a line (``str.splitlines``
breaks at those; YAML 1.1 at NEL, LS and PS), has the same line numbers everywhere.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_right
from itertools import accumulate
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


class LineIndex:
    """Where each line of a text starts, lines broken as editors break them (CRLF, CR, LF).

    Lines and columns are 1-based, columns counted in code points; a text ending with a line
    break has an empty last line, as editors show it.
    """

    __slots__ = ("starts", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        #: The index of every line's first character; ``starts[0] == 0``.
        self.starts: list[int]
        if "\r" in text:
            self.starts = [0, *(m.end() for m in _EDITOR_BREAK.finditer(text))]
        else:  # LF only, the common case: str.split and accumulate run in C
            widths = map((1).__add__, map(len, text.split("\n")))  # each line and its LF
            self.starts = list(accumulate(widths, initial=0))
            self.starts.pop()  # the end of the last line starts no line

    def __len__(self) -> int:
        return len(self.starts)

    def point(self, index: int) -> tuple[int, int]:
        """The 1-based (line, column) of a character index."""
        line = bisect_right(self.starts, index)
        return line, index - self.starts[line - 1] + 1

    def start(self, line: int) -> int:
        """The index of a 1-based line's first character (lines past the end: the text's end)."""
        if line > len(self.starts):
            return len(self.text)
        return self.starts[max(line, 1) - 1]

    def line(self, line: int) -> str:
        """A 1-based line's text without its line break; "" past the end."""
        if not 1 <= line <= len(self.starts):
            return ""
        end = self.starts[line] if line < len(self.starts) else len(self.text)
        # A line holds no CR or LF of its own: what rstrip takes is exactly its break.
        return self.text[self.starts[line - 1] : end].rstrip("\r\n")

    def units(self, line: int, col: int, encoding: str = "utf-16") -> int:
        """How many code units of ``encoding`` ("utf-8", "utf-16" or "utf-32") come before the
        1-based code-point column ``col`` of ``line``, capped at the line's end."""
        prefix = self.line(line)[: max(col - 1, 0)]
        return units(prefix, encoding)

    def position(self, line: int, col: int, encoding: str = "utf-16") -> tuple[int, int]:
        """The 0-based (line, code units of ``encoding``) of a 1-based line and code-point
        column, as the LSP counts positions, kept inside the text: a line before the first is
        the first, a line past the end is the end of the last line (a finding may point past
        the end of a buffer the client changed since)."""
        last = len(self.starts)
        if line > last:
            return last - 1, units(self.line(last), encoding)
        line = max(line, 1)
        return line - 1, self.units(line, col, encoding)

    def span_range(
        self, span: Span, encoding: str = "utf-16"
    ) -> tuple[tuple[int, int], tuple[int, int]]:
        """The 0-based start and end :meth:`position` of a span; an end that clamping put
        before the start is the start (clients reject a range that ends before it starts)."""
        start = self.position(span.line, span.col, encoding)
        end = self.position(span.end_line, span.end_col, encoding)
        return start, max(start, end)


def units(text: str, encoding: str = "utf-16") -> int:
    """The length of ``text`` in code units of ``encoding`` ("utf-8", "utf-16", "utf-32").

    Lone surrogates (a file name or text that was not valid UTF-8, decoded with
    surrogateescape) count as one unit each, as the U+FFFD a client shows in their place does
    in UTF-16 and UTF-32.
    """
    if encoding == "utf-32" or text.isascii():
        return len(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8", errors="surrogatepass"))
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


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
            self._starts = LineIndex(text).starts

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
    line, col = LineIndex(text).point(index)
    return point(path, line - 1, col - 1)


def point(path: str, line0: int, col0: int, width: int = 1) -> Span:
    """A span of ``width`` characters at a 0-based (line, column), as parsers report errors."""
    return Span(path, line0 + 1, col0 + 1, line0 + 1, col0 + 1 + width)


def read_bounded(fd: int, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of an open file: more than ``limit`` tells a file bigger than
    allowed, or one that grew after its ``fstat``, without ever holding more in memory."""
    chunks = []
    left = limit + 1
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
