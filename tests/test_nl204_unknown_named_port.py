"""NL204 unknown-named-port: which pods are checked, protocols, and when to stay silent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import lint

Write = Callable[[str, str], Path]


def workload(name: str, namespace: str, ports: str) -> str:
    return (
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata:\n"
        f"  name: {name}\n"
        f"  namespace: {namespace}\n"
        "spec:\n"
        f"  selector: {{matchLabels: {{app: {name}}}}}\n"
        "  template:\n"
        f"    metadata: {{labels: {{app: {name}}}}}\n"
        f"    spec: {{containers: [{{name: main, image: busybox, ports: [{ports}]}}]}}\n"
    )


def ingress(app: str, port: str) -> str:
    return (
        "apiVersion: networking.k8s.io/v1\n"  # 1
        "kind: NetworkPolicy\n"  # 2
        "metadata: {name: in, namespace: shop}\n"  # 3
        "spec:\n"  # 4
        f"  podSelector: {{matchExpressions: [{{key: app, operator: In, values: [{app}]}}]}}\n"
        "  ingress:\n"  # 6
        "    - ports:\n"  # 7
        f"        - {port}\n"  # 8
    )


def egress(peers: str, port: str) -> str:
    return (
        "apiVersion: networking.k8s.io/v1\n"  # 1
        "kind: NetworkPolicy\n"  # 2
        "metadata: {name: out, namespace: shop}\n"  # 3
        "spec:\n"  # 4
        "  podSelector: {}\n"  # 5
        "  policyTypes: [Egress]\n"  # 6
        "  egress:\n"  # 7
        f"    - to: [{peers}]\n"  # 8
        "      ports:\n"  # 9
        f"        - {port}\n"  # 10
    )


def run(tmp_path: Path) -> list[str]:
    """Each finding as ``path:line:col message | fix``."""
    report = lint(tmp_path, select=["NL204"])
    return [
        f"{f.span.path}:{f.span.line}:{f.span.col} {f.message} | {f.fix}" for f in report.findings
    ]


def test_one_selected_pod_declaring_the_port_is_enough(tmp_path: Path, write: Write) -> None:
    write("a.yaml", workload("a", "shop", "{name: http, containerPort: 80}"))
    write("b.yaml", workload("b", "shop", "{name: grpc, containerPort: 90}"))
    write("ok.yaml", ingress("a, b", "port: http"))
    write("typo.yaml", ingress("a, b", "port: htp"))
    (finding,) = run(tmp_path)
    assert finding == (
        "typo.yaml:8:17 ingress[0] of NetworkPolicy shop/in allows named port 'htp' (TCP), which "
        "no container of the pods it selects declares | Did you mean 'http'? Pods checked: "
        "Deployment shop/a, Deployment shop/b."
    )


def test_protocol_must_match_too(tmp_path: Path, write: Write) -> None:
    write("w.yaml", workload("a", "shop", "{name: syslog, containerPort: 514, protocol: UDP}"))
    write("tcp.yaml", ingress("a", "port: syslog"))
    write("udp.yaml", ingress("a", "{port: syslog, protocol: UDP}"))
    (finding,) = run(tmp_path)
    assert finding.startswith("tcp.yaml:8:17 ")
    assert "'syslog' (TCP)" in finding
    assert "declare 'syslog' only as UDP: set `protocol: UDP`" in finding


def test_pods_without_named_ports_suggest_the_number(tmp_path: Path, write: Write) -> None:
    write("w.yaml", workload("a", "shop", "{containerPort: 8080}"))
    write("p.yaml", ingress("a", "port: http"))
    (finding,) = run(tmp_path)
    assert finding.startswith("p.yaml:8:17 ")
    assert finding.endswith(
        "| They declare no named TCP port: use the port number. Pods checked: Deployment shop/a."
    )


def test_policy_selecting_no_declared_pod_is_not_judged(tmp_path: Path, write: Write) -> None:
    write("w.yaml", workload("a", "shop", "{name: http, containerPort: 80}"))
    write("p.yaml", ingress("nothing-declared", "port: nope"))
    assert run(tmp_path) == []


def test_egress_checks_the_pods_of_every_peer(tmp_path: Path, write: Write) -> None:
    write("w.yaml", workload("db", "shop", "{name: pg, containerPort: 5432}"))
    write("cache.yaml", workload("cache", "shop", "{name: redis, containerPort: 6379}"))
    peers = "{podSelector: {matchLabels: {app: db}}}, {podSelector: {matchLabels: {app: cache}}}"
    write("ok.yaml", egress(peers, "port: redis"))
    write("bad.yaml", egress(peers, "port: postgres"))
    (finding,) = run(tmp_path)
    assert finding.startswith("bad.yaml:10:17 egress[0] of NetworkPolicy shop/out allows named ")
    assert "which no container of the pods its peers select declares" in finding
    assert finding.endswith("Pods checked: Deployment shop/db, Deployment shop/cache.")


def test_egress_with_a_peer_the_repo_cannot_list_is_silent(tmp_path: Path, write: Write) -> None:
    write("w.yaml", workload("db", "shop", "{name: pg, containerPort: 5432}"))
    db = "{podSelector: {matchLabels: {app: db}}}"
    # payments has no declared workload; an ipBlock can hold any pod.
    unknown_ns = "{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: payments}}}"
    write("a.yaml", egress(f"{db}, {unknown_ns}", "port: postgres"))
    write("b.yaml", egress(f"{db}, {{ipBlock: {{cidr: 10.0.0.0/8}}}}", "port: postgres"))
    write("c.yaml", egress("", "port: postgres"))
    assert run(tmp_path) == []
