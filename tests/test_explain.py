"""``netlint explain SRC DST``: the answer for one pair, the rules behind it with their lines,
and for a denial the nearest rules that would allow it (netlint/output/explain.py)."""

from __future__ import annotations

import itertools
import json
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import deployment, netlint
from test_connectivity import _random_admin, _random_repo

from netlint.analysis.index import Index
from netlint.analysis.reach import External, explain
from netlint.core.model import Direction, Workload
from netlint.output.explain import EndError, explain_pair, focused, parse_end, render_text
from netlint.run.runner import CheckRequest, layout

SHOP = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ops, labels: {team: ops}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: c, image: x}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: postgres, namespace: shop}
spec:
  selector: {matchLabels: {app: postgres}}
  template:
    metadata: {labels: {app: postgres}}
    spec: {containers: [{name: c, image: x, ports: [{containerPort: 5432, name: pg}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: probe, namespace: ops}
spec:
  selector: {matchLabels: {app: probe}}
  template:
    metadata: {labels: {app: probe}}
    spec: {containers: [{name: c, image: x}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Egress]
  egress:
  - ports: [{port: 53, protocol: UDP}]
  - to: [{podSelector: {matchLabels: {app: db}}}]
    ports: [{port: 5432}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-ingress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: postgres}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: api}}}]
    ports: [{port: pg}]
  - from: [{namespaceSelector: {matchLabels: {team: monitoring}}}]
    ports: [{port: 9187}]
  - from: [{namespaceSelector: {matchLabels: {env: prod}}, podSelector: {}}]
    ports: [{port: 5432}]
"""


def _line(text: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the ``occurrence``-th line holding ``needle``."""
    found = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return found[occurrence - 1]


def _repo(tmp_path: Path, text: str = SHOP) -> tuple[Path, Index]:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "all.yaml").write_text(text, encoding="utf-8")
    return root, layout(CheckRequest(paths=[str(root)], use_cache=False))[0].cluster


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return netlint("explain", "--no-cache", *args, cwd=cwd)


def _end(index: Index, name: str) -> Workload:
    found = parse_end(index, name)
    assert isinstance(found, Workload)
    return found


def test_allowed_by_one_rule_names_it_with_its_line(tmp_path: Path) -> None:
    _, index = _repo(tmp_path)
    # postgres -> api: postgres's egress is open, api's ingress too.
    found = explain_pair(index, _end(index, "shop/postgres"), _end(index, "api"))
    assert found.verdict == "allowed" and found.answer.egress.default_open
    # api -> 8.8.8.8 on UDP 53: the first egress rule, and only it.
    found = explain_pair(index, _end(index, "api"), parse_end(index, "8.8.8.8"), ("UDP", 53))
    assert found.verdict == "allowed"
    rules = [c.rule for c in found.answer.egress.contributions]
    assert [(r.index, r.span.line) for r in rules] == [(0, _line(SHOP, "port: 53"))]
    assert f"egress[0] of shop/api-egress: UDP 53  all.yaml:{_line(SHOP, 'port: 53')}" in (
        render_text(found)
    )


def test_denied_names_the_nearest_rule_and_the_requirement_that_fails(tmp_path: Path) -> None:
    _, index = _repo(tmp_path)
    found = explain_pair(index, _end(index, "api"), _end(index, "postgres"), ("TCP", 5432))
    assert found.verdict == "denied"
    # The ingress side allows it (named port pg = 5432 at postgres); egress does not.
    assert found.answer.ingress.certain.contains("TCP", 5432)
    assert Direction.INGRESS not in found.hints
    hints = found.hints[Direction.EGRESS]
    first = hints[0]
    assert first.kind == "peer" and first.rule.index == 1
    assert first.message == (
        "egress[1] of shop/api-egress allows TCP 5432 but its podSelector app=db does not "
        "match shop/postgres (app=postgres)"
    )
    assert first.rule.span.line == _line(SHOP, "- to: [{podSelector: {matchLabels: {app: db}}}]")
    # The DNS rule selects postgres (no peers) but on UDP 53 only: the next nearest.
    assert hints[1].kind == "ports" and "allows only UDP 53" in hints[1].message
    text = render_text(found)
    assert f"nearest: {first.message}  all.yaml:{first.rule.span.line}" in text


def test_a_namespace_requirement_that_fails_is_named(tmp_path: Path) -> None:
    _, index = _repo(tmp_path)
    found = explain_pair(index, _end(index, "probe"), _end(index, "postgres"), ("TCP", 9187))
    assert found.verdict == "denied"
    messages = [h.message for h in found.hints[Direction.INGRESS]]
    assert (
        "ingress[1] of shop/db-ingress allows TCP 9187 but its namespaceSelector team=monitoring "
        "does not match namespace ops (team=ops)"
    ) in messages


