"""The deploy units of a run, each with its own index, and the cluster view over all of them.

A rule checks each unit's objects against that unit's index (what is applied together) and asks
the cluster index (everything that may be applied with it) before it claims an absence. See
docs/units.md and :class:`netlint.core.units.Certainty`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from netlint.analysis.index import Index
from netlint.core.model import ForeignPolicy, Object
from netlint.core.units import Unit, UnitKind
from netlint.read.load import FileResult
from netlint.read.units import Plan


@dataclass(slots=True)
class UnitIndex:
    unit: Unit
    index: Index
    #: What the unit applies, in build order (the index sorts them by kind).
    objects: Sequence[Object | ForeignPolicy]


@dataclass(slots=True)
class Layout:
    units: list[UnitIndex]
    #: Every unit's objects (and every file, for per-file checks).
    cluster: Index
    #: Files in a kustomize tree that no build reads (not applied, not linted as objects).
    not_applied: list[str] = field(default_factory=list)
    #: For each file, the units that read it.
    units_of: dict[str, list[Unit]] = field(default_factory=dict)
    #: What planning the units found worth saying (GitOps paths it could not place).
    planning_notes: list[str] = field(default_factory=list)

    @classmethod
    def from_plan(
        cls, plan: Plan, results: Mapping[str, FileResult], previous: Layout | None = None
    ) -> Layout:
        """The units of ``plan`` with their indexes; a unit the plan took unchanged from the
        last one (the same objects) keeps the index ``previous`` made of it."""
        kept = {id(u.objects): u for u in previous.units} if previous is not None else {}
        units = []
        for planned in plan.units:
            same = kept.get(id(planned.objects))
            if (
                same is not None
                and same.objects is planned.objects
                # Identity first: a kept unit is the same object, and comparing the fields of
                # every one of thousands of file units at each edit costs the server.
                and (same.unit is planned.unit or same.unit == planned.unit)
            ):
                units.append(same)
            else:
                files = [results[p] for p in planned.unit.files if p in results]
                index = Index(files, planned.objects)
                units.append(UnitIndex(planned.unit, index, planned.objects))
        # An edit seldom changes which units read which file: the last map then stands (its
        # units are equal to this plan's, unit for unit).
        units_of: dict[str, list[Unit]]
        if (
            previous is not None
            and len(previous.units) == len(plan.units)
            and all(
                old.unit is new.unit or old.unit == new.unit
                for old, new in zip(previous.units, plan.units, strict=True)
            )
        ):
            units_of = previous.units_of
        else:
            units_of = {}
            for planned in plan.units:
                for path in planned.unit.files:
                    units_of.setdefault(path, []).append(planned.unit)
        cluster = Index(
            (results[p] for p in sorted(results)),
            (o for planned in plan.units for o in planned.objects),
        )
        return cls(units, cluster, plan.not_applied, units_of, plan.notes)

    @classmethod
    def together(cls, files: Sequence[FileResult]) -> Layout:
        """Every file's objects as one unit applied together (for tests and for callers that
        know their files are one unit), as netlint saw every repo before units."""
        paths = tuple(sorted(f.path for f in files))
        unit = Unit("config:all", UnitKind.CONFIG, "all", None, paths)
        index = Index(files)
        objects = [o for f in files for o in f.objects]
        return cls([UnitIndex(unit, index, objects)], index, [], {p: [unit] for p in paths})

    def notes(self) -> Iterator[str]:
        """What ``--verbose`` says about the units: how many of each kind, why any is
        incomplete, and which files no unit applies."""
        kinds = Counter(entry.unit.kind.value for entry in self.units)
        shown = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
        yield f"deploy units: {len(self.units)} ({shown}); `netlint units` lists them"
        for entry in self.units:
            unit = entry.unit
            if unit.kind is not UnitKind.FILE:
                index = entry.index
                yield (
                    f"unit {unit.name}: {len(index.policies)} policies, "
                    f"{len(index.workloads)} workloads, {len(unit.files)} files"
                )
            if unit.incomplete:
                yield (
                    f"unit {unit.name} is incomplete (rules that claim an absence skip it): "
                    + unit.incomplete[0]
                    + (
                        f" (and {len(unit.incomplete) - 1} more)"
                        if len(unit.incomplete) > 1
                        else ""
                    )
                )
        yield from self.planning_notes
        for path in self.not_applied:
            yield f"not applied: {path} is in a kustomize tree but no kustomization reads it"
