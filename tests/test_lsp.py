"""The language server as an editor drives it: ``python -m netlint lsp`` in a subprocess, real
JSON-RPC messages with Content-Length framing over its stdin and stdout, a real project on disk.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import NAMESPACE, WEB, WORKER, lint
from helpers import line_of

from netlint.output.ruledocs import DOCS_URL

POLICIES = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: web
  policyTypes: [Ingress]
  ingress:
    - from:
        - podSelector:
            matchLabels:
              app: worker
      ports:
        - protocol: TCP
          port: http
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: worker
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: worker
  policyTypes: [Egress]
  egress:
    - to:
        - ipBlock:
            cidr: 0.0.0.0/1
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: kube-system
      ports:
        - protocol: UDP
          port: 53
        - protocol: TCP
          port: 53
    - to:
        - ipBlock:
            cidr: 0.0.0.0/1
"""
ANNOTATED = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: audited
  namespace: shop
  annotations: {owner: "😀 team", reviewed: yes}
spec:
  podSelector: {}
  policyTypes: [Ingress]
"""
FILES = {
    "namespaces/shop.yaml": NAMESPACE,
    "workloads/web.yaml": WEB,
    "workloads/worker.yaml": WORKER,
    "policies/web.yaml": POLICIES,
    "policies/annotated.yaml": ANNOTATED,
    "README.md": "# manifests\n",
}
TIMEOUT = 30.0


def lsp_line(text: str, needle: str, nth: int = 1) -> int:
    """The 0-based line of the ``nth`` line containing ``needle`` (LSP lines are 0-based)."""
    return line_of(text, needle, nth) - 1


def uri(path: Path) -> str:
    return path.resolve().as_uri()


class Client:
    """A minimal LSP client: frames messages, answers the server's requests, keeps every
    message it receives (with the time it arrived)."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "netlint", "lsp"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.inbox: queue.Queue[tuple[float, dict[str, Any] | None]] = queue.Queue()
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.stderr: list[bytes] = []
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        while True:
            headers: dict[str, str] = {}
            while True:
                line = stream.readline()
                if not line:
                    self.inbox.put((time.monotonic(), None))
                    return
                if not line.strip():
                    break
                key, _, value = line.decode("ascii").partition(":")
                headers[key.strip().lower()] = value.strip()
            body = stream.read(int(headers["content-length"]))
            self.inbox.put((time.monotonic(), json.loads(body)))

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def send(self, message: dict[str, Any]) -> float:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()
        return time.monotonic()

    def notify(self, method: str, params: dict[str, Any]) -> float:
        return self.send({"method": method, "params": params})

    def notify_all(self, messages: list[tuple[str, dict[str, Any]]]) -> float:
        """Several notifications in one write: the server reads them as a burst."""
        frames = b""
        for method, params in messages:
            body = json.dumps({"jsonrpc": "2.0", "method": method, "params": params}).encode()
            frames += b"Content-Length: %d\r\n\r\n" % len(body) + body
        assert self.proc.stdin is not None
        self.proc.stdin.write(frames)
        self.proc.stdin.flush()
        return time.monotonic()

    def request(self, method: str, params: dict[str, Any] | None) -> Any:
        self.next_id += 1
        ident = self.next_id
        self.send({"id": ident, "method": method, "params": params})
        reply = self.wait(lambda m: m.get("id") == ident and "method" not in m)
        assert "error" not in reply, reply
        return reply.get("result")

    def mark(self) -> int:
        self._pump(0)
        return len(self.received)

    def drain(self) -> None:
        """Take every message that has arrived."""
        while self._pump(0):
            pass

    def _pump(self, timeout: float) -> bool:
        try:
            at, message = self.inbox.get(timeout=timeout)
        except queue.Empty:
            return False
        if message is None:
            raise AssertionError("the server closed its output: " + self.log())
        if "method" in message and "id" in message:  # a request from the server
            self.send({"id": message["id"], "result": None})
        self.received.append((at, message))
        return True

    def wait(
        self, match: Callable[[dict[str, Any]], bool], since: int = 0, timeout: float = TIMEOUT
    ) -> dict[str, Any]:
        return self.wait_timed(match, since, timeout)[1]

    def wait_timed(
        self, match: Callable[[dict[str, Any]], bool], since: int = 0, timeout: float = TIMEOUT
    ) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        seen = since
        while True:
            for at, message in self.received[seen:]:
                seen += 1
                if match(message):
                    return at, message
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching message; got {self.received[since:]}")
            self._pump(left)

    def diagnostics(
        self,
        doc: str,
        since: int,
        match: Callable[[list[dict[str, Any]]], bool] = lambda d: True,
        timeout: float = TIMEOUT,
        version: int | None = None,
    ) -> list[dict[str, Any]]:
        """The first diagnostics published for ``doc`` after ``since`` that ``match`` accepts
        (and for that document ``version``, when given)."""
        message = self.wait(
            lambda m: (
                m.get("method") == "textDocument/publishDiagnostics"
                and m["params"]["uri"] == doc
                and (version is None or m["params"].get("version") == version)
                and match(m["params"]["diagnostics"])
            ),
            since,
            timeout,
        )
        return message["params"]["diagnostics"]  # type: ignore[no-any-return]

    def published(self, doc: str, since: int = 0) -> list[list[dict[str, Any]]]:
        self._pump(0)
        return [
            m["params"]["diagnostics"]
            for _, m in self.received[since:]
            if m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == doc
        ]

    def initialize(
        self,
        root: Path | None,
        *,
        encodings: list[str] | None = None,
        debounce_ms: int | None = 0,
        watch: bool = True,
        progress: bool = False,
        trace: str | None = None,
    ) -> dict[str, Any]:
        capabilities: dict[str, Any] = {
            "textDocument": {
                "synchronization": {"didSave": True, "dynamicRegistration": False},
                "publishDiagnostics": {"relatedInformation": True, "versionSupport": True},
            },
            "workspace": {"didChangeWatchedFiles": {"dynamicRegistration": watch}},
        }
        if encodings is not None:
            capabilities["general"] = {"positionEncodings": encodings}
        if progress:
            capabilities["window"] = {"workDoneProgress": True}
        options = {} if debounce_ms is None else {"debounceMs": debounce_ms}
        params = {
            "processId": os.getpid(),
            "rootUri": uri(root) if root else None,
            "capabilities": capabilities,
            "initializationOptions": options,
        }
        if trace is not None:
            params["trace"] = trace
        result = self.request("initialize", params)
        self.notify("initialized", {})
        return result  # type: ignore[no-any-return]

    def open(self, path: Path, text: str | None = None, version: int = 1) -> str:
        doc = uri(path)
        content = path.read_text(encoding="utf-8") if text is None else text
        self.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": doc,
                    "languageId": "yaml",
                    "version": version,
                    "text": content,
                }
            },
        )
        return doc

    def change(self, doc: str, text: str, version: int) -> float:
        return self.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": doc, "version": version}, "contentChanges": [{"text": text}]},
        )

    def close(self) -> int:
        """shutdown, exit; the exit status."""
        if self.proc.poll() is None:
            self.request("shutdown", None)
            self.notify("exit", {})
        status = self.proc.wait(timeout=TIMEOUT)
        while not self.inbox.empty():
            at, message = self.inbox.get()
            if message is not None:
                self.received.append((at, message))
        assert "Traceback" not in self.log(), self.log()
        errors = [
            m
            for _, m in self.received
            if m.get("method") == "window/showMessage"
            and m["params"]["type"] == 1
            and "Error in server" in m["params"]["message"]
        ]
        assert errors == []
        return status

    def log(self) -> str:
        return b"".join(self.stderr).decode("utf-8", errors="replace")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def client_factory(tmp_path: Path) -> Iterator[Callable[[Path], Client]]:
    clients: list[Client] = []
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"), "NO_COLOR": "1"}

    def make(cwd: Path) -> Client:
        client = Client(cwd, env)
        clients.append(client)
        return client

    yield make
    for client in clients:
        if client.proc.poll() is None:
            client.proc.kill()
            client.proc.wait(timeout=TIMEOUT)


