"""Deploy units: sets of objects that are applied together (DESIGN §2, docs/units.md).

A repo is many units: each top-level kustomization (with its bases, components and patches), each
folder a GitOps definition applies (Argo CD ``Application``/``ApplicationSet``, Flux
``Kustomization``), each folder or glob the config names, and, by default, each plain file on
its own. Claims about an interaction between objects need objects of one unit; questions whose
safe answer is silence may look at every unit (the *cluster* view).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class UnitKind(StrEnum):
    #: A plain file no other evidence groups: it is applied on its own (``kubectl apply -f``).
    FILE = "file"
    #: Folders or globs the project config declares applied together (``units:``).
    CONFIG = "config"
    #: A kustomization that no other kustomization includes.
    KUSTOMIZE = "kustomize"
    #: A folder an Argo CD Application or ApplicationSet applies.
    ARGOCD = "argocd"
    #: A folder a Flux Kustomization applies.
    FLUX = "flux"


class Certainty(StrEnum):
    """What a rule's claims need to hold (``RuleMeta.certainty``)."""

    #: A claim about one object alone (its own fields): true in every unit that applies it.
    OBJECT = "object"
    #: A claim that something is absent ("no policy selects this pod", "this selector matches
    #: nothing"): it looks at everything that *may* be applied with the object, and stays
    #: silent in a unit that netlint could not render completely.
    MAY = "may"
    #: A claim about objects that interact (a rule shadowed by another, a policy replaced by a
    #: same-named one): every object it names is applied together, in one unit.
    TOGETHER = "together"

    @property
    def explained(self) -> str:
        """One sentence for the rule's help page (docs/units.md has the whole story)."""
        return _EXPLAINED[self]


_EXPLAINED = {
    Certainty.OBJECT: "A claim about one object alone: checked on the object as each deploy unit "
    "builds it.",
    Certainty.MAY: "A claim that something is absent: before it is made, everything that may be "
    "applied with the object (every deploy unit) is asked, and a unit netlint could not build "
    "completely is not judged.",
    Certainty.TOGETHER: "A claim about objects that interact: every object it names is applied "
    "in the same deploy unit (one file, one kustomize build, one GitOps or config unit).",
}


@dataclass(frozen=True, slots=True)
class DeclaredUnit:
    """A unit the project config declares (``units:``): files applied together."""

    name: str
    #: gitignore-style globs relative to the project root.
    paths: tuple[str, ...]
    namespace: str | None
    #: Where the entry is written (``path:line:col``).
    declared_at: str


@dataclass(frozen=True, slots=True)
class Unit:
    """One deploy unit, as inferred from the repo (``netlint units`` prints them)."""

    #: A stable, readable identity: ``kustomize:overlays/prod``, ``file:k8s/web.yaml``.
    id: str
    kind: UnitKind
    #: The file or folder the unit is (relative to the project root, posix; "" is the root).
    root: str
    #: Where the unit is declared: the kustomization file, the GitOps definition's path line,
    #: the config entry ("path:line:col"), or None for a plain file.
    declared_at: str | None
    #: Every file the unit read: kustomizations, resources, patches, generator inputs.
    files: tuple[str, ...]
    #: Why netlint could not render all of it (remote bases, Helm charts, unmodelled fields,
    #: what kustomize itself would refuse), each "path:line:col: reason". A unit with reasons
    #: is *incomplete*: what it holds is known, not all there is.
    incomplete: tuple[str, ...] = ()
    #: Namespace given to namespace-less objects (Argo CD destination.namespace, Flux
    #: targetNamespace, a config unit's ``namespace``), when the unit sets one.
    namespace: str | None = None
    #: What kustomize itself would refuse (among ``incomplete``): the real build fails, so
    #: the unit's objects are a best effort that no cluster receives.
    failed: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.incomplete

    @property
    def name(self) -> str:
        """How messages name it: ``kustomize overlays/prod``."""
        return f"{self.kind.value} {self.root or '.'}"


def readers_of(units: Iterable[Unit]) -> dict[str, list[int]]:
    """For each file, the positions (in ``units``' order) of the units that read it."""
    readers: dict[str, list[int]] = {}
    for i, unit in enumerate(units):
        for path in unit.files:
            readers.setdefault(path, []).append(i)
    return readers
