"""NL103 missing-dns-egress: a policy egress-isolates pods that then cannot resolve names.

Three-valued throughout: ``True`` (the repo shows DNS is reachable), ``False`` (the repo shows it
is not) and ``None`` (the repo cannot know). Only a definite ``False`` is reported, so a selector on
labels of a namespace or pod the repo does not declare never causes a finding.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from netlint.api import (
    NAME_LABEL,
    Context,
    Direction,
    Finding,
    Index,
    IPBlock,
    LabelSelector,
    NetworkPolicy,
    Operator,
    Peer,
    PolicyRule,
    PortSpec,
    Related,
    Requirement,
    Rule,
    RuleMeta,
    Severity,
    Span,
    Workload,
)

Tri = bool | None
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: How many workloads a message names per group before "and N more".
MAX_NAMED = 5
#: How many explanations (a port without protocol, a podSelector alone) a message carries.
MAX_HINTS = 3

#: The port OpenShift's DNS pods listen on (its Service maps 53 to it).
OPENSHIFT_DNS_PORT = 5353

UDP = "UDP"
TCP = "TCP"


def _and(*values: Tri) -> Tri:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def _or(values: Iterable[Tri]) -> Tri:
    unknown = False
    for value in values:
        if value:
            return True
        unknown = unknown or value is None
    return None if unknown else False


# -- options ----------------------------------------------------------------------------------


#: Pods with these dnsPolicy values resolve through the node (or their own dnsConfig), not
#: through cluster DNS, so blocking it breaks nothing for them.
_NO_CLUSTER_DNS = frozenset(("Default", "None"))


@dataclass(frozen=True, slots=True)
class Target:
    """Where cluster DNS answers, from the rule's options."""

    namespace: str
    pod_labels: Mapping[str, str]
    ports: frozenset[int]
    port_names: frozenset[str]
    ips: tuple[Network, ...]
    require_tcp: bool

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Target:
        # The config schema validates options; this only keeps a bad value from crashing the rule.
        namespace = options.get("namespace")
        labels = options.get("pod-labels")
        ports = options.get("ports")
        names = options.get("port-names")
        ips = options.get("ip")
        if isinstance(ips, str):
            ips = [ips]
        networks: list[Network] = []
        for text in ips if isinstance(ips, list) else ():
            try:
                networks.append(ipaddress.ip_network(str(text), strict=False))
            except ValueError:
                continue
        return cls(
            namespace=namespace if isinstance(namespace, str) and namespace else "kube-system",
            pod_labels=(
                {str(k): str(v) for k, v in labels.items()}
                if isinstance(labels, dict)
                else {"k8s-app": "kube-dns"}
            ),
            ports=frozenset(
                p for p in (ports if isinstance(ports, list) else [53]) if isinstance(p, int)
            ),
            port_names=frozenset(
                n for n in (names if isinstance(names, list) else ["dns", "dns-tcp"]) if n
            ),
            ips=tuple(networks),
            require_tcp=options.get("require-tcp", True) is not False,
        )

    @property
    def port_text(self) -> str:
        numbers = sorted(self.ports)
        if len(numbers) == 1:
            return f"port {numbers[0]}"
        return "ports " + ", ".join(str(n) for n in numbers)

    @property
    def description(self) -> str:
        labels = ",".join(f"{k}={v}" for k, v in self.pod_labels.items()) or "any pod"
        where = f"{labels} in namespace {self.namespace}"
        if self.ips:
            where += " or " + ", ".join(_net_text(n) for n in self.ips)
        return where


def _net_text(network: Network) -> str:
    return str(network.network_address) if network.num_addresses == 1 else str(network)


# -- verdicts ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hint:
    """Why a rule that looks like a DNS rule does not allow DNS (shown in the message)."""

    span: Span
    text: str


@dataclass(slots=True)
class Verdict:
    udp: Tri = False
    tcp: Tri = False
    hints: list[Hint] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PolicyReach:
    """Whether any egress rule of one policy allows UDP and TCP to DNS, and why not."""

    udp: Tri
    tcp: Tri
    hints: tuple[Hint, ...]

    @property
    def matters(self) -> bool:
        return self.udp is not False or self.tcp is not False or bool(self.hints)


