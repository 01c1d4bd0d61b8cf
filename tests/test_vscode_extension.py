"""The VS Code extension's unit tests (editors/vscode/src/test/, node's test runner), run from
the Python suite when node and the extension's installed dependencies are there (.ci/run runs
``npm ci`` first; a developer runs it once in editors/vscode/).

The extension is compiled into tmp_path, not into editors/vscode/out/, so concurrent runs of
the suite never share its output. VS Code itself is not run (it cannot be downloaded here):
those tests check the client logic and its wiring against a fake ``vscode`` module.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO

from netlint.integrations.lsp.server import DEBOUNCE_SECONDS

EXTENSION = REPO / "editors" / "vscode"
NODE = shutil.which("node")
TSC = EXTENSION / "node_modules" / "typescript" / "bin" / "tsc"
TIMEOUT = 600

needs_node = pytest.mark.skipif(
    NODE is None or not TSC.is_file(),
    reason="node or editors/vscode/node_modules is missing (run `npm ci` in editors/vscode)",
)


def _manifest() -> dict[str, object]:
    data = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_extension_default_debounce_is_the_servers() -> None:
    contributes = _manifest()["contributes"]
    assert isinstance(contributes, dict)
    setting = contributes["configuration"]["properties"]["netlint.debounceMs"]
    assert setting["default"] == round(DEBOUNCE_SECONDS * 1000)


def test_the_lock_pins_every_package_with_its_hash() -> None:
    lock = json.loads((EXTENSION / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["lockfileVersion"] == 3
    packages = {name: entry for name, entry in lock["packages"].items() if name}
    assert packages
    unpinned = [name for name, entry in packages.items() if not entry.get("integrity")]
    assert unpinned == []
    root = lock["packages"][""]
    manifest = _manifest()
    assert root["dependencies"] == manifest["dependencies"]
    assert root["devDependencies"] == manifest["devDependencies"]


@needs_node
def test_the_extensions_node_tests_pass(tmp_path: Path) -> None:
    assert NODE is not None
    out = tmp_path / "out"
    compiled = subprocess.run(
        [NODE, str(TSC), "-p", str(EXTENSION), "--outDir", str(out)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    tests = sorted(str(p) for p in (out / "test").glob("*.test.js"))
    assert tests, "no compiled tests"
    ran = subprocess.run(
        [NODE, "--test", *tests],
        cwd=tmp_path,
        env={**os.environ, "NETLINT_VSCODE_ROOT": str(EXTENSION)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    report = ran.stdout + ran.stderr
    assert ran.returncode == 0, report
    counts = dict(re.findall(r"^# (pass|fail) (\d+)$", ran.stdout, re.M))
    assert counts.get("fail") == "0", report
    assert int(counts.get("pass", "0")) > 0, report
