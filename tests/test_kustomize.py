"""The in-process kustomize engine against real `kubectl kustomize` output, and its spans.

Each case of ../shared/oracles/kustomize/ is rendered from `tree/<entry>` and compared with
`rendered.yaml` (Kustomize v5.5.0): the set of (apiVersion, kind, namespace, name), and for
NetworkPolicies, workloads and Namespaces the content netlint reads (labels, selectors, pod
template labels, container ports, the whole policy spec); `origins.json` gives each object's
source file and transformers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import KUSTOMIZE_CASES, KUSTOMIZE_ORACLES, needs_kustomize_oracles

from netlint.read.kustomize import (
    FileSource,
    Rendered,
    SourceFile,
    render,
    top_level_kustomizations,
)
from netlint.read.parse import ALL, Limits, parse, to_tree

ORACLES, CASES = KUSTOMIZE_ORACLES, KUSTOMIZE_CASES
needs_oracles = needs_kustomize_oracles

WORKLOADS = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "Pod": (),
}
Key = tuple[str, str, str, str]


def _dig(data: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _selector_path(kind: str) -> tuple[str, ...]:
    return (
        ("spec", "jobTemplate", "spec", "selector") if kind == "CronJob" else ("spec", "selector")
    )


def compared(obj: dict[str, Any]) -> dict[str, Any] | None:
    """What netlint reads of an object, or None for kinds it does not read."""
    kind = obj.get("kind")
    if kind == "NetworkPolicy":
        return {"labels": _dig(obj, "metadata", "labels"), "spec": obj.get("spec")}
    if kind == "Namespace":
        return {"labels": _dig(obj, "metadata", "labels")}
    if kind in WORKLOADS:
        template = WORKLOADS[kind]
        pod = _dig(obj, *template) if template else obj
        spec = _dig(pod, "spec") or {}
        return {
            "labels": _dig(obj, "metadata", "labels"),
            "selector": _dig(obj, *_selector_path(kind)) if kind != "Pod" else None,
            "template_labels": _dig(pod, "metadata", "labels"),
            "ports": {
                section: [(c.get("name"), c.get("ports")) for c in spec.get(section) or []]
                for section in ("containers", "initContainers")
            },
        }
    return None


def _key(obj: dict[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return (obj["apiVersion"], obj["kind"], meta.get("namespace") or "", meta["name"])


def _rendered_key(obj: Rendered) -> Key:
    return (obj.api_version, obj.kind, obj.namespace, obj.name)


def _oracle(case: str) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    folder = ORACLES / case
    entry = yaml.safe_load((folder / "case.yaml").read_text())["entry"]
    expected = [d for d in yaml.safe_load_all((folder / "rendered.yaml").read_text()) if d]
    origins = json.loads((folder / "origins.json").read_text())
    return entry, expected, origins


_HASHED = re.compile(r"-[a-z0-9]{10}$")


def _matches(want: Key, got: Key, unknown_suffix: bool) -> bool:
    if not unknown_suffix:
        return want == got
    # A generated name whose hash the engine cannot compute (a binary input): the name
    # without its suffix must agree.
    return (
        want[:3] == got[:3]
        and _HASHED.search(want[3]) is not None
        and (_HASHED.sub("", want[3]) == got[3])
    )


@needs_oracles
@pytest.mark.parametrize("case", CASES)
def test_oracle_objects(case: str) -> None:
    entry, expected, _ = _oracle(case)
    unit = render(FileSource(ORACLES / case / "tree"), entry)
    assert not unit.errors, [str(e) for e in unit.errors]
    want = {_key(o): o for o in expected}
    got: dict[Key, Any] = {}
    for obj in unit.objects:
        key = _rendered_key(obj)
        if obj.name_unknown_suffix:
            match = next((w for w in want if _matches(w, key, True)), None)
            assert match is not None, f"no rendered object for generated {key}"
            assert unit.incomplete, "an unknown generated name must make the unit incomplete"
            key = match
        got[key] = obj
    assert sorted(got) == sorted(want)
    for key, obj in got.items():
        expect = compared(want[key])
        if expect is not None:
            assert compared(obj.tree.data) == expect, key


@needs_oracles
@pytest.mark.parametrize("case", CASES)
def test_oracle_origins(case: str) -> None:
    """Each object comes from the file (or generator) origins.json names, through the same
    builtin transformers (compared as sets: kustomize may list one transformer twice)."""
    entry, _, origins = _oracle(case)
    unit = render(FileSource(ORACLES / case / "tree"), entry)
    by_key = {_rendered_key(o): o for o in unit.objects}
    for record in origins:
        key = (record["apiVersion"], record["kind"], record["namespace"] or "", record["name"])
        obj = by_key.get(key) or next(
            (o for k, o in by_key.items() if o.name_unknown_suffix and _matches(key, k, True)),
            None,
        )
        assert obj is not None, key
        if "origin" in record:
            assert obj.origin == record["origin"], key
        else:
            assert obj.generated_by is not None, key
            assert obj.generated_by.kind == record["generated_by"]["kind"]
            assert obj.generated_by.configured_in == record["generated_by"]["configuredIn"]
        want = {(t["kind"], t["configuredIn"]) for t in record.get("transformations") or []}
        assert {(t.kind, t.configured_in) for t in obj.transformations} == want, key


# ---------------------------------------------------------------------------------------------
# Hand-made trees: spans, incompleteness, hostile input


def _write(root: Path, files: dict[str, str]) -> None:
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)


def _line_of(root: Path, name: str, needle: str) -> int:
    """The 1-based line of the first line of ``name`` containing ``needle``."""
    for number, line in enumerate((root / name).read_text().splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {name}")


BASE = {
    "base/kustomization.yaml": "resources:\n- policy.yaml\n- web.yaml\n",
    "base/policy.yaml": (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: allow-web\n"
        "spec:\n  podSelector:\n    matchLabels:\n      app: web\n  ingress:\n  - from:\n"
        "    - podSelector:\n        matchLabels:\n          app: client\n"
    ),
    "base/web.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n"
        "    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n"
        "        app: web\n    spec:\n      containers:\n      - name: main\n        image: nginx\n"
        "        ports:\n        - containerPort: 8080\n"
    ),
}
OVERLAY = (
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
    "namespace: prod\n"
    "commonLabels:\n  team: shop\n"
    "resources:\n- ../../base\n"
    "patches:\n- path: port.yaml\n"
    "- target:\n    kind: NetworkPolicy\n  patch: |-\n    - op: add\n"
    "      path: /spec/ingress/-\n      value:\n        from:\n"
    "        - namespaceSelector:\n            matchLabels:\n"
    "              kubernetes.io/metadata.name: monitoring\n"
)
PORT_PATCH = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n"
    "    spec:\n      containers:\n      - name: main\n        ports:\n"
    "        - containerPort: 9090\n"
)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    _write(
        tmp_path,
        {
            **BASE,
            "overlays/prod/kustomization.yaml": OVERLAY,
            "overlays/prod/port.yaml": PORT_PATCH,
        },
    )
    return tmp_path


def _object(unit: Any, kind: str) -> Rendered:
    return next(o for o in unit.objects if o.kind == kind)


def test_span_of_namespace_points_at_the_kustomization(shop: Path) -> None:
    unit = render(FileSource(shop), "overlays/prod")
    assert unit.complete, unit.errors + unit.incomplete
    policy = _object(unit, "NetworkPolicy")
    span = policy.tree.spans[("metadata", "namespace")]
    kust = "overlays/prod/kustomization.yaml"
    assert (span.path, span.line) == (kust, _line_of(shop, kust, "namespace: prod"))
    assert policy.tree.key_spans[("metadata", "namespace")].line == span.line


def test_span_of_a_common_label_points_at_its_entry(shop: Path) -> None:
    unit = render(FileSource(shop), "overlays/prod")
    policy = _object(unit, "NetworkPolicy")
    kust = "overlays/prod/kustomization.yaml"
    line = _line_of(shop, kust, "team: shop")
    for where in (
        ("metadata", "labels", "team"),
        ("spec", "podSelector", "matchLabels", "team"),
        ("spec", "ingress", 0, "from", 0, "podSelector", "matchLabels", "team"),
    ):
        span = policy.tree.spans[where]
        assert (span.path, span.line) == (kust, line), where
    # The labels the base wrote keep their base lines.
    span = policy.tree.spans[("spec", "podSelector", "matchLabels", "app")]
    assert (span.path, span.line) == (
        "base/policy.yaml",
        _line_of(shop, "base/policy.yaml", "app: web"),
    )


def test_span_of_a_patched_field(shop: Path) -> None:
    unit = render(FileSource(shop), "overlays/prod")
    web = _object(unit, "Deployment")
    ports = ("spec", "template", "spec", "containers", 0, "ports")
    assert web.tree.get(ports) == [{"containerPort": 9090}, {"containerPort": 8080}]
    patched = web.tree.spans[(*ports, 0, "containerPort")]
    patch = "overlays/prod/port.yaml"
    assert (patched.path, patched.line) == (patch, _line_of(shop, patch, "containerPort: 9090"))
    kept = web.tree.spans[(*ports, 1, "containerPort")]
    assert (kept.path, kept.line) == ("base/web.yaml", _line_of(shop, "base/web.yaml", "8080"))


def test_span_of_an_inline_json_patch_is_its_line_in_the_kustomization(shop: Path) -> None:
    unit = render(FileSource(shop), "overlays/prod")
    policy = _object(unit, "NetworkPolicy")
    where = ("spec", "ingress", 1, "from", 0, "namespaceSelector", "matchLabels")
    key = (*where, "kubernetes.io/metadata.name")
    assert policy.tree.get(key) == "monitoring"
    kust = "overlays/prod/kustomization.yaml"
    line = _line_of(shop, kust, "kubernetes.io/metadata.name: monitoring")
    span = policy.tree.spans[key]
    assert (span.path, span.line) == (kust, line)
    text = (shop / kust).read_text().splitlines()[line - 1]
    assert text[span.col - 1 : span.end_col - 1] == "monitoring"


def test_the_loaders_trees_are_not_edited(shop: Path) -> None:
    """Two renders over the same cached documents give the same result."""
    files = FileSource(shop)
    cache: dict[str, SourceFile | None] = {}

    def cached(path: str) -> SourceFile | None:
        if path not in cache:
            cache[path] = files(path)
        return cache[path]

    first = render(cached, "overlays/prod")
    second = render(cached, "overlays/prod")
    assert [o.tree.data for o in first.objects] == [o.tree.data for o in second.objects]
    base = render(cached, "base")
    assert _object(base, "NetworkPolicy").tree.get(("metadata",)) == {"name": "allow-web"}


def test_top_level_kustomizations(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            **BASE,
            "overlays/a/kustomization.yaml": (
                "resources:\n- ../../base\ncomponents:\n- ../../comp\n"
            ),
            "overlays/b/kustomization.yaml": "resources:\n- ../../base\n",
            "comp/kustomization.yaml": (
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
            ),
            "unused-component/kustomization.yaml": "kind: Component\n",
            "lone/kustomization.yaml": "resources:\n- x.yaml\n",
        },
    )
    paths = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()]
    assert top_level_kustomizations(FileSource(tmp_path), paths) == [
        "lone",
        "overlays/a",
        "overlays/b",
    ]


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("https://github.com/example/repo//base?ref=v1", "remote resource"),
        ("github.com/example/repo/base", "remote resource"),
    ],
)
def test_remote_bases_make_the_unit_incomplete(tmp_path: Path, entry: str, reason: str) -> None:
    _write(tmp_path, {**BASE, "o/kustomization.yaml": f"resources:\n- ../base\n- {entry}\n"})
    unit = render(FileSource(tmp_path), "o")
    assert not unit.errors
    assert [r.message.split(" '")[0] for r in unit.incomplete] == [reason]
    assert unit.incomplete[0].span.line == _line_of(tmp_path, "o/kustomization.yaml", entry)
    assert len(unit.objects) == 2


def test_helm_and_plugins_make_the_unit_incomplete(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "k/kustomization.yaml": (
                "helmCharts:\n- name: x\n  repo: https://example.com\n"
                "transformers:\n- t.yaml\ngenerators:\n- g.yaml\n"
            )
        },
    )
    unit = render(FileSource(tmp_path), "k")
    kinds = sorted(r.message.split(":")[0].split(" ")[0] for r in unit.incomplete)
    assert kinds == ["generator", "helmCharts", "transformers"]


@pytest.mark.parametrize(
    ("files", "entry", "message"),
    [
        (
            {"k/kustomization.yaml": "resources:\n- ../../outside\n"},
            "k",
            "outside the project root",
        ),
        ({"k/kustomization.yaml": "- a\n- b\n"}, "k", "must be a mapping"),
        ({"k/kustomization.yaml": "resources:\n- missing.yaml\n"}, "k", "is not a file, nor"),
        (
            {
                "a/kustomization.yaml": "resources:\n- ../b\n",
                "b/kustomization.yaml": "resources:\n- ../a\n",
            },
            "a",
            "cycle in kustomization resources: a -> b -> a",
        ),
        (
            {
                "k/kustomization.yaml": "resources:\n- ../other/x.yaml\n",
                "other/x.yaml": "kind: A\n",
            },
            "k",
            "security; file is not in or below",
        ),
        ({"k/kustomization.yaml": "resources: [\n"}, "k", "expected"),
        (
            {"k/kustomization.yaml": "resources: 7\n"},
            "k",
            "resources must be a list",
        ),
        ({"k/kustomization.yaml": "namespace: [a]\n"}, "k", "namespace must be a string"),
        (
            {
                "k/kustomization.yaml": (
                    "resources:\n- p.yaml\npatches:\n- patch: |-\n    - op: remove\n"
                    "      path: /nope\n  target:\n    kind: NetworkPolicy\n"
                ),
                "k/p.yaml": (
                    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: p\n"
                ),
            },
            "k",
            "does not exist",
        ),
        (
            {
                "k/kustomization.yaml": "resources:\n- p.yaml\npatchesStrategicMerge:\n- q.yaml\n",
                "k/p.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: p\n",
                "k/q.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: other\n",
            },
            "k",
            "no resource matches",
        ),
    ],
)
def test_bad_input_is_a_reported_problem(
    tmp_path: Path, files: dict[str, str], entry: str, message: str
) -> None:
    _write(tmp_path, files)
    unit = render(FileSource(tmp_path), entry)
    assert any(message in e.message for e in unit.errors), [str(e) for e in unit.errors]
    assert all(e.span.path and e.span.line >= 1 for e in unit.errors)


def test_symlinks_out_of_the_root_are_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: secret\n")
    root = tmp_path / "repo"
    _write(root, {"k/kustomization.yaml": "resources:\n- link.yaml\n"})
    (root / "k" / "link.yaml").symlink_to(outside)
    unit = render(FileSource(root), "k")
    assert not unit.objects
    assert any("outside the project root" in e.message for e in unit.errors)


def test_a_hostile_target_regex_is_not_run(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "k/kustomization.yaml": (
                "resources:\n- p.yaml\npatches:\n- target:\n    name: (a+)+$\n"
                '  patch: \'[{"op": "add", "path": "/x", "value": 1}]\'\n'
            ),
            "k/p.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + "a" * 60 + "b\n",
        },
    )
    unit = render(FileSource(tmp_path), "k")
    assert any("exponential" in r.message for r in unit.incomplete)


def test_in_memory_loader(tmp_path: Path) -> None:
    """The engine reads only through the loader, so documents can come from a cache."""
    texts = {
        "k/kustomization.yaml": "namespace: ns\nresources:\n- ns.yaml\n",
        "k/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: base\n",
    }

    def load(path: str) -> SourceFile | None:
        if path not in texts:
            return None
        parsed = parse(path, texts[path].encode(), Limits())
        trees = [to_tree(path, d, ALL, 64, parsed.positions) for d in parsed.documents]
        return SourceFile(trees, (), texts[path])

    unit = render(load, "k")
    assert [(o.kind, o.name) for o in unit.objects] == [("Namespace", "ns")]
    assert unit.files == ["k/kustomization.yaml", "k/ns.yaml"]