@dataclass(slots=True)
class Subject:
    """A pod the rule judges: a declared workload, or the hypothetical pod of a policy."""

    text: str
    verdict: Verdict


class Reach:
    """Whether peers and ports of egress rules reach the DNS target, for one run."""

    def __init__(self, index: Index, target: Target) -> None:
        self.index = index
        self.target = target
        # When the repo declares the DNS pods themselves, their full labels are known.
        self.dns_workloads = tuple(
            w
            for w in index.workloads_in(target.namespace)
            if all(w.pod_labels.get(k) == v for k, v in target.pod_labels.items())
        )
        self._policies: dict[NetworkPolicy, PolicyReach] = {}

    def is_dns_pod(self, workload: Workload) -> bool:
        return workload in self.dns_workloads

    def pod_selector(self, selector: LabelSelector) -> Tri:
        if self.dns_workloads:
            return any(selector.matches(w.pod_labels) for w in self.dns_workloads)
        # Only the configured labels are certain; the DNS pods may carry others.
        return _and(*(self._requirement(r) for r in selector.requirements))

    def _requirement(self, req: Requirement) -> Tri:
        value = self.target.pod_labels.get(req.key)
        if value is None:
            return None
        op = req.operator
        if op is Operator.IN:
            return value in req.values
        if op is Operator.NOT_IN:
            return value not in req.values
        return op is Operator.EXISTS

    def namespace(self, policy: NetworkPolicy, peer: Peer) -> Tri:
        if peer.namespace_selector is None:
            return policy.namespace == self.target.namespace
        return self.index.namespace_selector_matches(peer.namespace_selector, self.target.namespace)

    def ip_block(self, block: IPBlock) -> bool:
        if not self.target.ips:
            # The cluster DNS IP is unknown: any ipBlock may be the one that holds it.
            return True
        return any(_contains(block, ip) for ip in self.target.ips)

    def peer(self, policy: NetworkPolicy, peer: Peer) -> Tri:
        if peer.ip_block is not None:
            return self.ip_block(peer.ip_block)
        if peer.pod_selector is None and peer.namespace_selector is None:
            return None  # NL002 reports such a peer; the policy is then skipped anyway
        pods = True if peer.pod_selector is None else self.pod_selector(peer.pod_selector)
        return _and(self.namespace(policy, peer), pods)

    def policy(self, policy: NetworkPolicy) -> PolicyReach:
        """What the egress rules of a policy (that has Egress) allow towards DNS."""
        summary = self._policies.get(policy)
        if summary is None:
            if not policy.valid:
                # The API server rejects it as written; once fixed it may well allow DNS.
                summary = PolicyReach(None, None, ())
            else:
                udp: list[Tri] = []
                tcp: list[Tri] = []
                hints: list[Hint] = []
                for rule in policy.egress:
                    peers = self.peers(policy, rule)
                    udp.append(_and(peers, self.ports(rule, UDP)))
                    tcp.append(_and(peers, self.ports(rule, TCP)))
                    hints.extend(self.hints(policy, rule, peers))
                summary = PolicyReach(_or(udp), _or(tcp), tuple(hints))
            self._policies[policy] = summary
        return summary

    def _names_dns(self, policy: NetworkPolicy, peer: Peer) -> bool:
        """A selector peer that surely holds the DNS pods and names them or their namespace
        (``namespaceSelector: {}`` holds them too, but says nothing about intent)."""
        named = any(
            s is not None and not s.is_empty for s in (peer.pod_selector, peer.namespace_selector)
        )
        return named and peer.ip_block is None and self.peer(policy, peer) is True

    def peers(self, policy: NetworkPolicy, rule: PolicyRule) -> Tri:
        if rule.allows_all_peers:
            return True
        return _or(self.peer(policy, peer) for peer in rule.peers)

    def port(self, spec: PortSpec, protocol: str) -> bool:
        if spec.protocol != protocol:
            return False
        if spec.port is None:
            return True
        if isinstance(spec.port, str):
            # Names are matched whatever the protocol: which name goes with which protocol is
            # the DNS pods' business, and the repo rarely declares them.
            return spec.port in self.target.port_names
        end = spec.end_port if spec.end_port is not None else spec.port
        return any(spec.port <= p <= end for p in self.target.ports)

    def ports(self, rule: PolicyRule, protocol: str) -> bool:
        return rule.allows_all_ports or any(self.port(s, protocol) for s in rule.ports)

    def hints(self, policy: NetworkPolicy, rule: PolicyRule, peers: Tri) -> Iterator[Hint]:
        where = f"{policy.namespace}/{policy.name} egress[{rule.index}]"
        if peers is False:
            # Explain only rules meant for DNS: on its port, or to the DNS pods' labels.
            explicit = any(s.port is not None and self.port(s, s.protocol) for s in rule.ports)
            if not (self.ports(rule, UDP) or self.ports(rule, TCP)):
                return
            for peer in rule.peers:
                pods = peer.pod_selector
                to_dns_pods = (
                    pods is not None and not pods.is_empty and self.pod_selector(pods) is True
                )
                if not (explicit or to_dns_pods):
                    continue
                if pods is not None and to_dns_pods and peer.namespace_selector is None:
                    yield Hint(
                        pods.key_span,
                        f"{where}: a podSelector alone selects pods in namespace "
                        f"{policy.namespace}, not in {self.target.namespace}; put a "
                        f"namespaceSelector for {self.target.namespace} in the same peer",
                    )
                selector = peer.namespace_selector
                if (
                    selector is not None
                    and self.namespace(policy, peer) is False
                    and (pods is None or self.pod_selector(pods))
                ):
                    labels = self.index.namespace_labels(self.target.namespace)
                    yield Hint(
                        selector.key_span,
                        f"{where}: namespaceSelector {selector} does not match namespace "
                        f"{self.target.namespace}, whose labels are "
                        + ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
                    )
                if peer.ip_block is not None and self.target.ips:
                    ips = ", ".join(_net_text(n) for n in self.target.ips)
                    yield Hint(
                        peer.ip_block.cidr_span,
                        f"{where}: ipBlock {peer.ip_block.cidr} does not contain the configured "
                        f"DNS address ({ips})",
                    )
            return
        if not peers:
            return
        udp = self.ports(rule, UDP)
        tcp = self.ports(rule, TCP)
        if not udp:
            defaulted = [s for s in rule.ports if not s.protocol_declared and self.port(s, TCP)]
            if defaulted:
                spec = defaulted[0]
                yield Hint(
                    spec.port_span or spec.span,
                    f"{where}: {_port_text(spec)} has no protocol, which defaults to TCP; "
                    "add the same port with `protocol: UDP`",
                )
            elif not tcp:
                openshift = any(s.port == OPENSHIFT_DNS_PORT for s in rule.ports)
                if not (openshift or any(self._names_dns(policy, p) for p in rule.peers)):
                    return
                listed = ", ".join(_port_text(s, protocol=True) for s in rule.ports)
                text = f"{where} reaches the DNS pods only on {listed}, not {self.target.port_text}"
                if openshift:
                    text += (
                        " (OpenShift's DNS pods listen on 5353: there, set NL103's namespace, "
                        "pod-labels and ports options)"
                    )
                yield Hint(rule.ports_key_span or rule.span, text)


