"""NL102 dangling-selector: a selector that matches nothing the repo declares."""

from __future__ import annotations

import difflib
import posixpath
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from netlint.api import (
    NAME_LABEL,
    Certainty,
    Context,
    Finding,
    Index,
    LabelSelector,
    NetworkPolicy,
    Operator,
    Peer,
    PolicyRule,
    Related,
    Requirement,
    Rule,
    RuleMeta,
    Severity,
    Span,
    Workload,
    describe,
    display,
    listing,
    plural,
    requirement_matches,
)

#: How similar (difflib ratio) a label key or value must be to be offered as "did you mean".
_CLOSE = 0.75
#: The same for a whole ``key: value`` when both the key and the value differ.
_CLOSE_PAIR = 0.8


class DanglingSelector(Rule):
    meta = RuleMeta(
        code="NL102",
        name="dangling-selector",
        severity=Severity.WARNING,
        summary="A podSelector or namespaceSelector matches nothing the repo declares: the "
        "policy applies to no pod, or the peer allows no traffic.",
        why=(
            "A selector that matches nothing fails silently: a `spec.podSelector` that selects "
            "no pod leaves the pods it was written for unprotected, and a peer that matches no "
            "pod or namespace allows nothing, so the traffic it was meant to allow is dropped "
            "once the destination is isolated. The usual causes are a typo in a label, a label "
            "renamed in the workload but not in the policy, and a podSelector alone (which only "
            "looks in the policy's own namespace) where a namespaceSelector was needed.\n\n"
            "In a peer with both selectors (AND), the part that matches nothing is reported: "
            "the namespaceSelector when it matches no namespace, else the podSelector. Rules of "
            "a direction that policyTypes leaves out are checked too."
        ),
        fix=(
            "Correct the label: the finding suggests the closest label that exists (or the "
            "object that meets the most requirements, and what it misses) and says where pods "
            "with these labels run. When they run in another namespace, add a "
            "namespaceSelector for it to the same peer (a podSelector alone looks only in the "
            "policy's own namespace), or put the policy in their namespace (a policy selects "
            "pods of its own namespace only)."
        ),
        not_reported=(
            "An empty selector `{}` never dangles. Policies with NL002 errors are not "
            "checked.\n\n"
            'Only what the repo knows is judged ("unknown is not empty"). Pod selectors are '
            "not judged in a namespace where the repo declares no workload, declares only a "
            "patch of one, or keeps a custom resource whose operator runs pods (Prometheus, "
            "Kafka, Elasticsearch...; taken from the same folder), nor anywhere when a "
            "kustomization's folder holds a workload without labels or namespace (`commonLabels` "
            "adds them). A workload without `metadata.namespace` may run in any namespace, and "
            "a policy without one may apply in any.\n\n"
            "A namespaceSelector is not judged when it names by `kubernetes.io/metadata.name` a "
            "namespace the repo does not know, when a namespace the repo mentions without "
            "declaring it could carry its labels, or when it uses a label key that no Namespace "
            "object of the repo carries (it selects namespaces labelled outside the repo; a key "
            "within typo distance of a used one is still judged). A built-in namespace "
            "(`kube-system`...) that the repo neither declares nor uses is taken to carry only "
            "its name label, unless the selector names it in a label value (`name: "
            "kube-system`, a label admins often add)."
        ),
        added_in="0.1.0",
        tags=("correctness", "typo"),
        security_severity=4.0,
        certainty=Certainty.MAY,
    )

    def check_policy(self, ctx: Context, policy: NetworkPolicy) -> Iterator[Finding]:
        if not policy.valid:
            return
        known = ctx.cluster_memo("knowledge", lambda: _knowledge(ctx.cluster))
        finding = _check_target(ctx, known, policy)
        if finding is not None:
            yield finding
        for rule in (*policy.ingress, *policy.egress):
            for peer in rule.peers:
                if peer.ip_block is None:
                    finding = _check_peer(ctx, known, policy, rule, peer)
                    if finding is not None:
                        yield finding


# ---------------------------------------------------------------------------------------------
# What the repo knows about namespaces, computed once per run (in the run's memo)


