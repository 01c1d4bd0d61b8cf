"""A git revision of the project, read into memory and planned like the work tree
(``netlint diff BASE [HEAD]``).

Nothing is checked out and nothing of the repo runs: the tree is listed with ``git ls-tree`` and
the blobs are read with ``git cat-file --batch``, which applies no textconv, no clean/smudge
filter and no attribute; neither command runs hooks. git runs with fsmonitor off and every
transport forbidden (``protocol.allow=never``: a partial clone's missing blob is an error, never
a fetch). Revisions from the command line are checked before git sees them (no option can be
smuggled in), every path is confined to the project root (no ``..``, no absolute path; links,
submodules and special entries are never followed), each blob is bounded by the config's file
size limit and the whole tree by :data:`MAX_TREE_BYTES`.

Files are chosen as discovery chooses them in the work tree (the config's roots and excludes,
manifest extensions, Helm templates skipped), parsed by the same loader, and planned with a
workspace whose reads never reach the disk: a kustomization of the revision reads the
revision's files only. Most files are unchanged between a base and the work tree: a blob
whose id is that of a work tree file's bytes (``FileResult.blob``) is not even read, the work
tree's result stands for it; a blob whose content the parse cache knows is taken from the
cache, by content, without a parse. The cache is only read, never written, for a revision.
"""

from __future__ import annotations

import os
import posixpath
import stat
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from netlint.analysis.layout import Layout
from netlint.read.discover import (
    CONFIG_NAMES,
    EXTENSIONS,
    PRUNE,
    GlobSet,
    Skipped,
    find_git_root,
)
from netlint.read.kustomize import KUSTOMIZATION_FILES
from netlint.read.result import FileResult
from netlint.run.config import Config
from netlint.run.registry import Catalogue
from netlint.run.runner import Session
from netlint.run.workspace import LoadSettings, Workspace

#: All blobs of one revision together (a monorepo's manifests are tens of MB).
MAX_TREE_BYTES: Final = 1 << 30
#: What a stat of a file the revision holds would be: nothing (the cache decides by content).
_NO_STAT: Final = os.stat_result((0,) * 10)
_GIT_TIMEOUT: Final = 300

__all__ = [
    "Revision",
    "RevisionError",
    "Tree",
    "default_base",
    "git_top",
    "load_revision",
    "manifests",
    "read_tree",
    "resolve_commit",
]


class RevisionError(Exception):
    """A revision that cannot be read (not a commit, not a git repo, git failed)."""


