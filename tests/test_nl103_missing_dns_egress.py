"""NL103 missing-dns-egress: semantics the fixtures do not show well."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from conftest import found, lint
from test_connectivity import _random_repo, namespace, pod

import netlint.rules.nl103_missing_dns_egress as nl103_module
from netlint.analysis.reach import explain
from netlint.analysis.tri import Tri
from netlint.core.findings import Finding
from netlint.core.model import Direction
from netlint.run.runner import CheckRequest, UsageError, layout

CODE = "NL103"


def policy(
    name: str,
    namespace: str,
    selector: str,
    egress: str | None = None,
    types: str | None = "[Egress]",
) -> str:
    """A NetworkPolicy; ``selector`` and ``egress`` are flow-style YAML."""
    text = (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        f"metadata:\n  name: {name}\n  namespace: {namespace}\n"
        f"spec:\n  podSelector: {selector}\n"
    )
    if types is not None:
        text += f"  policyTypes: {types}\n"
    if egress is not None:
        text += f"  egress: {egress}\n"
    return text


def deployment(name: str, namespace: str, labels: str, extra: str = "") -> str:
    return (
        "apiVersion: apps/v1\nkind: Deployment\n"
        f"metadata:\n  name: {name}\n  namespace: {namespace}\n"
        "spec:\n  template:\n"
        f"    metadata:\n      labels: {labels}\n"
        f"    spec:\n{extra}      containers: [{{name: c, image: 'registry.example.com/c:1'}}]\n"
    )


def coredns(port: int) -> dict[str, Any]:
    """Declared cluster DNS pods listening on ``port``, named as CoreDNS names them."""
    return pod(
        "coredns",
        "kube-system",
        {"k8s-app": "kube-dns"},
        [
            {"name": "dns", "containerPort": port, "protocol": "UDP"},
            {"name": "dns-tcp", "containerPort": port, "protocol": "TCP"},
        ],
    )


STANDARD_DNS = (
    "[{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, "
    "podSelector: {matchLabels: {k8s-app: kube-dns}}}], "
    "ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]"
)


def run(root: Path, config: Path | None = None) -> list[Finding]:
    select = None if config else [CODE, "NL001", "NL002"]
    report = lint(root, [root], context=[root], select=select, config=config)
    return sorted(report.findings, key=lambda f: (f.span.path, f.span.line))


def docs(*parts: str) -> str:
    return "---\n".join(parts)


def test_anchor_is_the_egress_item_of_policy_types(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write("p.yaml", policy("lock", "shop", "{}", types="\n    - Ingress\n    - Egress"))
    assert found(lint(tmp_path, [tmp_path], select=[CODE])) == {("p.yaml", 10, CODE)}


def test_policy_types_without_egress_does_not_isolate_egress(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Egress rules under policyTypes [Ingress] are ignored by Kubernetes: nothing is isolated.
    write("p.yaml", policy("in-only", "shop", "{}", egress="[]", types="[Ingress]"))
    assert run(tmp_path) == []


def test_dns_in_an_ingress_only_policy_does_not_count(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write(
        "p.yaml",
        docs(
            policy("deny-egress", "shop", "{}"),
            policy("allow-dns", "shop", "{}", egress=STANDARD_DNS, types="[Ingress]"),
        ),
    )
    assert found(lint(tmp_path, [tmp_path], select=[CODE])) == {("p.yaml", 8, CODE)}


def test_dns_from_another_policy_counts_only_for_the_pods_it_selects(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write(
        "workloads.yaml",
        docs(
            deployment("api", "shop", "{app: api}"),
            deployment("worker", "shop", "{app: worker}"),
        ),
    )
    write("deny.yaml", policy("deny-egress", "shop", "{}"))
    write("dns.yaml", policy("dns-api", "shop", "{matchLabels: {app: api}}", egress=STANDARD_DNS))
    findings = run(tmp_path)
    assert [(f.span.path, f.span.line) for f in findings] == [("deny.yaml", 8)]
    assert "Deployment shop/worker" in findings[0].message
    assert "shop/api" not in findings[0].message


def test_message_names_at_most_three_workloads(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write(
        "workloads.yaml",
        docs(*(deployment(f"app{i}", "shop", f"{{app: app{i}}}") for i in range(7))),
    )
    write("deny.yaml", policy("deny-egress", "shop", "{}", egress="[]"))
    (finding,) = run(tmp_path)
    assert finding.span.line == 8
    assert "Deployment shop/app2 and 4 more" in finding.message
    assert "app3" not in finding.message
    assert len(finding.message) <= 120


def test_host_network_pods_and_the_dns_pods_themselves_are_not_judged(  # type: ignore[no-untyped-def]
    write, tmp_path: Path
) -> None:
    write(
        "workloads.yaml",
        docs(
            deployment("coredns", "kube-system", "{k8s-app: kube-dns}"),
            deployment("agent", "kube-system", "{k8s-app: agent}", "      hostNetwork: true\n"),
            deployment("metrics", "kube-system", "{k8s-app: metrics-server}"),
        ),
    )
    write("coredns.yaml", policy("coredns", "kube-system", "{matchLabels: {k8s-app: kube-dns}}"))
    write("agent.yaml", policy("agent", "kube-system", "{matchLabels: {k8s-app: agent}}"))
    write(
        "metrics.yaml", policy("metrics", "kube-system", "{matchLabels: {k8s-app: metrics-server}}")
    )
    findings = run(tmp_path)
    assert [(f.span.path, f.span.line) for f in findings] == [("metrics.yaml", 8)]


def test_a_pod_selector_alone_reaches_dns_from_the_dns_namespace(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    egress = (
        "[{to: [{podSelector: {matchLabels: {k8s-app: kube-dns}}}], "
        "ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]"
    )
    write("ks.yaml", policy("metrics", "kube-system", "{matchLabels: {k8s-app: metrics}}", egress))
    write("shop.yaml", policy("api", "shop", "{matchLabels: {app: api}}", egress))
    findings = run(tmp_path)
    assert [(f.span.path, f.span.line) for f in findings] == [("shop.yaml", 8)]
    # The explanation is the fix, and a related location at the podSelector.
    assert "a podSelector alone selects pods in namespace shop" in (findings[0].fix or "")
    assert findings[0].related[0].span.line == 9


def test_undeclared_kube_system_selected_by_other_labels_is_unknown(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    egress = (
        "[{to: [{namespaceSelector: {matchLabels: {name: kube-system}}}], "
        "ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]"
    )
    write("p.yaml", policy("dns", "shop", "{}", egress))
    assert run(tmp_path) == []
    # Once the repo declares kube-system without that label, the selector misses it.
    write("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kube-system\n")
    assert found(lint(tmp_path, [tmp_path], select=[CODE])) == {("p.yaml", 8, CODE)}


def test_dns_pod_labels_beyond_the_configured_ones_are_unknown(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    egress = (
        "[{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, "
        "podSelector: {matchLabels: {app.kubernetes.io/name: coredns}}}], "
        "ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]"
    )
    write("p.yaml", policy("dns", "shop", "{}", egress))
    assert run(tmp_path) == []  # the DNS pods may carry that label too
    # When the repo declares the DNS pods, their labels are known.
    write("coredns.yaml", deployment("coredns", "kube-system", "{k8s-app: kube-dns}"))
    assert found(lint(tmp_path, [tmp_path], select=[CODE])) == {("p.yaml", 8, CODE)}
    # A label the DNS pods surely carry with another value misses them even when undeclared.
    (tmp_path / "coredns.yaml").unlink()
    write(
        "p.yaml", policy("dns", "shop", "{}", egress.replace("app.kubernetes.io/name", "k8s-app"))
    )
    assert found(lint(tmp_path, [tmp_path], select=[CODE])) == {("p.yaml", 8, CODE)}


@pytest.mark.parametrize(
    ("ports", "expected"),
    [
        ("[{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]", None),
        ("[{protocol: UDP, port: 50, endPort: 60}, {protocol: TCP, port: 53}]", None),
        ("[{protocol: UDP, port: dns}, {protocol: TCP, port: dns-tcp}]", None),
        ("[{protocol: UDP}, {protocol: TCP}]", None),
        ("[{port: 53}]", "UDP port 53 is blocked (only TCP is allowed)"),
        ("[{port: dns}]", "UDP port 53 is blocked (only TCP is allowed)"),
        ("[{protocol: UDP, port: 53}]", "TCP port 53 is blocked"),
        ("[{protocol: UDP, port: 5353}, {protocol: TCP, port: 5353}]", "DNS (UDP and TCP port 53)"),
        ("[{protocol: UDP, port: 54, endPort: 60}]", "DNS (UDP and TCP port 53)"),
    ],
)
def test_ports(write, tmp_path: Path, ports: str, expected: str | None) -> None:  # type: ignore[no-untyped-def]
    write("p.yaml", policy("p", "shop", "{}", f"[{{ports: {ports}}}]"))
    findings = run(tmp_path)
    if expected is None:
        assert findings == []
    else:
        assert [(f.span.line, f.code) for f in findings] == [(8, CODE)]
        assert expected in findings[0].message


def test_port_without_protocol_is_explained(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write(
        "p.yaml",
        policy("p", "shop", "{}", "\n    - ports:\n        - port: 53\n") + "\n",
    )
    (finding,) = run(tmp_path)
    assert finding.span.line == 8
    assert "UDP port 53 is blocked (only TCP is allowed)" in finding.message
    assert "port 53 has no protocol, which defaults to TCP" in (finding.fix or "")
    assert [r.span.line for r in finding.related] == [11]


def test_require_tcp_false_accepts_udp_only(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write("p.yaml", policy("p", "shop", "{}", "[{ports: [{protocol: UDP, port: 53}]}]"))
    assert [f.span.line for f in run(tmp_path)] == [8]
    config = write(
        ".netlint.yaml", f"select: [{CODE}]\nrules:\n  {CODE}:\n    require-tcp: false\n"
    )
    assert run(tmp_path, config) == []


def test_ip_option_counts_only_blocks_containing_a_dns_address(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    def block(cidr: str, extra: str = "") -> str:
        return (
            f"[{{to: [{{ipBlock: {{cidr: {cidr}{extra}}}}}], "
            "ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]"
        )

    write("a.yaml", policy("a", "a", "{}", block("169.254.0.0/16")))
    write("b.yaml", policy("b", "b", "{}", block("169.254.0.0/16", ", except: [169.254.20.0/24]")))
    write("c.yaml", policy("c", "c", "{}", block("10.96.0.10/32")))
    # Without the option the DNS address is unknown: any ipBlock may hold it.
    assert run(tmp_path) == []
    config = write(
        ".netlint.yaml", f"select: [{CODE}]\nrules:\n  {CODE}:\n    ip: [169.254.20.10]\n"
    )
    findings = run(tmp_path, config)
    assert [(f.span.path, f.span.line) for f in findings] == [("b.yaml", 8), ("c.yaml", 8)]
    assert "does not contain the configured DNS address (169.254.20.10)" in (findings[1].fix or "")


def test_options_are_validated(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write("p.yaml", policy("p", "shop", "{}"))
    config = write(".netlint.yaml", f"rules:\n  {CODE}:\n    ports: ['53']\n    ip: [dns.local]\n")
    with pytest.raises(UsageError) as error:
        run(tmp_path, config)
    assert ".netlint.yaml:3:" in str(error.value)
    assert ".netlint.yaml:4:" in str(error.value)


def test_an_invalid_policy_is_skipped_and_makes_its_pods_unknown(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write("w.yaml", deployment("api", "shop", "{app: api}"))
    write("deny.yaml", policy("deny-egress", "shop", "{}"))
    # protocol must be upper case: the API server rejects this one, which may be meant for DNS.
    write("dns.yaml", policy("dns", "shop", "{}", "[{ports: [{protocol: udp, port: 53}]}]"))
    report = lint(tmp_path, [tmp_path], select=[CODE, "NL002"])
    assert found(report) == {("dns.yaml", 9, "NL002")}


# -- what else may decide: AdminNetworkPolicies, other engines (the reachability core's tiers)


def admin_policy(action: str, *, kind: str = "AdminNetworkPolicy", priority: int = 10) -> str:
    """An AdminNetworkPolicy (or the baseline) of every namespace with one egress rule to the
    cluster DNS pods on UDP and TCP 53."""
    name = "default" if kind == "BaselineAdminNetworkPolicy" else "dns"
    return (
        f"apiVersion: policy.networking.k8s.io/v1alpha1\nkind: {kind}\n"
        f"metadata:\n  name: {name}\nspec:\n"
        + (f"  priority: {priority}\n" if kind == "AdminNetworkPolicy" else "")
        + "  subject:\n    namespaces: {}\n"
        f"  egress:\n  - name: dns\n    action: {action}\n"
        "    to:\n    - pods:\n"
        "        namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}\n"
        "        podSelector: {matchLabels: {k8s-app: kube-dns}}\n"
        "    ports:\n    - portNumber: {protocol: UDP, port: 53}\n"
        "    - portNumber: {protocol: TCP, port: 53}\n"
    )


@pytest.mark.parametrize("declared", [True, False])
def test_an_admin_network_policy_that_allows_dns_silences_it(  # type: ignore[no-untyped-def]
    write, tmp_path: Path, declared: bool
) -> None:
    # An AdminNetworkPolicy is evaluated before every NetworkPolicy: its Allow lets the pods
    # resolve whatever the NetworkPolicies say (a common cluster-wide allow-dns).
    if declared:
        write("w.yaml", deployment("api", "shop", "{app: api}"))
    write("deny.yaml", policy("deny-egress", "shop", "{}"))
    assert {(f.span.path, f.span.line) for f in run(tmp_path)} == {("deny.yaml", 8)}
    write("anp.yaml", admin_policy("Allow"))
    assert run(tmp_path) == []


def test_an_admin_network_policy_that_passes_dns_leaves_it_to_the_policies(  # type: ignore[no-untyped-def]
    write, tmp_path: Path
) -> None:
    write("w.yaml", deployment("api", "shop", "{app: api}"))
    write("deny.yaml", policy("deny-egress", "shop", "{}"))
    write("anp.yaml", admin_policy("Pass"))
    findings = run(tmp_path)
    assert [(f.span.path, f.span.line) for f in findings] == [("deny.yaml", 8)]
    assert "Deployment shop/api" in findings[0].message


def test_an_admin_network_policy_that_denies_dns_is_named_as_the_cause(  # type: ignore[no-untyped-def]
    write, tmp_path: Path
) -> None:
    # The NetworkPolicy allows DNS, but a Deny evaluated before it blocks it: the finding says
    # which policy to change, since no NetworkPolicy rule can help.
    write("w.yaml", deployment("api", "shop", "{app: api}"))
    write("dns.yaml", policy("allow-dns", "shop", "{}", egress=STANDARD_DNS))
    assert run(tmp_path) == []
    write("anp.yaml", admin_policy("Deny"))
    findings = run(tmp_path)
    assert [(f.span.path, f.span.line) for f in findings] == [("dns.yaml", 8)]
    assert "AdminNetworkPolicy dns denies it before any NetworkPolicy" in findings[0].message
    assert findings[0].fix is not None and "no NetworkPolicy can override" in findings[0].fix


def test_declared_dns_pods_resolve_named_ports_by_name_and_protocol(  # type: ignore[no-untyped-def]
    write, tmp_path: Path
) -> None:
    # The repo declares the DNS pods: a named port is theirs, with its protocol and number
    # (5353 here, a DNS port because it carries a DNS port name).
    write("dns.yaml", json.dumps(coredns(5353)))
    write("w.yaml", deployment("api", "shop", "{app: api}"))
    peer = (
        "to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, "
        "podSelector: {matchLabels: {k8s-app: kube-dns}}}]"
    )
    named = f"[{{{peer}, ports: [{{protocol: UDP, port: dns}}, {{protocol: TCP, port: dns-tcp}}]}}]"
    write("p.yaml", policy("egress", "shop", "{}", egress=named))
    assert run(tmp_path) == []
    # dns is the UDP port's name: TCP "dns" names no port of the DNS pods.
    crossed = f"[{{{peer}, ports: [{{protocol: UDP, port: dns}}, {{protocol: TCP, port: dns}}]}}]"
    write("p.yaml", policy("egress", "shop", "{}", egress=crossed))
    findings = run(tmp_path)
    assert [(f.span.path, f.span.line) for f in findings] == [("p.yaml", 8)]
    assert "TCP port 53 is blocked" in findings[0].message


def test_the_baseline_does_not_reach_pods_a_policy_isolates(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # The BaselineAdminNetworkPolicy applies only where no NetworkPolicy isolates the pods.
    write("w.yaml", deployment("api", "shop", "{app: api}"))
    write("deny.yaml", policy("deny-egress", "shop", "{}"))
    write("banp.yaml", admin_policy("Allow", kind="BaselineAdminNetworkPolicy"))
    assert [(f.span.path, f.span.line) for f in run(tmp_path)] == [("deny.yaml", 8)]


def test_an_other_engines_cluster_wide_policy_makes_dns_unknown(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Calico's GlobalNetworkPolicy allow-dns is the usual way to allow DNS on Calico: netlint
    # does not model it, so whether the pods resolve is unknown, and NL103 is silent.
    write("w.yaml", deployment("api", "shop", "{app: api}"))
    write("deny.yaml", policy("deny-egress", "shop", "{}"))
    write(
        "calico.yaml",
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\n"
        "metadata:\n  name: allow-dns\nspec:\n  selector: all()\n  types: [Egress]\n"
        "  egress:\n  - action: Allow\n    protocol: UDP\n    destination:\n"
        "      ports: [53]\n",
    )
    assert run(tmp_path) == []


# -- the pod judged for a policy that selects no declared pod ---------------------------------


def test_hypothetical_pod_with_several_possible_values_is_unknown(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    selector = "{matchExpressions: [{key: app, operator: In, values: [api, web]}]}"
    write("deny.yaml", policy("deny", "shop", selector))
    # Allows DNS for app=api only: the pod may be app=web, so the repo cannot tell.
    write("dns.yaml", policy("dns", "shop", "{matchLabels: {app: api}}", STANDARD_DNS))
    assert run(tmp_path) == []
    # Allowed for neither value: surely blocked.
    write("dns.yaml", policy("dns", "shop", "{matchLabels: {app: db}}", STANDARD_DNS))
    assert found(lint(tmp_path, [tmp_path], select=[CODE])) == {("deny.yaml", 8, CODE)}


def test_hypothetical_pod_carries_only_required_labels(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write(
        "deny.yaml",
        policy(
            "deny",
            "shop",
            "{matchLabels: {app: api}, matchExpressions: [{key: canary, operator: DoesNotExist},"
            " {key: tier, operator: Exists}]}",
        ),
    )
    # Selects pods without `canary` and any `tier`: the hypothetical pod is one of them.
    dns = "{matchExpressions: [{key: canary, operator: NotIn, values: ['true']}]}"
    write("dns.yaml", policy("dns", "shop", dns, STANDARD_DNS))
    assert run(tmp_path) == []
    # A policy requiring a label the selector does not require does not select that pod.
    write("dns.yaml", policy("dns", "shop", "{matchLabels: {app: api, team: a}}", STANDARD_DNS))
    findings = run(tmp_path)
    assert [(f.span.path, f.span.line) for f in findings] == [("deny.yaml", 8)]
    assert "pods matching app=api,!canary,tier in shop (none declared)" in findings[0].message


def test_unsatisfiable_selector_is_not_judged(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    selector = "{matchLabels: {app: api}, matchExpressions: [{key: app, operator: DoesNotExist}]}"
    write("deny.yaml", policy("deny", "shop", selector))
    assert run(tmp_path) == []


def test_pods_that_do_not_use_cluster_dns_are_not_judged(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write(
        "workloads.yaml",
        docs(
            deployment("node-dns", "shop", "{app: node-dns}", "      dnsPolicy: Default\n"),
            deployment("custom", "shop", "{app: custom}", "      dnsPolicy: None\n"),
            deployment("web", "shop", "{app: web}", "      dnsPolicy: ClusterFirst\n"),
        ),
    )
    write("deny.yaml", policy("deny-egress", "shop", "{}", egress="[]"))
    findings = run(tmp_path)
    assert [(f.span.path, f.span.line) for f in findings] == [("deny.yaml", 8)]
    assert "web" in findings[0].message
    assert "node-dns" not in findings[0].message and "custom" not in findings[0].message


def test_message_is_short_and_the_fix_says_what_to_allow(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write("w.yaml", deployment("api", "shop", "{app: api}"))
    write("deny.yaml", policy("deny-egress", "shop", "{}", egress="[]"))
    (finding,) = run(tmp_path)
    assert finding.message == "DNS (UDP and TCP port 53) is blocked for Deployment shop/api"
    assert finding.fix is not None
    assert "Allow UDP and TCP port 53" in finding.fix
    assert "kubernetes.io/metadata.name=kube-system" in finding.fix
    assert "k8s-app=kube-dns" in finding.fix


def test_tcp_only_blocked_has_its_own_fix(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write("p.yaml", policy("p", "shop", "{}", "[{ports: [{protocol: UDP, port: 53}]}]"))
    (finding,) = run(tmp_path)
    assert finding.message.startswith("TCP port 53 is blocked for every pod in namespace shop")
    assert "large responses and some resolvers need TCP" in (finding.fix or "")


def dns_egress(pod_selector: str) -> str:
    """An egress rule for UDP and TCP 53 to kube-system, with ``pod_selector`` (flow YAML)."""
    return (
        "[{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, "
        f"podSelector: {pod_selector}}}], "
        "ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]"
    )


def test_a_mislabelled_dns_peer_is_one_finding_at_its_pod_selector(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    selector = (
        "{matchLabels: {k8s-app: kube-dns}, matchExpressions: [{key: team, operator: Exists}]}"
    )
    write("p.yaml", policy("api", "shop", "{matchLabels: {app: api}}", dns_egress(selector)))
    (finding,) = run(tmp_path)
    # The podSelector key of the peer (in egress, line 9), not the Egress item (line 8).
    assert (finding.span.line, finding.span.col) == (9, 97)
    assert finding.message.startswith(
        "shop/api egress[0] looks meant for DNS (port 53), but its podSelector also requires "
        "team, which the DNS pods (k8s-app=kube-dns in namespace kube-system) do not carry: "
        "DNS (UDP and TCP port 53) is blocked for pods matching app=api in shop"
    )
    # The cause is the message; the fix says what to do, once; no related line repeats it.
    assert str(finding.fix).startswith("Drop it from the peer's podSelector")
    assert "looks meant for DNS" not in str(finding.fix)
    assert finding.related == ()


@pytest.mark.parametrize(
    "selector",
    [
        # NotIn and DoesNotExist match pods without the label, as the DNS pods are.
        "{matchLabels: {k8s-app: kube-dns}, matchExpressions: [{key: team, operator: NotIn, "
        "values: [a]}]}",
        "{matchLabels: {k8s-app: kube-dns}, matchExpressions: [{key: team, operator: "
        "DoesNotExist}]}",
        # Labels real DNS pods carry (AKS, EKS, a controller's hash).
        "{matchLabels: {k8s-app: kube-dns, kubernetes.io/cluster-service: 'true'}}",
        "{matchLabels: {k8s-app: kube-dns, eks.amazonaws.com/component: coredns}}",
        "{matchLabels: {k8s-app: kube-dns}, matchExpressions: [{key: pod-template-hash, "
        "operator: Exists}]}",
    ],
)
def test_dns_peers_the_dns_pods_may_match_are_not_reported(  # type: ignore[no-untyped-def]
    write, tmp_path: Path, selector: str
) -> None:
    write("p.yaml", policy("api", "shop", "{matchLabels: {app: api}}", dns_egress(selector)))
    assert run(tmp_path) == []


def test_pod_labels_option_names_labels_the_dns_pods_carry(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    selector = "{matchLabels: {k8s-app: kube-dns, team: platform}}"
    write("p.yaml", policy("api", "shop", "{matchLabels: {app: api}}", dns_egress(selector)))
    (finding,) = run(tmp_path)
    assert "also requires team=platform" in finding.message
    assert "set NL103's pod-labels option if the DNS pods do carry it" in str(finding.fix)
    labels = "{k8s-app: kube-dns, team: platform}"
    config = write(
        ".netlint.yaml", f"select: [{CODE}]\nrules:\n  {CODE}:\n    pod-labels: {labels}\n"
    )
    assert run(tmp_path, config) == []


def test_a_mislabelled_pod_selector_alone_names_both_mistakes(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    alone = (
        "[{to: [{podSelector: {matchLabels: {k8s-app: kube-dns, team: a}}}], "
        "ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]"
    )
    write("shop.yaml", policy("api", "shop", "{matchLabels: {app: api}}", alone))
    # In the DNS namespace itself a podSelector alone is right: only the label is wrong.
    write("ks.yaml", policy("agent", "kube-system", "{matchLabels: {k8s-app: agent}}", alone))
    shop, system = sorted(run(tmp_path), key=lambda f: f.span.path, reverse=True)
    assert "also requires team=a" in shop.message
    assert [r.message.split(": ", 1)[1] for r in shop.related] == [
        "a podSelector alone selects pods in namespace shop, not in kube-system; put a "
        "namespaceSelector for kube-system in the same peer"
    ]
    assert "also requires team=a" in system.message and system.related == ()


def _dns_rule(rng: random.Random) -> dict[str, Any]:
    return {
        "to": [
            {
                "namespaceSelector": rng.choice(
                    (
                        {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                        {"matchLabels": {"team": "x"}},
                        {},
                    )
                ),
                "podSelector": {"matchLabels": {"k8s-app": rng.choice(("kube-dns", "coredns"))}},
            }
        ],
        "ports": rng.choice(
            (
                [{"port": 53, "protocol": "UDP"}],
                [{"port": 53, "protocol": "TCP"}],
                [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                [{"port": "dns", "protocol": "UDP"}],
            )
        ),
    }


@pytest.mark.parametrize("seed", range(40))
def test_declared_dns_pods_agree_with_the_reachability_core_s(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where the repo declares the DNS pods, "can these pods reach DNS" is a pair question the
    # core (connectivity, explain) answers too. NL103 reports a protocol blocked only where the
    # core finds it denied to every DNS pod; and where the core denies it and no rule has an
    # ipBlock (which NL103 counts as maybe the DNS service IP), NL103 reports it.
    monkeypatch.setattr(nl103_module, "MAX_NAMED", 100)
    rng = random.Random(seed)
    # One name, one policy: NL103 judges each policy as written (one a same-named policy may
    # replace still blocks DNS where it is applied; NL206 reports the pair), the core what
    # the cluster keeps, so the two questions meet only where names are unique.
    docs = _random_repo(rng, same_names=False)
    for doc in docs:
        if doc["kind"] == "NetworkPolicy" and rng.random() < 0.5:
            doc["spec"].setdefault("egress", []).append(_dns_rule(rng))
    docs.append(coredns(53))
    if rng.random() < 0.5:
        docs.append(namespace("kube-system", rng.choice(({"team": "x"}, {}))))
    root = tmp_path / "r"
    root.mkdir()
    (root / "all.yaml").write_text("\n---\n".join(json.dumps(d) for d in docs), "utf-8")
    findings = [
        f for f in lint(root, context=[root], select=["NL103"]).findings if f.code == "NL103"
    ]
    blocked: set[tuple[str, str]] = set()
    for finding in findings:
        for part in finding.message.split("; "):
            protocols = ("UDP", "TCP") if part.startswith("DNS (") or ": DNS (" in part else ()
            if "UDP port 53 is blocked" in part:
                protocols = ("UDP",)
            elif part.rsplit(": ", 1)[-1].startswith("TCP port 53 is blocked"):
                protocols = ("TCP",)
            names = part.rsplit(" for ", 1)[-1]
            blocked |= {(name, protocol) for name in names.split(", ") for protocol in protocols}
    index = layout(CheckRequest(paths=[str(root)], root=root, use_cache=False))[0].cluster
    dns_pods = [w for w in index.workloads if w.namespace == "kube-system"]
    for workload in index.workloads:
        if workload.namespace == "kube-system":
            continue
        name = f"Pod {workload.namespace}/{workload.name}"
        answers = [explain(index, workload, d) for d in dns_pods]
        with_ip = any(
            peer.ip_block is not None
            for policy in answers[0].egress.isolated_by
            for rule in policy.effective_rules(Direction.EGRESS)
            for peer in rule.peers
        )
        for protocol in ("UDP", "TCP"):
            core = Tri.any_of(
                Tri.TRUE
                if a.certain.contains(protocol, 53)
                else Tri.UNKNOWN
                if a.uncertain.contains(protocol, 53)
                else Tri.FALSE
                for a in answers
            )
            if (name, protocol) in blocked:
                assert core is Tri.FALSE, (name, protocol, findings)
            elif core is Tri.FALSE and answers[0].egress.isolated_by and not with_ip:
                raise AssertionError(f"NL103 is silent on {name} {protocol}: {findings}")
