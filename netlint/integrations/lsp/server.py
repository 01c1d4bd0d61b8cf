"""``netlint lsp``: a Language Server (stdio) that publishes netlint's findings as diagnostics.

The event loop only talks to the client. Every project operation (loading, updating, linting:
netlint.integrations.lsp.projects) runs in one worker thread, in order, so the projects need no
locks and a long initial load never blocks the protocol. What the client tells is gathered
(``_Due``) and at most one sync waits in the worker; it takes its snapshot of the open documents
when it starts, so it serves the newest versions, and a newer edit makes a running lint give up
(``runner.lint_until``). Diagnostics for a version older than the document's are not sent.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

from netlint import __version__
from netlint.core.escape import text as safe
from netlint.integrations.lsp.projects import Doc, Linter, Outcome, Publish, path_of

log = logging.getLogger(__name__)

#: Quiet time after the last keystroke before a re-lint.
DEBOUNCE_SECONDS = 0.3
#: At least this long, notifications of files changed on disk are gathered into one sync.
WATCH_SECONDS = 0.2
T = TypeVar("T")


class _Worker:
    """One daemon thread that runs every job in order (a daemon, so ``exit`` never waits for
    a long initial load)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[
            tuple[asyncio.AbstractEventLoop, asyncio.Future[Any], Callable[[], Any]]
        ] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="netlint-lint", daemon=True).start()

    def submit(self, job: Callable[[], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, job))
        return future

    def _run(self) -> None:
        while True:
            loop, future, job = self._jobs.get()
            try:
                result = job()
            except BaseException as exc:
                self._settle(loop, future, None, exc)
            else:
                self._settle(loop, future, result, None)

    @staticmethod
    def _settle(
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
        result: Any,
        error: BaseException | None,
    ) -> None:
        def settle() -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

        # A closed loop means the server is exiting: nobody waits for the result.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle)


@dataclass(slots=True)
class _Due:
    """What the client told since the last sync was claimed: merged, so that one sync serves
    any number of notifications (a `git checkout` of ten files is one re-lint, not ten)."""

    requested: set[str] = field(default_factory=set)
    saved: set[str] = field(default_factory=set)
    watched: list[lsp.FileEvent] = field(default_factory=list)
    closed: list[Doc] = field(default_factory=list)
    reload: bool = False


class NetlintServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("netlint", __version__)
        self.worker = _Worker()
        self.linter: Linter | None = None
        self.debounce = DEBOUNCE_SECONDS
        self.pending: asyncio.TimerHandle | None = None
        self.due = _Due()
        #: The sync queued in the worker that has not claimed ``due`` yet (a number, or 0):
        #: whatever comes meanwhile is served by it, and nothing more is queued.
        self.queued = 0
        self._syncs = 0
        #: Counts edits and changes on disk: a running sync that counted fewer is stale.
        self.edits = 0
        #: The ``$/progress`` token of the initial load, once the client accepted it.
        self.progress_token: str | None = None
        self.event_loop: asyncio.AbstractEventLoop | None = None

    def snapshot(self) -> dict[str, Doc]:
        # By the URI the client sent: pygls keys its documents by the *unquoted* URI, which
        # loses a file name's non-UTF-8 bytes (%E9 becomes U+FFFD) and is not what the client
        # expects diagnostics for.
        return {
            doc.uri: Doc(doc.uri, doc.source, doc.version)
            for doc in self.workspace.text_documents.values()
        }

    def stale(self) -> None:
        """A document changed, or files on disk: what runs now is for older versions."""
        self.edits += 1

    async def flush(
        self,
        *,
        requested: Iterable[str] = (),
        saved: Iterable[str] = (),
        watched: Sequence[lsp.FileEvent] = (),
        reload: bool = False,
    ) -> None:
        """Sync everything the client told since the last sync, and publish. At most one sync
        waits in the worker: it takes the documents as they are when it starts, so queued
        work for older versions never runs."""
        if self.pending is not None:
            self.pending.cancel()
            self.pending = None
        due = self.due
        due.requested.update(requested)
        due.saved.update(saved)
        due.watched.extend(watched)
        due.reload = due.reload or reload
        linter = self.linter
        if linter is None or self.queued:
            return
        self._syncs += 1
        self.queued = mine = self._syncs
        loop = asyncio.get_running_loop()
        began = time.perf_counter()
        try:
            outcome = await self.worker.submit(lambda: self._sync(linter, loop))
        except Exception:
            log.error("netlint: %s", traceback.format_exc())
            self.tell(lsp.MessageType.Error, "netlint: internal error (see the server log)")
            return
        finally:
            if self.queued == mine:  # failed before it claimed: let the next one queue
                self.queued = 0
        if outcome is not None:
            self.deliver(outcome)
        log.debug("netlint: synced in %.1f ms", 1000 * (time.perf_counter() - began))

    def _claim(self) -> tuple[dict[str, Doc], _Due, int]:
        """On the event loop: the documents as they are now, and what is due."""
        self.queued = 0
        due, self.due = self.due, _Due()
        return self.snapshot(), due, self.edits

    def _sync(self, linter: Linter, loop: asyncio.AbstractEventLoop) -> Outcome | None:
        """In the worker: claim what is due (on the loop, which owns the documents) and sync."""
        claim: concurrent.futures.Future[tuple[dict[str, Doc], _Due, int]]
        claim = concurrent.futures.Future()

        def take() -> None:
            try:
                claim.set_result(self._claim())
            except BaseException as exc:
                claim.set_exception(exc)

        try:
            loop.call_soon_threadsafe(take)
        except RuntimeError:  # the loop is closed: the server is exiting
            return None
        docs, due, mark = claim.result()
        return linter.sync(
            docs,
            closed=due.closed,
            requested=due.requested,
            saved=due.saved,
            watched=due.watched,
            reload=due.reload,
            stop=lambda: self.edits != mark,
        )

    def deliver(self, outcome: Outcome) -> None:
        for kind, message in outcome.messages:
            self.tell(kind, message)
        if self.protocol.trace != lsp.TraceValue.Off:
            for trace in outcome.traces:
                self.log_trace(lsp.LogTraceParams(safe(f"netlint: {trace}")))
        # The version each open document has now: diagnostics for an older one are stale (a
        # newer edit is due, and its sync publishes), so they are not sent.
        current = {doc.uri: doc.version for doc in self.workspace.text_documents.values()}
        for item in outcome.publish:
            if not item.anyway:
                if item.uri not in current:
                    continue  # closed while it was being linted: its diagnostics are cleared
                now = current[item.uri]
                if item.version is not None and now is not None and now > item.version:
                    continue
            self.text_document_publish_diagnostics(
                lsp.PublishDiagnosticsParams(item.uri, item.diagnostics, item.version)
            )

    def tell(self, kind: lsp.MessageType, message: str) -> None:
        """Errors and warnings pop up; the rest goes to the client's log for this server."""
        # Config errors and load warnings quote file names and config values from the repo.
        message = safe(message)
        if kind in (lsp.MessageType.Error, lsp.MessageType.Warning):
            log.warning("%s", message)
            self.window_show_message(lsp.ShowMessageParams(kind, message))
        else:
            self.window_log_message(lsp.LogMessageParams(kind, message))

    def schedule(self, delay: float | None = None) -> None:
        if self.pending is not None:
            self.pending.cancel()
        loop = asyncio.get_running_loop()
        wait = self.debounce if delay is None else delay
        self.pending = loop.call_later(wait, lambda: _spawn(self.flush()))

    def report_progress(self, message: str, percentage: int | None) -> None:
        """From the worker: a ``$/progress`` report of the load (when the client takes them)."""
        token, loop = self.progress_token, self.event_loop
        if token is None or loop is None:
            return
        value = lsp.WorkDoneProgressReport(message=safe(message), percentage=percentage)
        with contextlib.suppress(RuntimeError):  # the loop is closed: exiting
            loop.call_soon_threadsafe(self.work_done_progress.report, token, value)

    def publish_early(self, item: Publish) -> None:
        """From the worker: diagnostics to send now, before the sync that made them ends (a
        warm start's stored report, while the project loads)."""
        loop = self.event_loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: exiting
            loop.call_soon_threadsafe(self.deliver, Outcome(publish=[item]))

    def apply_settings(self, settings: Any) -> None:
        """Client settings (initializationOptions, or didChangeConfiguration's, maybe under a
        ``netlint`` key): ``debounceMs``."""
        if isinstance(settings, dict) and isinstance(settings.get("netlint"), dict):
            settings = settings["netlint"]
        if not isinstance(settings, dict):
            return
        debounce = settings.get("debounceMs")
        if isinstance(debounce, int | float) and not isinstance(debounce, bool):
            self.debounce = min(max(0.0, float(debounce) / 1000), 10.0)


_TASKS: set[asyncio.Task[None]] = set()


def _spawn(coro: Any) -> None:
    # The loop keeps only weak references to tasks: hold one until it is done.
    task = asyncio.ensure_future(coro)
    _TASKS.add(task)
    task.add_done_callback(_done)


def _done(task: asyncio.Task[None]) -> None:
    _TASKS.discard(task)
    if not task.cancelled() and task.exception() is not None:
        error = task.exception()
        log.error("netlint: %s", "".join(traceback.format_exception(error)))


def _folders(params: lsp.InitializeParams) -> list[Path]:
    uris = [f.uri for f in params.workspace_folders or ()]
    if not uris and params.root_uri:
        uris = [params.root_uri]
    paths = [path_of(uri) for uri in uris]
    if not paths and params.root_path:
        paths = [Path(params.root_path).resolve()]
    return [p for p in paths if p is not None and p.is_dir()]