def codes_by_line(diagnostics: list[dict[str, Any]]) -> set[tuple[int, str]]:
    return {(d["range"]["start"]["line"], d["code"]) for d in diagnostics}


def test_publishes_diagnostics_on_open(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    client = client_factory(project)
    result = client.initialize(project)
    assert result["serverInfo"]["name"] == "netlint"
    assert result["capabilities"]["positionEncoding"] == "utf-16"
    since = client.mark()
    doc = client.open(project / "policies/web.yaml")
    diagnostics = client.diagnostics(doc, since)
    cidr = lsp_line(POLICIES, "cidr: 0.0.0.0/1")
    duplicate = lsp_line(POLICIES, "- to:", 3)
    assert codes_by_line(diagnostics) == {
        (cidr, "NL104"),
        (duplicate, "NL105"),
        (lsp_line(POLICIES, "cidr: 0.0.0.0/1", 2), "NL104"),
    }
    # The same findings, on the same lines, as `netlint check` reports for the file.
    report = lint(project, [project / "policies/web.yaml"])
    assert {(f.span.line - 1, f.code) for f in report.findings} == codes_by_line(diagnostics)
    broad = next(d for d in diagnostics if d["range"]["start"]["line"] == cidr)
    assert broad["range"] == {
        "start": {"line": cidr, "character": 18},
        "end": {"line": cidr, "character": 27},
    }
    assert broad["severity"] == 2  # warning
    assert broad["source"] == "netlint"
    assert broad["codeDescription"]["href"] == f"{DOCS_URL}NL104-broad-cidr.md"
    assert "0.0.0.0/1" in broad["message"]
    shadowed = next(d for d in diagnostics if d["code"] == "NL105")
    assert shadowed["range"]["start"] == {"line": duplicate, "character": 6}
    (related,) = shadowed["relatedInformation"]
    assert related["location"]["uri"] == doc
    assert related["location"]["range"]["start"]["line"] == lsp_line(POLICIES, "- to:", 1)
    assert "egress[0]" in related["message"]
    assert client.close() == 0


def test_an_edit_that_fixes_the_problem_clears_it(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    client = client_factory(project)
    client.initialize(project)
    since = client.mark()
    doc = client.open(project / "policies/web.yaml")
    assert len(client.diagnostics(doc, since)) == 3
    since = client.mark()
    fixed = POLICIES.replace("cidr: 0.0.0.0/1", "cidr: 203.0.113.0/24", 1)
    client.change(doc, fixed, 2)
    # Rule 0 is narrower now: rule 2 no longer duplicates it; rule 2's own CIDR stays broad.
    diagnostics = client.diagnostics(doc, since)
    assert codes_by_line(diagnostics) == {(lsp_line(fixed, "cidr: 0.0.0.0/1"), "NL104")}
    since = client.mark()
    client.change(doc, fixed.replace("cidr: 0.0.0.0/1", "cidr: 198.51.100.0/24"), 3)
    message = client.wait(
        lambda m: m.get("method") == "textDocument/publishDiagnostics", since=since
    )
    assert message["params"] == {"uri": doc, "diagnostics": [], "version": 3}
    assert client.close() == 0


def test_a_workload_edit_republishes_an_open_policy(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    client = client_factory(project)
    client.initialize(project)
    since = client.mark()
    policy = client.open(project / "policies/web.yaml")
    workload = client.open(project / "workloads/web.yaml")
    assert client.diagnostics(workload, since) == []
    assert len(client.diagnostics(policy, since)) == 3
    since = client.mark()
    renamed = WEB.replace("app: web", "app: website")
    client.change(workload, renamed, 2)
    selector = lsp_line(POLICIES, "podSelector:")
    diagnostics = client.diagnostics(policy, since, lambda d: any(x["code"] == "NL102" for x in d))
    dangling = next(d for d in diagnostics if d["code"] == "NL102")
    assert dangling["range"]["start"] == {"line": selector, "character": 2}
    assert "`app=web`" in dangling["message"] and "selects no pod" in dangling["message"]
    # The edited document is linted too (policies/annotated.yaml still selects its pods).
    assert client.diagnostics(workload, since, version=2) == []
    since = client.mark()
    client.change(workload, WEB, 3)
    assert client.diagnostics(policy, since, lambda d: len(d) == 3)
    assert client.diagnostics(workload, since) == []
    assert client.close() == 0


def test_positions_follow_the_negotiated_encoding(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    # `yes` is the 44th code point of its line, after an emoji (two UTF-16 units, four bytes).
    line = lsp_line(ANNOTATED, "reviewed: yes")
    for offered, negotiated, character in (
        (None, "utf-16", 44),
        (["utf-32", "utf-16"], "utf-32", 43),
        (["utf-8"], "utf-8", 46),
    ):
        client = client_factory(project)
        result = client.initialize(project, encodings=offered)
        assert result["capabilities"]["positionEncoding"] == negotiated
        since = client.mark()
        doc = client.open(project / "policies/annotated.yaml")
        (diagnostic,) = client.diagnostics(doc, since)
        assert diagnostic["code"] == "NL002"
        assert diagnostic["severity"] == 1  # error
        assert diagnostic["range"]["start"] == {"line": line, "character": character}
        assert diagnostic["range"]["end"] == {"line": line, "character": character + 3}
        assert client.close() == 0


def test_closing_clears_and_a_file_outside_every_project_is_linted_alone(
    project: Path, tmp_path: Path, client_factory: Callable[[Path], Client]
) -> None:
    """A file with no config, no git and no workspace folder above it is linted alone, as
    its own one-file project: its neighbours are not read and no cache is written there."""
    outside = tmp_path / "elsewhere" / "policy.yaml"
    outside.parent.mkdir()
    outside.write_text(POLICIES, encoding="utf-8")
    # Read as context, these would make the policy's `app=web` selector dangle (NL102).
    (outside.parent / "pods.yaml").write_text(NAMESPACE + "---\n" + WORKER, encoding="utf-8")
    client = client_factory(project)
    client.initialize(project)
    since = client.mark()
    stray = client.open(outside)
    readme = client.open(project / "README.md")
    doc = client.open(project / "policies/web.yaml")
    # Jobs run in order: by the time the policy's diagnostics arrive, the others were handled.
    assert len(client.diagnostics(doc, since)) == 3
    alone = lint(outside.parent, [outside], context=[outside])
    assert codes_by_line(client.diagnostics(stray, since)) == {
        (f.span.line - 1, f.code) for f in alone.findings
    }
    assert "NL102" not in {f.code for f in alone.findings}
    assert not (outside.parent / ".netlint_cache").exists()
    assert client.published(readme, since) == []
    since = client.mark()
    client.notify("textDocument/didClose", {"textDocument": {"uri": doc}})
    assert client.diagnostics(doc, since) == []
    time.sleep(0.5)
    assert client.published(doc, since) == [[]]
    assert client.close() == 0
    assert not (outside.parent / ".netlint_cache").exists()


def test_unsaved_edits_are_dropped_on_close(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    """Closing a buffer without saving puts the file on disk back into the project."""
    client = client_factory(project)
    client.initialize(project)
    since = client.mark()
    policy = client.open(project / "policies/web.yaml")
    workload = client.open(project / "workloads/web.yaml")
    client.diagnostics(workload, since)
    since = client.mark()
    client.change(workload, WEB.replace("app: web", "app: website"), 2)
    client.diagnostics(policy, since, lambda d: any(x["code"] == "NL102" for x in d))
    since = client.mark()
    client.notify("textDocument/didClose", {"textDocument": {"uri": workload}})
    assert codes_by_line(client.diagnostics(policy, since)) == {
        (lsp_line(POLICIES, "cidr: 0.0.0.0/1"), "NL104"),
        (lsp_line(POLICIES, "- to:", 3), "NL105"),
        (lsp_line(POLICIES, "cidr: 0.0.0.0/1", 2), "NL104"),
    }
    assert client.close() == 0


def test_saving_the_config_reloads_the_project(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    client = client_factory(project)
    client.initialize(project)
    since = client.mark()
    doc = client.open(project / "policies/web.yaml")
    assert len(client.diagnostics(doc, since)) == 3
    config = project / ".netlint.yaml"
    config.write_text("ignore: [broad-cidr]\n", encoding="utf-8")
    since = client.mark()
    client.notify("textDocument/didSave", {"textDocument": {"uri": uri(config)}})
    diagnostics = client.diagnostics(doc, since)
    assert codes_by_line(diagnostics) == {(lsp_line(POLICIES, "- to:", 3), "NL105")}
    assert client.close() == 0


def test_a_broken_config_is_a_message_not_a_crash(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    (project / ".netlint.yaml").write_text("select: [NL1]\nfail-on: sometimes\n")
    client = client_factory(project)
    client.initialize(project)
    message = client.wait(lambda m: m.get("method") == "window/showMessage")
    assert message["params"]["type"] == 1  # error
    assert ".netlint.yaml:2:" in message["params"]["message"]
    since = client.mark()
    doc = client.open(project / "policies/web.yaml")
    # The server lives on: fixing the config brings the diagnostics.
    (project / ".netlint.yaml").write_text("select: [NL1]\n")
    client.notify("textDocument/didSave", {"textDocument": {"uri": uri(project / ".netlint.yaml")}})
    assert codes_by_line(client.diagnostics(doc, since)) == {
        (lsp_line(POLICIES, "cidr: 0.0.0.0/1"), "NL104"),
        (lsp_line(POLICIES, "- to:", 3), "NL105"),
        (lsp_line(POLICIES, "cidr: 0.0.0.0/1", 2), "NL104"),
    }
    assert client.close() == 0


def test_files_changed_on_disk_are_picked_up(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    client = client_factory(project)
    client.initialize(project)
    registration = client.wait(lambda m: m.get("method") == "client/registerCapability")
    (entry,) = registration["params"]["registrations"]
    assert entry["method"] == "workspace/didChangeWatchedFiles"
    since = client.mark()
    doc = client.open(project / "policies/web.yaml")
    assert len(client.diagnostics(doc, since)) == 3
    # A `git checkout` renames the web pods behind the editor's back.
    workload = project / "workloads/web.yaml"
    workload.write_text(WEB.replace("app: web", "app: website"), encoding="utf-8")
    since = client.mark()
    client.notify(
        "workspace/didChangeWatchedFiles", {"changes": [{"uri": uri(workload), "type": 2}]}
    )
    diagnostics = client.diagnostics(doc, since)
    assert (lsp_line(POLICIES, "podSelector:"), "NL102") in codes_by_line(diagnostics)
    since = client.mark()
    workload.unlink()
    client.notify(
        "workspace/didChangeWatchedFiles", {"changes": [{"uri": uri(workload), "type": 3}]}
    )
    # Without any workload of app=web the namespace still declares the worker: still dangling.
    assert (lsp_line(POLICIES, "podSelector:"), "NL102") in codes_by_line(
        client.diagnostics(doc, since)
    )
    assert client.close() == 0


def test_changes_are_debounced(project: Path, client_factory: Callable[[Path], Client]) -> None:
    client = client_factory(project)
    client.initialize(project, debounce_ms=None)  # the default, 300 ms
    since = client.mark()
    doc = client.open(project / "policies/web.yaml")
    client.diagnostics(doc, since)
    since = client.mark()
    text = POLICIES
    last = 0.0
    for version in range(2, 7):
        text = text.replace("0.0.0.0/1", "0.0.0.0/2", 1) if version == 6 else text + "\n"
        last = client.change(doc, text, version)
    at, message = client.wait_timed(
        lambda m: m.get("method") == "textDocument/publishDiagnostics", since
    )
    assert at - last >= 0.25
    assert message["params"]["version"] == 6
    time.sleep(0.6)
    assert len(client.published(doc, since)) == 1
    assert client.close() == 0


def test_a_single_file_without_workspace_folder(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    """No rootUri: the project is found from the file, as `netlint check FILE` finds it (here
    the top of the git work tree)."""
    subprocess.run(["git", "init", "-q"], cwd=project, check=True, timeout=60)
    client = client_factory(project)
    client.initialize(None)
    since = client.mark()
    doc = client.open(project / "policies/web.yaml")
    assert len(client.diagnostics(doc, since)) == 3
    since = client.mark()
    client.change(doc, POLICIES.replace("app: web", "app: webshop"), 2)
    # A dangling selector is only known with the workloads of workloads/ read as context.
    diagnostics = client.diagnostics(doc, since, version=2)
    dangling = [d for d in diagnostics if d["code"] == "NL102"]
    assert [d["range"]["start"]["line"] for d in dangling] == [lsp_line(POLICIES, "podSelector:")]
    assert "2 workloads" in dangling[0]["message"]
    assert client.close() == 0


def test_workspace_folders_can_be_added(
    project: Path, tmp_path: Path, client_factory: Callable[[Path], Client]
) -> None:
    other = tmp_path / "other"
    (other / "k8s").mkdir(parents=True)
    (other / "k8s" / "policy.yaml").write_text(ANNOTATED, encoding="utf-8")
    client = client_factory(project)
    client.initialize(project)
    since = client.mark()
    stray = client.open(other / "k8s" / "policy.yaml")
    doc = client.open(project / "policies/web.yaml")
    client.diagnostics(doc, since)
    # Outside every project: linted alone, and no cache written in that folder.
    assert codes_by_line(client.diagnostics(stray, since)) == {
        (lsp_line(ANNOTATED, "reviewed: yes"), "NL002")
    }
    assert not (other / ".netlint_cache").exists()
    since = client.mark()
    client.notify(
        "workspace/didChangeWorkspaceFolders",
        {"event": {"added": [{"uri": uri(other), "name": "other"}], "removed": []}},
    )
    assert codes_by_line(client.diagnostics(stray, since)) == {
        (lsp_line(ANNOTATED, "reviewed: yes"), "NL002")
    }
    # Now a project (the workspace folder marks it): loaded as one, with its cache.
    assert (other / ".netlint_cache").is_dir()
    since = client.mark()
    client.notify(
        "workspace/didChangeWorkspaceFolders",
        {"event": {"added": [], "removed": [{"uri": uri(other), "name": "other"}]}},
    )
    # Its project's diagnostics are cleared, then the file is linted alone again.
    assert client.diagnostics(stray, since) == []
    assert codes_by_line(client.diagnostics(stray, since, lambda d: d != [])) == {
        (lsp_line(ANNOTATED, "reviewed: yes"), "NL002")
    }
    assert client.close() == 0


@pytest.mark.parametrize("ending", ["\r\n", "\r"], ids=["crlf", "cr"])
def test_positions_count_lines_as_editors_do(
    project: Path, client_factory: Callable[[Path], Client], ending: str
) -> None:
    # LS and NEL inside a line (YAML breaks there, LSP does not), CRLF or CR between lines.
    text = ANNOTATED.replace("😀 team", "😀\u2028tea\x85").replace("\n", ending)
    line = lsp_line(ANNOTATED, "reviewed: yes")
    client = client_factory(project)
    client.initialize(project)
    since = client.mark()
    doc = client.open(project / "policies/annotated.yaml", text)
    (diagnostic,) = client.diagnostics(doc, since)
    assert diagnostic["code"] == "NL002"
    assert diagnostic["range"]["start"] == {"line": line, "character": 44}
    assert diagnostic["range"]["end"] == {"line": line, "character": 47}
    assert client.close() == 0


def test_messages_are_escaped_and_uris_carry_the_file_names_bytes(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    token = "NL999\n::error::pwned\x1b[2J\u202e"
    first = POLICIES.split("---\n")[0]
    folder = os.fsencode(project / "policies")
    with open(os.path.join(folder, b"caf\xe9.yaml"), "wb") as handle:
        handle.write(first.replace("name: web", "name: dup").encode())
    again = first.replace("name: web", "name: dup").replace("[Ingress]", "[Ingress, Egress]")
    again = again.replace(
        "  namespace: shop\n",
        f"  namespace: shop\n  annotations: {{netlint.dev/ignore: {json.dumps(token)}}}\n",
    )
    (project / "policies/zz.yaml").write_text(again, encoding="utf-8")
    # Both definitions applied together (one deploy unit), so zz.yaml's replaces café's.
    (project / ".netlint.yaml").write_text("units:\n  - paths: [policies]\n")
    client = client_factory(project)
    client.initialize(project)
    since = client.mark()
    doc = client.open(project / "policies/zz.yaml")
    diagnostics = client.diagnostics(doc, since)
    by_code = {d["code"]: d for d in diagnostics}
    unsafe = re.compile("[\x00-\x1f\x7f-\x9f\u202e\ud800-\udfff]")
    for diagnostic in diagnostics:
        # The fix is the message's second line: a line break netlint writes, never the repo's.
        first, *fix = diagnostic["message"].split("\n")
        assert len(fix) <= 1 and all(line.startswith("help: ") for line in fix), diagnostic
        for line in (first, *fix):
            assert unsafe.search(line) is None, diagnostic
    assert "NL999\\n::error::pwned\\x1b[2J\\u202e" in by_code["NL901"]["message"]
    assert "caf\\xe9.yaml:4" in by_code["NL206"]["message"]
    (related,) = by_code["NL206"]["relatedInformation"]
    latin1 = Path(os.fsdecode(os.path.join(folder, b"caf\xe9.yaml")))
    assert related["location"]["uri"] == uri(latin1)
    assert related["location"]["uri"].endswith("/policies/caf%E9.yaml")
    assert related["location"]["range"]["start"] == {"line": 3, "character": 8}
    # And that URI names the file: opening it lints the file (a lone NL103 on its egress).
    since = client.mark()
    other = client.open(latin1, first.replace("name: web", "name: dup"))
    assert other == related["location"]["uri"]
    assert client.diagnostics(other, since) == []
    assert client.close() == 0


def publishes(client: Client, doc: str, since: int, settle: float = 1.0) -> list[dict[str, Any]]:
    """Every publishDiagnostics for ``doc`` after ``since``, once none came for ``settle`` s."""
    count = -1
    while True:
        client.drain()
        now = len(client.published(doc, since))
        if now == count:
            break
        count = now
        time.sleep(settle)
    return [
        m["params"]
        for _, m in client.received[since:]
        if m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == doc
    ]


def traces(client: Client, since: int, needle: str) -> list[str]:
    client.drain()
    return [
        m["params"]["message"]
        for _, m in client.received[since:]
        if m.get("method") == "$/logTrace" and needle in m["params"]["message"]
    ]


def test_a_burst_of_edits_publishes_once_for_the_newest_version(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    """Issue 15 (1): work for older versions is dropped, queued or running; only the newest
    version's diagnostics are published."""
    # Enough policies applied together that a lint takes longer than the burst lasts.
    (project / ".netlint.yaml").write_text("units:\n  - paths: [policies]\n", encoding="utf-8")
    for n in range(300):
        (project / "policies" / f"more-{n}.yaml").write_text(
            POLICIES.replace("name: web", f"name: web-{n}").replace(
                "name: worker", f"name: worker-{n}"
            ),
            encoding="utf-8",
        )
    client = client_factory(project)
    client.initialize(project)  # no debounce: each edit alone would start a sync
    since = client.mark()
    doc = client.open(project / "policies/web.yaml")
    client.diagnostics(doc, since)
    since = client.mark()
    text, burst = POLICIES, []
    for version in range(2, 8):
        text = text.replace("0.0.0.0/1", "10.0.0.0/16", 1) if version == 7 else text + "\n"
        burst.append(
            (
                "textDocument/didChange",
                {
                    "textDocument": {"uri": doc, "version": version},
                    "contentChanges": [{"text": text}],
                },
            )
        )
    client.notify_all(burst)
    (published,) = publishes(client, doc, since)
    assert published["version"] == 7
    path = project / "policies/web.yaml"
    expected = lint(project, [path], stdin=(path, text))
    assert codes_by_line(published["diagnostics"]) == {
        (f.span.line - 1, f.code) for f in expected.findings
    }
    assert client.close() == 0


def test_lint_until_gives_up_between_rule_calls(project: Path) -> None:
    """The running part of (1): a lint asked to stop raises Superseded at the next rule call,
    and one never asked gives exactly Session.lint's findings."""
    from netlint.run.runner import CheckRequest, Session, Superseded, _open, lint_until

    opened = _open(CheckRequest(paths=[str(project)], root=project), None)
    session: Session = opened.session
    session.workspace.load(opened.files)
    expected = session.lint(lambda path: True)
    assert lint_until(session, lambda path: True, lambda: False) == expected
    calls = 0

    def stop() -> bool:
        nonlocal calls
        calls += 1
        return calls > 3

    with pytest.raises(Superseded):
        lint_until(session, lambda path: True, stop)
    assert calls == 4
    # The session is intact: the next lint gives the same findings.
    assert session.lint(lambda path: True) == expected


def test_watched_file_changes_are_coalesced(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    """Issue 15 (2): a `git checkout` of ten files, one notification each, is one re-lint."""
    client = client_factory(project)
    client.initialize(project)
    since = client.mark()
    doc = client.open(project / "policies/web.yaml")
    assert len(client.diagnostics(doc, since)) == 3
    notes = []
    for n in range(10):
        path = project / "workloads" / f"extra-{n}.yaml"
        path.write_text(WORKER.replace("name: worker", f"name: extra-{n}"), encoding="utf-8")
        notes.append(
            ("workspace/didChangeWatchedFiles", {"changes": [{"uri": uri(path), "type": 1}]})
        )
    workload = project / "workloads/web.yaml"
    workload.write_text(WEB.replace("app: web", "app: website"), encoding="utf-8")
    notes.append(
        ("workspace/didChangeWatchedFiles", {"changes": [{"uri": uri(workload), "type": 2}]})
    )
    since = client.mark()
    client.notify_all(notes)
    (published,) = publishes(client, doc, since)
    assert (lsp_line(POLICIES, "podSelector:"), "NL102") in codes_by_line(published["diagnostics"])
    assert "12 workloads" in next(
        d["message"] for d in published["diagnostics"] if d["code"] == "NL102"
    )
    assert client.close() == 0


def test_a_comment_only_edit_keeps_the_findings_without_a_lint(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    """Issue 15 (3): an edit that changes no token (a comment on its line) re-publishes the
    last findings for the new version, placed in the new text; one that moves lines (a
    comment line added above) is linted again, and the findings move with it."""
    client = client_factory(project)
    client.initialize(project, trace="verbose")
    since = client.mark()
    doc = client.open(project / "policies/web.yaml")
    before = client.diagnostics(doc, since)
    since = client.mark()
    commented = POLICIES.replace("  name: worker\n", "  name: worker # the queue's pods\n")
    commented = commented.replace("port: http", "port: http  # named on the web pods")
    client.change(doc, commented, 2)
    assert client.diagnostics(doc, since, version=2) == before
    assert traces(client, since, "only comments changed")
    assert traces(client, since, "linted") == []
    # A suppression comment is not just a comment: it is linted, and it works.
    since = client.mark()
    disabled = commented.replace(
        "cidr: 0.0.0.0/1", "cidr: 0.0.0.0/1 # netlint: disable=broad-cidr", 1
    )
    client.change(doc, disabled, 3)
    assert codes_by_line(client.diagnostics(doc, since, version=3)) == {
        (lsp_line(POLICIES, "- to:", 3), "NL105"),
        (lsp_line(POLICIES, "cidr: 0.0.0.0/1", 2), "NL104"),
    }
    assert traces(client, since, "linted")
    since = client.mark()
    client.change(doc, "# moved down a line\n" + disabled, 4)
    assert codes_by_line(client.diagnostics(doc, since, version=4)) == {
        (lsp_line(POLICIES, "- to:", 3) + 1, "NL105"),
        (lsp_line(POLICIES, "cidr: 0.0.0.0/1", 2) + 1, "NL104"),
    }
    assert traces(client, since, "linted")
    assert client.close() == 0


def test_each_document_is_linted_in_the_project_the_cli_finds(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    """Issue 15 (4): a nested config below the workspace folder is honoured for the files
    below it, as `netlint check FILE` does; the folder's own files keep the folder's project."""
    nested = project / "team"
    (nested / "policies").mkdir(parents=True)
    (nested / ".netlint.yaml").write_text("ignore: [broad-cidr]\n", encoding="utf-8")
    (nested / "policies/web.yaml").write_text(POLICIES, encoding="utf-8")
    client = client_factory(project)
    client.initialize(project)
    since = client.mark()
    inner = client.open(nested / "policies/web.yaml")
    outer = client.open(project / "policies/web.yaml")
    cli = lint(nested, [nested / "policies/web.yaml"])
    assert {f.code for f in cli.findings} == {"NL105"}
    assert codes_by_line(client.diagnostics(inner, since)) == {
        (f.span.line - 1, f.code) for f in cli.findings
    }
    assert len(client.diagnostics(outer, since)) == 3
    # Both projects are live: an edit of each is linted with its own config.
    since = client.mark()
    client.change(inner, POLICIES + "\n", 2)
    client.change(outer, POLICIES + "\n", 2)
    assert codes_by_line(client.diagnostics(inner, since, version=2)) == codes_by_line(
        client.diagnostics(inner, 0)
    )
    assert len(client.diagnostics(outer, since, version=2)) == 3
    assert client.close() == 0


def test_a_new_unsaved_file_gets_diagnostics_at_once(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    """Issue 15 (6): a buffer for a file not yet on disk is linted on open, in its project."""
    client = client_factory(project)
    client.initialize(project)
    since = client.mark()
    new = project / "policies" / "new.yaml"
    doc = client.open(new, POLICIES)
    assert len(client.diagnostics(doc, since)) == 3
    assert not new.exists()
    assert client.close() == 0


BROKEN = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to:
        - ipBlock:
            cidr: 10.0.0.0/24 # netlint: disable=broad-cidr
---
kind: [
"""


def test_suppressions_are_not_unused_while_their_file_does_not_parse(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    """Issue 15 (6): no NL901 in a file with a YAML error, in the editor as in the CLI."""
    path = project / "policies" / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    report = lint(project, [path])
    assert {f.code for f in report.findings} == {"NL001"}
    # Once it parses, the suppression that suppresses nothing is reported again.
    path.write_text(BROKEN.split("---")[0], encoding="utf-8")
    assert {f.code for f in lint(project, [path]).findings} == {"NL901"}
    client = client_factory(project)
    client.initialize(project)
    since = client.mark()
    doc = client.open(path, BROKEN)
    assert {d["code"] for d in client.diagnostics(doc, since)} == {"NL001"}
    assert client.close() == 0


def test_cli_reports_no_unused_suppression_in_a_file_that_does_not_parse(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(BROKEN, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "netlint", "check", "--no-cache", "broken.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "NL001" in done.stdout
    assert "NL901" not in done.stdout, done.stdout


def test_a_config_error_is_a_diagnostic_on_the_config_file(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    config = project / ".netlint.yaml"
    config.write_text("select: [NL1]\nfail-on: sometimes\n", encoding="utf-8")
    client = client_factory(project)
    client.initialize(project)
    (diagnostic,) = client.diagnostics(uri(config), 0)
    assert diagnostic["range"]["start"] == {"line": 1, "character": 9}
    assert diagnostic["severity"] == 1
    assert "fail-on" in diagnostic["message"] or "sometimes" in diagnostic["message"]
    # Still a message too.
    assert client.wait(lambda m: m.get("method") == "window/showMessage")
    since = client.mark()
    config.write_text("select: [NL1]\n", encoding="utf-8")
    client.notify("textDocument/didSave", {"textDocument": {"uri": uri(config)}})
    assert client.diagnostics(uri(config), since) == []
    assert client.close() == 0


def test_the_initial_load_reports_progress(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    client = client_factory(project)
    client.initialize(project, progress=True)
    create = client.wait(lambda m: m.get("method") == "window/workDoneProgress/create")
    token = create["params"]["token"]
    end = client.wait(
        lambda m: m.get("method") == "$/progress" and m["params"]["value"]["kind"] == "end"
    )
    kinds = [
        m["params"]["value"]["kind"]
        for _, m in client.received
        if m.get("method") == "$/progress" and m["params"]["token"] == token
    ]
    assert end["params"]["token"] == token
    assert kinds[0] == "begin" and kinds[-1] == "end" and "report" in kinds
    reports = [
        m["params"]["value"]
        for _, m in client.received
        if m.get("method") == "$/progress" and m["params"]["value"]["kind"] == "report"
    ]
    assert any(r.get("percentage") == 100 for r in reports)
    assert client.close() == 0


def test_a_configuration_change_rereads_the_config(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    client = client_factory(project)
    client.initialize(project)
    since = client.mark()
    doc = client.open(project / "policies/web.yaml")
    assert len(client.diagnostics(doc, since)) == 3
    # Written behind the editor's back (no save, no watcher): the settings change re-reads it.
    (project / ".netlint.yaml").write_text("ignore: [broad-cidr]\n", encoding="utf-8")
    since = client.mark()
    client.notify("workspace/didChangeConfiguration", {"settings": {"netlint": {"debounceMs": 0}}})
    assert codes_by_line(client.diagnostics(doc, since)) == {
        (lsp_line(POLICIES, "- to:", 3), "NL105")
    }
    assert client.close() == 0


def test_a_new_nested_config_moves_the_open_documents_below_it(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    """Issue 15 (4): a `.netlint.yaml` created below the folder (reported by the watcher) makes
    a project of its folder; the open documents there are linted in it at once."""
    nested = project / "team"
    (nested / "policies").mkdir(parents=True)
    (nested / "policies/web.yaml").write_text(POLICIES, encoding="utf-8")
    client = client_factory(project)
    client.initialize(project)
    since = client.mark()
    doc = client.open(nested / "policies/web.yaml")
    assert len(client.diagnostics(doc, since)) == 3
    config = nested / ".netlint.yaml"
    config.write_text("ignore: [broad-cidr]\n", encoding="utf-8")
    since = client.mark()
    client.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": uri(config), "type": 1}]})
    assert codes_by_line(client.diagnostics(doc, since)) == {
        (lsp_line(POLICIES, "- to:", 3), "NL105")
    }
    assert client.close() == 0


def test_shape_changes_exactly_when_what_the_parser_reads_changes() -> None:
    """What decides that an edit needs no lint: comments on their lines do not count; values,
    positions, line count, suppression comments and `#` inside scalars do."""
    from netlint.integrations.lsp.projects import shape

    def of(text: str) -> str | None:
        return shape("p.yaml", text.encode(), 1 << 20)

    base = "a: 1\nb: |\n  text\nc: 'x'\n"
    assert of(base) is not None
    assert of(base.replace("a: 1", "a: 1  # one")) == of(base)
    assert of(base.replace("a: 1", "a: 1 # one").replace("'x'", "'x' # ex")) == of(base)
    assert of(base.replace("a: 1", "a: 2")) != of(base)
    assert of(base.replace("a: 1", "a:  1")) != of(base)  # the value's column moved
    assert of(base.replace("  text", "  text # not a comment")) != of(base)
    assert of(base.replace("'x'", "'x # y'")) != of(base)
    assert of(base + "# one more line\n") != of(base)
    assert of(base.replace("a: 1", "a: 1 # netlint: disable=NL104")) != of(base)
    assert of(base.replace("text", "te\x85xt")) is None  # NEL: libyaml's lines are not ours
    # A syntax error is in the tokens too: the same tokens, the same error at the same place.
    assert of("a: [ # open\n") == of("a: [\n") != of("a: ]\n")
    assert of('a: "open\n') is None  # one the scanner itself refuses
    assert shape("p.yaml", base.encode(), 4) is None  # over the size limit


def check_project(root: Path) -> None:
    """``netlint check`` of the whole project, as a user runs it (its report is cached). Files
    changed in the last 2 s are never trusted by their stat (racily clean), so those written
    by the test are waited out first: the report is then stored under their contents."""
    time.sleep(2.1)
    subprocess.run(
        [sys.executable, "-m", "netlint", "check", "--fail-on", "never"],
        cwd=root,
        check=True,
        capture_output=True,
        timeout=TIMEOUT,
    )


def test_a_warm_start_answers_from_the_stored_report_then_loads(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    """Issue 15 (first diagnostics after a warm start): when the cache holds a report of every
    file of the project as it is on disk (a `netlint check` of it), the documents opened first
    get that report's findings before anything is loaded; the project is loaded right after,
    and edits are linted as ever."""
    subprocess.run(["git", "init", "-q"], cwd=project, check=True, timeout=60)  # a cache here
    cold = client_factory(project)
    cold.initialize(project)
    since = cold.mark()
    doc = cold.open(project / "policies/web.yaml")
    expected = cold.diagnostics(doc, since)
    assert cold.close() == 0
    check_project(project)  # every file reported: the report the server looks for
    client = client_factory(project)
    client.initialize(project, trace="verbose")
    since = client.mark()
    doc = client.open(project / "policies/web.yaml")
    assert client.diagnostics(doc, since) == expected
    # The traces of the sync come when it ends, the project loaded: nothing was linted.
    client.wait(lambda m: m.get("method") == "$/logTrace" and "stored report" in str(m), since)
    assert traces(client, since, "linted") == []
    since = client.mark()
    fixed = POLICIES.replace("cidr: 0.0.0.0/1", "cidr: 203.0.113.0/24", 1)
    client.change(doc, fixed, 2)
    assert codes_by_line(client.diagnostics(doc, since)) == {
        (lsp_line(fixed, "cidr: 0.0.0.0/1"), "NL104")
    }
    assert client.close() == 0


def test_a_stored_report_of_other_contents_is_not_used(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    """A file changed on disk since the stored report, or an unsaved buffer that differs from
    the file, is linted: a report is only used for exactly the contents it was made of."""
    subprocess.run(["git", "init", "-q"], cwd=project, check=True, timeout=60)
    check_project(project)
    workload = project / "workloads/web.yaml"
    workload.write_text(WEB.replace("app: web", "app: website"), encoding="utf-8")
    client = client_factory(project)
    client.initialize(project, trace="verbose")
    since = client.mark()
    doc = client.open(project / "policies/web.yaml")
    assert (lsp_line(POLICIES, "podSelector:"), "NL102") in codes_by_line(
        client.diagnostics(doc, since)
    )
    assert traces(client, since, "stored report") == []
    assert client.close() == 0
    check_project(project)  # stored again, for the new contents
    client = client_factory(project)
    client.initialize(project, trace="verbose")
    since = client.mark()
    fixed = POLICIES.replace("cidr: 0.0.0.0/1", "cidr: 203.0.113.0/24", 1)
    doc = client.open(project / "policies/web.yaml", fixed)
    assert codes_by_line(client.diagnostics(doc, since)) == {
        (lsp_line(fixed, "podSelector:"), "NL102"),
        (lsp_line(fixed, "cidr: 0.0.0.0/1"), "NL104"),
    }
    assert traces(client, since, "stored report") == []
    assert client.close() == 0


def test_a_stored_report_does_not_answer_for_a_nested_project(
    project: Path, client_factory: Callable[[Path], Client]
) -> None:
    """The report of the outer project covers the files below a nested `.netlint.yaml` with
    the outer config: those documents are linted in their own project, never answered from it."""
    subprocess.run(["git", "init", "-q"], cwd=project, check=True, timeout=60)
    nested = project / "team"
    (nested / "policies").mkdir(parents=True)
    (nested / ".netlint.yaml").write_text("ignore: [broad-cidr]\n", encoding="utf-8")
    (nested / "policies/web.yaml").write_text(POLICIES, encoding="utf-8")
    check_project(project)
    client = client_factory(project)
    client.initialize(project, trace="verbose")
    since = client.mark()
    inner = client.open(nested / "policies/web.yaml")
    assert {d["code"] for d in client.diagnostics(inner, since)} == {"NL105"}
    assert traces(client, since, "stored report") == []
    assert client.close() == 0
