"""The parsed state of a project: one FileResult per file, loaded in parallel where that pays,
served from the cache where the file has not changed, and updated file by file (the language
server re-lints one file without re-reading the rest)."""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from netlint.build import BuildOptions
from netlint.cache import Cache
from netlint.discover import Skipped
from netlint.index import Index
from netlint.load import FileResult, load
from netlint.parse import Limits

#: Below these, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 2 * 1024 * 1024
PARALLEL_MIN_FILES = 64


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
        todo: list[tuple[str, bytes]] = []
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
                    cached = cache.get(rel, stat) if cache is not None else None
                    if cached is not None:
                        self._add(cached)
                        continue
                    data = path.read_bytes()
                except OSError as exc:
                    self.skipped.append(Skipped(rel, f"unreadable: {exc.strerror}"))
                    continue
                cached = cache.get(rel, stat, data) if cache is not None else None
                if cached is not None:
                    self._add(cached)
                else:
                    todo.append((rel, data))
            for result in _load_many(self.settings, todo, jobs):
                self._add(result)
                if cache is not None and result.path in stats:
                    cache.put(result, stats[result.path])
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


def _load_chunk(settings: LoadSettings, chunk: list[tuple[str, bytes]]) -> list[FileResult]:
    gc.disable()
    return [load(rel, data, settings.options, settings.limits) for rel, data in chunk]


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _load_many(
    settings: LoadSettings, todo: list[tuple[str, bytes]], jobs: int
) -> Iterable[FileResult]:
    workers = jobs if jobs > 0 else default_jobs()
    size = sum(len(data) for _, data in todo)
    if workers < 2 or len(todo) < PARALLEL_MIN_FILES or size < PARALLEL_MIN_BYTES:
        return _load_chunk(settings, todo)
    # Deal files round-robin by size so every worker gets a similar amount of YAML; the main
    # process takes the first share itself instead of waiting idle.
    ordered = sorted(range(len(todo)), key=lambda i: -len(todo[i][1]))
    shares: list[list[int]] = [[] for _ in range(workers)]
    for position, i in enumerate(ordered):
        turn = position % (2 * workers)
        shares[turn if turn < workers else 2 * workers - 1 - turn].append(i)
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    results: dict[int, FileResult] = {}
    with ProcessPoolExecutor(max_workers=workers - 1, mp_context=context) as pool:
        futures = [
            (share, pool.submit(_load_chunk, settings, [todo[i] for i in share]))
            for share in shares[1:]
        ]
        for i, result in zip(
            shares[0], _load_chunk(settings, [todo[i] for i in shares[0]]), strict=True
        ):
            results[i] = result
        for share, future in futures:
            for i, result in zip(share, future.result(), strict=True):
                results[i] = result
    return [results[i] for i in range(len(todo))]
