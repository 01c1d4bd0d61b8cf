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
        options = {} if debounce_ms is None else {"debounceMs": debounce_ms}
        result = self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": uri(root) if root else None,
                "capabilities": capabilities,
                "initializationOptions": options,
            },
        )
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


def test_closing_clears_and_other_documents_are_ignored(
    project: Path, tmp_path: Path, client_factory: Callable[[Path], Client]
) -> None:
    outside = tmp_path / "elsewhere" / "policy.yaml"
    outside.parent.mkdir()
    outside.write_text(POLICIES, encoding="utf-8")
    client = client_factory(project)
    client.initialize(project)
    since = client.mark()
    stray = client.open(outside)
    readme = client.open(project / "README.md")
    doc = client.open(project / "policies/web.yaml")
    # Jobs run in order: by the time the policy's diagnostics arrive, the others were handled.
    assert len(client.diagnostics(doc, since)) == 3
    assert client.published(stray, since) == []
    assert client.published(readme, since) == []
    since = client.mark()
    client.notify("textDocument/didClose", {"textDocument": {"uri": doc}})
    assert client.diagnostics(doc, since) == []
    time.sleep(0.5)
    assert client.published(doc, since) == [[]]
    assert client.close() == 0


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
    assert client.published(stray, since) == []
    since = client.mark()
    client.notify(
        "workspace/didChangeWorkspaceFolders",
        {"event": {"added": [{"uri": uri(other), "name": "other"}], "removed": []}},
    )
    assert codes_by_line(client.diagnostics(stray, since)) == {
        (lsp_line(ANNOTATED, "reviewed: yes"), "NL002")
    }
    since = client.mark()
    client.notify(
        "workspace/didChangeWorkspaceFolders",
        {"event": {"added": [], "removed": [{"uri": uri(other), "name": "other"}]}},
    )
    assert client.diagnostics(stray, since) == []
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
