"""Deploy units: which units a repo has, and the model objects each applies, against the real
renderer.

For every case of ../shared/oracles/kustomize/, the objects of the kustomize unit netlint
builds from ``tree/`` (kind, namespace, name, pod labels, container ports, Namespace labels,
every policy's selectors, peers and ports) must be the objects netlint reads from
``rendered.yaml`` (``kubectl kustomize``, Kustomize v5.5.0), and the findings on ``tree/`` must be
the findings on ``rendered.yaml`` (by rule and object). The metadata-only way of building a unit
(metadata trees made from the parsed objects) must give what re-reading the files whole gives.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections import Counter
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import KUSTOMIZE_CASES, KUSTOMIZE_ORACLES, needs_kustomize_oracles

from netlint.analysis.layout import Layout
from netlint.core.model import ForeignPolicy, LabelSelector, Namespace, NetworkPolicy, Workload
from netlint.core.units import UnitKind
from netlint.read.build import BuildOptions
from netlint.read.load import FileResult, load
from netlint.read.parse import Limits
from netlint.read.units import _Needs, _Planner, plan
from netlint.run.runner import CheckRequest, check, layout

ORACLES, CASES = KUSTOMIZE_ORACLES, KUSTOMIZE_CASES
needs_oracles = needs_kustomize_oracles


def _selector(selector: LabelSelector | None) -> Hashable:
    if selector is None:
        return None
    return tuple(
        sorted((r.key, r.operator.value, tuple(sorted(r.values))) for r in selector.requirements)
    )


def _essence(obj: Any) -> Hashable:
    """What rules read of an object, without positions."""
    if isinstance(obj, NetworkPolicy):
        rules = tuple(
            (
                rule.direction.value,
                tuple(
                    (
                        _selector(p.pod_selector),
                        _selector(p.namespace_selector),
                        None
                        if p.ip_block is None
                        else (p.ip_block.cidr, tuple(e.cidr for e in p.ip_block.excepts)),
                    )
                    for p in rule.peers
                ),
                tuple((p.protocol, p.port, p.end_port) for p in rule.ports),
            )
            for rule in (*policy_rules(obj),)
        )
        return (
            "NetworkPolicy",
            obj.namespace,
            obj.name,
            _selector(obj.pod_selector),
            tuple(sorted(obj.policy_types)),
            rules,
            tuple(sorted(obj.labels.items())),
        )
    if isinstance(obj, Workload):
        return (
            obj.kind,
            obj.namespace,
            obj.name,
            tuple(sorted(obj.pod_labels.items())),
            tuple(sorted((p.port, p.protocol, p.name or "") for p in obj.ports)),
            obj.host_network,
        )
    if isinstance(obj, Namespace):
        return ("Namespace", obj.name, tuple(sorted(obj.labels.items())))
    assert isinstance(obj, ForeignPolicy)
    return (obj.kind, obj.namespace, obj.ref.name)


def policy_rules(policy: NetworkPolicy) -> tuple[Any, ...]:
    return (*policy.ingress, *policy.egress)


def _case(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ORACLES / name / "case.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _unit_layout(tree: Path) -> Layout:
    found, _ = layout(CheckRequest(paths=[str(tree)], root=tree, use_cache=False))
    return found


@needs_oracles
@pytest.mark.parametrize("name", CASES)
def test_a_kustomize_unit_applies_the_objects_kubectl_kustomize_renders(name: str) -> None:
    case = _case(name)
    tree = ORACLES / name / "tree"
    entry = str(case["entry"]).strip("/")
    found = _unit_layout(tree)
    units = [u for u in found.units if u.unit.kind is UnitKind.KUSTOMIZE and u.unit.root == entry]
    assert len(units) == 1, [u.unit.id for u in found.units]
    unit = units[0]
    rendered = load(
        "rendered.yaml", (ORACLES / name / "rendered.yaml").read_bytes(), BuildOptions(), Limits()
    )
    want = Counter(_essence(o) for o in rendered.objects)
    got = Counter(_essence(o) for o in unit.objects)
    assert got == want


@needs_oracles
@pytest.mark.parametrize("name", CASES)
def test_findings_on_the_tree_are_the_findings_on_the_rendered_output(
    name: str, tmp_path: Path
) -> None:
    """By rule and object: what holds of the rendered objects holds of the tree, on its lines."""
    case = _case(name)
    tree = ORACLES / name / "tree"
    entry = str(case["entry"]).strip("/")
    alone = tmp_path / "rendered"
    alone.mkdir()
    (alone / "rendered.yaml").write_bytes((ORACLES / name / "rendered.yaml").read_bytes())
    config = tmp_path / "none.yaml"
    config.write_text("{}\n")

    def findings(root: Path, paths: list[str]) -> Counter[tuple[str, str | None]]:
        outcome = check(CheckRequest(paths=paths, root=root, use_cache=False, config=str(config)))
        return Counter(
            (f.code, f.subject) for f in outcome.report.findings if f.code not in ("NL001", "NL002")
        )

    want = findings(alone, [str(alone)])
    got = findings(tree, [str(tree / entry)] if entry else [str(tree)])
    assert got == want


def _results(tree: Path) -> dict[str, FileResult]:
    out = {}
    for path in sorted(tree.rglob("*")):
        if path.is_file() and path.suffix in (".yaml", ".yml", ".json"):
            rel = path.relative_to(tree).as_posix()
            out[rel] = load(rel, path.read_bytes(), BuildOptions(), Limits())
    return out


def _three_ways(tree: Path, entry: str) -> dict[str, Any]:
    """The unit of ``entry`` built each way this build allows: namespace moves on the model
    objects, the engine on metadata trees, the engine on the files whole."""
    results = _results(tree)

    def read(rel: str) -> bytes | None:
        path = tree / rel
        return path.read_bytes() if path.is_file() else None

    def planner() -> _Planner:
        return _Planner(results, read, BuildOptions(), Limits(), frozenset())

    allowed = planner()._needs(entry, set())
    built: dict[str, Any] = {}
    for how in _Needs:
        if list(_Needs).index(how) < list(_Needs).index(allowed):
            continue
        forced = planner()
        forced._needs = lambda directory, seen, how=how: how  # type: ignore[method-assign]
        built[how.value] = forced._kustomize(entry)
    return built


def _placed(obj: Any) -> Hashable:
    return (
        _essence(obj),
        obj.ref.path,
        getattr(obj, "name_span", None),
        getattr(obj, "namespace_span", None),
    )


@needs_oracles
@pytest.mark.parametrize("name", CASES)
def test_quick_builds_build_what_whole_files_build(name: str) -> None:
    """Where a build sets only metadata, the quick ways (namespace moves, metadata trees)
    and the whole way (files re-read) give the same objects, names and namespaces on the
    same lines, from the same files."""
    built = _three_ways(ORACLES / name / "tree", str(_case(name)["entry"]).strip("/"))
    if len(built) == 1:
        pytest.skip("the build sets more than metadata")
    whole = built.pop("whole")
    for quick in built.values():
        assert Counter(map(_placed, quick.objects)) == Counter(map(_placed, whole.objects))
        assert quick.unit.files == whole.unit.files


@pytest.mark.parametrize("seed", range(30))
def test_namespace_moves_are_the_engines(seed: int, tmp_path: Path) -> None:
    """Random trees of bases and overlays that set namespaces (Namespace objects, policies,
    workloads, foreign policies, objects with and without a namespace): moving objects on the
    model gives what the engine gives on metadata trees and on whole files."""
    rnd = random.Random(seed)
    docs = [
        _deployment("web"),
        _policy("deny", "web"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n  labels: {a: b}\n",
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: calico\n",
        _policy("pinned", "x").replace("  name: pinned\n", "  name: pinned\n  namespace: fixed\n"),
    ]
    files: dict[str, str] = {}
    levels = rnd.randint(1, 3)
    below = ""
    for level in range(levels):
        folder = f"l{level}"
        chosen = rnd.sample(range(len(docs)), rnd.randint(0, 3))
        resources = [f"f{i}.yaml" for i in chosen]
        for i in chosen:
            files[f"{folder}/f{i}.yaml"] = docs[i]
        if below:
            resources.append(f"../{below}")
        text = f"resources: [{', '.join(resources)}]\n"
        if rnd.random() < 0.7:
            text = f"namespace: ns{level}\n" + text
        files[f"{folder}/kustomization.yaml"] = text
        below = folder
    _tree(tmp_path, files)
    built = _three_ways(tmp_path, below)
    assert set(built) == {"namespace", "metadata", "whole"}
    whole = Counter(map(_placed, built["whole"].objects))
    assert Counter(map(_placed, built["namespace"].objects)) == whole
    assert Counter(map(_placed, built["metadata"].objects)) == whole
    assert built["namespace"].unit.files == built["whole"].unit.files


def test_units_of_a_repo_by_the_evidence(tmp_path: Path) -> None:
    """A top-level overlay is a unit, its base is not; files of the kustomize tree that no
    build reads are not applied; a plain file is a unit of its own; a config unit groups
    files."""
    files = {
        "base/kustomization.yaml": "resources: [web.yaml]\n",
        "base/web.yaml": _deployment("web"),
        "base/stale.yaml": _deployment("stale"),
        "overlays/prod/kustomization.yaml": "namespace: prod\nresources: [../../base]\n",
        "plain/a.yaml": _deployment("a"),
        "env/one.yaml": _deployment("one"),
        "env/two.yaml": _deployment("two"),
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    results = {
        rel: load(rel, text.encode(), BuildOptions(), Limits()) for rel, text in files.items()
    }

    def read(rel: str) -> bytes | None:
        return files[rel].encode() if rel in files else None

    from netlint.core.units import DeclaredUnit

    found = plan(
        results,
        read,
        BuildOptions(),
        Limits(),
        [DeclaredUnit("env", ("env",), "staging", ".netlint.yaml:3:5")],
    )
    ids = sorted(p.unit.id for p in found.units)
    assert ids == ["config:env", "file:plain/a.yaml", "kustomize:overlays/prod"]
    assert found.not_applied == ["base/stale.yaml"]
    prod = next(p for p in found.units if p.unit.id == "kustomize:overlays/prod")
    assert [(o.ref.kind, o.ref.namespace, o.ref.name) for o in prod.objects] == [
        ("Deployment", "prod", "web")
    ]
    web = prod.objects[0]
    assert isinstance(web, Workload) and web.namespace_declared
    env = next(p for p in found.units if p.unit.id == "config:env")
    assert sorted(o.ref.namespace for o in env.objects) == ["staging", "staging"]


def _deployment(name: str) -> str:
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        f"  name: {name}\nspec:\n  selector:\n    matchLabels: {{app: {name}}}\n"
        f"  template:\n    metadata:\n      labels: {{app: {name}}}\n"
        "    spec:\n      containers: [{name: c, image: i}]\n"
    )


def test_netlint_units_lists_the_units(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "kustomization.yaml").write_text("resources: [web.yaml]\n")
    (tmp_path / "base" / "web.yaml").write_text(_deployment("web"))
    (tmp_path / "lone.yaml").write_text(_deployment("lone\u202e"))
    (tmp_path / "package.json").write_text('{"name": "site"}\n')

    def units(*extra: str) -> str:
        run = subprocess.run(
            [sys.executable, "-m", "netlint", "units", "--no-cache", *extra, str(tmp_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        return run.stdout

    out = units()
    assert "kustomize base  (from base/kustomization.yaml:1:1)\n    id: kustomize:base\n" in out
    assert "file lone.yaml" in out
    assert "applies 0 policies, 1 workload" in out
    assert "\u202e" not in out
    # A file that applies nothing is counted, not listed, unless every file is asked for.
    assert "package.json" not in out
    assert out.endswith(
        "3 units (1 plain file applying no object not listed; --files lists them)\n"
    )
    assert "file package.json" in units("--files")


def _tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def _policy(name: str, app: str, extra: str = "") -> str:
    return (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n"
        f"  name: {name}\nspec:\n  podSelector: {{matchLabels: {{app: {app}}}}}\n"
        f"  policyTypes: [Ingress]\n{extra}"
    )


def _findings(root: Path, *codes: str) -> set[tuple[str, int, str, str]]:
    report = check(CheckRequest(paths=[str(root)], root=root, use_cache=False, select=list(codes)))
    return {(f.span.path, f.span.line, f.code, f.message) for f in report.report.findings}


def test_workloads_kustomize_namespaces_are_judged_in_that_namespace(tmp_path: Path) -> None:
    """The overlay puts the base's namespace-less workload in `prod`, where no policy is: it
    is found (NL101), on the base's line, and said to be in prod (issue 13's missed
    Deployments). Read as a plain file, the namespace-less workload could run anywhere, so
    the matching policy of namespace ui would have hidden it."""
    _tree(
        tmp_path,
        {
            "base/kustomization.yaml": "resources: [web.yaml]\n",
            "base/web.yaml": _deployment("web"),
            "overlays/prod/kustomization.yaml": "namespace: prod\nresources: [../../base]\n",
            "other/allow.yaml": _policy("allow-web", "web").replace(
                "  name: allow-web\n", "  name: allow-web\n  namespace: ui\n"
            ),
        },
    )
    (found,) = _findings(tmp_path, "NL101")
    assert found[:3] == ("base/web.yaml", 4, "NL101")
    assert "Deployment prod/web" in found[3]


def test_a_finding_of_some_overlays_names_them(tmp_path: Path) -> None:
    """A base used by two overlays: the finding that only one of them gives is reported once,
    on the base's line, naming that overlay; one both give alike is reported once, plainly."""
    _tree(
        tmp_path,
        {
            "base/kustomization.yaml": "resources: [web.yaml, deny.yaml]\n",
            "base/web.yaml": _deployment("web"),
            "base/deny.yaml": _policy(
                "deny", "web", "  ingress:\n    - from: [{ipBlock: {cidr: 0.0.0.0/0}}]\n"
            ),
            "overlays/prod/kustomization.yaml": "namespace: prod\nresources: [../../base]\n",
            "overlays/dev/kustomization.yaml": (
                "namespace: dev\nresources: [../../base]\n"
                "patches:\n  - target: {kind: NetworkPolicy}\n    patch: |\n"
                "      - op: replace\n        path: /spec/ingress/0/from/0/ipBlock/cidr\n"
                "        value: 10.0.0.0/8\n"
            ),
        },
    )
    found = _findings(tmp_path, "NL104")
    assert {(p, line, code) for p, line, code, _ in found} == {("base/deny.yaml", 9, "NL104")}
    (message,) = [m for *_, m in found]
    assert message.endswith("(in kustomize overlays/prod)")


