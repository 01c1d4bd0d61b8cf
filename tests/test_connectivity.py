"""``netlint connectivity`` and the reachability core (netlint/analysis/reach.py).

The oracle: netpol-analyzer's expected outputs (../shared/oracles/connectivity/), scored by its
``score.py`` on every pure-NetworkPolicy case; each must agree exactly, except the deliberate
differences listed in docs/connectivity.md (read from there: one list). The core: named ports,
ipBlock excepts, default-open directions, unknown namespace labels, and the grouped map equal to
the pair-by-pair answer of ``explain`` on random repos.
"""

from __future__ import annotations

import copy
import functools
import io
import itertools
import json
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import REPO, SHARED
from helpers import netlint

from netlint.analysis import reach as reach_module
from netlint.analysis.index import Index
from netlint.analysis.reach import (
    ConnectivityMap,
    Conns,
    External,
    Record,
    connectivity,
    endpoint_of,
    explain,
)
from netlint.core.model import Workload
from netlint.output import connectivity as connectivity_output
from netlint.output.connectivity import Focus, render
from netlint.run.runner import CheckRequest, layout
from netlint.run.workers import ordered_map

ORACLE = SHARED / "oracles" / "connectivity"
needs_oracle = pytest.mark.skipif(
    not (ORACLE / "score.py").is_file(), reason=f"the connectivity oracle ({ORACLE}) is absent"
)
SCHEMA = json.loads((REPO / "schemas" / "connectivity.schema.json").read_text(encoding="utf-8"))


def deliberate_differences() -> dict[str, str]:
    """Case id -> reason, from the marked list in docs/connectivity.md."""
    doc = (REPO / "docs" / "connectivity.md").read_text(encoding="utf-8")
    block = doc.split("<!-- deliberate-differences:start -->")[1].split(
        "<!-- deliberate-differences:end -->"
    )[0]
    found = {}
    for item in re.split(r"\n- ", "\n" + block.strip()):
        match = re.match(r"`([^`]+)`:\s*(.+)", item.strip(), re.S)
        if match:
            found[match.group(1)] = " ".join(match.group(2).split())
    return found


def index_of(root: Path) -> Index:
    return layout(CheckRequest(paths=[str(root)], use_cache=False))[0].cluster


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return netlint("connectivity", "--no-cache", *args, cwd=cwd)


# -- the oracle ------------------------------------------------------------------------------


@needs_oracle
def test_oracle_pure_networkpolicy_cases_agree(tmp_path: Path) -> None:
    _oracle_class_agrees(tmp_path, "pure_np")


@needs_oracle
def test_oracle_admin_network_policy_cases_agree(tmp_path: Path) -> None:
    """AdminNetworkPolicy and BaselineAdminNetworkPolicy scenarios (class "anp")."""
    _oracle_class_agrees(tmp_path, "anp")


def _oracle_class_agrees(tmp_path: Path, kind: str) -> None:
    """Every case and diff of one class agrees, or is a listed deliberate difference."""
    cases = json.loads((ORACLE / "cases.json").read_text(encoding="utf-8"))
    pure = {
        "cases": [c for c in cases["cases"] if c["class"] == kind],
        "diffs": [d for d in cases["diffs"] if d["class"] == kind],
    }
    assert pure["cases"], f"the oracle has no {kind} case"
    # A folder of one class's cases only (score.py scores every case of a folder), reading the
    # oracle's own inputs and expected outputs; nothing is written into ../shared.
    folder = tmp_path / "oracle"
    folder.mkdir()
    (folder / "cases.json").write_text(json.dumps(pure), encoding="utf-8")
    shutil.copy(ORACLE / "score.py", folder / "score.py")
    for name in ("inputs", "expected"):
        (folder / name).symlink_to(ORACLE / name)
    command = f"{sys.executable} -m netlint connectivity --no-cache --format json {{dir}}"
    out = subprocess.run(
        [sys.executable, str(folder / "score.py"), str(folder)],
        capture_output=True,
        text=True,
        env={"NETLINT_CONN": command, "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        check=False,
        timeout=1800,
    )
    assert "errors: 0" in out.stdout, out.stdout[-3000:] + out.stderr[-3000:]
    verdicts = dict(
        (m.group(2), m.group(1)) for m in re.finditer(r"^(OK|DIFF) +(\S+)", out.stdout, re.M)
    )
    expected = {c["id"] for c in pure["cases"] if c["flags"]["explain_only"] != "deny"}
    expected |= {d["id"] for d in pure["diffs"]}
    assert expected <= set(verdicts), sorted(expected - set(verdicts))
    listed = deliberate_differences()
    assert listed, "docs/connectivity.md lists no deliberate differences"
    ids = {c["id"] for c in pure["cases"]} | {d["id"] for d in pure["diffs"]}
    allowed = {case: why for case, why in listed.items() if case in ids}
    differing = {case for case, verdict in verdicts.items() if verdict == "DIFF"}
    assert differing - set(allowed) == set(), out.stdout
    # A listed difference that now agrees must leave the list (it would hide a regression).
    assert set(allowed) <= differing, sorted(set(allowed) - differing)


# -- the core --------------------------------------------------------------------------------


def _write(root: Path, documents: list[dict[str, Any]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "all.yaml").write_text(
        "\n---\n".join(json.dumps(d) for d in documents) + "\n", encoding="utf-8"
    )
    return root


def pod(
    name: str, namespace: str, labels: dict[str, str], ports: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "x"}
    if ports:
        container["ports"] = ports
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"containers": [container]},
    }


