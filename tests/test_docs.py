"""docs/rules/ is generated from the rules' metadata and examples: it must be current."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_rule_docs_are_current() -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "tools" / "gen_rule_docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
