"""One ``netlint check``: find the project, read the whole repo as context, report the asked-for
files. The CLI, the pre-commit hook and the editor integration all come through here."""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import sys
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from netlint.analysis.index import Index
from netlint.core.findings import Finding
from netlint.core.model import Object
from netlint.core.problems import ProblemKind
from netlint.output.report import Report
from netlint.read.build import BuildOptions
from netlint.read.discover import Skipped, discover, find_git_root, real_path
from netlint.read.parse import Limits
from netlint.read.result import digest, is_not_a_manifest
from netlint.run import suppress
from netlint.run.cache import Cache, code_salt
from netlint.run.config import (
    Config,
    ConfigError,
    escape,
    find_config,
    load_config,
    read_project_file,
)
from netlint.run.engine import ActiveRule, Only, crash_meta_of, run, run_parallel
from netlint.run.engine import Superseded as Superseded
from netlint.run.registry import (
    GROUP,
    Catalogue,
    entry_points,
    is_selected,
    load_catalogue,
    unknown_tokens,
)
from netlint.run.workspace import LoadSettings, Workspace, default_jobs, read_file

if TYPE_CHECKING:
    from netlint.analysis.layout import Layout


class UsageError(Exception):
    """Bad arguments or configuration: exit status 2."""


@dataclass(slots=True)
class CheckRequest:
    paths: Sequence[str] = ()
    config: str | None = None
    select: Sequence[str] | None = None
    ignore: Sequence[str] | None = None
    #: Lint this text as if it were the file at ``stdin_filename``.
    stdin_filename: str | None = None
    stdin_text: str | None = None
    debug: bool = False
    #: For programmatic callers (tests, the language server): the project root, and the files
    #: or folders to read as context, overriding discovery of the config and its roots.
    root: Path | None = None
    context: Sequence[Path] | None = None
    use_cache: bool = True
    #: Findings whose fingerprints are in this baseline file are not reported.
    baseline: Path | None = None
    #: Load ``netlint.rules`` plugins defined inside the linted repository (off: they would run
    #: code from an untrusted checkout).
    allow_repo_plugins: bool = False
    #: Worker processes for parsing (0: one per CPU, when the repo is big enough to pay).
    jobs: int = 0
    warnings: list[str] = field(default_factory=list)
    #: Things --verbose tells (cache state).
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Outcome:
    report: Report
    config: Config


def project_root(start: Path, cwd: Path, paths_given: bool) -> Path:
    """The top of the git work tree; else the directory given (the current one by default).

    A config file's directory, when there is one, wins over both (see ``check``).
    """
    git = find_git_root(start)
    if git is not None:
        return git
    return start if paths_given else cwd


def load_project_config(
    catalogue: Catalogue,
    start: Path,
    *,
    config_file: Path | None = None,
    root: Path | None = None,
    default_root: Path | None = None,
) -> Config:
    """The configuration of the project that holds ``start``: the nearest config file (or
    ``config_file``), whose folder is the root unless ``root`` is given, else ``default_root``
    (else ``start``). Raises UsageError for a missing or invalid config."""
    # The path as named, not resolved: whether it may be a link, and to where, is for
    # load_config to judge (a config inside a work tree must not lead out of it).
    config_path = Path(os.path.abspath(config_file)) if config_file else find_config(start)
    if config_file is not None and (config_path is None or not os.path.lexists(config_path)):
        raise UsageError(f"{escape(str(config_file))}: config file not found")
    if root is None:
        if config_path is None:
            root = default_root or start
        else:  # a config the user names is where it leads; a found one, where it was found
            root = (real_path(config_path) if config_file else config_path).parent
    try:
        config = load_config(config_path, root, catalogue.rules, explicit=config_file is not None)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    unknown = unknown_tokens(catalogue.rules, (*config.select, *config.ignore))
    if unknown:
        named = escape(", ".join(map(repr, unknown)))
        raise UsageError(f"{escape(str(config_path))}: no rule matches {named}")
    return config


