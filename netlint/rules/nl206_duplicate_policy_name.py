"""NL206 duplicate-policy-name: two NetworkPolicies share a namespace and a name."""

from __future__ import annotations

import itertools
import posixpath
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass

from netlint.api import (
    Certainty,
    Context,
    Finding,
    Index,
    NetworkPolicy,
    Related,
    Rule,
    RuleMeta,
    Severity,
    display,
    plural,
)

#: A directory holding one of these is a kustomization: kustomize itself refuses two resources
#: with one id, so a second policy of the same name there is a patch, not a duplicate.
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml")


class DuplicatePolicyName(Rule):
    meta = RuleMeta(
        code="NL206",
        name="duplicate-policy-name",
        severity=Severity.ERROR,
        summary="Two NetworkPolicies applied together (one file, or one deploy unit) have the "
        "same name in the same namespace, so the one applied last replaces the other.",
        why=(
            "A NetworkPolicy is identified by its namespace and name. `kubectl apply -f dir/` "
            "(and GitOps tools) apply the files of a directory in path order and the documents "
            "of a file in order, so the later definition overwrites the earlier one: the rules "
            "of the first are gone from the cluster although they are still in the repo. This "
            "usually comes from copying a policy and forgetting to rename it.\n\n"
            "Namespaces are resolved as `kubectl apply` would: `metadata.namespace`, else the "
            "configured default namespace. Reported: a second definition in the same file "
            "(even an identical copy, which is harmless but usually a copy-paste whose edit "
            "was forgotten), and a second definition with different rules in another file of "
            "the same directory of one deploy unit (a folder the config declares applied "
            "as one, a GitOps folder; see docs/units.md)."
        ),
        fix=(
            "Give each policy a unique name, or merge the two. Delete an identical copy, or, "
            "if it was copied to start another policy, give it its own name and rules."
        ),
        not_reported=(
            "Policies of different deploy units, and of different files that no evidence "
            "shows applied together: alternative versions side by side (`policy1.yaml`, "
            "`policy2.yaml`), lab steps, test scenarios; policies in different directories "
            "of one unit (per-environment or per-cluster folders); identical copies in "
            "sibling files (alternative bundles such as `install.yaml` and "
            "`namespace-install.yaml`: applying both changes nothing); "
            "a kustomize build (kustomize itself refuses two resources with one id, and "
            "netlint lists the failed build in `--verbose`); policies named by "
            "`metadata.generateName` (the API server gives each a name of its own); and "
            "policies the API server would reject (NL002).\n\n"
            "Definitions are compared by their spec (selectors, peers and ports, in the order "
            "written), not by labels or annotations: copies that differ only there are the "
            "same policy."
        ),
        added_in="0.1.0",
        tags=("correctness",),
        security_severity=5.0,
        certainty=Certainty.TOGETHER,
    )

    def check_policy(self, ctx: Context, policy: NetworkPolicy) -> Iterator[Finding]:
        if not policy.valid or policy.generated_name:
            return
        groups = ctx.memo("groups", lambda: _groups(ctx.index))
        group = groups.get((policy.namespace, policy.name))
        if group is None or len(group) < 2:
            return
        # Verdicts for the whole group at once, the first time one of its policies is checked:
        # one pass in file order, each policy's fingerprint computed once (a worker that checks
        # other namespaces never computes them).
        verdicts = ctx.memo(("group", policy.namespace, policy.name), lambda: _verdicts(ctx, group))
        verdict = verdicts.get(id(policy))
        if verdict is None:
            return
        yield _finding(ctx, policy, verdict)


@dataclass(frozen=True, slots=True)
class _Verdict:
    """What one definition's finding says: how many earlier definitions it is applied with, how
    many of those differ from it, the one the message names, and the few related locations."""

    earlier: int
    differing: int
    named: NetworkPolicy
    related: tuple[tuple[NetworkPolicy, str], ...]


#: At most this many earlier definitions are given as related locations of one finding: listing
#: them all makes N copies of a policy cost N²/2 locations (gigabytes of SARIF for a few
#: thousand copies); the message carries the counts instead.
MAX_RELATED = 3


