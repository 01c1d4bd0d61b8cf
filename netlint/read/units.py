"""Deploy units from the evidence in the repo, and the objects each one applies (docs/units.md).

Evidence, strongest first: the project config's ``units:``; GitOps definitions (Argo CD
``Application``/``ApplicationSet``, Flux ``Kustomization``) naming a folder of this repo; every
kustomization that no other kustomization includes; and, for what is left, each plain file on
its own. Files inside a kustomize tree (a folder holding a kustomization, and below) that no
build reads are *not applied*: kustomize never sends them to a cluster.

A kustomize unit is built by the in-process engine (:mod:`netlint.read.kustomize`), so every
value keeps the span of the line that wrote it. The engine needs documents as trees; the files
were parsed once already into model objects (and those are what the cache keeps), so a build
whose kustomizations only set metadata (``namespace``, ``namePrefix``/``nameSuffix``,
``commonAnnotations``, metadata-only ``labels``: the common overlay) is fed *metadata trees*
made from the model objects, and the engine's output metadata is put back on them. Everything
else (patches, ``commonLabels``, components, generators, replacements...) re-reads the unit's
files whole. Both ways the engine decides; the metadata trees only spare the re-parse
(``tests/test_units.py`` checks that both give the same objects).
"""

from __future__ import annotations

import posixpath
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final

from netlint.core.model import (
    NAME_LABEL,
    SERVED_AT,
    ForeignPolicy,
    Namespace,
    NetworkPolicy,
    Object,
    ObjectRef,
    Workload,
    evolve,
)
from netlint.core.problems import Problem, ProblemKind
from netlint.core.source import Span, point
from netlint.core.units import DeclaredUnit, Unit, UnitKind, readers_of
from netlint.read import gitops, kustomize
from netlint.read.build import IGNORE_ANNOTATION, BuildOptions, build_tree
from netlint.read.discover import GlobError, compile_glob
from netlint.read.parse import ALL, Limits, PathKey, Tree, parse, to_tree
from netlint.read.result import FileResult

Modelled = Object | ForeignPolicy
#: path relative to the root -> its bytes (an editor's unsaved buffer first), None when there
#: is no readable regular file there. Never follows a link out of the root.
Reader = Callable[[str], bytes | None]

#: Kustomization fields that only touch metadata (or nothing modelled): a build using no other
#: field can run on metadata trees. ``labels`` qualifies only without includeSelectors and
#: includeTemplates, which reach selectors and pod templates.
_METADATA_FIELDS: Final = frozenset(
    {
        "apiVersion", "kind", "metadata", "resources", "bases", "namespace", "namePrefix",
        "nameSuffix", "commonAnnotations", "labels", "buildMetadata", "sortOptions",
    }
)  # fmt: skip
#: Fields of a build that only moves objects to a namespace.
_NAMESPACE_FIELDS: Final = frozenset(
    {"apiVersion", "kind", "metadata", "resources", "bases", "namespace", "buildMetadata"}
)


class _Needs(Enum):
    NAMESPACE = "namespace"
    METADATA = "metadata"
    WHOLE = "whole"


#: Kinds of GitOps definitions (Argo CD, Flux) that may name a folder of the repo as a unit.
_GITOPS_KINDS: Final = frozenset(
    (gitops.APPLICATION, gitops.APPLICATION_SET, gitops.FLUX_KUSTOMIZATION)
)
#: Where a metadata tree keeps the index of the model object it was made from.
_MARK: Final = "__netlint_object__"


@dataclass(slots=True)
class Memo:
    """What one plan leaves for the next (the language server plans again after every edit):
    files parsed whole, and unit builds, each kept while the files it read are unchanged
    (their digests, or their bytes for files discovery does not list)."""

    parsed: dict[str, tuple[object, kustomize.SourceFile | None]] = field(default_factory=dict)
    #: Each build with the content keys of the files it read, and their loaded results.
    builds: dict[
        str, tuple[tuple[tuple[str, object], ...], Planned, tuple[FileResult | None, ...] | None]
    ] = field(default_factory=dict)
    #: The discovered files the builds were made among: a file added or removed may be one a
    #: build looked for, so every build is made again.
    paths: tuple[str, ...] = ()
    #: Facts of those files: every folder, the kustomization folders, the files below them.
    facts: tuple[frozenset[str], frozenset[str], frozenset[str]] = (
        frozenset(),
        frozenset(),
        frozenset(),
    )
    #: Plain files as units of their own, with the loaded result each was made from.
    singles: dict[str, tuple[FileResult, Planned]] = field(default_factory=dict)
    #: The kustomization files among ``paths``, by folder.
    kustomizations: tuple[str, ...] = ()
    #: The top-level kustomizations, with the kustomization files (and contents) they came from.
    top: tuple[tuple[tuple[str, object], ...], list[str]] | None = None
    #: The last plan, with what it was made from (see ``_replan``).
    last: _Last | None = None

    def remember(
        self,
        results: Mapping[str, FileResult],
        declared: Sequence[DeclaredUnit],
        skipped: frozenset[str],
        found: Plan,
        placed: Sequence[tuple[str, str]],
    ) -> None:
        self.last = _Last(dict(results), tuple(declared), skipped, found, tuple(placed), results)