def _existing(name: str) -> Path:
    """A path from the command line, absolute with its links resolved; UsageError when it
    names nothing (or a link loop, which ``Path.resolve`` would raise RuntimeError on)."""
    path = real_path(Path(name))
    try:
        os.stat(path)
    except OSError as exc:
        reason = "a symbolic link loop" if exc.errno == errno.ELOOP else "no such file or directory"
        raise UsageError(f"{escape(name)}: {reason}") from None
    return path


def _checked_baseline(path: Path, root: Path) -> Path:
    """The baseline's real path, once it is known to be a regular file of a sane size that,
    when it lies in the project, does not link out of it (a baseline named by the user outside
    the project is read where it leads: the user chose it)."""
    absolute = Path(os.path.abspath(path))
    inside = absolute == root or root in absolute.parents
    try:
        read_project_file(absolute, root if inside else None, "baseline")
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    return real_path(absolute)


@dataclass(slots=True)
class _Opened:
    """A run set up: its session, the files discovered, the paths asked for, and the buffer
    that stands in for a file, if any."""

    session: Session
    files: list[str]
    targets: list[Path]
    override_rel: str | None
    overrides: dict[str, bytes]
    #: Why .gitignore was not applied, if discovery could not (see ``Session.discover``).
    note: str | None = None


#: What stands in for discovery (the daemon's files of its last run, when nothing can have
#: changed them): the files and discovery's note, or None to discover.
Listed = Callable[["Session", Sequence[Path]], "tuple[list[str], str | None] | None"]


def _open(
    request: CheckRequest, catalogue: Catalogue | None, listed: Listed | None = None
) -> _Opened:
    """Find the project, its config and rules, and discover its files (nothing parsed yet)."""
    cwd = real_path(Path.cwd())
    if request.stdin_filename is not None:
        targets = [real_path(Path(request.stdin_filename))]
    else:
        targets = [_existing(p) for p in request.paths] or [_existing(str(request.root or cwd))]
    first = targets[0]
    start = first if first.is_dir() else first.parent
    # A buffer from an editor belongs to the project the editor runs netlint in.
    inside_cwd = start == cwd or cwd in start.parents
    given = bool(request.paths) or (request.stdin_filename is not None and not inside_cwd)
    default_root = project_root(start, cwd, given)
    if catalogue is None:
        git = find_git_root(start)
        # The repo, however its top is found: the work tree, the config file's folder.
        found = find_config(start)
        tops = [p for p in (git, found.parent if found else None) if p is not None]
        untrusted = () if request.allow_repo_plugins else (cwd, start, *tops)
        # The plugin list is cached where the parse cache will be: the config's folder, else
        # the work tree's top, else (no project marker, no root or config named) the folder
        # the run lints, as for the parse cache.
        cache_in: Path | None = tops[-1] if tops else None
        if cache_in is None and request.root is None and request.config is None:
            cache_in = default_root
        catalogue = load_catalogue(untrusted, cache_in=cache_in if request.use_cache else None)
    request.warnings.extend(catalogue.errors)
    config = load_project_config(
        catalogue,
        start,
        config_file=Path(request.config) if request.config else None,
        root=request.root.resolve() if request.root is not None else None,
        default_root=default_root,
    )
    # Which file configured the run is the first thing to doubt when a run says too little.
    request.notes.append(f"config: {config.path}" if config.path else "config: none (defaults)")
    for target in targets:
        if target != config.root and config.root not in target.parents:
            shown = escape(str(target))
            raise UsageError(f"{shown} is outside the project root {escape(str(config.root))}")
    if request.baseline is not None:
        # Checked before anything reads it (the cache key digests it too); from here on the
        # request names the real file, so nothing follows a link to it again.
        request.baseline = _checked_baseline(request.baseline, config.root)
    select = tuple(request.select) if request.select is not None else config.select
    ignore = tuple(request.ignore) if request.ignore is not None else config.ignore
    unknown = unknown_tokens(catalogue.rules, (*select, *ignore))
    if unknown:
        raise UsageError(f"no rule matches {', '.join(map(repr, unknown))} (see `netlint rules`)")

    override_rel: str | None = None
    if request.stdin_filename is not None:
        override_rel = first.relative_to(config.root).as_posix()
    overrides = {}
    if override_rel is not None and request.stdin_text is not None:
        overrides[override_rel] = request.stdin_text.encode("utf-8", errors="surrogateescape")
    session = Session.create(config, catalogue, select, ignore, debug=request.debug)
    # Every named path but a folder, a FIFO or socket included: discovery makes it an NL001.
    explicit = [t for t in targets if not t.is_dir()]
    known = listed(session, explicit) if listed is not None else None
    files, note = known if known is not None else session.discover(request.context, explicit)
    if note:
        request.warnings.append(note)
    for ignored in session.ignored:
        # A named file that yields nothing must say so (exit status unchanged: nothing failed).
        named = config.root / ignored.path
        shown = escape(str(named.relative_to(cwd) if cwd in named.parents else named))
        request.warnings.append(f"{shown} is not linted: {ignored.reason}")
    files += [rel for rel in overrides if rel not in files]
    return _Opened(session, files, targets, override_rel, overrides, note)


