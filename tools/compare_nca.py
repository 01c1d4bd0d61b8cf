"""Compare netlint's NL105 shadowed-rule with network-config-analyzer's redundancy query.

network-config-analyzer ("NCA", https://github.com/np-guard/network-config-analyzer) is the
reference oracle of DESIGN §3. Its notion is topology-relative: a rule (or a whole policy) is
redundant when removing it alone leaves the connectivity between the pods and namespaces of its
input lists unchanged. NL105 is symbolic: a rule is shadowed when the rules kept allow all its
connections for every pod its policy can select, listed or not. This script runs both on NCA's
own fixtures and prints the agreement, rule by rule, with the reason of every difference that
it can tell from the inputs.

NCA pins old dependencies: install it in its own virtualenv first,

    python3 -m venv /tmp/nca-venv && /tmp/nca-venv/bin/pip install network-config-analyzer

then run (with netlint's interpreter):

    /work/venv/bin/python tools/compare_nca.py [--nca /tmp/nca-venv/bin/nca] [--markdown]

Not part of the test suite: it needs NCA and takes a while.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from netlint.analysis.algebra import Namespaces, Traffic, mentioned_names, rule_traffic
from netlint.analysis.index import Index
from netlint.core.model import Direction, NetworkPolicy
from netlint.read.build import BuildOptions
from netlint.read.load import FileResult, load
from netlint.read.parse import Limits

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus" / "np-guard__network-config-analyzer"
CASES = Path("tests/k8s_testcases/example_policies")

#: Schemes whose configs feed NCA's sanity/redundancy queries. Every config of plain k8s
#: NetworkPolicy files with a local namespace and pod list is compared.
SCHEMES = (
    "demo/sanity/sanity-scheme.yaml",
    "testcase9-sanity/testcase9-sanity-scheme.yaml",
    "typoNotInTests/typoNotInTests-scheme.yaml",
    "emptinessTests/emptinessTests-scheme.yaml",
    "andOrCombinations/andOrCombinations-scheme.yaml",
    "withIpBlock/withIpBlock-scheme.yaml",
    "withIpBlock2/withIpBlock2-scheme.yaml",
    "withEndPort/withEndPort-scheme.yaml",
    "testcase1/testcase1-scheme.yaml",
    "testcase2/testcase2-scheme.yaml",
    "testcase3/testcase3-scheme.yaml",
    "testcase4/testcase4-scheme.yaml",
    "testcase5/testcase5-scheme.yaml",
    "testcase6/testcase6-scheme.yaml",
    "testcase7/testcase7-scheme.yaml",
    "testcase8/testcase8-scheme.yaml",
    "testcase10-nameSpace-podSelector/testcase10-scheme.yaml",
)
#: Kinds NCA reads into other layers than k8s NetworkPolicy: configs with them are skipped.
_OTHER_POLICIES = re.compile(
    r"projectcalico\.org|security\.istio\.io"
    r"|kind:\s*\"?(?:Ingress|Gateway|HTTPRoute|AdminNetworkPolicy|BaselineAdminNetworkPolicy)\b"
)

NETLINT = (sys.executable, "-m", "netlint", "check", "--no-cache", "--format", "json")
RuleKey = tuple[str, str, int]  # ("namespace/name", "ingress"|"egress", 1-based index)


@dataclass
class Config:
    scheme: str
    name: str
    policies: list[Path]
    namespaces: Path | None
    pods: Path | None

    @property
    def label(self) -> str:
        return f"{Path(self.scheme).parent.as_posix()}:{self.name}"


@dataclass
class Result:
    config: Config
    rules: int = 0
    policies: int = 0
    nca: set[RuleKey] = field(default_factory=set)
    nca_policies: set[str] = field(default_factory=set)
    netlint: dict[RuleKey, list[RuleKey]] = field(default_factory=dict)
    reasons: dict[RuleKey, str] = field(default_factory=dict)
    nca_seconds: float = 0.0
    netlint_seconds: float = 0.0
    error: str | None = None


# -- inputs ------------------------------------------------------------------------------------


def configs(corpus: Path) -> Iterable[Config | tuple[str, str, str]]:
    """The comparable configs of every scheme, or (scheme, config, why skipped)."""
    yaml = YAML(typ="safe")
    for rel in SCHEMES:
        scheme = corpus / CASES / rel
        data = yaml.load(scheme.read_text())
        base = scheme.parent
        for entry in data.get("networkConfigList", []):
            name = str(entry.get("name"))
            files = entry.get("networkPolicyList") or []
            if not files:
                yield rel, name, "no networkPolicyList (resource list or live cluster)"
                continue
            if any("://" in str(f) or str(f).startswith(("k8s", "calico", "istio")) for f in files):
                yield rel, name, "policies from a URL or a live cluster"
                continue
            paths: list[Path] = []
            for item in files:
                path = (base / str(item)).resolve()
                paths.extend(sorted(path.rglob("*.y*ml")) if path.is_dir() else [path])
            missing = [p for p in paths if not p.is_file()]
            if missing or not paths:
                yield rel, name, f"missing input {missing[0] if missing else files}"
                continue
            if any(_OTHER_POLICIES.search(p.read_text(errors="replace")) for p in paths):
                yield rel, name, "Calico/Istio/ingress resources (other NCA layers)"
                continue
            ns = entry.get("namespaceList", data.get("namespaceList"))
            pods = entry.get("podList", data.get("podList"))
            yield Config(
                rel,
                name,
                paths,
                (base / str(ns)).resolve() if ns else None,
                (base / str(pods)).resolve() if pods else None,
            )


def _stage(config: Config, work: Path) -> list[Path]:
    """Copy a config's inputs into ``work`` (both tools read the same bytes)."""
    staged: list[Path] = []
    for i, path in enumerate(config.policies):
        target = work / "policies" / f"{i:02d}-{path.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        staged.append(target)
    for kind, listed in (("namespaces", config.namespaces), ("pods", config.pods)):
        if listed is not None and listed.is_file():
            target = work / "topology" / f"{kind}{listed.suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(listed, target)
    return staged