def _port_text(spec: PortSpec, *, protocol: bool = False) -> str:
    if protocol:
        number = "*" if spec.port is None else str(spec.port)
        if spec.end_port is not None:
            number += f"-{spec.end_port}"
        return f"{number}/{spec.protocol}"
    if spec.port is None:
        return "a ports entry with no port"
    if spec.end_port is not None:
        return f"ports {spec.port}-{spec.end_port}"
    return f"port {spec.port}"


def _contains(block: IPBlock, ip: Network) -> bool:
    if ip.version != block.network.version:
        return False
    if not ip.subnet_of(block.network):  # type: ignore[arg-type]
        return False
    return not any(ip.overlaps(e.network) for e in block.excepts)


# -- the hypothetical pod of a policy that selects no declared pod ----------------------------


@dataclass(frozen=True, slots=True)
class KeyConstraint:
    """What a selector says about one label key of the pods it selects."""

    present: bool
    #: Values the label may take (None: any value); meaningful when ``present``.
    allowed: frozenset[str] | None
    excluded: frozenset[str]

    @property
    def fixed(self) -> str | None:
        if self.present and self.allowed is not None and len(self.allowed) == 1:
            return next(iter(self.allowed))
        return None


def hypothetical_pod(selector: LabelSelector) -> dict[str, KeyConstraint] | None:
    """The pod that carries exactly the labels ``selector`` requires; None if none can match.

    ``matchLabels`` and ``In`` with one value fix a label. ``In`` with several values and
    ``Exists`` require the label with a value the repo cannot know. ``NotIn`` and
    ``DoesNotExist`` require nothing, so the pod lacks the label.
    """
    present: dict[str, bool] = {}
    allowed: dict[str, frozenset[str]] = {}
    excluded: dict[str, frozenset[str]] = {}
    for req in selector.requirements:
        key = req.key
        if req.operator is Operator.IN:
            if present.get(key) is False:
                return None
            present[key] = True
            allowed[key] = allowed[key] & req.values if key in allowed else req.values
        elif req.operator is Operator.EXISTS:
            if present.get(key) is False:
                return None
            present[key] = True
        elif req.operator is Operator.DOES_NOT_EXIST:
            if present.get(key):
                return None
            present[key] = False
        else:
            excluded[key] = excluded.get(key, frozenset()) | req.values
    out: dict[str, KeyConstraint] = {}
    for key, required in present.items():
        if not required:
            continue
        values = allowed.get(key)
        banned = excluded.get(key, frozenset())
        if values is not None:
            values = values - banned
            if not values:
                return None
        out[key] = KeyConstraint(True, values, banned)
    return out


