"""The language server's projects: which project each open document belongs to, loading it as
``netlint check`` would, putting editor buffers and files changed on disk in place of what was
read, and re-linting the open documents into LSP diagnostics.

Everything here runs in the server's one worker thread (netlint.integrations.lsp.server), in
order, on snapshots of the open documents taken when a job was queued: nothing needs a lock.
Positions go through netlint.core.source.LineIndex, the line index every format counts with.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote_to_bytes, urlsplit

import yaml
from lsprotocol import types as lsp
from pygls.uris import to_fs_path

from netlint.core.escape import text as safe
from netlint.core.escape import valid_unicode
from netlint.core.findings import Finding, Severity
from netlint.core.rule import RuleMeta
from netlint.core.source import LineIndex, Span
from netlint.output.ruledocs import help_uri
from netlint.read.directives import scan
from netlint.read.discover import CONFIG_NAMES, EXTENSIONS, GlobSet, discover, find_git_root
from netlint.read.parse import ParseFailure, decode
from netlint.read.result import digest
from netlint.run.cache import Cache
from netlint.run.config import find_config
from netlint.run.engine import Only
from netlint.run.registry import Catalogue, load_catalogue
from netlint.run.runner import (
    Session,
    Superseded,
    UsageError,
    lint_until,
    load_project_config,
    project_root,
    whole_report_key,
)
from netlint.run.workspace import read_file

log = logging.getLogger(__name__)

_SEVERITY = {
    Severity.ERROR: lsp.DiagnosticSeverity.Error,
    Severity.WARNING: lsp.DiagnosticSeverity.Warning,
    Severity.NOTE: lsp.DiagnosticSeverity.Information,
}


@dataclass(frozen=True, slots=True)
class Doc:
    """An open document as the client last sent it, snapshotted on the event loop."""

    uri: str
    text: str
    version: int | None


@dataclass(frozen=True, slots=True)
class Publish:
    uri: str
    version: int | None
    diagnostics: list[lsp.Diagnostic]
    #: For a file that need not be open (a config file's errors): published whatever the
    #: client has open.
    anyway: bool = False


@dataclass(slots=True)
class Outcome:
    publish: list[Publish] = field(default_factory=list)
    messages: list[tuple[lsp.MessageType, str]] = field(default_factory=list)
    #: What was done, for clients that turned tracing on (``$/logTrace``).
    traces: list[str] = field(default_factory=list)


#: Told how a long load goes: a message and a percentage (None: not known yet).
Progress = Callable[[str, int | None], None]
#: Sends diagnostics at once, from the worker, before the job that made them ends.
Early = Callable[[Publish], None]


@dataclass(slots=True)
class Deferred:
    """A project whose load waits for its first sync: a report of every one of its files, as
    they are on disk now, is stored in the cache (a ``netlint check`` of the project, or the
    last one), so the documents opened first are answered from it before anything is loaded."""

    files: list[str]
    cache: Cache
    #: The stored findings, by file.
    findings: dict[str, list[Finding]]
    #: The digest of each file the report was made of.
    digests: dict[str, str]


#: Loads read this many files between two progress reports (at least).
PROGRESS_STEP = 500


def path_of(uri: str) -> Path | None:
    """The resolved file a ``file:`` URI names; None for other schemes (``untitled:``)."""
    fs = _fs_path(uri) if uri.startswith("file:") else None
    if not fs:
        return None
    try:
        return Path(fs).resolve()
    except (OSError, RuntimeError):
        return None


def _fs_path(uri: str) -> str | None:
    """A ``file:`` URI's path. On POSIX its percent-escapes are bytes of the file name
    (``file:///caf%E9.yaml``, as ``Path.as_uri`` writes a name that is not UTF-8): decoded with
    surrogateescape, as Python names such files, instead of into U+FFFD."""
    if os.name == "nt":
        return to_fs_path(uri)
    parsed = urlsplit(uri)
    if parsed.netloc not in ("", "localhost"):
        return to_fs_path(uri)
    return os.fsdecode(unquote_to_bytes(parsed.path)) or None


@dataclass(slots=True)
class Project:
    """One project root with its loaded Session; ``session`` is None when its config is broken."""

    start: Path
    root: Path
    config_path: Path | None
    session: Session | None
    #: The config file's digest when it was read: a save that changes nothing reloads nothing.
    config_digest: str | None = None
    roots: tuple[Path, ...] = ()
    exclude: tuple[str, ...] = ()
    #: A project of one file (outside any project): its path relative to ``root``.
    only: str | None = None
    #: Whether the config file's errors were published on it (to clear them once it is fixed).
    config_diagnosed: bool = False
    #: Digest of the editor text put in place of each file (the file on disk is the rest).
    applied: dict[str, str] = field(default_factory=dict)
    #: What the workspace's text of a file looks like to the parser (``shape``), where known.
    shapes: dict[str, str] = field(default_factory=dict)
    #: The findings last published for each reported file.
    last: dict[str, list[Finding]] = field(default_factory=dict)
    #: Whether a file outside the initial discovery is a manifest of this project.
    lintable: dict[str, bool] = field(default_factory=dict)
    known: set[str] = field(default_factory=set)
    #: Set while its files are not loaded yet (see ``Deferred``).
    deferred: Deferred | None = None

    @property
    def key(self) -> Path:
        """Its key among the projects: the root, or the one file of a project of one file."""
        return self.root / self.only if self.only is not None else self.root

    def rel(self, path: Path) -> str | None:
        if path != self.root and self.root not in path.parents:
            return None
        rel = path.relative_to(self.root).as_posix()
        return rel if self.only is None or rel == self.only else None

    def is_lintable(self, path: Path, rel: str) -> bool:
        """Whether the CLI would lint this file: a manifest under the configured roots, not
        excluded, not ignored by git, not a config file or Helm template. A file not on disk
        yet (a new buffer, never saved) is judged by its name and place alone."""
        if rel in self.known:
            return True
        if rel in self.lintable:
            return self.lintable[rel]
        if not os.path.lexists(path):
            return self._would_lint(path, rel)
        answer = (
            rel.lower().endswith(EXTENSIONS)
            and any(path == r or r in path.parents for r in self.roots)
            and path.is_file()
            and bool(discover(self.root, [path], self.exclude).files)
        )
        self.lintable[rel] = answer
        return answer

    def _would_lint(self, path: Path, rel: str) -> bool:
        """Whether discovery would list a file of this name and place, once saved."""
        parent = path.parent
        return (
            rel.lower().endswith(EXTENSIONS)
            and path.name not in CONFIG_NAMES
            and any(parent == r or r in parent.parents for r in self.roots)
            and not GlobSet(self.exclude).match(rel)
            and not (parent.name == "templates" and (parent.parent / "Chart.yaml").is_file())
        )


class Located(NamedTuple):
    """A document in a loaded project."""

    project: Project
    session: Session
    path: Path
    rel: str


def _digest_of(session: Session, rel: str) -> str | None:
    """The digest of what the workspace holds for a file (None: nothing)."""
    result = session.workspace.results.get(rel)
    return result.digest if result is not None else None


def _file_digest(path: Path | None) -> str | None:
    try:
        return digest(path.read_bytes()) if path is not None else None
    except OSError:
        return None


#: Line breaks libyaml counts and editors do not (netlint.core.source.Positions): the
#: scanner's marks are not editor positions in a text that holds them.
_ODD_BREAKS = re.compile("[\x85\u2028\u2029]")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def shape(rel: str, data: bytes, max_bytes: int) -> str | None:
    """What netlint reads of a file's text, comments and whitespace between tokens aside: its
    YAML tokens with their values and positions (line and column of both ends), its line
    count and its suppression comments. Two texts of one shape parse to the same objects at
    the same positions and give the same findings, so an edit that keeps the shape (a comment
    written or changed on its line) needs no re-lint. None when that cannot be told cheaply
    and surely (not decodable, not YAML, too large, line breaks editors do not count)."""
    if len(data) > max_bytes:
        return None
    try:
        text = decode(rel, data)
    except ParseFailure:
        return None
    if _ODD_BREAKS.search(text):
        return None
    hasher = hashlib.blake2b(digest_size=16)
    try:
        for token in yaml.scan(text, Loader=_Loader):
            start, end = token.start_mark, token.end_mark
            fields = sorted((k, v) for k, v in vars(token).items() if not k.endswith("_mark"))
            item = (type(token).__name__, fields, start.line, start.column, end.line, end.column)
            hasher.update(repr(item).encode("utf-8", errors="surrogateescape"))
    except (yaml.YAMLError, RecursionError, ValueError):
        return None
    hasher.update(repr((LineIndex(text).__len__(), scan(rel, text))).encode(errors="replace"))
    return hasher.hexdigest()


#: A line of a config error: ``path:line:col: message`` (netlint.run.config's format).
_CONFIG_LINE = re.compile(r"^(?P<path>.*?):(?P<line>\d+):(?P<col>\d+): (?P<message>.*)$")


class Linter:
    """The projects and their workspaces. Used only from the worker thread.

    Each document belongs to the project ``netlint check FILE`` would find: the nearest config
    file's folder, else the top of its git work tree, else the innermost workspace folder
    holding it; a document outside all of them is a project of its own, that file alone.
    Several projects are served at once; a file inside more than one (a nested config's
    folder inside a workspace folder's project) gets the editor's text in each, and its
    diagnostics from its own."""

    def __init__(self, folders: Sequence[Path], encoding: str) -> None:
        self.folders = list(folders)
        self.encoding = encoding
        self.projects: dict[Path, Project] = {}
        #: Documents (URIs) whose diagnostics are due: kept until published, so that a lint
        #: given up for a newer edit is done by the next sync.
        self.dirty: set[str] = set()
        #: Where the project of the files of each folder is (None: no project).
        self._homes: dict[Path, Path | None] = {}
        #: How many times ``_homes`` was forgotten (documents may have moved project).
        self._moves = 0
        self.progress: Progress | None = None
        #: Where diagnostics answered from a stored report go at once (None: with the sync's).
        self.early: Early | None = None
        self._catalogue: Catalogue | None = None
        self._metas: dict[str, RuleMeta] = {}

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            # Plugins whose metadata lies in an opened folder are the repo's code, not installed.
            self._catalogue = load_catalogue((*self.folders, Path.cwd()))
            self._metas = {r.meta.code: r.meta for r in self._catalogue.rules}
        return self._catalogue

    def start(self) -> Outcome:
        out = Outcome()
        for error in self.catalogue.errors:
            out.messages.append((lsp.MessageType.Warning, f"netlint: {error}"))
        for folder in self.folders:
            if self._marks_a_project(folder):
                self._open(folder, out, defer=True)
        return out

    @staticmethod
    def _marks_a_project(folder: Path) -> bool:
        """Whether a workspace folder is (in) a project to load when it is opened."""
        return _is_marker(folder) or bool(find_config(folder) or find_git_root(folder))

    def change_folders(
        self, added: Sequence[Path], removed: Sequence[Path], docs: Mapping[str, Doc]
    ) -> Outcome:
        """Workspace folders came or went: load the new ones, drop the projects nobody opened
        any more (and their documents' diagnostics)."""
        out = Outcome()
        self._forget_homes()
        for folder in removed:
            if folder in self.folders:
                self.folders.remove(folder)
        for key, project in list(self.projects.items()):
            if project.start in removed and project.start not in self.folders:
                del self.projects[key]
                for doc in docs.values():
                    path = path_of(doc.uri)
                    if path is not None and project.rel(path) is not None:
                        out.publish.append(Publish(doc.uri, doc.version, []))
        for folder in added:
            if folder not in self.folders:
                self.folders.append(folder)
        for folder in self.folders:
            held = any(p.root == folder for p in self.projects.values())
            if not held and self._marks_a_project(folder):
                self._open(folder, out)
        return out

    def reload(self) -> Outcome:
        """Read every project's config and files again (the client's settings changed)."""
        out = Outcome()
        self._forget_homes()
        old = list(self.projects.values())
        self.projects.clear()
        for project in old:
            # A project of one file is made again when its document is next synced (a config
            # or git work tree may hold it by now).
            fresh = self._open(project.start, out) if project.only is None else None
            self._clear_config_diagnostics(project, fresh, out)
        return out

    def _forget_homes(self) -> None:
        self._homes.clear()
        self._moves += 1

    def home(self, directory: Path) -> Path | None:
        """The root of the project the files of ``directory`` belong to, as the CLI finds it;
        None outside every project (no config file, no git work tree, no workspace folder)."""
        if directory not in self._homes:
            config = find_config(directory)
            root = config.parent if config is not None else find_git_root(directory)
            if root is None:
                folders = [
                    f
                    for f in self.folders
                    if _is_marker(f) and (f == directory or f in directory.parents)
                ]
                root = max(folders, key=lambda f: len(f.parts)) if folders else None
            self._homes[directory] = root
        return self._homes[directory]

    def _progress(self, message: str, percentage: int | None) -> None:
        if self.progress is not None:
            self.progress(message, percentage)

    def _open(self, start: Path, out: Outcome, *, defer: bool = False) -> Project:
        """Load the project holding ``start``, as ``netlint check START`` would find it; with
        ``defer``, when the cache holds a report of all its files as they are, only find them
        and keep that report (the first sync loads the project, see ``Deferred``)."""
        start = start.resolve()
        began = time.perf_counter()
        config_path = find_config(start)
        root = config_path.parent if config_path is not None else project_root(start, start, True)
        if root in self.projects:  # another folder of the same project (reloads delete first)
            return self.projects[root]
        project = Project(start, root, config_path, None, _file_digest(config_path))
        self.projects[root] = project
        try:
            config = load_project_config(self.catalogue, start, root=root)
        except UsageError as exc:
            out.messages.append((lsp.MessageType.Error, f"netlint: {exc}"))
            self._diagnose_config(project, str(exc), out)
            return project
        session = Session.create(config, self.catalogue)
        self._progress(f"finding the files of {root}", None)
        files, note = session.discover()
        if note:
            out.messages.append((lsp.MessageType.Warning, f"netlint: {note}"))
        cache = session.open_cache()
        project.session = session
        project.roots = tuple(r.resolve() for r in config.roots)
        project.exclude = config.exclude
        if defer:
            project.deferred = self._stored(session, files, cache)
            if project.deferred is not None:
                seconds = time.perf_counter() - began
                message = (
                    f"netlint: found a report of the {len(files)} files of {root} as they are "
                    f"in {seconds:.2f} s; the files are read at the first sync"
                )
                out.messages.append((lsp.MessageType.Log, message))
                return project
        self._load(project, files, cache, out, began)
        return project

    def _stored(self, session: Session, files: list[str], cache: Cache) -> Deferred | None:
        """The report the cache holds of every file as it is on disk, by file, if any."""
        digests: dict[str, str] = {}
        key = whole_report_key(session, files, cache, digests)
        rules = [a.meta for a in session.active]  # as the command line reads it back
        report = None if key is None else cache.outcome(key, session.config.root, rules)
        if report is None:
            return None
        findings: dict[str, list[Finding]] = {}
        for finding in sorted(report.findings, key=lambda f: f.sort_key):
            findings.setdefault(finding.span.path, []).append(finding)
        return Deferred(files, cache, findings, digests)

    def _load(
        self, project: Project, files: Sequence[str], cache: Cache, out: Outcome, began: float
    ) -> None:
        """Read the project's files (from the cache where they did not change)."""
        session, root = project.session, project.root
        assert session is not None
        # In steps, to tell the client how far the load is (a cold load of a big repo takes
        # tens of seconds). One process: forking a pool from a threaded server risks
        # inheriting held locks; the parse cache makes every start after the first one fast.
        step = max(PROGRESS_STEP, len(files) // 20)
        for first in range(0, len(files), step):
            done = min(first + step, len(files))
            session.workspace.load(files[first:done], cache=cache, jobs=1)
            self._progress(f"read {done}/{len(files)} files of {root}", 100 * done // len(files))
        cache.save()
        workspace = session.workspace
        project.known = set(workspace.results)
        seconds = time.perf_counter() - began
        message = f"netlint: read {len(workspace.results)} files of {root} in {seconds:.2f} s"
        out.messages.append((lsp.MessageType.Log, message))

    def _undefer(self, project: Project, docs: Mapping[str, Doc], out: Outcome) -> set[str]:
        """Answer the open documents of a deferred project that are as on disk from its stored
        report (at once, through ``early``), then load it. The documents answered."""
        deferred = project.deferred
        assert deferred is not None
        project.deferred = None
        served: set[str] = set()
        files = Files(project, docs, self.encoding)
        for doc in docs.values():
            path = path_of(doc.uri)
            rel = project.rel(path) if path is not None else None
            if rel is None or rel not in deferred.digests:
                continue
            if path is None or self.home(path.parent) != project.root:
                continue  # a nested config's file: its own project lints it
            data = doc.text.encode("utf-8", errors="surrogateescape")
            if digest(data) != deferred.digests[rel]:
                continue  # an unsaved buffer: linted once the project is loaded
            found = deferred.findings.get(rel, [])
            project.last[rel] = found
            publish = Publish(doc.uri, doc.version, [self._diagnostic(f, files) for f in found])
            if self.early is not None:
                self.early(publish)
            else:
                out.publish.append(publish)
            out.traces.append(f"{rel}: the stored report of the unchanged project answered")
            served.add(doc.uri)
        self._load(project, deferred.files, deferred.cache, out, time.perf_counter())
        return served

    def _open_lone(self, path: Path, out: Outcome) -> Project | None:
        """A project of one file outside any project: that file linted alone, with the default
        config. Nothing else is read, and no cache is written there (it is nobody's repo)."""
        root = path.parent
        rel = path.name
        if root / rel in self.projects:
            return self.projects[root / rel]
        try:
            config = load_project_config(self.catalogue, root, root=root)
        except UsageError as exc:  # defaults only: not expected, but never a traceback
            out.messages.append((lsp.MessageType.Error, f"netlint: {exc}"))
            return None
        session = Session.create(config, self.catalogue)
        project = Project(root, root, None, session, only=rel, roots=(root,))
        if os.path.lexists(path):
            session.load(context=[path], explicit=[path], use_cache=False, jobs=1)
        project.known = set(session.workspace.results)
        self.projects[project.key] = project
        return project

    def _diagnose_config(self, project: Project, error: str, out: Outcome) -> None:
        """A config error, as diagnostics on the config file (it also pops up as a message)."""
        config = project.config_path
        if config is None:
            return
        try:
            text = read_file(config).decode("utf-8", errors="replace")
        except OSError:
            text = ""
        lines = LineIndex(text)
        diagnostics = []
        for entry in error.splitlines():
            match = _CONFIG_LINE.match(entry)
            line, col, message = 1, 1, entry
            if match is not None:
                line, col = int(match["line"]), int(match["col"])
                message = match["message"]
            span = Span(config.name, line, col, line, len(lines.line(min(line, len(lines)))) + 1)
            start, end = lines.span_range(span, self.encoding)
            diagnostics.append(
                lsp.Diagnostic(
                    range=lsp.Range(lsp.Position(*start), lsp.Position(*end)),
                    message=safe(message),
                    severity=lsp.DiagnosticSeverity.Error,
                    source="netlint",
                )
            )
        out.publish.append(Publish(config.as_uri(), None, diagnostics, anyway=True))
        project.config_diagnosed = True

    def _clear_config_diagnostics(self, old: Project, fresh: Project | None, out: Outcome) -> None:
        """Clear the errors published on a project's config file once it loads again."""
        if not old.config_diagnosed or old.config_path is None:
            return
        if fresh is None or not fresh.config_diagnosed or fresh.config_path != old.config_path:
            out.publish.append(Publish(old.config_path.as_uri(), None, [], anyway=True))

    def project_for(self, path: Path, out: Outcome) -> Project | None:
        """The project of a document, loaded now if it was not yet; None for a file that is
        not a manifest."""
        if not path.name.lower().endswith(EXTENSIONS) or path.name in CONFIG_NAMES:
            return None
        root = self.home(path.parent)
        if root is None:
            return self.projects.get(path) or self._open_lone(path, out)
        return self.projects.get(root) or self._open(root, out)

    def _holders(self, path: Path) -> list[Located]:
        """Every loaded project that reads the file, with the file's path in it."""
        found = []
        for project in self.projects.values():
            rel = project.rel(path)
            if rel is not None and project.session is not None:
                found.append(Located(project, project.session, path, rel))
        return found

    def sync(
        self,
        docs: Mapping[str, Doc],
        *,
        closed: Sequence[Doc] = (),
        requested: Iterable[str] = (),
        saved: Iterable[str] = (),
        watched: Sequence[lsp.FileEvent] = (),
        reload: bool = False,
        stop: Callable[[], bool] | None = None,
    ) -> Outcome:
        """Bring the workspaces up to date with the open documents, closed ones and files
        changed on disk; lint the open documents whose project changed or that were asked for.
        ``stop`` says when a newer edit made this sync's lint stale: the lint is given up and
        its documents stay due for the next sync."""
        out = self.reload() if reload else Outcome()
        served: set[str] = set()
        for project in [p for p in self.projects.values() if p.deferred is not None]:
            served |= self._undefer(project, docs, out)
        requested = set(requested) - served
        changed: set[Path] = set(self.projects) if reload else set()
        open_paths = {p for p in map(path_of, docs) if p}
        moves = self._moves
        changed |= self._on_disk(saved, watched, open_paths, out)
        if reload or self._moves != moves:
            # Config files came, went or changed: a document may belong to another project
            # now (a new nested `.netlint.yaml`), so every open one is linted again.
            requested = {*requested, *docs}
        for doc in closed:
            self.dirty.discard(doc.uri)
            gone = path_of(doc.uri)
            if gone is not None and gone not in open_paths:
                changed |= self._closed(gone)
        kept: set[str] = set()  # edited without a change that matters
        for doc in docs.values():
            path = path_of(doc.uri)
            if path is None or self.project_for(path, out) is None:
                continue
            if self._apply(doc, path, changed):
                kept.add(doc.uri)
        wanted = set(requested) | self.dirty
        for doc in docs.values():
            at = self._locate(doc.uri, out)
            if at is not None and at.project.key in changed:
                wanted.add(doc.uri)
        self.dirty = {uri for uri in wanted if uri in docs}
        for uri in kept - wanted:
            # Nothing the rules read changed: the findings of the last lint, placed in the
            # new text (equal shapes put every token on the same line and column).
            found = self._locate(uri, out)
            if found is None or found.rel not in found.project.last:
                self.dirty.add(uri)  # never linted here: nothing to show again
                continue
            files = Files(found.project, docs, self.encoding)
            diagnostics = [self._diagnostic(f, files) for f in found.project.last[found.rel]]
            out.publish.append(Publish(uri, docs[uri].version, diagnostics))
            out.traces.append(f"{found.rel}: only comments changed: the last findings are kept")
        out.publish.extend(self._lint(docs, set(self.dirty), out, stop))
        return out

    def _on_disk(
        self,
        saved: Iterable[str],
        watched: Sequence[lsp.FileEvent],
        open_paths: set[Path],
        out: Outcome,
    ) -> set[Path]:
        """Files saved, or changed on disk behind the editor: reload the projects whose
        config changed, read the rest again; the projects that changed."""
        changed: set[Path] = set()
        for touched in {p for p in map(path_of, (*saved, *(e.uri for e in watched))) if p}:
            if touched.name in (*CONFIG_NAMES, "pyproject.toml"):
                self._forget_homes()  # a config file came, went or changed
                changed |= self._reload_for_config(touched, out)
            else:
                for at in self._holders(touched):
                    at.project.lintable.pop(at.rel, None)
        for event in watched:
            path = path_of(event.uri)
            if path is None or path in open_paths or path.name in CONFIG_NAMES:
                continue  # an open document's buffer, not the disk, is what the user sees
            for at in self._holders(path):
                if event.type == lsp.FileChangeType.Deleted:
                    if at.rel in at.session.workspace.results:
                        at.session.workspace.update(at.rel, None)
                        changed.add(at.project.key)
                elif at.project.is_lintable(at.path, at.rel):
                    changed |= self._from_disk(at)
        return changed

    def _closed(self, path: Path) -> set[Path]:
        """A document was closed: the file on disk replaces its buffer; a project of that file
        alone is dropped."""
        changed: set[Path] = set()
        for at in self._holders(path):
            if at.project.only is not None:
                del self.projects[at.project.key]  # nobody looks at that file any more
            elif at.rel in at.project.applied:
                del at.project.applied[at.rel]
                at.project.shapes.pop(at.rel, None)
                at.project.last.pop(at.rel, None)
                changed |= self._from_disk(at)
        return changed

    def _apply(self, doc: Doc, path: Path, changed: set[Path]) -> bool:
        """Put an open document's text in place of its file in every project that reads it;
        True when it differed from what they held only where the parser does not look."""
        data = doc.text.encode("utf-8", errors="surrogateescape")
        fingerprint = digest(data)
        form: str | None = None
        kept = False
        for at in self._holders(path):
            project, rel = at.project, at.rel
            if not project.is_lintable(path, rel):
                continue
            held = project.applied.get(rel, _digest_of(at.session, rel))
            if held == fingerprint and rel in project.shapes:
                continue
            if form is None:
                form = shape(rel, data, at.session.workspace.settings.limits.max_file_bytes) or ""
            if held == fingerprint:  # first seen: what it holds is this text
                project.shapes[rel] = form
                continue
            project.applied[rel] = fingerprint
            if form and project.shapes.get(rel) == form:
                # Equivalent to what the workspace holds (which keeps its plan and builds).
                kept = True
                continue
            at.session.workspace.update(rel, data)
            project.shapes[rel] = form
            changed.add(project.key)
        return kept

    def _locate(self, uri: str, out: Outcome) -> Located | None:
        """Where a document lives: its loaded project; None when no loaded project holds it."""
        path = path_of(uri)
        project = self.project_for(path, out) if path is not None else None
        if project is None or project.session is None or path is None:
            return None
        rel = project.rel(path)
        return Located(project, project.session, path, rel) if rel is not None else None

    def _from_disk(self, at: Located) -> set[Path]:
        """Put the file on disk back in place of an editor buffer or an older version."""
        try:
            data: bytes | None = read_file(at.path, at.session.workspace.settings.limits)
        except (FileNotFoundError, NotADirectoryError):
            data = None
        except OSError as exc:  # there, but unreadable or too large: an NL001, as in the CLI
            at.session.workspace.update_unreadable(at.rel, exc)
            return {at.project.key}
        known = _digest_of(at.session, at.rel)
        if (data is None and known is None) or (data is not None and known == digest(data)):
            return set()
        at.session.workspace.update(at.rel, data)
        at.project.shapes.pop(at.rel, None)
        return {at.project.key}

    def _reload_for_config(self, path: Path, out: Outcome) -> set[Path]:
        """A config file that applies to a project (by ``find_config``'s search from its
        folder) was saved or changed: load that project again."""
        directory = path.parent
        reloaded: set[Path] = set()
        for project in list(self.projects.values()):
            if project.only is not None:
                if directory in (project.root, *project.root.parents):
                    # A config (or git) may now hold the lone file: find its project again.
                    del self.projects[project.key]
                    reloaded.add(project.key)
                continue
            if directory not in (project.start, project.root, *project.start.parents):
                continue
            if path == project.config_path and _file_digest(path) == project.config_digest:
                continue
            if path.name == "pyproject.toml" and path != project.config_path:
                try:
                    if "[tool.netlint" not in path.read_text(encoding="utf-8"):
                        continue
                except (OSError, UnicodeDecodeError):
                    continue
            del self.projects[project.key]
            fresh = self._open(project.start, out)
            self._clear_config_diagnostics(project, fresh, out)
            reloaded |= {project.key, fresh.key}
        return reloaded

    def _lint(
        self,
        docs: Mapping[str, Doc],
        wanted: set[str],
        out: Outcome,
        stop: Callable[[], bool] | None = None,
    ) -> list[Publish]:
        batches: dict[Path, tuple[Located, dict[str, Doc]]] = {}
        for uri in wanted:
            doc = docs.get(uri)
            at = self._locate(uri, out)
            if doc is None or at is None or not at.project.is_lintable(at.path, at.rel):
                self.dirty.discard(uri)  # not ours to lint
                continue
            batches.setdefault(at.project.key, (at, {}))[1][at.rel] = doc
        published: list[Publish] = []
        for at, reported in batches.values():
            began = time.perf_counter()
            try:
                if stop is None:
                    findings, _ = at.session.lint(Only(reported))
                else:
                    findings, _ = lint_until(at.session, Only(reported), stop)
            except Superseded:
                out.traces.append(f"a newer edit came: the lint of {at.project.root} was given up")
                break  # the sync of the newer edit lints these documents
            except Exception:
                log.error("netlint: linting failed:\n%s", traceback.format_exc())
                out.messages.append(
                    (lsp.MessageType.Error, "netlint: linting failed (see the server log)")
                )
                for doc in reported.values():
                    self.dirty.discard(doc.uri)
                continue
            files = Files(at.project, docs, self.encoding)
            per_file: dict[str, list[Finding]] = {rel: [] for rel in reported}
            for finding in sorted(findings, key=lambda f: f.sort_key):
                if finding.span.path in per_file:
                    per_file[finding.span.path].append(finding)
            seconds = time.perf_counter() - began
            out.traces.append(f"linted {len(reported)} of {at.project.root} in {seconds:.3f} s")
            for rel, doc in reported.items():
                at.project.last[rel] = per_file[rel]
                self.dirty.discard(doc.uri)
                diagnostics = [self._diagnostic(f, files) for f in per_file[rel]]
                published.append(Publish(doc.uri, doc.version, diagnostics))
        return published

    def _diagnostic(self, finding: Finding, files: Files) -> lsp.Diagnostic:
        meta = self._metas.get(finding.code)
        related = [
            lsp.DiagnosticRelatedInformation(
                location=lsp.Location(files.uri(r.span.path), files.range(r.span)),
                message=safe(r.message),
            )
            for r in finding.related
        ]
        # Editors show messages in terminals too (Vim, Emacs, Helix): the repo's names and
        # annotations reach them escaped, as in the text format.
        subject = valid_unicode(finding.subject) if finding.subject is not None else None
        message = safe(finding.message)
        if finding.fix:  # the second line of the message: editors show it under the first
            message += f"\nhelp: {safe(finding.fix)}"
        return lsp.Diagnostic(
            range=files.range(finding.span),
            message=message,
            severity=_SEVERITY[finding.severity],
            code=finding.code,
            code_description=lsp.CodeDescription(href=help_uri(meta)) if meta else None,
            source="netlint",
            related_information=related or None,
            data={"name": valid_unicode(finding.name), "subject": subject},
        )


def _is_marker(folder: Path) -> bool:
    """Whether a workspace folder marks a project by itself, as the folder ``netlint check``
    runs in: not the home directory or the file system's root, whose whole tree is nobody's
    project (a file there without config or git is linted alone)."""
    try:
        home = Path.home().resolve()
    except (OSError, RuntimeError):
        home = None
    return folder != home and folder.parent != folder


class Files:
    """The files of one project that findings point into: an open document as the client has
    it (its URI, its buffer), any other file as it is on disk (read on demand)."""

    def __init__(self, project: Project, docs: Mapping[str, Doc], encoding: str) -> None:
        self.root = project.root
        self.encoding = encoding
        self.open: dict[str, Doc] = {}
        for doc in docs.values():
            path = path_of(doc.uri)
            rel = project.rel(path) if path else None
            if rel is not None:
                self.open[rel] = doc
        self._lines: dict[str, LineIndex] = {}

    def uri(self, rel: str) -> str:
        doc = self.open.get(rel)
        # as_uri percent-encodes the name's bytes (pygls' from_fs_path raises on a file name
        # that is not UTF-8), and path_of reads them back.
        return doc.uri if doc is not None else (self.root / rel).as_uri()

    def range(self, span: Span) -> lsp.Range:
        """Where a span is in the client's text, in the position encoding it negotiated."""
        start, end = self.lines(span.path).span_range(span, self.encoding)
        return lsp.Range(lsp.Position(*start), lsp.Position(*end))

    def lines(self, rel: str) -> LineIndex:
        if rel not in self._lines:
            doc = self.open.get(rel)
            if doc is not None:
                text = doc.text
            else:
                try:
                    data = read_file(self.root / rel)
                except OSError:
                    data = b""
                # As the parser reads it: past a UTF-8 BOM, which editors do not show either.
                text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
            self._lines[rel] = LineIndex(text)
        return self._lines[rel]
