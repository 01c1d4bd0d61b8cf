"""Testing rules against fixtures with ``# expect:`` markers: for netlint's own suite and for
plugin authors alike.

A fixture is a manifest whose lines say which findings they must get, in a comment at the end
of the line::

    podSelector: {matchLabels: {app: report}}   # expect: NL102
    - from: [{podSelector: {}}]                 # expect: NL203@9 "frontend", NL105
    # expect-below: EX101
    {"kind": "NetworkPolicy"}

A marker is ``CODE``, optionally followed by ``@COLUMN`` (1-based, in code points, where the
finding's span starts) and by a double-quoted substring of the finding's message (``\\"`` and
``\\\\`` escape a quote and a backslash). Several markers on a line are separated by commas.
``# expect-below:`` marks the next line, for lines that cannot hold a comment (JSON, a block
scalar). A marker without a column or message accepts every finding of its code on its line,
so one ``# expect: NL105`` covers a line with two NL105 findings; a marker with either accepts
only the findings that match it. The markers of a file must account for every finding and each
marker must match at least one.

:func:`assert_markers` lints a fixture and compares::

    from netlint.testing import assert_markers

    def test_fixture() -> None:
        assert_markers(Path(__file__).parent / "fixtures" / "bad.yaml", rules=["EX101"])

This module sits at the top of the package's layers (next to ``netlint.integrations``, see
``[tool.importlinter]`` in pyproject.toml): it runs whole checks, so it imports the run layer;
nothing in netlint imports it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from netlint.api import Finding, ProblemRule
from netlint.run.registry import load_catalogue
from netlint.run.runner import CheckRequest, check

__all__ = [
    "Marker",
    "assert_markers",
    "describe",
    "expected_markers",
    "fixture_files",
    "lint_fixture",
    "mismatch_report",
    "mismatches",
    "parse_markers",
]

#: The manifests a fixture folder holds; its ``.netlint.yaml`` configures the run instead.
MANIFEST_SUFFIXES: Final = (".yaml", ".yml", ".json")
CONFIG_NAME: Final = ".netlint.yaml"

_CODE: Final = r"[A-Z]+[0-9]+"
_MESSAGE: Final = r'"(?:[^"\\]|\\.)*"'
_ITEM: Final = rf"{_CODE}(?:@[0-9]+)?(?:\s*{_MESSAGE})?"
_MARKER: Final = re.compile(
    rf"#\s*expect(?P<below>-below)?:\s*(?P<items>{_ITEM}(?:\s*,\s*{_ITEM})*)"
)
_PARTS: Final = re.compile(
    rf"(?P<code>{_CODE})(?:@(?P<column>[0-9]+))?(?:\s*(?P<message>{_MESSAGE}))?"
)
_ESCAPE: Final = re.compile(r"\\(.)")


@dataclass(frozen=True, slots=True)
class Marker:
    """One expected finding: at ``line`` of ``path`` (relative to the fixture's root, POSIX
    separators), of ``code``; at ``column`` and with ``message`` in its message when given."""

    path: str
    line: int
    code: str
    column: int | None = None
    message: str | None = None

    def accepts(self, finding: Finding) -> bool:
        span = finding.span
        return (
            (span.path, span.line, finding.code) == (self.path, self.line, self.code)
            and (self.column is None or span.col == self.column)
            and (self.message is None or self.message in finding.message)
        )

    @property
    def sort_key(self) -> tuple[str, int, str, int, str]:
        return (self.path, self.line, self.code, self.column or 0, self.message or "")

    def __str__(self) -> str:
        column = "" if self.column is None else f"@{self.column}"
        message = "" if self.message is None else f' "{self.message}"'
        return f"{self.path}:{self.line}: {self.code}{column}{message}"


def parse_markers(text: str, path: str = "") -> list[Marker]:
    """The markers of a file's text, in the order they are written."""
    out: list[Marker] = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in _MARKER.finditer(line):
            target = number + 1 if match.group("below") else number
            for part in _PARTS.finditer(match.group("items")):
                column = part.group("column")
                message = part.group("message")
                out.append(
                    Marker(
                        path,
                        target,
                        part.group("code"),
                        int(column) if column is not None else None,
                        _ESCAPE.sub(r"\1", message[1:-1]) if message is not None else None,
                    )
                )
    return out


