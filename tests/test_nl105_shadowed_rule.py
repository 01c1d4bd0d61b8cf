"""NL105 shadowed-rule: messages, related locations, reporting across files, and the greedy
choice of which rules to report (checked against brute force over generated namespaces)."""

from __future__ import annotations

import copy
import json
import random
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from conftest import TOGETHER, found, lint
from hypothesis import given, settings
from hypothesis import strategies as st
from test_algebra import (
    DECLARED,
    POD_SELECTORS,
    RULES,
    brute_covered,
    policy,
    rule,
    selector,
)
from test_connectivity import _cuts, _grouped, _random_repo, _write, index_of

from netlint.analysis.reach import connectivity
from netlint.api import Context, Index, NetworkPolicy, PolicyRule, Severity
from netlint.core.model import Namespace, ObjectRef
from netlint.core.source import Span
from netlint.output.reporters import render
from netlint.read.load import FileResult
from netlint.rules import nl105_shadowed_rule
from netlint.rules.nl105_shadowed_rule import RULE as ShadowedRule
from netlint.rules.nl105_shadowed_rule import ShadowedRuleOptions

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {name}
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: api
  policyTypes:
    - Ingress
  ingress:
"""
FROM_WEB = """\
    - from:
        - podSelector:
            matchLabels:
              app: web
      ports:
        - port: {port}
"""


def _policy(name: str, *ports: int) -> str:
    return POLICY.format(name=name) + "".join(FROM_WEB.format(port=p) for p in ports)


def test_message_names_every_covering_rule_with_its_line(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write(
        "policies.yaml",
        POLICY.format(name="api")
        + """\
    - from:
        - podSelector:
            matchLabels:
              app: web
      ports:
        - port: 80
          endPort: 85
    - from:
        - podSelector:
            matchLabels:
              app: web
      ports:
        - port: 86
          endPort: 90
    - from:
        - podSelector:
            matchLabels:
              app: web
      ports:
        - port: 80
          endPort: 90
