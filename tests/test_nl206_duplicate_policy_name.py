"""NL206 duplicate-policy-name: order, scope of comparison, and what counts as the same."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import found, lint

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
    assert "(first at a.yaml:4, same folder) (and 1 more)" in later.message


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
    assert "is defined twice in this file, identically" in report.findings[0].message


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