def test_gitops_definitions_are_units_with_their_namespaces(tmp_path: Path) -> None:
    """An Argo CD Application's folder is one unit: its namespace-less objects get
    destination.namespace (NL207 silent), and its two files are applied together (NL206)."""
    app = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: shop\n"
        "spec:\n  source:\n    repoURL: https://example.com/repo.git\n    path: apps/shop\n"
        "  destination:\n    namespace: shop\n"
    )
    _tree(
        tmp_path,
        {
            "argocd/shop.yaml": app,
            "apps/shop/a.yaml": _policy("same", "a"),
            "apps/shop/b.yaml": _policy("same", "b"),
        },
    )
    found, _ = layout(CheckRequest(paths=[str(tmp_path)], root=tmp_path, use_cache=False))
    (unit,) = [u for u in found.units if u.unit.kind is UnitKind.ARGOCD]
    assert unit.unit.root == "apps/shop" and unit.unit.declared_at == "argocd/shop.yaml:8:11"
    assert {o.ref.namespace for o in unit.objects} == {"shop"}
    assert {(p, line, code) for p, line, code, _ in _findings(tmp_path, "NL206", "NL207")} == {
        ("apps/shop/b.yaml", 4, "NL206")
    }


def test_flux_target_namespace_overrides_every_namespace(tmp_path: Path) -> None:
    flux = (
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n"
        "  name: apps\nspec:\n  path: ./apps\n  targetNamespace: team\n"
        "  sourceRef: {kind: GitRepository, name: repo}\n"
    )
    deployment = _deployment("web").replace("  name: web\n", "  name: web\n  namespace: x\n")
    _tree(tmp_path, {"clusters/apps.yaml": flux, "apps/deep/web.yaml": deployment})
    found, _ = layout(CheckRequest(paths=[str(tmp_path)], root=tmp_path, use_cache=False))
    (unit,) = [u for u in found.units if u.unit.kind is UnitKind.FLUX]
    assert [(o.ref.kind, o.ref.namespace) for o in unit.objects] == [("Deployment", "team")]