def test_unknown_when_it_depends_on_an_undeclared_namespace(tmp_path: Path) -> None:
    text = SHOP + (
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: batch, namespace: jobs}\n"
        "spec:\n  selector: {matchLabels: {app: b}}\n  template:\n"
        "    metadata: {labels: {app: b}}\n    spec: {containers: [{name: c, image: x}]}\n"
    )
    root, index = _repo(tmp_path, text)
    found = explain_pair(index, _end(index, "batch"), _end(index, "postgres"), ("TCP", 5432))
    # Namespace jobs is not declared: whether it has env=prod is not in the repo.
    assert found.verdict == "unknown"
    assert any("namespace jobs" in r for r in found.answer.reasons)
    out = _run("jobs/batch", "shop/postgres", "--port", "5432/TCP", "--format", "json", cwd=root)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["verdict"] == "unknown" and data["unknown"] == "TCP 5432"
    assert [c["certain"] for c in data["ingress"]["allowed_by"]] == [False]


def test_ends_by_name_namespace_and_address(tmp_path: Path) -> None:
    text = SHOP.replace("name: probe, namespace: ops", "name: api, namespace: ops")
    _, index = _repo(tmp_path, text)
    with pytest.raises(EndError, match="names 2 workloads"):
        parse_end(index, "api")
    assert _end(index, "ops/api").namespace == "ops"
    with pytest.raises(EndError, match="no workload"):
        parse_end(index, "shop/nothing")
    assert parse_end(index, "10.0.0.0/8") == External(4, 10 << 24, (11 << 24) - 1)


def test_cli_usage_errors_and_text(tmp_path: Path) -> None:
    root, _ = _repo(tmp_path)
    out = _run("api", "postgres", "--port", "5432", cwd=root)
    assert out.returncode == 0 and "denied" in out.stdout and "nearest: egress[1]" in out.stdout
    for args in (("api", "nothing"), ("api", "postgres", "--port", "5432/ICMP")):
        out = _run(*args, cwd=root)
        assert out.returncode == 2 and out.stderr.startswith("netlint: ")
        assert "Traceback" not in out.stderr


def test_what_the_repo_wrote_is_escaped(tmp_path: Path) -> None:
    name = "x\x1b[31m\u202e"
    data: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "shop", "labels": {"app": "x"}},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "deny", "namespace": "shop"},
            "spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]},
        },
    ]
    root = tmp_path / "h"
    root.mkdir()
    (root / "h.yaml").write_text("\n---\n".join(json.dumps(d) for d in data), encoding="utf-8")
    for form in ("text", "json"):
        out = _run(f"shop/{name}", "1.2.3.4", "--format", form, cwd=root)
        assert out.returncode == 0, out.stderr
        assert "\x1b" not in out.stdout and "\u202e" not in out.stdout