def check(request: CheckRequest, catalogue: Catalogue | None = None) -> Outcome:
    opened = _open(request, catalogue)
    session, files, targets = opened.session, opened.files, opened.targets
    override_rel, overrides, config = opened.override_rel, opened.overrides, session.config
    cache = session.open_cache() if request.use_cache else None
    key = _outcome_key(request, session, targets, files, overrides, cache)
    if cache is not None and key is not None:
        # Nothing changed since a run with the same settings: its report, with this run's rules.
        cached = cache.outcome(key, config.root, [a.meta for a in session.active])
        if cached is not None:
            _warn_passed_over(request, opened, cached)
            return Outcome(cached, config)
    session.workspace.load(files, overrides=overrides, cache=cache, jobs=request.jobs)
    report = _report(request, session, targets, override_rel, overrides)
    _warn_passed_over(request, opened, report)
    if cache is not None:
        key = _outcome_key(request, session, targets, files, overrides, cache)
        if key is not None:
            cache.put_outcome(key, report)
        cache.save()
        if cache.note:
            request.notes.append(cache.note)
    return Outcome(report, config)


def _warn_passed_over(request: CheckRequest, opened: _Opened, report: Report) -> None:
    """A file named on the command line that loading passed over as no manifest yields
    nothing: it is warned about, as the files discovery passes over are (see ``_open``)."""
    root = opened.session.config.root
    named = {t.relative_to(root).as_posix() for t in opened.targets if not t.is_dir()}
    cwd = real_path(Path.cwd())
    for skipped in report.skipped:
        if skipped.path in named and is_not_a_manifest(skipped.reason):
            path = root / skipped.path
            shown = escape(str(path.relative_to(cwd) if cwd in path.parents else path))
            request.warnings.append(f"{shown} is not linted: {escape(skipped.reason)}")


def layout(request: CheckRequest, catalogue: Catalogue | None = None) -> tuple[Layout, Config]:
    """The deploy units of the project (``netlint units``): discovered, parsed, planned."""
    workspace, config = loaded(request, catalogue)
    return workspace.layout(), config


def loaded(request: CheckRequest, catalogue: Catalogue | None = None) -> tuple[Workspace, Config]:
    """The project discovered and parsed, its units not planned yet (``Workspace.layout``)."""
    opened = _open(request, catalogue)
    session = opened.session
    cache = session.open_cache() if request.use_cache else None
    session.workspace.load(opened.files, overrides=opened.overrides, cache=cache, jobs=request.jobs)
    if cache is not None:
        cache.save()
    return session.workspace, session.config


