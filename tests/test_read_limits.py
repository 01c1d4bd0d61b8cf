"""Files are judged by their size before they are read, so a huge (or sparse) file costs nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


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