@pytest.mark.parametrize("seed", range(25))
def test_the_focused_index_gives_the_whole_index_answer(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    root = tmp_path / "r"
    root.mkdir()
    # Half the repos with AdminNetworkPolicies: cluster-scoped, they apply in every namespace.
    docs = _random_repo(rng) + (_random_admin(rng) if seed % 2 else [])
    (root / "all.yaml").write_text("\n---\n".join(json.dumps(d) for d in docs), "utf-8")
    index = layout(CheckRequest(paths=[str(root)], root=root, use_cache=False))[0].cluster
    ends: list[Workload | External] = [w for w in index.workloads if not w.is_fragment]
    ends += [External(4, 10 << 24, (10 << 24) + 255), External(4, 0, (1 << 32) - 1)]
    for src, dst in itertools.product(ends, repeat=2):
        whole, part = explain(index, src, dst), explain(focused(index, (src, dst)), src, dst)
        assert (part.certain, part.uncertain, part.reasons) == (
            whole.certain,
            whole.uncertain,
            whole.reasons,
        )
        assert [s.isolated_by for s in (part.egress, part.ingress)] == [
            s.isolated_by for s in (whole.egress, whole.ingress)
        ]


ADMIN = """\
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: "x"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: probe, namespace: ops, labels: {app: probe}}
spec: {containers: [{name: c, image: "x"}]}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata:
  name: guard
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}
  ingress:
  - name: deny-ops-admin
    action: Deny
    from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: ops}}}]
    ports: [{portNumber: {protocol: TCP, port: 22}}]
  - name: pass-ops
    action: Pass
    from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: ops}}}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata:
  name: default
spec:
  subject: {namespaces: {}}
  ingress:
  - name: allow-ops-web
    action: Allow
    from: [{namespaces: {}}]
    ports: [{portNumber: {protocol: TCP, port: 443}}]
  - name: deny-rest
    action: Deny
    from: [{namespaces: {}}]
"""


def test_admin_rules_are_named_with_their_action_and_line(tmp_path: Path) -> None:
    root, index = _repo(tmp_path, ADMIN)
    found = explain_pair(index, _end(index, "ops/probe"), _end(index, "shop/web"))
    assert found.verdict == "allowed" and str(found.allowed) == "TCP 443"
    actions = [(c.rule.name, c.action, str(c.conns)) for c in found.answer.ingress.admin]
    assert actions[0] == ("deny-ops-admin", "Deny", "TCP 22")
    assert actions[1][:2] == ("pass-ops", "Pass")
    assert [a[:2] for a in actions[2:]] == [("allow-ops-web", "Allow"), ("deny-rest", "Deny")]
    text = render_text(found)
    line = _line(ADMIN, "name: deny-ops-admin")
    assert (
        f"AdminNetworkPolicy 'guard' (priority 10) denies TCP 22 by rule 'deny-ops-admin'"
        f"  all.yaml:{line}"
    ) in text
    assert "passes" in text and "to the NetworkPolicies" in text
    assert "BaselineAdminNetworkPolicy 'default' allows TCP 443 by rule 'allow-ops-web'" in text
    out = _run("--format", "json", "ops/probe", "shop/web", str(root), cwd=tmp_path)
    data = json.loads(out.stdout)
    first = data["ingress"]["admin"][0]
    assert (first["policy"], first["rule"], first["action"], first["line"]) == (
        "guard",
        "deny-ops-admin",
        "Deny",
        line,
    )
    assert data["ingress"]["open"] is False and data["verdict"] == "allowed"
    # On the denied port, the side still names the rule that denies it.
    found = explain_pair(index, _end(index, "ops/probe"), _end(index, "shop/web"), ("TCP", 22))
    assert found.verdict == "denied" and "denies TCP 22" in render_text(found)


_BASE = (
    deployment("api")
    + "---\n"
    + deployment("db", extra="      hostNetwork: true\n")
    + """\
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
    - from: [{podSelector: {matchLabels: {tier: front}}}]
"""
)


def _overlays(tmp_path: Path, second: str = "resources: [../base]\n") -> Path:
    root = tmp_path / "repo"
    for folder, text in (
        ("base", "resources: [all.yaml]\n"),
        ("ov1", "resources: [../base]\n"),
        ("ov2", second),
    ):
        (root / folder).mkdir(parents=True)
        (root / folder / "kustomization.yaml").write_text(text, encoding="utf-8")
    (root / "base" / "all.yaml").write_text(_BASE, encoding="utf-8")
    return root


def test_copies_of_a_workload_that_two_units_apply_are_one_end(tmp_path: Path) -> None:
    root = _overlays(tmp_path)
    out = _run("shop/api", "shop/db", "--format", "json", cwd=root)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert (found["src"], found["dst"], found["verdict"]) == (
        "shop/api[Deployment]",
        "shop/db[Deployment]",
        "denied",
    )
    # The map's names of ends are accepted too.
    out = _run("shop/api[Deployment]", "db[Deployment]", cwd=root)
    assert out.returncode == 0 and "denied" in out.stdout, out.stderr
    out = _run("shop/api[StatefulSet]", "shop/db", cwd=root)
    assert out.returncode == 2 and "no workload of the repo has that name" in out.stderr


def test_copies_whose_pods_differ_are_chosen_by_unit(tmp_path: Path) -> None:
    root = _overlays(tmp_path, "resources: [../base]\ncommonLabels: {tier: front}\n")
    out = _run("shop/api", "shop/db", cwd=root)
    assert out.returncode == 2, out.stdout
    assert "several deploy units with different pods" in out.stderr and "--unit" in out.stderr
    # In ov2 the api's pods carry tier=front, which the db's ingress rule allows.
    out = _run("shop/api", "shop/db", "--unit", "kustomize:ov2", "--port", "80/TCP", cwd=root)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("shop/api[Deployment] => shop/db[Deployment] on 80/TCP: allowed")
    out = _run("shop/api", "shop/db", "--unit", "kustomize:ov1", "--port", "80/TCP", cwd=root)
    assert out.returncode == 0 and ": denied" in out.stdout.splitlines()[0], out.stderr
    out = _run("shop/api", "shop/db", "--unit", "kustomize:nope", cwd=root)
    assert out.returncode == 2 and "no deploy unit 'kustomize:nope'" in out.stderr


def test_the_project_may_follow_the_options(tmp_path: Path) -> None:
    root = _overlays(tmp_path)
    out = _run("shop/api", "shop/db", "--port", "80/TCP", str(root), cwd=tmp_path)
    assert out.returncode == 0 and "on 80/TCP: denied" in out.stdout, out.stderr
    out = _run("shop/api", "shop/db", "--bogus", str(root), cwd=tmp_path)
    assert out.returncode == 2 and "usage: netlint explain" in out.stderr


def test_a_host_network_end_is_noted(tmp_path: Path) -> None:
    root = _overlays(tmp_path)
    out = _run("shop/api", "shop/db", cwd=root)
    assert "note: shop/db[Deployment] runs on the host network" in out.stdout
    found = json.loads(_run("shop/api", "shop/db", "--format", "json", cwd=root).stdout)
    assert found["host_network"] is True and "host network" in found["notes"][0]
    found = json.loads(_run("shop/db", "10.0.0.1", "--format", "json", cwd=root).stdout)
    assert found["host_network"] is True
    found = json.loads(_run("shop/api", "10.0.0.1", "--format", "json", cwd=root).stdout)
    assert found["host_network"] is False and found["notes"] == []