def fixture_files(path: Path) -> list[Path]:
    """The manifests of a fixture: the file itself, or every manifest under the folder."""
    if not path.is_dir():
        return [path]
    # Hidden folders (.git, .netlint_cache) hold no fixtures, as netlint's discovery prunes them.
    return sorted(
        p
        for p in path.rglob("*")
        if p.suffix in MANIFEST_SUFFIXES
        and p.name != CONFIG_NAME
        and not any(part.startswith(".") for part in p.relative_to(path).parts[:-1])
        and p.is_file()
    )


def _root(path: Path) -> Path:
    return path if path.is_dir() else path.parent


def expected_markers(path: Path | str, *, root: Path | None = None) -> list[Marker]:
    """The markers of a fixture file or of every manifest under a fixture folder, with paths
    relative to ``root`` (by default the folder, or the file's folder)."""
    # Resolved as the run resolves its root, so both name files the same way.
    path = Path(path).resolve()
    base = root.resolve() if root is not None else _root(path)
    out: list[Marker] = []
    for file in fixture_files(path):
        # Undecodable bytes are a fixture's business (NL001 tests have them), not the parser's.
        text = file.read_bytes().decode("utf-8", errors="replace")
        out.extend(parse_markers(text, file.relative_to(base).as_posix()))
    return out


def lint_fixture(
    path: Path | str, rules: Sequence[str] | None = None, *, config: Path | str | None = None
) -> list[Finding]:
    """Lint a fixture file, or a fixture folder as one project, and return its findings.

    The project's root is the folder (or the file's folder), so the finding paths are relative
    to it. ``config`` defaults to the root's ``.netlint.yaml`` when there is one. ``rules``
    (codes or names) selects what runs, with NL001, NL002 and NL900 always beside them; None
    runs what the config (or netlint's defaults) selects. Nothing is cached.
    """
    path = Path(path).resolve()
    root = _root(path)
    if config is None and (root / CONFIG_NAME).is_file():
        config = root / CONFIG_NAME
    # The input rules (every ProblemRule: syntax, invalid manifests, crashes) run beside the
    # rules a test names: a fixture that does not parse, or a rule that crashes, then shows as
    # an unexpected finding instead of passing in silence.
    select = None if rules is None else [*rules, *(c for c in _input_rules() if c not in rules)]
    request = CheckRequest(
        paths=[str(path)],
        root=root,
        # Only the fixture is context, not its neighbours: a rule folder holds many cases.
        context=[path],
        select=select,
        config=str(config) if config is not None else None,
        use_cache=False,
    )
    return list(check(request).report.findings)


def mismatches(
    markers: Iterable[Marker], findings: Iterable[Finding]
) -> tuple[list[Marker], list[Finding]]:
    """``(missing, unexpected)``: the markers that no finding matches, and the findings that no
    marker accepts."""
    markers = list(markers)
    findings = list(findings)
    missing = [m for m in markers if not any(m.accepts(f) for f in findings)]
    unexpected = [f for f in findings if not any(m.accepts(f) for m in markers)]
    return missing, unexpected


def describe(finding: Finding) -> str:
    """A finding as a mismatch report lists it: where, which code, what it says."""
    return f"{finding.span}: {finding.code} {finding.message}"


def mismatch_report(missing: Sequence[Marker], unexpected: Sequence[Finding]) -> str:
    """What :func:`assert_markers` raises with: one line per missing marker and per unexpected
    finding, each with its file and line."""
    lines = [f"missing:    {m}" for m in sorted(missing, key=lambda m: m.sort_key)]
    lines += [f"unexpected: {describe(f)}" for f in sorted(unexpected, key=lambda f: f.sort_key)]
    return "\n".join(lines)


def assert_markers(
    path: Path | str, rules: Sequence[str] | None = None, *, config: Path | str | None = None
) -> list[Finding]:
    """Lint a fixture (as :func:`lint_fixture`) and raise AssertionError, listing what is
    missing and what is unexpected, unless its findings are exactly those its markers name.
    Returns the findings, for further checks."""
    path = Path(path)
    findings = lint_fixture(path, rules, config=config)
    missing, unexpected = mismatches(expected_markers(path), findings)
    if missing or unexpected:
        raise AssertionError(
            f"the findings of {path} do not match its markers:\n"
            + mismatch_report(missing, unexpected)
        )
    return findings


def _input_rules() -> list[str]:
    """The codes of the catalogue's input rules (NL001, NL002, NL900 among the built-ins)."""
    return [r.meta.code for r in load_catalogue().rules if isinstance(r, ProblemRule)]
