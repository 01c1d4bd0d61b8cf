"""Files are judged by their size before they are read, so a huge (or sparse) file costs nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netlint.read.load import FileTooLarge
from netlint.read.parse import Limits
from netlint.run import workspace as workspace_module
from netlint.run.workspace import read_file


def test_a_file_over_the_size_limit_is_nl001_from_its_stat_without_being_read(
    tmp_path: Path,
) -> None:
    huge = tmp_path / "huge.yaml"
    with open(huge, "wb") as handle:  # sparse: 64 GiB on the stat, no blocks on the disk
        handle.truncate(64 * 1024**3)
    (tmp_path / "ok.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
    out = subprocess.run(
        [sys.executable, "-m", "netlint", "check", "--no-cache", "--format", "json", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,  # a hang guard: reading 64 GiB would not finish
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert out.returncode == 1, out.stderr
    findings = json.loads(out.stdout)["findings"]
    (finding,) = [f for f in findings if f["path"] == "huge.yaml"]
    assert finding["code"] == "NL001"
    assert "68,719,476,736 bytes" in finding["message"]
    assert (finding["line"], finding["column"]) == (1, 1)


def _fstat_saying(size: int) -> Any:
    """``os.fstat`` as if the file had ``size`` bytes when it was opened (it grew since)."""
    real = os.fstat

    def fstat(fd: int) -> os.stat_result:
        found = real(fd)
        fields = list(found)
        fields[6] = size  # st_size
        return os.stat_result(fields)

    return fstat


def test_a_file_that_grows_while_it_is_read_is_read_whole_up_to_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read asks for the size the stat gave plus one byte; a file that grew since is read on,
    and one that grew past the limit is refused as too large, as it was before it grew."""
    grown = tmp_path / "grown.yaml"
    grown.write_bytes(b"x" * 5000)
    limits = Limits(max_file_bytes=10_000)
    monkeypatch.setattr(workspace_module.os, "fstat", _fstat_saying(10))
    assert read_file(grown, limits) == b"x" * 5000
    grown.write_bytes(b"x" * 20_000)
    with pytest.raises(FileTooLarge):
        read_file(grown, limits)
    monkeypatch.setattr(workspace_module.os, "fstat", _fstat_saying(0))  # as /proc files say
    grown.write_bytes(b"y" * 3)
    assert read_file(grown, limits) == b"yyy"


def test_folders_nested_deeper_than_python_recurses_are_walked(tmp_path: Path) -> None:
    """os.walk recurses once per folder: 1,100 nested folders were a RecursionError and a
    traceback. Discovery's own walk keeps a stack."""
    deep = tmp_path
    for _ in range(1100):  # one level at a time: pathlib's mkdir(parents=True) recurses too
        deep = deep / "d"
        deep.mkdir()
    try:
        (deep / "np.yaml").write_text(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
            "metadata: {name: x, namespace: y}\n"  # YAML 1.1 reads y as true
            "spec: {podSelector: {}}\n"
        )
        out = subprocess.run(
            [sys.executable, "-m", "netlint", "check", "--no-cache", "--format", "json", "."],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "NO_COLOR": "1"},
        )
    finally:
        # Python 3.11's shutil.rmtree recurses once per folder too: left behind, this tree was a
        # RecursionError in pytest's own clean-up of old temporary folders at the end of a later
        # session. Removed here from the bottom up, one level at a time.
        (deep / "np.yaml").unlink(missing_ok=True)
        while deep != tmp_path:
            deep.rmdir()
            deep = deep.parent
    assert "Traceback" not in out.stderr, out.stderr
    (finding,) = json.loads(out.stdout)["findings"]
    assert finding["path"] == "d/" * 1100 + "np.yaml"
    assert (finding["code"], finding["line"], finding["column"]) == ("NL002", 3, 32)


def test_the_walk_lists_what_os_walk_lists_in_its_order(tmp_path: Path) -> None:
    from netlint.read.discover import PRUNE, _walk

    for folder in ("a/b/c", "a/e", ".git/x", "B", "z"):
        (tmp_path / folder).mkdir(parents=True)
    for name in ("a/1.yaml", "a/b/2.yaml", "a/b/c/3.json", "a/e/x", ".git/x/y.yaml", "B/k.yml"):
        (tmp_path / name).write_text("")
    (tmp_path / "z.yaml").write_text("")
    os.symlink("a", tmp_path / "linked")  # a link to a folder: neither walked nor a file
    os.symlink("nowhere", tmp_path / "dangling.yaml")
    os.symlink("z.yaml", tmp_path / "lz.yaml")
    os.mkfifo(tmp_path / "fifo.yaml")

    def reference(scope: Path) -> list[str]:
        found = []
        for directory, dirs, files in os.walk(scope, followlinks=False):
            dirs[:] = sorted(d for d in dirs if d not in PRUNE)
            base = Path(directory).relative_to(tmp_path).as_posix()
            found += [name if base == "." else f"{base}/{name}" for name in sorted(files)]
        return found

    for scope in (tmp_path, tmp_path / "a"):
        assert list(_walk(tmp_path, scope)) == reference(scope)
    assert "linked" not in list(_walk(tmp_path, tmp_path))
