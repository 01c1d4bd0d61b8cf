"""The Kubernetes semantics every rule relies on (DESIGN §2), one focused test each."""

from __future__ import annotations

from pathlib import Path

import pytest

from netlint.analysis.index import Index
from netlint.core.model import NAME_LABEL, Direction, NetworkPolicy, Workload
from netlint.core.selectors import Operator, matches
from netlint.read.build import BuildOptions
from netlint.read.load import FileResult, load
from netlint.read.parse import Limits


class Req:
    def __init__(self, key: str, operator: Operator, values: tuple[str, ...] = ()) -> None:
        self.key, self.operator, self.values = key, operator, frozenset(values)


@pytest.mark.parametrize(
    ("requirement", "labels", "expected"),
    [
        (Req("app", Operator.IN, ("a", "b")), {"app": "a"}, True),
        (Req("app", Operator.IN, ("a", "b")), {"app": "c"}, False),
        (Req("app", Operator.IN, ("a",)), {}, False),
        (Req("app", Operator.NOT_IN, ("a",)), {"app": "b"}, True),
        (Req("app", Operator.NOT_IN, ("a",)), {"app": "a"}, False),
        (Req("app", Operator.NOT_IN, ("a",)), {}, True),  # NotIn matches pods without the key
        (Req("app", Operator.EXISTS), {"app": ""}, True),
        (Req("app", Operator.EXISTS), {}, False),
        (Req("app", Operator.DOES_NOT_EXIST), {}, True),
        (Req("app", Operator.DOES_NOT_EXIST), {"app": "x"}, False),
    ],
)
def test_requirement_operators(requirement: Req, labels: dict[str, str], expected: bool) -> None:
    assert matches([requirement], labels) is expected


def test_empty_selector_matches_everything_and_requirements_are_anded() -> None:
    assert matches([], {})
    assert matches([], {"anything": "x"})
    both = [Req("app", Operator.IN, ("web",)), Req("tier", Operator.EXISTS)]
    assert matches(both, {"app": "web", "tier": "1"})
    assert not matches(both, {"app": "web"})


def objects(text: str, default_namespace: str = "default") -> FileResult:
    result = load("f.yaml", text.encode(), BuildOptions(default_namespace), Limits())
    assert not result.problems, result.problems
    return result


def policy_of(spec: str, namespace: str | None = "shop") -> NetworkPolicy:
    meta = f"  namespace: {namespace}\n" if namespace else ""
    text = (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: p\n"
        + meta
        + "spec:\n"
        + spec
    )
    policy = objects(text).objects[0]
    assert isinstance(policy, NetworkPolicy)
    return policy


def test_policy_types_default_to_ingress() -> None:
    policy = policy_of("  podSelector: {}\n")
    assert policy.policy_types == {Direction.INGRESS}
    assert policy.declared_policy_types is None


def test_policy_types_default_adds_egress_when_egress_is_non_empty() -> None:
    policy = policy_of("  podSelector: {}\n  egress:\n    - {}\n")
    assert policy.policy_types == {Direction.INGRESS, Direction.EGRESS}
    # SetDefaults_NetworkPolicy adds Egress for len(spec.egress) != 0 only.
    assert policy_of("  podSelector: {}\n  egress: []\n").policy_types == {Direction.INGRESS}


def test_empty_policy_types_is_defaulted_like_an_absent_one() -> None:
    policy = policy_of("  podSelector: {}\n  policyTypes: []\n  egress:\n    - {}\n")
    assert policy.policy_types == {Direction.INGRESS, Direction.EGRESS}


def test_written_policy_types_win_and_unlisted_rules_are_not_effective() -> None:
    policy = policy_of(
        "  podSelector: {}\n  policyTypes: [Egress]\n  ingress:\n    - {}\n  egress:\n    - {}\n"
    )
    assert policy.policy_types == {Direction.EGRESS}
    assert len(policy.rules(Direction.INGRESS)) == 1
    assert policy.effective_rules(Direction.INGRESS) == ()
    assert len(policy.effective_rules(Direction.EGRESS)) == 1


