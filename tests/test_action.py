"""The GitHub Action (action.yml): its metadata, checked by actionlint through workflows that use
it and by the structural checks actionlint does not make on an action's own file; and its
scripts, run as they are, the way the runner would run them.

actionlint lints workflows, not action metadata. So it checks the action twice: through a
workflow that uses it (``uses: ./``: actionlint reads the action's inputs, and a misspelled one
is an error), and through the action's steps made into a reusable workflow (its expressions,
step ids and contexts; shellcheck on the scripts when shellcheck is on PATH).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO
from helpers import copy_of_work_tree
from packaging.utils import canonicalize_name

ACTION = REPO / "action.yml"
DOC = REPO / "docs" / "github-code-scanning.md"
ACTIONLINT = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: wide
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to:
        - ipBlock:
            cidr: 0.0.0.0/0
"""


def _action() -> dict[str, Any]:
    data = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _actionlint(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ACTIONLINT, "-no-color", "-oneline"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _repo_with_action(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(ACTION, repo / "action.yml")
    (repo / ".git").mkdir()  # actionlint finds the project by its .git
    return repo


USING_WORKFLOW = """\
name: netlint
on:
  pull_request:
  push:
    branches: [main]
permissions:
  contents: read
jobs:
  netlint:
    runs-on: ubuntu-latest
    permissions:
      contents: read
      security-events: write
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
      - id: netlint
        uses: ./
        with:
          paths: |
            k8s
            apps
          config: k8s/.netlint.yaml
          {fail_on}: error
          category: netlint-k8s
          upload: "true"
      - run: test -s "$SARIF"
        env:
          SARIF: ${{{{ steps.netlint.outputs.sarif-file }}}}
"""


def test_actionlint_accepts_a_workflow_using_the_action(tmp_path: Path) -> None:
    repo = _repo_with_action(tmp_path)
    workflow = repo / ".github" / "workflows" / "netlint.yml"
    workflow.write_text(USING_WORKFLOW.format(fail_on="fail-on"), encoding="utf-8")
    result = _actionlint(repo)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_reads_the_actions_inputs(tmp_path: Path) -> None:
    """The control for the test above: actionlint did read action.yml, so a misspelled input
    is an error naming the real ones."""
    repo = _repo_with_action(tmp_path)
    workflow = repo / ".github" / "workflows" / "netlint.yml"
    workflow.write_text(USING_WORKFLOW.format(fail_on="fail_on"), encoding="utf-8")
    result = _actionlint(repo)
    assert result.returncode == 1
    assert 'input "fail_on" is not defined' in result.stdout
    assert '"fail-on"' in result.stdout


def test_actionlint_accepts_the_actions_steps_as_a_workflow(tmp_path: Path) -> None:
    """The composite steps in a reusable workflow whose inputs are the action's: actionlint
    checks their expressions (inputs, step outputs, contexts) and the pinned upload step."""
    action = _action()
    inputs = {
        name: {"type": "string", "required": False, "default": spec.get("default", "")}
        for name, spec in action["inputs"].items()
    }
    workflow = {
        "name": "action steps",
        "on": {"workflow_call": {"inputs": inputs}},
        "permissions": {"contents": "read", "security-events": "write"},
        "jobs": {"netlint": {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}},
    }
    repo = _repo_with_action(tmp_path)
    target = repo / ".github" / "workflows" / "steps.yml"
    target.write_text(yaml.safe_dump(workflow, sort_keys=False), encoding="utf-8")
    result = _actionlint(repo)
    assert result.returncode == 0, result.stdout + result.stderr


def _doc_workflows() -> list[str]:
    blocks = re.findall(r"^```yaml\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)
    return [b for b in blocks if re.search(r"^jobs:", b, re.M)]


def test_actionlint_accepts_the_documented_workflows(tmp_path: Path) -> None:
    workflows = _doc_workflows()
    assert len(workflows) >= 2  # the action's and the plain one
    repo = _repo_with_action(tmp_path)
    for i, text in enumerate(workflows):
        (repo / ".github" / "workflows" / f"doc{i}.yml").write_text(text, encoding="utf-8")
    result = _actionlint(repo)
    assert result.returncode == 0, result.stdout + result.stderr


def test_action_metadata_is_complete() -> None:
    """What actionlint does not check on action.yml itself: the required keys, each input
    described and used, the scripts' shell, outputs taken from steps that exist, and every
    action it runs pinned to a commit."""
    action = _action()
    text = ACTION.read_text(encoding="utf-8")
    assert {"name", "description", "runs"} <= action.keys()
    runs = action["runs"]
    assert runs["using"] == "composite"
    steps = runs["steps"]
    ids = {s["id"] for s in steps if "id" in s}
    for name, spec in action["inputs"].items():
        assert spec.get("description"), name
        assert f"inputs.{name} " in text or f"inputs.{name}}}" in text, f"{name} is never used"
    used = set(re.findall(r"inputs\.([\w-]+)", text))
    assert used <= action["inputs"].keys(), used - action["inputs"].keys()
    for name, spec in action["outputs"].items():
        assert spec.get("description"), name
        match = re.fullmatch(r"\$\{\{ steps\.([\w-]+)\.outputs\.([\w-]+) \}\}", spec["value"])
        assert match and match[1] in ids, (name, spec["value"])
    for step in steps:
        assert "name" in step
        assert ("run" in step) != ("uses" in step), step["name"]
        if "run" in step:
            assert step["shell"] == "bash", step["name"]
            # Values reach scripts through env only: `${{ }}` in a script is code injection.
            assert "${{" not in step["run"], step["name"]
        else:
            assert SHA_PIN.match(step["uses"]), step["uses"]
    for line in text.splitlines():
        if "uses:" in line and "@" in line:
            assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), line


def test_action_installs_from_the_action_lock_only() -> None:
    """The install step takes netlint's dependencies from requirements/action.lock, hash-checked,
    and netlint itself from the action's checkout with nothing resolved beyond it."""
    install = next(s for s in _action()["runs"]["steps"] if s.get("id") == "install")
    script = install["run"]
    assert '--require-hashes --no-deps -r "$NETLINT_ACTION_PATH/requirements/action.lock"' in (
        script
    )
    assert '--no-deps --no-build-isolation "$NETLINT_ACTION_PATH"' in script
    lock = (REPO / "requirements" / "action.lock").read_text(encoding="utf-8")
    pins = re.findall(r"^([a-z0-9._-]+)==", lock, re.M)
    assert {"ruamel-yaml", "pygls", "setuptools"} <= set(pins)
    assert "pytest" not in pins and "mypy" not in pins  # the dev extra stays out


def _run_step(step_id: str, env: dict[str, str], cwd: Path) -> tuple[int, dict[str, str], str]:
    """Run one of the action's scripts as the runner does (``bash -e {0}`` for shell: bash),
    with the step's env as given; its exit status, its outputs and its log."""
    step = next(s for s in _action()["runs"]["steps"] if s.get("id") == step_id)
    outputs = cwd.parent / f"{step_id}-outputs"
    outputs.write_text("", encoding="utf-8")
    script = cwd.parent / f"{step_id}.sh"
    script.write_text(step["run"], encoding="utf-8")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "NETLINT"))}
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=cwd,
        env={**base, "GITHUB_OUTPUT": str(outputs), "RUNNER_TEMP": str(cwd.parent), **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    values = dict(
        line.split("=", 1) for line in outputs.read_text(encoding="utf-8").splitlines() if line
    )
    return result.returncode, values, result.stdout + result.stderr


def _check_env(netlint: str | None = None, **inputs: str) -> dict[str, str]:
    """The check step's env: the inputs given (``fail_on="error"``), the defaults for the rest."""
    netlint = netlint or shutil.which("netlint") or str(Path(sys.executable).parent / "netlint")
    env = {"NETLINT": netlint, "NETLINT_PATHS": "", "NETLINT_CONFIG": "", "NETLINT_FAIL_ON": ""}
    env["NETLINT_CATEGORY"] = "netlint"
    env.update({f"NETLINT_{k.upper()}": v for k, v in inputs.items()})
    return env


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    (root / "k8s").mkdir(parents=True)
    (root / "k8s" / "wide.yaml").write_text(POLICY, encoding="utf-8")
    (root / "other").mkdir()
    (root / "other" / "ok.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n", encoding="utf-8")
    (root / ".git").mkdir()
    return root


def test_check_step_writes_sarif_and_defers_failure(project: Path) -> None:
    status, outputs, log = _run_step(
        "check", _check_env(paths="  k8s  \n\n", category="netlint-k8s"), project
    )
    assert status == 0, log  # failure waits for the upload
    assert outputs["failed"] == "true"
    sarif = json.loads(Path(outputs["sarif-file"]).read_text(encoding="utf-8"))
    run = sarif["runs"][0]
    assert run["automationDetails"]["id"] == "netlint-k8s"
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]
    }
    assert uris == {"k8s/wide.yaml"}


