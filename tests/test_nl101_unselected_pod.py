"""NL101 unselected-pod: semantics the fixtures do not show well."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import describe, lint
from helpers import deployment, line_of, policy
from test_connectivity import _random_repo

from netlint.analysis.reach import External, explain
from netlint.core.findings import Finding
from netlint.core.model import Direction
from netlint.run.runner import CheckRequest, UsageError, layout

Write = Callable[[str, str], Path]


def nl101(root: Path, paths: list[Path] | None = None, config: Path | None = None) -> list[Finding]:
    report = lint(
        root,
        paths or [],
        context=[root],
        select=None if config else ["NL101", "NL002"],
        config=config,
    )
    return [f for f in report.findings if f.code == "NL101"]


def directions(write: Write, *values: str) -> Path:
    return write(
        ".netlint.yaml", f"select: [NL101]\nrules:\n  NL101:\n    directions: {list(values)}\n"
    )


def test_unselected_workload_is_reported_at_its_name(write: Write, tmp_path: Path) -> None:
    path = write(
        "all.yaml",
        policy("api", selector="{matchLabels: {app: api}}")
        + "---\n"
        + deployment("api")
        + "---\n"
        + deployment("web", labels="app: web, tier: front"),
    )
    findings = nl101(tmp_path)
    assert [(f.span.path, f.span.line) for f in findings] == [
        ("all.yaml", line_of(path, "name: web"))
    ], describe(findings)
    (finding,) = findings
    assert finding.span.col == len("  name: ") + 1
    assert finding.subject == "Deployment/shop/web"
    assert finding.message == (
        "Deployment shop/web: no NetworkPolicy selects its pods (app=web, tier=front), so all "
        "their traffic is allowed"
    )
    assert finding.fix is not None
    assert "None of the 1 policy in namespace shop matches these pods" in finding.fix


def test_namespace_without_any_policy_says_so(write: Write, tmp_path: Path) -> None:
    path = write("w.yaml", deployment("web", namespace="batch"))
    write("p.yaml", policy("api", selector="{}"))
    (finding,) = nl101(tmp_path)
    assert finding.span.line == line_of(path, "name: web")
    assert finding.fix is not None
    assert "The repo has no NetworkPolicy in namespace batch" in finding.fix


def test_policies_of_other_namespaces_do_not_select(write: Write, tmp_path: Path) -> None:
    path = write("w.yaml", deployment("web", namespace="shop"))
    write("p.yaml", policy("deny-all", selector="{}", namespace="payments"))
    findings = nl101(tmp_path)
    assert [f.span.line for f in findings] == [line_of(path, "name: web")]


def test_pod_without_labels_is_selected_only_by_the_empty_selector(
    write: Write, tmp_path: Path
) -> None:
    pod = """\
apiVersion: v1
kind: Pod
metadata:
  name: debug
  namespace: shop
spec:
  containers:
    - name: sh
      image: busybox:1.36
