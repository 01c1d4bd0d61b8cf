"""A re-lint of a few named files (an editor's buffer, the files a pre-commit hook is given)
visits the units that read them and their objects alone (``engine.Only``). Its findings, and
what suppression makes of them, are those of a filter that asks about every file of the repo.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, SHARED

from netlint.run import engine
from netlint.run.engine import Only
from netlint.run.registry import load_catalogue
from netlint.run.runner import CheckRequest, Session, _open

GENERATOR = SHARED / "bench" / "gen_corpus.py"
KUSTOMIZE = SHARED / "oracles" / "kustomize"


def _generated(tmp_path: Path) -> Path:
    """The small corpus of ``../shared/bench/gen_corpus.py`` (seeded)."""
    out = tmp_path / "small"
    subprocess.run(
        [sys.executable, str(GENERATOR), "--preset", "small", "--out", str(out)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


def _session(root: Path) -> Session:
    opened = _open(CheckRequest(paths=[str(root)], root=root, use_cache=False), load_catalogue())
    opened.session.load(use_cache=False, jobs=1)
    return opened.session


def _lint(session: Session, reported: Callable[[str], bool]) -> tuple[list[str], int]:
    findings, suppressed = session.lint(reported, jobs=1)
    return sorted(f"{f.span} {f.code} {f.message}" for f in findings), suppressed


def _agree(root: Path) -> int:
    session = _session(root)
    paths = sorted(session.workspace.results)
    assert paths
    for path in paths:
        named = _lint(session, Only((path,)))
        assert named == _lint(session, lambda p, path=path: p == path), path  # type: ignore[misc]
    pair = paths[:: max(1, len(paths) // 2)][:2]
    assert _lint(session, Only(pair)) == _lint(session, pair.__contains__)
    return len(paths)


@pytest.mark.skipif(not GENERATOR.is_file(), reason="../shared/bench is not present")
def test_each_file_of_a_generated_repo(tmp_path: Path) -> None:
    assert _agree(_generated(tmp_path)) > 100


@pytest.mark.skipif(not KUSTOMIZE.is_dir(), reason="../shared/oracles/kustomize is not present")
def test_each_file_of_kustomize_trees() -> None:
    trees = sorted(p for p in KUSTOMIZE.iterdir() if p.is_dir() and p.name != "LICENSES")
    assert sum(_agree(tree) for tree in trees[:12]) > 12


def test_each_file_of_the_examples() -> None:
    assert _agree(REPO / "examples") > 5


def test_suppressions_of_kustomize_units_and_plain_files(tmp_path: Path) -> None:
    """Annotations a build applies (commonAnnotations), annotations written on the object,
    and comment directives, in a base two overlays apply and in plain files."""
    policy = (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n"
        "{extra}spec:\n  podSelector: {{matchLabels: {{app: nobody}}}}\n"
        "  ingress:\n  - from:\n    - ipBlock: {{cidr: 0.0.0.0/0}}\n"
    )
    pod = (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{app: web}}\n"
        "spec:\n  containers: [{{name: c, image: x}}]\n"
    )
    files = {
        "base/kustomization.yaml": "resources: [policy.yaml, pod.yaml]\n",
        "base/policy.yaml": policy.format(
            name="base", extra="  annotations: {netlint.dev/ignore: NL102}\n"
        ),
        "base/pod.yaml": pod.format(name="web"),
        "prod/kustomization.yaml": "namespace: prod\nresources: [../base]\n"
        "commonAnnotations: {netlint.dev/ignore: NL104}\n",
        "dev/kustomization.yaml": "namespace: dev\nresources: [../base]\n",
        "plain/a.yaml": "# netlint: disable-file=NL104\n"
        + policy.format(name="a", extra="  namespace: shop\n"),
        "plain/b.yaml": policy.format(name="b", extra="  namespace: shop\n")
        + "# netlint: disable=NL105\n",
        "plain/c.yaml": pod.format(name="solo"),
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    session = _session(tmp_path)
    assert _lint(session, lambda p: True)[1] > 0  # suppressions apply here
    assert _agree(tmp_path) == len(files)


@pytest.mark.skipif(not GENERATOR.is_file(), reason="../shared/bench is not present")
@pytest.mark.parametrize("seed", range(3))
def test_random_edits_of_a_generated_repo_lint_as_afresh(tmp_path: Path, seed: int) -> None:
    """The language server's path: a session kept across edits (its plan, layout and cluster
    index changed only where each edit was) gives, after every edit, the findings a session
    that loads the same files afresh gives, for the edited file and for a file beside it."""
    import random

    out = _generated(tmp_path)
    kept = _session(out)
    paths = sorted(kept.workspace.results)
    rng = random.Random(seed)
    texts = {p: (out / p).read_text(encoding="utf-8") for p in paths}
    for _ in range(12):
        rel = rng.choice(paths)
        text = texts[rel]
        how = rng.randrange(5)
        if how == 0:
            text += f"\n# edit {rng.random()}\n"
        elif how == 1:
            text = text.replace("app:", "application:", 1)
        elif how == 2:
            text = texts[rng.choice(paths)]  # another file's objects here too
        elif how == 3:
            text = "kind: [unclosed\n"
        else:
            text = text.replace("namespace:", "namespace: moved-", 1)
        texts[rel] = text
        (out / rel).write_text(text, encoding="utf-8")
        kept.workspace.update(rel, text.encode())
        fresh = _session(out)
        for shown in {rel, rng.choice(paths)}:
            assert _lint(kept, Only((shown,))) == _lint(fresh, Only((shown,))), (rel, how)


@pytest.mark.skipif(not GENERATOR.is_file(), reason="../shared/bench is not present")
def test_a_re_lint_of_one_file_is_not_forked_for_the_size_of_the_repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether the rules run in forked processes is decided by the objects they will check:
    a re-lint of one file of a big repo checks its units' alone, in this process; a whole
    run of the same repo forks. Either way the findings are the same."""
    session = _session(_generated(tmp_path))
    layout = session.workspace.layout()
    path = next(p for p in sorted(session.workspace.results) if layout.reading([p]))
    unit_size = sum(len(e.index.policies) + len(e.index.workloads) for e in layout.reading([path]))
    cluster_size = len(layout.cluster.policies) + len(layout.cluster.workloads)
    assert unit_size < cluster_size
    monkeypatch.setattr(engine, "PARALLEL_MIN_OBJECTS", unit_size + 1)
    forked: list[int] = []
    real = engine.ordered_map

    def counted(*args: Any, **kwargs: Any) -> Any:
        forked.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "ordered_map", counted)
    named = session.lint(Only((path,)), jobs=2)
    assert forked == []
    assert _lint(session, Only((path,))) == (
        sorted(f"{f.span} {f.code} {f.message}" for f in named[0]),
        named[1],
    )
    session.lint(lambda p: True, jobs=2)
    assert forked == [1]