def build_server() -> NetlintServer:
    server = NetlintServer()

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: NetlintServer, params: lsp.InitializeParams) -> None:
        ls.apply_settings(params.initialization_options)
        ls.protocol.trace = params.trace or lsp.TraceValue.Off
        encoding = str(ls.workspace.position_encoding or lsp.PositionEncodingKind.Utf16)
        ls.linter = Linter(_folders(params), encoding)

    @server.feature(lsp.INITIALIZED)
    async def initialized(ls: NetlintServer, params: lsp.InitializedParams) -> None:
        linter = ls.linter
        if linter is None:
            return
        ls.event_loop = asyncio.get_running_loop()
        linter.progress = ls.report_progress
        linter.early = ls.publish_early
        # Queued before any didOpen handler runs (the client opens documents only after
        # `initialized`), so every later job finds the projects loaded.
        started = ls.worker.submit(linter.start)
        token = await _begin_progress(ls)
        try:
            ls.deliver(await started)
        except Exception:
            log.error("netlint: %s", traceback.format_exc())
            ls.tell(lsp.MessageType.Error, "netlint: could not load the project (see the log)")
        finally:
            linter.progress = None
            ls.progress_token = None
            if token is not None:
                ls.work_done_progress.end(token, lsp.WorkDoneProgressEnd(message="loaded"))
        # Documents opened from now on queue their jobs behind the load: no flush needed here.
        await _watch_files(ls)

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls: NetlintServer, params: lsp.DidOpenTextDocumentParams) -> None:
        await ls.flush(requested=[params.text_document.uri])

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: NetlintServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.stale()
        ls.schedule()

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls: NetlintServer, params: lsp.DidSaveTextDocumentParams) -> None:
        await ls.flush(saved=[params.text_document.uri])

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    async def did_close(ls: NetlintServer, params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, []))
        ls.due.closed.append(Doc(uri, "", None))
        await ls.flush()

    @server.feature(lsp.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    async def folders(ls: NetlintServer, params: lsp.DidChangeWorkspaceFoldersParams) -> None:
        linter = ls.linter
        if linter is None:
            return
        added = [p for p in map(path_of, (f.uri for f in params.event.added)) if p]
        removed = [p for p in map(path_of, (f.uri for f in params.event.removed)) if p]
        docs = ls.snapshot()
        try:
            ls.deliver(await ls.worker.submit(lambda: linter.change_folders(added, removed, docs)))
        except Exception:
            log.error("netlint: %s", traceback.format_exc())
            ls.tell(lsp.MessageType.Error, "netlint: could not load the folder (see the log)")
        await ls.flush(requested=list(docs))

    @server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def watched(ls: NetlintServer, params: lsp.DidChangeWatchedFilesParams) -> None:
        # Clients send a checkout or a generator's output as many notifications: they are
        # gathered for a moment and synced as one.
        ls.stale()
        ls.due.watched.extend(params.changes)
        ls.schedule(max(ls.debounce, WATCH_SECONDS))

    @server.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def configuration(ls: NetlintServer, params: lsp.DidChangeConfigurationParams) -> None:
        ls.apply_settings(params.settings)
        ls.stale()
        await ls.flush(reload=True)

    return server


async def _begin_progress(ls: NetlintServer) -> str | None:
    """Start the ``$/progress`` reports of the initial load, when the client takes them
    (reports the worker sends before go nowhere: no token is live yet)."""
    window = ls.client_capabilities.window
    if window is None or not window.work_done_progress:
        return None
    token = f"netlint-load-{uuid.uuid4().hex}"
    try:
        await ls.work_done_progress.create_async(token)
    except Exception as exc:
        log.warning("netlint: the client refused a progress token: %s", exc)
        return None
    ls.work_done_progress.begin(
        token, lsp.WorkDoneProgressBegin(title="netlint", message="loading the project")
    )
    ls.progress_token = token
    return token


async def _watch_files(ls: NetlintServer) -> None:
    """Ask the client to report manifest and config changes made outside the editor (a git
    checkout, a generator), when it can register that dynamically."""
    workspace = ls.client_capabilities.workspace
    watch = workspace.did_change_watched_files if workspace else None
    if not (watch and watch.dynamic_registration):
        return
    globs = ["**/*.{yaml,yml,json}", "**/pyproject.toml"]
    registration = lsp.Registration(
        id="netlint-watched-files",
        method=lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES,
        register_options=lsp.DidChangeWatchedFilesRegistrationOptions(
            watchers=[lsp.FileSystemWatcher(glob_pattern=g) for g in globs]
        ),
    )
    try:
        await ls.client_register_capability_async(lsp.RegistrationParams([registration]))
    except Exception as exc:
        log.warning("netlint: the client refused file watching: %s", exc)


def main(stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> int:
    """Serve over stdio until the client says ``exit``."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(message)s")
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    # Whatever a rule or library prints must not corrupt the JSON-RPC stream on stdout.
    sys.stdout = sys.stderr
    server = build_server()
    server.start_io(stdin, stdout)
    return 0
