"""The planned cluster stored by namespace in the cache (``runner.cluster_slice``), which lets
``netlint explain`` on an unchanged repo read two namespaces instead of planning every unit:
the answer from a slice is the answer from the whole cluster, a change of any file or setting
replaces the slice, and a damaged slice is never believed."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from test_connectivity import _random_repo

import netlint.run.cache as cache_module
from netlint.analysis.index import Index
from netlint.core.model import Workload
from netlint.output.explain import end_namespaces, explain_pair, parse_end, render_json
from netlint.run.runner import CheckRequest, cluster_slice


@pytest.fixture(autouse=True)
def _no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    # Files written a moment ago are "racy" (their stat cannot prove them unchanged): the
    # tests write and read within a second.
    monkeypatch.setattr(cache_module, "_RACY_NS", 0)


def _slice(root: Path, ends: tuple[str, str], use_cache: bool = True) -> tuple[Index, bool]:
    request = CheckRequest(paths=[str(root)], use_cache=use_cache)
    index, _, sliced = cluster_slice(request, end_namespaces(ends))
    return index, sliced


def _answer(index: Index, ends: tuple[str, str]) -> str:
    src, dst = parse_end(index, ends[0]), parse_end(index, ends[1])
    return render_json(explain_pair(index, src, dst))


def _ends(index: Index) -> list[str]:
    names = [f"{w.namespace}/{w.name}" for w in index.workloads if isinstance(w, Workload)]
    return [*sorted(set(names)), "10.1.2.3", "192.168.0.0/24"]


KUSTOMIZED = {
    "base/kustomization.yaml": "resources: [app.yaml, policy.yaml]\n",
    "base/app.yaml": (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: api, labels: {app: api}}\n"
        "spec: {containers: [{name: c, image: x, ports: [{containerPort: 8080, name: http}]}]}\n"
    ),
    "base/policy.yaml": (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: api}\n"
        "spec:\n  podSelector: {matchLabels: {app: api}}\n  ingress:\n"
        "  - from: [{namespaceSelector: {matchLabels: {team: web}}}]\n"
        "    ports: [{port: http}]\n"
    ),
    "overlays/prod/kustomization.yaml": "namespace: prod\nresources: [../../base]\n",
    "overlays/dev/kustomization.yaml": "namespace: dev\nresources: [../../base]\n",
    "web.yaml": (
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: web, labels: {team: web}}\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: front, namespace: web}\n"
        "spec: {containers: [{name: c, image: x}]}\n"
    ),
}


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    (root / ".netlint.yaml").write_text("{}\n", encoding="utf-8")
    return root


def test_a_slice_answers_as_the_whole_cluster_does_for_kustomize_namespaces(
    tmp_path: Path,
) -> None:
    root = _write(tmp_path / "repo", KUSTOMIZED)
    ends = ("web/front", "prod/api")
    full, sliced = _slice(root, ends)
    assert not sliced  # nothing stored yet: planned, then stored
    expected = _answer(full, ends)
    assert '"allowed"' in expected or "TCP 8080" in expected
    again, sliced = _slice(root, ends)
    assert sliced
    assert _answer(again, ends) == expected
    # The overlay's namespace is where kustomize put the pod; dev's copy is not in this slice.
    assert {w.namespace for w in again.workloads} == {"web", "prod"}


def test_slices_agree_with_the_whole_cluster_on_random_repos(tmp_path: Path) -> None:
    rng = random.Random(20261202)
    for case in range(12):
        root = tmp_path / f"r{case}"
        root.mkdir()
        documents: list[dict[str, Any]] = _random_repo(rng)
        (root / "all.yaml").write_text(
            "\n---\n".join(json.dumps(d) for d in documents) + "\n", encoding="utf-8"
        )
        (root / ".netlint.yaml").write_text("{}\n", encoding="utf-8")
        whole, _ = _slice(root, ("x/a", "x/b"))  # plans and stores the cluster
        names = _ends(whole)
        pairs = [(a, b) for a in names for b in names][:40]
        for ends in pairs:
            part, sliced = _slice(root, ends)
            assert sliced, ends
            assert _answer(part, ends) == _answer(whole, ends), (case, ends)


def test_a_changed_file_replaces_the_slice(tmp_path: Path) -> None:
    root = _write(tmp_path / "repo", KUSTOMIZED)
    ends = ("web/front", "prod/api")
    _slice(root, ends)
    _slice(root, ends)
    web = root / "web.yaml"
    web.write_text(web.read_text().replace("team: web", "team: other"), encoding="utf-8")
    index, sliced = _slice(root, ends)
    assert not sliced
    assert index.namespace_objects["web"].labels["team"] == "other"
    again, sliced = _slice(root, ends)
    assert sliced and again.namespace_objects["web"].labels["team"] == "other"
    # A setting the plan depends on (the default namespace) is part of the key as well.
    (root / ".netlint.yaml").write_text("default-namespace: web\n", encoding="utf-8")
    _, sliced = _slice(root, ends)
    assert not sliced


def test_a_damaged_slice_is_not_believed(tmp_path: Path) -> None:
    root = _write(tmp_path / "repo", KUSTOMIZED)
    ends = ("web/front", "prod/api")
    full, _ = _slice(root, ends)
    expected = _answer(full, ends)
    shards = sorted(
        (root / cache_module.CACHE_DIR).glob("shard-*.msgpack"), key=lambda p: p.stat().st_size
    )
    assert shards
    for shard in shards:
        blob = bytearray(shard.read_bytes())
        blob[len(blob) // 2] ^= 0xFF
        shard.write_bytes(bytes(blob))
    index, sliced = _slice(root, ends)
    assert not sliced  # rewritten in place: not the file the state names
    assert _answer(index, ends) == expected


def test_a_bare_name_or_no_cache_reads_the_whole_cluster(tmp_path: Path) -> None:
    root = _write(tmp_path / "repo", KUSTOMIZED)
    assert end_namespaces(("front", "prod/api")) is None
    assert end_namespaces(("10.0.0.1", "2001:db8::/64")) == frozenset()
    _slice(root, ("web/front", "prod/api"))
    index, sliced = _slice(root, ("front", "prod/api"))
    assert not sliced and {w.namespace for w in index.workloads} == {"web", "prod", "dev"}
    _, sliced = _slice(root, ("web/front", "prod/api"), use_cache=False)
    assert not sliced


def test_decoding_rejects_what_netlint_did_not_write_for_this_key(tmp_path: Path) -> None:
    root = _write(tmp_path / "repo", KUSTOMIZED)
    whole, _ = _slice(root, ("web/front", "prod/api"))
    objects = [*whole.namespace_objects.values(), *whole.policies, *whole.workloads]
    blob = cache_module.encode_cluster("k1", objects, {"x.env": None, "y.env": "abc"})
    decoded = cache_module.decode_cluster(blob, "k1", {"prod"})
    assert decoded is not None and decoded[1] == (("x.env", None), ("y.env", "abc"))
    assert {o.ref.namespace for o in decoded[0] if isinstance(o, Workload)} == {"prod"}
    assert cache_module.decode_cluster(blob, "k2", {"prod"}) is None
    for damaged in (b"", blob[:-7], blob.replace(b"prod", b"pr\xffd"), b"x" * 64):
        assert cache_module.decode_cluster(damaged, "k1", {"prod"}) is None


def test_a_file_builds_read_outside_the_key_is_compared_too(tmp_path: Path) -> None:
    # The base is excluded from discovery (not linted, so not in the key), but the overlays'
    # builds still read it: a change there must not be answered from the stored cluster.
    root = _write(tmp_path / "repo", KUSTOMIZED)
    excluded = 'exclude: ["base/", "overlays/prod/extra.yaml"]\n'
    (root / ".netlint.yaml").write_text(excluded, encoding="utf-8")
    ends = ("web/front", "prod/api")
    first, _ = _slice(root, ends)
    assert any(w.namespace == "prod" for w in first.workloads)
    _, sliced = _slice(root, ends)
    assert sliced
    app = root / "base" / "app.yaml"
    app.write_text(app.read_text().replace("app: api", "app: other"), encoding="utf-8")
    index, sliced = _slice(root, ends)
    assert not sliced
    (api,) = [w for w in index.workloads if w.namespace == "prod"]
    assert api.pod_labels["app"] == "other"
    # A file a build looked for and did not find counts too: it may appear.
    kustomization = root / "overlays" / "prod" / "kustomization.yaml"
    kustomization.write_text("namespace: prod\nresources: [../../base, extra.yaml]\n")
    _slice(root, ends)
    _, sliced = _slice(root, ends)
    assert sliced
    (root / "overlays" / "prod" / "extra.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: more}\n"
        "spec: {containers: [{name: c, image: x}]}\n"
    )
    index, sliced = _slice(root, ends)
    assert not sliced and any(w.name == "more" for w in index.workloads)
