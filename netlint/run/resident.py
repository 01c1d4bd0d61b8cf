"""``netlint check`` in a long-lived process (``netlint daemon``): the project stays loaded
between runs, and each run reads only the files whose stat changed since the last one.

A run in a new process decodes every cached result and plans every unit before it lints one
file (docs/performance.md): that, not the file, is most of a pre-commit re-lint. Here each
run still starts as ``check`` does (config, rules, discovery with a stat of every file: what
exists and what changed is only known by looking), then brings the kept workspace up to date
file by file, as the language server does after an edit, and reports from it. Whenever the
kept state cannot be brought up to date exactly (files came or went, discovery passed over
other files, the settings or rules changed) the project is loaded afresh, as ``check`` loads
it. The report is ``check``'s, byte for byte: tests/test_daemon.py compares them.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Final

from netlint.read.discover import Skipped
from netlint.read.result import digest
from netlint.run.runner import (
    CheckRequest,
    Outcome,
    _open,
    _Opened,
    _report,
    _settings_parts,
    _warn_passed_over,
)
from netlint.run.workspace import Workspace, read_file

#: A file modified this close to when it was read may change again within the same timestamp
#: tick: it is read again on the next run whatever its stat says (as the cache does).
_RACY_NS: Final = 2_000_000_000
#: Projects (with their settings) kept loaded at once; the least recently used goes first.
MAX_PROJECTS: Final = 4

#: What of a stat says a file may have changed.
_StatKey = tuple[int, int, int, int, int]


def _stat_key(st: os.stat_result) -> _StatKey:
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_dev)


@dataclass(slots=True)
class _Kept:
    """A project as the last run left it."""

    workspace: Workspace
    #: The files the run loaded, and what discovery passed over (same lists, or load afresh).
    files: tuple[str, ...]
    passed_over: tuple[Skipped, ...]
    #: Each file's stat when its content was taken, and the digest of that content.
    stats: dict[str, _StatKey] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    #: Files to read again whatever their stat: read within the racy window, or standing in
    #: for a buffer (``--stdin-filename``) in the last run.
    dirty: set[str] = field(default_factory=set)
    #: How many files the last run read (or took from a buffer).
    read: int = 0


class Resident:
    """Projects kept loaded between ``check`` runs of one process."""

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple[object, ...], _Kept] = OrderedDict()
        #: How the last run was served (``check --daemon --verbose`` says it).
        self.last: str = ""

    def check(self, request: CheckRequest) -> Outcome:
        opened = _open(request, None)
        session = opened.session
        key = (
            str(session.config.root),
            tuple(_settings_parts(session)),
            request.allow_repo_plugins,
            request.debug,
            request.use_cache,
        )
        kept = self._kept.pop(key, None)
        why = "no run of it with these settings yet" if kept is None else None
        if kept is not None:
            why = _bring_up_to_date(kept, opened)
        if kept is not None and why is None:
            self.last = f"daemon: the project kept from the last run, {kept.read} file(s) read"
        else:
            kept = _load(request, opened)
            self.last = f"daemon: the project loaded afresh ({why})"
        request.notes.append(self.last)
        self._kept[key] = kept
        while len(self._kept) > MAX_PROJECTS:
            self._kept.popitem(last=False)
        session.workspace = kept.workspace
        report = _report(request, session, opened.targets, opened.override_rel, opened.overrides)
        _warn_passed_over(request, opened, report)
        return Outcome(report, session.config)


def _load(request: CheckRequest, opened: _Opened) -> _Kept:
    """The project loaded as ``check`` loads it (from the parse cache, which it updates)."""
    session = opened.session
    workspace = session.workspace
    stats = dict(workspace.discovered)
    passed_over = tuple(workspace.skipped)
    cache = session.open_cache() if request.use_cache else None
    started = time.time_ns()
    workspace.load(opened.files, overrides=opened.overrides, cache=cache, jobs=request.jobs)
    kept = _Kept(workspace, tuple(opened.files), passed_over)
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


def _bring_up_to_date(kept: _Kept, opened: _Opened) -> str | None:
    """Make the kept workspace what a fresh load of ``opened`` would give; why that takes a
    fresh load instead (the file list or what discovery passed over differs), or None."""
    fresh = opened.session.workspace
    if tuple(opened.files) != kept.files:
        return "files were added or removed"
    if tuple(fresh.skipped) != kept.passed_over:
        return "discovery passes over other files"
    workspace = kept.workspace
    if workspace.settings != fresh.settings:
        return "other settings"
    root, limits = workspace.settings.root, workspace.settings.limits
    stats = fresh.discovered
    now = time.time_ns()
    kept.read = 0
    for rel in kept.files:
        if rel in opened.overrides:
            _take(kept, rel, opened.overrides[rel])
            kept.dirty.add(rel)  # the disk's content is read again next time
            continue
        st = stats.get(rel)
        if st is None:
            return f"{rel} is not a regular file"
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
        if st.st_mtime_ns >= now - _RACY_NS:
            kept.dirty.add(rel)
        else:
            kept.dirty.discard(rel)
    # What builds read besides the listed files (a generator's .env, a kustomization name that
    # names nothing): a change there changes builds whose files did not change.
    top = str(root)
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
