"""Files that do not parse and show no sign of a Kubernetes manifest are passed over, not NL001:
MongoDB import data (one JSON object a line), a Grafana dashboard with a ``/* licence */`` header,
an Ansible playbook or Helm values file with a typo. A file that parses but is no manifest
(package.json) never had a finding; the verdict no longer depends on whether a non-manifest
happens to parse. Anything that may be a manifest keeps its NL001: an ``apiVersion`` or ``kind``
key anywhere in the text, a kustomization, netlint's own inputs, a document before the error
that loads into anything, a file a kustomize build parses as a resource or a patch.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import lint
from helpers import VALID_POLICY, netlint
from test_lsp import TIMEOUT, Client

from netlint.core.problems import ProblemKind
from netlint.read.build import BuildOptions
from netlint.read.load import NOT_A_MANIFEST, load
from netlint.read.parse import Limits
from netlint.run.runner import CheckRequest, check

OPTIONS = BuildOptions("default", 256)

#: istio samples/bookinfo/src/mongodb/ratings_data.json: mongoimport's one object a line.
RATINGS = '{"rating": 5}\n{"rating": 4}\n'
RATINGS_REASON = (
    "not a Kubernetes manifest: it does not parse (line 2 column 1: did not find expected "
    "<document start>) and names no apiVersion or kind"
)
#: GKE samples ai-ml/infw-gw/examples/getting-started/dashboard.json: a licence comment first.
DASHBOARD = (
    "/**\n * Copyright 2024 Google LLC\n */\n"
    '{\n  "title": "Inference gateway",\n  "panels": [{"type": "timeseries"}]\n}\n'
)
DASHBOARD_REASON = (
    "not a Kubernetes manifest: it does not parse (line 5 column 10: mapping values are not "
    "allowed in this context) and names no apiVersion or kind"
)
PLAYBOOK = "- hosts: all\n  tasks:\n    - name: restart\n     shell: systemctl restart x\n"
VALUES = "replicaCount: 1\nimage:\n  repository: nginx\n tag: latest\n"
#: A real manifest with a syntax error (a tab) on line 5.
BROKEN_MANIFEST = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n\tdata: {}\n"


def _load(path: str, text: str, limits: Limits | None = None) -> Any:
    return load(path, text.encode(), OPTIONS, limits or Limits())


# ---------------------------------------------------------------------------------------------
# What is passed over, and what is not.


@pytest.mark.parametrize(
    ("path", "text", "line", "col"),
    [
        ("mongodb/ratings_data.json", RATINGS, 2, 1),
        # The comment reads as a plain scalar; the object after it is the error.
        ("examples/dashboard.json", DASHBOARD, 5, 10),
        ("ansible/site.yaml", PLAYBOOK, 4, 6),
        ("chart/values.yaml", VALUES, 4, 2),
        # A word that is not the key: mankind, kinds, kind_of, a value.
        ("notes.yaml", "text: mankind kinds kind_of\nkind_of: 1\nsay: kind\n  x: [\n", 4, 4),
    ],
)
def test_a_non_manifest_that_does_not_parse_is_passed_over(
    path: str, text: str, line: int, col: int
) -> None:
    result = _load(path, text)
    assert result.skipped is not None
    assert result.skipped.startswith(f"{NOT_A_MANIFEST}: it does not parse (line {line} column ")
    assert result.skipped.endswith(") and names no apiVersion or kind")
    assert (result.objects, result.problems, result.documents) == ([], [], 0)
    assert result.digest  # cached like any file: the reason is the cache's skipped string


def test_the_sign_is_found_in_linear_time() -> None:
    """A comment per line that names the key is no sign, and costs one scan: a pattern that
    let a comment stand between the key and its colon rescanned every later line from each."""
    text = "kind\n" + "#kind\n" * 100_000 + "a: [\n"
    began = time.perf_counter()
    result = _load("notes.yaml", text)
    assert time.perf_counter() - began < 5
    assert result.skipped is not None and result.skipped.startswith(NOT_A_MANIFEST)


def test_the_reason_names_the_parse_error() -> None:
    assert _load("ratings_data.json", RATINGS).skipped == RATINGS_REASON


@pytest.mark.parametrize(
    "text",
    [
        BROKEN_MANIFEST,
        # Every spelling of the key: JSON, quoted, spaced, another case, an explicit key.
        '{"kind": "ConfigMap",\n "metadata": {"name": "x"}\n "data": {}}\n',
        "'apiVersion' : v1\nmetadata: [\n",
        "Kind: ConfigMap\nmetadata: [\n",
        "? kind # the key\n: ConfigMap\nmetadata: [\n",
        "{kind:ConfigMap, metadata: [}\n",
        # The key after the error, or in a comment: still a sign.
        "metadata: [\nkind: ConfigMap\n",
        "# kind: ConfigMap\nmetadata: [\n",
    ],
)
def test_a_file_that_names_apiversion_or_kind_keeps_its_nl001(text: str) -> None:
    result = _load("k8s/cm.yaml", text)
    assert result.skipped is None
    assert [p.kind for p in result.problems] == [ProblemKind.SYNTAX]


def test_a_broken_manifest_gets_nl001_at_the_error(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text(BROKEN_MANIFEST)
    report = lint(tmp_path)
    assert [(f.span.path, f.span.line, f.span.col, f.code) for f in report.findings] == [
        ("cm.yaml", 5, 1, "NL001")
    ]
    assert report.skipped == []


def test_a_document_before_the_error_that_loads_into_an_object_keeps_the_nl001() -> None:
    """A quoted key with escapes spells ``kind`` without the word in the text."""
    text = '{"\\u006bind": "Namespace", "apiVersio\\u006e": "v1", "metadata": {"name": "a"}}\n'
    result = _load("ns.json", text + '---\n{"x": [}\n')
    assert result.skipped is None
    assert [type(o).__name__ for o in result.objects] == ["Namespace"]
    assert [p.span.line for p in result.problems] == [3]


@pytest.mark.parametrize(
    "path",
    [
        "k/kustomization.yaml",
        "k/kustomization.yml",
        "k/Kustomization.yaml",  # as a case-insensitive file system finds it
        ".netlint/expectations.yaml",
        "app/.netlint.yaml",
    ],
)
def test_files_read_by_their_name_keep_their_nl001(path: str) -> None:
    result = _load(path, "resources:\n  - a.yaml\n b.yaml\n")
    assert result.skipped is None
    assert [(p.kind, p.span.line) for p in result.problems] == [(ProblemKind.SYNTAX, 3)]


@pytest.mark.parametrize(
    ("data", "limits"),
    [
        (b"a: " + b"[" * 300 + b"]" * 300 + b"\n", Limits()),  # too deep
        (b"a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", Limits(max_alias_expansion=5)),
        (b"a: b\n---\nc: d\n---\n[", Limits(max_documents=1)),
        (b"a: \xff\n", Limits()),  # not UTF-8
        (b"a: b\x00\n", Limits()),  # a NUL: binary
        (b"a: " + b"x" * 100 + b"\n", Limits(max_file_bytes=50)),
    ],
    ids=["too-deep", "aliases", "documents", "encoding", "nul", "size"],
)
def test_a_limit_or_an_unreadable_text_stays_nl001(data: bytes, limits: Limits) -> None:
    """Only libyaml's syntax errors are judged: a limit netlint sets, and text it cannot
    decode, are NL001 whatever the file holds."""
    result = load("data.yaml", data, OPTIONS, limits)
    assert result.skipped is None
    assert [p.kind for p in result.problems] == [ProblemKind.SYNTAX]


def test_a_templated_file_is_still_templated() -> None:
    assert _load("t.yaml", "a: {{ .Values.x }}\nb: [\n").skipped == "templated"


# ---------------------------------------------------------------------------------------------
# What the command line shows.


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "mongodb").mkdir()
    (tmp_path / "mongodb" / "ratings_data.json").write_text(RATINGS)
    (tmp_path / "dashboard.json").write_text(DASHBOARD)
    (tmp_path / "package.json").write_text('{"name": "x"}\n')
    (tmp_path / "policy.yaml").write_text(VALID_POLICY)
    return tmp_path


def test_the_cli_lists_them_with_verbose_and_passes(project: Path) -> None:
    for _ in range(2):  # the second run from the cache says the same
        out = netlint("check", "--verbose", cwd=project)
        assert out.returncode == 0, out.stdout + out.stderr
        (summary,) = out.stdout.splitlines()
        assert summary.startswith("0 findings in 2 files (")
        assert summary.endswith("; 2 other files skipped (--verbose lists them).")
        skipped = [line for line in out.stderr.splitlines() if " skipped " in line]
        assert skipped == [
            f"netlint: skipped dashboard.json: {DASHBOARD_REASON}",
            f"netlint: skipped mongodb/ratings_data.json: {RATINGS_REASON}",
        ]
        assert "warning" not in out.stderr


def test_a_named_non_manifest_is_warned_about_and_exits_zero(project: Path) -> None:
    out = netlint("check", "--no-cache", "mongodb/ratings_data.json", cwd=project)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stderr.splitlines() == [
        f"netlint: warning: mongodb/ratings_data.json is not linted: {RATINGS_REASON}"
    ]
    # From the cached outcome of the same run too.
    for _ in range(2):
        again = netlint("check", "mongodb/ratings_data.json", cwd=project)
        assert again.returncode == 0 and again.stderr == out.stderr


def test_the_warning_is_for_named_files_only(project: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(project)
    request = CheckRequest(paths=["policy.yaml", "dashboard.json"], root=project, use_cache=False)
    report = check(request).report
    assert report.findings == []
    assert [w for w in request.warnings if "is not linted" in w] == [
        f"dashboard.json is not linted: {DASHBOARD_REASON}"
    ]


def test_json_output_lists_them(project: Path) -> None:
    out = netlint("check", "--no-cache", "--format", "json", cwd=project)
    assert out.returncode == 0, out.stderr
    skipped = json.loads(out.stdout)["summary"]["skipped"]
    assert {s["path"]: s["reason"] for s in skipped}["mongodb/ratings_data.json"] == RATINGS_REASON


def test_a_reason_quoting_the_file_is_escaped(tmp_path: Path) -> None:
    """The parser's message may quote the file: the CLI shows no control character of it."""
    (tmp_path / "x.yaml").write_text('a: "\\\x1b"\nb: [\n')
    out = netlint("check", "--no-cache", "x.yaml", cwd=tmp_path)
    assert "\x1b" not in out.stdout + out.stderr


