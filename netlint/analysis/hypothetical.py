"""The hypothetical pod of a selector: the pod that carries exactly the labels it requires.

A rule that judges pods (can they reach DNS? are they selected?) has declared workloads to judge;
a policy that selects none of them still says something about the pods it is written for. Those
are judged through one representative: the pod with exactly the labels the selector requires.
``matchLabels`` and ``In`` with one value fix a label. ``In`` with several values and ``Exists``
require the label with a value the repo cannot know (a set of possible values, or any value but
those a ``NotIn`` excludes). ``NotIn`` and ``DoesNotExist`` require nothing, so the pod lacks the
label. Whether another selector selects that pod is then three-valued
(:func:`selects_hypothetical`): ``UNKNOWN`` where it depends on a value the repo cannot know.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from netlint.analysis.tri import Tri
from netlint.core.model import LabelSelector, NetworkPolicy, Requirement
from netlint.core.selectors import Operator

__all__ = [
    "HypotheticalPod",
    "KeyConstraint",
    "SelectorIndex",
    "hypothetical_pod",
    "may_carry",
    "selects_hypothetical",
]


@dataclass(frozen=True, slots=True)
class KeyConstraint:
    """What a selector says about one label key of the pods it selects."""

    present: bool
    #: Values the label may take (None: any value); meaningful when ``present``.
    allowed: frozenset[str] | None
    excluded: frozenset[str]

    @property
    def fixed(self) -> str | None:
        """The label's value when the selector fixes it."""
        if self.present and self.allowed is not None and len(self.allowed) == 1:
            return next(iter(self.allowed))
        return None


#: The hypothetical pod: a constraint for each label it carries; it carries no other label.
HypotheticalPod = Mapping[str, KeyConstraint]


def hypothetical_pod(selector: LabelSelector) -> dict[str, KeyConstraint] | None:
    """The pod that carries exactly the labels ``selector`` requires; None if none can match
    (``In`` and ``DoesNotExist`` on one key, ``In`` values all excluded by ``NotIn``)."""
    present: dict[str, bool] = {}
    allowed: dict[str, frozenset[str]] = {}
    excluded: dict[str, frozenset[str]] = {}
    for req in selector.requirements:
        key = req.key
        if req.operator is Operator.IN:
            if present.get(key) is False:
                return None
            present[key] = True
            allowed[key] = allowed[key] & req.values if key in allowed else req.values
        elif req.operator is Operator.EXISTS:
            if present.get(key) is False:
                return None
            present[key] = True
        elif req.operator is Operator.DOES_NOT_EXIST:
            if present.get(key):
                return None
            present[key] = False
        else:
            excluded[key] = excluded.get(key, frozenset()) | req.values
    out: dict[str, KeyConstraint] = {}
    for key, required in present.items():
        if not required:
            continue
        values = allowed.get(key)
        banned = excluded.get(key, frozenset())
        if values is not None:
            values = values - banned
            if not values:
                return None
        out[key] = KeyConstraint(True, values, banned)
    return out


def selects_hypothetical(selector: LabelSelector, pod: HypotheticalPod) -> Tri:
    """Whether ``selector`` selects the hypothetical pod: ``TRUE`` whatever values its unknown
    labels take, ``FALSE`` for none of them, else ``UNKNOWN``.

    Each requirement is judged on its own and the answers ANDed (Kleene). That is exact when
    ``selector`` has one requirement per key; several on one key may together decide what each
    alone leaves open (``In (y, z)`` with ``NotIn (y)`` against a pod whose value may be
    anything but ``z``), and are then answered ``UNKNOWN``: never a wrong ``TRUE`` or
    ``FALSE``, only silence where the exact answer would be ``FALSE`` or ``TRUE``.
    tests/test_tri.py checks this against the traffic algebra.
    """
    return Tri.all_of(_requirement_on(req, pod.get(req.key)) for req in selector.requirements)


def _requirement_on(req: Requirement, key: KeyConstraint | None) -> Tri:
    op = req.operator
    if key is None:  # the pod lacks the label
        return Tri.of(op in (Operator.NOT_IN, Operator.DOES_NOT_EXIST))
    if op is Operator.EXISTS:
        return Tri.TRUE
    if op is Operator.DOES_NOT_EXIST:
        return Tri.FALSE
    inside: Tri
    if key.allowed is not None:
        hits = key.allowed & req.values
        inside = Tri.TRUE if hits == key.allowed else (Tri.FALSE if not hits else Tri.UNKNOWN)
    else:
        # Any value but the excluded ones: surely outside when every value listed is excluded.
        inside = Tri.FALSE if req.values <= key.excluded else Tri.UNKNOWN
    return inside if op is Operator.IN else ~inside


def may_carry(pod: HypotheticalPod, labels: Mapping[str, str]) -> bool:
    """Whether the hypothetical pod may carry every one of ``labels`` (with that value)."""
    for key, value in labels.items():
        constraint = pod.get(key)
        if constraint is None or value in constraint.excluded:
            return False
        if constraint.allowed is not None and value not in constraint.allowed:
            return False
    return True


class SelectorIndex:
    """Policies of one namespace indexed by a label they require, so that a hypothetical pod is
    judged against the few that may select it rather than against all of them.

    A policy with an ``In`` or ``Exists`` requirement selects no pod that lacks its key (nor,
    for ``In``, one whose value is fixed outside its values): it is listed under that key. The
    rest (only ``NotIn`` and ``DoesNotExist``) may select any pod. :meth:`of` yields a superset
    of the policies that may select the pod, in the order given, so judging only those gives
    the same answer as judging every policy.
    """

    def __init__(self, policies: Sequence[NetworkPolicy]) -> None:
        self.order: dict[NetworkPolicy, int] = {}
        self.anywhere: list[NetworkPolicy] = []
        self.by_value: dict[tuple[str, str], list[NetworkPolicy]] = {}
        self.by_key: dict[str, list[NetworkPolicy]] = {}
        self.exists: dict[str, list[NetworkPolicy]] = {}
        for policy in policies:
            self.order[policy] = len(self.order)
            anchor = _anchor_requirement(policy.pod_selector)
            if anchor is None:
                self.anywhere.append(policy)
                continue
            self.by_key.setdefault(anchor.key, []).append(policy)
            if anchor.operator is Operator.EXISTS:
                self.exists.setdefault(anchor.key, []).append(policy)
            else:
                for value in anchor.values:
                    self.by_value.setdefault((anchor.key, value), []).append(policy)

    def of(self, pod: HypotheticalPod) -> list[NetworkPolicy]:
        """The policies that may select ``pod`` (and maybe a few that do not)."""
        found: set[NetworkPolicy] = set(self.anywhere)
        for key, constraint in pod.items():
            if constraint.allowed is None:
                found.update(self.by_key.get(key, ()))
                continue
            found.update(self.exists.get(key, ()))
            for value in constraint.allowed:
                found.update(self.by_value.get((key, value), ()))
        return sorted(found, key=self.order.__getitem__)


def _anchor_requirement(selector: LabelSelector) -> Requirement | None:
    """A requirement that no pod lacking its key meets: ``In`` (fewest values) or ``Exists``."""
    best: Requirement | None = None
    for req in selector.requirements:
        if req.operator is Operator.IN:
            if (
                best is None
                or best.operator is not Operator.IN
                or len(req.values) < len(best.values)
            ):
                best = req
        elif req.operator is Operator.EXISTS and best is None:
            best = req
    return best