@dataclass(frozen=True, slots=True)
class _Last:
    """A plan and what it was made from: the loaded results (by identity), the config units,
    the templated files; how each unit was made (``("file", path)``, ``("kustomize",
    directory)``, ``("gitops", id)`` or ``("config", name)``), and the units that read each
    file (``plan.readers()``). ``given`` is the mapping the plan was asked of, which a caller's
    hint of what changed since refers to (see ``plan``)."""

    results: dict[str, FileResult]
    declared: tuple[DeclaredUnit, ...]
    skipped: frozenset[str]
    plan: Plan
    placed: tuple[tuple[str, str], ...]
    given: Mapping[str, FileResult]


def _names_gitops(result: FileResult) -> bool:
    return not _GITOPS_KINDS.isdisjoint(result.kinds) and any(
        result.kinds[k] for k in _GITOPS_KINDS
    )


def _single(path: str, result: FileResult) -> Planned:
    return Planned(Unit(f"file:{path}", UnitKind.FILE, path, None, (path,)), list(result.objects))


@dataclass(slots=True)
class Planned:
    unit: Unit
    objects: list[Modelled]


@dataclass(slots=True, weakref_slot=True)
class Plan:
    units: list[Planned]
    #: Files in a kustomize tree that no build reads: never applied, so not linted as objects.
    not_applied: list[str] = field(default_factory=list)
    #: What ``--verbose`` should say: GitOps paths that name no folder of the repo, and why.
    notes: list[str] = field(default_factory=list)
    #: A plan made from the last one (``_replan``): that plan, while it lives, and the
    #: positions of the units made again; every other unit is the last plan's, the same
    #: object (a layout of the last plan keeps its indexes, see ``Layout.from_plan``).
    base: weakref.ref[Plan] | None = None
    rebuilt: tuple[int, ...] = ()
    #: With ``base``: the paths whose results are other objects than that plan's.
    changed: tuple[str, ...] = ()
    #: For each file, the positions of the units that read it (see ``readers``).
    _readers: dict[str, list[int]] | None = None

    def readers(self) -> dict[str, list[int]]:
        """For each file, the positions in ``units`` of the units that read it: which units a
        re-plan makes again, and which a re-lint visits (``Layout.reading``)."""
        if self._readers is None:
            self._readers = readers_of(planned.unit for planned in self.units)
        return self._readers


def plan(
    results: Mapping[str, FileResult],
    read: Reader,
    options: BuildOptions,
    limits: Limits,
    declared: Sequence[DeclaredUnit] = (),
    skipped: Iterable[str] = (),
    memo: Memo | None = None,
    changed: tuple[Mapping[str, FileResult], Collection[str]] | None = None,
) -> Plan:
    """The units of a repo whose files were loaded into ``results`` (``skipped``: files that
    were not, templated ones), each with the model objects it applies. ``memo`` carries what
    is still valid from one plan to the next. ``changed``, a hint: the mapping an earlier plan
    was asked of and the paths whose results differ from it (when that was the memo's last
    plan, they alone are compared; the others are taken to be the same objects)."""
    templated = frozenset(skipped)
    if memo is not None and memo.last is not None:
        paths: Iterable[str] = results
        if changed is not None and changed[0] is memo.last.given:
            paths = changed[1]
        found = _replan(memo, memo.last, results, paths, read, options, limits, declared, templated)
        if found is not None:
            return found
    planner = _Planner(results, read, options, limits, templated, memo)
    found = planner.plan(declared)
    planner.memo.remember(results, declared, templated, found, planner.placed)
    return found