def selects_hypothetical(selector: LabelSelector, pod: Mapping[str, KeyConstraint]) -> Tri:
    return _and(*(_requirement_on(req, pod.get(req.key)) for req in selector.requirements))


def _requirement_on(req: Requirement, key: KeyConstraint | None) -> Tri:
    op = req.operator
    if key is None:
        return op in (Operator.NOT_IN, Operator.DOES_NOT_EXIST)
    if op is Operator.EXISTS:
        return True
    if op is Operator.DOES_NOT_EXIST:
        return False
    inside: Tri
    if key.allowed is not None:
        hits = key.allowed & req.values
        inside = True if hits == key.allowed else (False if not hits else None)
    else:
        inside = False if req.values <= key.excluded else None
    if op is Operator.IN:
        return inside
    return None if inside is None else not inside


class _Judges:
    """The policies of a namespace that may change a hypothetical pod's verdict, indexed by a
    label they require, so that each pod is judged against the few that may select it.

    Policies that neither may allow DNS nor explain anything cannot change a verdict and are
    left out. A policy with an ``In`` or ``Exists`` requirement selects no pod that lacks its
    key (nor, for ``In``, one whose value is fixed outside its values): it is listed under that
    key. The rest (only ``NotIn`` and ``DoesNotExist``) may select any pod. ``of`` yields a
    superset of the policies that may select the pod, in namespace order, so the verdict is the
    same as judging every policy.
    """

    def __init__(self, policies: Sequence[NetworkPolicy], reach: Reach) -> None:
        self.order: dict[NetworkPolicy, int] = {}
        self.anywhere: list[NetworkPolicy] = []
        self.by_value: dict[tuple[str, str], list[NetworkPolicy]] = {}
        self.by_key: dict[str, list[NetworkPolicy]] = {}
        self.exists: dict[str, list[NetworkPolicy]] = {}
        for policy in policies:
            if Direction.EGRESS not in policy.policy_types or not reach.policy(policy).matters:
                continue
            self.order[policy] = len(self.order)
            anchor = _anchor_requirement(policy.pod_selector)
            if anchor is None:
                self.anywhere.append(policy)
                continue
            self.by_key.setdefault(anchor.key, []).append(policy)
            if anchor.operator is Operator.EXISTS:
                self.exists.setdefault(anchor.key, []).append(policy)
            else:
                for value in anchor.values:
                    self.by_value.setdefault((anchor.key, value), []).append(policy)

    def of(self, pod: Mapping[str, KeyConstraint]) -> list[NetworkPolicy]:
        found: set[NetworkPolicy] = set(self.anywhere)
        for key, constraint in pod.items():
            if constraint.allowed is None:
                found.update(self.by_key.get(key, ()))
                continue
            found.update(self.exists.get(key, ()))
            for value in constraint.allowed:
                found.update(self.by_value.get((key, value), ()))
        return sorted(found, key=self.order.__getitem__)


