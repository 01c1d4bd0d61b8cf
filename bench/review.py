#!/usr/bin/env python3
"""Score netlint against the hand-reviewed findings of ../shared/oracles/review/.

    python bench/review.py                 # this checkout's netlint
    python bench/review.py --tally         # also: findings per rule over the whole corpus

Each corpus folder of the sample is linted as a repository of its own (as the review was made),
with the CLI of this checkout and no cache. A reviewed finding is *kept* when the same file still
gets a finding of the same rule on the same line. The review's rule: a true positive must be kept,
a false positive must be gone, a debatable one counts as resolved only when it is gone (a reworded
message is not a better answer; ``--details`` prints old and new messages of the debatable ones).
Prints a table per rule; exit status 0 always (this measures, it does not gate).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = REPO.parent / "shared"
VERDICTS = SHARED / "oracles" / "review" / "corpus-sample-verdicts.tsv"
CORPUS = SHARED / "corpus"


def lint(folder: Path, checkout: Path = REPO) -> list[dict[str, object]]:
    """The JSON findings of the netlint in ``checkout`` for one folder, linted as its own
    project (bench/recall.py uses it too)."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    run = subprocess.run(
        [sys.executable, "-m", "netlint", "check", "--no-cache", "--format", "json", "."],
        capture_output=True, text=True, env=env, check=False, cwd=folder,
    )  # fmt: skip
    if run.returncode not in (0, 1):
        raise SystemExit(f"netlint failed on {folder}: {run.stderr[-2000:]}")
    data = json.loads(run.stdout)
    return list(data["findings"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tally", action="store_true", help="findings per rule on the corpus")
    parser.add_argument("--details", action="store_true", help="the debatable findings now")
    args = parser.parse_args()
    rows = list(csv.DictReader(VERDICTS.open(), delimiter="\t"))
    found: dict[str, dict[tuple[str, int, str], str]] = {}
    for folder in sorted({r["corpus_folder"] for r in rows}):
        seen: dict[tuple[str, int, str], str] = {}
        for f in lint(CORPUS / folder):
            path = str(f["path"])
            seen[(path, int(f["line"]), str(f["code"]))] = str(f["message"])
        found[folder] = seen
    table: dict[str, Counter[str]] = defaultdict(Counter)
    wrong: list[str] = []
    details: list[str] = []
    for r in rows:
        key = (r["path"], int(r["line"]), r["code"])
        message = found[r["corpus_folder"]].get(key)
        verdict = r["verdict"]
        if verdict == "TP":
            outcome = "TP kept" if message is not None else "TP lost"
        elif verdict == "FP":
            outcome = "FP gone" if message is None else "FP left"
        else:
            outcome = "DEB gone" if message is None else "DEB left"
            if args.details:
                details.append(f"{r['sample_id']} ({r['cause']}): {message or 'gone'}")
        table[r["code"]][outcome] += 1
        if outcome in ("TP lost", "FP left", "DEB left"):
            wrong.append(
                f"{outcome}: {r['sample_id']} {r['corpus_folder']}/{r['path']}:{r['line']}"
            )
    columns = ["TP kept", "TP lost", "FP gone", "FP left", "DEB gone", "DEB left"]
    print("| rule | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    total: Counter[str] = Counter()
    for code in sorted(table):
        total.update(table[code])
        print(f"| {code} | " + " | ".join(str(table[code][c]) for c in columns) + " |")
    print("| all | " + " | ".join(str(total[c]) for c in columns) + " |")
    for line in (*wrong, *details):
        print(line)
    if args.tally:
        counts: Counter[str] = Counter()
        for f in lint(CORPUS):
            counts[str(f["code"])] += 1
        print("\nfindings per rule on ../shared/corpus (linted as one project):")
        for code, count in sorted(counts.items()):
            print(f"  {code} {count}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