def test_an_incomplete_unit_is_not_judged_by_claims_of_absence(tmp_path: Path) -> None:
    """A remote base may add the policy that selects the pods: NL101 is silent there, and
    --verbose says why."""
    _tree(
        tmp_path,
        {
            "app/kustomization.yaml": (
                "resources:\n  - web.yaml\n  - https://github.com/example/policies//base?ref=v1\n"
            ),
            "app/web.yaml": _deployment("web"),
        },
    )
    assert _findings(tmp_path, "NL101") == set()
    request = CheckRequest(paths=[str(tmp_path)], root=tmp_path, use_cache=False)
    check(request)
    assert any("unit kustomize app is incomplete" in note for note in request.notes)


def test_a_build_never_reads_outside_the_root(tmp_path: Path) -> None:
    """A kustomization naming a file through a linked folder that leads out of the project,
    or with `..` past the root, gets nothing from there: the unit is incomplete, and not one
    byte of the outside file reaches the report."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text(_deployment("stolen"))
    root = tmp_path / "repo"
    _tree(
        root,
        {
            "app/kustomization.yaml": (
                "resources:\n  - linked/secret.yaml\n  - ../../outside/secret.yaml\n  - web.yaml\n"
            ),
            "app/web.yaml": _deployment("web"),
        },
    )
    (root / "app" / "linked").symlink_to(outside, target_is_directory=True)
    found, _ = layout(CheckRequest(paths=[str(root)], root=root, use_cache=False))
    (unit,) = [u for u in found.units if u.unit.kind is UnitKind.KUSTOMIZE]
    assert [o.ref.name for o in unit.objects] == ["web"]
    assert not unit.unit.complete
    assert all("outside" not in f for f in unit.unit.files)
    report = check(CheckRequest(paths=[str(root)], root=root, use_cache=False)).report
    assert all("stolen" not in f.message for f in report.findings)


def test_a_workspace_plans_again_only_what_an_edit_changed(tmp_path: Path) -> None:
    """The language server plans after every edit: a build none of whose files changed is
    the last plan's, one whose file changed is made again (and says what the file says now),
    and a new file makes every build again (it may be one a build looked for)."""
    from netlint.run.config import Config
    from netlint.run.registry import load_catalogue
    from netlint.run.runner import Session

    _tree(
        tmp_path,
        {
            "a/kustomization.yaml": "namespace: one\nresources: [web.yaml]\n",
            "a/web.yaml": _deployment("web"),
            "b/kustomization.yaml": "namespace: two\nresources: [api.yaml]\n",
            "b/api.yaml": _deployment("api"),
        },
    )
    session = Session.create(Config(root=tmp_path, roots=(tmp_path,)), load_catalogue())
    session.load(use_cache=False, jobs=1)

    def units() -> dict[str, Any]:
        return {u.unit.id: u for u in session.workspace.layout().units}

    before = units()
    session.workspace.update("a/kustomization.yaml", b"namespace: three\nresources: [web.yaml]\n")
    after = units()
    assert after["kustomize:b"].objects is before["kustomize:b"].objects
    assert [o.ref.namespace for o in after["kustomize:a"].objects] == ["three"]
    session.workspace.update("b/extra.yaml", _deployment("extra").encode())
    assert units()["kustomize:b"].objects is not after["kustomize:b"].objects


@pytest.mark.parametrize("seed", range(24))
def test_a_plan_after_edits_is_the_plan_made_afresh(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The language server plans after every keystroke and makes again only the units that
    read the changed file (``units._replan``). After each of a random series of edits (a
    plain file, a build's resource, a file of a kustomize tree no build reads, a
    kustomization, a GitOps definition appearing and going, broken YAML), the layout is the
    one a plan with nothing remembered makes of the same files, unit for unit."""
    import random

    from netlint.read.units import plan
    from netlint.run.config import Config
    from netlint.run.registry import load_catalogue
    from netlint.run.runner import Session

    app = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: shop\n"
        "spec:\n  source:\n    repoURL: https://example.com/repo.git\n    path: apps/shop\n"
        "  destination:\n    namespace: shop\n"
    )
    files = {
        "a/kustomization.yaml": "namespace: one\nresources: [web.yaml, ../shared/db.yaml]\n",
        "a/web.yaml": _deployment("web"),
        "a/unread.yaml": _policy("unread", "x"),
        "b/kustomization.yaml": "namespace: two\nresources: [api.yaml]\n",
        "b/api.yaml": _deployment("api"),
        "shared/db.yaml": _deployment("db"),
        "plain/p1.yaml": _policy("p1", "web"),
        "plain/p2.yaml": _deployment("solo"),
        "apps/shop/s.yaml": _policy("s", "s"),
    }
    _tree(tmp_path, files)
    session = Session.create(Config(root=tmp_path, roots=(tmp_path,)), load_catalogue())
    session.load(use_cache=False, jobs=1)
    workspace = session.workspace
    rng = random.Random(seed)
    texts = [
        _policy("edited", "web"),
        _policy("other", "api", "  ingress: [{}]\n"),
        _deployment("moved"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: one\n  labels: {team: a}\n",
        app,
        "a: [unclosed\n",
        "",
        # Other engines' policies, namespaced and cluster-wide.
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: c\n"
        "  namespace: one\nspec:\n  selector: all()\n",
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: g\n"
        "spec:\n  selector: all()\n",
    ]
    kustomizations = [
        "namespace: three\nresources: [web.yaml, ../shared/db.yaml]\n",
        "namespace: one\nresources: [web.yaml, unread.yaml]\n",
        "namespace: one\nresources: [web.yaml, ../shared/db.yaml]\n",
    ]

    def view(units: Any) -> list[tuple[object, ...]]:
        # By value: model objects compare by identity where they hold spans.
        return [(u.unit, repr(u.objects)) for u in units]

    import netlint.read.units as units_module

    whole = 0
    made = units_module._Planner.plan

    def counted(self: Any, declared: Any) -> Any:
        nonlocal whole
        whole += 1
        return made(self, declared)

    monkeypatch.setattr(units_module._Planner, "plan", counted)
    workspace.layout()
    # A plain file, a build's resource, a file no build reads: no whole plan.
    for rel in ("plain/p2.yaml", "a/web.yaml", "a/unread.yaml"):
        before = whole
        workspace.update(rel, _deployment("changed").encode())
        assert [
            o.ref.name for u in workspace.layout().units for o in u.objects if o.ref.path == rel
        ] == ([] if rel == "a/unread.yaml" else ["changed"])
        assert whole == before, rel
    evolved = 0
    made_from = Layout._evolved.__func__  # type: ignore[attr-defined]

    def counted_evolved(cls: Any, *args: Any) -> Any:
        nonlocal evolved
        evolved += 1
        return made_from(cls, *args)

    monkeypatch.setattr(Layout, "_evolved", classmethod(counted_evolved))
    for _ in range(16):
        rel = rng.choice(sorted(files))
        if rel.endswith("kustomization.yaml"):
            text = rng.choice(kustomizations)
        else:
            text = rng.choice(texts)
        workspace.update(rel, text.encode())
        incremental = workspace.layout()
        # What the plan was made of, and the same made afresh from every result.
        results = workspace._planned
        assert results is not None
        assert list(results.items()) == list(_plan_results_afresh(workspace).items())
        settings = workspace.settings
        afresh = plan(
            results,
            workspace.read,
            settings.options,
            settings.limits,
            settings.units,
            (s.path for s in workspace.skipped),
        )
        assert view(incremental.units) == view(afresh.units), (rel, text)
        # The layout the language server keeps (the cluster's index changed where the edit
        # was) is the one made afresh of the same plan, part for part.
        assert _layout_view(incremental) == _layout_view(Layout.from_plan(afresh, results)), (
            rel,
            text,
        )
    assert evolved > 0  # the incremental layout was checked, not only the whole one


def _plan_results_afresh(workspace: Any) -> dict[str, Any]:
    patches = {p for r in workspace.results.values() for p in r.patches}
    return {
        p: workspace._patch_of(r) if p in patches else r
        for p, r in sorted(workspace.results.items())
    }


def _index_view(index: Any) -> tuple[object, ...]:
    """An index's parts by value (model objects compare by identity; their reprs hold every
    field), lists in their order; dicts' keys in any order. Files by content: a unit whose
    build is unchanged keeps its index, with the results of the files as it read them."""
    parts = index.parts
    return (
        [(p, r.digest) for p, r in parts.files.items()],
        repr(parts.policies),
        repr(parts.workloads),
        repr(list(parts.namespace_objects.items())),
        repr(parts.cluster_foreign),
        {k: repr(v) for k, v in parts.foreign_in.items()},
        {k: repr(v) for k, v in parts.workloads_in.items()},
        {k: repr(v) for k, v in parts.policies_in.items()},
        index.known_namespaces,
        # Built on first use, then carried from one edit's cluster to the next.
        [
            (kind, [f.path for f in index.files_holding((kind,))])
            for kind in sorted({k for r in index.files.values() for k in r.kinds})
        ],
    )


def _layout_view(found: Any) -> tuple[object, ...]:
    return (
        [(u.unit, repr(u.objects), _index_view(u.index)) for u in found.units],
        _index_view(found.cluster),
        found.units_of,
        found.not_applied,
        found.planning_notes,
    )


def test_a_gitops_include_glob_that_means_nothing_is_an_incomplete_unit(tmp_path: Path) -> None:
    """A hostile or broken `directory.include` never raises: the unit applies nothing it cannot
    tell, and says why."""
    app = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: shop\n"
        "spec:\n  source:\n    repoURL: https://example.com/repo.git\n    path: apps/shop\n"
        "    directory: {include: '[z-a].yaml'}\n"
        "  destination:\n    namespace: shop\n"
    )
    _tree(tmp_path, {"argocd/shop.yaml": app, "apps/shop/a.yaml": _policy("a", "a")})
    found, _ = layout(CheckRequest(paths=[str(tmp_path)], root=tmp_path, use_cache=False))
    (unit,) = [u for u in found.units if u.unit.kind is UnitKind.ARGOCD]
    assert not unit.unit.complete and unit.objects == []


