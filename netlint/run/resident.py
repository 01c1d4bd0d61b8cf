"""``netlint check`` in a long-lived process (``netlint daemon``): the project stays loaded
between runs, and each run reads only the files that changed since the last one.

A run in a new process decodes every cached result and plans every unit before it lints one
file (docs/performance.md): that, not the file, is most of a pre-commit re-lint. Here a run
starts as ``check`` does (config, rules), then finds what changed, brings the kept workspace
up to date file by file (as the language server does after an edit) and reports from it.

What changed is known in one of two ways. Where the kernel reports every change of the
project's folders (netlint.run.watch), its events name the files to read again, and nothing
else is looked at. Otherwise, and whenever an event cannot be placed exactly (a folder made,
a file that is not one of the listed manifests, git's index changed its listing), the run
discovers the files and compares each one's stat with the last, as a new process would see
them. Whenever the kept state cannot be brought up to date exactly (files came or went,
discovery passed over other files, a file a build reads changed, the settings or rules
changed) the project is loaded afresh, as ``check`` loads it. The report is ``check``'s,
byte for byte: tests/test_daemon.py compares them after every kind of change.
"""

from __future__ import annotations

import os
import stat as stat_module
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from netlint.read.discover import PRUNE, Skipped, find_git_root, git_files, real_path
from netlint.read.result import FileResult, digest
from netlint.run.config import Config
from netlint.run.registry import Catalogue
from netlint.run.revisions import Revision, load_revision
from netlint.run.runner import (
    CheckRequest,
    Outcome,
    Session,
    _open,
    _Opened,
    _report,
    _settings_parts,
    _warn_passed_over,
)
from netlint.run.watch import Watch
from netlint.run.workspace import Workspace, read_file

#: A file modified this close to when it was read may change again within the same timestamp
#: tick: without events it is read again on the next run whatever its stat says (as the
#: cache does).
_RACY_NS: Final = 2_000_000_000
#: Projects (with their settings) kept loaded at once; the least recently used goes first.
MAX_PROJECTS: Final = 4

#: What of a stat says a file may have changed.
_StatKey = tuple[int, int, int, int, int]
#: Discovery's files and note, as the last run found them (see ``runner.Listed``).
_Listing = tuple[list[str], str | None]


def _stat_key(st: os.stat_result) -> _StatKey:
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_dev)


@dataclass(slots=True)
class _Kept:
    """A project as the last run left it."""

    workspace: Workspace
    #: The files the run loaded, and what discovery passed over (same lists, or load afresh).
    files: tuple[str, ...]
    passed_over: tuple[Skipped, ...]
    note: str | None
    #: Each file's stat when its content was taken, and the digest of that content.
    stats: dict[str, _StatKey] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    #: Files to read again whatever their stat: read within the racy window, changed by an
    #: event, or standing in for a buffer (``--stdin-filename``) in the last run.
    dirty: set[str] = field(default_factory=set)
    #: How many files the last run read (or took from a buffer).
    read: int = 0
    #: The project's folders watched, and whether the watch covers every change since the
    #: kept state was last compared with the disk whole (then events alone tell what changed).
    watch: Watch | None = None
    trusted: bool = False
    #: git's listing of the roots when the watch became trusted (None outside git): an event
    #: in git's folder is placed by listing again; ``pending``: the one taken before this
    #: run's discovery.
    listing: list[str] | None = None
    pending: list[str] | None = None
    git_dir: str | None = None
    git_env: tuple[tuple[str, str], ...] = ()
    members: frozenset[str] = frozenset()

    def close(self) -> None:
        if self.watch is not None:
            self.watch.close()


