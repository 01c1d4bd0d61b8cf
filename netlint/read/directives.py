"""Suppression comments (``# netlint: disable=...``, ``# netlint: disable-file=...``), found
while a file is read so that its cached result carries them; :mod:`netlint.run.suppress`
applies them to findings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from netlint.core.source import LineIndex, Span

__all__ = ["Directive", "scan"]

_DIRECTIVE: Final = re.compile(
    # A comment starts a line (after LF, CR or CRLF: `^` alone knows only LF) or follows a blank.
    r"(?P<lead>(?:^|(?<=\r))[ \t]*|[ \t])#[ \t]*netlint:[ \t]*"
    r"(?P<kind>disable-file|disable)[ \t]*=[ \t]*"
    r"(?P<tokens>[A-Za-z0-9_\-]+(?:[ \t]*,[ \t]*[A-Za-z0-9_\-]+)*)",
    re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class Directive:
    """One suppression comment: the rules it names and where it applies."""

    tokens: tuple[str, ...]
    file_level: bool
    #: The comment is alone on its line, so it covers the next line too.
    own_line: bool
    span: Span


def scan(path: str, text: str) -> list[Directive]:
    """The suppression comments of a file, on the lines an editor shows (CRLF, CR, LF)."""
    if "netlint:" not in text:
        return []
    index = LineIndex(text)
    found: list[Directive] = []
    for match in _DIRECTIVE.finditer(text):
        start = match.start() + len(match.group("lead"))
        line, col = index.point(start)
        tokens = tuple(t.strip() for t in match.group("tokens").split(",") if t.strip())
        found.append(
            Directive(
                tokens=tokens,
                file_level=match.group("kind") == "disable-file",
                own_line=text[index.start(line) : start].strip(" \t") == "",
                span=Span(path, line, col, line, col + match.end() - start),
            )
        )
    return found