def cluster_slice(
    request: CheckRequest, namespaces: Collection[str] | None
) -> tuple[Index, Config, bool]:
    """The cluster view for a question about ``namespaces`` only (``netlint explain``): their
    objects, every Namespace and the cluster-scoped policies of other engines, or the whole
    cluster when ``namespaces`` is None or no slice is stored; True when it is a slice.

    Planning the units of a big repo costs more than the question: the cluster as planned is
    stored in the cache by namespace, under a key of every file's content and the settings, so
    an unchanged repo answers from the two namespaces' slices (docs/performance.md)."""
    opened = _open(request, None)
    session = opened.session
    cache = session.open_cache() if request.use_cache else None
    files, overrides = opened.files, opened.overrides
    key = None if cache is None else _layout_key(session, files, overrides, cache)
    if cache is not None and key is not None and namespaces is not None:
        found = cache.cluster_slice(key, namespaces)
        # The key covers the manifests; what else the builds read is compared as well.
        if found is not None and all(_reads_alike(session, rel, known) for rel, known in found[1]):
            return Index((), found[0]), session.config, True
    session.workspace.load(files, overrides=overrides, cache=cache, jobs=request.jobs)
    planned = session.workspace.layout()
    if cache is not None:
        key = _layout_key(session, files, overrides, cache)
        if key is not None:
            # The cluster's own objects, in its order: an Index of a slice of them is the
            # cluster's index restricted to those namespaces.
            objects = (o for unit in planned.units for o in unit.objects)
            cache.put_cluster(key, objects, session.workspace.unlisted_reads)
        cache.save()
    return planned.cluster, session.config, False


def _reads_alike(session: Session, rel: str, known: str | None) -> bool:
    """Whether a build would read what it read when the cluster was stored (``known``: the
    digest, None when nothing could be read). Most such paths are names a build tries that
    name nothing (``kustomization.yml``, ``Kustomization``): one ``lstat`` tells they still do."""
    if known is None and not os.path.lexists(os.path.join(session.config.root, rel)):
        return True
    data = session.workspace.read(rel)
    return (None if data is None else digest(data)) == known


def _layout_key(
    session: Session, files: Sequence[str], overrides: Mapping[str, bytes], cache: Cache
) -> str | None:
    """What the planned cluster depends on: the settings (units, namespaces, limits) and the
    content of every file (netlint's code is in the cache's salt)."""
    if not cache.enabled:
        return None
    return _content_key(["cluster", repr(session.config)], session, files, overrides, cache)


def _report(
    request: CheckRequest,
    session: Session,
    targets: Sequence[Path],
    override_rel: str | None,
    overrides: Mapping[str, bytes],
) -> Report:
    config = session.config
    workspace = session.workspace
    reported = _reported_filter(config.root, targets, override_rel, request.paths)
    findings, suppressed = session.lint(reported, request.jobs, request.notes)
    request.notes.extend(workspace.layout().notes())
    baselined = 0
    if request.baseline is not None:
        try:
            known = suppress.read_baseline(request.baseline)
        except suppress.BaselineError as exc:
            raise UsageError(str(exc)) from None
        prints = suppress.fingerprints(
            findings, _text_reader(config.root, overrides, config.limits)
        )
        kept = [f for f, fp in zip(findings, prints, strict=True) if fp not in known]
        baselined = len(findings) - len(kept)
        findings = kept
    findings.sort(key=lambda f: f.sort_key)
    counts: Counter[str] = Counter()
    files = workspace.index().files
    # A re-lint of a few files of a big repo looks at those, not at every file.
    shown = (
        [files[p] for p in sorted(reported.paths) if p in files]
        if isinstance(reported, Only)
        else [r for r in files.values() if reported(r.path)]
    )
    for result in shown:
        counts.update(type(o).__name__ for o in result.objects)
    report = Report(
        findings=findings,
        root=config.root,
        rules=[a.meta for a in session.active],
        files_linted=len(files),
        files_reported=len(shown),
        objects=counts,
        skipped=[s for s in workspace.skipped if reported(s.path)],
        suppressed=suppressed,
        baselined=baselined,
    )
    if override_rel is not None and request.stdin_text is not None:
        report.overrides[override_rel] = request.stdin_text
    return report