def _replan(
    memo: Memo,
    last: _Last,
    results: Mapping[str, FileResult],
    paths: Iterable[str],
    read: Reader,
    options: BuildOptions,
    limits: Limits,
    declared: Sequence[DeclaredUnit],
    templated: frozenset[str],
) -> Plan | None:
    """The last plan with the units that read a changed file made again, when nothing else
    can differ; None when a whole plan is needed.

    An editor's keystroke changes one file. When the files, the config units and the
    templated files are the same, and no changed file is a kustomization or holds a GitOps
    kind (before or after), the units are the same units reading the same files: what a
    build reads, which folders a GitOps definition names and which files a config unit
    takes are written in other files. So only the units that read a changed file are made
    again (a plain file's unit of its own, or a build, whose memo rebuilds it), and a file no
    unit reads (in a kustomize tree, not applied) changes nothing. A GitOps folder or config
    unit that reads one, and builds that read files beside the loaded results (a generator's
    input, whose bytes only a whole plan checks), need a whole plan. ``paths``: those whose
    results may differ from the last plan's (every path, without a hint)."""
    if last.declared != tuple(declared) or last.skipped != templated:
        return None
    before = last.results
    if len(before) != len(results) or before.keys() != results.keys():
        return None
    if any(build[2] is None for build in memo.builds.values()):
        return None
    units = list(last.plan.units)
    rebuilt: set[int] = set()
    changed: list[str] = []
    planner: _Planner | None = None
    for path in paths:
        result = results.get(path)
        if result is None:
            continue  # the keys are the same: not there now, nor at the last plan
        old = before[path]
        if old is result:
            continue
        changed.append(path)
        if (
            _names_gitops(old)
            or _names_gitops(result)
            or posixpath.basename(path) in kustomize.KUSTOMIZATION_FILES
        ):
            return None
        for i in last.plan.readers().get(path, ()):
            how, key = last.placed[i]
            if how == "file":
                # The same Unit (a file's unit is its path): the layout keeps its map of which
                # units read which file by identity.
                units[i] = Planned(units[i].unit, list(result.objects))
                memo.singles[path] = (result, units[i])
                rebuilt.add(i)
            elif how == "kustomize":
                if planner is None:
                    planner = _Planner(results, read, options, limits, templated, memo)
                built = planner._kustomize(key)
                if built.unit.files != units[i].unit.files:
                    return None
                units[i] = built
                rebuilt.add(i)
            else:
                return None
    found = Plan(
        units,
        list(last.plan.not_applied),
        list(last.plan.notes),
        weakref.ref(last.plan),
        tuple(sorted(rebuilt)),
        tuple(changed),
        # The same files in each unit (a rebuilt one reads what it read, or there is no
        # plan made this way): the same readers.
        last.plan.readers(),
    )
    memo.last = _Last(dict(results), last.declared, templated, found, last.placed, results)
    return found