# ---------------------------------------------------------------------------------------------
# A file a kustomize build reads.

KUSTOMIZATION = """\
resources:
  - cm.yaml
  - data.yaml
configMapGenerator:
  - name: dashboards
    files:
      - dashboard.json
patches:
  - path: ops.yaml
    target:
      kind: ConfigMap
"""
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"


@pytest.fixture
def kustomized(tmp_path: Path) -> Path:
    k = tmp_path / "k"
    k.mkdir()
    (k / "kustomization.yaml").write_text(KUSTOMIZATION)
    (k / "cm.yaml").write_text(CONFIGMAP)
    (k / "data.yaml").write_text("a: [\n")  # a resource that does not parse
    (k / "ops.yaml").write_text("- op: add\n  path: /data\n   value: {}\n")  # a JSON 6902 patch
    (k / "dashboard.json").write_text(DASHBOARD)  # a generator's input: text, not parsed
    return tmp_path


def test_a_resource_or_patch_a_build_parses_keeps_its_nl001(kustomized: Path) -> None:
    report = lint(kustomized)
    assert [(f.span.path, f.span.line, f.span.col, f.code) for f in report.findings] == [
        ("k/data.yaml", 2, 1, "NL001"),
        ("k/ops.yaml", 3, 9, "NL001"),
    ]
    assert [s.path for s in report.skipped] == ["k/dashboard.json"]
    named = lint(kustomized, [kustomized / "k" / "data.yaml"])
    assert [(f.span.path, f.code) for f in named.findings] == [("k/data.yaml", "NL001")]