def namespace(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def policy(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def _map(index: Index) -> dict[tuple[str, str], tuple[str, str]]:
    return {
        (r.src.label, r.dst.label): (str(r.certain), str(r.uncertain))
        for r in connectivity(index).records()
    }


def test_named_ports_resolve_at_the_destination_with_their_protocol(tmp_path: Path) -> None:
    docs = [
        pod("a", "ns", {"app": "a"}),
        pod(
            "b",
            "ns",
            {"app": "b"},
            [
                {"name": "http", "containerPort": 8080},
                {"name": "dns", "containerPort": 53, "protocol": "UDP"},
            ],
        ),
        pod("c", "ns", {"app": "c"}, [{"name": "http", "containerPort": 9090}]),
        policy(
            "p",
            "ns",
            {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                # dns/TCP names no TCP port of b: nothing.
                "ingress": [{"ports": [{"port": "http"}, {"port": "dns", "protocol": "TCP"}]}],
            },
        ),
    ]
    found = _map(index_of(_write(tmp_path / "r", docs)))
    assert found[("ns/a[Pod]", "ns/b[Pod]")] == ("TCP 8080", "No Connections")
    assert found[("ns/a[Pod]", "ns/c[Pod]")] == ("TCP 9090", "No Connections")
    assert ("ns/c[Pod]", "ns/a[Pod]") not in found  # a declares no port named http


def test_ipblock_excepts_cut_the_external_ranges_and_never_match_pods(tmp_path: Path) -> None:
    docs = [
        pod("a", "ns", {"app": "a"}),
        pod("b", "ns", {"app": "b"}),
        policy(
            "p",
            "ns",
            {
                "podSelector": {"matchLabels": {"app": "b"}},
                "ingress": [
                    {
                        "from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
                        "ports": [{"port": 53, "protocol": "UDP"}],
                    }
                ],
            },
        ),
    ]
    found = _map(index_of(_write(tmp_path / "r", docs)))
    into_b = {src: conn for (src, dst), conn in found.items() if dst == "ns/b[Pod]"}
    assert into_b == {
        "10.0.0.0-10.0.255.255[External]": ("UDP 53", "No Connections"),
        "10.2.0.0-10.255.255.255[External]": ("UDP 53", "No Connections"),
    }
    # a (not isolated) is open both ways, to every address.
    assert found[("ns/a[Pod]", "0.0.0.0-255.255.255.255[External]")][0] == "All Connections"
    assert found[("0.0.0.0-255.255.255.255[External]", "ns/a[Pod]")][0] == "All Connections"


def test_directions_no_policy_isolates_are_open(tmp_path: Path) -> None:
    docs = [
        pod("a", "ns", {"app": "a"}),
        pod("b", "ns", {"app": "b"}),
        # Egress only: a's egress allows nothing; a's ingress stays open.
        policy(
            "deny-egress",
            "ns",
            {"podSelector": {"matchLabels": {"app": "a"}}, "policyTypes": ["Egress"]},
        ),
    ]
    found = _map(index_of(_write(tmp_path / "r", docs)))
    assert found[("ns/b[Pod]", "ns/a[Pod]")] == ("All Connections", "No Connections")
    assert not any(src == "ns/a[Pod]" for src, _ in found)


def test_undeclared_namespace_labels_are_unknown_not_allowed(tmp_path: Path) -> None:
    docs = [
        pod("a", "far", {"app": "a"}),
        pod("b", "ns", {"app": "b"}),
        namespace("ns", {"team": "x"}),
        policy(
            "p",
            "ns",
            {
                "podSelector": {},
                "ingress": [
                    {"from": [{"namespaceSelector": {"matchLabels": {"team": "x"}}}]},
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": "far"}
                                }
                            }
                        ],
                        "ports": [{"port": 22}],
                    },
                ],
            },
        ),
    ]
    root = _write(tmp_path / "r", docs)
    found = _map(index_of(root))
    # far's labels are unknown: team=x may hold there; its name label is certain.
    assert found[("far/a[Pod]", "ns/b[Pod]")] == (
        "TCP 22",
        "SCTP 1-65535,TCP 1-21,23-65535,UDP 1-65535",
    )
    out = run("--format", "json", str(root), cwd=tmp_path)
    document = json.loads(out.stdout)
    jsonschema.validate(document, SCHEMA)
    [record] = [r for r in document["uncertain"] if r["src"] == "far/a[Pod]"]
    assert record["certain"] is False
    assert record["depends_on"] == ["labels of namespace far, which the repo does not declare"]
    text = run(str(root), cwd=tmp_path).stdout
    assert "Depends on what the repo does not say" in text


def test_foreign_policies_make_their_namespace_unknown(tmp_path: Path) -> None:
    docs = [
        pod("a", "ns", {"app": "a"}),
        pod("b", "other", {"app": "b"}),
        {
            "apiVersion": "projectcalico.org/v3",
            "kind": "NetworkPolicy",
            "metadata": {"name": "calico", "namespace": "ns"},
            "spec": {"selector": "all()"},
        },
    ]
    found = _map(index_of(_write(tmp_path / "r", docs)))
    assert found[("other/b[Pod]", "ns/a[Pod]")] == ("No Connections", "All Connections")


def _same_named(root: Path, other: dict[str, Any]) -> Path:
    """shop/web as two folders define it: one lets app=a in on TCP 80, ``other`` is the
    second folder's policy of that name."""
    allow = policy(
        "web",
        "shop",
        {
            "podSelector": {"matchLabels": {"app": "web"}},
            "ingress": [
                {"from": [{"podSelector": {"matchLabels": {"app": "a"}}}], "ports": [{"port": 80}]}
            ],
        },
    )
    _write(root, [pod("web", "shop", {"app": "web"}), pod("a", "shop", {"app": "a"})])
    _write(root / "one", [allow])
    _write(root / "two", [other])
    return root