class _Planner:
    def __init__(
        self,
        results: Mapping[str, FileResult],
        read: Reader,
        options: BuildOptions,
        limits: Limits,
        skipped: frozenset[str],
        memo: Memo | None = None,
    ) -> None:
        self.results = results
        self.memo = memo if memo is not None else Memo()
        self.read = read
        self.options = options
        self.limits = limits
        self.skipped = skipped
        self._sources: dict[str, kustomize.SourceFile | None] = {}
        self._originals: list[Modelled] = []
        #: How each unit of the plan was made, in its order (see ``_Last``).
        self.placed: list[tuple[str, str]] = []
        self.paths = sorted(results)
        paths = tuple(self.paths)
        if self.memo.paths != paths:
            # Another set of files: what was built among the old one may have looked for one
            # that is new, and the facts about folders change.
            self.memo.builds.clear()
            self.memo.singles = {p: v for p, v in self.memo.singles.items() if p in results}
            # The top-level kustomizations stay: they depend on the kustomization files only,
            # whose names and contents their stamp holds (a new one is a new stamp).
            self.memo.paths = paths
            # Per folder, not per file: a repo has far fewer folders than files.
            homes = {p: posixpath.dirname(p) for p in self.paths}
            folders = frozenset(parent for d in set(homes.values()) for parent in _parents(d))
            kustomize_dirs = frozenset(
                home
                for p, home in homes.items()
                if posixpath.basename(p) in kustomize.KUSTOMIZATION_FILES
            )
            below = {d for d in set(homes.values()) if _below_any(d, kustomize_dirs)}
            in_tree = frozenset(p for p, home in homes.items() if home in below)
            self.memo.facts = (folders, kustomize_dirs, in_tree)
            self.memo.kustomizations = tuple(
                path
                for directory in sorted(kustomize_dirs)
                for name in kustomize.KUSTOMIZATION_FILES
                if (path := posixpath.join(directory, name) if directory else name) in results
            )
        #: Every folder that holds a file of the project (and its parents; "" is the root); the
        #: folders holding a kustomization; the files in a kustomize tree.
        self.folders, self.kustomize_dirs, self.in_tree = self.memo.facts

    # -- loaders for the engine ---------------------------------------------------------

    def full(self, path: str) -> kustomize.SourceFile | None:
        """A file parsed whole (every key and value converted), once per plan."""
        if path in self._sources:
            return self._sources[path]
        source: kustomize.SourceFile | None
        if path in self.skipped:
            problem = Problem(
                ProblemKind.SYNTAX, "a templated file: kustomize cannot build it", point(path, 0, 0)
            )
            source = kustomize.SourceFile((), (problem,))
        else:
            known = self.memo.parsed.get(path)
            key = self._key(path)
            if key is None:
                source = None
            elif known is not None and known[0] == key:
                source = known[1]
            else:
                data = self.read(path)
                source = None if data is None else _parse_whole(path, data, self.limits)
                self.memo.parsed[path] = (key, source)
        self._sources[path] = source
        return source

    def _key(self, path: str) -> object:
        """What identifies a file's content: its digest when it was loaded, else its bytes
        (None when there is no such file)."""
        result = self.results.get(path)
        return result.digest if result is not None and result.digest else self.read(path)

    def metadata(self, path: str) -> kustomize.SourceFile | None:
        """Kustomizations whole; a resource file as metadata trees of its model objects."""
        result = self.results.get(path)
        if result is None or posixpath.basename(path) in kustomize.KUSTOMIZATION_FILES:
            return self.full(path)
        syntax = tuple(p for p in result.problems if p.kind is ProblemKind.SYNTAX)
        trees = [self._metadata_tree(obj) for obj in result.objects]
        return kustomize.SourceFile(trees, syntax)

    def _metadata_tree(self, obj: Modelled) -> Tree:
        self._originals.append(obj)
        ref = obj.ref
        api_version = _api_version(obj)
        metadata: dict[str, Any] = {"name": ref.name}
        spans: dict[PathKey, Span] = {(): ref.span, ("metadata",): ref.span}
        if isinstance(obj, NetworkPolicy | Workload | Namespace):
            spans[("metadata", "name")] = obj.name_span
        namespace_span = getattr(obj, "namespace_span", None)
        if isinstance(obj, NetworkPolicy | Workload) and obj.namespace_declared:
            metadata["namespace"] = obj.namespace
            if namespace_span is not None:
                spans[("metadata", "namespace")] = namespace_span
        elif isinstance(obj, ForeignPolicy) and obj.namespace is not None and ref.namespace:
            metadata["namespace"] = obj.namespace
        labels = obj.labels if isinstance(obj, NetworkPolicy | Namespace) else {}
        if labels:
            metadata["labels"] = dict(labels)
        if not isinstance(obj, ForeignPolicy) and obj.annotations:
            metadata["annotations"] = dict(obj.annotations)
            if obj.annotation_span is not None:
                spans[("metadata", "annotations", IGNORE_ANNOTATION)] = obj.annotation_span
        data = {
            "apiVersion": api_version,
            "kind": ref.kind,
            "metadata": metadata,
            _MARK: len(self._originals) - 1,
        }
        return Tree(ref.path, data, spans, {}, [])

    # -- planning -----------------------------------------------------------------------

    def plan(self, declared: Sequence[DeclaredUnit]) -> Plan:
        planned: list[Planned] = []
        claimed: set[str] = set()
        top = self._top_level()
        built: set[str] = set()
        notes: list[str] = []
        placed = self.placed
        for app in self._gitops(notes):
            planned.append(app)
            placed.append(("gitops", app.unit.id))
            claimed.update(app.unit.files)
            built.update(d for d in self.kustomize_dirs if _kustomization_in(d, app.unit.files))
        for entry in declared:
            unit = self._declared(entry)
            planned.append(unit)
            placed.append(("config", entry.name))
            claimed.update(unit.unit.files)
        for directory in top:
            if directory not in built:
                unit = self._kustomize(directory)
                planned.append(unit)
                placed.append(("kustomize", directory))
                claimed.update(unit.unit.files)
        in_tree = self.in_tree
        not_applied = [
            p
            for p in self.paths
            if p in in_tree
            and p not in claimed
            and posixpath.basename(p) not in kustomize.KUSTOMIZATION_FILES
        ]
        for path in self.paths:
            if path in claimed or path in in_tree:
                continue
            planned.append(self._alone(path))
            placed.append(("file", path))
        return Plan(planned, not_applied, notes)

    # -- GitOps definitions ---------------------------------------------------------------

    def _gitops(self, notes: list[str]) -> Iterator[Planned]:
        """A unit per Argo CD Application or ApplicationSet folder, or Flux Kustomization, that
        names a folder of this repo (every source of one Application applied together)."""
        # Most files hold no GitOps kind: one set test in C each, before the counts (a Counter
        # may keep a kind at zero). The language server plans again on every edit.
        candidates = sorted(path for path, result in self.results.items() if _names_gitops(result))
        folders = sorted(self.folders) if candidates else []
        for path in candidates:
            if posixpath.basename(path) in kustomize.KUSTOMIZATION_FILES:
                continue
            source = self.full(path)
            if source is None:
                continue
            for tree in source.documents:
                data = tree.data
                if not isinstance(data, dict):
                    continue
                kind, api_version = data.get("kind"), data.get("apiVersion")
                if not (isinstance(kind, str) and isinstance(api_version, str)):
                    continue
                if not gitops.candidate(kind, api_version):
                    continue
                found = gitops.scan(
                    tree,
                    lambda d: d in self.folders,
                    lambda base: folders,
                    lambda f: f in self.results,
                )
                notes.extend(f"{s.span}: {s.message()}" for s in found.skipped)
                groups: dict[tuple[str, str], list[gitops.AppSource]] = {}
                for app in found.units:
                    groups.setdefault((app.kind, app.name), []).append(app)
                for apps in groups.values():
                    yield self._app(apps)

    def _app(self, apps: Sequence[gitops.AppSource]) -> Planned:
        first = apps[0]
        kind = UnitKind.FLUX if first.kind == gitops.FLUX_KUSTOMIZATION else UnitKind.ARGOCD
        objects: list[Modelled] = []
        files: set[str] = set()
        reasons: list[str] = []
        failed: list[str] = []
        for app in apps:
            made, read, why, broken = self._folder(app)
            failed.extend(broken)
            if app.namespace is not None:
                made = [
                    with_namespace(o, app.namespace, app.span, override=app.override_namespace)
                    for o in made
                ]
            objects.extend(made)
            files.update(read)
            reasons.extend(why)
            if app.incomplete:
                reasons.append(f"{app.span}: {app.incomplete}")
        unit = Unit(
            f"{kind.value}:{first.name}",
            kind,
            ", ".join(dict.fromkeys(a.path or "." for a in apps)),
            str(first.span),
            tuple(sorted(files)),
            tuple(reasons),
            first.namespace,
            tuple(failed),
        )
        return Planned(unit, objects)

    def _folder(
        self, app: gitops.AppSource
    ) -> tuple[list[Modelled], set[str], list[str], tuple[str, ...]]:
        """What a GitOps folder applies: its kustomization's build, or its manifests (and,
        below it, the builds of the first kustomizations met, as Flux generates them)."""
        if app.path in self.kustomize_dirs:
            built = self._kustomize(app.path)
            unit = built.unit
            return built.objects, set(unit.files), list(unit.incomplete), unit.failed
        objects: list[Modelled] = []
        files: set[str] = set()
        reasons: list[str] = []
        prefix = app.path + "/" if app.path else ""
        try:
            include = compile_glob(app.include) if app.include else None
            exclude = compile_glob(app.exclude) if app.exclude else None
        except GlobError as exc:
            # Which files the controller applies is not known: none are claimed for the unit.
            return [], set(), [f"{app.span}: directory include/exclude: {exc}"], ()
        if (app.include and "{" in app.include) or (app.exclude and "{" in app.exclude):
            reasons.append(f"{app.span}: brace patterns in include/exclude are not expanded")
        kustomizations: set[str] = set()
        failed: list[str] = []
        for path in self.paths:
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix) :]
            if "/" in rest and not app.recurse:
                continue
            if include is not None and not include.match(rest):
                continue
            if exclude is not None and exclude.match(rest):
                continue
            below = self._kustomization_above(path, app.path)
            if below is not None:
                kustomizations.add(below)
                continue
            objects.extend(self.results[path].objects)
            files.add(path)
        for directory in sorted(kustomizations):
            built = self._kustomize(directory)
            objects.extend(built.objects)
            files.update(built.unit.files)
            reasons.extend(built.unit.incomplete)
            failed.extend(built.unit.failed)
        return objects, files, reasons, tuple(failed)

    def _kustomization_above(self, path: str, top: str) -> str | None:
        """The highest folder between ``top`` (excluded) and ``path`` holding a kustomization."""
        found = None
        directory = posixpath.dirname(path)
        while directory != top and (directory + "/").startswith(top + "/" if top else ""):
            if directory in self.kustomize_dirs:
                found = directory
            if not directory:
                break
            directory = posixpath.dirname(directory)
        return found

    def _alone(self, path: str) -> Planned:
        """A plain file as a unit of its own (the last plan's, for the same loaded file)."""
        result = self.results[path]
        kept = self.memo.singles.get(path)
        if kept is not None and kept[0] is result:
            return kept[1]
        planned = _single(path, result)
        self.memo.singles[path] = (result, planned)
        return planned

    def _in_kustomize_tree(self, path: str) -> bool:
        return path in self.in_tree

    def _top_level(self) -> list[str]:
        """The kustomizations no other includes: the last plan's, when no kustomization file
        changed."""
        if not self.kustomize_dirs:
            return []
        stamp = tuple((path, self._key(path)) for path in self.memo.kustomizations)
        if self.memo.top is not None and self.memo.top[0] == stamp:
            return self.memo.top[1]
        top = kustomize.top_level_kustomizations(self.full, self.paths)
        self.memo.top = (stamp, top)
        return top

    def _declared(self, entry: DeclaredUnit) -> Planned:
        """A config unit: its plain files, applied together. Files of a kustomize tree are
        applied by their build, which is a unit of its own (the stronger evidence)."""
        globs = [compile_glob(p) for p in entry.paths]
        files = [
            p
            for p in self.paths
            if any(g.match(p) for g in globs) and not self._in_kustomize_tree(p)
        ]
        objects = [o for path in files for o in self.results[path].objects]
        if entry.namespace is not None:
            span = _declared_span(entry.declared_at)
            objects = [with_namespace(o, entry.namespace, span, override=False) for o in objects]
        unit = Unit(
            f"config:{entry.name}",
            UnitKind.CONFIG,
            entry.name,
            entry.declared_at,
            tuple(files),
            namespace=entry.namespace,
        )
        return Planned(unit, objects)

    def _kustomize(self, directory: str) -> Planned:
        """Build one kustomization directory into a unit, or take the last plan's build of it
        when none of the files it read changed."""
        kept = self.memo.builds.get(directory)
        if kept is not None:
            stamps, planned, read = kept
            # The language server plans again after every edit, and a repo may have a
            # thousand builds: the results it read, unchanged, are the very same objects (one
            # comparison in C per build); only when one is not are the digests compared.
            if (
                read is not None and read == tuple(map(self.results.get, planned.unit.files))
            ) or all(self._key(path) == key for path, key in stamps):
                return planned
        planned = self._build_kustomization(directory)
        stamps = tuple((path, self._key(path)) for path in planned.unit.files)
        results = tuple(map(self.results.get, planned.unit.files))
        # A file that is no loaded result (a generator's input) is known by its bytes only.
        loaded = all(r is not None and r.digest for r in results)
        self.memo.builds[directory] = (stamps, planned, results if loaded else None)
        return planned

    def _build_kustomization(self, directory: str) -> Planned:
        how = self._needs(directory, set())
        files: tuple[str, ...]
        reasons: tuple[str, ...] = ()
        failed: tuple[str, ...] = ()
        moved = self._namespaced(directory) if how is _Needs.NAMESPACE else None
        if moved is not None:
            objects, read = moved
            files = tuple(sorted(set(read)))
        else:
            objects, files, reasons, failed = self._render(directory, how is not _Needs.WHOLE)
        declared = next(
            (
                posixpath.join(directory, n) if directory else n
                for n in kustomize.KUSTOMIZATION_FILES
                if (posixpath.join(directory, n) if directory else n) in files
            ),
            None,
        )
        unit = Unit(
            f"kustomize:{directory or '.'}",
            UnitKind.KUSTOMIZE,
            directory,
            f"{declared}:1:1" if declared else None,
            files,
            reasons,
            failed=failed,
        )
        return Planned(unit, objects)

    def _render(
        self, directory: str, light: bool
    ) -> tuple[list[Modelled], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """The engine's build: on metadata trees when ``light``, else on the files whole."""
        base = len(self._originals)
        build = kustomize.render(self.metadata if light else self.full, directory)
        objects: list[Modelled] = []
        spans = self._object_places(build.files) if not light else {}
        for rendered in build.objects:
            made = self._adopt(rendered, base) if light else self._build(rendered, spans)
            if made is not None:
                objects.append(made)
        reasons = tuple(str(r) for r in (*build.errors, *build.incomplete))
        failed = tuple(str(r) for r in build.errors)
        return objects, tuple(sorted(build.files)), reasons, failed

    def _namespaced(self, directory: str) -> tuple[list[Modelled], list[str]] | None:
        """A build of ``resources`` and ``namespace`` only, done on the model objects: the
        engine's NamespaceTransformer, which ``tests/test_units.py`` checks this against, for
        the kinds netlint models (a v1 Namespace is renamed, other objects moved). None when
        two objects end up with one id: kustomize refuses that build, and the engine says so."""
        found = self._kustomization_tree(directory)
        assert found is not None  # _needs saw it
        path, tree = found
        files = [path]
        objects: list[Modelled] = []
        for key in ("resources", "bases"):
            for entry in tree.data.get(key) or ():
                target = posixpath.normpath(posixpath.join(directory, entry))
                target = "" if target == "." else target
                if target in self.kustomize_dirs:
                    inner = self._namespaced(target)
                    if inner is None:
                        return None
                    objects.extend(inner[0])
                    files.extend(inner[1])
                else:
                    objects.extend(self.results[target].objects)
                    files.append(target)
        if not _unique_ids(objects):
            return None
        namespace = tree.data.get("namespace")
        if isinstance(namespace, str) and namespace:
            span = tree.span(("namespace",))
            objects = [_moved(o, namespace, span) for o in objects]
            if not _unique_ids(objects):
                return None
        return objects, files

    def _needs(self, directory: str, seen: set[str]) -> _Needs:
        """What the build of ``directory`` (its bases included) needs: only its namespace
        applied, the engine on metadata, or the engine on the files whole."""
        if directory in seen:
            return _Needs.WHOLE  # a cycle: the engine reports it
        seen.add(directory)
        found = self._kustomization_tree(directory)
        if found is None:
            return _Needs.WHOLE
        data = found[1].data
        if not set(data) <= _METADATA_FIELDS:
            return _Needs.WHOLE
        how = _Needs.NAMESPACE if set(data) <= _NAMESPACE_FIELDS else _Needs.METADATA
        labels = data.get("labels", [])
        if not isinstance(labels, list) or any(
            not isinstance(entry, dict)
            or entry.get("includeSelectors")
            or entry.get("includeTemplates")
            or "fields" in entry
            for entry in labels
        ):
            return _Needs.WHOLE
        namespace = data.get("namespace")
        if namespace is not None and not (isinstance(namespace, str) and namespace):
            return _Needs.WHOLE  # the engine says what is wrong with it
        for key in ("resources", "bases"):
            entries = data.get(key, [])
            if not isinstance(entries, list):
                return _Needs.WHOLE
            for entry in entries:
                if not isinstance(entry, str) or not entry or entry.startswith("/"):
                    return _Needs.WHOLE
                target = posixpath.normpath(posixpath.join(directory, entry))
                target = "" if target == "." else target
                if target == ".." or target.startswith("../"):
                    return _Needs.WHOLE
                if target in self.kustomize_dirs:
                    inner = self._needs(target, seen)
                    if inner is _Needs.WHOLE:
                        return inner
                    if inner is _Needs.METADATA:
                        how = inner
                elif target not in self.results or target in self.skipped:
                    return _Needs.WHOLE  # a folder without kustomization, remote, missing
                elif any(p.kind is ProblemKind.SYNTAX for p in self.results[target].problems):
                    return _Needs.WHOLE  # the engine decides what a broken file means
        return how

    def _kustomization_tree(self, directory: str) -> tuple[str, Tree] | None:
        """The kustomization file of ``directory`` and its one document (None for anything
        else: no file or several, a syntax error, not one mapping)."""
        found = []
        for name in kustomize.KUSTOMIZATION_FILES:
            path = posixpath.join(directory, name) if directory else name
            source = self.full(path)
            if source is not None:
                found.append((path, source))
        if len(found) == 1:
            path, source = found[0]
            docs = [d for d in source.documents if d.data is not None]
            if not source.problems and len(docs) == 1 and isinstance(docs[0].data, dict):
                return path, docs[0]
        return None

    def _adopt(self, rendered: kustomize.Rendered, base: int) -> Modelled | None:
        """The model object a metadata tree was made from, with the metadata of the build."""
        mark = rendered.tree.data.get(_MARK) if isinstance(rendered.tree.data, dict) else None
        if not isinstance(mark, int) or not base <= mark < len(self._originals):
            return None
        return adopt_metadata(self._originals[mark], rendered.tree)

    def _object_places(self, files: Iterable[str]) -> dict[tuple[str, Span], ObjectRef]:
        """Where each object of the build's files sits (document, path in it), by its span."""
        return {
            (obj.ref.path, obj.ref.span): obj.ref
            for path in files
            if (result := self.results.get(path)) is not None
            for obj in result.objects
        }

    def _build(
        self, rendered: kustomize.Rendered, places: Mapping[tuple[str, Span], ObjectRef]
    ) -> Modelled | None:
        tree = rendered.tree
        span = tree.span(())
        place = places.get((tree.path, span))
        document, prefix = (place.document, place.prefix) if place is not None else (0, ())
        try:
            return build_tree(tree, document, prefix, span, self.options)
        except Exception:
            return None


def _below_any(directory: str, directories: frozenset[str]) -> bool:
    """Whether ``directory`` is one of ``directories`` or below one."""
    while True:
        if directory in directories:
            return True
        if not directory:
            return False
        directory = posixpath.dirname(directory)


def _parents(directory: str) -> Iterator[str]:
    while directory:
        yield directory
        directory = posixpath.dirname(directory)
    yield ""


def _kustomization_in(directory: str, files: Iterable[str]) -> bool:
    names = {
        posixpath.join(directory, n) if directory else n for n in kustomize.KUSTOMIZATION_FILES
    }
    return not names.isdisjoint(files)


def _parse_whole(path: str, data: bytes, limits: Limits) -> kustomize.SourceFile:
    parsed = parse(path, data, limits)
    trees = [to_tree(path, n, ALL, limits.max_depth, parsed.positions) for n in parsed.documents]
    problems = [p for t in trees for p in t.problems]
    if parsed.problem is not None:
        problems.insert(0, parsed.problem)
    return kustomize.SourceFile(trees, problems, parsed.text or None)


def _declared_span(where: str) -> Span | None:
    path, _, rest = where.rpartition(":")
    path, _, line = path.rpartition(":")
    if not (line.isdigit() and rest.isdigit()):
        return None
    return Span(path, int(line), int(rest), int(line), int(rest) + 1)


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if v is not None}


