"""``netlint diff``: two directories or two git revisions (read from git into memory, never
checked out), compared as connectivity maps, each change with the policy lines behind it
(netlint/output/diff.py, netlint/run/revisions.py). The oracle: netpol-analyzer's own diffs,
scored by ``score.py`` through ``NETLINT_DIFF``."""

from __future__ import annotations

import copy
import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import SHARED
from helpers import netlint
from test_connectivity import _random_repo

from netlint.analysis.reach import ConnectivityMap, connectivity
from netlint.output import diff as diff_module
from netlint.output.diff import Diff, compare
from netlint.run import revisions
from netlint.run.registry import load_catalogue
from netlint.run.runner import CheckRequest, layout, loaded

ORACLE = SHARED / "oracles" / "connectivity"

BASE = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend, namespace: shop}
spec:
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec: {containers: [{name: c, image: x}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: x}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cache, namespace: shop}
spec:
  selector: {matchLabels: {app: cache}}
  template:
    metadata: {labels: {app: cache}}
    spec: {containers: [{name: c, image: x}]}
"""
DB_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: cache}}}]
    ports: [{port: 5432}]
"""
# The head: frontend may reach db on 5432 too, and cache only on 6379 instead.
DB_POLICY_HEAD = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: cache}}}]
    ports: [{port: 6379}]
  - from: [{podSelector: {matchLabels: {app: frontend}}}]
    ports: [{port: 5432}]
