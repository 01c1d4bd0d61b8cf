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
revision's files only. A blob whose content the parse cache knows (most files are unchanged
between a base and the work tree) is taken from the cache, by content, without a parse; the
cache is only read, never written, for a revision.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from netlint.analysis.layout import Layout
from netlint.read.discover import CONFIG_NAMES, EXTENSIONS, GlobSet, Skipped, find_git_root
from netlint.read.result import FileResult, digest
from netlint.run.config import Config
from netlint.run.registry import Catalogue
from netlint.run.runner import Session
from netlint.run.workspace import LoadSettings, Workspace

#: All blobs of one revision together (a monorepo's manifests are tens of MB).
MAX_TREE_BYTES: Final = 1 << 30
#: What a stat of a file the revision holds would be: nothing (the cache decides by content).
_NO_STAT: Final = os.stat_result((0,) * 10)
_GIT_TIMEOUT: Final = 300
_PRUNE: Final = frozenset((".git", ".hg", ".svn", ".netlint_cache"))

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


def _confined(rel: str) -> bool:
    parts = rel.split("/")
    return bool(rel) and not rel.startswith("/") and all(p not in ("", ".", "..") for p in parts)


def read_tree(top: Path, commit: str, prefix: str, max_file_bytes: int) -> Tree:
    """Every regular file of ``commit`` under ``prefix`` (the project root relative to the
    top of the work tree, ``""`` for the top), each at most ``max_file_bytes``."""
    listing = _git(top, "ls-tree", "-r", "-z", "-l", "--full-tree", commit)
    tree = Tree()
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
        if not _confined(path) or _PRUNE.intersection(path.split("/")):
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
        wanted.append((sha, path))
    if not wanted:
        return tree
    out = _git(top, "cat-file", "--batch", data=b"".join(s.encode() + b"\n" for s, _ in wanted))
    offset = 0
    for sha, path in wanted:
        end = out.find(b"\n", offset)
        header = out[offset:end].split()
        if len(header) != 3 or header[0].decode() != sha or header[1] != b"blob":
            raise RevisionError(f"git cat-file could not read {sha[:12]} ({path!r})")
        length = int(header[2])
        tree.files[path] = out[end + 1 : end + 1 + length]
        offset = end + 1 + length + 1
    return tree


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
    for rel in sorted(tree.files):
        if not any(not s or rel == s or rel.startswith(s + "/") for s in scopes):
            continue
        if not rel.lower().endswith(EXTENSIONS) or rel.rpartition("/")[2] in CONFIG_NAMES:
            continue
        if excluded.match(rel):
            continue
        directory, _, _ = rel.rpartition("/")
        chart, _, name = directory.rpartition("/")
        if name == "templates" and (f"{chart}/Chart.yaml" if chart else "Chart.yaml") in tree.files:
            skipped.append(Skipped(rel, "templated"))
            continue
        files.append(rel)
    return files, skipped


class _Snapshot(Workspace):
    """A workspace of one revision: every read is of the revision's blobs, never the disk."""

    def read(self, rel: str) -> bytes | None:
        return self.overrides.get(rel)


@dataclass(slots=True)
class Revision:
    commit: str
    layout: Layout
    #: The revision's text of each file read (SARIF fingerprints and columns need them).
    texts: dict[str, str]
    #: Files parsed afresh (the others came from the parse cache, by content).
    parsed: int


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
    and content, so that only what the revision changed is parsed or read from the cache.
    ``like``: the work tree's workspace, whose unit builds are taken where their files are the
    same (``Workspace.follow``)."""
    top = git_top(config.root)
    prefix = "" if top == config.root else config.root.relative_to(top).as_posix()
    tree = read_tree(top, commit, prefix, config.limits.max_file_bytes)
    files, templated = manifests(tree, config)
    session = Session.create(config, catalogue)
    settings: LoadSettings = session.workspace.settings
    workspace = _Snapshot(settings)
    if like is not None:
        workspace.follow(like)
    workspace.skipped.extend(s for s in tree.skipped if s.path not in tree.files)
    workspace.skipped.extend(templated)
    cache = session.open_cache() if use_cache else None
    todo: list[str] = []
    # A file a kustomization applies as a patch has its objects dropped in the layout's
    # results: such a result stands for nothing but a patch, so it is not taken.
    patches = {p for r in (known or {}).values() for p in r.patches}
    for rel in files:
        cached: FileResult | None = None
        same = known.get(rel) if known is not None and rel not in patches else None
        if same is not None and same.digest == digest(tree.files[rel]):
            cached = same
        elif cache is not None and cache.knows(rel):
            cached = cache.get(rel, _NO_STAT, tree.files[rel])
        if cached is None:
            todo.append(rel)
        elif cached.skipped:
            workspace.skipped.append(Skipped(rel, cached.skipped))
        else:
            workspace.results[rel] = cached
    # Every blob stands in for its file (kustomize reads non-manifest files too); only the
    # files the cache did not know are parsed. The cache is not written: its stamps are of the
    # work tree's files.
    workspace.load(todo, overrides=tree.files, cache=None, jobs=jobs)
    texts = {rel: tree.files[rel].decode("utf-8", "replace") for rel in files if rel in tree.files}
    return Revision(commit, workspace.layout(), texts, len(todo))