def adopt_metadata(obj: Modelled, tree: Tree) -> Modelled:
    """``obj`` with the name, namespace, labels and annotations of ``tree`` (a build's output
    of the metadata tree made from it), each with the span the build gave it."""
    metadata = tree.data.get("metadata") if isinstance(tree.data, dict) else None
    metadata = metadata if isinstance(metadata, dict) else {}
    name = metadata.get("name")
    name = name if isinstance(name, str) and name else obj.ref.name
    namespace = metadata.get("namespace")
    namespace = namespace if isinstance(namespace, str) and namespace else None
    annotations = _string_map(metadata.get("annotations"))
    annotation_span = tree.spans.get(("metadata", "annotations", IGNORE_ANNOTATION))
    # The line that wrote the name: the file's, or the kustomization's that renamed a Namespace.
    name_span = tree.spans.get(("metadata", "name"))
    if isinstance(obj, ForeignPolicy):
        home = namespace if obj.namespace is not None else None
        return evolve(obj, ref=evolve(obj.ref, name=name, namespace=home or ""), namespace=home)
    common: dict[str, Any] = {
        "name": name,
        "name_span": name_span or obj.name_span,
        "annotations": annotations,
        "annotation_span": annotation_span,
    }
    if isinstance(obj, Namespace):
        labels = _string_map(metadata.get("labels"))
        labels[NAME_LABEL] = name
        ref = evolve(obj.ref, name=name, namespace=name)
        return evolve(obj, ref=ref, labels=labels, **common)
    declared = namespace is not None
    home = namespace if namespace is not None else obj.namespace
    common.update(
        ref=evolve(obj.ref, name=name, namespace=home), namespace=home, namespace_declared=declared
    )
    if isinstance(obj, NetworkPolicy):
        namespace_span = tree.spans.get(("metadata", "namespace")) if declared else None
        labels = _string_map(metadata.get("labels"))
        return evolve(obj, namespace_span=namespace_span, labels=labels, **common)
    return evolve(obj, **common)


