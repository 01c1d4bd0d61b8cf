"""NL101 unselected-pod: a workload whose pods no NetworkPolicy selects (or isolates)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from netlint.api import (
    Certainty,
    Context,
    Direction,
    Finding,
    Index,
    NetworkPolicy,
    Options,
    Related,
    Rule,
    RuleMeta,
    Severity,
    Workload,
    display,
    listing,
    option,
    plural,
)


@dataclass(frozen=True, slots=True)
class UnselectedPodOptions(Options):
    directions: str | tuple[str, ...] = option(
        "any",
        description="`any`: report pods that no policy selects. A list of `ingress`/`egress`: "
        "report, per listed direction, pods that no selecting policy isolates for that "
        "direction (its effective policyTypes lack it).",
        schema={
            "oneOf": [
                {"const": "any"},
                {
                    "type": "array",
                    "items": {"enum": ["ingress", "egress"]},
                    "minItems": 1,
                    "uniqueItems": True,
                },
            ]
        },
    )


class UnselectedPod(Rule):
    meta = RuleMeta(
        code="NL101",
        name="unselected-pod",
        severity=Severity.WARNING,
        summary="No NetworkPolicy selects the pods of this workload, so all their traffic is "
        "allowed.",
        why=(
            "Kubernetes allows every connection to and from a pod that no NetworkPolicy "
            "selects: a workload added next to policies that list their pods by label stays "
            "wide open until someone writes a policy for it.\n\n"
            "With the `directions` option the check is made per direction: a pod is isolated "
            "for ingress (or egress) only when a policy selecting it lists that direction in "
            "its effective `policyTypes`, so a pod selected only by ingress policies still has "
            "unrestricted egress.\n\n"
            "Every kind that runs pods is checked (Pod, Deployment, StatefulSet, DaemonSet, "
            "ReplicaSet, ReplicationController, Job, CronJob, DeploymentConfig), in the "
            "configured default namespace when it names none."
        ),
        fix=(
            "Give the namespace a default-deny policy (`podSelector: {}` with "
            "`policyTypes: [Ingress, Egress]`) and allow what each workload needs, or add the "
            "workload's labels to a policy's `podSelector`. In per-direction mode, list the "
            "missing direction in the `policyTypes` of a policy that selects the pods, with the "
            "rules they need."
        ),
        not_reported=(
            "Pods with `hostNetwork: true`, which use the node's network namespace where "
            "NetworkPolicies do not apply, so no policy could restrict them.\n\n"
            "A Deployment, StatefulSet, DaemonSet, ReplicaSet or ReplicationController without "
            "pod labels, which the API server would reject: it is a kustomize patch or base, "
            "and the object that runs is assembled elsewhere.\n\n"
            "Workloads that another engine's policy may isolate, which netlint does not read: "
            "those in a namespace with a Calico or Cilium policy, and all of them when the repo "
            "has a cluster-wide one (Calico GlobalNetworkPolicy, "
            "CiliumClusterwideNetworkPolicy, AdminNetworkPolicy).\n\n"
            "Workloads that a policy may select once applied: an object without "
            "`metadata.namespace` lands wherever `kubectl apply -n`, kustomize or Helm puts "
            "it, so such a workload counts as selected by a matching policy of any namespace, "
            "and such a policy selects matching workloads of other namespaces when its "
            "`podSelector` names their labels (a namespace-less `{}` does not count there, or "
            "one test fixture would silence the repo).\n\n"
            "Workloads selected by a policy that the API server would reject (an NL002 "
            "finding): it still counts as selecting the pods its `podSelector` matches. The "
            "NL002 error already fails the run and points at the cause, and once it is fixed "
            "the pods are selected; an NL101 finding on every workload behind a typo would "
            "only bury it.\n\n"
            "Workloads that a policy whose `podSelector` holds a substitution placeholder "
            "(`app: ${APP}`, Flux post-build substitution or envsubst) may select: which pods "
            "it selects is not known until the tool substitutes it, so the workloads it may "
            "apply to are not reported for the directions it isolates."
        ),
        added_in="0.1.0",
        tags=("security", "coverage"),
        security_severity=5.0,
        certainty=Certainty.MAY,
        options=UnselectedPodOptions,
    )

    def check_workload(self, ctx: Context, workload: Workload) -> Iterator[Finding]:
        if (
            workload.host_network
            or workload.is_fragment
            or ctx.cluster.foreign_policies_for(workload.namespace)
        ):
            return
        selecting = _selecting(ctx, workload)
        # A policy whose podSelector is a placeholder may select these pods once substituted.
        templated = _templated(ctx, workload)
        directions = _directions(ctx.options)
        if directions is None:
            if not selecting and not templated:
                yield ctx.finding(
                    workload.name_span,
                    f"{display(workload)}: no NetworkPolicy selects its pods "
                    f"({_labels(workload)}), so all their traffic is allowed",
                    fix=_namespace_fix(ctx, workload),
                    subject=workload,
                )
            return
        for direction in directions:
            if _isolated(ctx, workload, direction, selecting) or any(
                direction in _directions_of(p) for p in templated
            ):
                continue
            lower = direction.value.lower()
            if not selecting:
                yield ctx.finding(
                    workload.name_span,
                    f"{display(workload)}: no NetworkPolicy selects its pods "
                    f"({_labels(workload)}), so all their {lower} traffic is allowed",
                    fix=_namespace_fix(ctx, workload),
                    subject=workload,
                )
                continue
            one = len(selecting) == 1
            names = listing(f"{p.namespace}/{p.name}" for p in selecting)
            yield ctx.finding(
                workload.name_span,
                f"{display(workload)}: its pods are not isolated for {lower}: {names} "
                f"{'selects' if one else 'select'} them without {direction.value} in policyTypes",
                fix=f"List {direction.value} in {'its' if one else 'their'} policyTypes, with "
                f"the {direction.rules_key} rules these pods need, or add a default-deny "
                f"policy for {lower}.",
                related=[
                    Related(
                        p.policy_types_key_span or p.name_span,
                        f"{p.namespace}/{p.name} selects these pods but does not isolate {lower}",
                    )
                    for p in selecting
                ],
                subject=workload,
            )


def _selecting(ctx: Context, workload: Workload) -> list[NetworkPolicy]:
    """The policies that select the workload's pods, or may.

    An object without metadata.namespace lands wherever `kubectl apply -n`, kustomize's
    `namespace:` or Helm puts it. A workload without one may therefore run in any namespace:
    a policy of any namespace whose podSelector matches its pods counts. A policy without one
    counts for the workloads of other namespaces only when its podSelector names their labels
    (it was written for them): a namespace-less `{}` policy, often a test fixture or a
    per-namespace template, would otherwise silence the whole repo."""
    found = list(ctx.cluster.policies_selecting(workload))
    written, unwritten = ctx.cluster_memo(
        "by-namespace-written", lambda: _by_namespace_written(ctx.cluster)
    )
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


def _templated(ctx: Context, workload: Workload) -> Sequence[NetworkPolicy]:
    """The policies that may apply to the workload's namespace whose podSelector holds a
    substitution placeholder (Flux post-build substitution, envsubst: ``app: ${APP}``): which
    pods they select is unknown until a tool substitutes it, so they may select these, for the
    directions their policyTypes name. Those of the namespace, and those without
    metadata.namespace (they land where they are applied); all of them for a workload that may
    run in any namespace. Found once per namespace: a namespace may hold tens of thousands of
    policies and workloads."""
    index = ctx.cluster
    if not workload.namespace_declared:
        return ctx.cluster_memo("templated-anywhere", lambda: _holding(index.policies))
    _, without = ctx.cluster_memo("by-namespace-written", lambda: _by_namespace_written(index))
    unwritten = ctx.cluster_memo("templated-unwritten", lambda: _holding(without))
    space = workload.namespace
    local = ctx.cluster_memo(("templated", space), lambda: _holding(index.policies_in(space)))
    return (*local, *(p for p in unwritten if p.namespace != space))


def _holding(policies: Iterable[NetworkPolicy]) -> tuple[NetworkPolicy, ...]:
    return tuple(p for p in policies if p.pod_selector.holds_placeholder)


def _isolated(
    ctx: Context, workload: Workload, direction: Direction, selecting: Iterable[NetworkPolicy]
) -> bool:
    """Whether a policy isolates the pods for ``direction``: isolation as the reachability core
    defines it (``Index.isolating_policies``, which connectivity and explain ask too), widened
    on purpose as ``not_reported`` says: a policy of another namespace that may select a
    namespace-less object once applied, and a policy the API server rejects, for the direction
    its policyTypes meant."""
    if ctx.cluster.isolating_policies(workload, direction):
        return True
    return any(direction in _directions_of(p) for p in selecting)


def _by_namespace_written(
    index: Index,
) -> tuple[tuple[NetworkPolicy, ...], tuple[NetworkPolicy, ...]]:
    """The repo's policies with metadata.namespace written, and without (once per run: every
    workload's check reads them)."""
    return (
        tuple(p for p in index.policies if p.namespace_declared),
        tuple(p for p in index.policies if not p.namespace_declared),
    )