@dataclass(frozen=True, slots=True)
class _Knowledge:
    #: Label keys (besides the name label) that the repo's Namespace objects carry.
    vocabulary: frozenset[str]
    #: Namespaces the repo declares or puts objects in.
    mentioned: frozenset[str]
    #: Namespaces whose pods the repo declares only in part: they hold a workload fragment (a
    #: kustomize patch of a workload deployed from elsewhere), or their objects sit next to a
    #: custom resource whose operator runs pods (a Prometheus, a Kafka...).
    incomplete: frozenset[str]
    #: Workloads without metadata.namespace: they land where kubectl -n, kustomize or Helm
    #: puts them, so they may run in any namespace.
    floating: tuple[Workload, ...]
    #: Whether a kustomization's folder holds a workload without labels or namespace (a base
    #: whose labels `commonLabels` adds): pods with unknown labels may run in any namespace.
    blind: bool
    #: namespaceSelector answers, by requirements (selectors repeat across policies).
    scopes: dict[tuple[tuple[str, str, tuple[str, ...]], ...], _NamespaceScope] = field(
        default_factory=dict
    )


def _knowledge(index: Index) -> _Knowledge:
    vocabulary = frozenset(
        key for ns in index.namespace_objects.values() for key in ns.labels if key != NAME_LABEL
    )
    mentioned = frozenset(
        n
        for n in index.known_namespaces
        if index.is_declared(n) or index.workloads_in(n) or index.policies_in(n)
    )
    incomplete = {w.namespace for w in index.workloads if w.namespace_declared and w.is_fragment}
    # The rule API does not give a custom resource's namespace: take those of the objects in
    # the same directory (a component's folder, a namespace's folder). Few repos hold such a
    # resource, and the language server asks again after every edit: the walk over every
    # file's objects is done only when there is one.
    operated = {posixpath.dirname(f.path) for f in index.files_holding(_POD_RUNNING_KINDS)}
    if operated:
        incomplete.update(
            obj.ref.namespace
            for f in index.files.values()
            if posixpath.dirname(f.path) in operated
            for obj in f.objects
        )
    floating = tuple(w for w in index.workloads if not w.namespace_declared and not w.is_fragment)
    # Likewise, the kustomization folders matter only when a fragment has no namespace.
    suspects = [w for w in index.workloads if not w.namespace_declared and w.is_fragment]
    blind = False
    if suspects:
        kustomized = {posixpath.dirname(f.path) for f in index.files_holding(("Kustomization",))}
        blind = any(posixpath.dirname(w.ref.path) in kustomized for w in suspects)
    return _Knowledge(vocabulary, mentioned, frozenset(incomplete), floating, blind)


#: Custom resources whose operators run pods the repo does not declare as workloads.
_POD_RUNNING_KINDS = frozenset(
    (
        # prometheus-operator
        "Prometheus",
        "PrometheusAgent",
        "Alertmanager",
        "ThanosRuler",
        # Strimzi, ECK, RabbitMQ, Crunchy, Zalando, MongoDB, KubeVirt
        "Kafka",
        "KafkaConnect",
        "KafkaMirrorMaker2",
        "KafkaBridge",
        "Elasticsearch",
        "Kibana",
        "Logstash",
        "RabbitmqCluster",
        "PostgresCluster",
        "postgresql",
        "MongoDBCommunity",
        "VirtualMachine",
        # Argo, Kubeflow, KServe, Spark, OpenTelemetry
        "Rollout",
        "Workflow",
        "CronWorkflow",
        "Notebook",
        "InferenceService",
        "SparkApplication",
        "OpenTelemetryCollector",
    )
)


@dataclass(frozen=True, slots=True)
class _NamespaceScope:
    matched: tuple[str, ...]
    #: Whether namespaces the repo does not fully know may match too.
    open: bool


def _namespace_scope(index: Index, known: _Knowledge, selector: LabelSelector) -> _NamespaceScope:
    signature = tuple(
        sorted((r.key, r.operator.value, tuple(sorted(r.values))) for r in selector.requirements)
    )
    found = known.scopes.get(signature)
    if found is None:
        found = _resolve_scope(index, known, selector)
        known.scopes[signature] = found
    return found


