"""netlint over ../shared/corpus: ~6,700 real manifest files from 15 public repos, broken ones
included. No traceback, no crashed rule, NL001 with lines, templates skipped, valid SARIF."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from conftest import SHARED
from test_sarif import validate_github

CORPUS = SHARED / "corpus"

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")


@pytest.fixture(scope="module")
def corpus_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out_file = tmp_path_factory.mktemp("corpus") / "corpus.sarif"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "netlint",
            "check",
            str(CORPUS),
            "--format",
            "sarif",
            "--output",
            str(out_file),
            "--no-cache",  # ../shared is not ours to write into
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=900,
        check=False,
    )
    return out, json.loads(out_file.read_text())


def test_no_traceback_and_a_normal_exit_status(corpus_run: tuple[Any, Any]) -> None:
    out, _ = corpus_run
    assert out.returncode in (0, 1), out.stderr
    assert "Traceback" not in out.stderr
    assert "templated files skipped" in out.stderr


def test_no_rule_crashed(corpus_run: tuple[Any, Any]) -> None:
    _, log = corpus_run
    crashed = [r for r in log["runs"][0]["results"] if r["ruleId"] == "NL900"]
    assert crashed == []


def test_broken_files_get_nl001_at_the_error(corpus_run: tuple[Any, Any]) -> None:
    _, log = corpus_run
    found = {
        (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for r in log["runs"][0]["results"]
        if r["ruleId"] == "NL001"
    }
    assert ("np-guard__netpol-analyzer/tests/malformed-pod-example-5/pod.yaml", 12) in found
    # A lone "{" names no apiVersion or kind: passed over as no manifest, not an NL001.
    assert ("np-guard__network-config-analyzer/tests/bad_yamls/single_bracket.json", 2) not in found


def test_sarif_is_valid_for_github(corpus_run: tuple[Any, Any]) -> None:
    _, log = corpus_run
    validate_github(log)
    assert log["runs"][0]["results"], "the corpus has known problems: results cannot be empty"


def test_templated_folders_are_not_linted(corpus_run: tuple[Any, Any]) -> None:
    _, log = corpus_run
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in log["runs"][0]["results"]
    }
    assert not any("/templated/helm-chart/templates/" in uri for uri in uris)