def _git(top: Path, *args: str, data: bytes | None = None) -> bytes:
    env = dict(os.environ)
    # No prompt for credentials, and no lazy fetch of a partial clone's objects (git >= 2.45;
    # older ones are stopped by protocol.allow=never below).
    env.update(GIT_TERMINAL_PROMPT="0", GIT_NO_LAZY_FETCH="1", GIT_OPTIONAL_LOCKS="0")
    command = [
        "git",
        "-c",
        "core.fsmonitor=false",
        "-c",
        "protocol.allow=never",
        "-C",
        str(top),
        *args,
    ]
    try:
        done = subprocess.run(
            command, input=data, capture_output=True, timeout=_GIT_TIMEOUT, check=False, env=env
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise RevisionError(f"git {args[0]} failed: {exc}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RevisionError(f"git {args[0]}: {message[-1] if message else 'failed'}")
    return done.stdout


def git_top(start: Path) -> Path:
    top = find_git_root(start)
    if top is None:
        raise RevisionError(f"{start} is not in a git work tree: give two directories instead")
    return top


def resolve_commit(top: Path, revision: str) -> str:
    """The commit a revision names (``main``, ``HEAD~2``, a sha), checked before git sees it."""
    if not revision or revision.startswith("-") or any(ord(c) < 0x20 for c in revision):
        raise RevisionError(f"{revision!r} is not a revision")
    named = f"{revision}^{{commit}}"
    try:
        out = _git(top, "rev-parse", "--verify", "--quiet", "--end-of-options", named)
    except RevisionError:
        raise RevisionError(f"{revision!r} names no commit of this repository") from None
    return out.decode("ascii", "replace").strip()


def default_base(top: Path) -> tuple[str, str]:
    """(commit, how it was found): the merge-base of HEAD with the default branch, which is
    origin/HEAD when the clone knows it, else main, else master (local, then origin's)."""
    candidates: list[str] = []
    try:
        ref = _git(top, "symbolic-ref", "--quiet", "refs/remotes/origin/HEAD")
        candidates.append(ref.decode("utf-8", "replace").strip())
    except RevisionError:
        pass
    candidates += [
        "refs/heads/main",
        "refs/remotes/origin/main",
        "refs/heads/master",
        "refs/remotes/origin/master",
    ]
    for candidate in candidates:
        try:
            branch = resolve_commit(top, candidate)
        except RevisionError:
            continue
        found = _git(top, "merge-base", "HEAD", branch).decode("ascii", "replace").strip()
        return found, f"merge-base of HEAD and {candidate.removeprefix('refs/')}"
    raise RevisionError("no default branch (origin/HEAD, main or master): name BASE")


@dataclass(slots=True)
class Tree:
    """The regular files of a revision under the project root (paths relative to it)."""

    files: dict[str, bytes] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    #: Files not read, with their blob ids: the caller holds the same bytes already
    #: (``read_tree``'s ``known``); ``read`` and ``fetch`` read them when asked after all.
    unread: dict[str, str] = field(default_factory=dict)
    top: Path | None = None

    def paths(self) -> set[str]:
        return {*self.files, *self.unread}

    def read(self, rel: str) -> bytes | None:
        """The bytes of a file of the revision. The first one asked for that was not read
        fetches every file not read (one ``git cat-file``: a build that reads one such file
        may read hundreds)."""
        if rel in self.unread:
            self.fetch(list(self.unread))
        return self.files.get(rel)

    def fetch(self, paths: Iterable[str]) -> None:
        """Read those of ``paths`` that were not read, in one ``git cat-file``."""
        if self.top is None:  # not a revision's (nothing is unread)
            return
        wanted = [(self.unread.pop(p), p) for p in sorted(set(paths)) if p in self.unread]
        for (_, path), data in zip(wanted, _cat(self.top, wanted), strict=True):
            self.files[path] = data


def _confined(rel: str) -> bool:
    parts = rel.split("/")
    return bool(rel) and not rel.startswith("/") and all(p not in ("", ".", "..") for p in parts)


def read_tree(
    top: Path,
    commit: str,
    prefix: str,
    max_file_bytes: int,
    known: Mapping[str, str] | None = None,
) -> Tree:
    """Every regular file of ``commit`` under ``prefix`` (the project root relative to the
    top of the work tree, ``""`` for the top), each at most ``max_file_bytes``. ``known``:
    blob ids of files the caller has the bytes of (``FileResult.blob``); a file whose blob
    has that id is listed in ``Tree.unread``, not read (most files of a base revision are
    the work tree's)."""
    listing = _git(top, "ls-tree", "-r", "-z", "-l", "--full-tree", commit)
    tree = Tree(top=top)
    known = known or {}
    wanted: list[tuple[str, str]] = []
    total = 0
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        head, tab, raw_path = entry.partition(b"\t")
        fields = head.split()
        if not tab or len(fields) != 4:
            raise RevisionError("git ls-tree printed an entry it should not")
        mode, kind, sha, size = (f.decode("ascii", "replace") for f in fields)
        path = raw_path.decode("utf-8", "surrogateescape")
        if prefix:
            if not path.startswith(prefix + "/"):
                continue
            path = path[len(prefix) + 1 :]
        if not _confined(path) or PRUNE.intersection(path.split("/")):
            continue
        if kind != "blob":
            continue  # a submodule's commit: another repository
        if not stat.S_ISREG(int(mode, 8)):
            if path.lower().endswith(EXTENSIONS):
                tree.skipped.append(Skipped(path, "a symbolic link in the revision (not followed)"))
            continue
        length = int(size) if size.isdigit() else max_file_bytes + 1
        if length > max_file_bytes:
            if path.lower().endswith(EXTENSIONS):
                tree.skipped.append(
                    Skipped(path, f"{length:,} bytes, over the {max_file_bytes:,}-byte limit")
                )
            continue
        total += length
        if total > MAX_TREE_BYTES:
            raise RevisionError(f"revision {commit[:12]} holds over {MAX_TREE_BYTES:,} bytes")
        if known.get(path) == sha:
            tree.unread[path] = sha
        else:
            wanted.append((sha, path))
    for (_, path), data in zip(wanted, _cat(top, wanted), strict=True):
        tree.files[path] = data
    return tree


def _cat(top: Path, blobs: Sequence[tuple[str, str]]) -> list[bytes]:
    """The bytes of each (blob id, path) of ``blobs``, in order, from one ``git cat-file``."""
    if not blobs:
        return []
    out = _git(top, "cat-file", "--batch", data=b"".join(s.encode() + b"\n" for s, _ in blobs))
    found: list[bytes] = []
    offset = 0
    for sha, path in blobs:
        end = out.find(b"\n", offset)
        header = out[offset:end].split()
        if len(header) != 3 or header[0].decode() != sha or header[1] != b"blob":
            raise RevisionError(f"git cat-file could not read {sha[:12]} ({path!r})")
        length = int(header[2])
        found.append(out[end + 1 : end + 1 + length])
        offset = end + 1 + length + 1
    return found


def manifests(tree: Tree, config: Config) -> tuple[list[str], list[Skipped]]:
    """The files of ``tree`` discovery would lint in a work tree of the revision."""
    root = config.root
    scopes = []
    for scope in config.roots:
        try:
            rel = Path(os.path.abspath(scope)).relative_to(root).as_posix()
        except ValueError:
            continue  # a root outside the project: nothing of the revision is there
        scopes.append("" if rel == "." else rel)
    excluded = GlobSet(config.exclude)
    files: list[str] = []
    skipped: list[Skipped] = []
    paths = tree.paths()
    for rel in sorted(paths):
        if not any(not s or rel == s or rel.startswith(s + "/") for s in scopes):
            continue
        if not rel.lower().endswith(EXTENSIONS) or rel.rpartition("/")[2] in CONFIG_NAMES:
            continue
        if excluded.match(rel):
            continue
        directory, _, _ = rel.rpartition("/")
        chart, _, name = directory.rpartition("/")
        if name == "templates" and (f"{chart}/Chart.yaml" if chart else "Chart.yaml") in paths:
            skipped.append(Skipped(rel, "templated"))
            continue
        files.append(rel)
    return files, skipped


@dataclass(slots=True)
class _Snapshot(Workspace):
    """A workspace of one revision: every read is of the revision's blobs, never the disk."""

    tree: Tree = field(default_factory=Tree)

    def read(self, rel: str) -> bytes | None:
        found = self.overrides.get(rel)
        return found if found is not None else self.tree.read(rel)


@dataclass(slots=True)
class Revision:
    commit: str
    layout: Layout
    tree: Tree
    #: Files parsed afresh (the others came from the parse cache, by content).
    parsed: int

    def texts(self, paths: Iterable[str]) -> dict[str, str]:
        """The revision's text of each of ``paths`` it holds (SARIF fingerprints and columns
        need them), reading the blobs not read yet in one ``git cat-file``."""
        asked = set(paths)
        self.tree.fetch(asked)
        files = self.tree.files
        return {r: files[r].decode("utf-8", "replace") for r in asked if r in files}


def load_revision(
    config: Config,
    catalogue: Catalogue,
    commit: str,
    *,
    use_cache: bool = True,
    jobs: int = 0,
    known: Mapping[str, FileResult] | None = None,
    like: Workspace | None = None,
) -> Revision:
    """The deploy units of the project as they are in ``commit``. ``known``: results already
    loaded (the work tree's ``layout.cluster.files``), taken for each blob with the same path
    and id, unread, so that only what the revision changed is read, and parsed or taken from
    the cache. ``like``: the work tree's workspace, whose unit builds are taken where their
    files are the same (``Workspace.follow``)."""
    top = git_top(config.root)
    prefix = "" if top == config.root else config.root.relative_to(top).as_posix()
    # A file a kustomization applies as a patch has its objects dropped in the layout's
    # results: such a result stands for nothing but a patch, so it is not taken. A
    # kustomization is read whole by its build (unless the work tree's is taken, see
    # ``like``), so it is read here with the rest: one ``git cat-file`` for all.
    patches = {p for r in (known or {}).values() for p in r.patches}
    same = {
        rel: result.blob
        for rel, result in (known or {}).items()
        if result.blob
        and rel not in patches
        and not result.skipped
        and posixpath.basename(rel) not in KUSTOMIZATION_FILES
    }
    tree = read_tree(top, commit, prefix, config.limits.max_file_bytes, same)
    files, templated = manifests(tree, config)
    session = Session.create(config, catalogue)
    settings: LoadSettings = session.workspace.settings
    workspace = _Snapshot(settings, tree=tree)
    if like is not None:
        workspace.follow(like)
    present = tree.paths()
    workspace.skipped.extend(s for s in tree.skipped if s.path not in present)
    workspace.skipped.extend(templated)
    cache = session.open_cache() if use_cache else None
    todo: list[str] = []
    for rel in files:
        cached: FileResult | None = None
        if rel in tree.unread and known is not None:
            cached = known[rel]
        elif cache is not None and cache.knows(rel):
            cached = cache.get(rel, _NO_STAT, tree.files[rel])
        if cached is None:
            todo.append(rel)
        elif cached.skipped:
            workspace.skipped.append(Skipped(rel, cached.skipped))
        else:
            workspace.results[rel] = cached
    # Every blob read stands in for its file (kustomize reads non-manifest files too; the
    # others are read from git when a build asks, see _Snapshot); only the files the cache did
    # not know are parsed. The cache is not written: its stamps are of the work tree's files.
    workspace.load(todo, overrides=tree.files, cache=None, jobs=jobs)
    return Revision(commit, workspace.layout(), tree, len(todo))
