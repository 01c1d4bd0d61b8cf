"""The parse cache: reused when files are unchanged, never when they changed (whatever their
mtime says), never left corrupt, exact in what it stores; racing runs keep each other's entries;
and parallel loading gives the same results as serial loading."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import ipaddress
import os
import shutil
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, SHARED

from netlint.core.model import NetworkPolicy
from netlint.core.problems import Problem, ProblemKind
from netlint.core.source import Span
from netlint.read import load as load_module
from netlint.read.build import BuildOptions
from netlint.read.load import FileResult, load
from netlint.read.parse import Limits
from netlint.run import cache as cache_module
from netlint.run import runner as runner_module
from netlint.run import safedir
from netlint.run import workspace as workspace_module
from netlint.run.cache import CACHE_DIR, Cache, decode_results, encode_results, tree_digest
from netlint.run.config import Config
from netlint.run.registry import load_catalogue
from netlint.run.runner import CheckRequest, Session, check
from netlint.run.workspace import LoadSettings, Workspace

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
def no_racy_margin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written by a test are seconds old at most: within the racily-clean margin, they
    would always be re-hashed (correct, but not what most tests look at). ctime cannot be set
    back, so the margin goes instead; test_an_edit_within_the_racy_margin_is_rehashed keeps it."""
    monkeypatch.setattr(cache_module, "_RACY_NS", 0)


def make_repo(root: Path, count: int = 3) -> Path:
    repo = root / "repo"
    repo.mkdir()
    for n in range(count):
        (repo / f"p{n}.yaml").write_text(POLICY.format(n=n, types="Ingress"))
    return repo


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
    first, cold = run(repo)
    assert cold.hits == 0 and (repo / CACHE_DIR / ".gitignore").read_text().endswith("*\n")
    assert first == ["p1.yaml:8:NL002"]

    def no_parsing(*args: object) -> None:
        raise AssertionError("an unchanged repo must not be parsed again")

    # Looked up where it is used (the workspace imports it when it parses).
    monkeypatch.setattr(load_module, "load", no_parsing)
    second, warm = run(repo)
    assert second == first and warm.hits == 0


def test_other_settings_do_not_reuse_an_outcome(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / "p1.yaml").write_text(POLICY.format(n=1, types="ingress"))
    run(repo)
    report = check(CheckRequest(root=repo, select=["NL1"])).report
    assert report.findings == []
    (repo / ".netlint.yaml").write_text("rules: {NL002: {severity: note}}\n")
    report = check(CheckRequest(root=repo)).report
    assert [f.severity.value for f in report.findings] == ["note"]


