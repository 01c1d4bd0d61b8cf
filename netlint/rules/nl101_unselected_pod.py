"""NL101 unselected-pod: a workload whose pods no NetworkPolicy selects (or isolates)."""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from netlint.api import (
    Context,
    Direction,
    Finding,
    Index,
    NetworkPolicy,
    Related,
    Rule,
    RuleMeta,
    Severity,
    Workload,
)

#: How many policies a message names before it says "and N more".
_NAMED = 3


class UnselectedPod(Rule):
    meta = RuleMeta(
        code="NL101",
        name="unselected-pod",
        severity=Severity.WARNING,
        summary="No NetworkPolicy selects the pods of this workload, so all their traffic is "
        "allowed.",
        rationale=(
            "Kubernetes allows every connection to and from a pod that no NetworkPolicy "
            "selects: a workload added next to policies that list their pods by label stays "
            "wide open until someone writes a policy for it. Give the namespace a default-deny "
            "policy (`podSelector: {}` with `policyTypes: [Ingress, Egress]`) and allow what "
            "each workload needs, or add the workload's labels to a policy's `podSelector`. "
            "With the `directions` option the check is made per direction: a pod is isolated "
            "for ingress (or egress) only when a policy selecting it lists that direction in "
            "its effective `policyTypes`, so a pod selected only by ingress policies still has "
            "unrestricted egress.\n\n"
            "Every kind that runs pods is checked (Pod, Deployment, StatefulSet, DaemonSet, "
            "ReplicaSet, ReplicationController, Job, CronJob, DeploymentConfig), in the "
            "configured default namespace when it names none. Not reported: pods with "
            "`hostNetwork: true`, which use the node's network namespace where NetworkPolicies "
            "do not apply, so no policy could restrict them; a Deployment, StatefulSet, "
            "DaemonSet, ReplicaSet or ReplicationController without pod labels, which the API "
            "server would reject: it is a kustomize patch or base, and the object that runs is "
            "assembled elsewhere; and workloads that another engine's policy may isolate, which "
            "netlint does not read: those in a namespace with a Calico or Cilium policy, and all "
            "of them when the repo has a cluster-wide one (Calico GlobalNetworkPolicy, "
            "CiliumClusterwideNetworkPolicy, AdminNetworkPolicy). An object without "
            "`metadata.namespace` lands wherever `kubectl apply -n`, "
            "kustomize or Helm puts it: such a workload counts as selected by a matching policy "
            "of any namespace, and such a policy selects matching workloads of other namespaces "
            "when its `podSelector` names their labels (a namespace-less `{}` does not count "
            "there, or one test fixture would silence the repo). A policy that the API server "
            "would reject (an NL002 finding) still counts as selecting the pods its "
            "`podSelector` matches: the NL002 error already fails the run and points at the "
            "cause, and once it is fixed the pods are selected; an NL101 finding on every "
            "workload behind a typo would only bury it."
        ),
        tags=("security", "coverage"),
        security_severity=5.0,
        options={"directions": "any"},
        options_schema={
            "directions": {
                "description": "`any`: report pods that no policy selects. A list of "
                "`ingress`/`egress`: report, per listed direction, pods that no selecting "
                "policy isolates for that direction (its effective policyTypes lack it).",
                "oneOf": [
                    {"const": "any"},
                    {
                        "type": "array",
                        "items": {"enum": ["ingress", "egress"]},
                        "minItems": 1,
                        "uniqueItems": True,
                    },
                ],
            }
        },
    )

    def check_workload(self, ctx: Context, workload: Workload) -> Iterator[Finding]:
        if (
            workload.host_network
            or workload.is_fragment
            or ctx.index.foreign_policies_for(workload.namespace)
        ):
            return
        selecting = _selecting(ctx.index, workload)
        directions = _directions(ctx.options.get("directions", "any"))
        if directions is None:
            if not selecting:
                yield ctx.finding(
                    workload.name_span,
                    f"{_what(workload)}: no NetworkPolicy selects its pods, so all their ingress "
                    f"and egress traffic is allowed ({_labels(workload)}; "
                    f"{_namespace_hint(ctx, workload)})",
                    subject=workload,
                )
            return
        for direction in directions:
            if any(direction in _directions_of(p) for p in selecting):
                continue
            traffic = "to" if direction is Direction.INGRESS else "from"
            opening = (
                f"{_what(workload)}: its pods are not isolated for {direction.value.lower()}, "
                f"so all {direction.value.lower()} traffic {traffic} them is allowed; "
            )
            if not selecting:
                yield ctx.finding(
                    workload.name_span,
                    opening + f"no NetworkPolicy selects them ({_labels(workload)}; "
                    f"{_namespace_hint(ctx, workload)})",
                    subject=workload,
                )
                continue
            yield ctx.finding(
                workload.name_span,
                opening + f"{_names(selecting)} {'selects' if len(selecting) == 1 else 'select'} "
                f"them, but {'its' if len(selecting) == 1 else 'their'} policyTypes "
                f"{'lacks' if len(selecting) == 1 else 'lack'} {direction.value}: list "
                f"{direction.value} there, with the {direction.rules_key} rules these pods need, "
                "or add a default-deny policy for that direction",
                related=[
                    Related(
                        p.policy_types_key_span or p.name_span,
                        f"{p.namespace}/{p.name} selects these pods but does not isolate "
                        f"{direction.value.lower()}",
                    )
                    for p in selecting
                ],
                subject=workload,
            )