# -- NCA ---------------------------------------------------------------------------------------

_POLICY_LINE = re.compile(r"NetworkPolicy (\S+), (ingress|egress) rules indexes: ([\d, ]+)")


def run_nca(nca: str, config: Config, work: Path, staged: Sequence[Path], timeout: float) -> Result:
    result = Result(config)
    out = work / "nca-out.txt"
    scheme: dict[str, Any] = {
        "networkConfigList": [
            {"name": "cfg", "networkPolicyList": [str(p) for p in staged]},
        ],
        "queries": [
            {
                "name": "redundancy",
                "redundancy": ["cfg"],
                # NCA 2.1.0 crashes writing policy-level redundancy as JSON: parse its text.
                "outputConfiguration": {"outputFormat": "txt", "outputPath": str(out)},
            }
        ],
    }
    topology = work / "topology"
    for key, stem in (("namespaceList", "namespaces"), ("podList", "pods")):
        found = sorted(topology.glob(f"{stem}.*")) if topology.is_dir() else []
        if found:
            scheme[key] = str(found[0])
    scheme_path = work / "scheme.yaml"
    scheme_path.write_text(json.dumps(scheme))  # JSON is YAML
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [nca, "--scheme", str(scheme_path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=work,
        )
    except subprocess.TimeoutExpired:
        result.error = f"NCA timed out after {timeout:.0f} s"
        return result
    result.nca_seconds = time.perf_counter() - start
    if not out.is_file():
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        result.error = f"NCA failed: {lines[-1] if lines else proc.returncode}"
        return result
    text = out.read_text()
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Policies that are redundant") and i + 1 < len(lines):
            result.nca_policies |= {p.strip() for p in lines[i + 1].split(",") if p.strip()}
        match = _POLICY_LINE.search(line)
        if match:
            for number in match.group(3).split(","):
                result.nca.add((match.group(1), match.group(2), int(number)))
    return result


# -- netlint -----------------------------------------------------------------------------------


def _index(work: Path) -> Index:
    files: list[FileResult] = []
    for path in sorted(work.rglob("*")):
        if path.suffix in (".yaml", ".yml", ".json") and path.name != "scheme.yaml":
            rel = path.relative_to(work).as_posix()
            files.append(load(rel, path.read_bytes(), BuildOptions(), Limits()))
    return Index(files)


def _key(policy: NetworkPolicy, direction: Direction, index: int) -> RuleKey:
    return (f"{policy.namespace}/{policy.name}", direction.rules_key, index + 1)


def run_netlint(result: Result, work: Path) -> Index:
    start = time.perf_counter()
    proc = subprocess.run(
        [*NETLINT, "--select", "NL105", "--fail-on", "never", "."],
        capture_output=True,
        text=True,
        cwd=work,
    )
    result.netlint_seconds = time.perf_counter() - start
    index = _index(work)
    where: dict[tuple[str, int], RuleKey] = {}
    for policy in index.policies:
        result.policies += 1
        for direction in Direction:
            for rule in policy.rules(direction):
                result.rules += 1
                where[(rule.span.path, rule.span.line)] = _key(policy, direction, rule.index)
    for finding in json.loads(proc.stdout)["findings"]:
        key = where.get((finding["path"], finding["line"]))
        if key is not None:
            result.netlint[key] = [
                where[(r["path"], r["line"])]
                for r in finding["related"]
                if (r["path"], r["line"]) in where
            ]
    return index


# -- differences -------------------------------------------------------------------------------


def _expand_policies(result: Result, index: Index) -> None:
    """A policy NCA finds redundant as a whole: each of its rules is redundant too."""
    for policy in index.policies:
        if f"{policy.namespace}/{policy.name}" in result.nca_policies:
            for direction in Direction:
                for rule in policy.rules(direction):
                    result.nca.add(_key(policy, direction, rule.index))


def _covered_by_all_others(
    index: Index, policy: NetworkPolicy, key: RuleKey, *, invalid: bool = False
) -> bool:
    """NCA's notion, made symbolic: is the rule covered by every other rule (reported ones
    included) that Kubernetes enforces for its pods (``invalid``: or that NCA accepts)?"""
    direction = Direction.INGRESS if key[1] == "ingress" else Direction.EGRESS
    target: Traffic | None = None
    others = Traffic()
    for other in index.policies_in(policy.namespace):
        if (not other.valid and not invalid) or direction not in other.policy_types:
            continue
        if other is not policy and other.name == policy.name:
            continue
        for rule in other.rules(direction):
            traffic = rule_traffic(other, rule)
            if other is policy and rule.index == key[2] - 1:
                target = traffic
            else:
                others = others.union(traffic)
    if target is None:
        return False
    facts = Namespaces({n: ns.labels for n, ns in index.namespace_objects.items()})
    restricted = facts.restrict(target, mentioned_names(target, others))
    return not restricted.is_empty() and restricted.subtract(others).is_empty()


def classify(result: Result, index: Index) -> None:
    rules = {
        _key(p, d, r.index): (p, d, r)
        for p in index.policies
        for d in Direction
        for r in p.rules(d)
    }
    named = {cover for covers in result.netlint.values() for cover in covers}
    for key in sorted(result.nca - set(result.netlint)):
        policy, direction, rule = rules[key]
        if direction not in policy.policy_types:
            why = "NCA-only: rule in a direction policyTypes leaves out (Kubernetes ignores it)"
        elif not policy.valid:
            why = "NCA-only: policy invalid for the API server (NL002); NL105 skips it"
        elif key in named and _covered_by_all_others(index, policy, key):
            why = (
                "NCA-only: rules that cover each other; NCA reports each (either alone can go), "
                "netlint keeps the first and reports the later"
            )
        elif _covered_by_all_others(index, policy, key, invalid=True):
            why = (
                "NCA-only: covered only with the rules of a policy the API server rejects "
                "(NL002), which NCA accepts"
            )
        elif not index.selected_workloads(policy):
            why = (
                "NCA-only: the policy selects no listed pod (topology-relative); "
                "NL102/NL101 territory"
            )
        elif rule.peers and all(
            p.ip_block is None and not index.peer_workloads(policy, p).workloads for p in rule.peers
        ):
            why = "NCA-only: its peers select no listed pod (topology-relative); NL102 territory"
        else:
            why = (
                "NCA-only: covered only for the listed pods and namespaces (a label "
                "combination the topology happens to lack)"
            )
        result.reasons[key] = why
    for key in sorted(set(result.netlint) - result.nca):
        policy, _, _ = rules[key]
        covers = result.netlint[key]
        if any(c in result.nca for c in covers):
            why = (
                "netlint-only: covered by a rule NCA reports as redundant itself; removing "
                "either alone keeps connectivity, so NCA should list this too (see notes)"
            )
        else:
            why = "netlint-only: see notes"
        result.reasons[key] = why


# -- report ------------------------------------------------------------------------------------


def _fmt(key: RuleKey) -> str:
    return f"{key[0]} {key[1]}[{key[2] - 1}]"


def report(
    results: Sequence[Result], skipped: Sequence[tuple[str, str, str]], markdown: bool
) -> str:
    out: list[str] = []
    head = (
        "| fixture (scheme:config) | policies | rules | NCA | netlint | both | NCA only "
        "| netlint only | NCA s | netlint s |"
    )
    out += [head, "|" + "---|" * 10]
    totals: Counter[str] = Counter()
    for r in results:
        if r.error:
            out.append(f"| {r.config.label} | {r.policies} | {r.rules} | {r.error} | | | | | | |")
            continue
        both = r.nca & set(r.netlint)
        row = {
            "policies": r.policies,
            "rules": r.rules,
            "nca": len(r.nca),
            "netlint": len(r.netlint),
            "both": len(both),
            "nca_only": len(r.nca - set(r.netlint)),
            "netlint_only": len(set(r.netlint) - r.nca),
        }
        totals.update(row)
        out.append(
            f"| {r.config.label} | {row['policies']} | {row['rules']} | {row['nca']} | "
            f"{row['netlint']} | {row['both']} | {row['nca_only']} | {row['netlint_only']} | "
            f"{r.nca_seconds:.1f} | {r.netlint_seconds:.1f} |"
        )
    out.append(
        f"| **total** | {totals['policies']} | {totals['rules']} | {totals['nca']} | "
        f"{totals['netlint']} | {totals['both']} | {totals['nca_only']} | "
        f"{totals['netlint_only']} | | |"
    )
    out.append("")
    out.append("Differences (rule indexes 0-based, as netlint prints them):")
    out.append("")
    for r in results:
        for key, why in sorted(r.reasons.items()):
            out.append(f"- `{r.config.label}` `{_fmt(key)}`: {why}")
    reasons = Counter(
        why.split(";")[0].split(" (")[0] for r in results for why in r.reasons.values()
    )
    out.append("")
    out.append("Differences by reason:")
    out.append("")
    for why, count in reasons.most_common():
        out.append(f"- {count} x {why}")
    if skipped:
        out.append("")
        out.append("Configs not compared:")
        out.append("")
        for scheme, name, why in skipped:
            out.append(f"- `{Path(scheme).parent.as_posix()}:{name}`: {why}")
    text = "\n".join(out)
    if not markdown:
        text = text.replace("`", "").replace("**", "")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nca", default=os.environ.get("NCA", "/tmp/nca-venv/bin/nca"))
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per NCA run")
    parser.add_argument("--markdown", action="store_true", help="print Markdown")
    args = parser.parse_args(argv)
    if not Path(args.nca).is_file():
        print(f"{args.nca}: not found; see this script's docstring", file=sys.stderr)
        return 2
    results: list[Result] = []
    skipped: list[tuple[str, str, str]] = []
    for item in configs(args.corpus):
        if isinstance(item, tuple):
            skipped.append(item)
            continue
        with tempfile.TemporaryDirectory(prefix="nca-compare-") as tmp:
            work = Path(tmp)
            staged = _stage(item, work)
            result = run_nca(args.nca, item, work, staged, args.timeout)
            index = run_netlint(result, work)
            if result.error is None:
                _expand_policies(result, index)
                classify(result, index)
            results.append(result)
        print(f"{item.label}: done", file=sys.stderr)
    print(report(results, skipped, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