class Resident:
    """Projects kept loaded between the runs (``check``, ``explain``, ``diff``) of one
    process."""

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple[object, ...], _Kept] = OrderedDict()
        self._revisions: dict[tuple[object, ...], Revision] = {}
        #: How the last run was served (``check --daemon --verbose`` says it).
        self.last: str = ""

    def check(self, request: CheckRequest) -> Outcome:
        """``runner.check``'s outcome, from the kept project brought up to date."""
        opened, kept = self._up_to_date(request)
        session = opened.session
        session.workspace = kept.workspace
        report = _report(request, session, opened.targets, opened.override_rel, opened.overrides)
        _warn_passed_over(request, opened, report)
        return Outcome(report, session.config)

    def loaded(self, request: CheckRequest) -> tuple[Workspace, Config]:
        """``runner.loaded``'s workspace and config (``explain``, ``diff``), kept likewise."""
        opened, kept = self._up_to_date(request)
        return kept.workspace, opened.session.config

    def revision(
        self,
        config: Config,
        catalogue: Catalogue,
        commit: str,
        *,
        use_cache: bool = True,
        jobs: int = 0,
        known: Mapping[str, FileResult] | None = None,
        like: Workspace | None = None,
    ) -> Revision:
        """``revisions.load_revision``, kept: a commit does not change, so the last revision
        asked for in the project (``diff``'s base, the merge-base, most of the time) is
        planned once. ``known`` and ``like`` only spare work: the layout is the same without
        them (tests/test_diff.py)."""
        key = (str(config.root), repr(config), commit, use_cache)
        found = self._revisions.get(key)
        if found is None:
            found = load_revision(
                config, catalogue, commit, use_cache=use_cache, jobs=jobs, known=known, like=like
            )
            self._revisions[key] = found
            while len(self._revisions) > 2:  # a base and a head
                del self._revisions[next(iter(self._revisions))]
        return found

    def _up_to_date(self, request: CheckRequest) -> tuple[_Opened, _Kept]:
        """The run set up as ``check`` sets it up, and its project: the kept one brought up to
        date (by the watch's events when they place every change, else by discovery and
        stats), or loaded afresh."""
        unchanged: list[_Kept] = []

        def listed(session: Session, explicit: Sequence[Path]) -> _Listing | None:
            kept = self._kept.get(_key(session, request))
            if kept is None:
                return None
            if _nothing_unplaced(kept, session, explicit):
                unchanged.append(kept)
                return list(kept.files), kept.note
            if kept.git_dir is not None:
                # git's listing as it is before discovery lists: a change of git's index
                # after it is an event the next run places by listing again.
                kept.pending = git_files(session.config.root, _scopes(session))
            return None

        said = len(request.warnings), len(request.notes)
        opened = _open(request, None, listed)
        session = opened.session
        key = _key(session, request)
        kept = self._kept.pop(key, None)
        why: str | None = "no run of it with these settings yet"
        if kept is not None:
            why = _bring_up_to_date(kept, opened, events=bool(unchanged))
        if kept is not None and why is not None and unchanged:
            # A file the events named is gone or no longer a file: what exists now is for
            # discovery to say. (What was read meanwhile is the disk's, so it stands.)
            del request.warnings[said[0] :], request.notes[said[1] :]
            unchanged.clear()
            opened = _open(request, None)
            session = opened.session
            why = _bring_up_to_date(kept, opened, events=False)
        if kept is not None and why is None:
            how = "events" if unchanged else "stats"
            self.last = f"daemon: the project kept from the last run ({how}), {kept.read} read"
        else:
            if kept is not None:
                kept.close()
            kept = _load(request, opened)
            self.last = f"daemon: the project loaded afresh ({why})"
        if not unchanged:
            _watch(kept, session)
        request.notes.append(self.last)
        self._kept[key] = kept
        while len(self._kept) > MAX_PROJECTS:
            self._kept.popitem(last=False)[1].close()
        return opened, kept


def _key(session: Session, request: CheckRequest) -> tuple[object, ...]:
    """What a kept project is kept for: its root, settings and rules, and how it is read.
    Not which rules a run asks for: those are the run's own, the project is the same."""
    return (
        str(session.config.root),
        tuple(_settings_parts(session, active=False)),
        request.allow_repo_plugins,
        request.use_cache,
    )


