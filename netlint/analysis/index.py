"""Who selects whom, computed once per run from every object in the repo.

Answers about namespaces are three-valued where the repo cannot know: a namespace the repo
mentions but does not declare carries only ``kubernetes.io/metadata.name`` for certain, so a
selector on any other label neither matches nor misses it (DESIGN §2, "unknown is not empty").
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from netlint.core.model import (
    BUILTIN_NAMESPACES,
    NAME_LABEL,
    Direction,
    ForeignPolicy,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Object,
    Peer,
    Workload,
)
from netlint.core.selectors import Operator, requirement_matches

if TYPE_CHECKING:  # a type only: the parsing machinery is not needed to ask an index
    from netlint.read.result import FileResult


@dataclass(frozen=True, slots=True)
class NamespaceMatch:
    """Known namespaces a namespaceSelector matches, those it may or may not match, and the
    namespaces it names (by ``kubernetes.io/metadata.name``) that the repo does not know."""

    matched: tuple[str, ...]
    unknown: tuple[str, ...]
    outside: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.unknown and not self.outside


@dataclass(frozen=True, slots=True)
class PeerMatch:
    """Declared workloads a peer selects; ``complete`` is False when namespaces the repo does
    not fully know could hold more (their labels or their workloads are not in the repo)."""

    workloads: tuple[Workload, ...]
    complete: bool


_Namespaced = TypeVar("_Namespaced", NetworkPolicy, Workload)


def by_namespace(objects: Iterable[_Namespaced]) -> dict[str, list[_Namespaced]]:
    """``objects`` by namespace, each namespace's in their order."""
    found: dict[str, list[_Namespaced]] = defaultdict(list)
    for obj in objects:
        found[obj.namespace].append(obj)
    return found


class Parts(NamedTuple):
    """What an index sorts its objects into (``__init__`` makes them; :meth:`Index.assembled`
    takes them made): the files, policies and workloads in order, the first Namespace object
    of each name, other engines' policies (cluster-scoped, and by namespace), and the
    workloads and policies of each namespace (``by_namespace``)."""

    files: dict[str, FileResult]
    policies: tuple[NetworkPolicy, ...]
    workloads: tuple[Workload, ...]
    namespace_objects: dict[str, Namespace]
    cluster_foreign: tuple[ForeignPolicy, ...]
    foreign_in: dict[str, list[ForeignPolicy]]
    workloads_in: dict[str, list[Workload]]
    policies_in: dict[str, list[NetworkPolicy]]


class Index:
    """``files`` with their objects, or with ``objects`` instead: what a deploy unit applies
    (kustomize's output, which may name files many times over) or what every unit does."""

    def __init__(
        self,
        files: Iterable[FileResult],
        objects: Iterable[Object | ForeignPolicy] | None = None,
    ) -> None:
        self.files: dict[str, FileResult] = {}
        policies: list[NetworkPolicy] = []
        workloads: list[Workload] = []
        foreign: list[ForeignPolicy] = []
        for result in files:
            self.files[result.path] = result
        if objects is None:
            objects = (o for r in self.files.values() for o in r.objects)
        namespace_objects: dict[str, Namespace] = {}
        for obj in objects:
            if isinstance(obj, NetworkPolicy):
                policies.append(obj)
            elif isinstance(obj, Workload):
                workloads.append(obj)
            elif isinstance(obj, Namespace):
                namespace_objects.setdefault(obj.name, obj)
            else:
                foreign.append(obj)
        foreign_in: dict[str, list[ForeignPolicy]] = defaultdict(list)
        for item in foreign:
            if item.namespace is not None:
                foreign_in[item.namespace].append(item)
        self._set(
            Parts(
                self.files,
                tuple(policies),
                tuple(workloads),
                namespace_objects,
                tuple(f for f in foreign if f.namespace is None),
                foreign_in,
                by_namespace(workloads),
                by_namespace(policies),
            )
        )

    @classmethod
    def assembled(cls, parts: Parts) -> Index:
        """The index of objects already sorted into its parts, as ``__init__`` sorts them (no
        part is changed afterwards, so parts may be shared with another index): the cluster
        of the language server's next plan is the last one's with the parts an edit touched
        made again (:meth:`Layout.from_plan`)."""
        index = cls.__new__(cls)
        index._set(parts)
        return index

    @property
    def parts(self) -> Parts:
        return Parts(
            self.files,
            self.policies,
            self.workloads,
            self.namespace_objects,
            self.cluster_foreign_policies,
            self._foreign_in,
            self._workloads_in,
            self._policies_in,
        )

    def _set(self, parts: Parts) -> None:
        self.files = parts.files
        self.namespace_objects = parts.namespace_objects
        #: Other engines' policies: cluster-scoped ones, and namespaced ones by namespace.
        self.cluster_foreign_policies: tuple[ForeignPolicy, ...] = parts.cluster_foreign
        self._foreign_in = parts.foreign_in
        self.policies: tuple[NetworkPolicy, ...] = parts.policies
        self.workloads: tuple[Workload, ...] = parts.workloads
        self._workloads_in = parts.workloads_in
        self._policies_in = parts.policies_in
        self.known_namespaces: frozenset[str] = frozenset(
            (
                *parts.namespace_objects,
                *parts.workloads_in,
                *parts.policies_in,
                *BUILTIN_NAMESPACES,
            )
        )
        # Who selects whom is worked out per namespace, when a rule first asks about it: a
        # one-file re-lint touches a few namespaces, not the whole repo.
        self._selecting: dict[Workload, list[NetworkPolicy]] = {}
        self._selected: dict[NetworkPolicy, list[Workload]] = {}
        self._resolved: set[str] = set()
        self._by_label: dict[tuple[str, str], list[Workload]] | None = None
        #: By kind, the paths of the files holding an object of it (see ``files_holding``).
        self._by_kind: dict[str, list[str]] | None = None

    def files_holding(self, kinds: Iterable[str]) -> list[FileResult]:
        """The files that hold an object of one of ``kinds`` (as a document's ``kind``), in
        path order."""
        if self._by_kind is None:
            by_kind: dict[str, list[str]] = defaultdict(list)
            for path in sorted(self.files):  # each list in path order (see ``carry_kinds``)
                for kind, count in self.files[path].kinds.items():
                    if count:
                        by_kind[kind].append(path)
            self._by_kind = by_kind
        found = {p for kind in kinds for p in self._by_kind.get(kind, ())}
        return [self.files[p] for p in sorted(found)]

    def carry_kinds(self, before: Index, changed: Iterable[str]) -> None:
        """Take ``before``'s files by kind, where this index's files are ``before``'s with the
        results of ``changed`` paths replaced (the same paths, in the same order)."""
        if before._by_kind is None:
            return
        by_kind = dict(before._by_kind)
        copied: set[str] = set()
        for path in changed:
            for result, add in ((before.files.get(path), False), (self.files.get(path), True)):
                if result is None:
                    continue
                for kind, count in result.kinds.items():
                    if not count:
                        continue
                    if kind not in copied:  # lists are shared with ``before``: copy once
                        by_kind[kind] = list(by_kind.get(kind, ()))
                        copied.add(kind)
                    paths = by_kind[kind]
                    at = bisect.bisect_left(paths, path)
                    present = at < len(paths) and paths[at] == path
                    if add and not present:
                        paths.insert(at, path)
                    elif not add and present:
                        del paths[at]
        self._by_kind = {kind: paths for kind, paths in by_kind.items() if paths}

    def _resolve(self, namespace: str) -> None:
        if namespace in self._resolved:
            return
        self._resolved.add(namespace)
        candidates = self._workloads_in.get(namespace, [])
        for workload in candidates:
            self._selecting[workload] = []
        by_label: dict[tuple[str, str], list[Workload]] = defaultdict(list)
        if len(candidates) > 16:
            for workload in candidates:
                for pair in workload.pod_labels.items():
                    by_label[pair].append(workload)
        for policy in self._policies_in.get(namespace, ()):
            chosen = [
                w
                for w in self._candidates(policy, candidates, by_label)
                if policy.pod_selector.matches(w.pod_labels)
            ]
            self._selected[policy] = chosen
            for workload in chosen:
                self._selecting[workload].append(policy)

    @staticmethod
    def _candidates(
        policy: NetworkPolicy,
        workloads: Sequence[Workload],
        by_label: Mapping[tuple[str, str], Sequence[Workload]],
    ) -> Sequence[Workload]:
        """Workloads that can match: those carrying one required label, when there is one."""
        if not by_label:
            return workloads
        best: Sequence[Workload] | None = None
        for requirement in policy.pod_selector.requirements:
            if requirement.operator is Operator.IN and len(requirement.values) == 1:
                found = by_label.get((requirement.key, next(iter(requirement.values))), ())
                if best is None or len(found) < len(best):
                    best = found
        return workloads if best is None else best

    # -- namespaces ---------------------------------------------------------------------------

    def is_declared(self, namespace: str) -> bool:
        """Whether a Namespace object in the repo declares it (its labels are then known)."""
        return namespace in self.namespace_objects

    def is_known(self, namespace: str) -> bool:
        """Declared, built in, or home to some object of the repo."""
        return namespace in self.known_namespaces

    def namespace_labels(self, namespace: str) -> Mapping[str, str]:
        """The labels known for certain: all of a declared namespace's, else only its name."""
        declared = self.namespace_objects.get(namespace)
        return declared.labels if declared is not None else {NAME_LABEL: namespace}

    def namespace_selector_matches(self, selector: LabelSelector, namespace: str) -> bool | None:
        """True or False where the repo knows; None for an undeclared namespace when the answer
        depends on labels other than its name."""
        if namespace in self.namespace_objects:
            return selector.matches(self.namespace_objects[namespace].labels)
        labels = {NAME_LABEL: namespace}
        unknown = False
        for requirement in selector.requirements:
            if requirement.key == NAME_LABEL:
                if not requirement_matches(requirement, labels):
                    return False
            else:
                unknown = True
        return None if unknown else True

    def namespaces_matching(self, selector: LabelSelector) -> NamespaceMatch:
        matched: list[str] = []
        unknown: list[str] = []
        for namespace in sorted(self.known_namespaces):
            verdict = self.namespace_selector_matches(selector, namespace)
            if verdict is None:
                unknown.append(namespace)
            elif verdict:
                matched.append(namespace)
        outside = sorted(
            {
                value
                for requirement in selector.requirements
                if requirement.key == NAME_LABEL and requirement.operator is Operator.IN
                for value in requirement.values
                if value not in self.known_namespaces
            }
        )
        return NamespaceMatch(tuple(matched), tuple(unknown), tuple(outside))

    # -- workloads and policies ---------------------------------------------------------------

    def foreign_policies_for(self, namespace: str) -> Sequence[ForeignPolicy]:
        """Other engines' policies that may apply to pods of ``namespace``."""
        local = self._foreign_in.get(namespace, ())
        return (*self.cluster_foreign_policies, *local) if self.cluster_foreign_policies else local

    def workloads_in(self, namespace: str) -> Sequence[Workload]:
        return self._workloads_in.get(namespace, ())

    def policies_in(self, namespace: str) -> Sequence[NetworkPolicy]:
        return self._policies_in.get(namespace, ())

    def namespaces_with_workloads(self) -> Iterable[str]:
        return self._workloads_in.keys()

    def policies_selecting(self, workload: Workload) -> Sequence[NetworkPolicy]:
        """Policies whose podSelector selects the workload's pods (same namespace)."""
        self._resolve(workload.namespace)
        return self._selecting.get(workload, ())

    def selected_workloads(self, policy: NetworkPolicy) -> Sequence[Workload]:
        """Declared workloads whose pods the policy selects."""
        self._resolve(policy.namespace)
        return self._selected.get(policy, ())

    def isolating_policies(self, workload: Workload, direction: Direction) -> list[NetworkPolicy]:
        """Policies that isolate the workload's pods for ``direction``: they select them and
        their effective policyTypes hold it. A policy the API server rejects (NL002) isolates
        nothing. The one definition of isolation: the reachability core and NL101 ask it."""
        return [
            p for p in self.policies_selecting(workload) if p.valid and direction in p.policy_types
        ]

    def workloads_matching(self, selector: LabelSelector) -> Iterator[Workload]:
        """Declared workloads, in any namespace, whose pod labels the selector matches."""
        if self._by_label is None:
            self._by_label = defaultdict(list)
            for workload in self.workloads:
                for pair in workload.pod_labels.items():
                    self._by_label[pair].append(workload)
        candidates: Sequence[Workload] = self.workloads
        for requirement in selector.requirements:
            if requirement.operator is Operator.IN and len(requirement.values) == 1:
                found = self._by_label.get((requirement.key, next(iter(requirement.values))), ())
                if len(found) < len(candidates):
                    candidates = found
        return (w for w in candidates if selector.matches(w.pod_labels))

    def peer_workloads(self, policy: NetworkPolicy, peer: Peer) -> PeerMatch:
        """The declared workloads a (selector) peer of ``policy`` selects."""
        if peer.ip_block is not None or (
            peer.pod_selector is None and peer.namespace_selector is None
        ):
            return PeerMatch((), False)
        if peer.namespace_selector is None:
            namespaces: Sequence[str] = (policy.namespace,)
            complete = True
        else:
            match = self.namespaces_matching(peer.namespace_selector)
            namespaces = match.matched
            complete = match.complete
        pod_selector = peer.pod_selector
        chosen: list[Workload] = []
        for namespace in namespaces:
            if namespace not in self._workloads_in:
                # The repo declares no workload here: what runs there is outside the repo.
                complete = False
                continue
            for workload in self._workloads_in[namespace]:
                if pod_selector is None or pod_selector.matches(workload.pod_labels):
                    chosen.append(workload)
        return PeerMatch(tuple(chosen), complete)