def _api_version(obj: Modelled) -> str:
    """The API version of a model object: a foreign policy's as written, else the one its kind
    is served at (the engine reads a GVK only to tell cluster-scoped kinds and the kinds
    prefixes skip, and kustomize ids compare groups: any served version does)."""
    return obj.api_version if isinstance(obj, ForeignPolicy) else SERVED_AT[obj.ref.kind]


def _unique_ids(objects: Sequence[Modelled]) -> bool:
    """Whether no two objects share kustomize's resource id (group, kind, name, effective
    namespace): kustomize refuses to accumulate a second one."""
    seen = set()
    for obj in objects:
        ref = obj.ref
        api_version = _api_version(obj)
        if isinstance(obj, Namespace) or (isinstance(obj, ForeignPolicy) and obj.namespace is None):
            namespace = ""
        elif isinstance(obj, ForeignPolicy) or obj.namespace_declared:
            namespace = ref.namespace
        else:
            namespace = "default"
        key = (api_version.rpartition("/")[0], ref.kind, ref.name, namespace)
        if key in seen:
            return False
        seen.add(key)
    return True


def _moved(obj: Modelled, namespace: str, span: Span) -> Modelled:
    """kustomize's ``namespace:`` on a model object: a v1 Namespace takes the name, a
    namespaced object the namespace; both written where the kustomization says it."""
    if isinstance(obj, Namespace):
        labels = {**obj.labels, NAME_LABEL: namespace}
        ref = evolve(obj.ref, name=namespace, namespace=namespace)
        return evolve(obj, ref=ref, name=namespace, name_span=span, labels=labels)
    return with_namespace(obj, namespace, span, override=True)


def with_namespace(obj: Modelled, namespace: str, span: Span | None, *, override: bool) -> Modelled:
    """``obj`` in ``namespace`` when it has none (Argo CD's destination, ``kubectl apply -n``),
    or always when ``override`` (Flux's targetNamespace), for namespaced kinds."""
    if isinstance(obj, Namespace):
        return obj
    if isinstance(obj, ForeignPolicy):
        if obj.namespace is None or (obj.ref.namespace and not override):
            return obj
        return evolve(obj, ref=evolve(obj.ref, namespace=namespace), namespace=namespace)
    if obj.namespace_declared and not override:
        return obj
    ref = evolve(obj.ref, namespace=namespace)
    if isinstance(obj, NetworkPolicy):
        return evolve(
            obj, ref=ref, namespace=namespace, namespace_declared=True, namespace_span=span
        )
    return evolve(obj, ref=ref, namespace=namespace, namespace_declared=True)
