"""The parsed state of a project: one FileResult per file, loaded in parallel where that pays,
served from the cache where the file has not changed, and updated file by file (the language
server re-lints one file without re-reading the rest)."""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import pickle
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path

from netlint.build import BuildOptions
from netlint.cache import Cache, ShardWriter
from netlint.discover import Skipped
from netlint.index import Index
from netlint.load import FileResult, load
from netlint.parse import Limits

#: Below these, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 2 * 1024 * 1024
PARALLEL_MIN_FILES = 64
#: Shares per worker process: enough to overlap unpickling with parsing, few enough to be cheap.
SHARES_PER_WORKER = 4


@dataclass(frozen=True, slots=True)
class LoadSettings:
    root: Path
    options: BuildOptions
    limits: Limits


@dataclass(slots=True)
class Workspace:
    settings: LoadSettings
    results: dict[str, FileResult] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    _index: Index | None = None

    def load(
        self,
        paths: Sequence[str],
        *,
        overrides: Mapping[str, bytes] | None = None,
        cache: Cache | None = None,
        jobs: int = 0,
    ) -> None:
        """Load every path (relative to the root); ``overrides`` stand in for file contents."""
        overrides = overrides or {}
        #: Files to parse, with their bytes when they were already read (else a worker reads).
        todo: list[tuple[str, bytes | None]] = []
        stats: dict[str, os.stat_result] = {}
        gc_was_enabled = gc.isenabled()
        # Loading allocates millions of small objects that all stay alive: the cyclic GC would
        # rescan them again and again for nothing.
        gc.disable()
        try:
            for rel in paths:
                if rel in overrides:
                    todo.append((rel, overrides[rel]))
                    continue
                path = self.settings.root / rel
                try:
                    stat = stats[rel] = path.stat()
                    if cache is None or not cache.knows(rel):
                        todo.append((rel, None))
                        continue
                    cached = cache.get(rel, stat)
                    if cached is None:  # changed on disk, or only touched: decide by content
                        data = path.read_bytes()
                        cached = cache.get(rel, stat, data)
                        if cached is None:
                            todo.append((rel, data))
                            continue
                except OSError as exc:
                    self.skipped.append(Skipped(rel, f"unreadable: {exc.strerror}"))
                    continue
                self._add(cached)
            writer = cache.shard_writer() if cache is not None else None
            for result, shard in _load_many(self.settings, todo, jobs, writer):
                self._add(result)
                if cache is not None and result.path in stats:
                    cache.put(result, stats[result.path], shard)
        finally:
            if gc_was_enabled:
                gc.enable()
            gc.freeze()
        self._index = None

    def update(self, rel: str, data: bytes | None) -> FileResult | None:
        """Re-load one file from ``data`` (None: the file is gone)."""
        self.results.pop(rel, None)
        self.skipped = [s for s in self.skipped if s.path != rel]
        self._index = None
        if data is None:
            return None
        result = load(rel, data, self.settings.options, self.settings.limits)
        self._add(result)
        return result

    def _add(self, result: FileResult) -> None:
        if result.skipped:
            self.skipped.append(Skipped(result.path, result.skipped))
        else:
            self.results[result.path] = result

    def index(self) -> Index:
        if self._index is None:
            patches = {p for r in self.results.values() for p in r.patches}
            self._index = Index(
                _as_patch(self.results[p]) if p in patches else self.results[p]
                for p in sorted(self.results)
            )
        return self._index


def _as_patch(result: FileResult) -> FileResult:
    """A file a Kustomization applies as a patch: its objects are fragments of objects defined
    elsewhere, so neither they nor what is missing from them (NL002) is linted; syntax is."""
    return replace(
        result,
        objects=[],
        problems=[p for p in result.problems if p.code == "NL001"],
    )


def _load_chunk(
    settings: LoadSettings, chunk: Sequence[tuple[str, bytes | None]]
) -> list[FileResult]:
    gc.disable()
    out = []
    for rel, data in chunk:
        if data is None:
            try:
                data = (settings.root / rel).read_bytes()
            except OSError as exc:
                out.append(FileResult(rel, "", skipped=f"unreadable: {exc.strerror}"))
                continue
        out.append(load(rel, data, settings.options, settings.limits))
    return out


def _load_share(
    settings: LoadSettings, chunk: Sequence[tuple[str, bytes | None]], writer: ShardWriter | None
) -> tuple[bytes, str | None]:
    """A worker's share: its results pickled once, both for the main process and, when there
    is a cache, as a cache shard written here (the main process never pickles them again)."""
    payload = pickle.dumps(_load_chunk(settings, chunk), protocol=pickle.HIGHEST_PROTOCOL)
    shard = None
    if writer is not None:
        # A full disk costs this shard only: the main process keeps the results unsaved.
        with contextlib.suppress(OSError):
            shard = writer.write(payload)
    return payload, shard


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _load_many(
    settings: LoadSettings,
    todo: list[tuple[str, bytes | None]],
    jobs: int,
    writer: ShardWriter | None,
) -> list[tuple[FileResult, str | None]]:
    workers = jobs if jobs > 0 else default_jobs()
    size = sum(len(data) if data is not None else _size(settings.root / rel) for rel, data in todo)
    if workers < 2 or len(todo) < PARALLEL_MIN_FILES or size < PARALLEL_MIN_BYTES:
        return [(result, None) for result in _load_chunk(settings, todo)]
    # Workers read their files themselves (only names cross the pipe). The files are dealt
    # round-robin by size into a few shares per worker, so that shares are alike and the main
    # process unpickles the first ones while workers still parse the last.
    ordered = sorted(
        range(len(todo)),
        key=lambda i: -(len(todo[i][1] or b"") or _size(settings.root / todo[i][0])),
    )
    count = min(workers * SHARES_PER_WORKER, len(todo))
    shares: list[list[int]] = [[] for _ in range(count)]
    for position, i in enumerate(ordered):
        turn = position % (2 * count)
        shares[turn if turn < count else 2 * count - 1 - turn].append(i)
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    results: dict[int, tuple[FileResult, str | None]] = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {
            pool.submit(_load_share, settings, [todo[i] for i in share], writer): share
            for share in shares
            if share
        }
        for future in as_completed(futures):
            payload, shard = future.result()
            for i, result in zip(futures[future], pickle.loads(payload), strict=True):
                results[i] = (result, shard)
    return [results[i] for i in range(len(todo))]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