def _selecting(index: Index, workload: Workload) -> list[NetworkPolicy]:
    """The policies that select the workload's pods, or may.

    An object without metadata.namespace lands wherever `kubectl apply -n`, kustomize's
    `namespace:` or Helm puts it. A workload without one may therefore run in any namespace:
    a policy of any namespace whose podSelector matches its pods counts. A policy without one
    counts for the workloads of other namespaces only when its podSelector names their labels
    (it was written for them): a namespace-less `{}` policy, often a test fixture or a
    per-namespace template, would otherwise silence the whole repo."""
    found = list(index.policies_selecting(workload))
    written, unwritten = _by_namespace_written(index)
    if workload.namespace_declared:
        others: Iterable[NetworkPolicy] = (p for p in unwritten if not p.pod_selector.is_empty)
    else:
        others = (*written, *unwritten)
    for policy in others:
        if policy.namespace != workload.namespace and policy.pod_selector.matches(
            workload.pod_labels
        ):
            found.append(policy)
    return found


_SPLIT: weakref.WeakKeyDictionary[
    Index, tuple[tuple[NetworkPolicy, ...], tuple[NetworkPolicy, ...]]
] = weakref.WeakKeyDictionary()


def _by_namespace_written(
    index: Index,
) -> tuple[tuple[NetworkPolicy, ...], tuple[NetworkPolicy, ...]]:
    """The repo's policies with metadata.namespace written, and without (computed once)."""
    found = _SPLIT.get(index)
    if found is None:
        found = (
            tuple(p for p in index.policies if p.namespace_declared),
            tuple(p for p in index.policies if not p.namespace_declared),
        )
        _SPLIT[index] = found
    return found


def _directions(option: Any) -> tuple[Direction, ...] | None:
    """None for ``any``; else the listed directions in a fixed order (config validated it)."""
    if not isinstance(option, (list, tuple)):
        return None
    wanted = {str(item).lower() for item in option}
    return tuple(d for d in Direction if d.value.lower() in wanted)


def _directions_of(policy: NetworkPolicy) -> frozenset[Direction]:
    """The directions a policy isolates. For a policy the API server rejects, also the ones its
    policyTypes names in the wrong case (``ingress``): NL002 reports the typo, and counting
    the direction the author obviously meant keeps NL101 from piling onto it."""
    if policy.valid or policy.declared_policy_types is None:
        return policy.policy_types
    meant = {t.lower() for t, _ in policy.declared_policy_types}
    return policy.policy_types | {d for d in Direction if d.value.lower() in meant}


def _what(workload: Workload) -> str:
    return f"{workload.kind} {workload.namespace}/{workload.name}"


def _labels(workload: Workload) -> str:
    if not workload.pod_labels:
        return "its pods have no labels"
    pairs = ",".join(f"{k}={v}" for k, v in sorted(workload.pod_labels.items()))
    return f"pod labels {pairs}"


def _names(policies: Sequence[NetworkPolicy]) -> str:
    shown = ", ".join(f"{p.namespace}/{p.name}" for p in policies[:_NAMED])
    more = len(policies) - _NAMED
    return shown + (f" and {more} more" if more > 0 else "")


def _namespace_hint(ctx: Context, workload: Workload) -> str:
    count = len(ctx.index.policies_in(workload.namespace))
    if not count:
        return (
            f"the repo has no NetworkPolicy in namespace {workload.namespace}: "
            "add a default-deny policy there"
        )
    return (
        f"none of the {count} {'policy' if count == 1 else 'policies'} in namespace "
        f"{workload.namespace} matches them: add a default-deny policy or these labels to a "
        "podSelector"
    )


RULE = UnselectedPod
