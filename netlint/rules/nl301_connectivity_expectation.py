"""NL301 connectivity-expectation: the NetworkPolicies break an expectation of the repo's
``.netlint/expectations.yaml`` (something that must be reachable is not, or something that must
not be reachable is)."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from netlint.api import (
    Certainty,
    Conns,
    Context,
    Direction,
    EndSpec,
    Expectation,
    Explainer,
    FileResult,
    Finding,
    Index,
    PairAnswer,
    Related,
    Rule,
    RuleMeta,
    Severity,
    Side,
    Workload,
    endpoint_of,
    listing,
    plural,
)

#: Distinct (source, destination) classes one expectation may ask about; past it the
#: expectation is not judged (a note says so) rather than taking unbounded time.
MAX_PAIRS: Final = 20_000
#: Related locations one finding lists (the rules responsible, first pairs first).
MAX_RELATED: Final = 12


@dataclass(slots=True)
class _Verdict:
    """What the pairs of one expectation gave: the violating pairs with their answers, and
    the pairs whose answer depends on what the repo does not say."""

    violated: list[tuple[Workload, Workload, PairAnswer]]
    unknown: list[tuple[Workload, Workload, tuple[str, ...]]]
    ignored: str | None = None


class ConnectivityExpectation(Rule):
    meta = RuleMeta(
        code="NL301",
        name="connectivity-expectation",
        severity=Severity.ERROR,
        summary="The NetworkPolicies break an expectation of the repo's "
        "`.netlint/expectations.yaml`: a connection that must be allowed is denied, or one "
        "that must be denied is allowed.",
        why=(
            "Testing policies before rollout is the most repeated advice about NetworkPolicies: "
            "a policy that isolates a pod cuts every connection no rule allows, and a broad "
            "rule opens more than it says. An expectations file states what must hold "
            "(`deny: {from: {namespace: shop, labels: {app: frontend}}, to: {namespace: "
            "payments}}`, `allow: {from: {workload: shop/api}, to: {workload: payments/db}, "
            "port: 5432/TCP}`), and this rule checks it on every run, with the computation "
            "`netlint connectivity` and `netlint explain` use, so a change that breaks it fails "
            "the commit instead of the service. The finding is on the expectation; its related "
            "locations are the rules that allow what must be denied, or the policies that "
            "isolate what must be allowed.\n\n"
            "An expectation's ends are every workload of the project that matches all the "
            "fields given (`namespace`, pod `labels`, `workload: NAMESPACE/NAME`), and it "
            "holds for every pair of them: `allow` with a port means that port is allowed, "
            "without one that some connection is; `deny` with a port means that port is not "
            "allowed, without one that no connection is. The project is judged as applied to "
            "one cluster, every deploy unit together (what `netlint connectivity` answers); "
            'see docs/connectivity.md, "Expectations".'
        ),
        fix=(
            "Change the policies the related locations point at (`netlint explain SRC DST "
            "--port ...` shows every rule involved), or, when the expectation itself is out of "
            "date, the expectation."
        ),
        not_reported=(
            "An expectation whose answer depends on what the repo does not say (labels of a "
            "namespace it does not declare, another engine's policy such as Calico's or "
            "Cilium's, a workload whose labels a kustomize patch assembles, whether policies "
            "apply to a host-network pod) is not reported: `--verbose` notes it. So is an "
            f"expectation over more than {MAX_PAIRS:,} distinct pairs of workloads (workloads "
            "of one namespace with equal labels and ports count once). Objects of deploy units "
            "netlint cannot render (Helm charts, remote bases) are not part of the project it "
            "judges.\n\n"
            "An expectations file that does not match `schemas/expectations.schema.json` gets "
            "NL002 findings at its lines instead, and none of its expectations is judged."
        ),
        references=(
            "https://kubernetes.io/docs/concepts/services-networking/network-policies/",
            "https://github.com/np-guard/netpol-analyzer",
        ),
        added_in="0.2.0",
        tags=("connectivity", "security", "testing"),
        security_severity=7.0,
        # Judged on everything that may be applied together (the cluster view): an allowing
        # rule is a fact of the view, and "nothing allows it" is a claim of absence.
        certainty=Certainty.MAY,
    )

    def __init__(self) -> None:
        # The engine asks for ``notes(index)`` after the run; the notes of the latest run over
        # each index are kept weakly (they go with their index), as NL105 keeps its own.
        self._notes: weakref.WeakKeyDictionary[Index, list[str]] = weakref.WeakKeyDictionary()

    def notes(self, index: Index) -> Iterator[str]:
        """For ``--verbose``: expectations left undecided, and why."""
        yield from self._notes.get(index, ())

    def check_file(self, ctx: Context, file: FileResult) -> Iterator[Finding]:
        if not file.expectations:
            return
        cluster = ctx.cluster
        explainer = ctx.cluster_memo("explainer", lambda: Explainer(cluster))
        notes = self._notes.setdefault(cluster, [])
        for expectation in file.expectations:
            yield from self._judge(ctx, cluster, explainer, expectation, notes)

    def _judge(
        self,
        ctx: Context,
        cluster: Index,
        explainer: Explainer,
        expectation: Expectation,
        notes: list[str],
    ) -> Iterator[Finding]:
        where = f"NL301: {expectation.span}: {expectation}"
        ends: list[list[list[Workload]]] = []
        for spec, span, word in (
            (expectation.src, expectation.src_span, "from"),
            (expectation.dst, expectation.dst_span, "to"),
        ):
            groups, fragments = _matching(cluster, spec)
            if not groups:
                if fragments:
                    notes.append(
                        f"{where}: not judged: `{word}` matches only workloads whose pod labels "
                        f"are assembled elsewhere ({listing(fragments)})"
                    )
                else:
                    yield ctx.finding(
                        span,
                        f"`{word}` of this expectation matches no workload of the project "
                        f"({spec}), so the expectation tests nothing",
                        fix="Correct the namespace, labels or workload name, or remove the "
                        "expectation.",
                    )
                return
            ends.append(groups)
        verdict = _evaluate(explainer, expectation, ends[0], ends[1])
        if verdict.ignored is not None:
            notes.append(f"{where}: not judged: {verdict.ignored}")
            return
        if verdict.violated:
            yield _finding(ctx, expectation, verdict)
        elif verdict.unknown:
            s, d, reasons = verdict.unknown[0]
            notes.append(
                f"{where}: undecided for {plural(len(verdict.unknown), 'pair')} (first "
                f"{_name(s)} => {_name(d)}): depends on {listing(reasons)}"
            )


def _matching(cluster: Index, spec: EndSpec) -> tuple[list[list[Workload]], list[str]]:
    """The workloads an end names, grouped by what decides their answers (namespace, pod
    labels, named ports, host network: two workloads alike in these get the same answer from
    every policy), and the kustomize fragments it names (their labels are not known)."""
    groups: dict[tuple[object, ...], list[Workload]] = {}
    fragments: list[str] = []
    for workload in cluster.workloads:
        names = (workload.name, endpoint_of(workload).name)
        if not spec.matches(workload.namespace, names, dict(workload.pod_labels)):
            continue
        if workload.is_fragment:
            fragments.append(f"{workload.kind} {workload.namespace}/{workload.name}")
            continue
        key = (
            workload.namespace,
            tuple(sorted(workload.pod_labels.items())),
            tuple(sorted((p.name or "", p.protocol, p.port) for p in workload.ports)),
            workload.host_network,
        )
        groups.setdefault(key, []).append(workload)
    return list(groups.values()), fragments


def _wanted(expectation: Expectation) -> Conns | None:
    if expectation.port is None:
        return None
    protocol, number = expectation.port
    return Conns.port(protocol, number)


def _evaluate(
    explainer: Explainer,
    expectation: Expectation,
    sources: list[list[Workload]],
    destinations: list[list[Workload]],
) -> _Verdict:
    verdict = _Verdict([], [])
    if len(sources) * len(destinations) > MAX_PAIRS:
        verdict.ignored = (
            f"{len(sources) * len(destinations):,} distinct pairs of workloads, over the "
            f"bound of {MAX_PAIRS:,}: name narrower ends"
        )
        return verdict
    wanted = _wanted(expectation)
    for src_group in sources:
        for dst_group in destinations:
            pair = _representatives(src_group, dst_group)
            if pair is None:
                continue  # one endpoint with itself is no connection
            s, d = pair
            answer = explainer.explain(s, d)
            certain = answer.certain if wanted is None else answer.certain.intersect(wanted)
            maybe = answer.uncertain if wanted is None else answer.uncertain.intersect(wanted)
            if expectation.allow:
                full = not certain.is_empty() if wanted is None else certain == wanted
                if full:
                    continue
                if not maybe.is_empty():
                    verdict.unknown.append((s, d, answer.reasons))
                    continue
                if s.host_network or d.host_network:
                    # Whether policies apply to host-network pods is up to the network plugin:
                    # a denial there is not a promise.
                    host = _name(s if s.host_network else d)
                    verdict.unknown.append(
                        (
                            s,
                            d,
                            (f"whether policies apply to {host}, which runs on the host network",),
                        )
                    )
                    continue
                verdict.violated.append((s, d, answer))
            elif not certain.is_empty():
                verdict.violated.append((s, d, answer))
            elif not maybe.is_empty():
                verdict.unknown.append((s, d, answer.reasons))
    return verdict


def _representatives(
    sources: list[Workload], destinations: list[Workload]
) -> tuple[Workload, Workload] | None:
    """A source and a destination of the two groups that are different endpoints."""
    for s in sources:
        own = endpoint_of(s)
        for d in destinations:
            if endpoint_of(d) != own:
                return s, d
    return None


def _name(workload: Workload) -> str:
    return endpoint_of(workload).label


def _finding(ctx: Context, expectation: Expectation, verdict: _Verdict) -> Finding:
    wanted = _wanted(expectation)
    s, d, answer = verdict.violated[0]
    more = len(verdict.violated) - 1
    verb = "breaks" if more == 1 else "break"
    others = f"; {plural(more, 'other pair')} {verb} it too" if more else ""
    why = f" ({expectation.description})" if expectation.description else ""
    related: list[Related] = []
    for src, dst, found in verdict.violated:
        if expectation.allow:
            related.extend(_isolating(found, src, dst, wanted))
        else:
            related.extend(_allowing(found, src, dst, wanted))
    # One related location per rule or policy, with the message of the first pair it serves.
    related = list({r.span: r for r in reversed(related)}.values())[::-1][:MAX_RELATED]
    if expectation.allow:
        on = f" on {wanted}" if wanted is not None else ""
        blocked = [
            _side_phrase(side, other, wanted)
            for side, other in ((answer.egress, d), (answer.ingress, s))
            if not side.default_open and _blocks(side, wanted, answer)
        ]
        message = (
            f"expectation violated{why}: {_name(s)} must reach {_name(d)}{on}, but "
            f"{' and '.join(blocked) or 'nothing allows it'}{others}"
        )
        fix = (
            "Allow it in the policies that isolate the ends (related locations), or correct "
            "the expectation; `netlint explain` shows every rule involved."
        )
    else:
        allowed = answer.certain if wanted is None else answer.certain.intersect(wanted)
        open_sides = [
            f"nothing isolates the {side.direction.value.lower()} of {_end_name(side)}"
            for side in (answer.egress, answer.ingress)
            if side.default_open and side.workload is not None
        ]
        tail = f" ({'; '.join(open_sides)})" if open_sides else ""
        message = (
            f"expectation violated{why}: {_name(s)} must not reach {_name(d)}, but "
            f"{allowed} is allowed{tail}{others}"
        )
        fix = (
            "Narrow the rules that allow it (related locations), or isolate the open end "
            "with a policy; `netlint explain` shows every rule involved."
        )
    return ctx.finding(expectation.span, message, fix=fix, related=related)


def _end_name(side: Side) -> str:
    return _name(side.workload) if side.workload is not None else "the external end"


def _blocks(side: Side, wanted: Conns | None, answer: PairAnswer) -> bool:
    """Whether this side is one reason the wanted connections are not allowed."""
    if wanted is None:
        other = answer.ingress if side is answer.egress else answer.egress
        return side.possible.is_empty() or side.possible.intersect(other.possible).is_empty()
    return side.possible.intersect(wanted) != wanted


def _side_phrase(side: Side, other: Workload, wanted: Conns | None) -> str:
    """``the Ingress of payments/db[Deployment] does not allow TCP 5432 from ...``."""
    head = f"the {side.direction.value.lower()} of {_end_name(side)}"
    toward = "to" if side.direction is Direction.EGRESS else "from"
    if wanted is not None:
        return f"{head} does not allow {wanted} {toward} {_name(other)}"
    if side.possible.is_empty():
        return f"{head} allows nothing {toward} {_name(other)}"
    return f"{head} allows only {side.possible} {toward} {_name(other)}"


def _isolating(
    answer: PairAnswer, src: Workload, dst: Workload, wanted: Conns | None
) -> Iterator[Related]:
    """The policies that isolate a blocking side: where something must be allowed."""
    for side, other in ((answer.egress, dst), (answer.ingress, src)):
        if side.default_open or not _blocks(side, wanted, answer):
            continue
        direction = side.direction.value.lower()
        toward = "to" if side.direction is Direction.EGRESS else "from"
        what = str(wanted) if wanted is not None else "anything"
        # The NetworkPolicies are to blame only for what they do not allow: an admin rule
        # may deny what they allow (it is evaluated first).
        by_policies = Conns.none()
        for contribution in side.contributions:
            if contribution.certain:
                by_policies = by_policies.union(contribution.conns)
        covered = (
            not by_policies.is_empty()
            if wanted is None
            else wanted.subtract(by_policies).is_empty()
        )
        for policy in () if covered else side.isolated_by:
            yield Related(
                policy.name_span,
                f"NetworkPolicy {policy.namespace}/{policy.name} isolates the {direction} of "
                f"{_end_name(side)}, and none of the policies isolating it allows {what} "
                f"{toward} {_name(other)}",
            )
        yield from _admin_related(side, "Deny", wanted, other)


def _allowing(
    answer: PairAnswer, src: Workload, dst: Workload, wanted: Conns | None
) -> Iterator[Related]:
    """The rules that allow part of what must be denied, on both sides."""
    allowed = answer.certain if wanted is None else answer.certain.intersect(wanted)
    for side, other in ((answer.egress, dst), (answer.ingress, src)):
        toward = "to" if side.direction is Direction.EGRESS else "from"
        for contribution in side.contributions:
            if not contribution.certain:
                continue
            part = contribution.conns.intersect(allowed)
            if part.is_empty():
                continue
            policy, rule = contribution.policy, contribution.rule
            yield Related(
                rule.span,
                f"{side.direction.value.lower()}[{rule.index}] of NetworkPolicy "
                f"{policy.namespace}/{policy.name} allows {part} {toward} {_name(other)}",
            )
        yield from _admin_related(side, "Allow", allowed, other)


def _admin_related(
    side: Side, action: str, conns: Conns | None, other: Workload
) -> Iterator[Related]:
    """The AdminNetworkPolicy (or baseline) rules of ``side`` with ``action`` that decide part
    of ``conns`` (None: anything) for certain."""
    toward = "to" if side.direction is Direction.EGRESS else "from"
    verb = {"Allow": "allows", "Deny": "denies"}[action]
    for decided in side.admin:
        if decided.action != action or not decided.certain:
            continue
        part = decided.conns if conns is None else decided.conns.intersect(conns)
        if part.is_empty():
            continue
        admin, rule = decided.policy, decided.rule
        priority = "" if admin.priority is None else f" (priority {admin.priority})"
        label = rule.name or f"{rule.rule.direction.rules_key}[{rule.rule.index}]"
        yield Related(
            rule.rule.span,
            f"rule '{label}' of {admin.kind} {admin.name}{priority} {verb} {part} {toward} "
            f"{_name(other)}",
        )


RULE = ConnectivityExpectation
