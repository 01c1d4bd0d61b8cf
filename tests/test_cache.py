"""The parse cache: reused when files are unchanged, never trusted when it was not ours, never
left corrupt; and parallel loading gives the same results as serial loading."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from netlint import workspace as workspace_module
from netlint.build import BuildOptions
from netlint.cache import CACHE_DIR, Cache
from netlint.parse import Limits
from netlint.runner import CheckRequest, check
from netlint.workspace import LoadSettings, Workspace

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: p{n}
  namespace: shop
spec:
  podSelector: {{}}
  policyTypes: [{types}]
"""


@pytest.fixture(autouse=True)
def private_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))


def make_repo(root: Path, count: int = 3) -> Path:
    repo = root / "repo"
    repo.mkdir()
    for n in range(count):
        (repo / f"p{n}.yaml").write_text(POLICY.format(n=n, types="Ingress"))
    return repo


def age(path: Path, seconds: int = 60) -> None:
    """Make a file look older than the snapshot's racy-mtime margin."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - seconds * 1_000_000_000))


def run(repo: Path) -> tuple[list[str], Cache]:
    opened: list[Cache] = []
    original = Cache.open

    def spy(root: Path, salt: str) -> Cache:
        cache = original(root, salt)
        opened.append(cache)
        return cache

    Cache.open = spy  # type: ignore[method-assign]
    try:
        report = check(CheckRequest(root=repo)).report
    finally:
        Cache.open = original  # type: ignore[method-assign]
    return [f"{f.span.path}:{f.span.line}:{f.code}" for f in report.findings], opened[0]


def test_an_unchanged_repo_reuses_the_last_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path)
    (repo / "p1.yaml").write_text(POLICY.format(n=1, types="ingress"))
    for path in repo.glob("*.yaml"):
        age(path)
    first, cold = run(repo)
    assert cold.hits == 0 and (repo / CACHE_DIR / ".gitignore").read_text().endswith("*\n")
    assert first == ["p1.yaml:8:NL002"]

    def no_parsing(*args: object) -> None:
        raise AssertionError("an unchanged repo must not be parsed again")

    monkeypatch.setattr(workspace_module, "load", no_parsing)
    second, warm = run(repo)
    assert second == first and warm.hits == 0


def test_other_settings_do_not_reuse_an_outcome(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / "p1.yaml").write_text(POLICY.format(n=1, types="ingress"))
    for path in repo.glob("*.yaml"):
        age(path)
    run(repo)
    report = check(CheckRequest(root=repo, select=["NL1"])).report
    assert report.findings == []
    (repo / ".netlint.yaml").write_text("rules: {NL002: {severity: note}}\n")
    report = check(CheckRequest(root=repo)).report
    assert [f.severity.value for f in report.findings] == ["note"]


def test_unchanged_files_come_from_the_cache(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    for path in repo.glob("*.yaml"):
        age(path)
    first, _ = run(repo)
    (repo / "p3.yaml").write_text(POLICY.format(n=3, types="Ingress"))
    second, warm = run(repo)
    assert warm.hits == 3 and second == first


def test_a_changed_file_is_parsed_again(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    run(repo)
    (repo / "p1.yaml").write_text(POLICY.format(n=1, types="ingress"))
    findings, cache = run(repo)
    assert findings == ["p1.yaml:8:NL002"]
    assert cache.hits == 2


def test_same_content_new_mtime_is_a_hit(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    run(repo)
    os.utime(repo / "p0.yaml")  # a checkout touched it without changing it
    _, cache = run(repo)
    assert cache.hits == 3


def test_a_deleted_file_leaves_the_cache(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    run(repo)
    (repo / "p2.yaml").unlink()
    _, cache = run(repo)
    assert set(cache.fresh) == {"p0.yaml", "p1.yaml"}


def test_a_snapshot_not_signed_with_our_key_is_never_unpickled(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    run(repo)
    snapshot = next((repo / CACHE_DIR).glob("state-*.pickle"))
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.mkdir, (str(marker),))

    body = pickle.dumps((0, {"p0.yaml": Exploit()}, {}))
    blob = snapshot.read_bytes()
    snapshot.write_bytes(blob[:16] + b"\0" * 32 + body)  # a repository shipping its own "cache"
    findings, cache = run(repo)
    assert not marker.exists()
    assert cache.hits == 0 and cache.note and "not written by this user's netlint" in cache.note
    assert findings == []


def test_an_interrupted_write_leaves_the_old_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path)
    run(repo)
    snapshot = next((repo / CACHE_DIR).glob("state-*.pickle"))
    before = snapshot.read_bytes()
    (repo / "p0.yaml").write_text(POLICY.format(n=0, types="Egress"))

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(repo)
    monkeypatch.undo()
    assert snapshot.read_bytes() == before
    assert [p.name for p in (repo / CACHE_DIR).iterdir() if p.name.startswith(".tmp")] == []


def test_a_full_disk_means_no_cache_not_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path)

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("tempfile.mkstemp", full)
    findings, cache = run(repo)
    assert findings == [] and cache.note == "cache not saved: No space left on device"
    assert not list((repo / CACHE_DIR).glob("*.pickle"))


def test_no_cache_writes_nothing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    check(CheckRequest(root=repo, use_cache=False))
    assert not (repo / CACHE_DIR).exists()


def test_parallel_loading_equals_serial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path, count=12)
    (repo / "broken.yaml").write_text("a: [\n")
    settings = LoadSettings(repo, BuildOptions(), Limits())
    files = sorted(p.name for p in repo.glob("*.yaml"))
    serial = Workspace(settings)
    serial.load(files, jobs=1)
    monkeypatch.setattr(workspace_module, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(workspace_module, "PARALLEL_MIN_BYTES", 1)
    parallel = Workspace(settings)
    parallel.load(files, jobs=3)

    def summary(ws: Workspace) -> list[tuple[str, list[str], list[str]]]:
        return [
            (path, [o.ref.subject for o in r.objects], [p.message for p in r.problems])
            for path, r in sorted(ws.results.items())
        ]

    assert summary(parallel) == summary(serial)
    assert len(serial.results) == 13


def test_parallel_rules_give_the_same_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import REPO

    from netlint import engine
    from netlint.config import Config
    from netlint.registry import load_catalogue
    from netlint.runner import Session

    examples = REPO / "examples"
    session = Session.create(Config(root=examples, roots=(examples,)), load_catalogue())
    session.load(use_cache=False)
    serial, _ = session.lint(lambda path: True, jobs=1)
    monkeypatch.setattr(engine, "PARALLEL_MIN_OBJECTS", 1)
    parallel, _ = session.lint(lambda path: True, jobs=3)
    assert serial and sorted(f.sort_key for f in parallel) == sorted(f.sort_key for f in serial)
    assert {f.code for f in parallel} >= {"NL101", "NL103", "NL105"}
