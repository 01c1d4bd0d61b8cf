"""The language server's projects: which project each open document belongs to, loading it as
``netlint check`` would, putting editor buffers and files changed on disk in place of what was
read, and re-linting the open documents into LSP diagnostics.

Everything here runs in the server's one worker thread (netlint.integrations.lsp.server), in
order, on snapshots of the open documents taken when a job was queued: nothing needs a lock.
Positions go through netlint.core.source.LineIndex, the line index every format counts with.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote_to_bytes, urlsplit

from lsprotocol import types as lsp
from pygls.uris import to_fs_path

from netlint.core.escape import text as safe
from netlint.core.escape import valid_unicode
from netlint.core.findings import Finding, Severity
from netlint.core.rule import RuleMeta
from netlint.core.source import LineIndex, Span
from netlint.output.ruledocs import help_uri
from netlint.read.discover import CONFIG_NAMES, EXTENSIONS, discover
from netlint.read.load import digest
from netlint.run.config import find_config
from netlint.run.registry import Catalogue, load_catalogue
from netlint.run.runner import Session, UsageError, load_project_config, project_root
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


@dataclass(slots=True)
class Outcome:
    publish: list[Publish] = field(default_factory=list)
    messages: list[tuple[lsp.MessageType, str]] = field(default_factory=list)


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
    #: Digest of the editor text put in place of each file (the file on disk is the rest).
    applied: dict[str, str] = field(default_factory=dict)
    #: Whether a file outside the initial discovery is a manifest of this project.
    lintable: dict[str, bool] = field(default_factory=dict)
    known: set[str] = field(default_factory=set)

    def rel(self, path: Path) -> str | None:
        if path != self.root and self.root not in path.parents:
            return None
        return path.relative_to(self.root).as_posix()

    def is_lintable(self, path: Path, rel: str) -> bool:
        """Whether the CLI would lint this file: a manifest under the configured roots, not
        excluded, not ignored by git, not a config file or Helm template."""
        if rel in self.known:
            return True
        if rel in self.lintable:
            return self.lintable[rel]
        answer = (
            rel.lower().endswith(EXTENSIONS)
            and any(path == r or r in path.parents for r in self.roots)
            and path.is_file()
            and bool(discover(self.root, [path], self.exclude).files)
        )
        self.lintable[rel] = answer
        return answer


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


class Linter:
    """The projects and their workspaces. Used only from the worker thread."""

    def __init__(self, folders: Sequence[Path], encoding: str) -> None:
        self.folders = list(folders)
        self.encoding = encoding
        self.projects: dict[Path, Project] = {}
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
            self._open(folder, out)
        return out

    def change_folders(
        self, added: Sequence[Path], removed: Sequence[Path], docs: Mapping[str, Doc]
    ) -> Outcome:
        """Workspace folders came or went: load the new ones, drop the projects nobody opened
        any more (and their documents' diagnostics)."""
        out = Outcome()
        for folder in removed:
            if folder in self.folders:
                self.folders.remove(folder)
        for root, project in list(self.projects.items()):
            if project.start in removed and project.start not in self.folders:
                del self.projects[root]
                for doc in docs.values():
                    path = path_of(doc.uri)
                    if path is not None and project.rel(path) is not None:
                        out.publish.append(Publish(doc.uri, doc.version, []))
        for folder in added:
            if folder not in self.folders:
                self.folders.append(folder)
        for folder in self.folders:
            if not any(p.rel(folder) is not None for p in self.projects.values()):
                self._open(folder, out)
        return out

    def _open(self, start: Path, out: Outcome) -> Project:
        """Load the project holding ``start``, as ``netlint check START`` would find it."""
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
            return project
        session = Session.create(config, self.catalogue)
        warnings: list[str] = []
        # One process: forking a pool from a threaded server risks inheriting held locks; the
        # parse cache makes every start after the first one fast anyway.
        session.load(use_cache=True, jobs=1, warnings=warnings)
        for warning in warnings:
            out.messages.append((lsp.MessageType.Warning, f"netlint: {warning}"))
        project.session = session
        project.roots = tuple(r.resolve() for r in config.roots)
        project.exclude = config.exclude
        workspace = session.workspace
        project.known = set(workspace.results)
        seconds = time.perf_counter() - began
        message = f"netlint: read {len(workspace.results)} files of {root} in {seconds:.2f} s"
        out.messages.append((lsp.MessageType.Log, message))
        return project

    def project_for(self, path: Path, out: Outcome) -> Project | None:
        holding = [p for p in self.projects.values() if p.rel(path) is not None]
        if holding:
            return max(holding, key=lambda p: len(p.root.parts))
        if self.folders or not path.name.lower().endswith(EXTENSIONS):
            return None  # outside every workspace folder, or not a manifest: not ours to judge
        # No folder was given (a single file opened): its folder starts the search.
        return self._open(path.parent, out)

    def sync(
        self,
        docs: Mapping[str, Doc],
        *,
        closed: Sequence[Doc] = (),
        requested: Iterable[str] = (),
        saved: Iterable[str] = (),
        watched: Sequence[lsp.FileEvent] = (),
    ) -> Outcome:
        """Bring the workspaces up to date with the open documents, closed ones and files
        changed on disk; lint the open documents whose project changed or that were asked for."""
        out = Outcome()
        changed: set[Path] = set()
        for path in {p for p in map(path_of, (*saved, *(e.uri for e in watched))) if p}:
            if path.name in (*CONFIG_NAMES, "pyproject.toml"):
                changed |= self._reload_for_config(path, out)
            else:
                for project in self.projects.values():
                    rel = project.rel(path)
                    if rel is not None:
                        project.lintable.pop(rel, None)
        open_paths = {p for p in map(path_of, docs) if p}
        for event in watched:
            at = self._locate(event.uri, out)
            if at is None or at.path in open_paths or at.path.name in CONFIG_NAMES:
                continue  # an open document's buffer, not the disk, is what the user sees
            if event.type == lsp.FileChangeType.Deleted:
                if at.rel in at.session.workspace.results:
                    at.session.workspace.update(at.rel, None)
                    changed.add(at.project.root)
            elif at.project.is_lintable(at.path, at.rel):
                changed |= self._from_disk(at)
        for doc in closed:
            at = self._locate(doc.uri, out)
            if at is not None and at.rel in at.project.applied:
                del at.project.applied[at.rel]
                changed |= self._from_disk(at)
        for doc in docs.values():
            at = self._locate(doc.uri, out)
            if at is None or not at.project.is_lintable(at.path, at.rel):
                continue
            data = doc.text.encode("utf-8", errors="surrogateescape")
            fingerprint = digest(data)
            if at.project.applied.get(at.rel, _digest_of(at.session, at.rel)) != fingerprint:
                at.session.workspace.update(at.rel, data)
                changed.add(at.project.root)
            at.project.applied[at.rel] = fingerprint
        wanted = set(requested)
        for doc in docs.values():
            at = self._locate(doc.uri, out)
            if at is not None and at.project.root in changed:
                wanted.add(doc.uri)
        out.publish.extend(self._lint(docs, wanted, out))
        return out

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
            return {at.project.root}
        known = _digest_of(at.session, at.rel)
        if (data is None and known is None) or (data is not None and known == digest(data)):
            return set()
        at.session.workspace.update(at.rel, data)
        return {at.project.root}

    def _reload_for_config(self, path: Path, out: Outcome) -> set[Path]:
        """A config file that applies to a project (by ``find_config``'s search from its
        folder) was saved or changed: load that project again."""
        directory = path.parent
        reloaded: set[Path] = set()
        for project in list(self.projects.values()):
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
            del self.projects[project.root]
            fresh = self._open(project.start, out)
            reloaded |= {project.root, fresh.root}
        return reloaded

    def _lint(self, docs: Mapping[str, Doc], wanted: set[str], out: Outcome) -> list[Publish]:
        batches: dict[Path, tuple[Located, dict[str, Doc]]] = {}
        for uri in wanted:
            doc = docs.get(uri)
            at = self._locate(uri, out)
            if doc is not None and at is not None and at.project.is_lintable(at.path, at.rel):
                batches.setdefault(at.project.root, (at, {}))[1][at.rel] = doc
        published: list[Publish] = []
        for at, reported in batches.values():
            try:
                findings, _ = at.session.lint(reported.__contains__)
            except Exception:
                log.error("netlint: linting failed:\n%s", traceback.format_exc())
                out.messages.append(
                    (lsp.MessageType.Error, "netlint: linting failed (see the server log)")
                )
                continue
            files = Files(at.project, docs, self.encoding)
            per_file: dict[str, list[lsp.Diagnostic]] = {rel: [] for rel in reported}
            for finding in sorted(findings, key=lambda f: f.sort_key):
                if finding.span.path in per_file:
                    per_file[finding.span.path].append(self._diagnostic(finding, files))
            for rel, doc in reported.items():
                published.append(Publish(doc.uri, doc.version, per_file[rel]))
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
