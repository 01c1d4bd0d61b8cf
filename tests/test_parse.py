"""Parsing: positions, scalars as Kubernetes reads them, and hostile input turned into NL001."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from netlint.core.model import NetworkPolicy, Workload
from netlint.core.problems import ProblemKind
from netlint.core.source import Span
from netlint.read.build import BuildOptions
from netlint.read.load import is_templated, load
from netlint.read.parse import ALL, Limits, parse, resolve_plain, to_tree

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: api
  ingress:
    - from:
        - podSelector: {}
"""


def tree_of(text: str, path: str = "f.yaml"):  # type: ignore[no-untyped-def]
    parsed = parse(path, text.encode(), Limits())
    assert parsed.problem is None, parsed.problem
    return to_tree(path, parsed.documents[0], ALL, 256)


def test_spans_are_one_based_with_exclusive_end() -> None:
    tree = tree_of(POLICY)
    assert tree.key_span(("metadata", "name")) == Span("f.yaml", 4, 3, 4, 7)
    assert tree.span(("metadata", "name")) == Span("f.yaml", 4, 9, 4, 12)
    assert tree.span(("spec", "ingress", 0, "from", 0, "podSelector")) == Span(
        "f.yaml", 12, 24, 12, 26
    )


def test_columns_count_code_points() -> None:
    tree = tree_of('a: "😀é"\nb: x\n')
    assert tree.span(("a",)) == Span("f.yaml", 1, 4, 1, 8)
    assert tree.span(("b",)).col == 4


def test_json_manifest_positions() -> None:
    data = json.dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}, indent=2
    )
    tree = tree_of(data, "ns.json")
    assert tree.data["metadata"]["name"] == "shop"
    assert tree.span(("metadata", "name")).line == 5


def test_crlf_and_bom_keep_positions() -> None:
    text = "\ufeffa: 1\r\nb:\r\n  c: d\r\n"
    parsed = parse("f.yaml", text.encode("utf-8"), Limits())
    tree = to_tree("f.yaml", parsed.documents[0], ALL, 256)
    assert tree.span(("b", "c")) == Span("f.yaml", 3, 6, 3, 7)
    assert tree.span(("a",)) == Span("f.yaml", 1, 4, 1, 5)


def test_utf16_with_bom_is_read() -> None:
    parsed = parse("f.yaml", "a: b\nc: d\n".encode("utf-16"), Limits())
    assert parsed.problem is None
    assert to_tree("f.yaml", parsed.documents[0], ALL, 256).data == {"a": "b", "c": "d"}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", True),
        ("off", False),
        ("True", True),
        ("~", None),
        ("", None),
        ("80", 80),
        ("0x1F", 31),
        ("010", 8),
        ("1_000", 1000),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("-7", -7),
        ("http", "http"),
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("2001:db8::1", "2001:db8::1"),
        ("yesterday", "yesterday"),
    ],
)
def test_plain_scalars_resolve_as_yaml_1_1(text: str, value: object) -> None:
    assert resolve_plain(text) == value
    assert type(resolve_plain(text)) is type(value)


def test_quoted_and_tagged_scalars() -> None:
    tree = tree_of("a: '80'\nb: !!str 80\nc: !!int '80'\nd: |\n  yes\n")
    assert tree.data == {"a": "80", "b": "80", "c": 80, "d": "yes\n"}


def test_unknown_tags_are_inert_and_reported() -> None:
    tree = tree_of("a: !!python/object/apply:os.system ['echo pwned']\nb: !Ref x\n")
    assert [p.kind for p in tree.problems] == [ProblemKind.INVALID, ProblemKind.INVALID]
    assert tree.data["b"] == "x"


def test_merge_keys_apply_with_explicit_keys_winning() -> None:
    tree = tree_of("base: &b {app: web, tier: 1}\nsel:\n  <<: *b\n  tier: backend\n")
    assert tree.data["sel"] == {"app": "web", "tier": "backend"}


def test_duplicate_key_is_nl001_at_the_second_key() -> None:
    tree = tree_of("a: 1\nb: 2\na: 3\n")
    assert [(p.kind, p.span.line, p.span.col) for p in tree.problems] == [
        (ProblemKind.SYNTAX, 3, 1)
    ]
    assert tree.data["a"] == 1


def test_numeric_keys_become_strings_like_json() -> None:
    assert tree_of("80: http\n").data == {"80": "http"}


def test_multi_document_file_with_list_items() -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "  - apiVersion: v1\n    kind: Namespace\n    metadata: {name: a}\n"
        "---\n"
        "apiVersion: v1\nkind: PodList\nitems:\n"
        "  - metadata: {name: p, labels: {app: x}}\n    spec: {containers: []}\n"
    )
    result = load("f.yaml", text.encode(), BuildOptions(), Limits())
    assert result.problems == []
    kinds = sorted(type(o).__name__ for o in result.objects)
    assert kinds == ["Namespace", "Workload"]
    pod = next(o for o in result.objects if isinstance(o, Workload))
    assert pod.kind == "Pod" and pod.pod_labels == {"app": "x"}
    assert pod.name_span.line == 11
    assert pod.ref.prefix == ("items", 0) and pod.ref.document == 1


