"""What a run produced, in the shape every reporter reads."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from netlint.core import escape
from netlint.core.findings import Finding, Severity
from netlint.core.rule import RuleMeta
from netlint.read.discover import Skipped


@dataclass(slots=True)
class Report:
    findings: list[Finding]
    #: The project root: finding paths are relative to it (POSIX), and SARIF URIs too.
    root: Path
    rules: Sequence[RuleMeta]
    files_linted: int = 0
    files_reported: int = 0
    objects: Counter[str] = field(default_factory=Counter)
    skipped: list[Skipped] = field(default_factory=list)
    #: Stdin content standing in for a file (``--stdin-filename``).
    overrides: dict[str, str] = field(default_factory=dict)
    suppressed: int = 0
    #: Findings left out because the baseline lists them.
    baselined: int = 0

    def severity_counts(self) -> Counter[Severity]:
        return Counter(f.severity for f in self.findings)

    def display_path(self, path: str) -> str:
        """A finding's path as the user should see it: relative to the current directory, and
        escaped for a terminal or CI log (a file name is the repo's to choose: it may hold
        newlines, ESC or bytes that are not UTF-8, or start with a workflow command's ``::``)."""
        return escape.path_text(_shown(str(self.root), os.getcwd(), path))

    def repo_path(self, path: str) -> str:
        """A finding's path relative to the top of the git work tree (GitHub resolves SARIF and
        annotation paths there), or to the project root outside git."""
        top = _git_top(str(self.root))
        if top is None or top == str(self.root):
            return path
        return Path(os.path.relpath(self.root / path, top)).as_posix()

    def text_of(self, path: str) -> str | None:
        """The current text of a file (for fingerprints and UTF-16 columns), or None."""
        if path in self.overrides:
            return self.overrides[path]
        return _read(str(self.root / path))


def _shown(root: str, cwd: str, path: str) -> str:
    """``path`` (relative to ``root``, normalised) relative to ``cwd``."""
    prefix = _prefix(root, cwd)
    if prefix is not None:
        return prefix + path
    return Path(os.path.relpath(os.path.join(root, path), cwd)).as_posix()


@lru_cache(maxsize=64)
def _prefix(root: str, cwd: str) -> str | None:
    """What makes a path relative to ``root`` relative to ``cwd`` when ``root`` is ``cwd`` or
    below it (the usual run), else None: a report names thousands of files, and a ``relpath``
    of each was a tenth of a warm run of a big repo."""
    if root == cwd:
        return ""
    if root.startswith(cwd.rstrip("/") + "/"):
        return Path(os.path.relpath(root, cwd)).as_posix() + "/"
    return None


@lru_cache(maxsize=64)
def _git_top(root: str) -> str | None:
    from netlint.read.discover import find_git_root

    found = find_git_root(Path(root))
    return str(found) if found is not None else None


@lru_cache(maxsize=256)
def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return None