""",
    )
    report = lint(tmp_path, select=["NL105"])
    assert found(report) == {("policies.yaml", 27, "NL105")}
    (finding,) = report.findings
    assert "ingress[2] of NetworkPolicy shop/api is shadowed" in finding.message
    assert "ingress[0] (line 13), ingress[1] (line 20) together" in finding.message
    # The remediation is the fix, in the plural for two covering rules.
    assert finding.fix is not None
    assert "remove it, or narrow the covering rules" in finding.fix
    assert finding.fix.startswith("For every pod the policy can select")
    assert [(r.span.path, r.span.line) for r in finding.related] == [
        ("policies.yaml", 13),
        ("policies.yaml", 20),
    ]
    assert finding.subject == "NetworkPolicy/shop/api"


def test_duplicate_is_the_later_copy_and_points_at_the_first(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write(".netlint.yaml", TOGETHER)
    write("a.yaml", _policy("api", 8080))
    write("b.yaml", _policy("api-again", 8080))
    report = lint(tmp_path, select=["NL105"])
    assert found(report) == {("b.yaml", 13, "NL105")}
    (finding,) = report.findings
    # Another file's cover is named by its policy; where it is, the related location says.
    assert finding.message.endswith("duplicates ingress[0] of shop/api")
    assert finding.fix is not None and finding.fix.endswith("remove one of them.")
    assert [(r.span.path, r.span.line) for r in finding.related] == [("a.yaml", 13)]


def test_sarif_carries_covering_rules_as_related_locations(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write("a.yaml", _policy("api", 8080, 8080))
    report = lint(tmp_path, select=["NL105"])
    assert found(report) == {("a.yaml", 19, "NL105")}
    sarif = json.loads(render("sarif", report))
    (result,) = sarif["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 19
    related = result["relatedLocations"]
    assert [r["physicalLocation"]["region"]["startLine"] for r in related] == [13]
    assert related[0]["physicalLocation"]["artifactLocation"]["uri"] == "a.yaml"
    assert "covered by ingress[0]" in related[0]["message"]["text"]


def test_only_reported_files_get_findings_but_every_file_covers(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write(".netlint.yaml", TOGETHER)
    first = write("a.yaml", _policy("api", 8080))
    second = write("b.yaml", _policy("api-again", 8080))
    assert found(lint(tmp_path, [second], select=["NL105"])) == {("b.yaml", 13, "NL105")}
    assert found(lint(tmp_path, [first], select=["NL105"])) == set()


def test_another_namespace_never_covers(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write(".netlint.yaml", TOGETHER)
    write("a.yaml", _policy("api", 8080))
    write("b.yaml", _policy("api-again", 8080).replace("namespace: shop", "namespace: staging"))
    report = lint(tmp_path, select=["NL105"])
    assert found(report) == set()
    assert len(report.findings) == 0


def test_no_claim_when_the_cover_is_a_second_declaration_of_the_same_name(
    write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    # c.yaml declares shop/api again: applied, it replaces a.yaml's, so the two never hold
    # together. Visited from the last, c's rule is covered by b's, and b's by a's; a's rule
    # cannot cover c's, so nothing the final rules allow covers c's rule: no claim at all
    # (netlint once said it was "already allowed by ;"). b's duplicate of a's is reported.
    write(".netlint.yaml", TOGETHER)
    write("a.yaml", _policy("api", 8080))
    write("b.yaml", _policy("other", 8080))
    write("c.yaml", _policy("api", 8080))
    report = lint(tmp_path, select=["NL105"])
    assert found(report) == {("b.yaml", 13, "NL105")}
    (finding,) = report.findings
    # Another file's cover is named by its policy; where it is, the related location says.
    assert finding.message.endswith("duplicates ingress[0] of shop/api")
    assert finding.fix is not None and finding.fix.endswith("remove one of them.")
    assert [(r.span.path, r.span.line) for r in finding.related] == [("a.yaml", 13)]


def test_a_second_declaration_covers_only_other_names(
    write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    # c.yaml's ingress[0] equals a.yaml's rule, but a.yaml declares the same shop/api: it never
    # covers c's rule, which stays unreported; c's ingress[1] duplicates b's rule.
    write(".netlint.yaml", TOGETHER)
    write("a.yaml", _policy("api", 8080))
    write("b.yaml", _policy("other", 9090))
    write("c.yaml", _policy("api", 8080, 9090))
    report = lint(tmp_path, select=["NL105"])
    assert found(report) == {("c.yaml", 19, "NL105")}
    (finding,) = report.findings
    assert finding.message.endswith("duplicates ingress[0] of shop/other")
    assert [(r.span.path, r.span.line) for r in finding.related] == [("b.yaml", 13)]


def test_undecided_coverage_stays_silent(write, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from netlint.analysis import algebra

    def too_complex(self: algebra.Traffic, other: algebra.Traffic, **_: object) -> None:
        raise algebra.TooComplex("budget")

    monkeypatch.setattr(algebra.Traffic, "subtract", too_complex)
    monkeypatch.setattr(algebra.Box, "subtract", too_complex)
    write("a.yaml", _policy("api", 8080, 8080))
    report = lint(tmp_path, select=["NL105", "NL900"])
    assert found(report) == set()
    assert not report.findings


# -- the choice of rules to report, against brute force ----------------------------------------

SPAN = Span("t.yaml", 1, 1, 1, 2)


def _index(policies: Sequence[NetworkPolicy], declared: dict[str, dict[str, str]]) -> Index:
    objects: list[object] = list(policies)
    for name, labels in declared.items():
        ref = ObjectRef("Namespace", name, name, "ns.yaml", 0, (), SPAN)
        objects.append(Namespace(ref, name, labels, SPAN, {}))
    return Index([FileResult("t.yaml", "digest", objects=objects)])  # type: ignore[arg-type]


def test_notes_tell_the_latest_run_over_an_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine asks for notes with the index alone, after the run: a run that left rules
    undecided says so, and a later run over the same index that decided them all says
    nothing (each run's memo is its own; nothing of the first run is reused)."""
    copies = [rule([], [], line=10 * n) for n in range(1, 5)]
    target = policy(selector(), copies, name="same")
    index = _index([target], {})
    checker = ShadowedRule()
    monkeypatch.setattr(nl105_shadowed_rule, "WORK_BASE", 0)
    monkeypatch.setattr(nl105_shadowed_rule, "WORK_PER_RULE", 1)
    starved = Context(index, checker.meta, Severity.WARNING, ShadowedRuleOptions())
    assert list(checker.check_policy(starved, target)) == []
    (note,) = checker.notes(index)
    assert note.startswith("NL105: 4 rules of namespace ")
    monkeypatch.undo()
    fresh = Context(index, checker.meta, Severity.WARNING, ShadowedRuleOptions())
    assert [f.span.line for f in checker.check_policy(fresh, target)] == [20, 30, 40]
    assert list(checker.notes(index)) == []


