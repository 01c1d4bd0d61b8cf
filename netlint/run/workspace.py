"""The parsed state of a project: one FileResult per file, loaded in parallel where that pays,
served from the cache where the file has not changed, and updated file by file (the language
server re-lints one file without re-reading the rest)."""

from __future__ import annotations

import contextlib
import errno
import gc
import os
import pickle
import stat as stat_module
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from netlint.core.problems import ProblemKind
from netlint.core.units import DeclaredUnit
from netlint.read.discover import Skipped
from netlint.read.result import (
    FileResult,
    FileTooLarge,
    digest,
    is_not_a_manifest,
    unreadable,
)
from netlint.run.cache import Cache, ShardRef, ShardWriter, decode_results, encode_results
from netlint.run.workers import exit_with_parent

if TYPE_CHECKING:
    # Parsing, planning and indexing are imported where they run: a run answered from the
    # cache (an unchanged repo, ``netlint explain`` of a stored cluster) never imports them.
    from netlint.analysis.index import Index
    from netlint.analysis.layout import Layout
    from netlint.read.build import BuildOptions
    from netlint.read.parse import Limits
    from netlint.read.units import Memo, Plan

#: Below these, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 2 * 1024 * 1024
PARALLEL_MIN_FILES = 64
#: Shares per worker process: enough to overlap unpickling with parsing, few enough to be cheap.
SHARES_PER_WORKER = 4
#: Up to this many files set or dropped since the last plan, the next one's results are the
#: last ones with those replaced (a bulk load makes them again).
_FEW_CHANGES = 64


@dataclass(frozen=True, slots=True)
class LoadSettings:
    root: Path
    options: BuildOptions
    limits: Limits
    #: Deploy units the config declares (``units:``).
    units: tuple[DeclaredUnit, ...] = ()


