#!/usr/bin/env python3
"""Recall on the defects ../shared/bench/gen_corpus.py plants (``PLANTED.json``).

    python bench/recall.py                       # presets small and medium, seed 1
    python bench/recall.py --against /tmp/before # and the netlint of another checkout

Each planted defect names the rule that should report it, its file and its object; it counts as
found when netlint reports that rule in that file about that object (the finding's subject
``Kind/namespace/name``), wherever on the object's lines it points (rules anchor at the node
they are about, which may differ from the generator's choice). A missing DNS egress is planted
on the workload and reported on the policy that isolates it: it counts when NL103 reports one of
the policies the planted record names. Exit status 0 always.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from review import lint

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
GENERATOR = REPO.parent / "shared" / "bench" / "gen_corpus.py"
CODES = {
    "unselected_workload": "NL101",
    "policy_selects_nothing": "NL102",
    "peer_selects_nothing": "NL102",
    "missing_dns_egress": "NL103",
    "broad_cidr": "NL104",
    "duplicate_rule": "NL105",
    "shadowed_rule": "NL105",
    "unknown_named_port": "NL204",
}


def findings(checkout: Path, root: Path) -> tuple[set[tuple[str, str, str]], set[str]]:
    """(rule, file, object name) of every finding, and the subjects of the NL103 ones."""
    out = set()
    dns: set[str] = set()
    for f in lint(root, checkout):
        subject = str(f.get("subject") or "")
        out.add((str(f["code"]), str(f["path"]), subject.rpartition("/")[2]))
        if f["code"] == "NL103":
            dns.add(subject)
    return out, dns


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["small", "medium"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "netlint-recall")
    parser.add_argument("--against", type=Path, help="another checkout to score the same way")
    args = parser.parse_args()
    checkouts = [("this", REPO)] + ([("against", args.against)] if args.against else [])
    for preset in args.presets:
        root = args.work / f"{preset}-{args.seed}"
        if not (root / "PLANTED.json").is_file():
            subprocess.run(
                [sys.executable, str(GENERATOR), "--preset", preset, "--seed", str(args.seed),
                 "--out", str(root)],
                check=True, capture_output=True,
            )  # fmt: skip
        planted = json.loads((root / "PLANTED.json").read_text())["defects"]
        for label, checkout in checkouts:
            got, dns = findings(checkout, root)
            total: Counter[str] = Counter()
            hit: Counter[str] = Counter()
            for defect in planted:
                code = CODES.get(defect["kind"])
                if code is None:
                    continue
                total[defect["kind"]] += 1
                if code == "NL103":
                    # NL103 reports the policy that isolates the pods (the message names the
                    # first three of them); the planted record names those policies.
                    ns = defect["namespace"]
                    found = any(
                        f"NetworkPolicy/{ns}/{name}" in dns
                        for name in defect["detail"].get("policies", ())
                    )
                else:
                    found = (code, defect["file"], defect["object_name"]) in got
                if found:
                    hit[defect["kind"]] += 1
            shown = ", ".join(f"{k} {hit[k]}/{total[k]}" for k in sorted(total))
            print(f"{preset} ({label}): {sum(hit.values())}/{sum(total.values())}: {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
