"""NL102 dangling-selector: semantics the fixtures do not show well."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import describe, lint
from helpers import deployment
from hypothesis import given, settings
from hypothesis import strategies as st

from netlint.core.findings import Finding
from netlint.rules import nl102_dangling_selector as dangling

Write = Callable[[str, str], Path]


def namespace(name: str, labels: str) -> str:
    return f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\n"


def policy(peers: str, selector: str = "{}", namespace: str = "shop", name: str = "p") -> str:
    """A policy with one ingress rule whose ``from`` list is ``peers`` (indented items)."""
    return f"""\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {name}
  namespace: {namespace}
spec:
  podSelector: {selector}
  policyTypes: [Ingress]
  ingress:
    - from:
{peers}"""


#: Two namespaces with team labels, and workloads in each.
REPO = (
    namespace("shop", "team: shop")
    + "---\n"
    + namespace("payments", "team: payments")
    + "---\n"
    + deployment("frontend")
    + "---\n"
    + deployment("api")
    + "---\n"
    + deployment("checkout", namespace="payments")
)


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def nl102(root: Path, paths: list[Path] | None = None) -> list[Finding]:
    report = lint(root, paths or [], context=[root], select=["NL102", "NL002"])
    assert not [f for f in report.findings if f.code != "NL102"], describe(report.findings)
    return list(report.findings)


def test_spec_pod_selector_typo_suggests_the_closest_label(write: Write, tmp_path: Path) -> None:
    repo = write("repo.yaml", REPO)
    path = write("p.yaml", policy("        - podSelector: {}\n", "{matchLabels: {app: fronted}}"))
    (finding,) = nl102(tmp_path)
    assert (finding.span.line, finding.span.col) == (line_of(path, "podSelector: {matchL"), 3)
    # The message names the selector, what it was tested against and the policy; the
    # suggestion is the fix.
    assert finding.message == (
        "spec.podSelector `app=fronted` of NetworkPolicy shop/p selects no pod of the 2 "
        "workloads in its namespace"
    )
    assert finding.fix == "Did you mean `app: frontend` (Deployment shop/frontend)?"
    # The suggestion points at the labels that exist (the pod template's labels key).
    (related,) = finding.related
    assert (related.span.path, related.span.line) == (
        "repo.yaml",
        line_of(repo, "labels: {app: frontend}"),
    )


def test_no_suggestion_when_nothing_is_close(write: Write, tmp_path: Path) -> None:
    write("repo.yaml", REPO)
    path = write("p.yaml", policy("        - podSelector: {matchLabels: {app: decommissioned}}\n"))
    (finding,) = nl102(tmp_path)
    assert finding.span.line == line_of(path, "decommissioned")
    assert finding.fix is not None and "did you mean" not in finding.fix.lower()
    assert finding.related == ()


def test_a_key_typo_with_the_same_value_is_suggested(write: Write, tmp_path: Path) -> None:
    write("repo.yaml", REPO)
    write("p.yaml", policy("        - podSelector: {matchLabels: {ap: frontend}}\n"))
    (finding,) = nl102(tmp_path)
    assert finding.fix is not None and "Did you mean `app: frontend`" in finding.fix


def test_pod_selector_alone_says_where_the_pods_run(write: Write, tmp_path: Path) -> None:
    write("repo.yaml", REPO)
    path = write("p.yaml", policy("        - podSelector: {matchLabels: {app: checkout}}\n"))
    (finding,) = nl102(tmp_path)
    assert finding.span.line == line_of(path, "app: checkout")
    assert "ingress[0].from[0] podSelector `app=checkout`" in finding.message
    assert "no pod in namespace shop" in finding.message
    assert finding.fix is not None
    assert "A podSelector alone looks only in its policy's namespace" in finding.fix
    assert "Pods with these labels run in namespace payments" in finding.fix
    assert "add a namespaceSelector for that namespace" in finding.fix


def test_and_peer_points_at_the_namespace_selector_when_no_namespace_matches(
    write: Write, tmp_path: Path
) -> None:
    write("repo.yaml", REPO)
    path = write(
        "p.yaml",
        policy(
            "        - namespaceSelector: {matchLabels: {team: paymnts}}\n"
            "          podSelector: {matchLabels: {app: nothing-like-this}}\n"
        ),
    )
    (finding,) = nl102(tmp_path)
    assert finding.span.line == line_of(path, "namespaceSelector")
    assert "namespaceSelector `team=paymnts` matches no namespace" in finding.message
    assert "(2 declared, and the built-in ones)" in finding.message
    assert finding.fix == "Did you mean `team: payments` (Namespace payments)?"


def test_and_peer_points_at_the_pod_selector_when_the_namespaces_lack_the_pods(
    write: Write, tmp_path: Path
) -> None:
    write("repo.yaml", REPO)
    path = write(
        "p.yaml",
        policy(
            "        - namespaceSelector: {matchLabels: {team: payments}}\n"
            "          podSelector: {matchLabels: {app: frontend}}\n"
        ),
    )
    (finding,) = nl102(tmp_path)
    assert finding.span.line == line_of(path, "podSelector: {matchLabels: {app: frontend")
    assert "in namespace payments (namespaceSelector `team=payments`)" in finding.message
    assert finding.fix is not None
    assert "Pods with these labels run in namespace shop" in finding.fix
    assert "which the namespaceSelector does not select" in finding.fix


def test_egress_peers_and_rules_outside_policy_types_are_checked(
    write: Write, tmp_path: Path
) -> None:
    write("repo.yaml", REPO)
    text = policy("        - podSelector: {}\n").replace(
        "  ingress:\n",
        "  egress:\n    - to:\n        - podSelector: {matchLabels: {app: chekout}}\n  ingress:\n",
    )
    text = text.replace("    - from:\n        - podSelector: {}\n", "")
    text += "    - from:\n        - podSelector: {matchLabels: {app: frontnd}}\n"
    path = write("p.yaml", text)
    findings = nl102(tmp_path)
    assert sorted(f.span.line for f in findings) == [
        line_of(path, "chekout"),
        line_of(path, "frontnd"),
    ], describe(findings)
    assert any(f.message.startswith("egress[0].to[0]") for f in findings)


@pytest.mark.parametrize(
    "peer",
    [
        # A namespace the repo does not know, by name (an ingress controller's, kube-system's).
        "namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}",
        "namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, "
        "operator: In, values: [shop, ingress-nginx]}]}",
        # A label key that no Namespace of the repo uses.
        "namespaceSelector: {matchLabels: {purpose: monitoring}}",
        "namespaceSelector: {matchExpressions: [{key: purpose, operator: Exists}]}",
        # A built-in namespace named in a label value (admins label kube-system name=...).
        "namespaceSelector: {matchLabels: {team: kube-system}}",
        # A built-in namespace the repo declares no workload in.
        "namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}\n"
        "          podSelector: {matchLabels: {k8s-app: kube-dns}}",
        # A declared namespace without workloads in the repo.
        "namespaceSelector: {matchLabels: {team: data}}\n"
        "          podSelector: {matchLabels: {app: warehouse}}",
        # Several namespaces, one of which has no declared workload.
        "namespaceSelector: {matchExpressions: [{key: team, operator: In, "
        "values: [shop, data]}]}\n          podSelector: {matchLabels: {app: warehouse}}",
    ],
)
def test_unknown_is_not_empty(write: Write, tmp_path: Path, peer: str) -> None:
    write("repo.yaml", REPO + "---\n" + namespace("warehouse", "team: data"))
    write("p.yaml", policy(f"        - {peer}\n"))
    assert nl102(tmp_path) == []


def test_labels_of_an_undeclared_namespace_with_workloads_are_unknown(
    write: Write, tmp_path: Path
) -> None:
    write("repo.yaml", REPO + "---\n" + deployment("cleanup", namespace="batch"))
    write("p.yaml", policy("        - namespaceSelector: {matchLabels: {team: batch}}\n"))
    assert nl102(tmp_path) == []
    # Without the workload in "batch", no namespace the repo knows can carry team=batch.
    write("repo.yaml", REPO)
    assert len(nl102(tmp_path)) == 1


def test_spec_pod_selector_in_a_namespace_without_workloads_is_not_judged(
    write: Write, tmp_path: Path
) -> None:
    write("repo.yaml", REPO)
    write(
        "p.yaml",
        policy(
            "        - podSelector: {matchLabels: {app: probe}}\n",
            "{matchLabels: {app: ghost}}",
            "edge",
        ),
    )
    assert nl102(tmp_path) == []


@pytest.mark.parametrize(
    "peer",
    [
        "podSelector: {}",
        "namespaceSelector: {}",
        "namespaceSelector: {}\n          podSelector: {}",
        "namespaceSelector: {matchLabels: {team: payments}}\n          podSelector: {}",
    ],
)
@pytest.mark.parametrize("home", ["shop", "empty"])
def test_empty_selectors_never_dangle(write: Write, tmp_path: Path, peer: str, home: str) -> None:
    write("repo.yaml", REPO)
    write("p.yaml", policy(f"        - {peer}\n", namespace=home))
    assert nl102(tmp_path) == []


def test_ip_block_peers_are_ignored(write: Write, tmp_path: Path) -> None:
    write("repo.yaml", REPO)
    write("p.yaml", policy("        - ipBlock: {cidr: 10.0.0.0/8}\n"))
    assert nl102(tmp_path) == []


def test_invalid_policies_are_skipped(write: Write, tmp_path: Path) -> None:
    write("repo.yaml", REPO)
    path = write(
        "p.yaml",
        policy(
            "        - podSelector: {matchLabels: {app: fronted}}\n", "{matchLabels: {app: ghost}}"
        )
        + "      ports:\n        - port: 0\n",
    )
    report = lint(tmp_path, context=[tmp_path], select=["NL102", "NL002"])
    assert {(f.code, f.span.line) for f in report.findings} == {
        ("NL002", line_of(path, "port: 0"))
    }, describe(report.findings)


def test_one_finding_per_dangling_selector(write: Write, tmp_path: Path) -> None:
    write("repo.yaml", REPO)
    path = write(
        "p.yaml",
        policy(
            "        - podSelector: {matchLabels: {app: a1}}\n"
            "        - podSelector: {matchLabels: {app: frontend}}\n"
            "        - namespaceSelector: {matchLabels: {team: b2}}\n"
            "          podSelector: {matchLabels: {app: b3}}\n",
            "{matchLabels: {app: c4}}",
        ),
    )
    findings = nl102(tmp_path)
    assert sorted(f.span.line for f in findings) == sorted(
        [
            line_of(path, "podSelector: {matchLabels: {app: c4"),
            line_of(path, "app: a1"),
            line_of(path, "team: b2"),
        ]
    ), describe(findings)
    assert all(f.subject == "NetworkPolicy/shop/p" for f in findings)


def test_the_index_covers_the_repo_but_only_reported_files_get_findings(
    write: Write, tmp_path: Path
) -> None:
    repo = write("repo.yaml", REPO)
    path = write("p.yaml", policy("        - podSelector: {matchLabels: {app: fronted}}\n"))
    assert nl102(tmp_path, [repo]) == []
    findings = nl102(tmp_path, [path])
    assert [(f.span.path, f.span.line) for f in findings] == [("p.yaml", line_of(path, "fronted"))]


def test_the_closest_pod_is_named_when_each_label_exists_but_not_together(
    write: Write, tmp_path: Path
) -> None:
    write("repo.yaml", REPO.replace("labels: {app: api}", "labels: {app: api, tier: backend}"))
    write(
        "p.yaml", policy("        - podSelector: {matchLabels: {app: frontend, tier: backend}}\n")
    )
    (finding,) = nl102(tmp_path)
    assert finding.fix is not None
    assert "Closest: Deployment shop/" in finding.fix
    assert "which does not meet" in finding.fix


def test_workloads_without_namespace_may_run_in_any_namespace(write: Write, tmp_path: Path) -> None:
    write("repo.yaml", REPO)
    write("batch.yaml", deployment("reporter").replace("  namespace: shop\n", ""))
    write("p.yaml", policy("        - podSelector: {matchLabels: {app: reporter}}\n"))
    assert nl102(tmp_path) == []


def test_a_policy_without_namespace_may_apply_to_any_namespace(
    write: Write, tmp_path: Path
) -> None:
    write("repo.yaml", REPO + "---\n" + deployment("hello", namespace="default"))
    text = policy("        - podSelector: {}\n", "{matchLabels: {app: checkout}}")
    path = write("p.yaml", text.replace("  namespace: shop\n", ""))
    assert nl102(tmp_path) == []
    path.write_text(path.read_text().replace("app: checkout", "app: chekout"))
    (finding,) = nl102(tmp_path)
    assert finding.fix is not None and "Did you mean `app: checkout`" in finding.fix


def test_a_workload_patch_makes_its_namespace_unknown(write: Write, tmp_path: Path) -> None:
    patch = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: istiod
  namespace: shop
spec:
  template:
    spec:
      containers:
        - name: discovery
          env: [{name: PILOT_JWT_REFRESH, value: 1m}]
"""
    write("repo.yaml", REPO)
    write("p.yaml", policy("        - podSelector: {matchLabels: {app: istiod}}\n"))
    assert len(nl102(tmp_path)) == 1
    write("patch.yaml", patch)
    assert nl102(tmp_path) == []


@pytest.mark.parametrize("kustomized", [True, False])
def test_a_kustomize_base_without_labels_makes_every_pod_unknown(
    write: Write, tmp_path: Path, kustomized: bool
) -> None:
    base = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-app
spec:
  template:
    spec:
      containers:
        - name: app
          image: registry.example.com/web-app:1.0.0
"""
    write("repo.yaml", REPO)
    write("base/deployment.yaml", base)
    if kustomized:
        write(
            "base/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            "namespace: shop\ncommonLabels: {app: web-app}\nresources: [deployment.yaml]\n",
        )
    path = write("p.yaml", policy("        - podSelector: {matchLabels: {app: web-app}}\n"))
    findings = nl102(tmp_path)
    expected = [] if kustomized else [line_of(path, "web-app")]
    assert [f.span.line for f in findings] == expected, describe(findings)


@pytest.mark.parametrize("folder", ["monitoring", "elsewhere"])
def test_an_operator_custom_resource_makes_its_folder_namespaces_unknown(
    write: Write, tmp_path: Path, folder: str
) -> None:
    write("monitoring/grafana.yaml", deployment("grafana", namespace="monitoring"))
    write(
        f"{folder}/prometheus.yaml",
        "apiVersion: monitoring.coreos.com/v1\nkind: Prometheus\nmetadata:\n  name: k8s\n"
        "  namespace: monitoring\nspec:\n  replicas: 2\n",
    )
    path = write(
        "monitoring/policy.yaml",
        policy(
            "        - podSelector: {matchLabels: {app: prometheus}}\n",
            "{matchLabels: {app: grafana}}",
            "monitoring",
        ),
    )
    findings = nl102(tmp_path)
    expected = [] if folder == "monitoring" else [line_of(path, "app: prometheus")]
    assert [f.span.line for f in findings] == expected, describe(findings)


def test_a_key_and_value_both_close_are_suggested_together(write: Write, tmp_path: Path) -> None:
    write(
        "repo.yaml",
        deployment("calico-node", namespace="kube-system", labels="k8s-app: calico-node"),
    )
    write(
        "p.yaml",
        policy("        - podSelector: {matchLabels: {app: celico-node}}\n", "{}", "kube-system"),
    )
    (finding,) = nl102(tmp_path)
    assert finding.fix is not None and "Did you mean `k8s-app: calico-node`" in finding.fix


# -- the "did you mean" similarity: cheap bounds first, the same answers as difflib -------------

LABELISH = st.text(alphabet="abcdeklnop-./:_0123456789", max_size=14)


@settings(max_examples=400, deadline=None)
@given(LABELISH, LABELISH, st.sampled_from([dangling._CLOSE, dangling._CLOSE_PAIR]))
def test_similarity_is_difflib_ratio_above_the_cutoff(a: str, b: str, cutoff: float) -> None:
    dangling._ratio.cache_clear()
    expected = difflib.SequenceMatcher(None, a, b).ratio()
    assert dangling._ratio(a, b, cutoff) == (expected if expected >= cutoff else 0.0)


def test_similarity_of_near_labels_and_of_empty_strings() -> None:
    # One character off in ten: a suggestion; the bounds must not drop it.
    assert dangling._ratio("app-frontend", "app-frontent", dangling._CLOSE) == pytest.approx(
        11 / 12
    )
    assert dangling._ratio("app", "kube-system", dangling._CLOSE) == 0.0
    assert dangling._ratio("", "", dangling._CLOSE) == 1.0
