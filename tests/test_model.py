"""The model's classes are plain slots dataclasses (immutable by contract: mypy reports an
assignment, see ``core.model._model``), and ``evolve`` copies one as ``dataclasses.replace``
would."""

from __future__ import annotations

import dataclasses

import pytest

from netlint.core import model
from netlint.core.model import evolve

CLASSES = sorted(
    (
        c
        for c in vars(model).values()
        if isinstance(c, type) and dataclasses.is_dataclass(c) and c.__module__ == model.__name__
    ),
    key=lambda c: c.__name__,
)


def test_every_model_class_is_a_slots_dataclass_compared_by_identity() -> None:
    assert {c.__name__ for c in CLASSES} >= {"NetworkPolicy", "Workload", "Namespace", "Rule"}
    for cls in CLASSES:
        assert "__slots__" in vars(cls), cls
        assert cls.__eq__ is object.__eq__ and cls.__hash__ is object.__hash__, cls


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_evolve_is_replace(cls: type) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    original = cls(*(object() for _ in names))
    for name in names:
        new = object()
        by_evolve, by_replace = (
            evolve(original, **{name: new}),
            dataclasses.replace(original, **{name: new}),
        )
        assert type(by_evolve) is cls and by_evolve is not original
        for other in names:
            assert getattr(by_evolve, other) is getattr(by_replace, other)
    with pytest.raises(KeyError):
        evolve(original, no_such_field=1)


def test_evolve_of_a_class_of_one_field() -> None:
    @dataclasses.dataclass(slots=True)
    class One:
        value: int

    assert evolve(One(1), value=2).value == 2
    assert evolve(One(1)).value == 1
