"""Fuzzing the whole pipeline: generated manifest-shaped documents, and mutated real files.

Invariants, whatever the input: no exception escapes and no rule crashes (NL900); every finding
has a valid span inside its file; and an intact file's findings do not change when a broken
file sits beside it.

The budget is bounded for CI. For a longer local run:

    NETLINT_FUZZ_EXAMPLES=5000 python -m pytest tests/test_fuzz.py
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import SHARED
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from netlint.core.findings import Finding
from netlint.run.config import Config
from netlint.run.registry import load_catalogue
from netlint.run.runner import Session

EXAMPLES = int(os.environ.get("NETLINT_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    # In CI the same examples every run: a submission must not fail on a case that a random
    # draw found in code it did not touch (run locally, or NETLINT_FUZZ_EXAMPLES=5000, to search).
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CATALOGUE = load_catalogue()
ROOT = Path("/nonexistent-fuzz-root")


def lint_texts(files: dict[str, bytes]) -> tuple[list[Finding], Session]:
    session = Session.create(Config(root=ROOT, roots=(ROOT,)), CATALOGUE)
    session.workspace.load(sorted(files), overrides=files)
    findings, _ = session.lint(lambda path: True)
    return findings, session


def _as_read(data: bytes) -> str:
    """The text as netlint (and an editor that honours the BOM) reads it, bad bytes replaced:
    a UTF-16 or UTF-32 byte-order mark decides the encoding, whatever follows it."""
    for bom, encoding in (
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    return data.decode("utf-8-sig", errors="replace")


def check_invariants(files: dict[str, bytes], findings: list[Finding]) -> None:
    crashed = [f for f in findings if f.code == "NL900"]
    assert not crashed, crashed[0].message
    for finding in findings:
        for span in (finding.span, *(r.span for r in finding.related)):
            assert span.path in files, span
            text = _as_read(files[span.path])
            lines = re.split("\r\n|\r|\n", text)
            assert 1 <= span.line <= span.end_line <= len(lines) + 1, (finding, len(lines))
            assert span.col >= 1 and span.end_col >= 1, finding
            if span.line == span.end_line:
                assert span.end_col >= span.col, finding
            if span.line <= len(lines):
                assert span.col <= len(lines[span.line - 1]) + 2, (finding, lines[span.line - 1])


# -- generated manifests ------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "",
            "app",
            "web",
            "TCP",
            "UDP",
            "SCTP",
            "tcp",
            "http",
            "dns",
            "53",
            "80",
            "In",
            "NotIn",
            "Exists",
            "DoesNotExist",
            "Ingress",
            "Egress",
            "0.0.0.0/0",
            "10.0.0.0/8",
            "10.0.0.1/33",
            "::/0",
            "2001:db8::/48",
            "169.254.169.254/32",
            "kube-system",
            "default",
            "😀",
            "a b",
            "kubernetes.io/metadata.name",
            "k8s-app",
            "kube-dns",
            "x" * 70,
        ]
    ),
    st.text(max_size=12),
)
keys = st.sampled_from(
    [
        "podSelector",
        "namespaceSelector",
        "ipBlock",
        "cidr",
        "except",
        "ports",
        "port",
        "endPort",
        "protocol",
        "from",
        "to",
        "ingress",
        "egress",
        "policyTypes",
        "matchLabels",
        "matchExpressions",
        "key",
        "operator",
        "values",
        "app",
        "labels",
        "name",
        "namespace",
        "containers",
        "containerPort",
        "template",
        "metadata",
        "spec",
        "hostNetwork",
        "dnsPolicy",
    ]
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)
    ),
    max_leaves=30,
)


def selector() -> st.SearchStrategy[Any]:
    requirement = st.fixed_dictionaries(
        {
            "key": st.sampled_from(["app", "tier", "kubernetes.io/metadata.name", "k8s-app"]),
            "operator": st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist", "in"]),
        },
        optional={
            "values": st.lists(st.sampled_from(["web", "api", "kube-system", "shop"]), max_size=3)
        },
    )
    return st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                "matchLabels": st.dictionaries(
                    st.sampled_from(["app", "tier", "kubernetes.io/metadata.name", "k8s-app"]),
                    st.one_of(st.sampled_from(["web", "api", "kube-system", "kube-dns"]), values),
                    max_size=2,
                ),
                "matchExpressions": st.lists(st.one_of(requirement, values), max_size=2),
            },
        ),
        values,
    )


def peer() -> st.SearchStrategy[Any]:
    block = st.fixed_dictionaries(
        {
            "cidr": st.one_of(
                st.sampled_from(
                    ["0.0.0.0/0", "10.0.0.0/8", "10.0.0.0/33", "::/0", "2001:db8::/64"]
                ),
                values,
            )
        },
        optional={
            "except": st.lists(
                st.one_of(
                    st.sampled_from(["10.1.0.0/16", "169.254.169.254/32", "192.168.0.0/16"]), values
                ),
                max_size=2,
            )
        },
    )
    return st.one_of(
        st.fixed_dictionaries(
            {},
            optional={"podSelector": selector(), "namespaceSelector": selector(), "ipBlock": block},
        ),
        values,
    )


def port() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                "protocol": st.sampled_from(["TCP", "UDP", "SCTP", "tcp", None]),
                "port": st.one_of(
                    st.integers(-5, 70000), st.sampled_from(["http", "dns", "53", "metrics"])
                ),
                "endPort": st.integers(-5, 70000),
            },
        ),
        values,
    )


def rules(peers_key: str) -> st.SearchStrategy[Any]:
    rule = st.fixed_dictionaries(
        {},
        optional={
            peers_key: st.one_of(st.lists(peer(), max_size=3), values),
            "ports": st.one_of(st.lists(port(), max_size=3), values),
        },
    )
    return st.one_of(st.lists(st.one_of(rule, values), max_size=3), values)


policies = st.fixed_dictionaries(
    {"apiVersion": st.just("networking.k8s.io/v1"), "kind": st.just("NetworkPolicy")},
    optional={
        "metadata": st.one_of(
            st.fixed_dictionaries(
                {"name": st.one_of(st.sampled_from(["p", "allow-web", "Bad_Name"]), values)},
                optional={
                    "namespace": st.one_of(st.sampled_from(["shop", "kube-system"]), values),
                    "annotations": st.one_of(
                        st.just({"netlint.dev/ignore": "NL104,bogus"}), values
                    ),
                },
            ),
            values,
        ),
        "spec": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "podSelector": selector(),
                    "policyTypes": st.one_of(
                        st.lists(st.sampled_from(["Ingress", "Egress", "ingress"]), max_size=3),
                        values,
                    ),
                    "ingress": rules("from"),
                    "egress": rules("to"),
                },
            ),
            values,
        ),
    },
)
workloads = st.fixed_dictionaries(
    {
        "apiVersion": st.sampled_from(["apps/v1", "v1", "batch/v1"]),
        "kind": st.sampled_from(["Deployment", "Pod", "CronJob", "StatefulSet", "Job"]),
        "metadata": st.fixed_dictionaries(
            {"name": st.one_of(st.sampled_from(["web", "api", "coredns"]), values)},
            optional={"namespace": st.sampled_from(["shop", "kube-system"]), "labels": selector()},
        ),
    },
    optional={
        "spec": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "template": st.fixed_dictionaries(
                        {},
                        optional={
                            "metadata": st.fixed_dictionaries({}, optional={"labels": selector()}),
                            "spec": st.fixed_dictionaries(
                                {},
                                optional={
                                    "hostNetwork": values,
                                    "containers": st.one_of(
                                        st.lists(
                                            st.fixed_dictionaries(
                                                {"name": st.just("c")},
                                                optional={
                                                    "ports": st.one_of(
                                                        st.lists(
                                                            st.fixed_dictionaries(
                                                                {
                                                                    "containerPort": st.one_of(
                                                                        st.integers(0, 70000),
                                                                        values,
                                                                    )
                                                                },
                                                                optional={
                                                                    "name": st.sampled_from(
                                                                        ["http", "dns", "metrics"]
                                                                    ),
                                                                    "protocol": st.sampled_from(
                                                                        ["TCP", "UDP"]
                                                                    ),
                                                                },
                                                            ),
                                                            max_size=2,
                                                        ),
                                                        values,
                                                    )
                                                },
                                            ),
                                            max_size=2,
                                        ),
                                        values,
                                    ),
                                },
                            ),
                        },
                    ),
                    "jobTemplate": values,
                    "containers": values,
                },
            ),
            values,
        )
    },
)
namespaces = st.fixed_dictionaries(
    {"apiVersion": st.just("v1"), "kind": st.just("Namespace")},
    optional={
        "metadata": st.fixed_dictionaries(
            {"name": st.one_of(st.sampled_from(["shop", "kube-system"]), values)},
            optional={"labels": selector()},
        )
    },
)
documents = st.lists(st.one_of(policies, workloads, namespaces, values), min_size=1, max_size=4)


def dump(docs: list[Any], style: bool | None) -> bytes:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = style
    out = io.StringIO()
    yaml.dump_all(docs, out)
    return out.getvalue().encode("utf-8")


@FUZZ
@given(docs=documents, other=documents, style=st.sampled_from([False, True, None]))
def test_generated_manifests(docs: list[Any], other: list[Any], style: bool | None) -> None:
    files = {"a.yaml": dump(docs, style), "b.yaml": dump(other, style)}
    findings, _ = lint_texts(files)
    check_invariants(files, findings)


# -- mutated real files -------------------------------------------------------------------------

CORPUS = SHARED / "corpus"
CORPUS_FILES = (
    sorted(
        p
        for p in CORPUS.rglob("*")
        if p.suffix in (".yaml", ".yml", ".json") and p.stat().st_size < 20_000
    )
    if CORPUS.is_dir()
    else []
)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """(original, mutation) of a corpus file: byte flips, truncation, re-indentation, deleted
    or duplicated lines, inserted tabs and control characters."""
    path = draw(st.sampled_from(CORPUS_FILES))
    data = path.read_bytes()
    lines = data.split(b"\n")
    kind = draw(
        st.sampled_from(["flip", "truncate", "indent", "delete", "duplicate", "tab", "junk"])
    )
    if kind == "flip" and data:
        at = draw(st.integers(0, len(data) - 1))
        out = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    elif kind == "truncate":
        out = data[: draw(st.integers(0, len(data)))]
    elif kind == "indent" and lines:
        at = draw(st.integers(0, len(lines) - 1))
        shift = draw(st.sampled_from([b" ", b"  ", b"    ", b"\t"]))
        out = b"\n".join(lines[:at] + [shift + line for line in lines[at:]])
    elif kind == "delete" and lines:
        at = draw(st.integers(0, len(lines) - 1))
        out = b"\n".join(lines[:at] + lines[at + 1 :])
    elif kind == "duplicate" and lines:
        at = draw(st.integers(0, len(lines) - 1))
        out = b"\n".join(lines[: at + 1] + lines[at:])
    elif kind == "tab" and lines:
        at = draw(st.integers(0, len(lines) - 1))
        out = b"\n".join([*lines[:at], lines[at].replace(b"  ", b"\t", 1), *lines[at + 1 :]])
    else:
        at = draw(st.integers(0, len(data)))
        junk = draw(
            st.sampled_from(
                [b"\x00", b"\xff\xfe", b"{{ .Values.x }}", b"*a", b"&a", b": :", b"\x1b", b"---\n"]
            )
        )
        out = data[:at] + junk + data[at:]
    return data, out


@pytest.mark.skipif(not CORPUS_FILES, reason="../shared/corpus is not present")
@FUZZ
@given(case=mutated())
def test_mutated_corpus_files(case: tuple[bytes, bytes]) -> None:
    original, broken = case
    files = {"intact.yaml": original, "broken.yaml": broken}
    findings, session = lint_texts(files)
    check_invariants(files, findings)
    # An intact file's findings do not depend on a broken file that contributes no objects.
    if not session.workspace.index().files.get("broken.yaml", None) or not (
        session.workspace.index().files["broken.yaml"].objects
    ):
        alone, _ = lint_texts({"intact.yaml": original})
        assert [f for f in findings if f.span.path == "intact.yaml"] == alone


@FUZZ
@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes(data: bytes) -> None:
    files = {"x.yaml": data}
    findings, _ = lint_texts(files)
    check_invariants(files, findings)
