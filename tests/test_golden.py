"""Golden files: ``netlint check examples/`` in every output format, compared byte for byte with
tests/golden/examples.<format>. A reporter change, a message change or a new finding in
examples/ shows here as a unified diff.

Only what varies by machine is normalised: the absolute path of the repository (the JSON
report's ``root``) and netlint's version (the JSON report's and SARIF driver's ``version``).

Regenerate after an intended change, then review the diff of tests/golden/ like code:

    python tests/test_golden.py --update
"""

from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "golden"
#: Output format -> golden file suffix.
FORMATS = {"text": "txt", "json": "json", "github": "github", "sarif": "sarif"}
UPDATE_COMMAND = "python tests/test_golden.py --update"


def render(fmt: str) -> str:
    """``netlint check --format FMT examples`` run from the repository's top, as README shows
    it, normalised. ``--no-cache``: a golden is about rendering, and a cache must not be
    shared with another run of the suite."""
    env = {**os.environ, "NO_COLOR": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "netlint", "check", "--no-cache", "--format", fmt, "examples"],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    # examples/ is wrong on purpose: exit 1 means findings, anything else a broken run.
    assert out.returncode == 1, out.stderr.decode("utf-8", errors="replace")
    return normalise(out.stdout.decode("utf-8"))


def normalise(text: str) -> str:
    from netlint import __version__

    # The repository's path as it appears inside a JSON string, then anywhere else.
    for path in (json.dumps(str(REPO))[1:-1], str(REPO)):
        text = text.replace(path, "<repo>")
    version = re.escape(json.dumps(__version__))
    return re.sub(rf'("(?:semanticVersion|version)": ){version}', r'\1"<version>"', text)


def golden_path(fmt: str) -> Path:
    return GOLDEN / f"examples.{FORMATS[fmt]}"


def update() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for fmt in FORMATS:
        golden_path(fmt).write_bytes(render(fmt).encode("utf-8"))
        print(f"wrote {golden_path(fmt).relative_to(REPO)}")


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_examples_render_as_the_golden_file(fmt: str) -> None:
    path = golden_path(fmt)
    actual = render(fmt)
    assert path.is_file(), f"{path.relative_to(REPO)} is missing: run {UPDATE_COMMAND}"
    expected = path.read_bytes().decode("utf-8")
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=f"{path.relative_to(REPO)} (golden)",
            tofile=f"netlint check --format {fmt} examples (now)",
        )
        pytest.fail(
            f"the {fmt} output differs from its golden file; if the change is intended, run "
            f"{UPDATE_COMMAND} and review the diff of tests/golden/:\n" + "".join(diff),
            pytrace=False,
        )


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(f"usage: {UPDATE_COMMAND}")
    update()