def test_rule_without_peers_or_ports_allows_all() -> None:
    policy = policy_of("  podSelector: {}\n  ingress:\n    - {}\n    - from: []\n      ports: []\n")
    assert all(r.allows_all_peers and r.allows_all_ports for r in policy.ingress)


def test_empty_rule_list_allows_nothing() -> None:
    policy = policy_of("  podSelector: {}\n  policyTypes: [Ingress]\n  ingress: []\n")
    assert policy.isolates(Direction.INGRESS) and policy.ingress == ()


def test_port_protocol_defaults_to_tcp_and_named_ports_stay_names() -> None:
    policy = policy_of(
        "  podSelector: {}\n  ingress:\n    - ports:\n        - port: http\n"
        "        - {protocol: UDP, port: 53}\n        - {port: 8000, endPort: 8080}\n"
    )
    first, second, third = policy.ingress[0].ports
    assert (first.protocol, first.port, first.protocol_declared) == ("TCP", "http", False)
    assert first.is_named
    assert (second.protocol, second.port) == ("UDP", 53)
    assert (third.port, third.end_port) == (8000, 8080)


def test_objects_without_namespace_get_the_default_namespace() -> None:
    policy = policy_of("  podSelector: {}\n", namespace=None)
    assert policy.namespace == "default" and not policy.namespace_declared
    other = objects(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n",
        default_namespace="team-a",
    ).objects[0]
    assert isinstance(other, Workload) and other.namespace == "team-a"


def test_namespaces_carry_the_metadata_name_label() -> None:
    ns = objects("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {a: b}\n")
    namespace = ns.objects[0]
    assert namespace.labels == {"a": "b", NAME_LABEL: "shop"}  # type: ignore[union-attr]


def test_pod_labels_come_from_the_pod_template() -> None:
    result = objects(
        """\
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: shop, labels: {owner: me}}
spec:
  jobTemplate:
    spec:
      template:
        metadata: {labels: {app: report}}
        spec:
          containers:
            - name: c
              ports: [{name: metrics, containerPort: 9090}]
"""
    )
    job = result.objects[0]
    assert isinstance(job, Workload)
    assert job.pod_labels == {"app": "report"}
    assert [(p.name, p.port, p.protocol) for p in job.ports] == [("metrics", 9090, "TCP")]


REPO = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: store}}
---
apiVersion: v1
kind: Namespace
metadata: {name: bank, labels: {team: money}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: []}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop, labels: {app: api}}
spec: {containers: []}
---
apiVersion: v1
kind: Pod
metadata: {name: teller, namespace: bank, labels: {app: web}}
spec: {containers: []}
---
apiVersion: v1
kind: Pod
metadata: {name: job, namespace: batch, labels: {app: web}}
spec: {containers: []}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
    - from:
        - namespaceSelector: {matchLabels: {team: money}}
          podSelector: {matchLabels: {app: web}}
    - from:
        - namespaceSelector: {matchLabels: {team: money}}
        - podSelector: {matchLabels: {app: web}}
    - from:
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: batch}}
        - namespaceSelector: {matchLabels: {team: other}}
