"""Which files to read: manifests under the roots, minus what git ignores and config excludes."""

from __future__ import annotations

import bisect
import errno
import itertools
import os
import stat
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Final

EXTENSIONS: Final = (".yaml", ".yml", ".json")
#: Never descended into: VCS metadata and netlint's own cache (nor read from a revision, nor
#: watched by the daemon).
PRUNE: Final = frozenset((".git", ".hg", ".svn", ".netlint_cache"))
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
    #: Files named explicitly that are not linted, and why (the CLI warns: a named file that
    #: silently yields nothing looks like a clean one).
    ignored: list[Skipped] = field(default_factory=list)
    #: The stat discovery took of each file (following a link inside the root): the cache and
    #: the loader judge freshness from it instead of asking the file system again.
    stats: dict[str, os.stat_result] = field(default_factory=dict)


class GlobError(ValueError):
    """An exclude pattern that means nothing (a bad range, an empty class)."""


#: Cached automaton transitions of one glob, or of all the globs of a GlobSet together: past
#: this many, the older half is dropped (memory stays bounded whatever the number of patterns).
_MAX_CACHED: Final = 1 << 16
#: Patterns that need the automaton (see GlobSet) a config may give; the others cost a set or
#: sorted-list lookup per path segment and have no cap.
MAX_AUTOMATON_GLOBS: Final = 1000

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

    __slots__ = ("_cache", "_slot", "_start", "pattern", "steps", "tokens")

    def __init__(self, pattern: str, cache: _Transitions | None = None) -> None:
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
        self._cache = _Transitions() if cache is None else cache
        self._slot = self._cache.slot()
        self._start = self._closure({0})

    @property
    def kind(self) -> tuple[str, str] | None:
        """What the pattern amounts to when a lookup can decide it, as (kind, text) (see
        GlobSet); None when it needs the automaton."""
        return _simple_kind(self.tokens)

    def match(self, path: str) -> bool:
        """Whether ``path`` (relative, POSIX separators) or one of its directories matches."""
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
        key = (self._slot, states, text)
        found = self._cache.get(key)
        if found is None:
            found = states
            for char in text:
                if not found:
                    break
                found = self._step(found, char)
            self._cache.put(key, found)
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