def test_unchanged_files_come_from_the_cache(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
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


@pytest.mark.parametrize("how", ["touch -r", "cp -p", "tar x"])
def test_an_edit_that_keeps_mtime_and_size_is_noticed(tmp_path: Path, how: str) -> None:
    """``touch -r``, ``cp -p``, ``rsync -a`` and ``tar x`` restore mtime (and the size may be
    the same): only the ctime, which nobody can set, tells the edit."""
    repo = make_repo(tmp_path)
    target = repo / "p1.yaml"
    run(repo)
    before = target.stat()
    edited = POLICY.format(n=1, types="ingress").encode()  # same length: Ingress -> ingress
    assert len(edited) == before.st_size
    if how == "touch -r":
        target.write_bytes(edited)
    else:  # a new inode with the old times, as cp -p and tar x make
        staged = tmp_path / "staged.yaml"
        staged.write_bytes(edited)
        os.replace(staged, target)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (target.stat().st_mtime_ns, target.stat().st_size) == (
        before.st_mtime_ns,
        before.st_size,
    )
    findings, cache = run(repo)
    assert findings == ["p1.yaml:8:NL002"] and cache.hits == 2


def test_an_edit_within_the_racy_margin_is_rehashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file changed in the same timestamp tick as the state was written can keep its whole
    stat: within the margin, the stat alone is never trusted."""
    monkeypatch.setattr(cache_module, "_RACY_NS", 3_600 * 1_000_000_000)
    repo = make_repo(tmp_path)
    run(repo)
    original = Cache.fresh_digest
    seen: list[str | None] = []

    def spy(self: Cache, rel: str, st: os.stat_result) -> str | None:
        found = original(self, rel, st)
        seen.append(found)
        return found

    monkeypatch.setattr(Cache, "fresh_digest", spy)
    (repo / "p1.yaml").write_text(POLICY.format(n=1, types="ingress"))
    findings, cache = run(repo)
    assert findings == ["p1.yaml:8:NL002"]
    assert seen and all(found is None for found in seen)  # nothing judged by its stat alone
    assert cache.hits == 2  # the others were re-hashed and found unchanged


def test_same_content_new_stat_is_a_hit(tmp_path: Path) -> None:
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


def test_an_interrupted_write_leaves_the_old_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path)
    run(repo)
    directory = repo / CACHE_DIR
    before = {p.name: p.read_bytes() for p in directory.iterdir() if not p.name.startswith("shard")}
    (repo / "p0.yaml").write_text(POLICY.format(n=0, types="Egress"))

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(repo)
    monkeypatch.undo()
    after = {p.name: p.read_bytes() for p in directory.iterdir() if not p.name.startswith("shard")}
    assert after == before  # the head, the state it names, nothing half-written
    _, cache = run(repo)
    assert cache.hits == 2  # the old state is still served for the files that did not change


def test_a_full_disk_means_no_cache_not_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path)

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safedir, "write_new", full)
    findings, cache = run(repo)
    assert findings == [] and cache.note == "cache not saved: No space left on device"
    assert not list((repo / CACHE_DIR).glob("*.msgpack"))


def test_no_cache_writes_nothing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    check(CheckRequest(root=repo, use_cache=False))
    assert not (repo / CACHE_DIR).exists()


def test_racing_runs_keep_each_others_fresh_entries(tmp_path: Path) -> None:
    """Two runs interleave: each saves while the other's just-written shard is referenced by
    nothing on disk yet. Neither deletes the other's shard, so whichever state wins, every
    file it names is still served from the cache."""
    repo = make_repo(tmp_path, count=4)
    settings = LoadSettings(repo, BuildOptions(), Limits())
    files = sorted(p.name for p in repo.glob("*.yaml"))
    salt = "race"
    first, second = Cache.open(repo, salt), Cache.open(repo, salt)
    Workspace(settings).load(files[:2], cache=first)
    Workspace(settings).load(files, cache=second)
    second.save()  # first's results are not saved yet: nothing refers to them on disk
    first.save()  # the state on disk is now first's, naming its own shard (only two files)
    later = Cache.open(repo, salt)
    Workspace(settings).load(files, cache=later)
    assert later.hits == 2
    later.save()
    shards = list((repo / CACHE_DIR).glob("shard-*"))
    assert len(shards) == 3  # first's, second's (still in its grace period) and later's
    # In the other order, second's state wins and its shard is all there.
    third, fourth = Cache.open(repo, salt), Cache.open(repo, salt)
    (repo / "p0.yaml").write_text(POLICY.format(n=0, types="Egress"))
    Workspace(settings).load(files, cache=third)
    Workspace(settings).load(files, cache=fourth)
    fourth.save()
    third.save()
    last = Cache.open(repo, salt)
    Workspace(settings).load(files, cache=last)
    assert last.hits == 4


def test_unreferenced_shards_go_after_the_grace_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path)
    run(repo)
    (repo / "p0.yaml").write_text(POLICY.format(n=0, types="Egress"))
    run(repo)
    directory = repo / CACHE_DIR
    assert len(list(directory.glob("shard-*"))) == 2  # the first shard still holds p1 and p2
    assert len(list(directory.glob("state-*"))) == 2  # the old state, within its grace
    monkeypatch.setattr(cache_module, "_SHARD_GRACE_NS", -(10**12))
    monkeypatch.setattr(cache_module, "_STATE_GRACE_NS", -(10**12))
    for n in range(3):
        (repo / f"p{n}.yaml").write_text(POLICY.format(n=n, types="Ingress, Egress"))
    run(repo)
    assert len(list(directory.glob("shard-*"))) == 1
    assert len(list(directory.glob("state-*"))) == 1


def test_code_salt_covers_every_module_at_any_depth(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "rules" / "deep").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    nested = package / "rules" / "deep" / "nl999.py"
    nested.write_text("A = 1\n")
    before = tree_digest(package)
    stat = nested.stat()
    nested.write_text("A = 2\n")  # same size, and the same mtime: content decides
    os.utime(nested, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert tree_digest(package) != before
    assert cache_module.code_salt().startswith(__import__("netlint").__version__ + "|")


def test_the_outcome_key_covers_plugin_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Dist:
        def __init__(self, version: str) -> None:
            self.name, self.version = "netlint-extra-rules", version

    class EntryPoint:
        name, value = "extra", "extra_rules:rules"

        def __init__(self, version: str) -> None:
            self.dist = Dist(version)

    def listed(version: str, group: str) -> list[EntryPoint]:
        return [EntryPoint(version)]

    repo = make_repo(tmp_path)
    (repo / "p1.yaml").write_text(POLICY.format(n=1, types="ingress"))
    stamps = []
    for version in ("1.0", "1.1"):
        runner_module._plugins_stamp.cache_clear()
        monkeypatch.setattr(runner_module, "entry_points", functools.partial(listed, version))
        stamps.append(runner_module._plugins_stamp(frozenset()))
        _, cache = run(repo)
        assert cache.hits == (0 if version == "1.0" else 3)  # 1.1: parsed results, new outcome
    runner_module._plugins_stamp.cache_clear()
    assert stamps[0] != stamps[1]


def test_an_unreadable_file_is_nl001_not_a_silent_skip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests may run as root, which reads a mode-000 file anyway: then the read itself fails
    (EACCES, as for any other user), in the main process and in parse workers alike."""
    repo = make_repo(tmp_path, count=80)
    secret = repo / "p7.yaml"
    secret.chmod(0)
    real_open = os.open

    def refuse(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path).endswith("p7.yaml"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    if os.geteuid() == 0:
        monkeypatch.setattr(workspace_module.os, "open", refuse)
    pools: list[object] = []

    class CountedPool(concurrent.futures.ProcessPoolExecutor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pools.append(self)
            super().__init__(*args, **kwargs)

    # The workspace imports the pool only when it starts one.
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", CountedPool)
    for jobs, big in ((1, False), (2, True)):
        if big:  # parse workers read their own files
            monkeypatch.setattr(workspace_module, "PARALLEL_MIN_FILES", 1)
            monkeypatch.setattr(workspace_module, "PARALLEL_MIN_BYTES", 1)
        shutil.rmtree(repo / CACHE_DIR, ignore_errors=True)
        for _ in range(2):  # cold, then with the other files cached
            report = check(CheckRequest(root=repo, jobs=jobs)).report
            found = [(f.span.path, f.span.line, f.code, f.message) for f in report.findings]
            assert found == [
                ("p7.yaml", 1, "NL001", "netlint cannot read this file: Permission denied")
            ]
        assert len(pools) == (2 if big else 0)
    secret.chmod(0o644)


def test_parallel_loading_equals_serial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path, count=12)
    (repo / "broken.yaml").write_text("kind: ConfigMap\na: [\n")
    settings = LoadSettings(repo, BuildOptions(), Limits())
    files = sorted(p.name for p in repo.glob("*.yaml"))
    serial = Workspace(settings)
    serial.load(files, jobs=1)
    monkeypatch.setattr(workspace_module, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(workspace_module, "PARALLEL_MIN_BYTES", 1)
    parallel = Workspace(settings)
    parallel.load(files, jobs=3)
    assert len(serial.results) == 13
    assert sorted(parallel.results) == sorted(serial.results)
    for path, result in serial.results.items():
        assert same(parallel.results[path], result), path


def test_parallel_rules_give_the_same_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    from netlint.run import engine

    examples = REPO / "examples"
    session = Session.create(Config(root=examples, roots=(examples,)), load_catalogue())
    session.load(use_cache=False)
    serial, _ = session.lint(lambda path: True, jobs=1)
    monkeypatch.setattr(engine, "PARALLEL_MIN_OBJECTS", 1)
    parallel, _ = session.lint(lambda path: True, jobs=3)
    assert serial and sorted(f.sort_key for f in parallel) == sorted(f.sort_key for f in serial)
    assert {f.code for f in parallel} >= {"NL101", "NL103", "NL105"}


# --- The format is exact -------------------------------------------------------------------


def same(a: object, b: object) -> bool:
    """Deep equality of netlint's objects, which compare by identity (``eq=False``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Span | str | int | float | bool | Enum | ipaddress.IPv4Network) or a is None:
        return a == b
    if isinstance(a, ipaddress.IPv6Network | frozenset):
        return a == b
    if isinstance(a, list | tuple):
        assert isinstance(b, list | tuple)
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if dataclasses.is_dataclass(a):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    raise AssertionError(f"no deep comparison for {type(a).__name__}")


def fixture_folders() -> Iterator[Path]:
    yield REPO / "examples"
    yield from sorted(p for p in (REPO / "rules").iterdir() if p.is_dir())


def corpus_sample() -> list[Path]:
    corpus = SHARED / "corpus"
    found = sorted(p for p in corpus.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
    return found[::15]


def test_every_fixture_round_trips_exactly() -> None:
    """Every file of examples/, rules/*/ and a sample of the corpus: decoded results equal the
    parsed ones field by field, and the rules find exactly the same over them."""
    catalogue = load_catalogue()
    checked = 0
    folders = list(fixture_folders())
    for folder in folders:
        session = Session.create(Config(root=folder, roots=(folder,)), catalogue)
        session.load(use_cache=False, jobs=1)
        results = list(session.workspace.results.values())
        decoded = decode_results(encode_results(results))
        assert decoded is not None
        for original, copy in zip(results, decoded, strict=True):
            assert same(original, copy), original.path
        before, _ = session.lint(lambda path: True)
        session.workspace.results = {r.path: r for r in decoded}
        session.workspace._layout = None
        after, _ = session.lint(lambda path: True)
        assert after == before, folder
        checked += len(results)
    assert checked > 50 and len(folders) > 10
    sample = corpus_sample()
    if not sample:
        pytest.skip("../shared/corpus is not there")
    results = [
        load(str(p), p.read_bytes(), BuildOptions(), Limits())
        for p in sample
        if p.stat().st_size < 5_000_000
    ]
    decoded = decode_results(encode_results(results))
    assert decoded is not None and len(decoded) == len(results) > 100
    assert sum(len(r.objects) for r in results) > 100
    for original, copy in zip(results, decoded, strict=True):
        assert same(original, copy), original.path


def test_awkward_values_round_trip() -> None:
    """Integers beyond 64 bits, lone surrogates (a file name that is not UTF-8, a message that
    quotes one), spans of another file, IPv6 blocks."""
    text = (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, "
        "namespace: x, labels: {k: '1'}}\nspec:\n  podSelector: {}\n  egress:\n  - ports:\n"
        "    - port: 123456789012345678901234567890\n      endPort: -99999999999999999999999\n"
        "    to:\n    - ipBlock: {cidr: 'fd00::/8', except: ['fd00::/16']}\n"
    )
    result = load("dir/\udcff.yaml", text.encode(), BuildOptions(), Limits())
    assert len(result.objects) == 1
    ports = result.objects[0].ingress + result.objects[0].egress  # type: ignore[union-attr]
    assert ports[0].ports[0].port == 123456789012345678901234567890
    result.problems.append(
        Problem(ProblemKind.INVALID, "a \ud800 b", Span("elsewhere.yaml", 1, 1, 1, 2))
    )
    empty = FileResult("empty.yaml", "0" * 32)
    decoded = decode_results(encode_results([result, empty]))
    assert decoded is not None and same(decoded, [result, FileResult("empty.yaml", "0" * 32)])


def test_decoded_results_share_recurring_texts_and_value_sets() -> None:
    """Label keys and values, namespaces, kinds and protocols that recur across files decode
    to one object each, and so do equal selector value sets (the main process decodes every
    worker's results: copies of them were a fifth of its heap); a long text is left alone."""
    long_value = "v" * 100

    def policy(name: str) -> bytes:
        return (
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
            f"metadata: {{name: {name}, namespace: shop, labels: {{team: {long_value}}}}}\n"
            "spec:\n  podSelector: {matchLabels: {app: web}}\n"
            "  ingress:\n  - ports: [{port: 80, protocol: TCP}]\n"
        ).encode()

    results = [load(f"{n}.yaml", policy(n), BuildOptions(), Limits()) for n in ("a", "b")]
    decoded = decode_results(encode_results(results))
    assert decoded is not None and same(decoded, results)
    a, b = (r.objects[0] for r in decoded)
    assert isinstance(a, NetworkPolicy) and isinstance(b, NetworkPolicy)
    assert a.namespace is b.namespace and a.ref.kind is b.ref.kind
    (ra,), (rb,) = a.pod_selector.requirements, b.pod_selector.requirements
    assert ra.key is rb.key and ra.values is rb.values
    assert a.ingress[0].ports[0].protocol is b.ingress[0].ports[0].protocol
    assert next(iter(a.labels)) is next(iter(b.labels))
    assert a.labels["team"] == b.labels["team"] == long_value
    assert a.labels["team"] is not b.labels["team"]


def test_every_problem_kind_round_trips_and_an_unknown_one_is_refused() -> None:
    """Problems are stored by kind; a shard naming a kind this netlint does not know (a
    rule code, as format 3 stored, or anything hostile) is refused whole, never half-read."""
    span = Span("a.yaml", 2, 3, 2, 9)
    result = FileResult(
        "a.yaml", "0" * 32, problems=[Problem(kind, kind.name, span) for kind in ProblemKind]
    )
    blob = encode_results([result])
    decoded = decode_results(blob)
    assert decoded is not None and [p.kind for p in decoded[0].problems] == list(ProblemKind)
    assert same(decoded, [result])
    forged = blob.replace(b"\xa6syntax", b"\xa5NL001")  # msgpack: fixstr of length 6 -> 5
    assert forged != blob and decode_results(forged) is None
