"""``netlint lsp``: a Language Server (stdio) that publishes netlint's findings as diagnostics.

The event loop only talks to the client. Every project operation (loading, updating, linting:
netlint.integrations.lsp.projects) runs in one worker thread, in order, on snapshots of the open
documents taken when the job was queued; so the projects need no locks and a long initial load
never blocks the protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

from netlint import __version__
from netlint.core.escape import text as safe
from netlint.integrations.lsp.projects import Doc, Linter, Outcome, path_of

log = logging.getLogger(__name__)

#: Quiet time after the last keystroke before a re-lint.
DEBOUNCE_SECONDS = 0.3
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


class NetlintServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("netlint", __version__)
        self.worker = _Worker()
        self.linter: Linter | None = None
        self.debounce = DEBOUNCE_SECONDS
        self.pending: asyncio.TimerHandle | None = None
        self.closed: list[Doc] = []

    def snapshot(self) -> dict[str, Doc]:
        # By the URI the client sent: pygls keys its documents by the *unquoted* URI, which
        # loses a file name's non-UTF-8 bytes (%E9 becomes U+FFFD) and is not what the client
        # expects diagnostics for.
        return {
            doc.uri: Doc(doc.uri, doc.source, doc.version)
            for doc in self.workspace.text_documents.values()
        }

    async def flush(
        self,
        *,
        requested: Iterable[str] = (),
        saved: Iterable[str] = (),
        watched: Sequence[lsp.FileEvent] = (),
    ) -> None:
        """Queue one sync of everything the client told since the last one, and publish."""
        if self.pending is not None:
            self.pending.cancel()
            self.pending = None
        linter = self.linter
        if linter is None:
            return
        docs = self.snapshot()
        closed, self.closed = self.closed, []
        requested, saved = list(requested), list(saved)
        began = time.perf_counter()
        try:
            outcome = await self.worker.submit(
                lambda: linter.sync(
                    docs, closed=closed, requested=requested, saved=saved, watched=watched
                )
            )
        except Exception:
            log.error("netlint: %s", traceback.format_exc())
            self.tell(lsp.MessageType.Error, "netlint: internal error (see the server log)")
            return
        self.deliver(outcome)
        log.debug("netlint: synced in %.1f ms", 1000 * (time.perf_counter() - began))

    def deliver(self, outcome: Outcome) -> None:
        for kind, message in outcome.messages:
            self.tell(kind, message)
        still_open = {doc.uri for doc in self.workspace.text_documents.values()}
        for item in outcome.publish:
            if item.uri not in still_open:
                continue  # closed while it was being linted: its diagnostics are cleared
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

    def schedule(self) -> None:
        if self.pending is not None:
            self.pending.cancel()
        loop = asyncio.get_running_loop()
        self.pending = loop.call_later(self.debounce, lambda: _spawn(self.flush()))


_TASKS: set[asyncio.Task[None]] = set()


def _spawn(coro: Any) -> None:
    # The loop keeps only weak references to tasks: hold one until it is done.
    task = asyncio.ensure_future(coro)
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


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
        options = params.initialization_options
        if isinstance(options, dict) and isinstance(options.get("debounceMs"), int | float):
            ls.debounce = max(0.0, float(options["debounceMs"]) / 1000)
        encoding = str(ls.workspace.position_encoding or lsp.PositionEncodingKind.Utf16)
        ls.linter = Linter(_folders(params), encoding)

    @server.feature(lsp.INITIALIZED)
    async def initialized(ls: NetlintServer, params: lsp.InitializedParams) -> None:
        linter = ls.linter
        if linter is None:
            return
        try:
            # Queued before any didOpen handler runs (the client opens documents only after
            # `initialized`), so every later job finds the projects loaded.
            ls.deliver(await ls.worker.submit(linter.start))
        except Exception:
            log.error("netlint: %s", traceback.format_exc())
            ls.tell(lsp.MessageType.Error, "netlint: could not load the project (see the log)")
        # Documents opened from now on queue their jobs behind the load: no flush needed here.
        await _watch_files(ls)

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls: NetlintServer, params: lsp.DidOpenTextDocumentParams) -> None:
        await ls.flush(requested=[params.text_document.uri])

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: NetlintServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.schedule()

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls: NetlintServer, params: lsp.DidSaveTextDocumentParams) -> None:
        await ls.flush(saved=[params.text_document.uri])

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    async def did_close(ls: NetlintServer, params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, []))
        ls.closed.append(Doc(uri, "", None))
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
    async def watched(ls: NetlintServer, params: lsp.DidChangeWatchedFilesParams) -> None:
        await ls.flush(watched=params.changes)

    return server


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