def test_a_broken_kustomization_keeps_its_nl001(kustomized: Path) -> None:
    (kustomized / "k" / "kustomization.yaml").write_text("resources:\n  - cm.yaml\n data.yaml\n")
    report = lint(kustomized)
    assert [(f.span.path, f.span.line, f.code) for f in report.findings] == [
        ("k/kustomization.yaml", 3, "NL001")
    ]
    # No build reads the other two now: passed over.
    assert [s.path for s in report.skipped] == ["k/dashboard.json", "k/data.yaml", "k/ops.yaml"]


def test_an_edit_that_stops_a_build_reading_the_file_passes_it_over_again(
    kustomized: Path, monkeypatch: Any
) -> None:
    """The language server's path: one workspace, files updated one by one."""
    from netlint.run.runner import loaded

    monkeypatch.chdir(kustomized)
    workspace, _ = loaded(CheckRequest(paths=[], root=kustomized, use_cache=False))
    workspace.layout()
    assert "k/data.yaml" in workspace.results
    kustomization = KUSTOMIZATION.replace("  - data.yaml\n", "")
    workspace.update("k/kustomization.yaml", kustomization.encode())
    workspace.layout()
    assert "k/data.yaml" not in workspace.results
    assert [s.path for s in workspace.skipped if s.reason.startswith(NOT_A_MANIFEST)] == [
        "k/dashboard.json",
        "k/data.yaml",
    ]
    workspace.update("k/kustomization.yaml", KUSTOMIZATION.encode())
    workspace.layout()
    assert "k/data.yaml" in workspace.results
    assert "k/data.yaml" not in {s.path for s in workspace.skipped}


# ---------------------------------------------------------------------------------------------
# The language server: the same loader, so the same verdict.


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"), "NO_COLOR": "1"}
    (tmp_path / "project").mkdir()
    made = Client(tmp_path / "project", env)
    yield made
    if made.proc.poll() is None:
        made.proc.kill()
        made.proc.wait(timeout=TIMEOUT)


def test_the_language_server_publishes_nothing_for_a_non_manifest(
    tmp_path: Path, client: Client
) -> None:
    root = tmp_path / "project"
    (root / "policy.yaml").write_text(VALID_POLICY)
    (root / "ratings_data.json").write_text(RATINGS)
    (root / "cm.yaml").write_text(BROKEN_MANIFEST)
    client.initialize(root)
    since = client.mark()
    data = client.open(root / "ratings_data.json")
    assert client.diagnostics(data, since) == []
    since = client.mark()
    broken = client.open(root / "cm.yaml")
    diagnostics = client.diagnostics(broken, since)
    assert [(d["code"], d["range"]["start"]) for d in diagnostics] == [
        ("NL001", {"line": 4, "character": 0})
    ]
    # An edit that gives the data file a kind makes it a (broken) manifest: NL001 again.
    since = client.mark()
    client.change(data, "kind: ConfigMap\n" + RATINGS, 2)
    assert [d["code"] for d in client.diagnostics(data, since, version=2)] == ["NL001"]
    assert client.close() == 0
