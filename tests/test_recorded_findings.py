"""Findings on real and generated corpora, compared with the ones recorded in tests/golden/.

A performance change must not change a single finding; a semantic change must show every
finding it adds or removes, in review. The records hold each finding's rule, file, line,
column and message:

- ``corpus-findings.tsv``: ``../shared/corpus`` (~6,700 real files of 15 repositories), each
  repository linted as its own project, as a user of that repository would;
- ``generated-findings.tsv``: the medium corpus of ``../shared/bench/gen_corpus.py`` (seeded:
  the same 1,728 files on every machine), with its kustomize overlays and planted defects.

After an intended change, record again and review the diff of tests/golden/ like code:

    python tests/test_recorded_findings.py --update
"""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
GENERATOR = SHARED / "bench" / "gen_corpus.py"
GOLDEN = REPO / "tests" / "golden"
UPDATE_COMMAND = "python tests/test_recorded_findings.py --update"


def _lines(root: Path, prefix: str = "") -> list[str]:
    """One line per finding of ``netlint check`` of ``root`` as a project (no cache)."""
    from netlint.run.runner import CheckRequest, check

    request = CheckRequest(paths=[str(root)], root=root, use_cache=False)
    report = check(request).report
    return [
        "\t".join(
            (
                f.code,
                prefix + f.span.path,
                str(f.span.line),
                str(f.span.col),
                json.dumps(f.message, ensure_ascii=False),
            )
        )
        for f in report.findings
    ]


def corpus_lines() -> list[str]:
    lines: list[str] = []
    for repository in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        lines += _lines(repository, repository.name + "/")
    return sorted(lines)


def generated_lines(tmp: Path) -> list[str]:
    out = tmp / "medium"
    subprocess.run(
        [sys.executable, str(GENERATOR), "--preset", "medium", "--out", str(out)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return sorted(_lines(out))


def _compare(name: str, actual: list[str]) -> None:
    path = GOLDEN / name
    assert path.is_file(), f"{path.relative_to(REPO)} is missing: run {UPDATE_COMMAND}"
    expected = path.read_text(encoding="utf-8").splitlines()
    if actual == expected:
        return
    gone, new = set(expected) - set(actual), set(actual) - set(expected)
    by_rule = {
        "removed": Counter(line.split("\t", 1)[0] for line in gone),
        "added": Counter(line.split("\t", 1)[0] for line in new),
    }
    diff = difflib.unified_diff(expected, actual, lineterm="", n=0)
    shown = "\n".join(list(diff)[:60])
    pytest.fail(
        f"findings differ from {path.relative_to(REPO)} ({by_rule}); if the change is "
        f"intended, run {UPDATE_COMMAND} and review the diff:\n{shown}",
        pytrace=False,
    )


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")
def test_corpus_findings_are_the_recorded_ones() -> None:
    _compare("corpus-findings.tsv", corpus_lines())


@pytest.mark.skipif(not GENERATOR.is_file(), reason="../shared/bench is not present")
def test_generated_corpus_findings_are_the_recorded_ones(tmp_path: Path) -> None:
    _compare("generated-findings.tsv", generated_lines(tmp_path))


if __name__ == "__main__":
    import tempfile

    if sys.argv[1:] != ["--update"]:
        sys.exit(f"usage: {UPDATE_COMMAND}")
    sys.path.insert(0, str(REPO))
    (GOLDEN / "corpus-findings.tsv").write_text("\n".join(corpus_lines()) + "\n", "utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        lines = generated_lines(Path(tmp))
    (GOLDEN / "generated-findings.tsv").write_text("\n".join(lines) + "\n", "utf-8")
    print("wrote tests/golden/corpus-findings.tsv and tests/golden/generated-findings.tsv")