def _outcome_key(
    request: CheckRequest,
    session: Session,
    targets: Sequence[Path],
    files: Sequence[str],
    overrides: Mapping[str, bytes],
    cache: Cache | None,
) -> str | None:
    """What a run's report depends on: the content of every file, the settings, the rules, the
    request. None when some file's content is not known without reading it.

    A run that reports every file of the project from disk, with no baseline, gives the same
    report whatever its paths: its key is ``whole_report_key``'s, which the language server
    looks up to publish a warm start's first diagnostics before it has loaded anything."""
    if cache is None or not cache.enabled:
        return None
    every = (
        not overrides
        and request.baseline is None
        and all(map(_reported_filter(session.config.root, targets, None, request.paths), files))
    )
    if every:
        return whole_report_key(session, files, cache)
    parts = [
        *_settings_parts(session),
        repr(sorted(str(t) for t in targets)),
        repr(list(request.paths)),
        repr(request.stdin_filename),
    ]
    if request.baseline is not None:
        try:
            parts.append(digest(request.baseline.read_bytes()))
        except OSError:
            return None
    return _content_key(parts, session, files, overrides, cache)


def whole_report_key(
    session: Session,
    files: Sequence[str],
    cache: Cache,
    digests: dict[str, str] | None = None,
) -> str | None:
    """The outcome key of a report of every file in ``files``, as on disk, under the session's
    settings and rules (None: a file's content is not known without reading it). ``digests``,
    when given, receives the digest of each file the key was made of."""
    if not cache.enabled:
        return None
    parts = [*_settings_parts(session), "every file"]
    return _content_key(parts, session, files, {}, cache, digests)


def _settings_parts(session: Session, *, active: bool = True) -> list[str]:
    """What a report depends on besides the files: the settings, the rules and their code;
    with ``active``, also which rules run, and how (``--select`` and ``--ignore``)."""
    return [
        repr(session.config),
        repr(
            sorted(
                (m.code, m.name, type(r).__module__)
                for r in session.catalogue.rules
                for m in [r.meta]
            )
        ),
        *([repr([(a.meta.code, a.severity, repr(a.options)) for a in session.active])] * active),
        _plugins_stamp(frozenset(type(r).__module__ for r in session.catalogue.rules)),
    ]


def _content_key(
    parts: list[str],
    session: Session,
    files: Sequence[str],
    overrides: Mapping[str, bytes],
    cache: Cache,
    digests: dict[str, str] | None = None,
) -> str | None:
    """``parts`` and the content of every file, hashed; None when some file's content is not
    known without reading it. ``digests`` receives each file's (see ``whole_report_key``)."""
    root = session.config.root
    for rel in sorted(files):
        if rel in overrides:
            parts.append(f"{rel}\0{digest(overrides[rel])}")
            continue
        stamp = cache.fresh.get(rel)
        known = stamp.digest if stamp is not None else None
        if known is None:
            try:
                # Discovery's stat when this run has not loaded the file yet.
                st = session.workspace.discovered.get(rel) or os.stat(root / rel)
                known = cache.fresh_digest(rel, st)
            except OSError:
                known = None
        if known is None:
            return None
        if digests is not None:
            digests[rel] = known
        parts.append(f"{rel}\0{known}")
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=20).hexdigest()


@functools.cache
def _plugins_stamp(modules: frozenset[str]) -> str:
    """Every installed rule plugin's distribution, version and entry point, and the content of
    the modules the loaded rules come from (a plugin edited in a development checkout keeps its
    version; netlint's own modules are in the cache's salt). Once per process and catalogue: a
    running language server runs the code it imported."""
    parts = sorted(
        f"{ep.name}={ep.value}:{ep.dist.name if ep.dist else '?'}=="
        f"{ep.dist.version if ep.dist else '?'}"
        for ep in entry_points(group=GROUP)
    )
    hasher = hashlib.blake2b("\n".join(parts).encode(errors="surrogateescape"), digest_size=16)
    for module in sorted(modules):
        if module == "netlint" or module.startswith("netlint."):
            continue
        name = getattr(sys.modules.get(module), "__file__", None)
        hasher.update(f"{module}\0{name}\0".encode(errors="surrogateescape"))
        if isinstance(name, str):
            with contextlib.suppress(OSError):
                hasher.update(Path(name).read_bytes())
    return hasher.hexdigest()