def _anchor_requirement(selector: LabelSelector) -> Requirement | None:
    """A requirement that no pod lacking its key meets: ``In`` (fewest values) or ``Exists``."""
    best: Requirement | None = None
    for req in selector.requirements:
        if req.operator is Operator.IN:
            if (
                best is None
                or best.operator is not Operator.IN
                or len(req.values) < len(best.values)
            ):
                best = req
        elif req.operator is Operator.EXISTS and best is None:
            best = req
    return best


# -- the rule ---------------------------------------------------------------------------------


class MissingDnsEgress(Rule):
    meta = RuleMeta(
        code="NL103",
        name="missing-dns-egress",
        severity=Severity.WARNING,
        summary="A policy isolates the egress of pods that then cannot reach cluster DNS "
        "(UDP and TCP 53 to kube-dns in kube-system, configurable).",
        rationale=(
            "Once a NetworkPolicy with `Egress` in its policyTypes selects a pod, the pod may "
            "only send what some egress rule of a policy selecting it allows (policies only "
            "add). Unless one of those rules allows UDP and TCP port 53 to the cluster DNS "
            "pods, every name lookup times out: the pod cannot even reach the services that "
            "the rules do allow. Add an egress rule with `to: [{namespaceSelector: "
            "{matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: "
            "{matchLabels: {k8s-app: kube-dns}}}]` and `ports: [{protocol: UDP, port: 53}, "
            "{protocol: TCP, port: 53}]`, in the policy or in a separate `allow-dns` policy "
            "selecting the same pods.\n\n"
            "A rule counts when its peer can hold the DNS pods: no `to` (everywhere); a "
            "`namespaceSelector` matching the DNS namespace with no, an empty, or a "
            "DNS-pod-matching `podSelector`; an `ipBlock` (any one when the option `ip` is "
            "unset, since the DNS service IP is unknown; else one containing a configured IP); "
            "a `podSelector` alone reaches only the policy's own namespace. A port counts when "
            "it is 53 (the `ports` option), a range containing it, a configured port name "
            "(`dns`, `dns-tcp`) or absent. `protocol` defaults to TCP: `port: 53` alone "
            "leaves UDP, which resolvers use first, blocked. UDP allowed but TCP blocked is "
            "reported too (large responses and some resolvers need TCP; turn off with "
            "`require-tcp: false`); the message says which variant applies.\n\n"
            "Declared pods are judged; a policy selecting none is judged for a pod carrying "
            "exactly the labels its selector requires (`In` with several values and `Exists` "
            "leave the value unknown; `NotIn` and `DoesNotExist` require no label). Where the "
            "repo cannot know (a namespace it does not declare, selected by labels other than "
            "its name; pod labels beyond the configured DNS labels; whether an unsure policy "
            "selects the pod; a policy selecting it that the API server would reject, see "
            "NL002) DNS is taken as reachable. Host-network pods and the DNS pods themselves "
            "(they resolve through the node's upstream servers, not cluster DNS) are not "
            "judged. For OpenShift set `namespace: openshift-dns`, `pod-labels: "
            "{dns.operator.openshift.io/daemonset-dns: default}` and `ports: [5353]`; for "
            "NodeLocal DNSCache add `ip: [169.254.20.10]`."
        ),
        tags=("reliability", "dns", "egress"),
        security_severity=2.0,
        options={
            "namespace": "kube-system",
            "pod-labels": {"k8s-app": "kube-dns"},
            "ports": [53],
            "port-names": ["dns", "dns-tcp"],
            "ip": [],
            "require-tcp": True,
        },
        options_schema={
            "namespace": {
                "description": "Namespace of the cluster DNS pods.",
                "type": "string",
                "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                "maxLength": 63,
            },
            "pod-labels": {
                "description": "Labels the cluster DNS pods carry.",
                "type": "object",
                "additionalProperties": {"type": "string"},
            },
            "ports": {
                "description": "Ports the DNS pods listen on (the pod's port, not the "
                "Service's: OpenShift's DNS pods listen on 5353); any of them counts.",
                "type": "array",
                "items": {"type": "integer", "minimum": 1, "maximum": 65535},
                "minItems": 1,
            },
            "port-names": {
                "description": "Container port names of the DNS pods that a named port in an "
                "egress rule may use.",
                "type": "array",
                "items": {"type": "string", "minLength": 1},
            },
            "ip": {
                "description": "IPs or CIDRs of the DNS service or of NodeLocal DNSCache "
                "(e.g. 169.254.20.10). When set, an ipBlock counts only if it contains one; "
                "when empty, any ipBlock counts.",
                "type": "array",
                "items": {"type": "string", "pattern": "^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$"},
            },
            "require-tcp": {
                "description": "Also report pods that reach DNS over UDP but not over TCP.",
                "type": "boolean",
            },
        },
    )

    def __init__(self) -> None:
        self._options: dict[str, Any] = {}
        self._reach: Reach | None = None
        self._verdicts: dict[Workload, Verdict] = {}
        self._judges: dict[str, _Judges] = {}
        self._hypothetical: dict[tuple[str, frozenset[tuple[str, KeyConstraint]]], Verdict] = {}

    def _reach_for(self, ctx: Context) -> Reach:
        # One Reach and one verdict per workload per index: a default-deny policy and an
        # allow-dns policy select the same workloads, which would otherwise be judged twice.
        # A new run brings a new Index, which resets the memo (the last one stays referenced
        # until then).
        reach = self._reach
        if reach is None or reach.index is not ctx.index or self._options != ctx.options:
            self._options = dict(ctx.options)
            reach = self._reach = Reach(ctx.index, Target.from_options(ctx.options))
            self._verdicts = {}
            self._judges = {}
            self._hypothetical = {}
        return reach

    def check_policy(self, ctx: Context, policy: NetworkPolicy) -> Iterator[Finding]:
        if not policy.valid or Direction.EGRESS not in policy.policy_types:
            return
        anchor = _anchor(policy)
        if anchor is None:
            return
        reach = self._reach_for(ctx)
        subjects = self._subjects(ctx, reach, policy)
        finding = _finding(ctx, reach.target, policy, anchor, subjects)
        if finding is not None:
            yield finding

    def _subjects(self, ctx: Context, reach: Reach, policy: NetworkPolicy) -> list[Subject]:
        selected = ctx.index.selected_workloads(policy)
        if selected:
            return [
                Subject(f"{w.kind} {w.namespace}/{w.name}", self._workload_verdict(ctx, reach, w))
                for w in selected
                if not w.host_network
                and w.dns_policy not in _NO_CLUSTER_DNS
                and not reach.is_dns_pod(w)
            ]
        pod = hypothetical_pod(policy.pod_selector)
        if pod is None or _may_be_dns_pod(reach.target, policy, pod):
            return []
        # Policies with the same required labels judge the same hypothetical pod.
        key = (policy.namespace, frozenset(pod.items()))
        verdict = self._hypothetical.get(key)
        if verdict is None:
            judges = self._judges.get(policy.namespace)
            if judges is None:
                judges = self._judges[policy.namespace] = _Judges(
                    ctx.index.policies_in(policy.namespace), reach
                )
            judged = (
                (other, selects_hypothetical(other.pod_selector, pod)) for other in judges.of(pod)
            )
            verdict = self._hypothetical[key] = _verdict(reach, judged)
        if policy.pod_selector.is_empty:
            text = f"every pod in namespace {policy.namespace} (the repo declares none)"
        else:
            text = f"pods matching {policy.pod_selector} in {policy.namespace} (none declared)"
        return [Subject(text, verdict)]

    def _workload_verdict(self, ctx: Context, reach: Reach, workload: Workload) -> Verdict:
        verdict = self._verdicts.get(workload)
        if verdict is None:
            judged = ((p, True) for p in ctx.index.policies_selecting(workload))
            verdict = self._verdicts[workload] = _verdict(reach, judged)
        return verdict