@dataclass(slots=True)
class Workspace:
    settings: LoadSettings
    results: dict[str, FileResult] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    #: Contents that stand in for files on disk (an editor's unsaved buffers).
    overrides: dict[str, bytes] = field(default_factory=dict)
    #: The stats discovery took, for the next ``load`` (which uses each once).
    discovered: dict[str, os.stat_result] = field(default_factory=dict)
    _layout: Layout | None = None
    #: The last layout made: the next one keeps the indexes of the units that did not change.
    _previous: Layout | None = None
    #: What planning the units keeps for the next plan (the language server plans again
    #: after every edit): files parsed whole and builds, while their files are unchanged.
    _memo: Memo | None = None
    #: Files builds read that are not parsed manifests (a generator's ``.env``, a resource
    #: outside the roots), with the digest of what was read (None: nothing could be).
    unlisted_reads: dict[str, str | None] = field(default_factory=dict)
    #: Files passed over as no manifest that a kustomize build parses: linted after all, with
    #: their NL001, while a build does (the record that passed each over, see ``_revive``).
    _revived: dict[str, Skipped] = field(default_factory=dict)
    #: Each patch file's result as a patch, with the loaded result it was made from.
    _patches: dict[str, tuple[FileResult, FileResult]] = field(default_factory=dict)
    #: What the last plan was made of (``_planned``: the results as it took them, patch files
    #: as patches), ``results`` as they were then, and how many of them named each patch file;
    #: with the paths whose results were set or dropped since (``_since``), the next plan's
    #: results are those with a few paths replaced, not made again from every file (the
    #: language server plans after every keystroke). None: the next plan takes every file.
    #: Every change of ``results`` goes through ``_add``, ``update`` or ``_revive``, which
    #: record the path.
    _planned: dict[str, FileResult] | None = None
    _raw: dict[str, FileResult] | None = None
    _patch_counts: Counter[str] = field(default_factory=Counter)
    _since: set[str] = field(default_factory=set)

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
        self.overrides.update(overrides)
        #: Files to parse, with their bytes when they were already read (else a worker reads).
        todo: list[tuple[str, bytes | None]] = []
        stats: dict[str, os.stat_result] = {}
        with _lasting(freeze=True):
            for rel in paths:
                if rel in overrides:
                    todo.append((rel, overrides[rel]))
                    continue
                try:
                    # Discovery's stat, taken before any byte is read, anchors the cache's
                    # trust as well as a new one would: one stat per file and run.
                    known = self.discovered.pop(rel, None)
                    if known is None:
                        known = os.stat(self.settings.root / rel)
                    stat = stats[rel] = known
                    if cache is None or not cache.knows(rel):
                        todo.append((rel, None))
                        continue
                    cached = cache.get(rel, stat)
                    if cached is None:  # changed on disk, or only touched: decide by content
                        data = read_file(self.settings.root / rel, self.settings.limits)
                        cached = cache.get(rel, stat, data)
                        if cached is None:
                            todo.append((rel, data))
                            continue
                except OSError as exc:  # a finding, never a silent skip
                    self._add(unreadable(rel, exc))
                    continue
                self._add(cached)
            writer = cache.shard_writer() if cache is not None else None
            for result, shard in _load_many(self.settings, todo, jobs, writer, stats):
                self._add(result)
                # An unreadable file has no digest: nothing to remember about it.
                if cache is not None and result.path in stats and result.digest:
                    cache.put(result, stats[result.path], shard)
        self._layout = None

    def update(self, rel: str, data: bytes | None) -> FileResult | None:
        """Re-load one file from ``data`` (None: the file is gone)."""
        self.results.pop(rel, None)
        self._since.add(rel)
        self._revived.pop(rel, None)
        self.skipped = [s for s in self.skipped if s.path != rel]
        self._layout = None
        self.overrides.pop(rel, None)
        if data is None:
            return None
        self.overrides[rel] = data
        from netlint.read.load import load

        result = load(rel, data, self.settings.options, self.settings.limits)
        self._add(result)
        return result

    def update_unreadable(self, rel: str, error: OSError) -> None:
        """Mark one file as there but unreadable (or too large): its NL001 replaces its objects."""
        self.update(rel, None)
        self._add(unreadable(rel, error))

    def _add(self, result: FileResult) -> None:
        # Loaded afresh: whether a build parses it is decided again by the next plan.
        self._since.add(result.path)
        if self._revived.pop(result.path, None) is not None:
            self.results.pop(result.path, None)
        if result.skipped:
            self.skipped.append(Skipped(result.path, result.skipped))
        else:
            self.results[result.path] = result

    def follow(self, other: Workspace) -> None:
        """Plan as the next of ``other``'s plans (another revision of the same project): the
        builds whose files are unchanged, and the indexes of unchanged units, are taken from
        it instead of made again."""
        self._memo = other._memo = other._memo_made()
        self._previous = other._layout

    def index(self) -> Index:
        """Every unit's objects: what may be applied to one cluster."""
        return self.layout().cluster

    def layout(self) -> Layout:
        """The deploy units, each with its index, and the cluster index over them all."""
        if self._layout is None:
            from netlint.analysis.layout import Layout

            with _lasting(freeze=False):
                found, results = self._plan()
                if self._revive(found):
                    found, results = self._plan()
                self._layout = Layout.from_plan(found, results, self._previous)
            self._previous = self._layout
        return self._layout

    def _memo_made(self) -> Memo:
        if self._memo is None:
            from netlint.read.units import Memo

            self._memo = Memo()
        return self._memo

    def _plan(self) -> tuple[Plan, dict[str, FileResult]]:
        from netlint.read.units import plan

        before = self._planned
        results, changed = self._plan_results()
        settings = self.settings
        found = plan(
            results,
            self.read,
            settings.options,
            settings.limits,
            settings.units,
            # A file passed over as no manifest is not a template: a build that names it
            # reads and parses it (see _revive).
            (s.path for s in self.skipped if not is_not_a_manifest(s.reason)),
            self._memo_made(),
            None if before is None or changed is None else (before, changed),
        )
        return found, results

    def _plan_results(self) -> tuple[dict[str, FileResult], set[str] | None]:
        """The results a plan takes: every file's, in path order, a file that a kustomization
        applies as a patch as its patch (``_as_patch``). After a few updates, the last plan's
        with the updated paths replaced, when the same files are there and name the same
        patch files; else made from every file. With them, the paths that may differ from the
        last plan's (None: made from every file)."""
        since, self._since = self._since, set()
        planned, raw, current = self._planned, self._raw, self.results
        if planned is not None and raw is not None and len(since) <= _FEW_CHANGES:
            counts = self._patch_counts.copy()
            for rel in since:
                if (rel in current) != (rel in raw):
                    break  # a file came or went: the order changes
                old, new = raw.get(rel), current.get(rel)
                if old is not new and old is not None and new is not None:
                    counts.subtract(old.patches)
                    counts.update(new.patches)
            else:
                patches = {p for p, n in counts.items() if n > 0}
                if patches == {p for p, n in self._patch_counts.items() if n > 0}:
                    results = dict(planned)
                    for rel in since:
                        if rel in current:
                            found = current[rel]
                            results[rel] = self._patch_of(found) if rel in patches else found
                    self._planned, self._raw, self._patch_counts = results, dict(current), counts
                    return results, since
        counts = Counter(p for r in current.values() for p in r.patches)
        results = {
            p: self._patch_of(current[p]) if counts[p] > 0 else current[p] for p in sorted(current)
        }
        self._planned, self._raw, self._patch_counts = results, dict(current), counts
        return results, None

    def _patch_of(self, result: FileResult) -> FileResult:
        """``_as_patch`` of a loaded result, the same object while the result is: the plan
        after an edit tells the files that changed by identity (``units._replan``)."""
        kept = self._patches.get(result.path)
        if kept is None or kept[0] is not result:
            kept = self._patches[result.path] = (result, _as_patch(result))
        return kept[1]

    def _revive(self, found: Plan) -> bool:
        """Make the files passed over as no manifest that a kustomize build parses (as a
        resource or a patch: its syntax error is among what the build says kustomize would
        refuse) linted files again, with their NL001; and the files revived by an earlier
        plan that no build parses any more passed over again. True when something changed
        (the plan must be made again)."""
        candidates = {s.path for s in self.skipped if is_not_a_manifest(s.reason)}
        candidates.update(self._revived)
        if not candidates:
            return False
        # A build's failure is "path:line:col: message"; one in a candidate is its parse.
        parsed: set[str] = set()
        for planned in found.units:
            for reason in planned.unit.failed:
                parsed.update(_file_of(reason, candidates))
        changed = False
        for rel in [r for r in self._revived if r not in parsed]:
            self.results.pop(rel, None)
            self._since.add(rel)
            self.skipped.append(self._revived.pop(rel))
            changed = True
        passed_over = [s for s in self.skipped if is_not_a_manifest(s.reason)]
        from netlint.read.load import load

        for record in [s for s in passed_over if s.path in parsed]:
            data = self.read(record.path)
            if data is None:
                continue  # gone since the build read it: the next load says so
            result = load(
                record.path, data, self.settings.options, self.settings.limits, pass_over=False
            )
            self.skipped.remove(record)
            self.results[record.path] = result
            self._since.add(record.path)
            self._revived[record.path] = record
            changed = True
        return changed

    def read(self, rel: str) -> bytes | None:
        """The bytes of a file of the project a kustomize build reads (its unsaved buffer
        first), or None: missing, unreadable, too large, not a regular file, or leading out of
        the root through a linked folder (the file itself is opened without following links)."""
        if rel in self.overrides:
            return self.overrides[rel]
        if rel in self.results:
            return self._read(rel)
        found = self._read(rel)
        self.unlisted_reads[rel] = None if found is None else digest(found)
        return found

    def _read(self, rel: str) -> bytes | None:
        root = self.settings.root
        path = root / rel
        try:
            # Discovery found the files it lists inside the root; any other path is checked.
            if rel not in self.results:
                os.lstat(path)  # most such paths name nothing: fail before resolving links
                real_root = os.path.realpath(root)
                if os.path.commonpath((real_root, os.path.realpath(path.parent))) != real_root:
                    return None
            return read_file(path, self.settings.limits)
        except (OSError, ValueError):
            return None


