"""The benchmark script runs end to end on the small corpus (a smoke test: no timing claims)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, SHARED

pytestmark = pytest.mark.skipif(
    not (SHARED / "bench" / "gen_corpus.py").is_file(), reason="../shared/bench is not present"
)


def test_bench_smoke(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "run.py"),
            "--presets",
            "small",
            "--runs",
            "1",
            "--smoke",
            "--work",
            str(tmp_path),
            "--json",
            str(tmp_path / "bench.json"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("| corpus | files |")
    rows = json.loads((tmp_path / "bench.json").read_text())
    row = rows[0]
    assert row["files"] == 178
    for key in (
        "floor_s",
        "cold_s",
        "warm_s",
        "relint_s",
        "relint_daemon_s",
        "explain_daemon_s",
        "diff_daemon_s",
        "precommit_s",
        "precommit_daemon_s",
        "lsp_relint_s",
        "explain_s",
        "diff_s",
        "peak_rss_mib",
        "tree_mib",
        "cold_busy_s",
        "floor_busy_s",
    ):
        assert row[key] > 0
    if Path("/proc/self/smaps_rollup").is_file():  # PSS: shared pages split, so never more
        assert 0 < row["tree_pss_mib"] <= row["tree_mib"]
    tiny = next(r for r in rows if r["corpus"] == "tiny-files")
    assert tiny["files_900_s"] > 0 and tiny["files_900_tree_mib"] > 0