"""


def _write(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def _netlint(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return netlint("diff", *args, cwd=cwd)


def _git(root: Path, *args: str) -> str:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _dirs(tmp_path: Path) -> tuple[Path, Path]:
    base = _write(tmp_path / "base", {"apps.yaml": BASE, "db.yaml": DB_POLICY})
    head = _write(tmp_path / "head", {"apps.yaml": BASE, "db.yaml": DB_POLICY_HEAD})
    return base, head


def test_two_directories_added_changed_with_their_causes(tmp_path: Path) -> None:
    base, head = _dirs(tmp_path)
    out = _netlint("--no-cache", "--format", "json", str(base), str(head), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    rows = {(d["src"], d["dst"]): d for d in data["diff"]}
    assert set(rows) == {
        ("shop/frontend[Deployment]", "shop/db[Deployment]"),
        ("shop/cache[Deployment]", "shop/db[Deployment]"),
    }
    added = rows[("shop/frontend[Deployment]", "shop/db[Deployment]")]
    assert (added["diff-type"], added["ref1"], added["ref2"]) == (
        "added",
        "No Connections",
        "TCP 5432",
    )
    opener = [c for c in added["causes"] if c["opens"]]
    assert [(c["revision"], c["rule"], c["line"]) for c in opener] == [
        ("head", "ingress[1]", _line(DB_POLICY_HEAD, "app: frontend"))
    ]
    changed = rows[("shop/cache[Deployment]", "shop/db[Deployment]")]
    assert (changed["diff-type"], changed["ref1"], changed["ref2"]) == (
        "changed",
        "TCP 5432",
        "TCP 6379",
    )
    # What was lost is explained by the base's rule, what was gained by the head's.
    roles = {(c["revision"], c["role"], c["conn"]) for c in changed["causes"]}
    assert roles == {("head", "allows", "TCP 6379"), ("base", "allowed", "TCP 5432")}
    assert data["summary"] == {"changed": 1, "added": 1, "removed": 0, "uncertain": 0}

    text = _netlint("--no-cache", str(base), str(head), cwd=tmp_path).stdout
    assert text.startswith("Connectivity diff:\ndiff-type: changed, source: shop/cache")
    assert "ingress[1] of shop/db allows TCP 5432 (opens it)  db.yaml:" in text

    markdown = _netlint("--no-cache", "--format", "markdown", str(base), str(head), cwd=tmp_path)
    assert "**1 added, 0 removed, 1 changed**" in markdown.stdout
    assert "```mermaid\nflowchart LR\n" in markdown.stdout
    assert '-->|"+ TCP 5432"|' in markdown.stdout


def test_sarif_result_is_on_the_rule_that_opens_the_connection(tmp_path: Path) -> None:
    base, head = _dirs(tmp_path)
    out = _netlint("--no-cache", "--format", "sarif", str(base), str(head), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    run = json.loads(out.stdout)["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["NL-DIFF"]
    results = run["results"]
    # Two newly allowed connections: frontend -> db 5432, cache -> db 6379.
    messages = sorted(r["message"]["text"] for r in results)
    assert messages[0].startswith(
        "this change lets shop/cache[Deployment] reach shop/db[Deployment] on TCP 6379"
    )
    assert messages[1].startswith(
        "this change lets shop/frontend[Deployment] reach shop/db[Deployment] on TCP 5432"
    )
    lines = sorted(r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in results)
    assert lines == sorted(
        [_line(DB_POLICY_HEAD, "app: cache"), _line(DB_POLICY_HEAD, "app: frontend")]
    )
    assert all(r["partialFingerprints"]["primaryLocationLineHash"] for r in results)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert uris == {"db.yaml"}


def _repo(tmp_path: Path) -> Path:
    root = _write(tmp_path / "repo", {"k8s/apps.yaml": BASE, "k8s/db.yaml": DB_POLICY})
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "base")
    _git(root, "checkout", "-q", "-b", "feature")
    (root / "k8s" / "db.yaml").write_text(DB_POLICY_HEAD, encoding="utf-8")
    _git(root, "commit", "-q", "-am", "head")
    return root


def _state(root: Path) -> tuple[object, ...]:
    files = sorted(
        (str(p.relative_to(root)), p.read_bytes())
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.parts and ".netlint_cache" not in p.parts
    )
    index = root / ".git" / "index"
    return (files, index.stat().st_mtime_ns, (root / ".git" / "HEAD").read_text())


def test_two_revisions_are_read_without_a_checkout(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    # The work tree differs from both commits: a diff of the commits must not see it.
    (root / "k8s" / "db.yaml").write_text(DB_POLICY.replace("5432", "1234"), encoding="utf-8")
    before = _state(root)
    out = _netlint("--no-cache", "--format", "json", "main", "feature", cwd=root)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["summary"] == {"changed": 1, "added": 1, "removed": 0, "uncertain": 0}
    cause = next(c for d in data["diff"] for c in d["causes"] if c["opens"])
    assert cause["file"] == "k8s/db.yaml"
    assert _state(root) == before

    # Default: the merge-base with main (the base commit) against the work tree (port 1234).
    out = _netlint("--no-cache", "--format", "json", cwd=root)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert "merge-base of HEAD and heads/main" in data["base"]
    assert [(d["diff-type"], d["ref1"], d["ref2"]) for d in data["diff"]] == [
        ("changed", "TCP 5432", "TCP 1234")
    ]
    assert _state(root) == before

    # With the cache: a second run reads the base's unchanged blobs from the parse cache.
    for _ in range(2):
        out = _netlint("--format", "json", "main", cwd=root)
        assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["summary"]["changed"] == 1


def test_blobs_the_work_tree_holds_are_taken_from_it_unread(tmp_path: Path) -> None:
    # On feature, whose work tree is its HEAD but for apps.yaml: db.yaml's blob of feature is
    # the work tree's bytes (taken, unread), main's is not, nor is apps.yaml's of either.
    root = _repo(tmp_path)
    (root / "k8s" / "apps.yaml").write_text(BASE + "# edited\n", encoding="utf-8")
    (root / "k8s" / "notes.txt").write_text("not a manifest\n", encoding="utf-8")
    workspace, config = loaded(CheckRequest(paths=[str(root)], use_cache=False))
    known = workspace.layout().cluster.files
    catalogue = load_catalogue((root,))
    for name, unread in (("feature", {"k8s/db.yaml"}), ("main", set())):
        commit = revisions.resolve_commit(root, name)
        taken = revisions.load_revision(config, catalogue, commit, use_cache=False, known=known)
        alone = revisions.load_revision(config, catalogue, commit, use_cache=False)
        assert set(taken.tree.unread) == unread
        assert set(taken.tree.files) == {"k8s/apps.yaml", "k8s/db.yaml"} - unread
        assert _objects(taken.layout) == _objects(alone.layout)
        assert taken.parsed == 1 + len({"k8s/db.yaml"} - unread)
        # A text asked for (SARIF's) is read then, and is the revision's.
        texts = taken.texts(["k8s/db.yaml", "k8s/apps.yaml", "nowhere.yaml"])
        assert texts == alone.texts(["k8s/db.yaml", "k8s/apps.yaml"])
        assert texts["k8s/db.yaml"] == (DB_POLICY_HEAD if name == "feature" else DB_POLICY)
        assert not taken.tree.unread

    # The same through the command line, SARIF of two revisions included: the opener's file
    # of feature is the work tree's (unread until the report cites it).
    out = _netlint("--no-cache", "--format", "sarif", "main", "feature", cwd=root)
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)["runs"][0]["results"]
    assert results and all(r["partialFingerprints"]["primaryLocationLineHash"] for r in results)
    lines = sorted(r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in results)
    assert lines == sorted(
        [_line(DB_POLICY_HEAD, "app: cache"), _line(DB_POLICY_HEAD, "app: frontend")]
    )


def test_a_revision_is_never_read_from_the_disk(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    kustomization = "resources: [apps.yaml, extra.yaml]\n"
    (root / "k8s" / "kustomization.yaml").write_text(kustomization, encoding="utf-8")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "kustomize")
    # extra.yaml exists in the work tree only (untracked): the revision's build lacks it.
    extra = DB_POLICY.replace("name: db, namespace", "name: extra, namespace").replace(
        "app: cache", "app: frontend"
    )
    (root / "k8s" / "extra.yaml").write_text(extra, encoding="utf-8")
    _, config = layout(CheckRequest(paths=[str(root)], use_cache=False))
    commit = revisions.resolve_commit(root, "HEAD")
    found = revisions.load_revision(config, load_catalogue((root,)), commit, use_cache=False)
    names = {p.name for p in found.layout.cluster.policies}
    assert "extra" not in names


def test_links_and_large_blobs_in_a_revision_are_not_read(tmp_path: Path) -> None:
    root = _write(tmp_path / "repo", {"a.yaml": BASE, "big.yaml": "#" * 2048})
    (root / "link.yaml").symlink_to("/etc/passwd")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "x")
    commit = revisions.resolve_commit(root, "main")
    tree = revisions.read_tree(root, commit, "", 1024)
    assert set(tree.files) == {"a.yaml"}
    assert {s.path for s in tree.skipped} == {"big.yaml", "link.yaml"}
    for bad in ("--output=x", "-n", "", "main\nx"):
        with pytest.raises(revisions.RevisionError):
            revisions.resolve_commit(root, bad)


def test_usage_errors_say_why(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    for args in (("no-such-branch",), ("--", "--upload-pack=x"), ("a", "b", "c")):
        out = _netlint("--no-cache", *args, cwd=root)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert out.stderr.startswith("netlint: ") and "Traceback" not in out.stderr
    plain = _write(tmp_path / "plain", {"a.yaml": BASE})
    out = _netlint("--no-cache", cwd=plain)
    assert out.returncode == 2 and "not in a git work tree" in out.stderr


def test_what_the_repo_wrote_is_escaped(tmp_path: Path) -> None:
    name = 'x"\u202e|`#<b>&]([a](http://e)\x1b[31m'
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": "x"}},
        "spec": {"containers": [{"name": "c", "image": "x"}]},
    }
    base = _write(tmp_path / "a", {"a.yaml": BASE})
    head = _write(tmp_path / "b", {"a.yaml": BASE + "---\n" + json.dumps(pod) + "\n"})
    for form in ("text", "json", "markdown", "sarif"):
        out = _netlint("--no-cache", "--format", form, str(base), str(head), cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert "\x1b" not in out.stdout and "\u202e" not in out.stdout
        if form == "markdown":
            # The table: brackets and tags escaped (no link, no HTML); the Mermaid block:
            # quotes, tags and backticks as entity codes (no way out of the label or fence).
            table, _, graph = out.stdout.partition("```mermaid")
            assert re.search(r"(?<!\\)\]\(", table) is None and "<b>" not in out.stdout
            label = next(line for line in graph.splitlines() if "x#quot;" in line)
            assert label.count('"') == 2 and graph.count("`") == 3


@pytest.mark.skipif(not (ORACLE / "score.py").is_file(), reason="the connectivity oracle is absent")
def test_oracle_pure_networkpolicy_diffs_agree(tmp_path: Path) -> None:
    cases = json.loads((ORACLE / "cases.json").read_text(encoding="utf-8"))
    diffs = [d for d in cases["diffs"] if d["class"] == "pure_np"]
    folder = tmp_path / "oracle"
    folder.mkdir()
    (folder / "cases.json").write_text(json.dumps({"cases": [], "diffs": diffs}), "utf-8")
    shutil.copy(ORACLE / "score.py", folder / "score.py")
    for name in ("inputs", "expected"):
        (folder / name).symlink_to(ORACLE / name)
    netlint = f"{sys.executable} -m netlint"
    out = subprocess.run(
        [sys.executable, str(folder / "score.py"), str(folder)],
        capture_output=True,
        text=True,
        env={
            "NETLINT_CONN": f"{netlint} connectivity --no-cache --format json {{dir}}",
            "NETLINT_DIFF": f"{netlint} diff --no-cache --format json {{dir1}} {{dir2}}",
            "PATH": "/usr/bin:/bin",
        },
        cwd=tmp_path,
        check=False,
        timeout=1800,
    )
    assert "errors: 0" in out.stdout, out.stdout[-3000:] + out.stderr[-3000:]
    assert f"exact {len(diffs)}/{len(diffs)} cases" in out.stdout, out.stdout


def _address_edit(rng: random.Random, docs: list[dict[str, Any]]) -> None:
    """One edit that only addresses meet (``docs`` changed in place): an ipBlock's range or
    excepts, or the ports of a rule whose peers are all ipBlocks (a diff of such an edit need
    not ask about any pair of pods)."""
    rules = [
        rule
        for d in docs
        if d["kind"] == "NetworkPolicy"
        for key in ("ingress", "egress")
        for rule in d["spec"].get(key, [])
        if any("ipBlock" in peer for peer in rule.get("from", rule.get("to", [])))
    ]
    if not rules:
        return
    rule = rng.choice(rules)
    peers = rule.get("from", rule.get("to", []))
    if rng.random() < 0.5 or not all("ipBlock" in peer for peer in peers):
        block = rng.choice([p for p in peers if "ipBlock" in p])["ipBlock"]
        block["cidr"] = rng.choice(("10.0.0.0/8", "0.0.0.0/0", "10.2.0.0/16", "192.168.0.0/24"))
        block["except"] = rng.choice(([], ["10.1.0.0/16"], ["10.2.3.0/24"]))
        if not all(e.startswith("10.") for e in block["except"]) or "192" in block["cidr"]:
            block["except"] = []
    else:
        rule["ports"] = rng.choice(([{"port": 81}], [{"port": 443, "protocol": "UDP"}], []))


def _mutated(rng: random.Random, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``docs`` with one to three edits: a policy replaced, an object dropped, one added, or
    an edit that only addresses meet (``_address_edit``)."""
    out = copy.deepcopy(docs)
    other = _random_repo(rng)
    for _ in range(rng.randint(1, 3)):
        edit = rng.randint(0, 3)
        if edit == 3:
            _address_edit(rng, out)
        elif edit == 0:
            policies = [i for i, d in enumerate(out) if d["kind"] == "NetworkPolicy"]
            fresh = [d for d in other if d["kind"] == "NetworkPolicy"]
            if policies and fresh:
                i = rng.choice(policies)
                out[i] = {**fresh[0], "metadata": out[i]["metadata"]}
        elif edit == 1 and len(out) > 1:
            out.pop(rng.randrange(len(out)))
        else:
            added = copy.deepcopy(rng.choice(other))
            added["metadata"]["name"] += "-new"
            out.append(added)
    return out


