"""The cache lies in the repository being linted, which anyone may have filled: nothing in it is
followed out of the root, deleted unless netlint made it, executed, trusted, or read unbounded."""

from __future__ import annotations

import os
import pickle
import random
import subprocess
import sys
from pathlib import Path

import msgpack  # type: ignore[import-untyped]
import pytest

from netlint.read.build import BuildOptions
from netlint.read.load import FileResult, digest, load
from netlint.read.parse import Limits
from netlint.run import cache as cache_module
from netlint.run import safedir
from netlint.run.cache import CACHE_DIR, FORMAT, Cache, decode_results, encode_results
from netlint.run.config import Config
from netlint.run.registry import load_catalogue
from netlint.run.runner import CheckRequest, Session, check

BAD = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: p
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [ingress]
"""
DAY = 86_400


@pytest.fixture(autouse=True)
def no_racy_margin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test files are seconds old: without this, they would always be re-hashed."""
    monkeypatch.setattr(cache_module, "_RACY_NS", 0)


def repo_with_a_finding(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "p.yaml").write_text(BAD)
    return repo


def codes(repo: Path) -> tuple[list[str], list[str]]:
    request = CheckRequest(root=repo)
    report = check(request).report
    return [f.code for f in report.findings], request.notes


def victim_with_old_files(tmp_path: Path) -> Path:
    victim = tmp_path / "victim"
    victim.mkdir()
    for name in ("precious.txt", "state-0123456789abcdef.pickle", ".gitignore"):
        (victim / name).write_text("keep me\n")
        os.utime(victim / name, (0, 0))  # older than any grace period
    return victim


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_cache_dir_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    victim = victim_with_old_files(tmp_path)
    before = listing(victim)
    repo = repo_with_a_finding(tmp_path)
    (repo / CACHE_DIR).symlink_to("../victim")
    for _ in range(2):
        found, notes = codes(repo)
        assert found == ["NL002"]
        assert any("is a symbolic link" in n and "does not follow" in n for n in notes)
    assert listing(victim) == before  # nothing written, nothing deleted
    assert (repo / CACHE_DIR).is_symlink()


def test_the_language_server_path_refuses_it_too(tmp_path: Path) -> None:
    victim = victim_with_old_files(tmp_path)
    before = listing(victim)
    repo = repo_with_a_finding(tmp_path)
    (repo / CACHE_DIR).symlink_to(victim)
    session = Session.create(Config(root=repo, roots=(repo,)), load_catalogue())
    notes: list[str] = []
    session.load(use_cache=True, jobs=1, notes=notes)  # what netlint lsp does on start
    assert "p.yaml" in session.workspace.results
    assert any("symbolic link" in n for n in notes)
    assert listing(victim) == before


def test_the_cli_says_why_with_verbose(tmp_path: Path) -> None:
    repo = repo_with_a_finding(tmp_path)
    (repo / CACHE_DIR).symlink_to(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "netlint", "check", "--verbose", "."],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 1 and "NL002" in out.stdout
    assert "is a symbolic link (netlint does not follow it)" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("kind", ["file", "other user", "world-writable"])
def test_a_cache_dir_netlint_cannot_trust_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    repo = repo_with_a_finding(tmp_path)
    cache_dir = repo / CACHE_DIR
    if kind == "file":
        cache_dir.write_text("not a directory\n")
        expected = "is not a directory"
    else:
        cache_dir.mkdir()
        if kind == "other user":  # whoever runs the tests, root included
            uid = os.geteuid()
            monkeypatch.setattr(cache_module.os, "geteuid", lambda: uid + 1)
            expected = "belongs to another user"
        else:
            cache_dir.chmod(0o777)
            expected = "writable by every user"
    before = sorted(p.name for p in cache_dir.iterdir()) if cache_dir.is_dir() else []
    found, notes = codes(repo)
    assert found == ["NL002"] and any(expected in n for n in notes)
    after = sorted(p.name for p in cache_dir.iterdir()) if cache_dir.is_dir() else []
    assert after == before


def test_a_dangling_gitignore_link_is_not_written_through(tmp_path: Path) -> None:
    repo = repo_with_a_finding(tmp_path)
    (repo / CACHE_DIR).mkdir()
    target = tmp_path / "created-by-netlint"
    (repo / CACHE_DIR / ".gitignore").symlink_to(target)
    for _ in range(2):
        assert codes(repo)[0] == ["NL002"]
    assert not target.exists() and (repo / CACHE_DIR / ".gitignore").is_symlink()