@dataclass(slots=True)
class Session:
    """A loaded project: its configuration, the rules to run and the parsed files. The CLI uses
    one per run; the language server keeps one and updates it file by file."""

    config: Config
    catalogue: Catalogue
    active: list[ActiveRule]
    workspace: Workspace
    debug: bool = False
    #: Named files that discovery passed over, and why (see ``Discovery.ignored``).
    ignored: list[Skipped] = field(default_factory=list)

    @classmethod
    def create(
        cls,
        config: Config,
        catalogue: Catalogue,
        select: Sequence[str] | None = None,
        ignore: Sequence[str] | None = None,
        *,
        debug: bool = False,
    ) -> Session:
        active = _active_rules(
            catalogue,
            config,
            config.select if select is None else select,
            config.ignore if ignore is None else ignore,
        )
        settings = LoadSettings(
            config.root,
            BuildOptions(config.default_namespace, config.limits.max_depth),
            config.limits,
            config.units,
        )
        return cls(config, catalogue, active, Workspace(settings), debug)

    def discover(
        self, context: Sequence[Path] | None = None, explicit: Sequence[Path] = ()
    ) -> tuple[list[str], str | None]:
        """The project's files (relative paths), and why .gitignore was not applied, if so."""
        scopes = list(context) if context is not None else list(self.config.roots)
        found = discover(self.config.root, scopes, self.config.exclude, explicit=explicit)
        self.workspace.skipped.extend(found.skipped)
        self.workspace.discovered = found.stats
        self.ignored = found.ignored
        return found.files, found.note

    def load(
        self,
        *,
        context: Sequence[Path] | None = None,
        explicit: Sequence[Path] = (),
        overrides: Mapping[str, bytes] | None = None,
        use_cache: bool = True,
        jobs: int = 0,
        warnings: list[str] | None = None,
        notes: list[str] | None = None,
    ) -> None:
        """Discover and parse the whole project (``overrides`` stand in for file contents)."""
        files, note = self.discover(context, explicit)
        if note and warnings is not None:
            warnings.append(note)
        files += [rel for rel in overrides or {} if rel not in files]
        cache = self.open_cache() if use_cache else None
        self.workspace.load(files, overrides=overrides, cache=cache, jobs=jobs)
        if cache is not None:
            cache.save()
            if cache.note and notes is not None:
                notes.append(cache.note)

    def open_cache(self) -> Cache:
        settings = self.workspace.settings
        return Cache.open(self.config.root, f"{code_salt()}|{settings.options}|{settings.limits}")

    def lint(
        self, reported: Callable[[str], bool], jobs: int = 1, notes: list[str] | None = None
    ) -> tuple[list[Finding], int]:
        """Findings for the files ``reported`` accepts (suppressions applied), and how many
        were suppressed. ``jobs`` 0 means one process per CPU when the repo is big enough;
        ``notes`` collects what rules say for ``--verbose`` (e.g. work left undecided)."""
        findings = run_parallel(
            self.workspace.layout(),
            self.active,
            reported,
            jobs=jobs if jobs > 0 else default_jobs(),
            crash_meta=crash_meta_of(self.catalogue.rules),
            debug=self.debug,
            notes=notes,
        )
        return _suppress(self.catalogue, self.active, self.workspace, reported, findings)


def _reported_filter(
    root: Path, targets: Sequence[Path], override: str | None, given: Sequence[str]
) -> Callable[[str], bool]:
    """Which files' findings to report: the paths given (files, or everything under a
    directory); everything when no path was given."""
    if override is not None:
        return Only((override,))
    if not given:
        return lambda path: True
    files = {t.relative_to(root).as_posix() for t in targets if not t.is_dir()}
    folders = tuple(
        "" if t == root else t.relative_to(root).as_posix() + "/" for t in targets if t.is_dir()
    )
    if not folders:  # files named one by one (a pre-commit hook's): their units alone
        return Only(files)
    return lambda path: path in files or path.startswith(folders)


