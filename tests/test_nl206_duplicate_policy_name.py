"""NL206 duplicate-policy-name: order, scope of comparison, and what counts as the same."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from conftest import TOGETHER, found
from conftest import lint as lint_alone

from netlint.output.report import Report

Write = Callable[[str, str], Path]


def policy(name: str, app: str, *, labels: str = "{}", namespace: str = "shop") -> str:
    return (
        "apiVersion: networking.k8s.io/v1\n"  # 1
        "kind: NetworkPolicy\n"  # 2
        "metadata:\n"  # 3
        f"  name: {name}\n"  # 4
        f"  namespace: {namespace}\n"  # 5
        f"  labels: {labels}\n"  # 6
        "spec:\n"  # 7
        f"  podSelector: {{matchLabels: {{app: {app}}}}}\n"  # 8
        "  policyTypes: [Ingress]\n"  # 9
    )


def lint(root: Path, paths: Sequence[Path] = (), **options: Any) -> Report:
    """Lint ``root`` with its files declared one unit: these tests are about definitions
    applied together (without such evidence, separate files never are: see the test below)."""
    config = root / ".netlint.yaml"
    if not config.exists():
        config.write_text(TOGETHER)
    return lint_alone(root, paths, **options)


def test_sibling_files_are_not_applied_together_without_evidence(
    tmp_path: Path, write: Write
) -> None:
    """Alternative versions of one policy side by side (policy1.yaml, policy2.yaml; lab steps)
    are not one replacing the other unless the config says the folder is applied as one."""
    write("p/policy1.yaml", policy("x", "a"))
    write("p/policy2.yaml", policy("x", "b"))
    assert found(lint_alone(tmp_path, select=["NL206"])) == set()
    write(".netlint.yaml", "units:\n  - paths: [p]\n")
    assert found(lint_alone(tmp_path, select=["NL206"])) == {("p/policy2.yaml", 4, "NL206")}


def run(tmp_path: Path, *paths: Path) -> set[tuple[str, int, str]]:
    return found(lint(tmp_path, list(paths), select=["NL206"]))


def test_every_later_definition_points_at_the_first(tmp_path: Path, write: Write) -> None:
    write("p/a.yaml", policy("x", "a") + "---\n" + policy("x", "b"))
    write("p/b.yaml", policy("x", "c"))
    report = lint(tmp_path, select=["NL206"])
    assert found(report) == {("p/a.yaml", 14, "NL206"), ("p/b.yaml", 4, "NL206")}
    later = next(f for f in report.findings if f.span.path == "p/b.yaml")
    assert [(r.span.path, r.span.line) for r in later.related] == [
        ("p/a.yaml", 4),
        ("p/a.yaml", 14),
    ]
    assert "(2 earlier definitions differ, first at a.yaml:4, same folder)" in later.message
    assert later.fix is not None and "Rename one of them" in later.fix


def test_items_of_a_list_are_in_document_order(tmp_path: Path, write: Write) -> None:
    items = "".join(
        f"  - {{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {{name: x, "
        f"namespace: shop}}, spec: {{podSelector: {{matchLabels: {{app: {app}}}}}}}}}\n"
        for app in ("a", "b")
    )
    write("list.yaml", f"apiVersion: v1\nkind: List\nitems:\n{items}")
    assert run(tmp_path) == {("list.yaml", 5, "NL206")}


def test_found_from_either_file_only_on_the_later_one(tmp_path: Path, write: Write) -> None:
    first = write("p/a.yaml", policy("x", "a"))
    second = write("p/b.yaml", policy("x", "b"))
    assert run(tmp_path, second) == {("p/b.yaml", 4, "NL206")}
    assert run(tmp_path, first) == set()


def test_copies_differing_only_in_metadata_are_the_same_policy(
    tmp_path: Path, write: Write
) -> None:
    write("p/a.yaml", policy("x", "a"))
    write("p/b.yaml", policy("x", "a", labels="{env: prod}"))
    # Inside one file an identical copy is still reported: usually a forgotten edit.
    write(
        "q/c.yaml",
        policy("allow-api", "a") + "---\n" + policy("allow-api", "a", labels="{env: prod}"),
    )
    report = lint(tmp_path, select=["NL206"])
    assert found(report) == {("q/c.yaml", 14, "NL206")}
    copy = report.findings[0]
    assert "is defined twice in this file, identically (first at line 4" in copy.message
    assert copy.fix is not None and copy.fix.startswith("Delete it")


def test_other_names_namespaces_and_folders_are_not_duplicates(
    tmp_path: Path, write: Write
) -> None:
    write("a.yaml", policy("x", "a") + "---\n" + policy("allow-api", "b"))
    write("b.yaml", policy("x", "b", namespace="billing"))
    write("staging/c.yaml", policy("x", "c"))
    assert run(tmp_path) == set()


def test_rejected_policies_neither_replace_nor_are_replaced(tmp_path: Path, write: Write) -> None:
    invalid = policy("x", "b").replace("[Ingress]", "[ingress]")
    write("a.yaml", policy("x", "a") + "---\n" + invalid + "---\n" + policy("x", "c"))
    assert run(tmp_path) == {("a.yaml", 24, "NL206")}


def test_many_copies_in_one_file_name_the_first_and_the_previous(
    tmp_path: Path, write: Write
) -> None:
    """Listing every earlier copy on every copy was N²/2 locations (276 MB of SARIF for 1,000
    copies); now a few, with the count in the message."""
    write("a.yaml", "---\n".join([policy("x", "a")] * 60))
    report = lint(tmp_path, select=["NL206"])
    assert len(report.findings) == 59
    assert all(len(f.related) <= 3 for f in report.findings)
    last = max(report.findings, key=lambda f: f.span.line)
    assert last.span.line == 4 + 10 * 59
    assert "(59 earlier copies, first at line 4 of this file)" in last.message
    assert [(r.span.line, r.message) for r in last.related] == [
        (4, "earlier definition of shop/x: the first"),
        (
            4 + 10 * 58,
            "earlier definition of shop/x: the previous one, which this one replaces "
            "(59 earlier in all)",
        ),
    ]


def test_many_sibling_files_name_the_first_with_other_rules(tmp_path: Path, write: Write) -> None:
    write("p/a.yaml", policy("x", "same") + "---\n" + policy("x", "same"))
    for n in range(40):
        write(f"p/f{n:02}.yaml", policy("x", f"app{n}"))
    write("p/z.yaml", policy("x", "same"))
    report = lint(tmp_path, select=["NL206"])
    assert all(len(f.related) <= 3 for f in report.findings)
    last = next(f for f in report.findings if f.span.path == "p/z.yaml")
    # Its identical twins in a.yaml are no replacement (alternative bundles); the 40 others are.
    assert "(40 earlier definitions differ, first at f00.yaml:4, same folder)" in last.message
    assert [(r.span.path, r.message.rpartition(": ")[2]) for r in last.related] == [
        ("p/f00.yaml", "the first"),
        ("p/f39.yaml", "the previous one, which this one replaces (40 earlier in all)"),
    ]


def _reference(layout: dict[str, list[tuple[str, str]]], kustomized: set[str]) -> set[Finding3]:
    """NL206 as first written, pair by pair over (path, document), for small inputs."""
    defs = [
        (path, k, name, app)
        for path, docs in sorted(layout.items())
        for k, (name, app) in enumerate(docs)
    ]
    out: set[Finding3] = set()
    for path, k, name, app in defs:
        folder = path.rpartition("/")[0]
        if folder in kustomized:
            # kustomize refuses a build with two objects of one id: it applies none of them.
            continue
        earlier = [
            d
            for d in defs
            if d[2] == name
            and (d[0], d[1]) < (path, k)
            and (
                d[0] == path
                or (folder not in kustomized and d[0].rpartition("/")[0] == folder and d[3] != app)
            )
        ]
        if not earlier:
            continue
        differing = [d for d in earlier if d[3] != app]
        first = differing[0] if differing else earlier[0]
        where = (
            f"line {4 + 10 * first[1]} of this file"
            if first[0] == path
            else f"{first[0].rpartition('/')[2]}:{4 + 10 * first[1]}, same folder"
        )
        # Past 3, the earliest, the one the message names and the one just before.
        shown = earlier if len(earlier) <= 3 else sorted({earlier[0], first, earlier[-1]})
        related = tuple((d[0], 4 + 10 * d[1]) for d in shown)
        out.add((path, 4 + 10 * k, where, len(differing), related))
    return out


Finding3 = tuple[str, int, str, int, tuple[tuple[str, int], ...]]


def test_agrees_with_the_pairwise_definition(tmp_path: Path) -> None:
    """Random folders of a few files: the one-pass verdicts equal the pairwise ones: the
    definition the message names, the count, and the related locations."""
    rnd = random.Random(206)
    for case in range(40):
        root = tmp_path / f"case{case}"
        layout: dict[str, list[tuple[str, str]]] = {}
        for path in rnd.sample(["a.yaml", "b.yaml", "c.yaml", "d/e.yaml", "d/f.yaml"], 4):
            layout[path] = [(rnd.choice("pq"), rnd.choice("ab")) for _ in range(rnd.randint(1, 4))]
        kustomized = {"d"} if rnd.random() < 0.3 else set()
        for path, docs in layout.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text("---\n".join(policy(name, app) for name, app in docs))
        for folder in kustomized:
            (root / folder / "kustomization.yaml").write_text("resources: [e.yaml, f.yaml]\n")
        got: set[Finding3] = set()
        for f in lint(root, select=["NL206"]).findings:
            where = f.message.partition("first at ")[2].partition(")")[0]
            head, many, _ = f.message.partition(" earlier definitions differ")
            differing = (
                0 if "identically" in f.message else int(head.rpartition("(")[2]) if many else 1
            )
            related = tuple((r.span.path, r.span.line) for r in f.related)
            got.add((f.span.path, f.span.line, where, differing, related))
        assert got == _reference(layout, kustomized), (case, layout, kustomized)
