"""Label-selector semantics (Kubernetes ``metav1.LabelSelector``), as pure functions.

``matchLabels`` entries and ``matchExpressions`` requirements are ANDed; a selector with neither
matches everything. ``NotIn`` and ``DoesNotExist`` also match objects that lack the key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Final, Protocol


class Operator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class RequirementLike(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def operator(self) -> Operator: ...
    @property
    def values(self) -> frozenset[str]: ...


def requirement_matches(req: RequirementLike, labels: Mapping[str, str]) -> bool:
    value = labels.get(req.key)
    op = req.operator
    if op is Operator.IN:
        return value is not None and value in req.values
    if op is Operator.NOT_IN:
        return value is None or value not in req.values
    if op is Operator.EXISTS:
        return value is not None
    return value is None


def matches(requirements: Iterable[RequirementLike], labels: Mapping[str, str]) -> bool:
    """Whether labels satisfy every requirement (the empty selector matches everything)."""
    return all(requirement_matches(req, labels) for req in requirements)


def describe(req: RequirementLike) -> str:
    """A requirement in kubectl's selector syntax (``app=web``, ``tier in (a,b)``, ``!debug``)."""
    op = req.operator
    if op is Operator.IN:
        if len(req.values) == 1:
            return f"{req.key}={next(iter(req.values))}"
        return f"{req.key} in ({','.join(sorted(req.values))})"
    if op is Operator.NOT_IN:
        return f"{req.key} notin ({','.join(sorted(req.values))})"
    if op is Operator.EXISTS:
        return req.key
    return f"!{req.key}"


def describe_all(requirements: Iterable[RequirementLike]) -> str:
    text = ",".join(describe(req) for req in requirements)
    return text or "{} (everything)"


#: A substitution placeholder that a tool replaces before the API server sees the text: Flux
#: post-build substitution and envsubst (``${VAR}``, ``${VAR:-default}``, ``${VAR:=default}``),
#: kustomize ``vars`` and Tekton parameters (``$(VAR)``), and mustache or Go-template actions
#: outside a Helm chart (``{{uid}}``, ``{{ .Values.x }}``; a file where such an action stands as
#: a whole YAML value is skipped as templated before it gets here). None of these characters is
#: valid in a name, a namespace or a label, so a value holding one is not yet the value that is
#: applied.
_PLACEHOLDER: Final = re.compile(r"\$\{[^{}\s]+\}|\$\([^()\s]+\)|\{\{.*?\}\}")


def has_placeholder(text: str) -> bool:
    """Whether ``text`` holds a substitution placeholder (``${X}``, ``$(X)``, ``{{x}}``): its
    final value is unknown until the tool that substitutes it has run."""
    return ("$" in text or "{{" in text) and _PLACEHOLDER.search(text) is not None


def holds_placeholder(requirements: Iterable[RequirementLike]) -> bool:
    """Whether a key or a value of the requirements holds a substitution placeholder: which
    labels they match is not known until it is substituted."""
    return any(
        has_placeholder(r.key) or any(has_placeholder(v) for v in r.values) for r in requirements
    )