def _git_env() -> tuple[tuple[str, str], ...]:
    """git's variables, which change what git lists (a hook runs with GIT_INDEX_FILE)."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("GIT_")))


def _load(request: CheckRequest, opened: _Opened) -> _Kept:
    """The project loaded as ``check`` loads it (from the parse cache, which it updates)."""
    session = opened.session
    workspace = session.workspace
    stats = dict(workspace.discovered)
    passed_over = tuple(workspace.skipped)
    cache = session.open_cache() if request.use_cache else None
    started = time.time_ns()
    workspace.load(opened.files, overrides=opened.overrides, cache=cache, jobs=request.jobs)
    kept = _Kept(workspace, tuple(opened.files), passed_over, opened.note)
    kept.members = frozenset(kept.files)
    for rel in opened.files:
        st = stats.get(rel)
        if st is None or rel in opened.overrides:
            kept.dirty.add(rel)
            continue
        known = cache.fresh_digest(rel, st) if cache is not None else None
        result = workspace.results.get(rel)
        if known is None and result is not None:
            known = result.digest or None
        if known is not None:
            kept.digests[rel] = known
        kept.stats[rel] = _stat_key(st)
        if st.st_mtime_ns >= started - _RACY_NS:
            kept.dirty.add(rel)
    if cache is not None:
        cache.save()
        if cache.note:
            request.notes.append(cache.note)
    return kept


def _bring_up_to_date(kept: _Kept, opened: _Opened, *, events: bool) -> str | None:
    """Make the kept workspace what a fresh load of ``opened`` would give; why that takes a
    fresh load instead (the file list or what discovery passed over differs), or None.
    ``events``: the watch's events named every file that changed (``kept.dirty``): only those
    are read; else each file's stat from discovery is compared with the last."""
    fresh = opened.session.workspace
    if tuple(opened.files) != kept.files:
        return "files were added or removed"
    workspace = kept.workspace
    if not events and tuple(fresh.skipped) != kept.passed_over:
        return "discovery passes over other files"
    if workspace.settings != fresh.settings:
        return "other settings"
    root, limits = workspace.settings.root, workspace.settings.limits
    top = str(root)
    now = time.time_ns()
    kept.read = 0
    # With events, only what they named (and last run's buffer); else every file's stat.
    looked = sorted(kept.dirty | opened.overrides.keys()) if events else kept.files
    stats = fresh.discovered
    for rel in looked:
        if rel in opened.overrides:
            _take(kept, rel, opened.overrides[rel])
            kept.dirty.add(rel)  # the disk's content is read again next time
            continue
        try:
            st = stats[rel] if not events else os.lstat(f"{top}/{rel}")
        except KeyError:
            return f"{rel} is not a regular file"
        except OSError:
            return f"{rel} is gone"
        if not stat_module.S_ISREG(st.st_mode):
            return f"{rel} is not a regular file"  # discovery decides what it is now
        seen = _stat_key(st)
        if rel not in kept.dirty and kept.stats.get(rel) == seen:
            continue
        try:
            data = read_file(root / rel, limits)
        except OSError as exc:
            kept.read += 1
            workspace.update_unreadable(rel, exc)
            kept.digests.pop(rel, None)
            kept.stats.pop(rel, None)
            kept.dirty.add(rel)
            continue
        _take(kept, rel, data)
        kept.stats[rel] = seen
        # Without events, a change within the timestamp tick of the read would not show.
        if not events and st.st_mtime_ns >= now - _RACY_NS:
            kept.dirty.add(rel)
        else:
            kept.dirty.discard(rel)
    if events:
        return None  # a file a build reads that changed is an event no file list places
    # What builds read besides the listed files (a generator's .env, a kustomization name that
    # names nothing): a change there changes builds whose files did not change.
    for rel, known in workspace.unlisted_reads.items():
        if known is None and not os.path.lexists(f"{top}/{rel}"):
            continue
        # As a build reads it (confined to the root), without recording the read again.
        found = workspace._read(rel)
        if (None if found is None else digest(found)) != known:
            return f"{rel}, which a build reads, changed"
    return None


