"""Escaping for every output format: nothing the scanned repo wrote reaches a terminal, a CI log,
a JSON parser or an editor as anything but inert text.

Object names, label keys and values, annotations, file names and parser excerpts all come from
the repo, and all pass through here on their way out:

- **text** (terminals, CI logs, editors' problem matchers): C0 and C1 controls (ESC, CR, LF...),
  DEL, the Unicode line and paragraph separators and the bidirectional controls ("Trojan
  Source": U+202E and friends) become visible escapes, ``\\x1b``, ``\\n``, ``\\u202e``. A byte of
  a file name that was not UTF-8 (Python holds it as a lone surrogate, U+DC80-U+DCFF) is shown
  as the byte, ``\\xe9``; any other lone surrogate as ``\\udXXX``. ``##[`` is written ``##\\x5b``,
  since GitHub's runner reads a legacy workflow command anywhere in a line, and a path that
  would start a line with ``::`` (a workflow command, once the runner trims leading blanks) or
  with blanks gets ``./`` in front. Backslashes are left alone: the escapes make hostile text
  harmless and visible, they are not meant to be decoded back.
- **github** (workflow commands): the same visible escapes except CR and LF, then GitHub's own
  ``escapeData`` (``%``, CR, LF) for the message and ``escapeProperty`` (also ``:`` and ``,``) for
  ``file`` and ``title``, as ``@actions/core`` does.
- **JSON and SARIF**: the value is kept (a JSON parser reads back the string the repo wrote),
  but the serialised text is always valid UTF-8 and safe to ``cat``: a lone surrogate becomes
  U+FFFD (a file name that is not UTF-8 shows U+FFFD where its bad bytes were; SARIF's URI
  carries the exact bytes, percent-encoded), and C1 controls, DEL, LS, PS and bidi controls are
  written as ``\\uXXXX`` JSON escapes (JSON itself escapes C0 controls).
- **SARIF messages** also escape the ``]`` of a ``](`` (SARIF 2.1.0 §3.11.6 reads
  ``[text](target)`` in a plain-text message as a link, which code scanning renders; brackets
  alone, as in ``ingress[0]``, are left as they are, since they link nothing).
- **LSP**: the text escapes, since editors show diagnostics in terminals too; the JSON-RPC
  stream is JSON, and gets no lone surrogates.
"""

from __future__ import annotations

import os
import re
from typing import Final
from urllib.parse import quote

#: What a terminal, a log viewer or a bidi-aware renderer may act on rather than show.
_UNSAFE: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
#: The same without CR and LF, which GitHub's workflow-command escaping encodes itself.
_UNSAFE_BUT_BREAKS: Final = re.compile(
    "[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
    "\u2066-\u2069\ud800-\udfff]"
)
#: In serialised JSON, where C0 controls are already escaped and LF is layout.
_JSON_UNSAFE: Final = re.compile(
    "[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_NAMED: Final = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
#: A legacy workflow command (``##[error]...``) is read anywhere in a line of a CI log.
_LEGACY_COMMAND: Final = "##["
_LEGACY_DEFUSED: Final = "##\\x5b"
#: The ``](`` that closes a link's text and opens its target, with any backslashes before it.
_SARIF_LINK: Final = re.compile(r"(\\*)\](?=\()")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: a byte that was not valid UTF-8
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x80:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def text(value: str) -> str:
    """Untrusted text for a terminal or a CI log: one line, every control visible."""
    if _UNSAFE.search(value) is not None:
        value = _UNSAFE.sub(_visible, value)
    if _LEGACY_COMMAND in value:
        value = value.replace(_LEGACY_COMMAND, _LEGACY_DEFUSED)
    return value


def path_text(path: str) -> str:
    """A file name for the start of a text line: escaped, and never read as a command."""
    value = text(path)
    if value[:1].isspace() or value.startswith(":"):
        value = "./" + value
    return value


def github_data(value: str) -> str:
    """A workflow command's message (``@actions/core`` ``escapeData``), controls visible."""
    if _UNSAFE_BUT_BREAKS.search(value) is not None:
        value = _UNSAFE_BUT_BREAKS.sub(_visible, value)
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_property(value: str) -> str:
    """A workflow command's property value (``escapeProperty``), controls visible."""
    return github_data(value).replace(":", "%3A").replace(",", "%2C")


def _json_char(match: re.Match[str]) -> str:
    char = match.group()
    if "\ud800" <= char <= "\udfff":
        return "\ufffd"
    return f"\\u{ord(char):04x}"


def json_document(serialised: str) -> str:
    """``json.dumps(..., ensure_ascii=False)`` output made valid UTF-8 and terminal-safe.

    The characters replaced can only occur inside JSON strings (JSON's own syntax is ASCII), so
    an escape there reads back as the same character; only lone surrogates, which no UTF-8
    text can hold, change: to U+FFFD.
    """
    if _JSON_UNSAFE.search(serialised) is None:
        return serialised
    return _JSON_UNSAFE.sub(_json_char, serialised)


def sarif_message(value: str) -> str:
    """A SARIF plain-text message in which no text is a link: ``](`` becomes ``\\](``, and the
    backslashes before it are doubled so that the repo cannot cancel the escape."""
    if "](" not in value:
        return value
    return _SARIF_LINK.sub(lambda m: m.group(1) * 2 + "\\]", value)


def markdown_text(value: str) -> str:
    """Text for a Markdown field (SARIF ``message.markdown``) that renders as written: no link,
    image, autolink or HTML can come of it (``[``, ``]``, ``<``, ``>`` and backslashes are
    escaped), while code spans and emphasis, which act on nothing, stay as they are."""
    return value.translate(_MARKDOWN_ESCAPES)


_MARKDOWN_ESCAPES: Final = str.maketrans({c: "\\" + c for c in "\\[]<>"})


def valid_unicode(value: str) -> str:
    """A string with every lone surrogate replaced by U+FFFD (for JSON-RPC and the like)."""
    if _SURROGATE.search(value) is None:
        return value
    return _SURROGATE.sub("\ufffd", value)


def uri_path(path: str) -> str:
    """A relative POSIX path as a URI reference: percent-encoded from the file name's bytes
    (``os.fsencode`` undoes surrogateescape), so a name that is not UTF-8 round-trips."""
    return quote(os.fsencode(path), safe="/")