@pytest.mark.parametrize("depth", [10_000, 1_000_000])
def test_deep_nesting_is_refused_without_crashing(depth: int) -> None:
    parsed = parse("deep.yaml", ("[" * depth + "]" * depth).encode(), Limits())
    assert parsed.problem is not None and parsed.problem.kind is ProblemKind.SYNTAX
    assert "nesting deeper than 256" in parsed.problem.message
    assert parsed.problem.span.line == 1 and parsed.problem.span.col == 257


_DEPTH_PROBE = """
import json, sys
from netlint.read.parse import Limits, parse
from netlint.read.composer import BACKEND
out = []
for text, limit in json.loads(sys.argv[1]):
    p = parse("deep.yaml", text.encode(), Limits(max_depth=limit)).problem
    out.append([p.message, p.span.line, p.span.col] if p else None)
print(json.dumps([BACKEND, out]))
"""


def _backends() -> list[str]:
    names = []
    try:
        import yaml

        if getattr(yaml, "__with_libyaml__", False):
            names.append("pyyaml")
    except ImportError:
        pass
    try:
        import _ruamel_yaml  # noqa: F401

        names.append("ruamel")
    except ImportError:
        pass
    return names


@pytest.mark.parametrize("backend", _backends())
def test_the_depth_limit_is_netlints_whatever_libyaml_is_installed(backend: str) -> None:
    """libyaml 0.2.6 stops flow nesting at 1,000 levels itself, and its scanner reads ahead of
    the events; netlint's bound must still fire first, with its own message and position."""
    import json
    import subprocess
    import sys

    cases = [
        ("[" * 1_001 + "]" * 1_001, 256, ["nesting deeper than 256 levels", 1, 257]),
        ("{a: " * 2_000 + "b" + "}" * 2_000, 300, ["nesting deeper than 300 levels", 1, 1_201]),
        ("[" * 1_001 + "]" * 1_001, 1_000, ["nesting deeper than 1000 levels", 1, 1_001]),
        ("[" * 1_000 + "]" * 1_000, 1_000, None),
        ("- " * 1_200 + "a\n", 256, ["nesting deeper than 256 levels", 1, 513]),
        ("x:\n  y: " + "[" * 5_000, 256, ["nesting deeper than 256 levels", 2, 260]),
        # A syntax error before anything too deep is the parser's own.
        ("a: [}\n" + "[" * 2_000, 256, None),
    ]
    env = {**os.environ, "NETLINT_YAML_BACKEND": backend}
    out = subprocess.run(
        [sys.executable, "-c", _DEPTH_PROBE, json.dumps([[t, lim] for t, lim, _ in cases])],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    used, problems = json.loads(out.stdout)
    assert used == backend
    for (_, _, want), got in zip(cases, problems, strict=True):
        if want is None:
            assert got is None or "nesting deeper" not in got[0]
        else:
            assert got == want


def test_deep_block_nesting_is_refused() -> None:
    text = "".join("  " * i + f"k{i}:\n" for i in range(400))
    parsed = parse("deep.yaml", text.encode(), Limits())
    assert parsed.problem is not None and "nesting" in parsed.problem.message
    assert parsed.problem.span.line == 257


def test_alias_bomb_is_refused_before_expansion() -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    prev = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ",".join(["*" + prev] * 10) + "]")
        prev = name
    parsed = parse("bomb.yaml", "\n".join(lines).encode(), Limits())
    assert parsed.problem is not None and "alias" in parsed.problem.message
    assert parsed.problem.span.line == 5  # e: 111,111 nodes, the first over 100,000


def test_anchors_reused_a_few_times_are_fine() -> None:
    text = "x: &l {app: web}\ny: *l\nz: *l\n"
    parsed = parse("f.yaml", text.encode(), Limits())
    assert parsed.problem is None


def test_invalid_utf8_points_at_the_byte() -> None:
    parsed = parse("f.yaml", b"a: 1\nb: caf\xe9\n", Limits())
    assert parsed.problem is not None
    assert (parsed.problem.span.line, parsed.problem.span.col) == (2, 7)
    assert "UTF-8" in parsed.problem.message


def test_binary_files_are_nl001() -> None:
    png = parse("f.yaml", b"\x89PNG\r\n\x1a\n\x00\x00", Limits()).problem
    assert png is not None and "invalid UTF-8" in png.message
    nul = parse("f.yaml", b"a: 1\nb: \x00\x01\n", Limits()).problem
    assert nul is not None and "NUL byte" in nul.message
    assert (nul.span.line, nul.span.col) == (2, 4)


