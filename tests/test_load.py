"""Reading one file: template detection (block scalars are text) and known kinds under an
apiVersion that does not serve them (NL002, still modelled as what the author meant)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO

from netlint.core.model import Namespace, NetworkPolicy, Workload
from netlint.core.problems import ProblemKind
from netlint.read.build import BuildOptions
from netlint.read.load import is_templated, load
from netlint.read.parse import Limits
from netlint.testing import assert_markers

NL002 = REPO / "rules" / "NL002-invalid-manifest"


@pytest.mark.parametrize(
    ("text", "templated"),
    [
        # A literal block's lines are text, whatever they hold.
        ("data:\n  config.yaml: |\n    project: {{PROJECT_ID}}\n", False),
        ("data:\n  config.yaml: |-\n\n    - {{ .x }}\n\n    {{ .y }}\nkind: ConfigMap\n", False),
        # A folded block, a sequence item's block, tags, anchors and comments on the header.
        ("a: >\n  k: {{ x }}\n", False),
        ("command:\n  - sh\n  - |\n     sed s/{{X}}/y/ f\n", False),
        ("a: !!str |2\n   k: {{ x }}\n", False),
        ("a: &anchor | # note\n  k: {{ x }}\n", False),
        ('"quoted.key": |\n  k: {{ x }}\n', False),
        # The block ends at a line as little indented as its key: what follows is YAML again.
        ("a: |\n  k: {{ x }}\nname: {{ .Release.Name }}\n", True),
        ("data:\n  c: |\n{{ toYaml .Values.c | indent 4 }}\n", True),
        ("- |\n  text\n- {{ .Values.item }}\n", True),
        # Helm templates as before.
        ("name: {{ .Values.name }}\n", True),
        ('  {{- include "x" . | nindent 4 }}\n', True),
        # Not block headers: a `|` or `>` inside a plain value.
        ("cmd: a > b\nname: {{ x }}\n", True),
        ("url: http://x |\nname: {{ x }}\n", True),
    ],
)
def test_template_detection_ignores_block_scalars(text: str, templated: bool) -> None:
    assert is_templated(text) is templated


def test_a_file_with_templates_only_in_block_scalars_keeps_its_objects() -> None:
    path = NL002 / "template-in-block-scalar.yaml"
    result = load(path.name, path.read_bytes(), BuildOptions(), Limits())
    assert result.skipped is None
    assert {type(o).__name__ for o in result.objects} == {"Workload", "NetworkPolicy"}
    # The NL002 marker on the policy's cidr shows the file is linted end to end.
    assert_markers(path, ["NL002"])


@pytest.mark.parametrize(
    "line",
    ["- " * 100_000 + "x", "a: " * 100_000 + "|", "a:" + " " * 200_000 + "x", "- -" * 70_000],
)
def test_template_detection_on_hostile_lines_completes(line: str) -> None:
    """Lines that made the line-start pattern try every split between dashes and key
    (quadratic: 6 s for 20,000 `- `, hours for these) are decided in one pass, both by the
    search over the file and by the walk that tracks block scalars."""
    assert is_templated(f"{line}\nnote: '{{{{ y }}}}'\n") is False
    assert is_templated(f"k: |\n  {{{{ y }}}}\n{line}\n") is False


def test_known_kinds_under_the_wrong_api_version_are_nl002_and_still_modelled() -> None:
    path = NL002 / "wrong-api-version.yaml"
    assert_markers(path, ["NL002"])
    result = load(path.name, path.read_bytes(), BuildOptions(), Limits())
    kinds = sorted(
        (type(o).__name__, o.ref.kind, o.ref.name)
        for o in result.objects
        if isinstance(o, (Workload, Namespace, NetworkPolicy))
    )
    assert kinds == [
        ("Namespace", "Namespace", "shop"),
        ("NetworkPolicy", "NetworkPolicy", "api-ingress"),
        ("NetworkPolicy", "NetworkPolicy", "web-ingress"),
        ("Workload", "Deployment", "api"),
        ("Workload", "Deployment", "legacy"),
        ("Workload", "Job", "migrate"),
        ("Workload", "Pod", "web"),
        ("Workload", "StatefulSet", "db"),
    ]
    # The policies are rejected as written: rules that reason about their rules skip them.
    assert all(not o.valid for o in result.objects if isinstance(o, NetworkPolicy))
    by_line = {p.span.line: p for p in result.problems}
    assert by_line[3].kind is ProblemKind.INVALID and by_line[3].subject == "Pod/shop/web"
    assert by_line[48].subject == "Namespace/shop/shop"


def test_a_pod_under_apps_v1_still_counts_for_selectors(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Had the Pod vanished, NL102 would say the policy selects nothing in a namespace whose
    workloads the repo declares; the NL002 at its apiVersion is the one finding."""
    path = write(
        "app.yaml",
        "apiVersion: apps/v1 # expect: NL002@13\n"
        "kind: Pod\n"
        "metadata: {name: web, namespace: shop, labels: {app: web}}\n"
        "spec: {containers: [{name: web, image: 'registry.example.com/web:1'}]}\n"
        "---\n"
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata: {name: api, namespace: shop}\n"
        "spec:\n"
        "  selector: {matchLabels: {app: api}}\n"
        "  template: {metadata: {labels: {app: api}}}\n"
        "---\n"
        "apiVersion: networking.k8s.io/v1\n"
        "kind: NetworkPolicy\n"
        "metadata: {name: web, namespace: shop}\n"
        "spec:\n"
        "  podSelector: {matchLabels: {app: web}}\n"
        "  policyTypes: [Ingress]\n",
    )
    assert_markers(path, ["NL102"])