def test_same_named_policies_that_differ_are_not_their_union(tmp_path: Path) -> None:
    # The cluster keeps one shop/web, the one applied last, which the repo does not say: what
    # each choice allows is computed, never their union (which would allow TCP 80 for certain).
    deny = policy("web", "shop", {"podSelector": {"matchLabels": {"app": "web"}}})
    root = _same_named(tmp_path / "r", deny)
    index = index_of(root)
    assert _map(index)[("shop/a[Pod]", "shop/web[Pod]")] == ("No Connections", "TCP 80")
    # web's egress and a's ingress: no variant decides them, so they stay known.
    assert _map(index)[("shop/web[Pod]", "shop/a[Pod]")] == ("All Connections", "No Connections")
    web, a = _workload(index, "web"), _workload(index, "a")
    answer = explain(index, a, web)
    assert (str(answer.certain), str(answer.uncertain)) == ("No Connections", "TCP 80")
    assert answer.reasons == (
        "which variant of NetworkPolicy shop/web the cluster keeps, the one applied last "
        "(one/all.yaml:1, two/all.yaml:1)",
    )
    assert any(
        n.startswith("2 different NetworkPolicies named shop/web (")
        for n in connectivity(index).notes
    )
    document = json.loads(run("--format", "json", str(root), cwd=tmp_path).stdout)
    jsonschema.validate(document, SCHEMA)
    [record] = [
        r for r in document["uncertain"] if (r["src"], r["dst"]) == ("shop/a[Pod]", "shop/web[Pod]")
    ]
    assert record["depends_on"] == list(answer.reasons)
    text = netlint("explain", "--no-cache", "shop/a", "shop/web", str(root), cwd=tmp_path).stdout
    assert "shop/a[Pod] => shop/web[Pod]: unknown\n" in text
    assert "ingress of shop/web[Pod]: isolated, allows No Connections, may allow TCP 80\n" in text
    kept = "if the cluster keeps this definition"
    assert f"    isolated by shop/web (no ingress rules) {kept}  two/all.yaml:1\n" in text
    assert f"    allowed by ingress[0] of shop/web: TCP 80 ({kept})  one/all.yaml:1\n" in text
    assert [side.variants for side in (answer.egress, answer.ingress)] == [
        (),
        tuple(answer.ingress.isolated_by),
    ]


def test_more_choices_than_are_tried_are_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reach_module, "_MAX_CHOICES", 1)
    deny = policy("web", "shop", {"podSelector": {"matchLabels": {"app": "web"}}})
    index = index_of(_same_named(tmp_path / "r", deny))
    assert _map(index)[("shop/a[Pod]", "shop/web[Pod]")] == ("No Connections", "All Connections")
    answer = explain(index, _workload(index, "a"), _workload(index, "web"))
    assert (str(answer.certain), str(answer.uncertain)) == ("No Connections", "All Connections")
    assert answer.reasons[0].startswith("which variant of NetworkPolicy shop/web the cluster keeps")


def test_one_definition_two_units_build_differently_is_unknown_where_it_differs(
    tmp_path: Path,
) -> None:
    # kubeflow's case: one base policy, an overlay patches its port, both in one namespace.
    root = _same_named(tmp_path / "r", policy("web", "shop", {}))
    shutil.rmtree(root / "two")
    (root / "one" / "kustomization.yaml").write_text("resources: [all.yaml]\n")
    (root / "plain").mkdir()
    (root / "plain" / "kustomization.yaml").write_text("resources: [../one]\n")
    (root / "patched").mkdir()
    (root / "patched" / "kustomization.yaml").write_text(
        "resources: [../one]\n"
        "patches:\n"
        "- target: {kind: NetworkPolicy, name: web}\n"
        "  patch: '[{op: replace, path: /spec/ingress/0/ports/0/port, value: 443}]'\n"
    )
    index = index_of(root)
    assert _map(index)[("shop/a[Pod]", "shop/web[Pod]")] == ("No Connections", "TCP 80,443")
    answer = explain(index, _workload(index, "a"), _workload(index, "web"))
    assert answer.reasons == (
        "which variant of NetworkPolicy shop/web the cluster keeps, the one applied last "
        "(one/all.yaml:1, built differently by the units that apply it)",
    )


