"""NL205 allow-all-rule: what counts as an allow-all item and when it is stray."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import found, lint

Write = Callable[[str, str], Path]


def policy(direction: str, rules: str, *, types: str = "[Ingress, Egress]") -> str:
    return (
        "apiVersion: networking.k8s.io/v1\n"  # 1
        "kind: NetworkPolicy\n"  # 2
        "metadata: {name: api, namespace: shop}\n"  # 3
        "spec:\n"  # 4
        "  podSelector: {}\n"  # 5
        f"  policyTypes: {types}\n"  # 6
        f"  {direction}:\n"  # 7
        f"{rules}"  # 8...
    )


SPECIFIC = "    - ports: [{port: 443}]\n"


def run(tmp_path: Path) -> set[tuple[str, int, str]]:
    return found(lint(tmp_path, select=["NL205"]))


def test_every_spelling_of_allow_all_next_to_a_specific_rule(tmp_path: Path, write: Write) -> None:
    write("a.yaml", policy("ingress", SPECIFIC + "    - {}\n"))
    write("b.yaml", policy("ingress", SPECIFIC + "    - from: []\n"))
    write("c.yaml", policy("egress", "    - to: []\n      ports: []\n" + SPECIFIC))
    write("d.yaml", policy("egress", SPECIFIC + "    - ports:\n"))
    assert run(tmp_path) == {
        ("a.yaml", 9, "NL205"),
        ("b.yaml", 9, "NL205"),
        ("c.yaml", 8, "NL205"),
        ("d.yaml", 9, "NL205"),
    }


def test_allow_all_alone_or_repeated_is_not_stray(tmp_path: Path, write: Write) -> None:
    write("alone.yaml", policy("ingress", "    - {}\n"))
    write("twice.yaml", policy("egress", "    - {}\n    - {}\n"))
    # Every pod of the cluster, but not addresses outside it: not an allow-all.
    write("cluster.yaml", policy("ingress", SPECIFIC + "    - from: [{namespaceSelector: {}}]\n"))
    assert run(tmp_path) == set()


def test_message_names_the_rules_made_meaningless(tmp_path: Path, write: Write) -> None:
    write("p.yaml", policy("egress", SPECIFIC + "    - {}\n" + SPECIFIC))
    (finding,) = lint(tmp_path, select=["NL205"]).findings
    assert (finding.span.line, finding.span.col) == (9, 7)
    assert finding.message == (
        "egress[1] of NetworkPolicy shop/api allows all egress traffic (no `to`, no `ports`), so "
        "egress[0], egress[2] restrict nothing"
    )
    assert finding.fix is not None and finding.fix.startswith("Delete this item")
    assert [r.span.line for r in finding.related] == [8, 10]


def test_invalid_policies_are_skipped(tmp_path: Path, write: Write) -> None:
    write("ok.yaml", policy("ingress", SPECIFIC + "    - {}\n"))
    write("bad.yaml", policy("ingress", SPECIFIC + "    - {}\n", types="[ingress]"))
    assert run(tmp_path) == {("ok.yaml", 9, "NL205")}
