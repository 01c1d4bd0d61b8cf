"""Three-valued answers: what the repo shows to hold, what it shows to fail, and what it cannot
know (DESIGN §2, "unknown is not empty").

A rule reports only what the repo shows: a :class:`Tri` answer is ``TRUE`` or ``FALSE`` when the
manifests decide the question, and ``UNKNOWN`` when it depends on what is outside them (the labels
of a namespace the repo does not declare, the labels a pod carries beyond those a selector
requires). The combinators are Kleene's strong logic: ``all_of`` is ``FALSE`` as soon as one
answer is, ``TRUE`` only when every answer is; ``any_of`` is the dual. Both stop at the first
answer that decides, so a generator of costly questions is asked no further than needed.

A ``Tri`` is not a bool: ``if answer:`` raises, so "unknown" is never read as "no" (or "yes") by
accident; compare with ``is Tri.TRUE`` / ``is Tri.FALSE``.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

__all__ = ["Tri"]


class Tri(Enum):
    """A three-valued truth value."""

    FALSE = "false"
    UNKNOWN = "unknown"
    TRUE = "true"

    @classmethod
    def of(cls, value: bool | None) -> Tri:
        """``True``/``False`` as themselves, ``None`` as ``UNKNOWN``."""
        if value is None:
            return cls.UNKNOWN
        return cls.TRUE if value else cls.FALSE

    @classmethod
    def all_of(cls, values: Iterable[Tri]) -> Tri:
        """Kleene AND: ``FALSE`` if one is, else ``UNKNOWN`` if one is, else ``TRUE`` (also for
        no values)."""
        result = cls.TRUE
        for value in values:
            if value is cls.FALSE:
                return cls.FALSE
            if value is cls.UNKNOWN:
                result = cls.UNKNOWN
        return result

    @classmethod
    def any_of(cls, values: Iterable[Tri]) -> Tri:
        """Kleene OR: ``TRUE`` if one is, else ``UNKNOWN`` if one is, else ``FALSE`` (also for
        no values)."""
        result = cls.FALSE
        for value in values:
            if value is cls.TRUE:
                return cls.TRUE
            if value is cls.UNKNOWN:
                result = cls.UNKNOWN
        return result

    def __and__(self, other: Tri) -> Tri:
        return Tri.all_of((self, other))

    def __or__(self, other: Tri) -> Tri:
        return Tri.any_of((self, other))

    def __invert__(self) -> Tri:
        """Kleene NOT: ``UNKNOWN`` stays ``UNKNOWN``."""
        if self is Tri.UNKNOWN:
            return self
        return Tri.FALSE if self is Tri.TRUE else Tri.TRUE

    @property
    def possible(self) -> bool:
        """Not shown to fail: ``TRUE`` or ``UNKNOWN``."""
        return self is not Tri.FALSE

    def __bool__(self) -> bool:
        raise TypeError("a Tri is not a bool: compare it with `is Tri.TRUE` or `is Tri.FALSE`")