NAMESPACES = st.lists(
    st.tuples(POD_SELECTORS, st.lists(RULES, min_size=1, max_size=3)), min_size=1, max_size=3
)


@pytest.mark.parametrize("cross_policy", [True, False])
@settings(max_examples=40, deadline=None)
@given(NAMESPACES, DECLARED)
def test_kept_rules_allow_what_all_rules_allow(
    cross_policy: bool,
    drawn: list[tuple[object, list[PolicyRule]]],
    declared: dict[str, dict[str, str]],
) -> None:
    """Reported rules are covered by the rules kept (so deleting all of them changes nothing),
    each finding names kept rules that cover it, and no kept rule is covered by the others."""
    line = 0
    policies: list[NetworkPolicy] = []
    for i, (pods, rules) in enumerate(drawn):
        placed = []
        for r in rules:
            line += 10
            placed.append(rule(r.peers, r.ports, line=line))
        policies.append(policy(pods, placed, name=f"p{i}"))  # type: ignore[arg-type]
    index = _index(policies, declared)
    checker = ShadowedRule()
    ctx = Context(index, checker.meta, Severity.WARNING, ShadowedRuleOptions(cross_policy))
    by_line = {r.span.line: (p, r) for p in policies for r in p.ingress}
    reported: dict[int, list[int]] = {}
    for p in policies:
        for finding in checker.check_policy(ctx, p):
            reported[finding.span.line] = [rel.span.line for rel in finding.related]
    kept = [by_line[n] for n in sorted(by_line) if n not in reported]

    def allowed_covers(
        target: tuple[NetworkPolicy, PolicyRule],
    ) -> list[tuple[NetworkPolicy, PolicyRule]]:
        return [c for c in kept if c is not target and (cross_policy or c[0] is target[0])]

    for number, named in reported.items():
        target = by_line[number]
        assert brute_covered(target, allowed_covers(target), declared)[0]
        assert named and all(n not in reported for n in named)
        assert brute_covered(target, [by_line[n] for n in named], declared)[0]
    for target in kept:
        covered, nonempty = brute_covered(target, allowed_covers(target), declared)
        assert not (covered and nonempty), f"line {target[1].span.line} kept but covered"


# -- NL105's claim, checked by the reachability core -----------------------------------------

_LABEL = re.compile(r"^(ingress|egress)\[(\d+)\] of NetworkPolicy ([^/ ]+)/([^ ]+) ")


@pytest.mark.parametrize("seed", range(60))
def test_deleting_every_reported_rule_changes_no_connection_of_the_core(
    tmp_path: Path, seed: int
) -> None:
    """NL105 decides coverage over symbolic traffic (any pod, any labels); the connectivity
    map decides connections between the repo's own pods and address ranges. Both read the
    same rules, so what NL105 calls safe to delete must change nothing the map says: deleting
    every reported rule at once (its claim) leaves every certain and uncertain connection."""
    rng = random.Random(seed)
    # Same-named policies are one policy in the cluster, two in NL105 (which does not claim
    # across them): a repo of distinct names asks the same question of both.
    docs = _random_repo(rng, same_names=False) + _random_repo(rng, same_names=False)
    for i, doc in enumerate(docs):
        if doc["kind"] == "NetworkPolicy":
            doc["metadata"]["name"] += f"-{i}"
    root = _write(tmp_path / "before", docs)
    (root / ".netlint.yaml").write_text("select: [NL105]\n", encoding="utf-8")
    report = lint(root, config=root / ".netlint.yaml")
    doomed: set[tuple[str, str, str, int]] = set()
    for finding in report.findings:
        match = _LABEL.match(finding.message)
        assert match is not None, finding.message
        direction, number, space, name = match.groups()
        doomed.add((space, name, direction, int(number)))
    kept = copy.deepcopy(docs)
    for doc in kept:
        meta, spec = doc["metadata"], doc.get("spec", {})
        for direction in ("ingress", "egress"):
            rules = spec.get(direction)
            if doc["kind"] == "NetworkPolicy" and rules:
                spec[direction] = [
                    r
                    for i, r in enumerate(rules)
                    if (meta["namespace"], meta["name"], direction, i) not in doomed
                ]
    before, after = index_of(root), index_of(_write(tmp_path / "after", kept))
    # The map's address ranges are cut where the repo's ipBlocks start and end, and a deleted
    # rule may have held one: both maps are compared on the cuts of either.
    cuts = sorted({*_cuts(connectivity(before)), *_cuts(connectivity(after))})
    assert _grouped(after, cuts) == _grouped(before, cuts), sorted(doomed)