def test_documents_before_a_syntax_error_are_kept() -> None:
    text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nkey: [unclosed\n"
    result = load("f.yaml", text.encode(), BuildOptions(), Limits())
    assert [p.span.line for p in result.problems] == [6]
    assert len(result.objects) == 1


def test_file_size_limit() -> None:
    parsed = parse("big.yaml", b"a: b\n" * 100, Limits(max_file_bytes=100))
    assert parsed.problem is not None and "500 bytes" in parsed.problem.message


def test_document_limit() -> None:
    parsed = parse("many.yaml", b"a: 1\n---\nb: 1\n---\nc: 1\n", Limits(max_documents=2))
    assert parsed.problem is not None and parsed.problem.span.line == 5
    assert len(parsed.documents) == 2


def test_tabs_where_libyaml_allows_them() -> None:
    # libyaml (and go-yaml, its port, which Kubernetes uses) accepts a tab before a comment and
    # inside flow collections; PyYAML's pure-Python scanner would not.
    parsed = parse("f.yaml", b"a: b\t\t# note\nc: [\t1,\n\t2]\n", Limits())
    assert parsed.problem is None


@pytest.mark.parametrize(
    ("text", "templated"),
    [
        ("name: {{ .Values.name }}\n", True),
        ('  {{- include "x" . | nindent 4 }}\n', True),
        ("- {{ .Values.item }}\n", True),
        ('description: "{{ $labels.instance }} is down"\n', False),
        ("summary: '{{ $value }}'\n", False),
        ("a: b\n", False),
    ],
)
def test_template_detection(text: str, templated: bool) -> None:
    assert is_templated(text) is templated


def test_policy_model_from_yaml() -> None:
    result = load("p.yaml", POLICY.encode(), BuildOptions(), Limits())
    policy = result.objects[0]
    assert isinstance(policy, NetworkPolicy)
    assert policy.valid and policy.namespace == "shop"
    assert policy.ingress[0].span == Span("p.yaml", 11, 7, 11, 11)
    assert policy.ingress[0].peers[0].pod_selector is not None
    assert policy.ingress[0].peers[0].pod_selector.is_empty


def test_a_reader_bug_becomes_nl900_at_the_document(monkeypatch: pytest.MonkeyPatch) -> None:
    import netlint.read.load as load_module

    real = load_module.build_document

    def flaky(positions, index, node, options):  # type: ignore[no-untyped-def]
        if index == 1:
            raise KeyError("surprise")
        return real(positions, index, node, options)

    monkeypatch.setattr(load_module, "build_document", flaky)
    text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nkind: Namespace\n"
    result = load("f.yaml", text.encode(), BuildOptions(), Limits())
    assert [(p.kind, p.span.line) for p in result.problems] == [(ProblemKind.INTERNAL, 5)]
    assert "KeyError" in result.problems[0].message and len(result.objects) == 1


@pytest.mark.parametrize("separator", ["\u2028", "\x85"])
def test_lines_are_counted_as_editors_count_them(separator: str) -> None:
    # YAML 1.1 breaks lines at NEL/LS/PS too; editors and GitHub do not.
    text = f'a: "x{separator}y"\nb: [1, 2\n'
    parsed = parse("f.yaml", text.encode(), Limits())
    assert parsed.problem is not None and parsed.problem.span.line == 3
    ok = parse("f.yaml", f'a: "x{separator}y"\nb: c\n'.encode(), Limits())
    tree = to_tree("f.yaml", ok.documents[0], ALL, 256, ok.positions)
    assert tree.span(("b",)) == Span("f.yaml", 2, 4, 2, 5)


def test_both_libyaml_bindings_give_the_same_findings() -> None:
    """PyYAML's libyaml binding is preferred for speed; ruamel.yaml.clib's is the fallback."""
    import subprocess
    import sys

    from conftest import REPO

    def run(backend: str, folder: Path) -> str:
        env = {**os.environ, "NETLINT_YAML_BACKEND": backend, "NO_COLOR": "1"}
        out = subprocess.run(
            [sys.executable, "-m", "netlint", "check", "--no-cache", "--format", "json", "."],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            cwd=folder,
        )
        assert out.returncode == 1, out.stderr
        return out.stdout

    for folder in (REPO / "examples", REPO / "rules" / "NL001-parse-error"):
        pyyaml = run("pyyaml", folder)
        assert '"code": "NL001"' in pyyaml
        assert run("ruamel", folder) == pyyaml


def test_the_refused_characters_are_libyamls_complement_of_the_printable_set() -> None:
    # YAML 1.1's printable set as libyaml's reader accepts it; parse._CONTROL lists the rest.
    from netlint.read.parse import _CONTROL

    printable = re.compile("[\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
    differ = [
        hex(c)
        for c in range(0x110000)
        if bool(_CONTROL.match(chr(c))) == bool(printable.match(chr(c)))
    ]
    assert differ == []