def test_planted_links_and_files_are_never_followed_or_deleted(tmp_path: Path) -> None:
    """Links with netlint's own names (into a victim folder), strangers' files, and old files:
    netlint deletes only its own regular files, and never reads or writes through a link."""
    victim = victim_with_old_files(tmp_path)
    repo = repo_with_a_finding(tmp_path)
    run_once = codes(repo)
    assert run_once[0] == ["NL002"]
    directory = repo / CACHE_DIR
    head = next(directory.glob("head-*"))
    prefix = head.name[len("head-") : -len(".msgpack")]
    planted = {
        f"shard-{prefix}-{'0' * 16}.msgpack": victim / "precious.txt",
        f"state-{prefix}-{'1' * 16}.msgpack": victim / "precious.txt",
        f"shard-{'f' * 16}-{'2' * 16}.msgpack": victim,
    }
    for name, target in planted.items():
        (directory / name).symlink_to(target)
        os.utime(directory / name, (0, 0), follow_symlinks=False)
    (directory / "notes.txt").write_text("mine\n")
    (directory / "shard-short.msgpack").write_text("not netlint's name\n")
    for path in (directory / "notes.txt", directory / "shard-short.msgpack"):
        os.utime(path, (0, 0))
    old = directory / f"shard-{'e' * 16}-{'3' * 16}.msgpack"  # another netlint's, a day old
    old.write_bytes(b"x")
    os.utime(old, (0, 0))
    before = listing(victim)
    (repo / "p.yaml").write_text(BAD.replace("name: p", "name: q"))
    assert codes(repo)[0] == ["NL002"]
    assert listing(victim) == before
    assert all((directory / name).is_symlink() for name in planted)
    assert (directory / "notes.txt").exists() and (directory / "shard-short.msgpack").exists()
    assert not old.exists()


def test_the_head_swapped_for_a_link_is_not_read_or_written_through(tmp_path: Path) -> None:
    repo = repo_with_a_finding(tmp_path)
    codes(repo)
    head = next((repo / CACHE_DIR).glob("head-*"))
    head.unlink()
    outside = tmp_path / "outside"
    outside.write_text("keep me\n")
    head.symlink_to(outside)
    (repo / "p.yaml").write_text(BAD.replace("name: p", "name: q"))
    assert codes(repo)[0] == ["NL002"]
    assert outside.read_text() == "keep me\n"
    assert not head.is_symlink()  # replaced by netlint's own head, the link itself only


def test_a_planted_pickle_is_never_unpickled(tmp_path: Path) -> None:
    repo = repo_with_a_finding(tmp_path)
    directory = repo / CACHE_DIR
    directory.mkdir()
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.mkdir, (str(marker),))

    payload = pickle.dumps((0, {"p.yaml": Exploit()}, {}))
    for name in ("state-0123456789abcdef.pickle", f"head-{'0' * 16}.msgpack"):
        (directory / name).write_bytes(b"netlint-cache-1\n" + b"\0" * 32 + payload)
    assert codes(repo)[0] == ["NL002"]
    assert not marker.exists()


def test_a_well_formed_planted_cache_is_not_trusted(tmp_path: Path) -> None:
    """A cache that claims a file has no objects, well formed and for the right content and
    settings: where netlint wrote it, it is served (that is what a cache does). Committed to a
    repository and checked out elsewhere, its files get new inodes and ctimes, which nobody can
    choose, so neither its state nor its shards are trusted, and the finding is reported."""
    forged = tmp_path / "forged"
    forged.mkdir()
    (forged / "p.yaml").write_text(BAD)
    session = Session.create(Config(root=forged, roots=(forged,)), load_catalogue())
    cache = session.open_cache()
    cache.put(FileResult("p.yaml", digest(BAD.encode())), (forged / "p.yaml").stat())
    cache.save()
    assert codes(forged)[0] == []  # served where it was written
    repo = tmp_path / "repo"
    subprocess.run(["cp", "-a", str(forged), str(repo)], check=True)  # mtimes kept, as tar x
    assert codes(repo)[0] == ["NL002"]