def _map_of(root: Path, docs: list[dict[str, Any]]) -> ConnectivityMap:
    root.mkdir()
    (root / "all.yaml").write_text("\n---\n".join(json.dumps(d) for d in docs), "utf-8")
    request = CheckRequest(paths=[str(root)], root=root, use_cache=False)
    return connectivity(layout(request)[0].cluster)


def _rows(diff: Diff) -> set[tuple[str, ...]]:
    return {
        (
            c.kind,
            c.src.label,
            c.dst.label,
            str(c.before),
            str(c.after),
            str(c.before_uncertain),
            str(c.after_uncertain),
        )
        for c in diff.changes
    }


@pytest.mark.parametrize("seed", range(60))
def test_pairs_a_change_can_reach_give_the_whole_diff(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    docs = _random_repo(rng)
    base = _map_of(tmp_path / "a", docs)
    head = _map_of(tmp_path / "b", _mutated(rng, docs))
    assert diff_module._affected(diff_module._Side(base), diff_module._Side(head)) is not None
    some = compare(base, head, "a", "b")
    monkeypatch.setattr(diff_module, "MAX_PAIR_EVALUATIONS", 0)
    whole = compare(base, head, "a", "b")
    assert _rows(some) == _rows(whole)


def _objects(found: Any) -> list[tuple[object, ...]]:
    return sorted(
        (type(o).__name__, o.ref.kind, o.ref.namespace, o.ref.name, o.ref.path, repr(o))
        for planned in found.units
        for o in planned.objects
    )


def test_a_revision_planned_after_the_work_tree_is_planned_as_alone(tmp_path: Path) -> None:
    # The base revision takes the work tree's unit builds where their files are the same
    # (Workspace.follow): a build whose files differ in the revision must be made again.
    files = {
        "base/kustomization.yaml": "resources: [apps.yaml, db.yaml]\n",
        "base/apps.yaml": BASE.replace("namespace: shop", "namespace: x"),
        "base/db.yaml": DB_POLICY.replace("namespace: shop", "namespace: x"),
        "prod/kustomization.yaml": "namespace: prod\nresources: [../base]\n",
        "dev/kustomization.yaml": "namespace: dev\nnamePrefix: d-\nresources: [../base]\n",
        "lab/kustomization.yaml": (
            "resources: [../base]\ncommonLabels: {env: lab}\npatches:\n- path: patch.yaml\n"
        ),
        "lab/patch.yaml": (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: db, namespace: x}\n"
            "spec: {replicas: 2}\n"
        ),
    }
    root = _write(tmp_path / "repo", files)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "base")
    # The work tree: one base file, one overlay's namespace and the patch changed.
    (root / "base" / "db.yaml").write_text(
        DB_POLICY_HEAD.replace("namespace: shop", "namespace: x"), encoding="utf-8"
    )
    (root / "prod" / "kustomization.yaml").write_text(
        "namespace: production\nresources: [../base]\n", encoding="utf-8"
    )
    (root / "lab" / "patch.yaml").write_text(files["lab/patch.yaml"].replace("2", "3"))
    workspace, config = loaded(CheckRequest(paths=[str(root)], use_cache=False))
    work = workspace.layout()
    catalogue = load_catalogue()
    commit = _git(root, "rev-parse", "HEAD").strip()
    known = work.cluster.files
    after = revisions.load_revision(
        config, catalogue, commit, use_cache=False, known=known, like=workspace
    )
    alone = revisions.load_revision(config, catalogue, commit, use_cache=False, known=known)
    assert _objects(after.layout) == _objects(alone.layout)
    # Unchanged files are the work tree's, unread, but for kustomizations, which builds read
    # whole (one git call for all, not one per build). Planned alone, lab's patch of
    # base/apps.yaml reads it whole: every file not read is read then, in one call.
    kustomizations = {p for p in files if p.endswith("kustomization.yaml")}
    assert kustomizations <= set(after.tree.files)
    assert set(after.tree.unread) == {"base/apps.yaml"}
    assert not alone.tree.unread and set(alone.tree.files) == set(files)
    assert _objects(after.layout) != _objects(work)
    namespaces = {o.ref.namespace for u in after.layout.units for o in u.objects}
    assert "prod" in namespaces and "production" not in namespaces


