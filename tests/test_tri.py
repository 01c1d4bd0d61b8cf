"""Three-valued logic (netlint.analysis.tri) and the hypothetical pod
(netlint.analysis.hypothetical), cross-checked against the exact traffic algebra."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

import pytest

from netlint.analysis.algebra import SUBJECT, Dim, Element, selector_box
from netlint.api import (
    Box,
    HypotheticalPod,
    LabelValues,
    Requirement,
    Traffic,
    Tri,
    hypothetical_pod,
    may_carry,
    selects_hypothetical,
)
from netlint.core.model import LabelSelector
from netlint.core.selectors import Operator
from netlint.core.source import Span

T, F, U = Tri.TRUE, Tri.FALSE, Tri.UNKNOWN
SPAN = Span("p.yaml", 1, 1, 1, 2)


def selector(*requirements: tuple[str, Operator, tuple[str, ...]]) -> LabelSelector:
    return LabelSelector(
        tuple(
            Requirement(k, op, frozenset(v), "matchExpressions", SPAN) for k, op, v in requirements
        ),
        SPAN,
        SPAN,
    )


def test_of_maps_bool_and_none() -> None:
    assert (Tri.of(True), Tri.of(False), Tri.of(None)) == (T, F, U)


@pytest.mark.parametrize(("a", "b"), list(itertools.product((T, F, U), repeat=2)))
def test_kleene_tables(a: Tri, b: Tri) -> None:
    rank = {F: 0, U: 1, T: 2}
    assert rank[Tri.all_of((a, b))] == min(rank[a], rank[b])
    assert rank[Tri.any_of((a, b))] == max(rank[a], rank[b])
    assert (a & b) is Tri.all_of((a, b)) and (a | b) is Tri.any_of((a, b))
    # De Morgan holds in Kleene logic.
    assert ~(a & b) is (~a | ~b)


def test_empty_combinations_and_negation() -> None:
    assert Tri.all_of(()) is T and Tri.any_of(()) is F
    assert (~T, ~F, ~U) == (F, T, U)
    assert T.possible and U.possible and not F.possible


def test_combinators_stop_at_the_deciding_answer() -> None:
    asked: list[Tri] = []

    def answers(*values: Tri) -> Iterator[Tri]:
        for value in values:
            asked.append(value)
            yield value

    assert Tri.any_of(answers(F, T, U)) is T
    assert asked == [F, T]
    asked.clear()
    assert Tri.all_of(answers(U, F, T)) is F
    assert asked == [U, F]


def test_a_tri_is_not_a_bool() -> None:
    with pytest.raises(TypeError, match="not a bool"):
        bool(U)
    with pytest.raises(TypeError):
        if T:  # reading "unknown" as yes or no by accident is an error
            pass


# -- the hypothetical pod ---------------------------------------------------------------------


def test_hypothetical_pod_carries_exactly_the_required_labels() -> None:
    pod = hypothetical_pod(
        selector(
            ("app", Operator.IN, ("api",)),
            ("tier", Operator.IN, ("a", "b", "c")),
            ("tier", Operator.NOT_IN, ("c",)),
            ("zone", Operator.EXISTS, ()),
            ("zone", Operator.NOT_IN, ("x",)),
            ("canary", Operator.DOES_NOT_EXIST, ()),
            ("debug", Operator.NOT_IN, ("true",)),
        )
    )
    assert pod is not None
    assert set(pod) == {"app", "tier", "zone"}  # NotIn / DoesNotExist alone require nothing
    assert pod["app"].fixed == "api"
    assert pod["tier"].allowed == frozenset({"a", "b"}) and pod["tier"].fixed is None
    assert pod["zone"].allowed is None and pod["zone"].excluded == frozenset({"x"})


@pytest.mark.parametrize(
    "requirements",
    [
        (("app", Operator.IN, ("a",)), ("app", Operator.DOES_NOT_EXIST, ())),
        (("app", Operator.DOES_NOT_EXIST, ()), ("app", Operator.EXISTS, ())),
        (("app", Operator.IN, ("a",)), ("app", Operator.IN, ("b",))),
        (("app", Operator.IN, ("a",)), ("app", Operator.NOT_IN, ("a",))),
    ],
)
def test_unsatisfiable_selector_has_no_hypothetical_pod(
    requirements: tuple[tuple[str, Operator, tuple[str, ...]], ...],
) -> None:
    assert hypothetical_pod(selector(*requirements)) is None


def test_selects_hypothetical() -> None:
    pod = hypothetical_pod(
        selector(("app", Operator.IN, ("api", "web")), ("zone", Operator.EXISTS, ()))
    )
    assert pod is not None
    assert selects_hypothetical(selector(), pod) is T
    assert selects_hypothetical(selector(("app", Operator.IN, ("api", "web", "x"))), pod) is T
    assert selects_hypothetical(selector(("app", Operator.IN, ("api",))), pod) is U
    assert selects_hypothetical(selector(("app", Operator.IN, ("db",))), pod) is F
    assert selects_hypothetical(selector(("zone", Operator.IN, ("eu",))), pod) is U
    assert selects_hypothetical(selector(("team", Operator.EXISTS, ())), pod) is F
    assert selects_hypothetical(selector(("team", Operator.NOT_IN, ("a",))), pod) is T
    assert selects_hypothetical(selector(("zone", Operator.DOES_NOT_EXIST, ())), pod) is F


def test_may_carry() -> None:
    pod = hypothetical_pod(
        selector(("app", Operator.IN, ("dns", "web")), ("k", Operator.NOT_IN, ("x",)))
    )
    assert pod is not None
    assert may_carry(pod, {"app": "dns"})
    assert not may_carry(pod, {"app": "db"})
    assert not may_carry(pod, {"team": "a"})  # the pod carries no label it does not require
    assert may_carry(pod, {})


KEYS = ("a", "b")
VALUES = ("x", "y", "z")


def _random_requirement(rng: random.Random) -> tuple[str, Operator, tuple[str, ...]]:
    op = rng.choice(list(Operator))
    values: tuple[str, ...] = ()
    if op in (Operator.IN, Operator.NOT_IN):
        values = tuple(rng.sample(VALUES, rng.randint(1, 2)))
    return rng.choice(KEYS), op, values


def _pod_box(pod: HypotheticalPod) -> dict[Dim, Element]:
    """The hypothetical pod as sets of the algebra: its labels' possible values, and every
    other key of ``KEYS`` absent (it carries exactly the labels it requires)."""
    dims: dict[Dim, Element] = {}
    for key in KEYS:
        constraint = pod.get(key)
        if constraint is None:
            dims[(SUBJECT, key)] = LabelValues(frozenset(), False, True)
        elif constraint.allowed is None:
            dims[(SUBJECT, key)] = LabelValues(constraint.excluded, True, False)
        else:
            dims[(SUBJECT, key)] = LabelValues.one_of(constraint.allowed)
    return dims


def test_selects_hypothetical_agrees_with_the_algebra() -> None:
    """On random selectors over two keys, the hypothetical pod's three-valued selection never
    claims more than the algebra shows (TRUE only where the selector covers every pod the
    hypothetical pod may be, FALSE only where it meets none of them), and is exact when the
    selector has one requirement per key. Several requirements on one key are judged one by
    one, so together they may decide what it answers UNKNOWN (leaning to silence)."""
    rng = random.Random(103)
    exact = 0
    for _ in range(3000):
        required = selector(*(_random_requirement(rng) for _ in range(rng.randint(0, 3))))
        other = selector(*(_random_requirement(rng) for _ in range(rng.randint(0, 3))))
        pod = hypothetical_pod(required)
        if pod is None:
            continue
        answer = selects_hypothetical(other, pod)
        dims = selector_box(SUBJECT, other.requirements)
        if dims is None:  # ``other`` matches nothing
            assert answer is not T
            continue
        allowed = Traffic(pods=(Box(dims),))
        target = Traffic(pods=(Box(_pod_box(pod)),))
        covers, meets = allowed.covers(target), allowed.intersects(target)
        truth = T if covers else F if not meets else U
        assert answer in (truth, U), (required, other, answer)
        keys = [r.key for r in other.requirements]
        if len(keys) == len(set(keys)):
            assert answer is truth, (required, other, answer)
            exact += 1
    assert exact > 1000