def test_decoding_anything_else_is_a_rejection_never_a_crash() -> None:
    text = BAD.replace("podSelector: {}", "podSelector: {matchLabels: {app: web}}")
    results = [load("p.yaml", text.encode(), BuildOptions(), Limits())]
    blob = encode_results(results)
    assert decode_results(blob) is not None
    rng = random.Random(11)
    mutants = [blob[:n] for n in range(0, len(blob), 7)]
    for _ in range(1500):
        data = bytearray(blob)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        mutants.append(bytes(data))
    for mutant in mutants:
        decoded = decode_results(mutant)  # never raises
        assert decoded is None or isinstance(decoded, list)
    header = safedir._MAGIC
    wrong = [
        (FORMAT + 1, "shard", ()),
        (FORMAT, "state", ()),
        (FORMAT, "shard", ((1, 2, 3),)),
        (FORMAT, "shard", (("p.yaml", 7, (), (), {}, None, 0, (), (), ()),)),  # an int digest
        (FORMAT, "shard", (("p.yaml", "d", ((9, "x"),), (), {}, None, 0, (), (), ()),)),  # tag
        (FORMAT, "shard", (("p.yaml", "d", (), (), {"k": True}, None, 0, (), (), ()),)),
        # an expectation whose port is not (protocol, number)
        (
            FORMAT,
            "shard",
            (
                (
                    "p.yaml",
                    "d",
                    (),
                    (),
                    {},
                    None,
                    0,
                    (),
                    (),
                    (
                        (
                            True,
                            (None, (), None),
                            (None, (), None),
                            ("TCP",),
                            (1, 1, 1, 2),
                            (1, 1, 1, 2),
                            (1, 1, 1, 2),
                            None,
                        ),
                    ),
                ),
            ),
        ),
    ]
    for body in wrong:
        assert decode_results(header + msgpack.packb(body)) is None
    assert decode_results(header + msgpack.packb(msgpack.ExtType(9, b"x"))) is None


def test_reads_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = repo_with_a_finding(tmp_path)
    codes(repo)
    head = next((repo / CACHE_DIR).glob("head-*"))
    with head.open("ab") as handle:
        handle.truncate(cache_module._MAX_HEAD_BYTES + 1)  # sparse: cheap to make
    read: list[int] = []
    original = os.read

    def spy(fd: int, size: int) -> bytes:
        read.append(size)
        return original(fd, size)

    monkeypatch.setattr(safedir.os, "read", spy)
    cache = Cache.open(repo, "unused")
    assert cache.stamps == {} and read == []  # the oversized head is not even read
    huge = repo / CACHE_DIR / "big"
    with huge.open("wb") as handle:
        handle.truncate(1 << 40)
    fd = os.open(repo / CACHE_DIR, os.O_RDONLY)
    try:
        assert safedir.read(fd, "big", cache_module._MAX_SHARD_BYTES) is None
    finally:
        os.close(fd)
    assert read == []


def test_nothing_of_the_key_machinery_is_left(tmp_path: Path) -> None:
    assert not hasattr(cache_module, "key_path") and not hasattr(cache_module, "_key")
    for module in (cache_module, safedir):
        assert "hmac" not in module.__dict__ and "pickle" not in module.__dict__


def test_old_files_of_netlint_are_cleaned_but_only_those(tmp_path: Path) -> None:
    repo = repo_with_a_finding(tmp_path)
    directory = repo / CACHE_DIR
    directory.mkdir()
    legacy = directory / "shard-0123456789abcdef-0123456789abcdef.pickle"
    legacy.write_bytes(b"old")
    stranger = directory / "README"
    stranger.write_text("someone's\n")
    for path in (legacy, stranger):
        os.utime(path, (0, 0))
    codes(repo)
    assert not legacy.exists() and stranger.exists()
    assert max(p.stat().st_mtime for p in directory.iterdir()) > DAY


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_files_of_another_user_are_not_read(tmp_path: Path) -> None:
    """In a directory others may write to, their files could name anchors of their own (they
    know their own files' stat): only this user's files are read."""
    folder = tmp_path / "cache"
    folder.mkdir()
    (folder / "head").write_bytes(b"data")
    fd = os.open(folder, os.O_RDONLY)
    try:
        assert safedir.read(fd, "head", 100) == b"data"
        os.chown(folder / "head", 65534, 65534)
        assert safedir.read(fd, "head", 100) is None
    finally:
        os.close(fd)


def test_a_head_naming_a_path_outside_the_cache_is_never_followed(tmp_path: Path) -> None:
    """A head is read before anything vouches for it, and names its state: a name with ``/``
    or ``..`` (which ``O_NOFOLLOW`` would not stop, it guards the last part only) is refused."""
    outside = tmp_path / "secret.msgpack"
    outside.write_bytes(b"not a cache")
    cache_dir = tmp_path / "repo" / CACHE_DIR
    cache_dir.mkdir(parents=True)
    fd = os.open(cache_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        seen = os.fstat(fd)
        for name in ("../../secret.msgpack", "..", ".", "a/b", "x\0y"):
            assert safedir.read(fd, name, 1 << 20) is None
        assert os.fstat(fd).st_ino == seen.st_ino
    finally:
        os.close(fd)
