"""GitHub's ``primaryLocationLineHash`` (github/codeql-action ``src/fingerprints.ts``).

codeql-action feeds every UTF-16 unit of the file, minus spaces and tabs and with CR/CRLF read
as LF, through a rolling hash of the last 100 units; a line's hash is the window that starts at
the line's first unit, and ``:n`` counts how often that hash appeared on earlier lines. A rolling
hash over a window is the window's polynomial hash, so this module computes the polynomial hash
of each line's window directly from a normalised copy of the text, and counts repeats by
comparing windows: one pass per line instead of one Python step per character.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from typing import Final

from netlint.core.source import LineIndex

_BLOCK: Final = 100
_MASK: Final = (1 << 64) - 1
_POWERS: Final = [pow(37, _BLOCK - 1 - j, 1 << 64) for j in range(_BLOCK)]
_EOF: Final = "\uffff"
_DROP: Final = str.maketrans("", "", " \t")


def _units(text: str) -> str:
    """The text as UTF-16 code units, one str character each (surrogates kept apart)."""
    if text.isascii() or all(ord(c) < 0x10000 for c in text):
        return text
    raw = array("H", text.encode("utf-16-le", "surrogatepass"))
    return "".join(map(chr, raw))


def line_hashes(text: str, lines: Iterable[int] | None = None) -> dict[int, str]:
    """``{line: "hash:n"}`` for the given 1-based lines (all lines when None)."""
    # CRLF and CR read as LF (codeql-action does that), spaces and tabs dropped: the line
    # breaks left are the netlint.core.source.LineIndex ones every other format counts with.
    kept = _units(text.replace("\r\n", "\n").replace("\r", "\n").translate(_DROP))
    # The EOF sentinel starts a line only after a final line break, as the index's last line.
    starts = LineIndex(kept).starts
    units = kept + _EOF + "\0" * _BLOCK
    wanted = set(range(1, len(starts) + 1)) if lines is None else set(lines)
    last = max(wanted, default=0)
    counts: dict[str, int] = {}
    out: dict[int, str] = {}
    for number, start in enumerate(starts, start=1):
        if number > last:
            break
        window = units[start : start + _BLOCK]
        seen = counts[window] = counts.get(window, 0) + 1
        if number in wanted:
            value = 0
            for power, unit in zip(_POWERS, window, strict=True):
                value += power * ord(unit)
            out[number] = f"{value & _MASK:x}:{seen}"
    return out