def _resolve_scope(index: Index, known: _Knowledge, selector: LabelSelector) -> _NamespaceScope:
    open_world = any(_reaches_outside(index, known, r) for r in selector.requirements)
    matched: list[str] = []
    for namespace in _possible_namespaces(index, selector):
        if namespace in known.mentioned:
            verdict = index.namespace_selector_matches(selector, namespace)
        elif any(namespace in r.values for r in selector.requirements if r.key != NAME_LABEL):
            # A built-in namespace named in a label value (`name: kube-system`): admins often
            # add such labels, and the repo cannot tell.
            verdict = None
        else:
            verdict = selector.matches({NAME_LABEL: namespace})
        if verdict is None:
            open_world = True
        elif verdict:
            matched.append(namespace)
    return _NamespaceScope(tuple(matched), open_world)


def _possible_namespaces(index: Index, selector: LabelSelector) -> Iterable[str]:
    """The known namespaces worth testing: only the named ones when the name label is
    required to be one of a few values."""
    for requirement in selector.requirements:
        if requirement.key == NAME_LABEL and requirement.operator is Operator.IN:
            return sorted(n for n in requirement.values if n in index.known_namespaces)
    return sorted(index.known_namespaces)


def _reaches_outside(index: Index, known: _Knowledge, requirement: Requirement) -> bool:
    """Whether a requirement may be met by namespaces the repo does not know."""
    if requirement.operator not in (Operator.IN, Operator.EXISTS):
        return False
    if requirement.key == NAME_LABEL:
        return requirement.operator is Operator.IN and any(
            value not in index.known_namespaces for value in requirement.values
        )
    if requirement.key in known.vocabulary:
        return False
    return not difflib.get_close_matches(requirement.key, known.vocabulary, n=1, cutoff=_CLOSE)


# ---------------------------------------------------------------------------------------------
# The checks


def _check_target(ctx: Context, known: _Knowledge, policy: NetworkPolicy) -> Finding | None:
    """spec.podSelector: judged only where the repo declares the workloads."""
    index = ctx.cluster
    selector = policy.pod_selector
    candidates = _candidates(ctx, known, policy, (policy.namespace,), home=True)
    if candidates is None or any(selector.matches(w.pod_labels) for w in candidates):
        return None
    hint, related = _pod_hint(index, selector, candidates, (policy.namespace,), looking="target")
    declared = plural(len(index.workloads_in(policy.namespace)), "workload")
    return ctx.finding(
        selector.key_span,
        f"spec.podSelector `{selector}` of {display(policy)} selects no pod of the {declared} "
        "in its namespace",
        fix=hint or "Correct the selector to the labels of the pods the policy is for.",
        related=related,
        subject=policy,
    )


def _candidates(
    ctx: Context,
    known: _Knowledge,
    policy: NetworkPolicy,
    namespaces: Sequence[str],
    *,
    home: bool,
) -> Sequence[Workload] | None:
    """The workloads whose pods may run in ``namespaces`` (the policy's own namespace when
    ``home``); None when the repo does not know them all (a namespace without declared
    workloads, or one it declares only in part)."""
    index = ctx.cluster
    if known.blind or any(
        not index.workloads_in(ns) or ns in known.incomplete for ns in namespaces
    ):
        return None
    # The policy itself lands wherever it is applied: any workload may be its neighbour.
    anywhere = home and not policy.namespace_declared
    # Once per run for each set of namespaces, not per selector: listed per selector, a
    # namespace of n workloads and n policies cost n^2.
    return ctx.cluster_memo(
        ("candidates", None if anywhere else tuple(namespaces)),
        lambda: _workloads_of(index, known, namespaces, anywhere),
    )


def _workloads_of(
    index: Index, known: _Knowledge, namespaces: Sequence[str], anywhere: bool
) -> tuple[Workload, ...]:
    if anywhere:
        return tuple(w for w in index.workloads if not w.is_fragment)
    found = [w for ns in namespaces for w in index.workloads_in(ns) if not w.is_fragment]
    found += [w for w in known.floating if w.namespace not in namespaces]
    return tuple(found)