def _directions(options: UnselectedPodOptions) -> tuple[Direction, ...] | None:
    """None for ``any``; else the listed directions in a fixed order."""
    if options.directions == "any":
        return None
    return tuple(d for d in Direction if d.value.lower() in options.directions)


def _directions_of(policy: NetworkPolicy) -> frozenset[Direction]:
    """The directions a policy isolates. For a policy the API server rejects, also the ones its
    policyTypes names in the wrong case (``ingress``): NL002 reports the typo, and counting
    the direction the author obviously meant keeps NL101 from piling onto it."""
    if policy.valid or policy.declared_policy_types is None:
        return policy.policy_types
    meant = {t.lower() for t, _ in policy.declared_policy_types}
    return policy.policy_types | {d for d in Direction if d.value.lower() in meant}


def _labels(workload: Workload) -> str:
    """The pod labels, the first few: enough to recognise the pods in a line."""
    if not workload.pod_labels:
        return "they have no labels"
    return listing((f"{k}={v}" for k, v in sorted(workload.pod_labels.items())), limit=2)


def _namespace_fix(ctx: Context, workload: Workload) -> str:
    namespace = workload.namespace
    count = len(ctx.cluster.policies_in(namespace))
    if not count:
        return (
            f"The repo has no NetworkPolicy in namespace {namespace}: add a default-deny "
            "policy there."
        )
    return (
        f"None of the {plural(count, 'policy')} in namespace {namespace} matches these pods: "
        "add a default-deny policy there, or their labels to a podSelector."
    )


RULE = UnselectedPod