ANP = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: guard}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}
  ingress:
  - name: from-shop
    action: ACTION
    from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}]
"""


def test_a_change_of_an_admin_network_policy_rule_alone_is_a_diff(tmp_path: Path) -> None:
    base = _write(
        tmp_path / "base", {"apps.yaml": BASE, "anp.yaml": ANP.replace("ACTION", "Allow")}
    )
    head = _write(tmp_path / "head", {"apps.yaml": BASE, "anp.yaml": ANP.replace("ACTION", "Deny")})
    out = _netlint("--no-cache", "--format", "json", str(base), str(head), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    rows = {(d["diff-type"], d["src"], d["dst"]) for d in data["diff"]}
    # Every ordered pair of the three shop deployments loses everything to the Deny.
    assert len(rows) == 6 and all(kind == "removed" for kind, _, _ in rows), rows
    assert ("removed", "shop/frontend[Deployment]", "shop/db[Deployment]") in rows
    # Each with the rule that denies it now and the one that allowed it before, on its line.
    line = _line(ANP, "- name: from-shop")
    for change in data["diff"]:
        found = {(c["revision"], c["role"], c["rule"], c["line"]) for c in change["causes"]}
        assert found == {
            ("head", "denies", "rule 'from-shop'", line),
            ("base", "allowed", "rule 'from-shop'", line),
        }, change["causes"]
    # The other way round the Allow opens them: the SARIF result is on that rule.
    out = _netlint("--no-cache", "--format", "sarif", str(head), str(base), cwd=tmp_path)
    results = json.loads(out.stdout)["runs"][0]["results"]
    assert len(results) == 6
    assert {r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in results} == {line}


def test_a_base_that_two_overlays_apply_gives_each_cause_once(tmp_path: Path) -> None:
    def tree(root: Path, policy: str) -> Path:
        return _write(
            root,
            {
                "base/kustomization.yaml": "resources: [apps.yaml, db.yaml]\n",
                "base/apps.yaml": BASE,
                "base/db.yaml": policy,
                "staging/kustomization.yaml": "resources: [../base]\n",
                "prod/kustomization.yaml": "resources: [../base]\n",
            },
        )

    base, head = tree(tmp_path / "a", DB_POLICY), tree(tmp_path / "b", DB_POLICY_HEAD)
    data = json.loads(
        _netlint("--no-cache", "--format", "json", str(base), str(head), cwd=tmp_path).stdout
    )
    for row in data["diff"]:
        places = [(c["revision"], c["role"], c["rule"], c["line"]) for c in row["causes"]]
        assert len(places) == len(set(places)), row
        assert sum(c["opens"] for c in row["causes"]) <= 1
    added = next(r for r in data["diff"] if r["src"] == "shop/frontend[Deployment]")
    assert [c["rule"] for c in added["causes"] if c["opens"]] == ["ingress[1]"]