def _check_peer(
    ctx: Context, known: _Knowledge, policy: NetworkPolicy, rule: PolicyRule, peer: Peer
) -> Finding | None:
    index = ctx.cluster
    where = f"{rule.direction.rules_key}[{rule.index}].{rule.direction.peers_key}[{peer.index}]"
    namespaces: Sequence[str] = (policy.namespace,)
    ns_selector = peer.namespace_selector
    if ns_selector is not None:
        scope = _namespace_scope(index, known, ns_selector)
        if scope.open:
            return None
        if not scope.matched:
            return _namespace_finding(ctx, policy, ns_selector, where)
        namespaces = scope.matched
    pod_selector = peer.pod_selector
    if pod_selector is None:
        return None
    candidates = _candidates(ctx, known, policy, namespaces, home=ns_selector is None)
    if candidates is None or any(pod_selector.matches(w.pod_labels) for w in candidates):
        return None
    hint, related = _pod_hint(
        index,
        pod_selector,
        candidates,
        namespaces,
        looking="alone" if ns_selector is None else "and",
    )
    if ns_selector is None:
        looked = f"in namespace {policy.namespace}"
        alone = "A podSelector alone looks only in its policy's namespace."
        fix = (
            f"{hint} {alone}"
            if hint
            else f"Correct its labels, or add a namespaceSelector. {alone}"
        )
    else:
        where_ns = "namespace" if len(namespaces) == 1 else "namespaces"
        looked = f"in {where_ns} {listing(namespaces)} (namespaceSelector `{ns_selector}`)"
        fix = (
            hint or "Correct its labels, or make the namespaceSelector select the pods' namespace."
        )
    return ctx.finding(
        pod_selector.key_span,
        f"{where} podSelector `{pod_selector}` matches no pod {looked}: this peer allows nothing",
        fix=fix,
        related=related,
        subject=policy,
    )


def _namespace_finding(
    ctx: Context, policy: NetworkPolicy, selector: LabelSelector, where: str
) -> Finding:
    declared = ctx.cluster_memo("declared", lambda: _declared(ctx.cluster))
    # The same hint for every selector that requires the same, in the same order (the hint
    # follows that order): a repo of a thousand Namespaces whose policies name one that is
    # not there compared each with every label again.
    requires = tuple((r.key, r.operator, r.values) for r in selector.requirements)
    hint, related = ctx.cluster_memo(
        ("namespace hint", requires), lambda: _label_hint(selector, declared)
    )
    return ctx.finding(
        selector.key_span,
        f"{where} namespaceSelector `{selector}` matches no namespace the repo knows "
        f"({len(declared)} declared, and the built-in ones): this peer allows nothing",
        fix=hint or "Correct its labels, or label the Namespace objects the peer is meant for.",
        related=related,
        subject=policy,
    )


def _declared(index: Index) -> list[Labelled]:
    """The declared Namespaces, by name, as the hints compare them."""
    declared = sorted(index.namespace_objects.values(), key=lambda ns: ns.name)
    return [(ns.labels, ns.name_span, f"Namespace {ns.name}") for ns in declared]


def _pod_hint(
    index: Index,
    selector: LabelSelector,
    candidates: Sequence[Workload],
    namespaces: Sequence[str],
    *,
    looking: Literal["target", "alone", "and"],
) -> tuple[str, list[Related]]:
    """The fix: a close label among the pods in scope, else where pods with these labels run,
    else the pod that comes closest ("" when none applies)."""
    labelled = [(w.pod_labels, w.labels_span or w.name_span, display(w)) for w in candidates]
    suggestion = _suggest(selector, labelled)
    if suggestion is not None:
        return _did_you_mean(suggestion)
    elsewhere = next(
        (w for w in index.workloads_matching(selector) if w.namespace not in namespaces), None
    )
    if elsewhere is None:
        return _nearest(selector, labelled)
    if looking == "target":
        advice = ": a policy selects pods of its own namespace only, so this one belongs there."
    elif looking == "alone":
        advice = ": add a namespaceSelector for that namespace to the same peer."
    else:
        advice = ", which the namespaceSelector does not select."
    return (
        f"Pods with these labels run in namespace {elsewhere.namespace} "
        f"({display(elsewhere)}){advice}",
        [Related(elsewhere.labels_span or elsewhere.name_span, display(elsewhere))],
    )


# ---------------------------------------------------------------------------------------------
# "Did you mean"

Labelled = tuple[Mapping[str, str], Span, str]
Suggestion = tuple[str, Span, str]


def _label_hint(selector: LabelSelector, objects: Sequence[Labelled]) -> tuple[str, list[Related]]:
    suggestion = _suggest(selector, objects)
    return _did_you_mean(suggestion) if suggestion else _nearest(selector, objects)


