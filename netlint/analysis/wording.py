"""How findings name things: one way to list, count and name objects, so that every rule's
messages read alike (and "and N more" is written once)."""

from __future__ import annotations

from collections.abc import Iterable

from netlint.core.model import Namespace, NetworkPolicy, Object, Workload

__all__ = ["display", "listing", "plural"]

#: How many items a message names before "and N more".
SHOWN = 3


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 policy``, ``2 policies``: the count and the word, in the right number."""
    if count == 1:
        return f"1 {word}"
    if many is None:
        many = (
            word[:-1] + "ies" if word.endswith("y") and word[-2:-1] not in "aeiou" else word + "s"
        )
    return f"{count} {many}"


def listing(items: Iterable[str], limit: int = SHOWN) -> str:
    """``a, b, c and 2 more``: the first ``limit`` distinct items, in order, and how many are
    left; "" for none."""
    distinct = list(dict.fromkeys(items))
    shown = ", ".join(distinct[:limit])
    more = len(distinct) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def display(obj: Object) -> str:
    """How a message names an object: ``Deployment shop/api``, ``NetworkPolicy shop/deny``."""
    if isinstance(obj, Workload):
        return f"{obj.kind} {obj.namespace}/{obj.name}"
    if isinstance(obj, NetworkPolicy):
        return f"NetworkPolicy {obj.namespace}/{obj.name}"
    if isinstance(obj, Namespace):
        return f"Namespace {obj.name}"
    return f"{obj.ref.kind} {obj.ref.namespace}/{obj.ref.name}"