def _file_of(reason: str, paths: set[str]) -> list[str]:
    """The file of ``paths`` that ``reason`` ("path:line:col: message") is located in, if any
    (a path may hold a colon: each colon is tried as the path's end)."""
    at = reason.find(":")
    while at > 0:
        rel = reason[:at]
        line, _, rest = reason[at + 1 :].partition(":")
        col, _, message = rest.partition(":")
        if rel in paths and line.isdigit() and col.isdigit() and message[:1] == " ":
            return [rel]
        at = reason.find(":", at + 1)
    return []


def _as_patch(result: FileResult) -> FileResult:
    """A file a Kustomization applies as a patch: its objects are fragments of objects defined
    elsewhere, so neither they nor what is missing from them (NL002) is linted; syntax is."""
    return replace(
        result,
        objects=[],
        problems=[p for p in result.problems if p.kind is ProblemKind.SYNTAX],
    )


def read_file(path: Path, limits: Limits | None = None) -> bytes:
    """A file's bytes. Raises OSError, also for anything but a regular file: a FIFO or device
    swapped in after discovery would block or never end (it is opened without blocking, and
    only read once known to be a regular file), and a symlink would lead anywhere. A file over
    ``limits.max_file_bytes`` raises FileTooLarge from its stat, unread (and a file that grows
    past the limit while it is read is cut off there), so memory stays bounded.

    What ``lstat`` shows is neither a regular file nor a link (left to ``O_NOFOLLOW``) is
    refused unopened, named by its type: opening a socket fails with "No such device or
    address", a device may do anything when opened."""
    kind = _special_kind(os.lstat(path).st_mode)
    if kind is not None:
        raise OSError(errno.EINVAL, f"not a regular file ({kind})")
    fd = os.open(
        path,
        os.O_RDONLY
        | getattr(os, "O_NOFOLLOW", 0)
        | getattr(os, "O_NONBLOCK", 0)
        | getattr(os, "O_CLOEXEC", 0),
    )
    with open(fd, "rb", closefd=True) as handle:
        stat = os.fstat(fd)
        if not stat_module.S_ISREG(stat.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if limits is None:
            return handle.read()
        if stat.st_size > limits.max_file_bytes:
            raise FileTooLarge(stat.st_size, limits)
        # Asked for the size it has (and one byte more, to see it grow): a read of the limit
        # allocates the whole limit first, for every file (a sixth of a parse worker's time).
        data = handle.read(stat.st_size + 1)
        if len(data) > stat.st_size:  # it grew since the stat: read on, up to the limit
            data += handle.read(limits.max_file_bytes + 1 - len(data))
        if len(data) > limits.max_file_bytes:
            raise FileTooLarge(max(len(data), os.fstat(fd).st_size), limits)
        return data


def _special_kind(mode: int) -> str | None:
    """What a file that is neither regular nor a link is, or None for those two."""
    if stat_module.S_ISREG(mode) or stat_module.S_ISLNK(mode):
        return None
    kinds = (
        (stat_module.S_ISFIFO, "a FIFO"),
        (stat_module.S_ISSOCK, "a socket"),
        (stat_module.S_ISCHR, "a character device"),
        (stat_module.S_ISBLK, "a block device"),
        (stat_module.S_ISDIR, "a directory"),
    )
    return next((name for test, name in kinds if test(mode)), "a special file")


@contextlib.contextmanager
def _lasting(*, freeze: bool) -> Iterator[None]:
    """Loading and planning allocate hundreds of thousands of small objects that all stay
    alive: the cyclic GC would rescan them again and again for nothing (a sixth of a plan).
    Off meanwhile; with ``freeze``, what exists then is kept out of later collections (not
    for a plan: the language server plans again on every edit, and a frozen plan it drops
    would never be collected)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        if freeze:
            gc.freeze()


def _load_chunk(
    settings: LoadSettings, chunk: Sequence[tuple[str, bytes | None]]
) -> list[FileResult]:
    if not chunk:
        return []
    from netlint.read.load import load

    gc.disable()
    out = []
    for rel, data in chunk:
        if data is None:
            try:
                data = read_file(settings.root / rel, settings.limits)
            except OSError as exc:
                out.append(unreadable(rel, exc))
                continue
        out.append(load(rel, data, settings.options, settings.limits))
    return out


def _load_share(
    settings: LoadSettings, chunk: Sequence[tuple[str, bytes | None]], writer: ShardWriter | None
) -> tuple[bytes, bool, ShardRef | None]:
    """A worker's share: its results encoded once, both for the main process and, when there
    is a cache, as a cache shard written here (the main process never encodes them again).
    The flag says the payload is a pickle instead: a value the cache format lacks (a netlint
    bug) must cost the cache, not the run; the pipe from our own worker is trusted."""
    results = _load_chunk(settings, chunk)
    try:
        payload = encode_results(results)
    except (TypeError, ValueError, OverflowError):
        return pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL), True, None
    shard = None
    if writer is not None:
        # A full disk costs this shard only: the main process keeps the results unsaved.
        with contextlib.suppress(OSError):
            shard = writer.write(payload)
    return payload, False, shard


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _load_many(
    settings: LoadSettings,
    todo: list[tuple[str, bytes | None]],
    jobs: int,
    writer: ShardWriter | None,
    stats: Mapping[str, os.stat_result],
) -> list[tuple[FileResult, ShardRef | None]]:
    """Each file of ``todo`` loaded; ``stats``: the stats taken of the files, whose sizes
    deal the files into shares (a stat of every file again, twice, was a tenth of a cold run
    of many small files)."""
    workers = jobs if jobs > 0 else default_jobs()
    lengths = [
        len(data) if data is not None else _known_size(stats.get(rel)) or _size(settings.root / rel)
        for rel, data in todo
    ]
    size = sum(lengths)
    if workers < 2 or len(todo) < PARALLEL_MIN_FILES or size < PARALLEL_MIN_BYTES:
        return [(result, None) for result in _load_chunk(settings, todo)]
    # Workers read their files themselves (only names cross the pipe). The files are dealt
    # round-robin by size into a few shares per worker, so that shares are alike and the main
    # process decodes the first ones while workers still parse the last.
    ordered = sorted(range(len(todo)), key=lambda i: -lengths[i])
    count = min(workers * SHARES_PER_WORKER, len(todo))
    shares: list[list[int]] = [[] for _ in range(count)]
    for position, i in enumerate(ordered):
        turn = position % (2 * count)
        shares[turn if turn < count else 2 * count - 1 - turn].append(i)
    # Imported here: a load from the cache, or of a few files, never needs workers.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    results: dict[int, tuple[FileResult, ShardRef | None]] = {}
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=exit_with_parent,
        initargs=(os.getpid(),),
    ) as pool:
        futures = {
            pool.submit(_load_share, settings, [todo[i] for i in share], writer): share
            for share in shares
            if share
        }
        for future in as_completed(futures):
            payload, pickled, shard = future.result()
            decoded = pickle.loads(payload) if pickled else decode_results(payload)
            if decoded is None:
                raise RuntimeError("netlint bug: a parse worker's results do not decode")
            for i, result in zip(futures[future], decoded, strict=True):
                results[i] = (result, shard)
    return [results[i] for i in range(len(todo))]


def _known_size(stat: os.stat_result | None) -> int:
    return stat.st_size if stat is not None else 0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