def _anchor(policy: NetworkPolicy) -> Span | None:
    for value, span in policy.declared_policy_types or ():
        if value == Direction.EGRESS.value:
            return span
    if policy.declared_policy_types is None:
        return policy.egress_key_span
    return None


def _may_be_dns_pod(
    target: Target, policy: NetworkPolicy, pod: Mapping[str, KeyConstraint]
) -> bool:
    if policy.namespace != target.namespace:
        return False
    for key, value in target.pod_labels.items():
        constraint = pod.get(key)
        if constraint is None or value in constraint.excluded:
            return False
        if constraint.allowed is not None and value not in constraint.allowed:
            return False
    return True


def _verdict(reach: Reach, policies: Iterable[tuple[NetworkPolicy, Tri]]) -> Verdict:
    """DNS reachability for a pod that ``policies`` select (True), may select (None) or not."""
    udp: list[Tri] = []
    tcp: list[Tri] = []
    hints: list[Hint] = []
    for policy, selects in policies:
        if selects is False or Direction.EGRESS not in policy.policy_types:
            continue
        summary = reach.policy(policy)
        udp.append(_and(summary.udp, selects))
        tcp.append(_and(summary.tcp, selects))
        hints.extend(summary.hints)
    return Verdict(_or(udp), _or(tcp), hints)


