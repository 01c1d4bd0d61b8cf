"""netlint's SARIF through Microsoft's SARIF Multitool with GitHub's upload rules (GH1001-GH1007
on top of the SARIF and GHAS rule sets), as ../shared/sarif/README.md describes.

The Multitool exits 0 whatever it finds, so the test reads its report and fails on any result
of level ``error``. Skipped when npm is missing or cannot reach its registry.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, SHARED

MULTITOOL = "@microsoft/sarif-multitool@5.7.0"
GH_RULES = SHARED / "sarif" / "gh-rules.config.xml"
#: npm's codes for a registry it cannot reach.
OFFLINE = re.compile(r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|network")

pytestmark = pytest.mark.skipif(not GH_RULES.is_file(), reason="../shared/sarif is not present")

DUPLICATES = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api
  namespace: shop
  annotations: {owner: "😀 team"}
spec:
  podSelector:
    matchLabels: {app: api}
  policyTypes: [Ingress]
  ingress:
    - from:
        - ipBlock: {cidr: 0.0.0.0/0}
    - from:
        - ipBlock: {cidr: 10.0.0.0/8}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web
  namespace: shop
  annotations: {owner: "😀 team", reviewed: yes}
spec:
  podSelector: {}
  policyTypes: [Ingress]
"""


@pytest.fixture(scope="module")
def multitool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    npm = shutil.which("npm")
    node = shutil.which("node")
    if npm is None or node is None:
        pytest.skip("npm is not installed: the SARIF Multitool comes from npm")
    where = tmp_path_factory.mktemp("sarif-multitool")
    (where / "package.json").write_text('{"name": "netlint-sarif-check", "private": true}\n')
    install = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", MULTITOOL],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if install.returncode != 0:
        if OFFLINE.search(install.stderr):
            pytest.skip(f"npm cannot reach its registry: {install.stderr.strip()[-300:]}")
        pytest.fail(f"npm install {MULTITOOL} failed:\n{install.stderr}")
    located = subprocess.run(
        [node, "-p", "require('@microsoft/sarif-multitool')"],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    binary = Path(located.stdout.strip())
    # npm may not run the package's postinstall (`chmod u+x`), e.g. under an allowScripts policy.
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return binary


def sarif_of(target: Path, out: Path, *extra: str) -> dict[str, Any]:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "netlint",
            "check",
            str(target),
            "--format",
            "sarif",
            "--output",
            str(out),
            "--fail-on",
            "never",
            "--no-cache",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(out.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def validate(binary: Path, sarif: Path) -> list[dict[str, Any]]:
    """The Multitool's results on ``sarif`` (errors and warnings)."""
    report = sarif.with_suffix(".report.sarif")
    run = subprocess.run(
        [
            str(binary),
            "validate",
            str(sarif),
            "--config",
            str(GH_RULES),
            "--rule-kind",
            "Sarif;Ghas",
            "--level",
            "Error;Warning",
            "-o",
            str(report),
            "--log",
            "ForceOverwrite",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert report.is_file(), run.stdout + run.stderr
    log = json.loads(report.read_text(encoding="utf-8-sig"))
    return list(log["runs"][0]["results"])


def errors(results: list[dict[str, Any]]) -> list[str]:
    return [
        f"{r['ruleId']}: {json.dumps(r['message'])}" for r in results if r.get("level") == "error"
    ]


def test_the_multitool_catches_what_github_rejects(multitool: Path, tmp_path: Path) -> None:
    """The check is not vacuous: a result without startLine and with a message id fails it."""
    log = sarif_of(REPO / "examples", tmp_path / "examples.sarif")
    result = log["runs"][0]["results"][0]
    del result["locations"][0]["physicalLocation"]["region"]["startLine"]
    result["message"] = {"id": "default"}
    broken = tmp_path / "broken.sarif"
    broken.write_text(json.dumps(log), encoding="utf-8")
    rules = {line.partition(":")[0] for line in errors(validate(multitool, broken))}
    assert {"GH1003", "GH1007"} <= rules


def test_examples(multitool: Path, tmp_path: Path) -> None:
    out = tmp_path / "examples.sarif"
    log = sarif_of(REPO / "examples", out)
    assert log["runs"][0]["results"], "the example repo is wrong on purpose"
    results = validate(multitool, out)
    assert errors(results) == [], results


def test_many_kinds_of_findings(multitool: Path, tmp_path: Path) -> None:
    """Every rule's fixtures at once: most codes, related locations, parse errors."""
    out = tmp_path / "rules.sarif"
    log = sarif_of(REPO / "rules", out, "--sarif-category", "netlint/rules")
    results = log["runs"][0]["results"]
    assert len({r["ruleId"] for r in results}) >= 5
    assert any(r["ruleId"] == "NL206" and r.get("relatedLocations") for r in results)
    assert log["runs"][0]["automationDetails"]["id"] == "netlint/rules"
    report = validate(multitool, out)
    assert errors(report) == [], report


def test_related_locations_and_wide_characters(multitool: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "k8s").mkdir(parents=True)
    (project / "k8s" / "api policies.yaml").write_text(DUPLICATES, encoding="utf-8")
    out = tmp_path / "dup.sarif"
    log = sarif_of(project, out)
    results = log["runs"][0]["results"]
    by_rule = {r["ruleId"]: r for r in results}
    assert set(by_rule) == {"NL002", "NL104", "NL105", "NL206"}
    region = by_rule["NL206"]["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == 20
    related = by_rule["NL206"]["relatedLocations"][0]["physicalLocation"]
    assert related["region"]["startLine"] == 4
    assert by_rule["NL105"]["relatedLocations"][0]["physicalLocation"]["region"]["startLine"] == 12
    uri = by_rule["NL206"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "k8s/api%20policies.yaml"
    # `yes` follows an emoji: code point 44, UTF-16 unit 45.
    assert log["runs"][0]["columnKind"] == "utf16CodeUnits"
    wide = by_rule["NL002"]["locations"][0]["physicalLocation"]["region"]
    assert (wide["startLine"], wide["startColumn"]) == (31, 45)
    report = validate(multitool, out)
    assert errors(report) == [], report