def _groups(index: Index) -> dict[tuple[str, str], list[NetworkPolicy]]:
    """The valid policies of the index by namespace and name (a name the API server makes
    from generateName is each policy's own)."""
    groups: dict[tuple[str, str], list[NetworkPolicy]] = {}
    for other in index.policies:
        if other.valid and not other.generated_name:
            groups.setdefault((other.namespace, other.name), []).append(other)
    return groups


#: Matches no fingerprint: ``_Seen.first(_ANY, k)`` is the first k definitions of any kind.
_ANY: Hashable = object()


class _Seen:
    """Definitions seen so far in one scope (a file, or the earlier files of a folder), in file
    order, summarised so that each question below costs O(1) whatever the number of definitions:
    counts per fingerprint, the first few of each fingerprint (dict order = order of first
    appearance), the last one, and the last one of a fingerprint other than the last one's."""

    __slots__ = ("counts", "firsts", "last", "last_other", "total")

    def __init__(self) -> None:
        self.total = 0
        self.counts: dict[Hashable, int] = {}
        self.firsts: dict[Hashable, list[_Entry]] = {}
        self.last: _Entry | None = None
        self.last_other: _Entry | None = None

    def add(self, entry: _Entry) -> None:
        self.total += 1
        self.counts[entry.fp] = self.counts.get(entry.fp, 0) + 1
        firsts = self.firsts.setdefault(entry.fp, [])
        if len(firsts) < MAX_RELATED:
            firsts.append(entry)
        if self.last is not None and self.last.fp != entry.fp:
            self.last_other = self.last
        self.last = entry

    def differing(self, fp: Hashable) -> int:
        """How many definitions have a fingerprint other than ``fp``."""
        return self.total - self.counts.get(fp, 0)

    def first(self, fp: Hashable, k: int) -> list[_Entry]:
        """The first ``k`` definitions whose fingerprint is not ``fp``, in file order. Each of
        them has one of the first k fingerprints other than ``fp`` to appear (k earlier ones
        would push it out of the first k), so only the first few of those are looked at."""
        kinds = (entries for other, entries in self.firsts.items() if other != fp)
        chosen = [e for entries in itertools.islice(kinds, k) for e in entries]
        return sorted(chosen, key=lambda e: e.order)[:k]

    def last_differing(self, fp: Hashable) -> _Entry | None:
        """The last definition whose fingerprint is not ``fp``."""
        if self.last is not None and self.last.fp != fp:
            return self.last
        return self.last_other


@dataclass(frozen=True, slots=True)
class _Entry:
    policy: NetworkPolicy
    order: tuple[str, int, tuple[int, ...]]
    fp: Hashable


def _verdicts(ctx: Context, group: Sequence[NetworkPolicy]) -> dict[int, _Verdict]:
    """The verdict of each definition of one namespace/name that replaces an earlier one, by
    ``id`` of the policy. Linear in the group: folders apart (never applied together), each
    folder in file order, with what was seen in this file and in the folder's earlier files."""
    by_folder: dict[str, list[_Entry]] = {}
    for policy in group:
        entry = _Entry(policy, _file_order(policy), fingerprint(policy))
        by_folder.setdefault(posixpath.dirname(policy.ref.path), []).append(entry)
    verdicts: dict[int, _Verdict] = {}
    for folder, entries in by_folder.items():
        if len(entries) < 2:
            continue
        entries.sort(key=lambda e: e.order)
        # Sibling files of a kustomization are never compared (a same-named policy is a patch),
        # so there the earlier files count for nothing.
        kustomized = _is_kustomization(ctx, folder)
        files = _Seen()  # the folder's earlier files
        here = _Seen()  # this file, up to the definition at hand
        in_file: list[_Entry] = []
        for entry in entries:
            if in_file and entry.policy.ref.path != in_file[0].policy.ref.path:
                if not kustomized:
                    for seen in in_file:
                        files.add(seen)
                here, in_file = _Seen(), []
            verdict = _verdict(entry, here, files)
            if verdict is not None:
                verdicts[id(entry.policy)] = verdict
            here.add(entry)
            in_file.append(entry)
    return verdicts


def _verdict(entry: _Entry, here: _Seen, files: _Seen) -> _Verdict | None:
    """The verdict of one definition, given the earlier ones of its file and of its folder's
    earlier files. It is applied together with every earlier definition of its file, and with
    those of sibling files that have other rules (identical copies in sibling files are
    alternative bundles such as install.yaml next to namespace-install.yaml: applying both
    changes nothing)."""
    fp = entry.fp
    siblings = files.differing(fp)
    earlier = siblings + here.total
    if earlier == 0:
        return None
    differing = siblings + here.differing(fp)
    # Sibling files come before this file in path order, so the earliest definitions are theirs.
    earliest = files.first(fp, 1)[0] if siblings else here.first(_ANY, 1)[0]
    # The message names the first definition with other rules (else the first copy), not the
    # one just before: the first is the original a copy was made from, and it is the same on
    # every later duplicate, so a user fixing N copies is pointed at one place. The previous
    # definition, which is the one `kubectl apply` actually overwrites with this one, is given
    # as a related location.
    if siblings:
        named = earliest
    elif differing:
        named = here.first(fp, 1)[0]
    else:
        named = earliest
    previous = here.last if here.total else files.last_differing(fp)
    assert previous is not None  # there is an earlier definition
    what = f"{entry.policy.namespace}/{entry.policy.name}"
    related: list[tuple[_Entry, str]]
    if earlier <= MAX_RELATED:
        shown = files.first(fp, MAX_RELATED) + here.first(_ANY, MAX_RELATED)
        related = [(e, f"earlier definition of {what}") for e in shown]
    else:
        roles: dict[int, tuple[_Entry, list[str]]] = {}
        for e, role in (
            (earliest, "the first"),
            (named, "the first with other rules"),
            (previous, f"the previous one, which this one replaces ({earlier} earlier in all)"),
        ):
            if named is earliest and role == "the first with other rules":
                continue
            roles.setdefault(id(e), (e, []))[1].append(role)
        chosen = sorted(roles.values(), key=lambda pair: pair[0].order)
        related = [(e, f"earlier definition of {what}: {', '.join(r)}") for e, r in chosen]
    return _Verdict(
        earlier=earlier,
        differing=differing,
        named=named.policy,
        related=tuple((e.policy, text) for e, text in related),
    )


def _finding(ctx: Context, policy: NetworkPolicy, verdict: _Verdict) -> Finding:
    first = verdict.named
    where = (
        f"line {first.name_span.line} of this file"
        if first.ref.path == policy.ref.path
        else f"{posixpath.basename(first.ref.path)}:{first.name_span.line}, same folder"
    )
    what = display(policy)
    if not verdict.differing:
        # Only copies in the same file are reported (see _verdict), so "first at" is in it.
        if verdict.earlier == 1:
            message = f"{what} is defined twice in this file, identically (first at {where})"
        else:
            copies = plural(verdict.earlier, "earlier copy", "earlier copies")
            message = (
                f"{what} is defined again in this file, identically ({copies}, first at {where})"
            )
        message += ": the copy changes nothing"
        fix = (
            "Delete it, or, if it was copied to start another policy, give it its own name "
            "and rules."
        )
    else:
        if verdict.differing == 1:
            message = (
                f"{what} is defined again with different rules (first at {where}): applying "
                "it replaces the first"
            )
        else:
            others = plural(verdict.differing, "earlier definition")
            message = (
                f"{what} is defined again with different rules ({others} differ, first at "
                f"{where}): applying it replaces them"
            )
        fix = "Rename one of them, or merge them into one policy."
    return ctx.finding(
        policy.name_span,
        message,
        fix=fix,
        related=[Related(other.name_span, text) for other, text in verdict.related],
        subject=policy,
    )


def _file_order(policy: NetworkPolicy) -> tuple[str, int, tuple[int, ...]]:
    # The prefix is ("items", i) for an item of a kind: List document.
    items = tuple(p for p in policy.ref.prefix if isinstance(p, int))
    return (policy.ref.path, policy.ref.document, items)


def _is_kustomization(ctx: Context, folder: str) -> bool:
    return any(posixpath.join(folder, name) in ctx.cluster.files for name in KUSTOMIZATION_FILES)


def fingerprint(policy: NetworkPolicy) -> Hashable:
    """What the cluster enforces, as written: equal fingerprints mean re-applying one policy
    over the other changes no traffic (metadata such as labels is left out on purpose)."""
    return policy.semantic_key()


RULE = DuplicatePolicyName
