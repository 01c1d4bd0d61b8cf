"""This repository's own files, so they cannot rot: the licence, the changelog, README's install
against .ci/run, the locks against pyproject.toml, and the pre-commit config, run for real by
pre-commit in a copy of the work tree (the checkout itself is never touched)."""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from helpers import copy_of_work_tree, git, pre_commit
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

#: SHA-256 of the Apache License 2.0 as the ASF publishes it (LICENSE-2.0.txt).
APACHE_2_0_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)", re.M)
HOOKS = ("ruff", "ruff-format", "mypy", "netlint-examples")


def _pyproject() -> dict[str, Any]:
    with (REPO / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def test_license_is_the_apache_license_pyproject_declares() -> None:
    assert _pyproject()["project"]["license"] == "Apache-2.0"
    text = (REPO / "LICENSE").read_bytes()
    assert hashlib.sha256(text).hexdigest() == APACHE_2_0_SHA256, "LICENSE is not verbatim"


def test_changelog_has_unreleased_and_the_current_version() -> None:
    version = _pyproject()["project"]["version"]
    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## \[([^\]]+)\](.*)$", text, re.M)
    assert headings[0] == ("Unreleased", ""), headings
    dated = {name: rest for name, rest in headings[1:]}
    assert re.fullmatch(r" - \d{4}-\d{2}-\d{2}", dated.get(version, "")), (version, headings)
    for name, _ in headings:  # Keep a Changelog: each heading links to its diff or tag
        assert re.search(rf"^\[{re.escape(name)}\]: \S+$", text, re.M), name


def _commands(text: str) -> list[str]:
    """Shell commands of a script or code block, one per `&&`-separated part, without `--quiet`
    (CI's only addition) and without `|| status=$?` tails."""
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0] if line.lstrip().startswith("#") else line
        for part in line.split("&&"):
            part = part.split(" || ", 1)[0].replace(" --quiet", "").strip()
            if part:
                out.append(part)
    return out


def test_readme_install_is_what_ci_runs() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```sh\n(.*?)^```", readme, re.M | re.S)
    install, test = _commands(blocks[0]), _commands(blocks[1])
    assert install[-1] == "netlint check examples/", install
    assert any("requirements/dev.lock" in c and "--require-hashes" in c for c in install)
    assert test == [". .venv/bin/activate", "python -m pytest"], test
    ci = _commands((REPO / ".ci" / "run").read_text(encoding="utf-8"))
    start = ci.index(install[0])
    assert ci[start : start + len(install) - 1] == install[:-1], ci
    assert test[1] in ci[start + len(install) - 1 :], ci


def _locked(name: str) -> dict[str, Version]:
    text = (REPO / "requirements" / name).read_text(encoding="utf-8")
    return {canonicalize_name(m["name"]): Version(m["version"]) for m in PIN.finditer(text)}


def _direct_requirements() -> list[Requirement]:
    data = _pyproject()
    listed = (
        data["project"]["dependencies"]
        + data["project"]["optional-dependencies"]["dev"]
        + data["build-system"]["requires"]
    )
    return [Requirement(r) for r in listed]


def test_dev_lock_pins_every_requirement_within_its_range() -> None:
    locked = _locked("dev.lock")
    for req in _direct_requirements():
        pin = locked.get(canonicalize_name(req.name))
        assert pin is not None, f"{req.name} is not in requirements/dev.lock: tools/update-lock.sh"
        assert req.specifier.contains(pin, prereleases=True), (str(req), pin)


def test_lowest_lock_pins_every_requirement_at_its_lower_bound() -> None:
    locked = _locked("lowest.lock")
    for req in _direct_requirements():
        pin = locked.get(canonicalize_name(req.name))
        assert pin is not None, f"{req.name} is not in requirements/lowest.lock"
        (bound,) = [Version(s.version) for s in req.specifier if s.operator == ">="]
        # `>=77` is met by 77.0.1 when 77.0.0 was yanked: the bound's own release series.
        assert pin.release[: len(bound.release)] == bound.release, (str(req), pin)


def _env() -> dict[str, str]:
    """The session's environment (conftest gives it private caches) without the git variables
    of a hook that may be running this suite, and with this venv's tools first on PATH: the
    hooks are `language: system`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(NO_COLOR="1", GIT_CONFIG_NOSYSTEM="1")
    return env


def test_pre_commit_config_passes_on_the_work_tree(tmp_path: Path) -> None:
    env = _env()
    repo = copy_of_work_tree(REPO, tmp_path / "repo", env)
    status, output = pre_commit("run", "--all-files", "--show-diff-on-failure", cwd=repo, env=env)
    assert status == 0, output
    config = (repo / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    assert re.findall(r"^      - id: (\S+)$", config, re.M) == list(HOOKS), config
    passed = re.findall(r"^(.+?)\.{3,}Passed$", output, re.M)
    assert len(passed) == len(HOOKS), output  # every hook ran: none was skipped for no files


NEW_FINDING = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: shop-wide-egress
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to:
        - ipBlock:
            cidr: 0.0.0.0/0
"""


def test_netlint_hook_fails_only_on_findings_the_baseline_lacks(tmp_path: Path) -> None:
    env = _env()
    only = ("examples/", ".pre-commit-config.yaml", ".netlint-baseline.json")
    repo = copy_of_work_tree(REPO, tmp_path / "repo", env, only)
    recorded = sorted(str(p.relative_to(repo)) for p in (repo / "examples").rglob("*.yaml"))
    status, output = pre_commit("run", "netlint-examples", "--files", *recorded, cwd=repo, env=env)
    assert status == 0, output
    (repo / "examples" / "policies" / "wide.yaml").write_text(NEW_FINDING)
    git("add", "-A", cwd=repo, env=env)
    status, output = pre_commit(
        "run", "netlint-examples", "--files", "examples/policies/wide.yaml", cwd=repo, env=env
    )
    assert status == 1, output
    assert re.search(r"^examples/policies/wide\.yaml:12:19: NL104 warning: ", output, re.M), output


@pytest.mark.parametrize("lock", ["dev.lock", "lowest.lock"])
def test_locks_have_a_hash_for_every_pin(lock: str) -> None:
    text = (REPO / "requirements" / lock).read_text(encoding="utf-8")
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    pinned = [e for e in entries if PIN.match(e)]
    assert pinned and all("--hash=sha256:" in e for e in pinned), lock
