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


def test_every_test_docs_robustness_md_names_exists() -> None:
    """docs/robustness.md promises, each with the test that holds it: every test it names must
    exist, so a renamed or deleted test cannot leave a promise without one."""
    import re

    doc = (REPO / "docs" / "robustness.md").read_text(encoding="utf-8")
    defined = set()
    files = set()
    for path in (REPO / "tests").rglob("test_*.py"):
        files.add(path.name)
        defined.update(re.findall(r"^\s*def (test_\w+)", path.read_text(encoding="utf-8"), re.M))
    named = set(re.findall(r"(?<![\w/.])(test_\w+)(?!\.py)\b", doc))
    missing = sorted(n for n in named if n not in defined and f"{n}.py" not in files)
    assert not missing, f"docs/robustness.md names tests that do not exist: {missing}"
    named_files = set(re.findall(r"(test_\w+\.py)", doc))
    assert not named_files - files, sorted(named_files - files)


def test_every_builtin_rule_is_on_contract_v2() -> None:
    """Every built-in rule says why and how to fix in sections of their own, declares its
    options as a dataclass, and keeps its messages apart from the fix (contract v2)."""
    from netlint.run.registry import load_catalogue

    for rule in load_catalogue().rules:
        meta = rule.meta
        if not meta.code.startswith("NL"):
            continue
        assert not meta.contract_v1, f"{meta.code} still uses contract v1"
        assert meta.why.strip() and meta.fix.strip(), f"{meta.code} lacks `why` or `fix`"
        assert meta.summary.strip() and meta.added_in, meta.code
