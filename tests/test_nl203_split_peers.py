"""NL203 split-peers: which adjacent namespaceSelector/podSelector pairs are reported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import found, lint

Write = Callable[[str, str], Path]


def workload(name: str, namespace: str, app: str) -> str:
    return (
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata:\n"
        f"  name: {name}\n"
        f"  namespace: {namespace}\n"
        "spec:\n"
        f"  selector: {{matchLabels: {{app: {app}}}}}\n"
        "  template:\n"
        f"    metadata: {{labels: {{app: {app}}}}}\n"
        "    spec: {containers: [{name: main, image: busybox}]}\n"
    )


def policy(peers: str, *, namespace: str = "shop", extra: str = "") -> str:
    return (
        "apiVersion: networking.k8s.io/v1\n"  # 1
        "kind: NetworkPolicy\n"  # 2
        "metadata:\n"  # 3
        "  name: api\n"  # 4
        f"  namespace: {namespace}\n"  # 5
        "spec:\n"  # 6
        f"  podSelector: {{}}\n{extra}"  # 7
        "  ingress:\n"  # 8
        "    - from:\n"  # 9
        f"{peers}"  # 10...
    )


NS_ALL = "        - namespaceSelector: {}\n"


def ns(name: str) -> str:
    return (
        f"        - namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: {name}}}}}\n"
    )


def pods(app: str) -> str:
    return f"        - podSelector: {{matchLabels: {{app: {app}}}}}\n"


def run(tmp_path: Path) -> set[tuple[str, int, str]]:
    return found(lint(tmp_path, select=["NL203"]))


def test_each_pair_is_reported_once_and_items_are_not_reused(tmp_path: Path, write: Write) -> None:
    # ns, pod, ns, pod: the middle (pod, ns) pair must not be reported as a reverse-order pair.
    write("p.yaml", policy(NS_ALL + pods("a") + NS_ALL + pods("b")))
    assert run(tmp_path) == {("p.yaml", 11, "NL203"), ("p.yaml", 13, "NL203")}


def test_reverse_order_points_at_the_namespace_selector(tmp_path: Path, write: Write) -> None:
    write("p.yaml", policy(pods("a") + NS_ALL))
    report = lint(tmp_path, select=["NL203"])
    (finding,) = report.findings
    assert (finding.span.line, finding.span.col) == (11, 11)
    assert finding.message == (
        "NetworkPolicy shop/api, ingress[0]: from[0] and from[1] are ORed peers: every pod in "
        "every namespace, or pods app=a in shop"
    )
    assert finding.fix is not None
    assert finding.fix.endswith("remove the `-` before `namespaceSelector:`.")
    assert [r.span.line for r in finding.related] == [10]


def test_or_reaching_pods_of_the_own_namespace_is_left_alone(tmp_path: Path, write: Write) -> None:
    write("w.yaml", workload("web", "shop", "web") + "---\n" + workload("m", "monitoring", "web"))
    write("p.yaml", policy(ns("monitoring") + pods("web")))
    assert run(tmp_path) == set()


def test_pods_that_run_only_in_the_selected_namespace(tmp_path: Path, write: Write) -> None:
    write("w.yaml", workload("api", "shop", "api") + "---\n" + workload("p", "monitoring", "prom"))
    write("p.yaml", policy(ns("monitoring") + pods("prom")))
    report = lint(tmp_path, select=["NL203"])
    assert found(report) == {("p.yaml", 11, "NL203")}
    assert "Deployment monitoring/p in namespace monitoring does" in str(report.findings[0].fix)


def test_silent_when_the_labelled_pods_run_nowhere_the_repo_knows(
    tmp_path: Path, write: Write
) -> None:
    # shop's pods are known and none is app=prom, but neither is any pod of monitoring: the
    # selector may be dangling (NL102's business) rather than split.
    write("w.yaml", workload("api", "shop", "api"))
    write("p.yaml", policy(ns("monitoring") + pods("prom")))
    assert run(tmp_path) == set()


def test_namespace_selector_covering_the_own_namespace_by_label(
    tmp_path: Path, write: Write
) -> None:
    write(
        "ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {team: retail}\n",
    )
    peers = "        - namespaceSelector: {matchLabels: {team: retail}}\n" + pods("prom")
    write("p.yaml", policy(peers))
    report = lint(tmp_path, select=["NL203"])
    assert found(report) == {("p.yaml", 11, "NL203")}
    assert "already allows every pod of shop" in str(report.findings[0].fix)


def test_peers_that_are_not_plain_halves_do_not_pair(tmp_path: Path, write: Write) -> None:
    both = "        - namespaceSelector: {}\n          podSelector: {matchLabels: {app: x}}\n"
    block = "        - ipBlock: {cidr: 10.0.0.0/8}\n"
    write(
        "p.yaml",
        policy(
            NS_ALL + block + pods("a") + both + pods("b") + NS_ALL + "          podSelector: {}\n"
        ),
    )
    assert run(tmp_path) == set()


def test_invalid_policies_are_skipped(tmp_path: Path, write: Write) -> None:
    write("ok.yaml", policy(NS_ALL + pods("a"), extra="  policyTypes: [Ingress]\n"))
    write("bad.yaml", policy(NS_ALL + pods("a"), extra="  policyTypes: [ingress]\n"))
    assert run(tmp_path) == {("ok.yaml", 12, "NL203")}
