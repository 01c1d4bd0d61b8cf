"""Which files to read: manifests under the roots, minus what git ignores and config excludes."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Final

EXTENSIONS: Final = (".yaml", ".yml", ".json")
#: Never descended into: VCS metadata and netlint's own cache.
_PRUNE: Final = frozenset((".git", ".hg", ".svn", ".netlint_cache"))
#: netlint's own configuration is YAML but not a manifest.
CONFIG_NAMES: Final = (".netlint.yaml", ".netlint.yml")


@dataclass(frozen=True, slots=True)
class Skipped:
    path: str
    reason: str


@dataclass(slots=True)
class Discovery:
    """Files to lint, as paths relative to the project root (POSIX separators)."""

    root: Path
    files: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    #: Why .gitignore was not applied, when it could not be.
    note: str | None = None


class GlobError(ValueError):
    """An exclude pattern that means nothing (a bad range, an empty class)."""


#: Cached transitions per glob, cleared when they grow past this (memory stays bounded).
_MAX_CACHED: Final = 1 << 16

# Tokens of a compiled glob. A state of its automaton is an int: 2*i is "before token i",
# 2*i+1 is "inside the leading ``.*`` of a ``**/`` at token i"; 2*len(tokens) accepts.
# _STAR and the kinds after it are optional: they may match nothing.
_LIT, _ONE, _CLASS, _STAR, _ANY, _DIRS = range(6)
_Token = tuple[int, str, bool, tuple[tuple[str, str], ...]]


class Glob:
    """A gitignore-like glob: ``*`` within a segment, ``**`` across segments, ``?``, ``[...]``.

    A pattern without ``/`` matches a file or directory name at any depth, as in .gitignore; a
    match on a directory matches everything below it. ``**/`` is zero or more whole segments,
    another ``**`` any run of characters, slashes included; ``?`` and ``[...]`` (``[!...]`` or
    ``[^...]`` negated) one character other than ``/``; an unclosed ``[`` is a plain ``[``.

    Matching runs the pattern's automaton over the path (states are sets of token positions,
    never backtracking), so it takes at most len(pattern) * len(path) steps whatever both are;
    a regex translation backtracks exponentially on ``**a**a**a**b``. Transitions are cached
    per (states, path segment): the directory names a repo repeats cost one lookup each.
    """

    __slots__ = ("_cache", "_start", "pattern", "steps", "tokens")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        anchored = "/" in pattern.rstrip("/")
        body = pattern.strip("/")
        tokens: list[_Token] = [] if anchored else [(_DIRS, "", False, ())]
        i = 0
        while i < len(body):
            c = body[i]
            if body.startswith("**/", i):
                tokens.append((_DIRS, "", False, ()))
                i += 3
                continue
            if body.startswith("**", i):
                tokens.append((_ANY, "", False, ()))
                i += 2
                continue
            if c == "*":
                tokens.append((_STAR, "", False, ()))
            elif c == "?":
                tokens.append((_ONE, "", False, ()))
            elif c == "[" and body.find("]", i + 1) != -1:
                end = body.find("]", i + 1)
                tokens.append(_char_class(body[i + 1 : end], pattern))
                i = end
            else:
                tokens.append((_LIT, c, False, ()))
            i += 1
        self.tokens: tuple[_Token, ...] = tuple(tokens)
        #: Automaton steps taken so far (one per state per character): what the tests bound.
        self.steps = 0
        self._cache: dict[tuple[frozenset[int], str], frozenset[int]] = {}
        self._start = self._closure({0})

    def match(self, path: str) -> bool:
        """Whether ``path`` (relative, POSIX separators) or one of its directories matches."""
        if len(self._cache) > _MAX_CACHED:
            self._cache.clear()
        accept = 2 * len(self.tokens)
        states = self._start
        for index, segment in enumerate(path.split("/")):
            if index:
                if accept in states:  # the pattern matched a directory above the path
                    return True
                states = self._advance(states, "/")
            states = self._advance(states, segment)
            if not states:
                return False
        return accept in states

    def _advance(self, states: frozenset[int], text: str) -> frozenset[int]:
        key = (states, text)
        found = self._cache.get(key)
        if found is None:
            found = states
            for char in text:
                if not found:
                    break
                found = self._step(found, char)
            self._cache[key] = found
        return found

    def _step(self, states: frozenset[int], char: str) -> frozenset[int]:
        out: set[int] = set()
        tokens = self.tokens
        self.steps += len(states)
        for state in states:
            i, inside = divmod(state, 2)
            if i == len(tokens):
                continue  # accepted before this character: only a "/" may follow (see match)
            kind, literal, negate, ranges = tokens[i]
            if inside or kind == _DIRS:
                out.add(2 * i + 1)
                if char == "/":
                    out.add(2 * i + 2)
            elif kind == _LIT:
                if char == literal:
                    out.add(2 * i + 2)
            elif kind == _ANY:
                out.add(state)
            elif char == "/":
                continue  # *, ? and [...] never match a slash
            elif kind == _STAR:
                out.add(state)
            elif kind == _ONE or any(lo <= char <= hi for lo, hi in ranges) != negate:
                out.add(2 * i + 2)
        return self._closure(out)

    def _closure(self, states: set[int]) -> frozenset[int]:
        """``states`` plus what the optional tokens (``*``, ``**``, ``**/``) let it skip to."""
        todo = sorted(states)
        seen = set(states)
        while todo:
            state = todo.pop()
            i, inside = divmod(state, 2)
            optional = not inside and i < len(self.tokens) and self.tokens[i][0] >= _STAR
            if optional and 2 * i + 2 not in seen:
                seen.add(2 * i + 2)
                todo.append(2 * i + 2)
        return frozenset(seen)


def _char_class(body: str, pattern: str) -> _Token:
    negate = body[:1] in ("!", "^")
    items = body[1:] if negate else body
    if not items:
        raise GlobError(f"empty character class [{body}] in {pattern!r}")
    ranges: list[tuple[str, str]] = []
    k = 0
    while k < len(items):
        if k + 2 < len(items) and items[k + 1] == "-":
            lo, hi = items[k], items[k + 2]
            if lo > hi:
                raise GlobError(f"bad range {lo}-{hi} in [{body}] of {pattern!r}")
            ranges.append((lo, hi))
            k += 3
        else:
            ranges.append((items[k], items[k]))
            k += 1
    return (_CLASS, "", negate, tuple(ranges))


def compile_glob(pattern: str) -> Glob:
    """A matcher for ``pattern``; GlobError when it means nothing."""
    return Glob(pattern)


def find_git_root(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


def _git_files(root: Path, scopes: Sequence[Path]) -> list[str] | None:
    """Tracked and untracked-but-not-ignored files, as git sees them; None if git cannot say.

    fsmonitor is switched off: a hostile repository's config must not make us run a command.
    """
    try:
        out = subprocess.run(
            [
                "git",
                "-c",
                "core.fsmonitor=false",
                "-C",
                str(root),
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
                "--deduplicate",
                "--",
                *(os.path.relpath(scope, root) for scope in scopes),
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return [p for p in out.stdout.decode("utf-8", "surrogateescape").split("\0") if p]


def _walk(root: Path, scope: Path) -> Iterable[str]:
    if not scope.is_dir() or scope.is_symlink():
        yield scope.relative_to(root).as_posix()
        return
    for directory, dirs, files in os.walk(scope, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in _PRUNE)
        base = Path(directory)
        for name in sorted(files):
            yield (base / name).relative_to(root).as_posix()


@lru_cache(maxsize=4096)
def _is_helm_templates(directory: str) -> bool:
    """``.../chart/templates`` where ``chart`` holds a Chart.yaml."""
    path = Path(directory)
    return path.name == "templates" and (path.parent / "Chart.yaml").is_file()


def discover(
    root: Path,
    scopes: Sequence[Path],
    exclude: Sequence[str] = (),
    *,
    explicit: Sequence[Path] = (),
) -> Discovery:
    """Manifest files under ``scopes`` (inside ``root``), plus ``explicit`` files as given."""
    root = real_path(root)
    found = Discovery(root)
    patterns = [compile_glob(p) for p in exclude]
    inside = [s for s in map(real_path, scopes) if _within(s, root)]
    listed: list[str] | None = None
    if find_git_root(root) is not None and inside:
        listed = _git_files(root, inside)
        if listed is None:
            found.note = "git could not list the files: .gitignore is not applied"
    if listed is None:
        listed = [p for scope in inside for p in _walk(root, scope)]
    listed += [
        real.relative_to(root).as_posix()
        for real in map(real_path, explicit)
        if _within(real, root)
    ]
    seen: set[str] = set()
    for rel in listed:
        if not rel.lower().endswith(EXTENSIONS) or rel in seen:
            continue
        if rel.rpartition("/")[2] in CONFIG_NAMES:
            continue
        seen.add(rel)
        if any(p.match(rel) for p in patterns):
            continue
        path = root / rel
        try:
            info = path.stat()
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                found.skipped.append(Skipped(rel, "symlink loop"))
            elif os.path.lexists(path):
                found.skipped.append(Skipped(rel, "dangling symlink"))
            continue  # listed by git but deleted from the work tree
        if path.is_symlink():
            target = real_path(path)
            if not _within(target, root):
                found.skipped.append(Skipped(rel, "symlink to a file outside the root"))
                continue
            real = target.relative_to(root).as_posix()
            if real in seen:
                continue
            seen.add(real)
            rel = real
        if not stat.S_ISREG(info.st_mode):
            found.skipped.append(Skipped(rel, "not a regular file"))
            continue
        if _is_helm_templates(str(path.parent)):
            found.skipped.append(Skipped(rel, "templated"))
            continue
        found.files.append(rel)
    found.files.sort()
    return found


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def real_path(path: Path) -> Path:
    """``path`` absolute with its links resolved. Unlike ``Path.resolve`` in Python 3.11 it
    never raises: a link loop stays unresolved, for the ``stat`` after it to report."""
    return Path(os.path.realpath(path))