def test_same_named_policies_are_answered_for_each_one_the_cluster_may_keep(tmp_path: Path) -> None:
    # Equal copies are one policy.
    same = _same_named(tmp_path / "copies", policy("web", "shop", {}))
    copy_of = json.loads((same / "one" / "all.yaml").read_text())
    (same / "two" / "all.yaml").write_text(json.dumps(copy_of) + "\n")
    index = index_of(same)
    assert _map(index)[("shop/a[Pod]", "shop/web[Pod]")] == ("TCP 80", "No Connections")
    assert not [n for n in connectivity(index).notes if "named" in n]
    # Different policies: the other one selects other pods, so keeping it leaves web's ingress
    # open; TCP 80 is allowed whichever is kept.
    elsewhere = policy("web", "shop", {"podSelector": {"matchLabels": {"app": "b"}}})
    index = index_of(_same_named(tmp_path / "elsewhere", elsewhere))
    assert _map(index)[("shop/a[Pod]", "shop/web[Pod]")] == (
        "TCP 80",
        "SCTP 1-65535,TCP 1-79,81-65535,UDP 1-65535",
    )
    # An egress-only variant: keeping it opens web's ingress and closes its egress.
    # (Nothing decides a's sides.)
    egress = policy(
        "web", "shop", {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"]}
    )
    index = index_of(_same_named(tmp_path / "egress", egress))
    found = _map(index)
    assert found[("shop/a[Pod]", "shop/web[Pod]")] == (
        "TCP 80",
        "SCTP 1-65535,TCP 1-79,81-65535,UDP 1-65535",
    )
    assert found[("shop/web[Pod]", "shop/a[Pod]")] == ("No Connections", "All Connections")


def test_pods_of_one_owner_are_one_endpoint(tmp_path: Path) -> None:
    owner = {"ownerReferences": [{"kind": "ReplicaSet", "name": "web-1", "controller": True}]}
    docs = [
        pod("web-1-a", "ns", {"app": "web"}),
        pod("web-1-b", "ns", {"app": "web"}),
        pod("db", "ns", {"app": "db"}),
    ]
    for item in docs[:2]:
        item["metadata"].update(owner)
    found = _map(index_of(_write(tmp_path / "r", docs)))
    assert ("ns/web-1[ReplicaSet]", "ns/db[Pod]") in found
    assert ("ns/web-1[ReplicaSet]", "ns/web-1[ReplicaSet]") not in found


# -- grouping equals the pair-by-pair answer --------------------------------------------------


_LABELS: tuple[dict[str, str], ...] = (
    {"app": "a"},
    {"app": "b"},
    {"app": "a", "tier": "x"},
    {"tier": "y"},
    {},
)


def _random_repo(rng: random.Random, *, same_names: bool = True) -> list[dict[str, Any]]:
    """A small random repo; with ``same_names``, some policies take an earlier one's name."""
    spaces = ["n1", "n2", "n3"]
    docs: list[dict[str, Any]] = []
    for name in spaces[: rng.randint(0, 2)]:
        docs.append(namespace(name, rng.choice(({"team": "x"}, {"team": "y"}, {}))))
    for i in range(rng.randint(2, 6)):
        ports = rng.choice(
            (
                [],
                [{"name": "http", "containerPort": 8080}],
                [{"name": "http", "containerPort": 80, "protocol": "UDP"}],
            )
        )
        docs.append(pod(f"p{i}", rng.choice(spaces), dict(rng.choice(_LABELS)), ports))

    def selector() -> dict[str, Any]:
        return rng.choice(
            (
                {},
                {"matchLabels": {"app": "a"}},
                {"matchExpressions": [{"key": "tier", "operator": "Exists"}]},
                {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["b"]}]},
            )
        )

    def peer() -> dict[str, Any]:
        choice = rng.randint(0, 3)
        if choice == 0:
            return {"podSelector": selector()}
        if choice == 1:
            return {"namespaceSelector": rng.choice(({}, {"matchLabels": {"team": "x"}}))}
        if choice == 2:
            return {"namespaceSelector": {"matchLabels": {"team": "x"}}, "podSelector": selector()}
        return {
            "ipBlock": {
                "cidr": rng.choice(("10.0.0.0/8", "0.0.0.0/0")),
                "except": rng.choice(([], ["10.1.0.0/16"])),
            }
        }

    def rule(key: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if rng.random() < 0.7:
            out[key] = [peer() for _ in range(rng.randint(1, 2))]
        if rng.random() < 0.7:
            out["ports"] = [
                rng.choice(
                    (
                        {"port": 80},
                        {"port": "http"},
                        {"port": 1000, "endPort": 2000, "protocol": "UDP"},
                        {"protocol": "SCTP"},
                    )
                )
            ]
        return out

    for i in range(rng.randint(1, 4)):
        spec: dict[str, Any] = {"podSelector": selector()}
        types = rng.choice((["Ingress"], ["Egress"], ["Ingress", "Egress"], None))
        if types is not None:
            spec["policyTypes"] = types
        if rng.random() < 0.8:
            spec["ingress"] = [rule("from") for _ in range(rng.randint(0, 2))]
        if rng.random() < 0.6:
            spec["egress"] = [rule("to") for _ in range(rng.randint(0, 2))]
        named = (f"pol{i}", rng.choice(spaces))
        if same_names and i and rng.random() < 0.3:
            # A name taken already: two different policies the cluster keeps one of.
            named = (docs[-1]["metadata"]["name"], docs[-1]["metadata"]["namespace"])
        docs.append(policy(*named, spec))
    return docs


def _cuts(found: ConnectivityMap) -> list[int]:
    """Where the map's external ranges (both directions' partitions) start and end."""
    atoms = [
        External(v, lo, hi)
        for d in found.partition.values()
        for v, xs in d.items()
        for lo, hi in xs
    ]
    return sorted({a.lo for a in atoms} | {a.hi + 1 for a in atoms})


def _brute(index: Index) -> dict[tuple[str, int | str], tuple[Conns, Conns]]:
    """Every (src, dst) by :func:`explain`, external ends on the atoms of every ipBlock."""
    found = connectivity(index)
    cuts = _cuts(found)
    pieces = [External(4, a, b - 1) for a, b in itertools.pairwise(cuts)]
    out: dict[tuple[str, int | str], tuple[Conns, Conns]] = {}
    workloads: list[Workload] = list(found.workloads)
    for s in workloads:
        for d in workloads:
            if endpoint_of(s) != endpoint_of(d):
                answer = explain(index, s, d)
                _put(
                    out,
                    (endpoint_of(s).label, endpoint_of(d).label),
                    answer.certain,
                    answer.uncertain,
                )
        for piece in pieces:
            answer = explain(index, s, piece)
            _put(out, (endpoint_of(s).label, f"to {piece.lo}"), answer.certain, answer.uncertain)
            answer = explain(index, piece, s)
            _put(out, (endpoint_of(s).label, f"from {piece.lo}"), answer.certain, answer.uncertain)
    return out


def _put(
    out: dict[tuple[str, int | str], tuple[Conns, Conns]],
    key: tuple[str, int | str],
    certain: Conns,
    uncertain: Conns,
) -> None:
    if not certain.is_empty() or not uncertain.is_empty():
        out[key] = (certain, uncertain)


def _grouped(
    index: Index, cuts: list[int] | None = None
) -> dict[tuple[str, int | str], tuple[Conns, Conns]]:
    """The map, its external ranges cut at ``cuts`` (by default, where its own ranges start
    and end: a finer cut is needed to compare two maps whose ranges differ)."""
    found = connectivity(index)
    cuts = _cuts(found) if cuts is None else cuts
    out: dict[tuple[str, int | str], tuple[Conns, Conns]] = {}
    records: list[Record] = list(found.records())
    for r in records:
        if isinstance(r.dst, External) or isinstance(r.src, External):
            ext, end = (r.dst, r.src) if isinstance(r.dst, External) else (r.src, r.dst)
            way = "to" if isinstance(r.dst, External) else "from"
            assert isinstance(ext, External) and not isinstance(end, External)
            for lo in cuts[:-1]:
                if ext.lo <= lo <= ext.hi:
                    _put(out, (end.label, f"{way} {lo}"), r.certain, r.uncertain)
        else:
            _put(out, (r.src.label, r.dst.label), r.certain, r.uncertain)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_grouped_map_equals_pair_by_pair_answers(tmp_path: Path, seed: int) -> None:
    docs = _random_repo(random.Random(seed))
    index = index_of(_write(tmp_path / "r", docs))
    assert _grouped(index) == _brute(index)


def _json_text(found: ConnectivityMap, **options: Any) -> str:
    out = io.StringIO()
    render(found, "json", out, **options)
    return out.getvalue()


@pytest.mark.parametrize("seed", range(12))
def test_json_made_by_several_processes_is_the_one_process_text(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``netlint connectivity`` of a large repo gives blocks of sources to forked workers;
    with one source per block, every source of these small repos crosses a process."""
    docs = _random_repo(random.Random(seed)) + _random_repo(random.Random(seed + 100))
    for i, doc in enumerate(docs):
        if doc["kind"] != "Namespace":
            doc["metadata"]["name"] += f"-{i}"  # the two halves' objects, told apart
    index = index_of(_write(tmp_path / "r", docs))
    alone = _json_text(connectivity(index))
    monkeypatch.setattr(connectivity_output, "_BLOCK_RECORDS", 1)
    spread = functools.partial(ordered_map, jobs=3, least=1)
    assert _json_text(connectivity(index), mapper=spread) == alone
    focus = Focus(namespaces=("n1",))
    assert _json_text(connectivity(index), mapper=spread, focus=focus) == _json_text(
        connectivity(index), focus=focus
    )
    # Uncertain records past the memory bound wait in a temporary file, in order; texts
    # longer than one write allows (2 GiB to a pipe) go in slices.
    monkeypatch.setattr(connectivity_output, "_SPILL_CHARS", 1)
    monkeypatch.setattr(connectivity_output, "_WRITE_CHARS", 7)
    assert _json_text(connectivity(index), mapper=spread) == alone
    json.loads(alone)


# -- formats ---------------------------------------------------------------------------------


def _hostile(tmp_path: Path) -> Path:
    name = 'x"\u202e|`#<b>&]([a](http://e)\x1b[31m'
    docs = [
        pod("web", "shop", {"app": "web"}),
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "=cmd", "labels": {"app": "x"}},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
        },
    ]
    return _write(tmp_path / "h", docs)


@pytest.mark.parametrize("form", ["text", "json", "csv", "markdown", "dot", "mermaid"])
def test_every_format_escapes_what_the_repo_wrote(tmp_path: Path, form: str) -> None:
    out = run("--format", form, str(_hostile(tmp_path)), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "\x1b" not in text and "\u202e" not in text
    if form == "json":
        jsonschema.validate(json.loads(text), SCHEMA)
    if form == "csv":
        assert "'=cmd/" in text and ",=cmd" not in text and "\n=cmd" not in text
    if form == "markdown":
        # Brackets and tags are backslash-escaped: no link, no HTML.
        assert re.search(r"(?<!\\)\]\(", text) is None and "<b>" not in text
    if form == "mermaid":
        label = next(line for line in text.splitlines() if "x#quot;" in line)
        assert label.count('"') == 2 and "<b>" not in label
    if form == "dot":
        assert '\\"' in text


def test_focus_options_and_units(tmp_path: Path) -> None:
    root = tmp_path / "r"
    _write(
        root, [pod("a", "ns", {"app": "a"}), pod("b", "ns", {"app": "b"}), pod("c", "other", {})]
    )
    out = run("--workload", "ns/a", "--format", "json", str(root), cwd=tmp_path)
    pairs = {(r["src"], r["dst"]) for r in json.loads(out.stdout)["connections"]}
    assert pairs and all("ns/a[Pod]" in pair for pair in pairs)
    out = run("--namespace", "other", "--port", "443/TCP", str(root), cwd=tmp_path)
    assert out.stdout and all("other/c[Pod]" in line for line in out.stdout.splitlines())
    assert run("--port", "443/ICMP", str(root), cwd=tmp_path).returncode == 2
    assert run("--unit", "file:nope.yaml", str(root), cwd=tmp_path).returncode == 2
    one = run("--unit", "file:all.yaml", "--format", "json", str(root), cwd=tmp_path)
    assert one.returncode == 0 and json.loads(one.stdout)["unit"] == "file:all.yaml"


# -- AdminNetworkPolicy and BaselineAdminNetworkPolicy ---------------------------------------


def anp(name: str, priority: int, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": name},
        "spec": {"priority": priority, **spec},
    }


def banp(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "BaselineAdminNetworkPolicy",
        "metadata": {"name": "default"},
        "spec": spec,
    }


def in_ns(name: str) -> dict[str, Any]:
    return {"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def tcp(port: int) -> dict[str, Any]:
    return {"portNumber": {"protocol": "TCP", "port": port}}


def _admin_pair(tmp_path: Path, docs: list[dict[str, Any]]) -> tuple[str, str]:
    found = _map(index_of(_write(tmp_path / "r", [pod("a", "a", {}), pod("b", "b", {}), *docs])))
    return found.get(("b/b[Pod]", "a/a[Pod]"), ("No Connections", "No Connections"))


def test_anps_apply_by_ascending_priority_first_match_wins(tmp_path: Path) -> None:
    deny = {"name": "deny-80", "action": "Deny", "from": [in_ns("b")], "ports": [tcp(80)]}
    allow = {"name": "allow-all", "action": "Allow", "from": [in_ns("b")]}
    first = [
        anp("deny", 1, {"subject": in_ns("a"), "ingress": [deny]}),
        anp("allow", 2, {"subject": in_ns("a"), "ingress": [allow]}),
    ]
    assert _admin_pair(tmp_path / "1", first)[0] == "SCTP 1-65535,TCP 1-79,81-65535,UDP 1-65535"
    # The lower priority number wins: the same rules the other way round allow everything.
    second = [
        anp("deny", 2, {"subject": in_ns("a"), "ingress": [deny]}),
        anp("allow", 1, {"subject": in_ns("a"), "ingress": [allow]}),
    ]
    assert _admin_pair(tmp_path / "2", second)[0] == "All Connections"
    # Within one policy, the first rule that matches a connection decides it.
    one = [anp("both", 1, {"subject": in_ns("a"), "ingress": [allow, deny]})]
    assert _admin_pair(tmp_path / "3", one)[0] == "All Connections"


def test_pass_hands_the_connection_to_the_networkpolicies(tmp_path: Path) -> None:
    docs = [
        anp(
            "pass",
            1,
            {"subject": in_ns("a"), "ingress": [{"action": "Pass", "from": [in_ns("b")]}]},
        ),
        policy(
            "only-443",
            "a",
            {
                "podSelector": {},
                "ingress": [
                    {
                        "from": [{"namespaceSelector": {}}],
                        "ports": [{"port": 443, "protocol": "TCP"}],
                    }
                ],
            },
        ),
        # The baseline would allow everything, but a NetworkPolicy isolates the pod.
        banp(
            {"subject": {"namespaces": {}}, "ingress": [{"action": "Allow", "from": [in_ns("b")]}]}
        ),
    ]
    assert _admin_pair(tmp_path, docs) == ("TCP 443", "No Connections")


def test_pass_reaches_the_baseline_where_no_networkpolicy_isolates(tmp_path: Path) -> None:
    docs = [
        anp(
            "pass",
            1,
            {
                "subject": in_ns("a"),
                "ingress": [{"action": "Pass", "from": [in_ns("b")], "ports": [tcp(80)]}],
            },
        ),
        banp(
            {
                "subject": {"namespaces": {}},
                "ingress": [
                    {
                        "name": "deny-low-tcp",
                        "action": "Deny",
                        "from": [{"namespaces": {}}],
                        "ports": [{"portRange": {"protocol": "TCP", "start": 1, "end": 1000}}],
                    }
                ],
            }
        ),
    ]
    assert _admin_pair(tmp_path, docs)[0] == "SCTP 1-65535,TCP 1001-65535,UDP 1-65535"


def test_the_baseline_applies_only_where_no_networkpolicy_isolates(tmp_path: Path) -> None:
    docs = [
        pod("c", "c", {}),
        banp(
            {
                "subject": {"namespaces": {}},
                "ingress": [{"action": "Deny", "from": [{"namespaces": {}}]}],
            }
        ),
        policy("open", "a", {"podSelector": {}, "ingress": [{}]}),
    ]
    found = _map(index_of(_write(tmp_path / "r", [pod("a", "a", {}), pod("b", "b", {}), *docs])))
    # a is isolated by its NetworkPolicy (which allows all): the baseline does not apply.
    assert found[("b/b[Pod]", "a/a[Pod]")] == ("All Connections", "No Connections")
    # c is isolated by nothing: the baseline denies every pod, not the addresses outside.
    assert ("b/b[Pod]", "c/c[Pod]") not in found
    assert found[("0.0.0.0-255.255.255.255[External]", "c/c[Pod]")][0] == "All Connections"


def test_admin_named_ports_resolve_on_the_destination_pod(tmp_path: Path) -> None:
    dns = pod("a", "a", {"app": "dns"}, [{"name": "dns", "containerPort": 53, "protocol": "UDP"}])
    docs = [
        dns,
        pod("b", "b", {}),
        anp(
            "dns-only",
            3,
            {
                "subject": {
                    "pods": {
                        "namespaceSelector": {},
                        "podSelector": {"matchLabels": {"app": "dns"}},
                    }
                },
                "ingress": [
                    {"action": "Allow", "from": [in_ns("b")], "ports": [{"namedPort": "dns"}]},
                    {"action": "Deny", "from": [{"namespaces": {}}]},
                ],
            },
        ),
    ]
    found = _map(index_of(_write(tmp_path / "r", docs)))
    assert found[("b/b[Pod]", "a/a[Pod]")] == ("UDP 53", "No Connections")


def test_admin_networks_cut_the_external_ranges(tmp_path: Path) -> None:
    docs = [
        anp(
            "no-ten",
            1,
            {
                "subject": in_ns("a"),
                "egress": [{"action": "Deny", "to": [{"networks": ["10.0.0.0/8"]}]}],
            },
        )
    ]
    index = index_of(_write(tmp_path / "r", [pod("a", "a", {}), pod("b", "b", {}), *docs]))
    found = _map(index)
    assert found[("a/a[Pod]", "0.0.0.0-9.255.255.255[External]")][0] == "All Connections"
    assert found[("a/a[Pod]", "11.0.0.0-255.255.255.255[External]")][0] == "All Connections"
    assert not any(key == ("a/a[Pod]", "10.0.0.0-10.255.255.255[External]") for key in found)
    # Networks never match pods, and the denial is a's egress only.
    assert found[("a/a[Pod]", "b/b[Pod]")][0] == "All Connections"
    assert found[("b/b[Pod]", "0.0.0.0-255.255.255.255[External]")][0] == "All Connections"
    answer = explain(index, _workload(index, "a"), External(4, 10 << 24, (10 << 24) + 5))
    assert answer.certain.is_empty() and answer.egress.admin[0].action == "Deny"


def _workload(index: Index, name: str) -> Workload:
    return next(w for w in index.workloads if w.name == name)


def test_unknown_namespace_labels_keep_admin_answers_uncertain(tmp_path: Path) -> None:
    team = {"namespaces": {"matchLabels": {"team": "x"}}}
    # b's namespace is not declared: a Deny on its labels may or may not match.
    deny = [
        anp("deny", 1, {"subject": in_ns("a"), "ingress": [{"action": "Deny", "from": [team]}]})
    ]
    assert _admin_pair(tmp_path / "1", deny) == ("No Connections", "All Connections")
    # Pass on it, then a NetworkPolicy that allows TCP 80 from b: TCP 80 is certain, the
    # rest depends on whether the Pass matched (then the policy denies it).
    passing = [
        anp("pass", 1, {"subject": in_ns("a"), "ingress": [{"action": "Pass", "from": [team]}]}),
        anp(
            "allow",
            2,
            {"subject": in_ns("a"), "ingress": [{"action": "Allow", "from": [in_ns("b")]}]},
        ),
        policy(
            "tcp-80",
            "a",
            {
                "podSelector": {},
                "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": 80}]}],
            },
        ),
    ]
    assert _admin_pair(tmp_path / "2", passing) == (
        "TCP 80",
        "SCTP 1-65535,TCP 1-79,81-65535,UDP 1-65535",
    )
    # A subject on labels of an undeclared namespace: it may or may not apply to a.
    subject = [
        anp("maybe", 1, {"subject": team, "ingress": [{"action": "Deny", "from": [in_ns("b")]}]})
    ]
    index = index_of(_write(tmp_path / "3" / "r", [pod("a", "a", {}), pod("b", "b", {}), *subject]))
    answer = explain(index, _workload(index, "b"), _workload(index, "a"))
    assert (str(answer.certain), str(answer.uncertain)) == ("No Connections", "All Connections")
    assert answer.reasons == ("labels of namespace a, which the repo does not declare",)
    assert _map(index)[("b/b[Pod]", "a/a[Pod]")] == ("No Connections", "All Connections")


def test_admin_policies_of_one_priority_make_their_answers_unknown(tmp_path: Path) -> None:
    docs = [
        anp(
            "one", 7, {"subject": in_ns("a"), "ingress": [{"action": "Deny", "from": [in_ns("b")]}]}
        ),
        anp(
            "two",
            7,
            {"subject": in_ns("a"), "ingress": [{"action": "Allow", "from": [in_ns("b")]}]},
        ),
    ]
    index = index_of(_write(tmp_path / "r", [pod("a", "a", {}), pod("b", "b", {}), *docs]))
    answer = explain(index, _workload(index, "b"), _workload(index, "a"))
    assert (str(answer.certain), str(answer.uncertain)) == ("No Connections", "All Connections")
    assert any("share priority 7" in reason for reason in answer.reasons)
    record = next(
        r
        for r in connectivity(index).records()
        if (r.src.label, r.dst.label) == ("b/b[Pod]", "a/a[Pod]")
    )
    assert str(record.uncertain) == "All Connections" and record.reasons == answer.reasons


@pytest.mark.parametrize(
    "spec",
    [
        {"subject": in_ns("a"), "ingress": [{"action": "Reject", "from": [in_ns("b")]}]},
        {"subject": in_ns("a"), "egress": [{"action": "Deny", "to": [{"networks": ["10.0.0.0"]}]}]},
        {"subject": {}, "ingress": [{"action": "Deny", "from": [in_ns("b")]}]},
        {
            "subject": in_ns("a"),
            "ingress": [
                {
                    "action": "Deny",
                    "from": [
                        {"namespaces": {"matchExpressions": [{"key": "x", "operator": "Near"}]}}
                    ],
                }
            ],
        },
    ],
    ids=["bad-action", "bad-cidr", "no-subject", "bad-selector"],
)
def test_a_malformed_anp_is_unmodelled_and_its_answers_unknown(
    tmp_path: Path, spec: dict[str, Any]
) -> None:
    root = _write(tmp_path / "r", [pod("a", "a", {}), pod("b", "b", {}), anp("bad", 1, spec)])
    index = index_of(root)
    assert _map(index)[("b/b[Pod]", "a/a[Pod]")] == ("No Connections", "All Connections")
    notes = connectivity(index).notes
    assert any(n.startswith("AdminNetworkPolicy bad is not modelled (") for n in notes), notes
    # Without a priority too; and the command says so, never a traceback.
    data = anp("bad", 1, spec)
    del data["spec"]["priority"]
    _write(root, [pod("a", "a", {}), data])
    out = run("--format", "json", str(root), cwd=tmp_path)
    assert out.returncode == 0 and "Traceback" not in out.stderr
    assert any("spec.priority" in n for n in json.loads(out.stdout)["notes"])


def test_other_kinds_of_the_admin_group_stay_unmodelled(tmp_path: Path) -> None:
    cnp = anp(
        "cnp", 1, {"subject": in_ns("a"), "ingress": [{"action": "Accept", "from": [in_ns("b")]}]}
    )
    cnp["apiVersion"] = "policy.networking.k8s.io/v1alpha2"
    cnp["kind"] = "ClusterNetworkPolicy"
    assert _admin_pair(tmp_path, [cnp]) == ("No Connections", "All Connections")


def test_admin_policies_round_trip_through_the_cache(tmp_path: Path) -> None:
    from netlint.run import cache

    docs = [
        anp(
            "x",
            4,
            {
                "subject": {
                    "pods": {"namespaceSelector": {}, "podSelector": {"matchLabels": {"a": "b"}}}
                },
                "egress": [
                    {
                        "name": "r",
                        "action": "Pass",
                        "to": [{"networks": ["10.0.0.0/8"]}, {"nodes": {}}, in_ns("b")],
                        "ports": [
                            {"namedPort": "web"},
                            {"portRange": {"protocol": "UDP", "start": 5, "end": 9}},
                        ],
                    }
                ],
            },
        ),
        banp(
            {
                "subject": {"namespaces": {}},
                "ingress": [{"action": "Deny", "from": [{"namespaces": {}}]}],
            }
        ),
    ]
    index = index_of(_write(tmp_path / "r", docs))
    for found in index.cluster_foreign_policies:
        assert found.admin is not None
        back = cache._d_foreign(cache._e_foreign(found, found.ref.path), found.ref.path)
        assert back.admin is not None
        assert back.admin.semantic_key() == found.admin.semantic_key()
        assert back.admin.name_span == found.admin.name_span
        assert [r.rule.span for r in back.admin.egress] == [r.rule.span for r in found.admin.egress]


def _random_admin(rng: random.Random) -> list[dict[str, Any]]:
    """AdminNetworkPolicies (some of one priority) and maybe a baseline, for random repos."""

    def peer() -> dict[str, Any]:
        return rng.choice(
            (
                {"namespaces": {}},
                {"namespaces": {"matchLabels": {"team": "x"}}},
                in_ns("n2"),
                {"pods": {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "a"}}}},
            )
        )

    def rule(key: str, actions: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {"name": f"r{rng.randint(0, 99)}", "action": rng.choice(actions)}
        peers = [peer() for _ in range(rng.randint(1, 2))]
        if key == "to" and rng.random() < 0.3:
            peers.append({"networks": [rng.choice(("10.0.0.0/8", "10.1.0.0/16", "0.0.0.0/1"))]})
        out[key] = peers
        if rng.random() < 0.6:
            out["ports"] = [
                rng.choice(
                    (
                        tcp(80),
                        {"namedPort": "http"},
                        {"portRange": {"protocol": "UDP", "start": 1000, "end": 2000}},
                    )
                )
            ]
        return out

    def subject() -> dict[str, Any]:
        return rng.choice(
            (
                {"namespaces": {}},
                {"namespaces": {"matchLabels": {"team": "y"}}},
                in_ns("n1"),
                {"pods": {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "a"}}}},
            )
        )

    docs: list[dict[str, Any]] = []
    for i in range(rng.randint(0, 3)):
        actions = ("Allow", "Deny", "Pass")
        spec: dict[str, Any] = {"subject": subject()}
        if rng.random() < 0.8:
            spec["ingress"] = [rule("from", actions) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.6:
            spec["egress"] = [rule("to", actions) for _ in range(rng.randint(1, 3))]
        docs.append(anp(f"anp{i}", rng.choice((1, 2, 3, 3)), spec))
    if rng.random() < 0.6:
        spec = {"subject": subject()}
        spec["ingress"] = [rule("from", ("Allow", "Deny")) for _ in range(rng.randint(1, 2))]
        if rng.random() < 0.6:
            spec["egress"] = [rule("to", ("Allow", "Deny")) for _ in range(rng.randint(1, 2))]
        docs.append(banp(spec))
    return docs


@pytest.mark.parametrize("seed", range(40))
def test_grouped_map_equals_pair_by_pair_answers_with_admin_policies(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(1000 + seed)
    docs = _random_repo(rng) + _random_admin(rng)
    index = index_of(_write(tmp_path / "r", docs))
    assert _grouped(index) == _brute(index)


def test_admin_policies_of_one_name_are_one_object(tmp_path: Path) -> None:
    # Two different AdminNetworkPolicies named alike: the cluster keeps the one applied last,
    # which the repo does not say, so what either decides is unknown.
    deny = anp(
        "same", 10, {"subject": in_ns("a"), "ingress": [{"action": "Deny", "from": [in_ns("b")]}]}
    )
    allow = anp(
        "same", 20, {"subject": in_ns("a"), "ingress": [{"action": "Allow", "from": [in_ns("b")]}]}
    )
    assert _admin_pair(tmp_path / "x", [deny, allow]) == ("No Connections", "All Connections")
    # The same one twice (equal copies) is one policy, modelled.
    assert _admin_pair(tmp_path / "y", [deny, copy.deepcopy(deny)]) == (
        "No Connections",
        "No Connections",
    )


def test_a_base_with_admin_policies_applied_by_two_overlays_is_modelled(tmp_path: Path) -> None:
    root = tmp_path / "r"
    guard = anp(
        "guard", 5, {"subject": in_ns("a"), "ingress": [{"action": "Deny", "from": [in_ns("b")]}]}
    )
    everyone = {"namespaces": {}}
    baseline = banp({"subject": everyone, "egress": [{"action": "Deny", "to": [everyone]}]})
    _write(root / "base", [guard, baseline])
    (root / "base" / "kustomization.yaml").write_text("resources: [all.yaml]\n")
    for name, namespace in (("prod", "a"), ("dev", "b")):
        _write(root / name, [pod(name, namespace, {})])
        (root / name / "kustomization.yaml").write_text("resources: [../base, all.yaml]\n")
    index = index_of(root)
    assert len(index.cluster_foreign_policies) == 4  # each base object in both builds
    chart = connectivity(index)
    assert not [n for n in chart.notes if "not modelled" in n or "named" in n], chart.notes
    # The ANP denies b -> a; the baseline denies everything else between pods.
    assert _map(index) == {
        ("a/prod[Pod]", "0.0.0.0-255.255.255.255[External]"): ("All Connections", "No Connections"),
        ("b/dev[Pod]", "0.0.0.0-255.255.255.255[External]"): ("All Connections", "No Connections"),
        ("0.0.0.0-255.255.255.255[External]", "a/prod[Pod]"): ("All Connections", "No Connections"),
        ("0.0.0.0-255.255.255.255[External]", "b/dev[Pod]"): ("All Connections", "No Connections"),
    }
