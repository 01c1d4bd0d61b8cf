"""Every rules/<CODE>-<name>/ fixture, checked against its ``# expect:`` markers: the exact set
of findings, by file, line and code, and by column and message text where a marker states them
(the grammar is netlint.testing's, documented in CONTRIBUTING.md).

Each YAML file directly in a rule's folder is linted on its own; each subfolder is linted as one
project (policies, workloads and namespaces in separate files). Only the folder's rule runs, plus
the input rules NL001/NL002 and NL900 (a crash is always a failure); a ``.netlint.yaml`` in the
folder or subfolder may configure more.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO

from netlint.testing import CONFIG_NAME, MANIFEST_SUFFIXES, assert_markers, expected_markers

RULE_DIRS = sorted(p for p in (REPO / "rules").iterdir() if p.is_dir())


def _cases() -> list[tuple[Path, Path]]:
    cases = []
    for folder in RULE_DIRS:
        for item in sorted(folder.iterdir()):
            manifest = item.suffix in MANIFEST_SUFFIXES and item.name != CONFIG_NAME
            if item.is_dir() or manifest:
                cases.append((folder, item))
    return cases


@pytest.mark.parametrize(
    ("folder", "case"), _cases(), ids=lambda p: p.name if isinstance(p, Path) else str(p)
)
def test_fixture(folder: Path, case: Path) -> None:
    code = folder.name.split("-", 1)[0]
    project = case if case.is_dir() else folder
    configured = (project / CONFIG_NAME).is_file()
    assert_markers(case, None if configured else [code])


def test_every_rule_has_bad_and_good_examples() -> None:
    from netlint.run.registry import load_catalogue

    for rule in load_catalogue().rules:
        if rule.meta.code == "NL900":
            continue  # reported by the engine when a rule crashes: no manifest triggers it
        folder = REPO / "rules" / f"{rule.meta.code}-{rule.meta.name}"
        assert (folder / "bad.yaml").is_file(), f"{folder}/bad.yaml is missing"
        assert (folder / "good.yaml").is_file(), f"{folder}/good.yaml is missing"
        assert expected_markers(folder / "bad.yaml"), f"{folder}/bad.yaml has no marker"
        assert not expected_markers(folder / "good.yaml"), f"{folder}/good.yaml has markers"
