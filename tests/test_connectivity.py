"""``netlint connectivity`` and the reachability core (netlint/analysis/reach.py).

The oracle: netpol-analyzer's expected outputs (../shared/oracles/connectivity/), scored by its
``score.py`` on every pure-NetworkPolicy case; each must agree exactly, except the deliberate
differences listed in docs/connectivity.md (read from there: one list). The core: named ports,
ipBlock excepts, default-open directions, unknown namespace labels, and the grouped map equal to
the pair-by-pair answer of ``explain`` on random repos.
"""

from __future__ import annotations

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

from netlint.analysis.index import Index
from netlint.analysis.reach import (
    Conns,
    External,
    Record,
    connectivity,
    endpoint_of,
    explain,
)
from netlint.core.model import Workload
from netlint.run.runner import CheckRequest, layout

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
    return subprocess.run(
        [sys.executable, "-m", "netlint", "connectivity", "--no-cache", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


# -- the oracle ------------------------------------------------------------------------------


@needs_oracle
def test_oracle_pure_networkpolicy_cases_agree(tmp_path: Path) -> None:
    cases = json.loads((ORACLE / "cases.json").read_text(encoding="utf-8"))
    pure = {
        "cases": [c for c in cases["cases"] if c["class"] == "pure_np"],
        "diffs": [d for d in cases["diffs"] if d["class"] == "pure_np"],
    }
    # A folder of the pure cases only (score.py scores every case of a folder), reading the
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
    allowed = deliberate_differences()
    assert allowed, "docs/connectivity.md lists no deliberate differences"
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


def _random_repo(rng: random.Random) -> list[dict[str, Any]]:
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
        docs.append(policy(f"pol{i}", rng.choice(spaces), spec))
    return docs


def _brute(index: Index) -> dict[tuple[str, int | str], tuple[Conns, Conns]]:
    """Every (src, dst) by :func:`explain`, external ends on the atoms of every ipBlock."""
    found = connectivity(index)
    atoms = [
        External(v, lo, hi)
        for d in found.partition.values()
        for v, xs in d.items()
        for lo, hi in xs
    ]
    cuts = sorted({a.lo for a in atoms} | {a.hi + 1 for a in atoms})
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


def _grouped(index: Index) -> dict[tuple[str, int | str], tuple[Conns, Conns]]:
    found = connectivity(index)
    atoms = [
        External(v, lo, hi)
        for d in found.partition.values()
        for v, xs in d.items()
        for lo, hi in xs
    ]
    cuts = sorted({a.lo for a in atoms} | {a.hi + 1 for a in atoms})
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