"""
    path = write("pod.yaml", pod)
    write("p.yaml", policy("api", selector="{matchLabels: {app: api}}"))
    (finding,) = nl101(tmp_path)
    assert finding.span.line == line_of(path, "name: debug")
    assert "no NetworkPolicy selects its pods (they have no labels)" in finding.message
    write("p.yaml", policy("deny-all", selector="{}"))
    assert nl101(tmp_path) == []


@pytest.mark.parametrize("mode", ["any", "directions"])
def test_host_network_pods_are_never_reported(write: Write, tmp_path: Path, mode: str) -> None:
    config = directions(write, "ingress", "egress") if mode == "directions" else None
    path = write(
        "w.yaml",
        deployment("agent", extra="      hostNetwork: true\n") + "---\n" + deployment("web"),
    )
    findings = nl101(tmp_path, config=config)
    assert findings, "the control workload must be reported"
    assert {f.span.line for f in findings} == {line_of(path, "name: web")}


def test_directions_report_each_open_direction(write: Write, tmp_path: Path) -> None:
    config = directions(write, "ingress", "egress")
    path = write("w.yaml", deployment("web"))
    write("p.yaml", policy("api", selector="{matchLabels: {app: api}}"))
    findings = nl101(tmp_path, config=config)
    assert [f.span.line for f in findings] == [line_of(path, "name: web")] * 2
    ingress, egress = sorted(findings, key=lambda f: "egress" in f.message)
    assert ingress.message == (
        "Deployment shop/web: no NetworkPolicy selects its pods (app=web), so all their ingress "
        "traffic is allowed"
    )
    assert "so all their egress traffic is allowed" in egress.message


def test_directions_name_the_policies_that_select_without_isolating(
    write: Write, tmp_path: Path
) -> None:
    config = directions(write, "ingress", "egress")
    workloads = write("w.yaml", deployment("web"))
    policies = write(
        "p.yaml",
        policy(
            "web-ingress", selector="{matchLabels: {app: web}}", body="  policyTypes: [Ingress]\n"
        )
        + "---\n"
        + policy("all-ingress", selector="{}"),
    )
    (finding,) = nl101(tmp_path, config=config)
    assert finding.span.line == line_of(workloads, "name: web")
    assert finding.message == (
        "Deployment shop/web: its pods are not isolated for egress: shop/web-ingress, "
        "shop/all-ingress select them without Egress in policyTypes"
    )
    assert finding.fix is not None
    assert finding.fix.startswith("List Egress in their policyTypes, with the egress rules")
    # Each selecting policy is a related location: its policyTypes key, else its name.
    assert [(r.span.path, r.span.line) for r in finding.related] == [
        ("p.yaml", line_of(policies, "policyTypes: [Ingress]")),
        ("p.yaml", line_of(policies, "name: all-ingress")),
    ]


def test_directions_use_effective_policy_types(write: Write, tmp_path: Path) -> None:
    config = directions(write, "ingress", "egress")
    write("w.yaml", deployment("web") + "---\n" + deployment("api"))
    write(
        "p.yaml",
        # No policyTypes: Ingress, plus Egress because spec.egress has rules.
        policy(
            "web",
            selector="{matchLabels: {app: web}}",
            body="  egress:\n    - to:\n        - podSelector: {}\n",
        )
        + "---\n"
        + policy("api", selector="{matchLabels: {app: api}}", body="  ingress: []\n"),
    )
    (finding,) = nl101(tmp_path, config=config)
    assert finding.subject == "Deployment/shop/api"
    assert "not isolated for egress" in finding.message


def test_directions_only_the_listed_ones(write: Write, tmp_path: Path) -> None:
    config = directions(write, "ingress")
    write("w.yaml", deployment("web"))
    write(
        "p.yaml",
        policy("web", selector="{matchLabels: {app: web}}", body="  policyTypes: [Ingress]\n"),
    )
    assert nl101(tmp_path, config=config) == []


def test_invalid_policy_counts_as_selecting(write: Write, tmp_path: Path) -> None:
    path = write(
        "p.yaml",
        policy(
            "web",
            selector="{matchLabels: {app: web}}",
            body="  ingress:\n    - ports:\n        - port: 0\n",
        ),
    )
    write("w.yaml", deployment("web"))
    report = lint(tmp_path, context=[tmp_path], select=["NL101", "NL002"])
    assert {(f.code, f.span.line) for f in report.findings} == {
        ("NL002", line_of(path, "port: 0"))
    }, describe(report.findings)


def test_invalid_policy_types_in_the_wrong_case_count_as_meant(
    write: Write, tmp_path: Path
) -> None:
    config = directions(write, "ingress", "egress")
    write(
        "p.yaml",
        policy("web", selector="{matchLabels: {app: web}}", body="  policyTypes: [ingress]\n"),
    )
    path = write("w.yaml", deployment("web"))
    (finding,) = nl101(tmp_path, config=config)
    assert finding.span.line == line_of(path, "name: web")
    assert "not isolated for egress" in finding.message


def test_the_index_covers_the_repo_but_only_reported_files_get_findings(
    write: Write, tmp_path: Path
) -> None:
    workloads = write("w.yaml", deployment("web") + "---\n" + deployment("api"))
    policies = write("p.yaml", policy("web", selector="{matchLabels: {app: web}}"))
    assert nl101(tmp_path, [policies]) == []
    findings = nl101(tmp_path, [workloads])
    assert [f.span.line for f in findings] == [line_of(workloads, "name: api")]


def test_default_namespace_is_applied(write: Write, tmp_path: Path) -> None:
    text = deployment("web").replace("  namespace: shop\n", "")
    path = write("w.yaml", text + "---\n" + deployment("api", namespace="default"))
    write("p.yaml", policy("web", selector="{matchLabels: {app: web}}", namespace="default"))
    findings = nl101(tmp_path)
    assert [f.span.line for f in findings] == [line_of(path, "name: api")]
    assert "Deployment default/api" in findings[0].message


@pytest.mark.parametrize("value", ["[sideways]", "[]", "ingress", "[ingress, ingress]"])
def test_directions_option_is_validated(write: Write, tmp_path: Path, value: str) -> None:
    config = write(".netlint.yaml", f"rules:\n  NL101:\n    directions: {value}\n")
    write("w.yaml", deployment("web"))
    with pytest.raises(UsageError, match="directions"):
        nl101(tmp_path, config=config)


def unnamespaced(text: str) -> str:
    return text.replace("  namespace: shop\n", "")


def test_a_workload_without_namespace_pairs_with_policies_of_any_namespace(
    write: Write, tmp_path: Path
) -> None:
    # Applied with `kubectl apply -n team-a`: the namespace's default-deny selects it there.
    path = write("w.yaml", unnamespaced(deployment("cleanup")) + "---\n" + deployment("web"))
    write("p.yaml", policy("default-deny", selector="{}", namespace="team-a"))
    findings = nl101(tmp_path)
    assert [f.span.line for f in findings] == [line_of(path, "name: web")], describe(findings)


def test_a_policy_without_namespace_counts_elsewhere_only_when_it_names_the_labels(
    write: Write, tmp_path: Path
) -> None:
    path = write("w.yaml", deployment("web") + "---\n" + deployment("api"))
    write(
        "p.yaml",
        unnamespaced(policy("api", selector="{matchLabels: {app: api}}"))
        + "---\n"
        + unnamespaced(policy("fixture-allow-all", selector="{}")),
    )
    findings = nl101(tmp_path)
    assert [f.span.line for f in findings] == [line_of(path, "name: web")], describe(findings)


def test_workload_fragments_are_not_reported_but_unlabelled_jobs_are(
    write: Write, tmp_path: Path
) -> None:
    patch = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  template:
    spec:
      containers:
        - name: api
          resources: {limits: {memory: 512Mi}}
"""
    job = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: shop
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: registry.example.com/migrate:1.0.0
"""
    path = write("w.yaml", patch + "---\n" + job)
    write("p.yaml", policy("web", selector="{matchLabels: {app: web}}"))
    findings = nl101(tmp_path)
    assert [f.span.line for f in findings] == [line_of(path, "name: migrate")], describe(findings)
    assert "(they have no labels)" in findings[0].message


@pytest.mark.parametrize(
    "other",
    [
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: deny\n"
        "spec:\n  selector: all()\n",
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: deny\n"
        "  namespace: shop\nspec:\n  selector: all()\n",
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: deny\n"
        "  namespace: shop\nspec:\n  endpointSelector: {}\n",
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\n"
        "metadata:\n  name: default\nspec:\n  subject: {namespaces: {}}\n",
    ],
)
def test_other_engines_policies_silence_the_rule(write: Write, tmp_path: Path, other: str) -> None:
    path = write("w.yaml", deployment("web"))
    assert [f.span.line for f in nl101(tmp_path)] == [line_of(path, "name: web")]
    write("other.yaml", other)
    assert nl101(tmp_path) == []


def test_a_kustomize_patch_of_a_network_policy_is_not_another_engine(
    write: Write, tmp_path: Path
) -> None:
    path = write("w.yaml", deployment("web"))
    write("p.yaml", policy("api", selector="{matchLabels: {app: api}}"))
    write(
        "kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources: [w.yaml, p.yaml]\npatches:\n  - path: policy-patch.yaml\n",
    )
    write("policy-patch.yaml", policy("api", selector="{matchLabels: {app: api, tier: x}}"))
    assert [f.span.line for f in nl101(tmp_path)] == [line_of(path, "name: web")]


@pytest.mark.parametrize("seed", range(30))
def test_per_direction_isolation_is_the_reachability_core_s(tmp_path: Path, seed: int) -> None:
    # Every object of these repos names its namespace and every policy is valid, so neither
    # of NL101's deliberate widenings applies: a direction it reports open is exactly one the
    # core (connectivity, explain) finds no policy isolating.
    rng = random.Random(seed)
    root = tmp_path / "r"
    root.mkdir()
    docs = _random_repo(rng)
    (root / "all.yaml").write_text("\n---\n".join(json.dumps(d) for d in docs), "utf-8")
    config = root / ".netlint.yaml"
    config.write_text("select: [NL101]\nrules:\n  NL101:\n    directions: [ingress, egress]\n")
    reported = {
        (f.subject, d)
        for f in nl101(root, config=config)
        for d in Direction
        if any(f"{words} {d.value.lower()}" in f.message for words in ("their", "isolated for"))
    }
    index = layout(CheckRequest(paths=[str(root)], root=root, use_cache=False))[0].cluster
    world = External(4, 0, (1 << 32) - 1)
    open_in_core = set()
    for workload in index.workloads:
        if not explain(index, workload, world).egress.isolated_by:
            open_in_core.add((f"Pod/{workload.namespace}/{workload.name}", Direction.EGRESS))
        if not explain(index, world, workload).ingress.isolated_by:
            open_in_core.add((f"Pod/{workload.namespace}/{workload.name}", Direction.INGRESS))
    assert reported == open_in_core