def test_check_step_fail_on_never_passes(project: Path) -> None:
    status, outputs, log = _run_step("check", _check_env(fail_on="never"), project)
    assert status == 0, log
    assert outputs["failed"] == "false"
    assert Path(outputs["sarif-file"]).is_file()


def test_check_step_only_reports_the_paths_given(project: Path) -> None:
    status, outputs, log = _run_step("check", _check_env(paths="other"), project)
    assert (status, outputs["failed"]) == (0, "false"), log
    sarif = json.loads(Path(outputs["sarif-file"]).read_text(encoding="utf-8"))
    assert sarif["runs"][0]["results"] == []


def test_check_step_stops_on_a_usage_error(project: Path) -> None:
    """A bad input is netlint's exit status 2 at once, before any upload; a path that starts
    with a dash is a path (after `--`), not an option."""
    status, outputs, log = _run_step("check", _check_env(fail_on="sometimes"), project)
    assert status == 2 and "failed" not in outputs, log
    status, outputs, log = _run_step("check", _check_env(paths="--version"), project)
    assert status == 2 and "--version: no such file or directory" in log, log


def test_install_step_rejects_a_bad_upload_value(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    env = {"NETLINT_ACTION_PATH": str(REPO), "NETLINT_PYTHON": "", "NETLINT_UPLOAD": "yes"}
    status, outputs, log = _run_step("install", env, tmp_path / "work")
    assert status == 2 and not outputs
    assert "the upload input must be true or false" in log


def test_install_step_installs_netlint_from_the_lock(tmp_path: Path) -> None:
    """The real install (PyPI, about 10 s): a virtualenv with netlint from a copy of this
    work tree and its locked dependencies, nothing else; then the check step runs with it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    checkout = copy_of_work_tree(REPO, tmp_path / "action", env)
    work = tmp_path / "work"
    (work / "k8s").mkdir(parents=True)
    (work / "k8s" / "wide.yaml").write_text(POLICY, encoding="utf-8")
    step_env = {
        "NETLINT_ACTION_PATH": str(checkout),
        "NETLINT_PYTHON": sys.executable,
        "NETLINT_UPLOAD": "true",
    }
    status, outputs, log = _run_step("install", step_env, work)
    assert status == 0, log
    netlint = Path(outputs["netlint"])
    assert netlint.parent.parent.parent == tmp_path  # its own venv, under RUNNER_TEMP
    freeze = subprocess.run(
        [str(netlint.parent / "python"), "-m", "pip", "freeze", "--all"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout

    def pins(text: str, pattern: str) -> set[tuple[str, str]]:
        return {(canonicalize_name(n), v) for n, v in re.findall(pattern, text, re.M)}

    lock = (REPO / "requirements" / "action.lock").read_text(encoding="utf-8")
    locked = pins(lock, r"^([A-Za-z0-9._-]+)==(\S+)")
    # Everything but pip (the venv's own) and netlint (from the checkout) is from the lock.
    installed = {
        (n, v)
        for n, v in pins(freeze, r"^([A-Za-z0-9._-]+)==(\S+)$")
        if n not in ("netlint", "pip")
    }
    assert installed and installed <= locked, installed - locked
    status, outputs, log = _run_step("check", _check_env(str(netlint)), work)
    assert (status, outputs["failed"]) == (0, "true"), log