class _Transitions:
    """The automaton transitions cached for one glob or for all the globs of a set, keyed by
    (glob, states, text), under one bound: with thousands of patterns, a bound per pattern would
    multiply by their number. Past the bound the older half goes (insertion order), so the
    directory names of the paths being matched now stay cached."""

    __slots__ = ("_entries", "_globs", "limit")

    def __init__(self, limit: int = _MAX_CACHED) -> None:
        self.limit = limit
        self._entries: dict[tuple[int, frozenset[int], str], frozenset[int]] = {}
        self._globs = 0

    def __len__(self) -> int:
        return len(self._entries)

    def slot(self) -> int:
        """A number for one more glob sharing this cache."""
        self._globs += 1
        return self._globs

    def get(self, key: tuple[int, frozenset[int], str]) -> frozenset[int] | None:
        return self._entries.get(key)

    def put(self, key: tuple[int, frozenset[int], str], value: frozenset[int]) -> None:
        if len(self._entries) >= self.limit:
            for old in list(itertools.islice(self._entries, max(1, self.limit // 2))):
                del self._entries[old]
        self._entries[key] = value


def _literal(tokens: Sequence[_Token]) -> str | None:
    """The text of ``tokens`` if they are all literal characters and at least one."""
    if not tokens or any(kind != _LIT for kind, _, _, _ in tokens):
        return None
    return "".join(literal for _, literal, _, _ in tokens)


def _simple_kind(tokens: Sequence[_Token]) -> tuple[str, str] | None:
    """(kind, text) when ``tokens`` match exactly what a lookup decides (see GlobSet.match);
    None when only the automaton can say. Each case is the automaton's own reading:

    - ``name``: ``**/`` then literal characters without ``/`` (``vendor``, ``**/vendor``): a
      path segment equal to the text (the ``**/`` starts it at a segment, and a match must end
      at one);
    - ``suffix`` / ``prefix``: the same with a ``*`` before / after the text (``*.json``,
      ``tmp*``): a segment ending / starting with it (``*`` never crosses a ``/``);
    - ``directory``: ``**/name/**``: a segment other than the last equal to the text;
    - ``path``: anchored literal characters (``k8s/base``): the path itself or a directory of it;
    - ``path-prefix``: anchored literal characters then ``*`` or ``**`` (``k8s/a*``,
      ``gen/**``): a path starting with the text (the wildcard takes the rest of the segment,
      and a match on a directory covers what is below it).
    """
    if not tokens:
        return None
    first = tokens[0][0]
    if first == _DIRS:
        rest = tokens[1:]
        if len(rest) >= 3 and rest[-1][0] == _ANY and rest[-2][:2] == (_LIT, "/"):
            name = _literal(rest[:-2])
            if name is not None and "/" not in name:
                return ("directory", name)
            return None
        if any(kind in (_DIRS, _ANY) or literal == "/" for kind, literal, _, _ in rest):
            return None
        text = _literal(rest)
        if text is not None:
            return ("name", text)
        if len(rest) >= 2 and rest[0][0] == _STAR and (text := _literal(rest[1:])) is not None:
            return ("suffix", text)
        if len(rest) >= 2 and rest[-1][0] == _STAR and (text := _literal(rest[:-1])) is not None:
            return ("prefix", text)
        return None
    text = _literal(tokens)
    if text is not None:
        return ("path", text)
    if tokens[-1][0] in (_STAR, _ANY) and (text := _literal(tokens[:-1])) is not None:
        return ("path-prefix", text)
    return None


class _Prefixes:
    """Whether any of a set of strings is a prefix of a text, in one binary search: with the
    set sorted and freed of strings that extend another one, the only candidate is the
    greatest string not above the text (a prefix-free string between it and the text would
    differ from the text before its own end, so would be above it)."""

    __slots__ = ("_sorted",)

    def __init__(self, items: Iterable[str]) -> None:
        kept: list[str] = []
        for item in sorted(set(items)):
            if not kept or not item.startswith(kept[-1]):
                kept.append(item)
        self._sorted = kept

    def __bool__(self) -> bool:
        return bool(self._sorted)

    def prefix_of(self, text: str) -> bool:
        at = bisect.bisect_right(self._sorted, text)
        return at > 0 and text.startswith(self._sorted[at - 1])


class GlobSet:
    """Many exclude patterns, matched together at the cost of a few lookups per path segment
    for the common shapes (literal names and paths, ``*suffix``, ``prefix*``, ``dir/**``; see
    ``_simple_kind``), the automaton running only for the rest, whose transitions share one
    bounded cache. 20,000 patterns against 2,000 paths cost what a handful did; one Glob per
    pattern took 17 µs per pattern and path (8-14 s for 2,000 x 300) and a cache each."""

    __slots__ = (
        "_cache",
        "_directories",
        "_empty",
        "_names",
        "_path_prefixes",
        "_paths",
        "_prefixes",
        "_suffixes",
        "automaton_runs",
        "general",
    )

    def __init__(self, patterns: Iterable[str]) -> None:
        self._cache = cache = _Transitions()
        by_kind: dict[str, list[str]] = {}
        self.general: list[Glob] = []
        patterns = list(patterns)
        self._empty = not patterns  # the common case, asked of every file of a big repo
        for pattern in patterns:
            glob = Glob(pattern, cache)
            kind = glob.kind
            if kind is None:
                self.general.append(glob)
            else:
                by_kind.setdefault(kind[0], []).append(kind[1])
        self._names = frozenset(by_kind.get("name", ()))
        self._directories = frozenset(by_kind.get("directory", ()))
        self._paths = frozenset(by_kind.get("path", ()))
        # A literal path also matches what is below it: the prefix "path/".
        self._path_prefixes = _Prefixes(
            [*by_kind.get("path-prefix", ()), *(p + "/" for p in by_kind.get("path", ()))]
        )
        self._prefixes = _Prefixes(by_kind.get("prefix", ()))
        # A suffix of a segment is a prefix of the segment reversed.
        self._suffixes = _Prefixes(s[::-1] for s in by_kind.get("suffix", ()))
        #: Paths handed to the automaton of a general pattern so far: what the tests count.
        self.automaton_runs = 0

    @property
    def cached(self) -> int:
        """Automaton transitions cached for all the general patterns together."""
        return len(self._cache)

    def match(self, path: str) -> bool:
        """Whether any pattern matches ``path`` (as ``Glob.match``)."""
        if self._empty:
            return False
        segments = path.split("/")
        if self._names and not self._names.isdisjoint(segments):
            return True
        if self._directories and not self._directories.isdisjoint(segments[:-1]):
            return True
        if path in self._paths or (self._path_prefixes and self._path_prefixes.prefix_of(path)):
            return True
        if self._prefixes and any(self._prefixes.prefix_of(s) for s in segments):
            return True
        if self._suffixes and any(self._suffixes.prefix_of(s[::-1]) for s in segments):
            return True
        for glob in self.general:
            self.automaton_runs += 1
            if glob.match(path):
                return True
        return False


@lru_cache(maxsize=4)
def _glob_set(patterns: tuple[str, ...]) -> GlobSet:
    """The set for a config's patterns, compiled once for the runs of one process (the
    language server asks about file after file with the same patterns)."""
    return GlobSet(patterns)


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


def git_files(root: Path, scopes: Sequence[Path]) -> list[str] | None:
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
    # Paths as text: a pathlib join and relative_to per file cost more than the walk itself.
    # Both are real paths (normalised, no links), so the text below ``root`` is the relative
    # path. The order is os.walk's (a folder's files sorted, then its folders in sorted
    # order), but with one scandir per folder and nothing else: os.walk also lstats every
    # folder to see whether it is a link, which the entry's type already says. A stack, not
    # recursion: a hostile repo may nest folders deeper than Python's recursion limit.
    top = str(root)
    start = str(scope)
    base = start[len(top) + (0 if top.endswith("/") else 1) :] + "/" if start != top else ""
    stack: list[tuple[str, str]] = [(start, base)]
    while stack:
        directory, base = stack.pop()
        try:
            with os.scandir(directory) as entries:
                listed = list(entries)
        except OSError:
            continue  # as os.walk: a folder that cannot be listed holds nothing
        files: list[str] = []
        folders: list[str] = []
        for entry in listed:
            try:
                # Followed, as os.walk does: a link to a folder is neither walked nor a file.
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if not is_dir:
                files.append(entry.name)
            elif entry.name not in PRUNE and not entry.is_symlink():
                folders.append(entry.name)
        files.sort()
        for name in files:
            yield base + name
        folders.sort(reverse=True)
        stack.extend((f"{directory}/{name}", f"{base}{name}/") for name in folders)


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
    # Charts come and go between two discoveries of a long-running process (the language
    # server, the daemon): what was a chart's is asked again each time.
    _is_helm_templates.cache_clear()
    found = Discovery(root)
    excluded = _glob_set(tuple(exclude))
    inside = [s for s in map(real_path, scopes) if _within(s, root)]
    listed: list[str] | None = None
    if find_git_root(root) is not None and inside:
        listed = git_files(root, inside)
        if listed is None:
            found.note = "git could not list the files: .gitignore is not applied"
    if listed is None:
        listed = [p for scope in inside for p in _walk(root, scope)]
    named = [
        real.relative_to(root).as_posix()
        for real in map(real_path, explicit)
        if _within(real, root)
    ]
    listed += named
    explicit_rels = set(named)
    seen: set[str] = set()
    # Paths as text: a pathlib join per file costs more than its lstat on a big repo.
    base = str(root)
    prefix = base if base.endswith("/") else base + "/"
    for rel in listed:
        if rel in seen:
            continue
        why = _not_linted(rel, excluded)
        if why is not None:
            if rel in explicit_rels:
                explicit_rels.discard(rel)  # warned once, however often it is listed
                found.ignored.append(Skipped(rel, why))
            continue
        seen.add(rel)
        path = prefix + rel
        try:
            # One lstat for the common case; a link is followed (and judged) below.
            info = os.lstat(path)
            link = stat.S_ISLNK(info.st_mode)
            if link:
                info = os.stat(path)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                found.skipped.append(Skipped(rel, "symlink loop"))
            elif os.path.lexists(path):
                found.skipped.append(Skipped(rel, "dangling symlink"))
            continue  # listed by git but deleted from the work tree
        if link:
            target = real_path(Path(path))
            if not _within(target, root):
                found.skipped.append(Skipped(rel, "symlink to a file outside the root"))
                continue
            real = target.relative_to(root).as_posix()
            if real in seen:
                continue
            seen.add(real)
            rel = real
        if not stat.S_ISREG(info.st_mode):
            if rel in explicit_rels:
                # Named by the user: reading it fails (read_file refuses it unopened), and
                # that NL001 fails the run, as for any file that cannot be read.
                found.files.append(rel)
            else:
                found.skipped.append(Skipped(rel, "not a regular file"))
            continue
        # Only a file directly in a folder named templates can be a chart's template.
        if "/templates/" in path and _is_helm_templates(os.path.dirname(path)):
            found.skipped.append(Skipped(rel, "templated"))
            continue
        found.files.append(rel)
        found.stats[rel] = info
    found.files.sort()
    return found


def _not_linted(rel: str, excluded: GlobSet) -> str | None:
    """Why discovery passes over a listed path before looking at it, or None."""
    if not rel.lower().endswith(EXTENSIONS):
        return "netlint lints only .yaml, .yml and .json files"
    if rel.rpartition("/")[2] in CONFIG_NAMES:
        return "it is netlint's configuration, not a manifest"
    if excluded.match(rel):
        return "the config's exclude patterns exclude it"
    return None


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def real_path(path: Path) -> Path:
    """``path`` absolute with its links resolved. Unlike ``Path.resolve`` in Python 3.11 it
    never raises: a link loop stays unresolved, for the ``stat`` after it to report."""
    return Path(os.path.realpath(path))
