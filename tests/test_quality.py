"""The code quality gates are tests too: mypy (strict) on netlint/, ruff lint and format, and the
import contracts between netlint's layers."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, check=False
    )


def test_mypy_strict() -> None:
    out = _run("mypy")
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_lint() -> None:
    out = _run("ruff", "check", "netlint", "tests", "tools", "bench")
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format() -> None:
    out = _run("ruff", "format", "--check", "netlint", "tests", "tools", "bench")
    assert out.returncode == 0, out.stdout + out.stderr


def test_layers_and_rule_contracts() -> None:
    """pyproject.toml's import-linter contracts: the layers follow the data flow, rules import
    only netlint.api, and nothing in netlint.output reaches a rule module."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(no_cache=True, no_logo=True))",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout
