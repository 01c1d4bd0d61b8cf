"""NL103 missing-dns-egress: a policy egress-isolates pods that then cannot resolve names.

The question "can these pods reach cluster DNS?" is asked of the reachability core
(``Explainer.egress``, the computation behind ``netlint connectivity`` and ``explain``): where
DNS answers is a set of endpoints (the declared DNS workloads, or else pods known in part: the
configured labels in the DNS namespace; the configured IPs, or else an address the repo does not
give) and ports, and the pod's egress side towards one of them allows a DNS port surely
(``Tri.TRUE``), not at all (``Tri.FALSE``) or maybe (``Tri.UNKNOWN``: a namespace or pod labels
the repo does not know, an other engine's policy). AdminNetworkPolicies and the baseline count
as they do everywhere else. Only a definite ``FALSE`` is reported, so what the repo does not
declare never causes a finding. The rules' hints (why a rule meant for DNS misses it) read the
rules themselves, on the traffic algebra.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from netlint.api import (
    IP,
    NAME_LABEL,
    NAMESPACE,
    POD,
    Box,
    Certainty,
    Conns,
    Context,
    Dim,
    Direction,
    Element,
    Explainer,
    External,
    Finding,
    HypotheticalPod,
    Index,
    IntervalSet,
    LabelSelector,
    LabelValues,
    NetworkPolicy,
    Operator,
    Options,
    Peer,
    Placed,
    PolicyRule,
    PortSet,
    PortSpec,
    Related,
    Requirement,
    Rule,
    RuleMeta,
    SelectorIndex,
    Severity,
    Side,
    SomeAddress,
    Span,
    TooComplex,
    Traffic,
    Tri,
    Workload,
    describe,
    display,
    hypothetical_pod,
    labels_exactly,
    listing,
    may_carry,
    option,
    peer_traffic,
    port_set,
    requirement_matches,
    selector_box,
    selects_hypothetical,
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: How many workloads a message names per group before "and N more".
MAX_NAMED = 3
#: How many explanations (a port without protocol, a podSelector alone) a finding carries.
MAX_HINTS = 3

#: The port OpenShift's DNS pods listen on (its Service maps 53 to it).
OPENSHIFT_DNS_PORT = 5353

UDP = "UDP"
TCP = "TCP"

#: Pods with these dnsPolicy values resolve through the node (or their own dnsConfig), not
#: through cluster DNS, so blocking it breaks nothing for them.
_NO_CLUSTER_DNS = frozenset(("Default", "None"))

#: Labels that real cluster DNS pods carry beside ``k8s-app: kube-dns``, and which values they
#: take there: controller hashes, and the labels of EKS, AKS, RKE2 and the CoreDNS Helm chart.
#: When the repo does not declare the DNS pods, a DNS peer that also requires one of these may
#: still match them; one that requires any other label cannot (kustomize's ``commonLabels`` on
#: a kube-dns peer).
_DNS_POD_EXTRA_LABELS: Final[Mapping[str, Callable[[str], bool]]] = {
    "pod-template-hash": lambda value: True,
    "controller-revision-hash": lambda value: True,
    "pod-template-generation": lambda value: True,
    "version": lambda value: True,
    "kubernetes.io/cluster-service": lambda value: value == "true",
    "eks.amazonaws.com/component": lambda value: value == "coredns",
    "app.kubernetes.io/name": lambda value: "dns" in value,
    "app.kubernetes.io/instance": lambda value: "dns" in value,
}


class FrozenLabels(Mapping[str, str]):
    """An immutable, hashable label map: an option default must not be shared mutable state
    (dataclasses refuse unhashable defaults)."""

    __slots__ = ("_labels",)

    def __init__(self, labels: Mapping[str, str]) -> None:
        self._labels = dict(labels)

    def __getitem__(self, key: str) -> str:
        return self._labels[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._labels)

    def __len__(self) -> int:
        return len(self._labels)

    def __hash__(self) -> int:
        return hash(frozenset(self._labels.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._labels) == dict(other)

    def __repr__(self) -> str:
        return f"FrozenLabels({self._labels!r})"


@dataclass(frozen=True, slots=True)
class DnsOptions(Options):
    """Where cluster DNS answers."""

    namespace: str = option(
        "kube-system",
        description="Namespace of the cluster DNS pods.",
        schema={"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
    )
    pod_labels: Mapping[str, str] = option(
        FrozenLabels({"k8s-app": "kube-dns"}),
        description="Labels the cluster DNS pods carry.",
        schema={"type": "object", "additionalProperties": {"type": "string"}},
    )
    ports: tuple[int, ...] = option(
        (53,),
        description="Ports the DNS pods listen on (the pod's port, not the Service's: "
        "OpenShift's DNS pods listen on 5353); any of them counts.",
        schema={
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": 65535},
            "minItems": 1,
        },
    )
    port_names: tuple[str, ...] = option(
        ("dns", "dns-tcp"),
        description="Container port names of the DNS pods that a named port in an egress rule "
        "may use.",
        schema={"type": "array", "items": {"type": "string", "minLength": 1}},
    )
    ip: tuple[str, ...] = option(
        (),
        description="IPs or CIDRs of the DNS service or of NodeLocal DNSCache (e.g. "
        "169.254.20.10). When set, an ipBlock counts only if it contains one; when empty, any "
        "ipBlock counts.",
        schema={
            "type": "array",
            "items": {"type": "string", "pattern": "^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$"},
        },
    )
    require_tcp: bool = option(
        True,
        description="Also report pods that reach DNS over UDP but not over TCP.",
        schema={"type": "boolean"},
    )


def _net_text(network: Network) -> str:
    return str(network.network_address) if network.num_addresses == 1 else str(network)


def _labels_text(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels.items())


# -- where DNS answers, and who reaches it ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hint:
    """Why a rule that looks like a DNS rule does not allow DNS (shown with the finding)."""

    span: Span
    text: str
    #: What is wrong, without the remedy, for a hint that can lead the finding of the policy
    #: it was found in (``owner``): the finding then points at the hint's line instead of the
    #: policy's Egress item, since that line is the one to change.
    cause: str | None = None
    owner: NetworkPolicy | None = field(default=None, compare=False)
    #: What to do, when the hint leads: the finding's message already says the cause.
    remedy: str | None = None


@dataclass(slots=True)
class Verdict:
    udp: Tri = Tri.FALSE
    tcp: Tri = Tri.FALSE
    hints: list[Hint] = field(default_factory=list)
    #: AdminNetworkPolicies whose Deny of a DNS port no NetworkPolicy can override.
    denied_by: tuple[str, ...] = ()


@dataclass(slots=True)
class Subject:
    """A pod the rule judges: a declared workload, or the hypothetical pod of a policy."""

    text: str
    verdict: Verdict


class Dns:
    """Where cluster DNS answers, as traffic, and whether egress traffic reaches it, for one run.

    DNS answers at *endpoints*, any one of which is enough: the DNS pods (each declared DNS
    workload with exactly its labels; when the repo declares none, any pod with the configured
    labels, whatever others it carries) in the DNS namespace (exactly its declared labels when
    the repo declares it, else only its name is certain), and the configured IPs (when none is
    configured, the service IP is unknown and any address may be it). It answers on the
    configured port numbers and names, any one of which is enough, per protocol.
    """

    def __init__(self, index: Index, options: DnsOptions) -> None:
        self.index = index
        self.options = options
        self.pod_labels = dict(options.pod_labels)
        networks: list[Network] = []
        for text in options.ip:
            # The config schema checks the characters only: "999.1.1.1" passes it. Such an
            # entry names no address, so it counts for nothing.
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                continue
        self.networks = tuple(networks)
        # When the repo declares the DNS pods themselves, their full labels are known.
        self.dns_workloads = tuple(
            w
            for w in index.workloads_in(options.namespace)
            if all(w.pod_labels.get(k) == v for k, v in self.pod_labels.items())
        )
        self.namespace_labels = (
            index.namespace_labels(options.namespace)
            if index.is_declared(options.namespace)
            else None
        )
        self.dns_ports = {protocol: self._port_set(protocol) for protocol in (UDP, TCP)}
        self.ip_targets = tuple(_ip_traffic(n) for n in self.networks)
        # The same endpoints as the reachability core's ends, and the DNS ports as numbers.
        # Where the repo declares the DNS pods, the ports they name with a DNS port name are
        # DNS ports as well (a named port in a rule resolves to the pod's number).
        self.wanted = {
            protocol: _wanted(
                protocol,
                (
                    *options.ports,
                    *(
                        port.port
                        for w in self.dns_workloads
                        for port in w.ports
                        if port.name in options.port_names and port.protocol == protocol
                    ),
                ),
            )
            for protocol in (UDP, TCP)
        }
        self._selects: dict[LabelSelector, Tri] = {}
        pods: tuple[Workload | Placed, ...] = self.dns_workloads or (
            Placed(
                options.namespace,
                self._selects_dns_pods,
                f"labels of the cluster DNS pods ({self.dns_pods_text()}), which the repo does "
                f"not declare, or of namespace {options.namespace}",
                self.ports_at,
            ),
        )
        addresses: tuple[External | SomeAddress, ...] = tuple(
            External(n.version, int(n.network_address), int(n.broadcast_address))
            for n in self.networks
        ) or tuple(
            SomeAddress(
                version,
                "the address of the cluster DNS service, which the repo does "
                "not give (set NL103's ip option)",
            )
            for version in (4, 6)
        )
        self.targets: tuple[Workload | Placed | External | SomeAddress, ...] = (
            *pods,
            *addresses,
        )

    def _port_set(self, protocol: str) -> PortSet:
        ports = PortSet()
        for number in self.options.ports:
            ports = ports.union(PortSet.number(protocol, number))
        # Names count whatever the protocol: which name goes with which protocol is the DNS
        # pods' business, and the repo rarely declares them.
        for name in self.options.port_names:
            ports = ports.union(PortSet.name(protocol, name))
        return ports

    @property
    def port_text(self) -> str:
        numbers = sorted(set(self.options.ports))
        if len(numbers) == 1:
            return f"port {numbers[0]}"
        return "ports " + ", ".join(str(n) for n in numbers)

    @property
    def description(self) -> str:
        where = (
            f"{_labels_text(self.pod_labels) or 'any pod'} in namespace {self.options.namespace}"
        )
        if self.networks:
            where += " or " + ", ".join(_net_text(n) for n in self.networks)
        return where

    def is_dns_pod(self, workload: Workload) -> bool:
        return workload in self.dns_workloads

    # -- the DNS pods as an end of the reachability core, when the repo declares none -------

    def _selects_dns_pods(self, selector: LabelSelector) -> Tri:
        """Whether a pod selector selects DNS pods the repo does not declare: they carry the
        configured labels, and maybe others (UNKNOWN for a requirement on another key),
        except the labels ``missing_labels`` knows they do not carry."""
        found = self._selects.get(selector)
        if found is None:
            if self.missing_labels(selector):
                found = Tri.FALSE
            else:
                found = Tri.all_of(
                    Tri.of(requirement_matches(r, self.pod_labels))
                    if r.key in self.pod_labels
                    else Tri.UNKNOWN
                    for r in selector.requirements
                )
            self._selects[selector] = found
        return found

    def ports_at(self, ports: PortSet) -> Conns:
        """A rule's ports at DNS pods the repo does not declare: its numbers, and the
        configured DNS port numbers where it names one of the configured port names (which
        name goes with which protocol is the DNS pods' business)."""
        out: dict[str, IntervalSet] = {}
        for protocol, numbers, names in ports.entries:
            if any(map(names.contains, self.options.port_names)):
                configured = ((n, n) for n in self.options.ports)
                numbers = numbers.union(IntervalSet.of(configured, numbers.lo, numbers.hi))
            out[protocol] = numbers
        return Conns.of(out)

    def verdict(
        self, core: Explainer, subject: Workload | Placed
    ) -> tuple[Tri, Tri, tuple[str, ...]]:
        """Whether the subject's egress allows UDP and TCP to some DNS endpoint, as the
        reachability core answers it, and the AdminNetworkPolicies that deny a DNS port."""
        if core.unmodelled(subject.namespace):
            # An other engine's policy may allow or deny anything here (Calico, Cilium).
            return Tri.UNKNOWN, Tri.UNKNOWN, ()
        sides = [core.egress(subject, target) for target in self.targets]
        wanted = self.wanted[UDP].union(self.wanted[TCP])
        denied = tuple(
            dict.fromkeys(
                f"{c.policy.kind} {c.policy.name}"
                for side in sides
                for c in side.admin
                if c.action == "Deny" and c.certain and not c.conns.intersect(wanted).is_empty()
            )
        )
        return self._allows(sides, UDP), self._allows(sides, TCP), denied

    def _allows(self, sides: Sequence[Side], protocol: str) -> Tri:
        """Whether some side allows a DNS port of ``protocol`` surely, maybe, or not at all."""
        wanted = self.wanted[protocol]
        found = Tri.FALSE
        for side in sides:
            if not side.certain.intersect(wanted).is_empty():
                return Tri.TRUE
            if not side.possible.intersect(wanted).is_empty():
                found = Tri.UNKNOWN
        return found

    # -- the three-valued question, asked of the algebra --------------------------------------

    def reach(self, allowed: Traffic) -> Tri:
        """Whether ``allowed`` (connections at any port) reaches some DNS endpoint."""
        return Tri.any_of(self._endpoints(allowed))

    def _endpoints(self, allowed: Traffic) -> Iterator[Tri]:
        if allowed.pods:
            # Keys no box of ``allowed`` constrains cannot decide anything; the keys it does
            # constrain are absent on the objects whose labels the repo knows exactly.
            pod_keys = allowed.keys(POD)
            if self.namespace_labels is None:
                namespace: dict[Dim, Element] = {
                    (NAMESPACE, NAME_LABEL): LabelValues.one_of((self.options.namespace,))
                }
            else:
                # A declared namespace carries exactly its declared labels, as the index judges
                # it (Index.namespace_selector_matches). The algebra's Namespaces would leave its
                # other keys open (a cluster may add labels), which would silence findings the
                # rule has always made for a namespaceSelector the declared labels do not match.
                namespace = labels_exactly(
                    NAMESPACE, self.namespace_labels, allowed.keys(NAMESPACE)
                )
            if self.dns_workloads:
                pods = [labels_exactly(POD, w.pod_labels, pod_keys) for w in self.dns_workloads]
            else:
                # Only the configured labels are certain; the DNS pods may carry others.
                pods = [{(POD, k): LabelValues.one_of((v,)) for k, v in self.pod_labels.items()}]
            for pod in pods:
                yield _decide(allowed, Traffic(pods=(Box({**namespace, **pod}),)))
        if self.networks:
            # A configured IP or CIDR counts when a block holds all of it: a yes/no question.
            for target in self.ip_targets:
                yield Tri.TRUE if _covers(allowed, target) else Tri.FALSE
        else:
            # The DNS service IP is unknown: any ipBlock may be the one that holds it.
            yield Tri.TRUE if allowed.ipv4 or allowed.ipv6 else Tri.FALSE

    def pod_selector(self, selector: LabelSelector) -> Tri:
        """Whether a podSelector (in a peer whose namespace holds the DNS pods) selects them."""
        dims = selector_box(POD, selector.requirements)
        return Tri.FALSE if dims is None else self.reach(Traffic(pods=(Box(dims),)))

    def namespace(self, policy: NetworkPolicy, peer: Peer) -> Tri:
        """Whether a selector peer's namespaces include the DNS namespace."""
        if peer.namespace_selector is None:
            return Tri.of(policy.namespace == self.options.namespace)
        dims = selector_box(NAMESPACE, peer.namespace_selector.requirements)
        return Tri.FALSE if dims is None else self.reach(Traffic(pods=(Box(dims),)))

    def peer(self, policy: NetworkPolicy, peer: Peer) -> Tri:
        return self.reach(peer_traffic(policy, peer))

    def peers(self, policy: NetworkPolicy, rule: PolicyRule) -> Tri:
        """Whether the peers of one rule, all together, reach DNS (ports aside)."""
        if rule.allows_all_peers:
            return Tri.TRUE
        allowed = Traffic()
        for peer in rule.peers:
            if (
                not self.dns_workloads
                and peer.ip_block is None
                and self.missing_labels(peer.pod_selector)
            ):
                # Meant for the DNS pods, but requiring labels they do not carry: it reaches
                # none of them. (Declared DNS pods are matched exactly by the algebra.)
                continue
            allowed = allowed.union(peer_traffic(policy, peer))
        return self.reach(allowed)

    def _means_dns(self, selector: LabelSelector) -> bool:
        """Whether a podSelector requires every configured DNS label, with its value: it names
        the DNS pods (and may require more)."""
        return all(
            any(
                r.key == key and r.operator is Operator.IN and value in r.values
                for r in selector.requirements
            )
            for key, value in self.pod_labels.items()
        )

    def missing_labels(self, selector: LabelSelector | None) -> tuple[Requirement, ...]:
        """The requirements of a podSelector meant for the DNS pods (it requires every
        configured DNS label) that the DNS pods do not meet: those no declared DNS workload
        meets, or, when the repo declares none, those requiring a label real DNS pods do not
        carry (any label but the configured ones and ``_DNS_POD_EXTRA_LABELS``)."""
        if selector is None or not self.pod_labels or not self._means_dns(selector):
            return ()
        if self.dns_workloads:
            return tuple(
                r
                for r in selector.requirements
                if not any(requirement_matches(r, w.pod_labels) for w in self.dns_workloads)
            )
        return tuple(r for r in selector.requirements if self._foreign(r))

    def _foreign(self, requirement: Requirement) -> bool:
        """Whether a requirement asks for a label that cluster DNS pods do not carry."""
        if requirement.key in self.pod_labels:
            return False  # _means_dns checked it
        if requirement.operator not in (Operator.IN, Operator.EXISTS):
            return False  # NotIn and DoesNotExist match pods without the label
        known = _DNS_POD_EXTRA_LABELS.get(requirement.key)
        if known is None:
            return True
        return requirement.operator is Operator.IN and not any(map(known, requirement.values))

    def dns_pods_text(self) -> str:
        """The DNS pods, as a message names them."""
        if self.dns_workloads:
            return listing((display(w) for w in self.dns_workloads), MAX_NAMED)
        return f"{_labels_text(self.pod_labels)} in namespace {self.options.namespace}"

    def ports_of(self, specs: Sequence[PortSpec], protocol: str) -> bool:
        """Whether ports (every port when empty) meet the DNS ports of ``protocol``."""
        return port_set(specs).meets(self.dns_ports[protocol])

    def port(self, spec: PortSpec, protocol: str) -> bool:
        return self.ports_of((spec,), protocol)

    def ports(self, rule: PolicyRule, protocol: str) -> bool:
        return self.ports_of(rule.ports, protocol)

    # -- per policy ---------------------------------------------------------------------------

    def policy_hints(self, policy: NetworkPolicy) -> tuple[Hint, ...]:
        """Why egress rules of a policy that look meant for DNS miss it: a rule whose peers
        hold no DNS endpoint (its peers' traffic, on the algebra), or that reaches one on
        the wrong ports. Hints explain a finding; whether there is one is the core's."""
        if not policy.valid:
            return ()
        return tuple(
            hint
            for rule in policy.egress
            for hint in self.hints(policy, rule, self.peers(policy, rule))
        )

    def _names_dns(self, policy: NetworkPolicy, peer: Peer) -> bool:
        """A selector peer that surely holds the DNS pods and names them or their namespace
        (``namespaceSelector: {}`` holds them too, but says nothing about intent)."""
        named = any(
            s is not None and not s.is_empty for s in (peer.pod_selector, peer.namespace_selector)
        )
        return named and peer.ip_block is None and self.peer(policy, peer) is Tri.TRUE

    def hints(self, policy: NetworkPolicy, rule: PolicyRule, peers: Tri) -> Iterator[Hint]:
        where = f"{policy.namespace}/{policy.name} egress[{rule.index}]"
        if peers is Tri.FALSE:
            yield from self._peer_hints(policy, rule, where)
        elif peers is Tri.TRUE:
            yield from self._port_hints(policy, rule, where)

    def _peer_hints(self, policy: NetworkPolicy, rule: PolicyRule, where: str) -> Iterator[Hint]:
        # Explain only rules meant for DNS: on its port, or to the DNS pods' labels.
        explicit = any(s.port is not None and self.port(s, s.protocol) for s in rule.ports)
        if not (self.ports(rule, UDP) or self.ports(rule, TCP)):
            return
        namespace = self.options.namespace
        for peer in rule.peers:
            pods = peer.pod_selector
            missing = self.missing_labels(pods) if peer.ip_block is None else ()
            to_dns_pods = (
                pods is not None and not pods.is_empty and self.pod_selector(pods) is Tri.TRUE
            ) or bool(missing)
            if not (explicit or to_dns_pods):
                continue
            if pods is not None and missing:
                yield self._missing_hint(policy, rule, where, pods, missing)
            if (
                pods is not None
                and to_dns_pods
                and peer.namespace_selector is None
                and policy.namespace != namespace
            ):
                yield Hint(
                    pods.key_span,
                    f"{where}: a podSelector alone selects pods in namespace "
                    f"{policy.namespace}, not in {namespace}; put a namespaceSelector for "
                    f"{namespace} in the same peer",
                )
            selector = peer.namespace_selector
            if (
                selector is not None
                and self.namespace(policy, peer) is Tri.FALSE
                and (pods is None or to_dns_pods)
            ):
                labels = self.index.namespace_labels(namespace)
                yield Hint(
                    selector.key_span,
                    f"{where}: namespaceSelector {selector} does not match namespace "
                    f"{namespace}, whose labels are " + _labels_text(dict(sorted(labels.items()))),
                )
            if peer.ip_block is not None and self.networks:
                ips = ", ".join(_net_text(n) for n in self.networks)
                yield Hint(
                    peer.ip_block.cidr_span,
                    f"{where}: ipBlock {peer.ip_block.cidr} does not contain the configured "
                    f"DNS address ({ips})",
                )

    def _missing_hint(
        self,
        policy: NetworkPolicy,
        rule: PolicyRule,
        where: str,
        pods: LabelSelector,
        missing: Sequence[Requirement],
    ) -> Hint:
        required = listing((describe(r) for r in missing), MAX_NAMED)
        ports = "" if rule.allows_all_ports else f" ({self.port_text})"
        cause = (
            f"{where} looks meant for DNS{ports}, but its podSelector also requires "
            f"{required}, which the DNS pods ({self.dns_pods_text()}) do not carry"
        )
        it = "it" if len(missing) == 1 else "them"
        remedy = (
            f"drop {it} from the peer's podSelector (kustomize's `commonLabels`, and `labels` "
            "with `includeSelectors: true`, add labels to every selector), or "
            + (
                f"add {it} to the DNS pods' labels"
                if self.dns_workloads
                else "set NL103's pod-labels option if the DNS pods do carry " + it
            )
        )
        return Hint(pods.key_span, f"{cause}; {remedy}", cause, policy, remedy)

    def _port_hints(self, policy: NetworkPolicy, rule: PolicyRule, where: str) -> Iterator[Hint]:
        if self.ports(rule, UDP):
            return
        defaulted = [s for s in rule.ports if not s.protocol_declared and self.port(s, TCP)]
        if defaulted:
            spec = defaulted[0]
            yield Hint(
                spec.port_span or spec.span,
                f"{where}: {_port_text(spec)} has no protocol, which defaults to TCP; "
                "add the same port with `protocol: UDP`",
            )
        elif not self.ports(rule, TCP):
            openshift = any(s.port == OPENSHIFT_DNS_PORT for s in rule.ports)
            if not (openshift or any(self._names_dns(policy, p) for p in rule.peers)):
                return
            listed = ", ".join(_port_text(s, protocol=True) for s in rule.ports)
            text = f"{where} reaches the DNS pods only on {listed}, not {self.port_text}"
            if openshift:
                text += (
                    " (OpenShift's DNS pods listen on 5353: there, set NL103's namespace, "
                    "pod-labels and ports options)"
                )
            yield Hint(rule.ports_key_span or rule.span, text)


def _wanted(protocol: str, ports: Iterable[int]) -> Conns:
    found = Conns.none()
    for number in ports:
        found = found.union(Conns.port(protocol, number))
    return found


def _ip_traffic(network: Network) -> Traffic:
    top = (1 << network.max_prefixlen) - 1
    box = Box(
        {IP: IntervalSet.span(int(network.network_address), int(network.broadcast_address), 0, top)}
    )
    return Traffic(ipv4=(box,)) if network.version == 4 else Traffic(ipv6=(box,))


def _covers(allowed: Traffic, target: Traffic) -> bool:
    try:
        return allowed.covers(target)
    except TooComplex:
        return False  # undecided: the caller reads "not surely covered" as unknown or no


def _decide(allowed: Traffic, target: Traffic) -> Tri:
    """``TRUE`` when ``allowed`` holds all of ``target`` (a DNS endpoint with what is unknown
    about it left open), ``FALSE`` when it holds none of it, else ``UNKNOWN``."""
    if not allowed.intersects(target):
        return Tri.FALSE
    return Tri.TRUE if _covers(allowed, target) else Tri.UNKNOWN


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


# -- the rule ---------------------------------------------------------------------------------


class MissingDnsEgress(Rule):
    meta = RuleMeta(
        code="NL103",
        name="missing-dns-egress",
        severity=Severity.WARNING,
        summary="A policy isolates the egress of pods that then cannot reach cluster DNS "
        "(UDP and TCP 53 to kube-dns in kube-system, configurable).",
        why=(
            "Once a NetworkPolicy with `Egress` in its policyTypes selects a pod, the pod may "
            "only send what some egress rule of a policy selecting it allows (policies only "
            "add). Unless one of those rules allows UDP and TCP port 53 to the cluster DNS "
            "pods, every name lookup times out: the pod cannot even reach the services that "
            "the rules do allow. `protocol` defaults to TCP: `port: 53` alone leaves UDP, "
            "which resolvers use first, blocked. UDP allowed but TCP blocked is reported too "
            "(large responses and some resolvers need TCP; turn off with `require-tcp: "
            "false`); the message says which variant applies.\n\n"
            "A rule counts when its peer can hold the DNS pods: no `to` (everywhere); a "
            "`namespaceSelector` matching the DNS namespace with no, an empty, or a "
            "DNS-pod-matching `podSelector`; an `ipBlock` (any one when the option `ip` is "
            "unset, since the DNS service IP is unknown; else one containing a configured IP); "
            "a `podSelector` alone reaches only the policy's own namespace. A `podSelector` "
            "that requires the DNS labels and more (kustomize's `commonLabels` rewrite a "
            "kube-dns peer that way) reaches no DNS pod when the extra labels are ones the DNS "
            "pods do not carry: the declared DNS workloads' labels when the repo has them, else "
            "any label but the configured ones and those real DNS pods carry "
            "(`pod-template-hash`, `version`, EKS's and AKS's labels, "
            "`app.kubernetes.io/name` naming DNS); the finding is then at that `podSelector`. "
            "A port counts when "
            "it is 53 (the `ports` option), a range containing it, a configured port name "
            "(`dns`, `dns-tcp`) or absent. Declared pods are judged; a policy selecting none "
            "is judged for a pod carrying exactly the labels its selector requires (`In` with "
            "several values and `Exists` leave the value unknown; `NotIn` and `DoesNotExist` "
            "require no label)."
        ),
        fix=(
            "Add an egress rule with `to: [{namespaceSelector: {matchLabels: "
            "{kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: "
            "{k8s-app: kube-dns}}}]` and `ports: [{protocol: UDP, port: 53}, {protocol: TCP, "
            "port: 53}]`, in the policy or in a separate `allow-dns` policy selecting the same "
            "pods.\n\n"
            "For OpenShift set `namespace: openshift-dns`, `pod-labels: "
            "{dns.operator.openshift.io/daemonset-dns: default}` and `ports: [5353]`; for "
            "NodeLocal DNSCache add `ip: [169.254.20.10]`."
        ),
        not_reported=(
            "Where the repo cannot know, DNS is taken as reachable: a namespace it does not "
            "declare, selected by labels other than its name; pod labels beyond the configured "
            "DNS labels, unless the selector also requires all the configured ones (then it "
            "names the DNS pods, and labels they do not carry are reported); whether an unsure "
            "policy selects the pod; a policy selecting it that "
            "the API server would reject (see NL002); another engine's policy (Calico, Cilium) "
            "that may apply to the pods. AdminNetworkPolicies count as Kubernetes evaluates "
            "them: one that allows DNS to the pods silences the finding, one that passes it "
            "leaves it to the NetworkPolicies, and one that denies it is named in the finding "
            "as its cause. Host-network pods, pods whose `dnsPolicy` "
            "is `Default` or `None`, and the DNS pods themselves (they resolve through the "
            "node's upstream servers, not cluster DNS) are not judged."
        ),
        added_in="0.1.0",
        tags=("reliability", "dns", "egress"),
        security_severity=2.0,
        certainty=Certainty.MAY,
        options=DnsOptions,
    )

    def check_policy(self, ctx: Context, policy: NetworkPolicy) -> Iterator[Finding]:
        if not policy.valid or Direction.EGRESS not in policy.policy_types:
            return
        anchor = _anchor(policy)
        if anchor is None:
            return
        dns = _dns(ctx)
        finding = _finding(ctx, dns, policy, anchor, _subjects(ctx, dns, policy))
        if finding is not None:
            yield finding


def _dns(ctx: Context) -> Dns:
    return ctx.cluster_memo("dns", lambda: Dns(ctx.cluster, ctx.options))


def _core(ctx: Context) -> Explainer:
    # The cluster's policies compiled once per run, as the connectivity map has them.
    # Each policy as written: one a same-named policy of another unit may replace still blocks
    # DNS where it is applied (NL206 reports the pair).
    return ctx.cluster_memo("core", lambda: Explainer(ctx.cluster, same_named=False))


def _policy_hints(ctx: Context, dns: Dns, policy: NetworkPolicy) -> tuple[Hint, ...]:
    # A default-deny policy and an allow-dns policy select the same pods: each policy's hints
    # are worked out once per run.
    return ctx.cluster_memo(("hints", policy), lambda: dns.policy_hints(policy))


def _subjects(ctx: Context, dns: Dns, policy: NetworkPolicy) -> list[Subject]:
    selected = _judged_pods(ctx, policy)
    if selected:
        return [
            Subject(display(w), _workload_verdict(ctx, dns, w))
            for w in selected
            if not w.host_network and w.dns_policy not in _NO_CLUSTER_DNS and not dns.is_dns_pod(w)
        ]
    pod = hypothetical_pod(policy.pod_selector)
    if pod is None or (
        policy.namespace == dns.options.namespace and may_carry(pod, dns.pod_labels)
    ):
        return []  # it matches nothing, or it may be the DNS pods themselves
    # Policies with the same required labels judge the same hypothetical pod: one verdict per
    # (namespace, required labels), which keeps the rule linear in the policies of a namespace.
    key = ("pod", policy.namespace, frozenset(pod.items()))
    verdict = ctx.cluster_memo(
        key, lambda: _hypothetical_verdict(ctx, dns, policy.namespace, policy.pod_selector, pod)
    )
    if policy.pod_selector.is_empty:
        text = f"every pod in namespace {policy.namespace} (the repo declares none)"
    else:
        text = f"pods matching {policy.pod_selector} in {policy.namespace} (none declared)"
    return [Subject(text, verdict)]


def _judged_pods(ctx: Context, policy: NetworkPolicy) -> list[Workload]:
    """The declared pods the policy isolates: those of its own deploy unit, and those of other
    units when both it and they state their namespace (an explicit namespace is where they
    meet; two namespace-less objects of different units are not known to, see docs/units.md)."""
    own = list(ctx.index.selected_workloads(policy))
    if policy.namespace_declared and ctx.cluster is not ctx.index:
        seen = set(own)
        own += [
            w
            for w in ctx.cluster.selected_workloads(policy)
            if w.namespace_declared and w not in seen
        ]
    # In the order of the repo's files (a build lists them in its resources' order).
    return sorted(own, key=lambda w: (w.ref.path, w.ref.span.line, w.ref.span.col))


def _hypothetical_verdict(
    ctx: Context, dns: Dns, namespace: str, selector: LabelSelector, pod: HypotheticalPod
) -> Verdict:
    judges = ctx.cluster_memo(
        ("judges", namespace), lambda: SelectorIndex(ctx.cluster.policies_in(namespace))
    )
    # The pods the policy is written for, as an end of the reachability core: the policies
    # that may select them are those of the namespace's index that may (in the repo's order).
    candidates = judges.of(pod)
    subject = Placed(
        namespace,
        lambda other: selects_hypothetical(other, pod),
        f"labels of the pods {selector} selects in {namespace}, which the repo does not declare",
        policies=lambda: candidates,
    )
    judged = [
        (other, selected)
        for other in candidates
        if (selected := selects_hypothetical(other.pod_selector, pod)) is not Tri.FALSE
    ]
    return _verdict(ctx, dns, subject, judged)


def _workload_verdict(ctx: Context, dns: Dns, workload: Workload) -> Verdict:
    # Once per workload: thousands of policies of one namespace may select the same pods, and
    # each asks for their verdict.
    return ctx.cluster_memo(
        ("workload", workload),
        lambda: _verdict(
            ctx, dns, workload, [(p, Tri.TRUE) for p in ctx.cluster.policies_selecting(workload)]
        ),
    )


def _anchor(policy: NetworkPolicy) -> Span | None:
    for value, span in policy.declared_policy_types or ():
        if value == Direction.EGRESS.value:
            return span
    if policy.declared_policy_types is None:
        return policy.egress_key_span
    return None


def _verdict(
    ctx: Context,
    dns: Dns,
    subject: Workload | Placed,
    policies: Iterable[tuple[NetworkPolicy, Tri]],
) -> Verdict:
    """DNS reachability for a pod that ``policies`` select (TRUE) or may select (UNKNOWN): the
    reachability core's answer, with the hints of the egress policies among them.

    A policy the API server rejects is not modelled by the core (it isolates nothing); once
    fixed it may well allow DNS, so where one may select the pod, "blocked" is unknown."""
    udp, tcp, denied = dns.verdict(_core(ctx), subject)
    egress = [p for p, _ in policies if Direction.EGRESS in p.policy_types]
    if any(not p.valid for p in egress):
        udp, tcp = udp | Tri.UNKNOWN, tcp | Tri.UNKNOWN
    hints: list[Hint] = []
    if Tri.FALSE in (udp, tcp):  # only a blocked protocol is reported, and explained
        for policy in egress:
            hints.extend(_policy_hints(ctx, dns, policy))
    return Verdict(udp, tcp, hints, denied)


def _named(subjects: Sequence[Subject]) -> str:
    # The same workload may be declared twice (overlays, a JSON copy): listing names it once.
    return listing((s.text for s in subjects), MAX_NAMED)


def _finding(
    ctx: Context, dns: Dns, policy: NetworkPolicy, anchor: Span, subjects: Sequence[Subject]
) -> Finding | None:
    udp_blocked = [s for s in subjects if s.verdict.udp is Tri.FALSE]
    blocked = [s for s in udp_blocked if s.verdict.tcp is Tri.FALSE]
    no_udp = [s for s in udp_blocked if s.verdict.tcp.possible]
    no_tcp = [
        s
        for s in subjects
        if ctx.options.require_tcp and s.verdict.udp.possible and s.verdict.tcp is Tri.FALSE
    ]
    if not (blocked or no_udp or no_tcp):
        return None
    port = dns.port_text
    parts: list[str] = []
    if blocked:
        parts.append(f"DNS (UDP and TCP {port}) is blocked for {_named(blocked)}")
    if no_udp:
        parts.append(f"UDP {port} is blocked (only TCP is allowed) for {_named(no_udp)}")
    if no_tcp:
        parts.append(f"TCP {port} is blocked for {_named(no_tcp)}")
    hints: dict[tuple[Span, str], Hint] = {}
    for subject in (*blocked, *no_udp, *no_tcp):
        for hint in subject.verdict.hints:
            hints.setdefault((hint.span, hint.text), hint)
    # A cause written in this very policy (a DNS peer whose podSelector no DNS pod matches)
    # leads the finding, at its line: one finding for one mistake, where it is fixed.
    lead = next((h for h in hints.values() if h.cause is not None and h.owner is policy), None)
    others = [h for h in hints.values() if h is not lead]
    chosen = ([lead] if lead is not None else []) + others[: MAX_HINTS - (lead is not None)]
    if chosen:
        fix = " ".join(
            f"{h.remedy[0].upper()}{h.remedy[1:]}." if h is lead and h.remedy else f"{h.text}."
            for h in chosen
        )
    elif blocked or no_udp:
        fix = (
            f"Allow UDP and TCP {port} to cluster DNS ({dns.description}), e.g. to "
            f"namespaceSelector {NAME_LABEL}={dns.options.namespace} with podSelector "
            f"{_labels_text(dns.pod_labels) or '{}'}, in this policy or in an allow-dns policy "
            "selecting the same pods."
        )
    else:
        fix = (
            f"Allow TCP {port} to cluster DNS as well: large responses and some resolvers need TCP."
        )
    message = "; ".join(parts)
    denied = list(
        dict.fromkeys(d for s in (*blocked, *no_udp, *no_tcp) for d in s.verdict.denied_by)
    )
    if denied:
        # Evaluated before every NetworkPolicy: no rule of this policy could allow it.
        named = listing(denied, MAX_NAMED)
        message += f" ({named} denies it before any NetworkPolicy)"
        fix = (
            f"{named[0].upper()}{named[1:]} denies DNS to these pods, which no NetworkPolicy "
            "can override: change its rule, or give these pods a higher-priority Allow."
        )
    if lead is not None and lead.cause is not None:
        anchor = lead.span
        message = f"{lead.cause}: {message}"
    return ctx.finding(
        anchor,
        message,
        fix=fix,
        related=[Related(h.span, h.text) for h in chosen if h is not lead],
        subject=policy,
    )


RULE = MissingDnsEgress