def _named(subjects: Sequence[Subject]) -> str:
    # The same workload may be declared twice (overlays, a JSON copy): name it once.
    unique = list(dict.fromkeys(s.text for s in subjects))
    names = unique[:MAX_NAMED]
    if len(unique) > MAX_NAMED:
        names.append(f"and {len(unique) - MAX_NAMED} more")
    return ", ".join(names)


def _finding(
    ctx: Context,
    target: Target,
    policy: NetworkPolicy,
    anchor: Span,
    subjects: Sequence[Subject],
) -> Finding | None:
    blocked = [s for s in subjects if s.verdict.udp is False and s.verdict.tcp is False]
    no_udp = [s for s in subjects if s.verdict.udp is False and s.verdict.tcp is not False]
    no_tcp = [
        s
        for s in subjects
        if target.require_tcp and s.verdict.udp is not False and s.verdict.tcp is False
    ]
    if not (blocked or no_udp or no_tcp):
        return None
    port = target.port_text
    parts: list[str] = []
    if blocked:
        parts.append(f"DNS (UDP and TCP {port}) is blocked for {_named(blocked)}")
    if no_udp:
        parts.append(f"UDP {port} is blocked (only TCP is allowed) for {_named(no_udp)}")
    if no_tcp:
        parts.append(
            f"TCP {port} is blocked for {_named(no_tcp)}: large responses and some resolvers "
            "need TCP"
        )
    hints: dict[tuple[Span, str], Hint] = {}
    for subject in (*blocked, *no_udp, *no_tcp):
        for hint in subject.verdict.hints:
            hints.setdefault((hint.span, hint.text), hint)
    chosen = list(hints.values())[:MAX_HINTS]
    message = (
        f"NetworkPolicy {policy.namespace}/{policy.name} isolates egress, and no egress rule "
        f"of the policies selecting its pods fully reaches cluster DNS ({target.description}): "
        + "; ".join(parts)
        + "."
    )
    if chosen:
        message += " " + " ".join(f"Note: {h.text}." for h in chosen)
    elif blocked or no_udp:
        message += (
            f" Allow UDP and TCP {port} to namespaceSelector {NAME_LABEL}={target.namespace} "
            f"with podSelector "
            + (",".join(f"{k}={v}" for k, v in target.pod_labels.items()) or "{}")
            + "."
        )
    return ctx.finding(
        anchor,
        message,
        related=[Related(h.span, h.text) for h in chosen],
        subject=policy,
    )


RULE = MissingDnsEgress
