"""The example plugin (examples/plugin/) installs as a plugin author would install it, and netlint
then runs and explains its rule.

It goes into a virtual environment of its own (tmp_path), never into the suite's: ``--without
-pip --system-site-packages`` plus a ``.pth`` that adds this interpreter's site-packages gives
it netlint, pip and setuptools from the locked environment, so the editable install is offline
(``--no-deps --no-build-isolation``). The plugin is copied first: setuptools writes its build
metadata next to the sources, and the checkout must stay untouched (another run of the suite
may be installing it at the same time).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import REPO
from helpers import line_of

from netlint.testing import expected_markers

PLUGIN = REPO / "examples" / "plugin"


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**_session_env(), "NO_COLOR": "1", "PIP_NO_INDEX": "1"},
    )


def _session_env() -> dict[str, str]:
    # A venv's interpreter must not be steered back to the suite's venv by these.
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the example plugin installed editable; returns its bin directory."""
    base = tmp_path_factory.mktemp("example-plugin")
    source = base / "plugin"
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    env = base / "venv"
    made = _run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(env)], base
    )
    assert made.returncode == 0, made.stderr
    bindir = env / "bin"
    python = bindir / "python"
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], base)
    assert site.returncode == 0, site.stderr
    # addsitedir, not a bare path: it also runs the .pth files there (netlint's own editable
    # install is one).
    ours = sysconfig.get_path("purelib")
    Path(site.stdout.strip(), "suite-site.pth").write_text(
        f"import site; site.addsitedir({ours!r})\n", encoding="utf-8"
    )
    installed = _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-e",
            str(source),
        ],
        base,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return bindir


def test_the_plugin_rule_runs_on_its_fixture(venv: Path, tmp_path: Path) -> None:
    fixture = PLUGIN / "tests" / "fixtures" / "bad.yaml"
    project = tmp_path / "repo"
    project.mkdir()
    shutil.copy(fixture, project / "policy.yaml")
    out = _run(
        [
            str(venv / "python"),
            "-m",
            "netlint",
            "check",
            "--no-cache",
            "--format",
            "json",
            "--select",
            "EX101",
            ".",
        ],
        project,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    findings = json.loads(out.stdout)["findings"]
    expected = {(m.line, m.column, m.code) for m in expected_markers(fixture)}
    assert {(f["line"], f["column"], f["code"]) for f in findings} == expected
    assert expected == {(line_of(fixture, "expect: EX101"), 9, "EX101")}
    assert "not loaded" not in out.stderr and "failed to load" not in out.stderr


def test_netlint_rules_explains_the_plugin_rule(venv: Path, tmp_path: Path) -> None:
    out = _run([str(venv / "python"), "-m", "netlint", "rules", "EX101"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "EX101 owner-label" in out.stdout
    assert 'label (default "team")' in out.stdout
    assert "kubectl get networkpolicy -L team" in out.stdout


def test_the_plugin_tests_pass_with_netlint_testing(venv: Path) -> None:
    """The plugin's own tests, as its author runs them: pytest and netlint.testing."""
    out = _run(
        [str(venv / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        venv.parent.parent / "plugin",
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 passed" in out.stdout