"""


@pytest.fixture(scope="module")
def index() -> Index:
    return Index([objects(REPO)])


def names(workloads: object) -> list[str]:
    return sorted(f"{w.namespace}/{w.name}" for w in workloads)  # type: ignore[attr-defined]


def test_policy_selects_pods_of_its_own_namespace_only(index: Index) -> None:
    policy = index.policies[0]
    assert names(index.selected_workloads(policy)) == ["shop/web"]
    teller = next(w for w in index.workloads if w.name == "teller")
    assert index.policies_selecting(teller) == []


def test_and_peer_intersects_namespace_and_pods(index: Index) -> None:
    policy = index.policies[0]
    match = index.peer_workloads(policy, policy.ingress[0].peers[0])
    assert names(match.workloads) == ["bank/teller"]
    # Namespaces the repo does not declare (batch, kube-system...) might carry team=money too.
    assert not match.complete


def test_or_peers_are_separate_sets(index: Index) -> None:
    policy = index.policies[0]
    ns_only, pods_only = policy.ingress[1].peers
    assert names(index.peer_workloads(policy, ns_only).workloads) == ["bank/teller"]
    assert names(index.peer_workloads(policy, pods_only).workloads) == ["shop/web"]


def test_undeclared_namespaces_are_known_by_name_only(index: Index) -> None:
    policy = index.policies[0]
    by_name, by_label = policy.ingress[2].peers
    assert index.is_known("batch") and not index.is_declared("batch")
    assert index.namespace_selector_matches(by_name.namespace_selector, "batch") is True  # type: ignore[arg-type]
    # batch's other labels are unknown: neither a match nor a miss.
    assert index.namespace_selector_matches(by_label.namespace_selector, "batch") is None  # type: ignore[arg-type]
    assert index.namespace_selector_matches(by_label.namespace_selector, "shop") is False  # type: ignore[arg-type]
    match = index.namespaces_matching(by_label.namespace_selector)  # type: ignore[arg-type]
    assert match.matched == () and "batch" in match.unknown
    assert not index.peer_workloads(policy, by_label).complete


def test_builtin_namespaces_always_exist(index: Index) -> None:
    assert all(index.is_known(ns) for ns in ("default", "kube-system", "kube-public"))


def test_isolation_needs_the_direction(index: Index) -> None:
    web = next(w for w in index.workloads if w.name == "web")
    assert index.isolating_policies(web, Direction.INGRESS) == [index.policies[0]]
    assert index.isolating_policies(web, Direction.EGRESS) == []


def test_kustomize_patch_files_are_not_linted_as_objects(tmp_path: Path) -> None:
    from conftest import lint

    (tmp_path / "base").mkdir()
    (tmp_path / "overlay").mkdir()
    (tmp_path / "base" / "np.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np}\n"
        "spec: {podSelector: {}}\n"
    )
    (tmp_path / "overlay" / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources: [../base]\npatches:\n  - path: np-patch.yaml\n"
        "patchesStrategicMerge:\n  - delete-job.yaml\n"
    )
    # A partial policy: no podSelector, which NL002 would report in a real object.
    (tmp_path / "overlay" / "np-patch.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np}\n"
        "spec:\n  policyTypes: [Ingress]\n"
    )
    (tmp_path / "overlay" / "delete-job.yaml").write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\n$patch: delete\n"
    )
    report = lint(tmp_path, select=["NL0"])
    assert report.findings == []
    assert report.objects["NetworkPolicy"] == 1 and report.objects["Workload"] == 0


def test_dns_policy_is_read_from_the_pod_spec() -> None:
    pod = objects(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
        "spec: {dnsPolicy: Default, containers: []}\n"
    ).objects[0]
    assert isinstance(pod, Workload) and pod.dns_policy == "Default"


def test_a_peer_naming_a_namespace_outside_the_repo_is_incomplete(index: Index) -> None:
    from dataclasses import replace

    policy = index.policies[0]
    by_name = policy.ingress[2].peers[0]
    selector = by_name.namespace_selector
    assert selector is not None
    requirement = replace(selector.requirements[0], values=frozenset({"ingress-nginx"}))
    elsewhere = replace(by_name, namespace_selector=replace(selector, requirements=(requirement,)))
    match = index.peer_workloads(policy, elsewhere)
    assert match.workloads == () and not match.complete
    assert index.namespaces_matching(elsewhere.namespace_selector).outside == ("ingress-nginx",)  # type: ignore[arg-type]