def _active_rules(
    catalogue: Catalogue, config: Config, select: Sequence[str], ignore: Sequence[str]
) -> list[ActiveRule]:
    active = []
    for rule in catalogue.rules:
        if not is_selected(rule.meta, select, ignore):
            continue
        severity = config.severity_for(rule.meta)
        if severity is None:
            continue
        active.append(ActiveRule(rule, severity, config.options_for(rule.meta)))
    return active


def _suppress(
    catalogue: Catalogue,
    active: Sequence[ActiveRule],
    workspace: Workspace,
    reported: Callable[[str], bool],
    findings: list[Finding],
) -> tuple[list[Finding], int]:
    index = workspace.index()
    known = {}
    for rule in catalogue.rules:
        known[rule.meta.code.lower()] = rule.meta.code
        for name in (rule.meta.name, *rule.meta.old_names):
            known[name.lower()] = rule.meta.code
    ran = {a.meta.code for a in active}
    unused = next((a for a in active if a.meta.code == suppress.UNUSED_CODE), None)
    # Only objects of reported files have findings about them, so only their annotations count.
    results = workspace.results
    objects: list[Object]
    if isinstance(reported, Only):
        # The objects of the units that read the files, in the cluster's order: every object
        # comes from a file its unit reads.
        shown = {path for path in reported.paths if path in results}
        entries = [entry.index for entry in workspace.layout().reading(reported.paths)]
        objects = [
            *(o for e in entries for o in e.policies if o.ref.path in reported.paths),
            *(o for e in entries for o in e.workloads if o.ref.path in reported.paths),
            *(o for o in index.namespace_objects.values() if o.ref.path in reported.paths),
        ]
    else:
        everything: list[Object] = [
            *index.policies,
            *index.workloads,
            *index.namespace_objects.values(),
        ]
        shown = {path for path in results if reported(path)}
        objects = [
            o
            for o in everything
            if o.ref.path in shown or (o.ref.path not in results and reported(o.ref.path))
        ]
    # Directives count where a finding is (a finding of a unit may lie in a file not
    # reported) and, to be reported unused, in a reported file: only those files' are read (a
    # re-lint in the editor reports one file of thousands).
    holders = shown.union(f.span.path for f in findings)
    outcome = suppress.apply(
        findings,
        {path: r.directives for path in holders if (r := results.get(path)) and r.directives},
        objects,
        known,
        ran,
        reported,
        unused.severity if unused is not None else None,
        # Files that do not parse, whether or not NL001 runs: their findings are not known.
        # Only reported files' matter (they alone get unused suppressions).
        broken={
            path
            for path in shown
            if (r := results[path]).problems
            and any(p.kind is ProblemKind.SYNTAX for p in r.problems)
        },
    )
    return outcome.kept + outcome.unused, outcome.suppressed


def _text_reader(
    root: Path, overrides: Mapping[str, bytes], limits: Limits
) -> Callable[[str], str | None]:
    def read(path: str) -> str | None:
        if path in overrides:
            return overrides[path].decode("utf-8", errors="replace")
        try:
            # The linted files' one reader: no links followed, no FIFO waited on, size bounded.
            return read_file(root / path, limits).decode("utf-8", errors="replace")
        except OSError:
            return None

    return read


def write_baseline(outcome: Outcome, path: Path) -> int:
    """Record the findings of a run (before any baseline) as the accepted baseline."""
    report = outcome.report
    return suppress.write_baseline(path, report.findings, report.text_of)


def lint_until(
    session: Session, reported: Callable[[str], bool], stop: Callable[[], bool]
) -> tuple[list[Finding], int]:
    """``Session.lint`` in this process, abandoned with ``Superseded`` at the next rule call
    once ``stop()`` is true: the language server drops a lint that a newer edit made stale
    instead of finishing it. Rules are stopped only between two hook calls, never inside one,
    so what a rule keeps between calls stays whole."""
    findings = run(
        session.workspace.layout(),
        session.active,
        reported,
        crash_meta=crash_meta_of(session.catalogue.rules),
        debug=session.debug,
        stop=stop,
    )
    if stop():
        raise Superseded
    return _suppress(session.catalogue, session.active, session.workspace, reported, findings)
