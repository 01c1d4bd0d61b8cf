"""Which files to read: manifests under the roots, minus what git ignores and config excludes."""

from __future__ import annotations

import os
import re
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


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """A gitignore-like glob: ``*`` within a segment, ``**`` across segments, ``?``, ``[...]``.

    A pattern without ``/`` matches a file or directory name at any depth, as in .gitignore.
    """
    anchored = "/" in pattern.rstrip("/")
    pattern = pattern.strip("/")
    out = ""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out += re.escape(c)
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out += f"[{body}]"
                i = end
        else:
            out += re.escape(c)
        i += 1
    prefix = "" if anchored else "(?:.*/)?"
    # A match on a directory excludes everything below it.
    return re.compile(f"{prefix}{out}(?:/.*)?")


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
    if scope.is_file() or scope.is_symlink():
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
    root = root.resolve()
    found = Discovery(root)
    patterns = [glob_to_regex(p) for p in exclude]
    inside = [s for s in (scope.resolve() for scope in scopes) if _within(s, root)]
    listed: list[str] | None = None
    if find_git_root(root) is not None and inside:
        listed = _git_files(root, inside)
        if listed is None:
            found.note = "git could not list the files: .gitignore is not applied"
    if listed is None:
        listed = [p for scope in inside for p in _walk(root, scope)]
    listed += [
        p.resolve().relative_to(root).as_posix() for p in explicit if _within(p.resolve(), root)
    ]
    seen: set[str] = set()
    for rel in listed:
        if not rel.lower().endswith(EXTENSIONS) or rel in seen:
            continue
        if rel.rpartition("/")[2] in CONFIG_NAMES:
            continue
        seen.add(rel)
        if any(p.fullmatch(rel) for p in patterns):
            continue
        path = root / rel
        if path.is_symlink():
            target = path.resolve()
            if not _within(target, root):
                found.skipped.append(Skipped(rel, "symlink to a file outside the root"))
                continue
            real = target.relative_to(root).as_posix()
            if real in seen:
                continue
            seen.add(real)
            rel = real
        if not path.is_file():
            if path.exists() or path.is_symlink():
                found.skipped.append(Skipped(rel, "not a regular file"))
            continue  # listed by git but deleted from the work tree
        if _is_helm_templates(str(path.parent)):
            found.skipped.append(Skipped(rel, "templated"))
            continue
        found.files.append(rel)
    found.files.sort()
    return found


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents
