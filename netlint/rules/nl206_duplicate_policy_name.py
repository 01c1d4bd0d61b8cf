"""NL206 duplicate-policy-name: two NetworkPolicies share a namespace and a name."""

from __future__ import annotations

import posixpath
import weakref
from collections.abc import Hashable, Iterator, Sequence

from netlint.api import (
    Context,
    Finding,
    Index,
    LabelSelector,
    NetworkPolicy,
    PolicyRule,
    Related,
    Rule,
    RuleMeta,
    Severity,
)

#: A directory holding one of these is a kustomization: kustomize itself refuses two resources
#: with one id, so a second policy of the same name there is a patch, not a duplicate.
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml")


class DuplicatePolicyName(Rule):
    meta = RuleMeta(
        code="NL206",
        name="duplicate-policy-name",
        severity=Severity.ERROR,
        summary="Two NetworkPolicies applied together (one file, or files of one directory) "
        "have the same name in the same namespace, so the one applied last replaces the other.",
        rationale=(
            "A NetworkPolicy is identified by its namespace and name. `kubectl apply -f dir/` "
            "(and GitOps tools) apply the files of a directory in path order and the documents "
            "of a file in order, so the later definition overwrites the earlier one: the rules "
            "of the first are gone from the cluster although they are still in the repo. This "
            "usually comes from copying a policy and forgetting to rename it. Give each policy "
            "a unique name, or merge the two.\n\n"
            "Namespaces are resolved as `kubectl apply` would: `metadata.namespace`, else the "
            "configured default namespace. Reported: a second definition in the same file "
            "(even an identical copy, which is harmless but usually a copy-paste whose edit "
            "was forgotten), and a second definition with different rules in another file of "
            "the same directory. Not reported: policies in different directories (usually "
            "different deploy units: kustomize overlays, per-environment or per-cluster "
            "folders, test scenarios, which are never applied together); identical copies in "
            "sibling files (alternative bundles such as `install.yaml` and "
            "`namespace-install.yaml`: applying both changes nothing); sibling files in a "
            "kustomization directory (kustomize itself rejects duplicate resources, so a "
            "same-named policy there is a patch); and policies the API server would reject "
            "(NL002). Definitions are compared by their spec (selectors, peers and ports, in "
            "the order written), not by labels or annotations."
        ),
        tags=("correctness",),
        security_severity=5.0,
    )

    def __init__(self) -> None:
        self._by_name: weakref.WeakKeyDictionary[Index, dict[tuple[str, str], list[NetworkPolicy]]]
        self._by_name = weakref.WeakKeyDictionary()

    def _named(self, index: Index, policy: NetworkPolicy) -> Sequence[NetworkPolicy]:
        """The valid policies of the index with this policy's namespace and name, built once
        per index (scanning the namespace for each policy is quadratic in its size)."""
        by_name = self._by_name.get(index)
        if by_name is None:
            by_name = self._by_name[index] = {}
            for other in index.policies:
                if other.valid:
                    by_name.setdefault((other.namespace, other.name), []).append(other)
        return by_name.get((policy.namespace, policy.name), ())

    def check_policy(self, ctx: Context, policy: NetworkPolicy) -> Iterator[Finding]:
        if not policy.valid:
            return
        folder = posixpath.dirname(policy.ref.path)
        kustomized = _is_kustomization(ctx, folder)
        key = _file_order(policy)
        mine = fingerprint(policy)
        earlier = sorted(
            (
                other
                for other in self._named(ctx.index, policy)
                if other is not policy
                and _file_order(other) < key
                and _applied_together(policy, other, kustomized, mine)
            ),
            key=_file_order,
        )
        if not earlier:
            return
        differing = [other for other in earlier if fingerprint(other) != mine]
        first = differing[0] if differing else earlier[0]
        where = (
            f"line {first.name_span.line} of this file"
            if first.ref.path == policy.ref.path
            else f"{posixpath.basename(first.ref.path)}:{first.name_span.line}, same folder"
        )
        what = f"NetworkPolicy {policy.namespace}/{policy.name}"
        if not differing:
            message = (
                f"{what} is defined twice in this file, identically (first at {where}): the copy "
                "changes nothing. Delete it, or, if it was copied to start another policy, give "
                "it its own name and rules."
            )
        else:
            more = f" (and {len(differing) - 1} more)" if len(differing) > 1 else ""
            message = (
                f"{what} is defined again with different rules (first at {where}){more}: "
                "applied in order, this definition replaces the first and its rules are lost. "
                "Rename one of them, or merge them into one policy."
            )
        yield ctx.finding(
            policy.name_span,
            message,
            related=[
                Related(other.name_span, f"earlier definition of {other.namespace}/{other.name}")
                for other in earlier
            ],
            subject=policy,
        )


def _applied_together(
    policy: NetworkPolicy, other: NetworkPolicy, kustomized: bool, mine: Hashable
) -> bool:
    """Whether ``other`` is certainly applied with ``policy`` so that one replaces the other."""
    if other.ref.path == policy.ref.path:
        return True
    if kustomized or posixpath.dirname(other.ref.path) != posixpath.dirname(policy.ref.path):
        return False
    # Identical copies in sibling files are alternative bundles (install.yaml next to
    # namespace-install.yaml, a JSON twin of a YAML file): applying both changes nothing.
    return fingerprint(other) != mine


def _file_order(policy: NetworkPolicy) -> tuple[str, int, tuple[int, ...]]:
    # The prefix is ("items", i) for an item of a kind: List document.
    items = tuple(p for p in policy.ref.prefix if isinstance(p, int))
    return (policy.ref.path, policy.ref.document, items)


def _is_kustomization(ctx: Context, folder: str) -> bool:
    return any(posixpath.join(folder, name) in ctx.index.files for name in KUSTOMIZATION_FILES)


def fingerprint(policy: NetworkPolicy) -> Hashable:
    """What the cluster enforces, as written: equal fingerprints mean re-applying one policy
    over the other changes no traffic (metadata such as labels is left out on purpose)."""
    return (
        _selector(policy.pod_selector),
        tuple(sorted(policy.policy_types)),
        tuple(_rule(r) for r in policy.ingress),
        tuple(_rule(r) for r in policy.egress),
    )


def _selector(selector: LabelSelector | None) -> Hashable:
    if selector is None:
        return None
    return frozenset((r.key, str(r.operator), r.values) for r in selector.requirements)


def _rule(rule: PolicyRule) -> Hashable:
    peers = tuple(
        (
            _selector(peer.pod_selector),
            _selector(peer.namespace_selector),
            None
            if peer.ip_block is None
            else (peer.ip_block.network, frozenset(e.network for e in peer.ip_block.excepts)),
        )
        for peer in rule.peers
    )
    ports = tuple((p.protocol, p.port, p.end_port) for p in rule.ports)
    return (peers, ports)


RULE = DuplicatePolicyName
