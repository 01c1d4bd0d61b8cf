"""The deploy units of a run, each with its own index, and the cluster view over all of them.

A rule checks each unit's objects against that unit's index (what is applied together) and asks
the cluster index (everything that may be applied with it) before it claims an absence. See
docs/units.md and :class:`netlint.core.units.Certainty`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from netlint.analysis.index import Index, Parts, by_namespace
from netlint.core.model import ForeignPolicy, Namespace, NetworkPolicy, Object, Workload
from netlint.core.units import Unit, UnitKind, readers_of
from netlint.read.result import FileResult

if TYPE_CHECKING:  # a plan is made by netlint.read.units; a layout only reads one
    from netlint.read.units import Plan

#: Up to this many units made again, a layout changes only their parts of the last one; up to
#: this many namespaces touched, the cluster's lists of only those namespaces are made again.
_FEW_UNITS = 64
_FEW_NAMESPACES = 8


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
    #: The plan this layout was made of, and how many policies and workloads each unit adds
    #: to the cluster's (where each unit's run of them starts): a plan made from that one
    #: changes a few units, and the next layout changes only their parts (``_evolved``).
    plan: Plan | None = None
    policy_counts: list[int] = field(default_factory=list)
    workload_counts: list[int] = field(default_factory=list)
    #: Without a plan (``together``): for each file, the positions in ``units`` of the units
    #: that read it (see ``reading``).
    _readers: dict[str, list[int]] | None = None

    def reading(self, paths: Iterable[str]) -> list[UnitIndex]:
        """The units that read any of ``paths``, in the order of ``units`` (which is the
        plan's: its map of readers serves)."""
        if self.plan is not None:
            readers = self.plan.readers()
        else:
            if self._readers is None:
                self._readers = readers_of(entry.unit for entry in self.units)
            readers = self._readers
        found = {i for path in paths for i in readers.get(path, ())}
        return [self.units[i] for i in sorted(found)]

    @classmethod
    def from_plan(
        cls, plan: Plan, results: Mapping[str, FileResult], previous: Layout | None = None
    ) -> Layout:
        """The units of ``plan`` with their indexes; a unit the plan took unchanged from the
        last one (the same objects) keeps the index ``previous`` made of it."""
        base = plan.base() if plan.base is not None else None
        if (
            previous is not None
            and base is not None
            and base is previous.plan
            and len(base.units) == len(plan.units) == len(previous.units)
            and len(previous.policy_counts) == len(previous.units)
            and len(plan.rebuilt) <= _FEW_UNITS
        ):
            return cls._evolved(plan, results, previous)
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
            units_of = _units_of([planned.unit for planned in plan.units], plan.readers())
        cluster = Index(
            (results[p] for p in sorted(results)),
            (o for planned in plan.units for o in planned.objects),
        )
        return cls(
            units,
            cluster,
            plan.not_applied,
            units_of,
            plan.notes,
            plan,
            [len(u.index.policies) for u in units],
            [len(u.index.workloads) for u in units],
        )

    @classmethod
    def _evolved(cls, plan: Plan, results: Mapping[str, FileResult], previous: Layout) -> Layout:
        """The layout of a plan made from ``previous``'s by making a few units again
        (``plan.rebuilt``), equal to the one ``from_plan`` makes afresh: the other units and
        their indexes are ``previous``'s, and so is every part of the cluster's index that no
        rebuilt unit's objects (before or after) are in. The cluster's policies and workloads
        are in unit order, each unit's a run: the rebuilt units' runs are replaced."""
        units = list(previous.units)
        policies, workloads = list(previous.cluster.policies), list(previous.cluster.workloads)
        policy_counts, workload_counts = (
            list(previous.policy_counts),
            list(previous.workload_counts),
        )
        touched: list[Object | ForeignPolicy] = []
        same_units = True
        # From the last unit to the first, so that the runs before each stay where they were.
        for i in reversed(plan.rebuilt):
            planned, old = plan.units[i], units[i]
            files = [results[p] for p in planned.unit.files if p in results]
            new = units[i] = UnitIndex(planned.unit, Index(files, planned.objects), planned.objects)
            same_units = same_units and (old.unit is new.unit or old.unit == new.unit)
            touched += (*old.objects, *new.objects)
            start = sum(policy_counts[:i])
            policies[start : start + policy_counts[i]] = new.index.policies
            policy_counts[i] = len(new.index.policies)
            start = sum(workload_counts[:i])
            workloads[start : start + workload_counts[i]] = new.index.workloads
            workload_counts[i] = len(new.index.workloads)
        units_of = previous.units_of
        if not same_units:
            units_of = _units_of([entry.unit for entry in units], plan.readers())
        old_cluster = previous.cluster
        before = old_cluster.parts
        spaces = {o.namespace for o in touched if isinstance(o, NetworkPolicy | Workload)}
        if len(spaces) > _FEW_NAMESPACES:  # one pass over every object costs less
            workloads_in, policies_in = by_namespace(workloads), by_namespace(policies)
        else:
            workloads_in, policies_in = dict(before.workloads_in), dict(before.policies_in)
            for space in spaces:
                for part, found in ((workloads_in, workloads), (policies_in, policies)):
                    members = [o for o in found if o.namespace == space]
                    if members:
                        part[space] = members  # type: ignore[assignment]
                    else:
                        part.pop(space, None)
        namespace_objects = before.namespace_objects
        if any(isinstance(o, Namespace) for o in touched):
            namespace_objects = {}
            for entry in units:
                for name, declared in entry.index.namespace_objects.items():
                    namespace_objects.setdefault(name, declared)
        cluster_foreign, foreign_in = before.cluster_foreign, before.foreign_in
        if any(isinstance(o, ForeignPolicy) for o in touched):
            cluster_foreign = tuple(
                f for entry in units for f in entry.index.cluster_foreign_policies
            )
            foreign_in = defaultdict(list)
            for entry in units:
                for space, local in entry.index.parts.foreign_in.items():
                    foreign_in[space].extend(local)
        # The cluster's files in path order, as ``from_plan`` puts them: the workspace's
        # results come so, which one comparison of the paths confirms.
        every = (
            dict(results)
            if list(results) == list(before.files)
            else {p: results[p] for p in sorted(results)}
        )
        cluster = Index.assembled(
            Parts(
                every,
                tuple(policies),
                tuple(workloads),
                namespace_objects,
                cluster_foreign,
                foreign_in,
                workloads_in,
                policies_in,
            )
        )
        cluster.carry_kinds(old_cluster, plan.changed)
        return cls(
            units,
            cluster,
            plan.not_applied,
            units_of,
            plan.notes,
            plan,
            policy_counts,
            workload_counts,
        )

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


def _units_of(units: Sequence[Unit], readers: Mapping[str, list[int]]) -> dict[str, list[Unit]]:
    """For each file, the units that read it, in the order given: ``readers`` (the plan's,
    ``Plan.readers``) says where they are in ``units``."""
    return {path: [units[i] for i in at] for path, at in readers.items()}