def test_a_new_file_keeps_the_top_level_kustomizations_a_new_kustomization_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The language server plans again after every change; the top-level kustomizations depend
    # on the kustomization files alone, so another file coming does not look for them again.
    import netlint.read.kustomize as kustomize
    from netlint.run.workspace import LoadSettings, Workspace

    calls: list[list[str]] = []
    original = kustomize.top_level_kustomizations

    def counted(*args: Any, **kwargs: Any) -> list[str]:
        calls.append(original(*args, **kwargs))
        return calls[-1]

    monkeypatch.setattr(kustomize, "top_level_kustomizations", counted)
    files = {
        "base/kustomization.yaml": "resources: [pod.yaml]\n",
        "base/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
        "spec: {containers: [{name: c, image: x}]}\n",
        "prod/kustomization.yaml": "namespace: prod\nresources: [../base]\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    workspace = Workspace(LoadSettings(tmp_path, BuildOptions(), Limits()))
    workspace.load(sorted(files))
    assert [u.unit.id for u in workspace.layout().units] == ["kustomize:prod"]
    (tmp_path / "lone.yaml").write_text(files["base/pod.yaml"].replace("name: p", "name: q"))
    workspace.load(["lone.yaml"])
    workspace._layout = None  # as an edit does
    assert sorted(u.unit.id for u in workspace.layout().units) == [
        "file:lone.yaml",
        "kustomize:prod",
    ]
    assert len(calls) == 1
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "kustomization.yaml").write_text("namespace: dev\nresources: [../prod]\n")
    workspace.load(["dev/kustomization.yaml"])
    workspace._layout = None
    assert sorted(u.unit.id for u in workspace.layout().units) == [
        "file:lone.yaml",
        "kustomize:dev",
    ]
    assert len(calls) == 2
