"""Third-party rules: discovered through the ``netlint.rules`` entry points of an installed
distribution (simulated with a dist-info folder on PYTHONPATH), run like the built-ins."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import netlint

PLUGIN = """
from netlint.api import Rule, RuleMeta, Severity


class TeamLabel(Rule):
    meta = RuleMeta(
        code="ACME001",
        name="team-label",
        severity=Severity.WARNING,
        summary="Every NetworkPolicy carries a team label.",
        rationale="Acme routes alerts by team.",
        bad_example="metadata:\\n  name: x\\n",
    )

    def check_policy(self, ctx, policy):
        if "team" not in policy.labels:
            yield ctx.finding(policy.name_span, "no team label", subject=policy)


class Crashes(Rule):
    meta = RuleMeta(
        code="ACME002",
        name="crashes",
        severity=Severity.WARNING,
        summary="A buggy rule.",
        rationale="It raises on policies named crash.",
    )

    def check_policy(self, ctx, policy):
        if policy.name == "crash":
            raise KeyError("boom")
        return ()


class Greedy(Rule):
    meta = RuleMeta(
        code="NL555",
        name="greedy",
        severity=Severity.WARNING,
        summary="Takes a reserved code.",
        rationale="Not allowed.",
    )
"""

POLICIES = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: crash
  namespace: shop
spec:
  podSelector: {}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: fine
  namespace: shop
  labels: {team: a}
spec:
  podSelector: {}
  policyTypes: [ingress]
"""


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    (site / "acme_rules.py").write_text(PLUGIN)
    info = site / "acme_netlint-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-netlint\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [netlint.rules]
            team = acme_rules:TeamLabel
            crashes = acme_rules:Crashes
            greedy = acme_rules:Greedy
            missing = acme_rules_gone:Rule
            """
        )
    )
    return site


def run(project: Path, site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return netlint(*args, cwd=project, env={"PYTHONPATH": str(site)})


def test_third_party_rules_run_beside_the_builtins(tmp_path: Path, plugin_path: Path) -> None:
    project = tmp_path / "repo"
    project.mkdir()
    (project / "np.yaml").write_text(POLICIES)
    out = run(project, plugin_path, "check")
    lines = out.stdout.splitlines()
    # The plugin's finding, the built-in NL002, and the crash as NL900 on the crashing object.
    assert "np.yaml:4:9: ACME001 warning: no team label [team-label]" in lines
    assert any(line.startswith("np.yaml:17:17: NL002 error:") for line in lines)
    crash = [line for line in lines if " NL900 " in line]
    assert len(crash) == 1 and crash[0].startswith("np.yaml:1:1: NL900 error: rule ACME002")
    assert "KeyError" in crash[0]
    # Broken or rule-breaking plugins are reported, and the run goes on.
    assert "acme_rules_gone" in out.stderr and "failed to load" in out.stderr
    assert "NL555" not in out.stdout and "reserved for netlint" in out.stderr
    # Rules written for contract v1 (a `rationale` blob) still run, with a warning to move.
    assert "ACME001 uses rule contract v1" in out.stderr
    assert "Traceback" not in out.stderr
    assert out.returncode == 1


def test_plugin_rules_are_selectable_and_listed(tmp_path: Path, plugin_path: Path) -> None:
    project = tmp_path / "repo"
    project.mkdir()
    (project / "np.yaml").write_text(POLICIES)
    out = run(project, plugin_path, "check", "--select", "ACME")
    assert "NL002" not in out.stdout and "ACME001" in out.stdout
    listing = run(project, plugin_path, "rules")
    assert "ACME001  team-label" in listing.stdout
    explained = run(project, plugin_path, "rules", "team-label")
    assert "Every NetworkPolicy carries a team label." in explained.stdout
    sarif = run(project, plugin_path, "check", "--format", "sarif", "--select", "ACME001")
    assert '"id": "ACME001"' in sarif.stdout


def test_plugins_inside_the_linted_repo_are_not_run(tmp_path: Path, plugin_path: Path) -> None:
    project = plugin_path  # the dist-info and the module sit in the repository itself
    (project / "np.yaml").write_text(POLICIES)
    out = run(tmp_path, plugin_path, "check", str(project))
    assert "ACME001" not in out.stdout and "NL002" in out.stdout
    assert "is not loaded: it is defined in the repository being linted" in out.stderr
    allowed = run(tmp_path, plugin_path, "check", str(project), "--allow-repo-plugins")
    assert "ACME001" in allowed.stdout


def test_python_m_does_not_import_modules_from_the_current_directory(tmp_path: Path) -> None:
    (tmp_path / "jsonschema.py").write_text("raise SystemExit('shadowed jsonschema imported')\n")
    (tmp_path / "np.yaml").write_text(POLICIES)
    out = subprocess.run(
        [sys.executable, "-m", "netlint", "check", "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "shadowed" not in out.stderr + out.stdout
    assert out.returncode == 1 and "NL002" in out.stdout