def _did_you_mean(suggestion: Suggestion) -> tuple[str, list[Related]]:
    text, span, owner = suggestion
    return f"Did you mean `{text}` ({owner})?", [Related(span, f"{owner} has {text}")]


def _suggest(selector: LabelSelector, objects: Sequence[Labelled]) -> Suggestion | None:
    """The existing ``key: value`` closest to a requirement that no object in scope meets on its
    own (same key and a similar value, or same value and a similar key), with its owner."""
    pairs: dict[tuple[str, str], tuple[Span, str]] = {}
    for labels, span, owner in objects:
        for pair in labels.items():
            pairs.setdefault(pair, (span, owner))
    best: tuple[float, str, Span, str] | None = None
    for requirement in selector.requirements:
        if requirement.operator not in (Operator.IN, Operator.EXISTS):
            continue
        if any(requirement_matches(requirement, labels) for labels, _, _ in objects):
            continue
        for (key, value), (span, owner) in pairs.items():
            if key == NAME_LABEL and requirement.key != NAME_LABEL:
                continue
            score = _closeness(requirement, key, value)
            if score >= _CLOSE and (best is None or score > best[0]):
                best = (score, f"{key}: {value}", span, owner)
    return None if best is None else best[1:]


def _nearest(selector: LabelSelector, objects: Sequence[Labelled]) -> tuple[str, list[Related]]:
    """When each requirement is met by some object but none meets them all: the object that
    meets the most, and what it misses."""
    if len(selector.requirements) < 2:
        return "", []
    best: tuple[int, Labelled] | None = None
    for item in objects:
        met = sum(requirement_matches(r, item[0]) for r in selector.requirements)
        if met and (best is None or met > best[0]):
            best = (met, item)
    if best is None:
        return "", []
    labels, span, owner = best[1]
    missed = ",".join(
        describe(r) for r in selector.requirements if not requirement_matches(r, labels)
    )
    return f"Closest: {owner}, which does not meet {missed}.", [
        Related(span, f"{owner} does not meet {missed}")
    ]


def _closeness(requirement: Requirement, key: str, value: str) -> float:
    if requirement.operator is Operator.EXISTS:
        return _ratio(requirement.key, key, _CLOSE)
    if key == requirement.key:
        return max(_ratio(wanted, value, _CLOSE) for wanted in requirement.values)
    if value in requirement.values:
        return _ratio(requirement.key, key, _CLOSE)
    # Both differ (`app: celico-node` for `k8s-app: calico-node`): only when nearly equal.
    return max(
        _ratio(f"{requirement.key}: {wanted}", f"{key}: {value}", _CLOSE_PAIR)
        for wanted in requirement.values
    )


@lru_cache(maxsize=1 << 16)
def _ratio(a: str, b: str, cutoff: float) -> float:
    """difflib's ratio, or 0 when it is below ``cutoff`` (every caller treats those alike).

    Cheap upper bounds of the ratio come first, each exact as a bound: the lengths, then the
    characters the two strings share counted with multiplicity (difflib's ``quick_ratio``,
    from counts kept per string instead of a matcher built per pair). A dangling selector is
    compared with every label of its namespace, and most pairs stop there. Label vocabularies
    repeat across a repo: the answers are kept. Outside the per-run memo, as a pure function of
    its arguments (no run's data can go stale in it) and bounded, so a language server that
    keeps running holds at most so many pairs."""
    total = len(a) + len(b)
    # As difflib computes its ratios (2.0 * matches / total), so each bound is one of them.
    if not total:
        return 1.0  # two empty strings are equal, as difflib says
    if 2.0 * min(len(a), len(b)) / total < cutoff:
        return 0.0
    mine, theirs = _counts(a), _counts(b)
    if len(mine) > len(theirs):
        mine, theirs = theirs, mine
    shared = sum(min(n, theirs.get(char, 0)) for char, n in mine.items())
    if 2.0 * shared / total < cutoff:
        return 0.0
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    return ratio if ratio >= cutoff else 0.0


@lru_cache(maxsize=1 << 14)
def _counts(text: str) -> Mapping[str, int]:
    return Counter(text)


RULE = DanglingSelector