def _take(kept: _Kept, rel: str, data: bytes) -> None:
    """``data`` as the content of ``rel`` in the kept workspace, if it is not already."""
    kept.read += 1
    found = digest(data)
    if kept.digests.get(rel) != found:
        kept.workspace.update(rel, data)
        kept.digests[rel] = found


# -- the watch --------------------------------------------------------------------------------


def _nothing_unplaced(kept: _Kept, session: Session, explicit: Sequence[Path]) -> bool:
    """Whether the watch's events since the last run name every change (the files they name
    are marked to read again); False sends the run to discovery and a stat of every file."""
    watch = kept.watch
    if watch is None:
        return False
    root = str(kept.workspace.settings.root)
    prefix = root.rstrip("/") + "/"
    # Taken whether or not the watch is trusted: a run that discovers looks at everything
    # the events could say, and the next one starts from what it saw.
    changes = watch.take()
    git = False
    for path in changes.files:
        rel = path[len(prefix) :] if path.startswith(prefix) else None
        if rel is not None and rel in kept.members:
            kept.dirty.add(rel)
        elif kept.git_dir is not None and path.startswith(kept.git_dir + "/"):
            git = True
        else:
            changes.unplaced = True
    if not kept.trusted or changes.unplaced or kept.git_env != _git_env():
        kept.trusted = False
        return False
    if git and kept.listing != git_files(Path(root), _scopes(session)):
        kept.trusted = False
        return False
    named = {str(t) for t in explicit}
    return all(p.startswith(prefix) and p[len(prefix) :] in kept.members for p in named)


def _watch(kept: _Kept, session: Session) -> None:
    """After a run that compared every file with the disk: watch the project's folders (the
    run after the watch began is the first that may trust it alone)."""
    root = session.config.root
    if kept.watch is None:
        kept.watch = Watch.open(str(root))
        if kept.watch is None:
            return
        began = True
    else:
        began = False
    watch = kept.watch
    kept.git_env = _git_env()
    if not watch.add(_folders(root, session, kept)) or watch.broken:
        kept.trusted = False
        return
    git = find_git_root(root)
    kept.listing = kept.git_dir = None
    if git is not None:
        dot = git / ".git"
        if not dot.is_dir() or dot.is_symlink():
            kept.trusted = False  # a worktree's or submodule's git folder lies elsewhere
            return
        added = watch.added_last
        if not watch.add(_git_folders(dot)):
            kept.trusted = False
            return
        watch.added_last |= added
        kept.git_dir = str(dot)
        kept.listing, kept.pending = kept.pending, None
        if kept.listing is None:  # the first run after the watch began, or git failed
            kept.trusted = False
            return
    # Folders added now may have changed unseen since discovery looked: trusted next time.
    kept.trusted = not began and not watch.added_last


def _scopes(session: Session) -> list[Path]:
    root = session.config.root
    found = [real_path(Path(s)) for s in session.config.roots]
    return [s for s in found if s == root or root in s.parents]


def _git_folders(dot: Path) -> list[str]:
    found = [str(dot)]
    if (dot / "info").is_dir():
        found.append(str(dot / "info"))
    return found


def _folders(root: Path, session: Session, kept: _Kept) -> list[str]:
    """Every folder a change of the project's files may show in: each folder under the
    roots, and the folders of the listed files and of what builds read (which may lie
    elsewhere in the project)."""
    found: set[str] = set()
    for scope in _scopes(session):
        stack = [str(scope)] if scope.is_dir() else [str(scope.parent)]
        while stack:
            folder = stack.pop()
            found.add(folder)
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        if entry.name not in PRUNE and entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
            except OSError:
                continue
    top = str(root)
    for rel in (*kept.files, *kept.workspace.unlisted_reads):
        found.add(os.path.dirname(f"{top}/{rel}"))
    # Every folder up to the root: a folder renamed or removed above is a lost watch.
    for folder in list(found):
        while folder.startswith(top) and folder != top:
            folder = os.path.dirname(folder)
            found.add(folder)
    return sorted(found)
