"""The objects rules reason about: immutable, small, and each with the spans a finding may point at.

They are built from parsed documents by :mod:`netlint.read.build`; rules never see YAML nodes.
Objects compare by identity (``eq=False``), so they can key dicts and sets cheaply.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from operator import attrgetter
from typing import ClassVar, TypeVar, dataclass_transform

from netlint.core import selectors
from netlint.core.selectors import Operator
from netlint.core.source import Span

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True)
def _model(cls: type[_T]) -> type[_T]:
    """A model class: a slots dataclass that compares by identity, immutable by contract (mypy
    reports any assignment to a field, as for a frozen dataclass) but not frozen at run time.

    A frozen class's ``__init__`` sets each field through ``object.__setattr__``: eight times
    the cost of a plain one for a policy's twenty fields, and decoding the cache and planning
    kustomize builds construct a few hundred thousand of these objects per run."""
    return dataclass(slots=True, eq=False)(cls)


#: Per model class: a getter of all its fields at once (in C), and each field's position.
_LAYOUTS: dict[type, tuple[Callable[[object], tuple[object, ...]], dict[str, int]]] = {}


def evolve(obj: _T, **changes: object) -> _T:
    """``dataclasses.replace`` for a model object (all of its fields set by ``__init__``, no
    ``__post_init__``: as every class here), at a third of its cost: planning moves every
    object of every kustomize build into its namespace with it. Unlike ``replace``, mypy does
    not check the names: a wrong one is a KeyError."""
    cls = type(obj)
    layout = _LAYOUTS.get(cls)
    if layout is None:
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        get = attrgetter(*names)
        # attrgetter of one name gives the value itself, not a tuple of it.
        getter = get if len(names) > 1 else lambda o: (get(o),)
        layout = _LAYOUTS[cls] = (getter, {n: i for i, n in enumerate(names)})
    get_all, position = layout
    values = list(get_all(obj))
    for name, value in changes.items():
        values[position[name]] = value
    return cls(*values)


PathKey = tuple[str | int, ...]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The label every namespace carries (Kubernetes >= 1.21).
NAME_LABEL = "kubernetes.io/metadata.name"
#: Namespaces every cluster has, whether or not the repo declares them.
BUILTIN_NAMESPACES = frozenset(("default", "kube-system", "kube-public", "kube-node-lease"))


class Direction(StrEnum):
    INGRESS = "Ingress"
    EGRESS = "Egress"

    @property
    def rules_key(self) -> str:
        return "ingress" if self is Direction.INGRESS else "egress"

    @property
    def peers_key(self) -> str:
        return "from" if self is Direction.INGRESS else "to"


@_model
class ObjectRef:
    """Where an object lives: file, document (0-based) and the object's path in it."""

    kind: str
    name: str
    namespace: str
    path: str
    document: int
    prefix: PathKey
    #: The span of the whole object (its first line to its last).
    span: Span

    @property
    def subject(self) -> str:
        """A stable identity for messages and fingerprints: ``Kind/namespace/name``."""
        return f"{self.kind}/{self.namespace}/{self.name}"


@_model
class Requirement:
    key: str
    operator: Operator
    values: frozenset[str]
    #: ``matchLabels`` or ``matchExpressions``
    source: str
    #: The matchLabels entry's key, or the matchExpressions item.
    span: Span


@_model
class LabelSelector:
    requirements: tuple[Requirement, ...]
    #: The ``podSelector:`` / ``namespaceSelector:`` key (the value's span when there is no key).
    key_span: Span
    span: Span

    @property
    def is_empty(self) -> bool:
        return not self.requirements

    def matches(self, labels: Mapping[str, str]) -> bool:
        return selectors.matches(self.requirements, labels)

    @property
    def holds_placeholder(self) -> bool:
        """Whether a key or value is a substitution placeholder (``app: ${APP}``): which labels
        the selector matches is unknown until a tool substitutes it (``matches`` reads the
        placeholder as written)."""
        return selectors.holds_placeholder(self.requirements)

    def __str__(self) -> str:
        return selectors.describe_all(self.requirements)


@_model
class Except:
    cidr: str
    network: Network
    span: Span


@_model
class IPBlock:
    cidr: str
    network: Network
    excepts: tuple[Except, ...]
    key_span: Span
    cidr_span: Span


@_model
class Peer:
    """One item of ``from``/``to``. Selectors in one peer are ANDed; items are ORed."""

    pod_selector: LabelSelector | None
    namespace_selector: LabelSelector | None
    ip_block: IPBlock | None
    index: int
    span: Span


@_model
class PortSpec:
    """One item of ``ports``. ``port`` None means every port of the protocol."""

    protocol: str
    port: int | str | None
    end_port: int | None
    #: Whether ``protocol`` was written (it defaults to TCP).
    protocol_declared: bool
    index: int
    span: Span
    port_span: Span | None
    protocol_span: Span | None
    end_port_span: Span | None

    @property
    def is_named(self) -> bool:
        return isinstance(self.port, str)


@_model
class Rule:
    """One ingress or egress rule. Empty ``peers`` allows every peer, empty ``ports`` every port."""

    direction: Direction
    index: int
    peers: tuple[Peer, ...]
    ports: tuple[PortSpec, ...]
    #: The list item's first line (``- from:``, ``- ports:``, ``- {}``).
    span: Span
    #: The ``from:``/``to:`` key and the ``ports:`` key, when written.
    peers_key_span: Span | None
    ports_key_span: Span | None
    path: PathKey

    @property
    def allows_all_peers(self) -> bool:
        return not self.peers

    @property
    def allows_all_ports(self) -> bool:
        return not self.ports


@_model
class NetworkPolicy:
    ref: ObjectRef
    name: str
    namespace: str
    #: Whether ``metadata.namespace`` is written (else the configured default namespace applies).
    namespace_declared: bool
    pod_selector: LabelSelector
    #: Effective policyTypes: as written; when absent or empty, Ingress, plus Egress when
    #: ``spec.egress`` is non-empty (the API server's defaulting).
    policy_types: frozenset[Direction]
    #: ``spec.policyTypes`` items as written, with their spans; None when the field is absent.
    declared_policy_types: tuple[tuple[str, Span], ...] | None
    ingress: tuple[Rule, ...]
    egress: tuple[Rule, ...]
    name_span: Span
    namespace_span: Span | None
    spec_span: Span | None
    policy_types_key_span: Span | None
    ingress_key_span: Span | None
    egress_key_span: Span | None
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    #: False when NL002 found something the API server rejects; rules that reason about the
    #: rules' contents skip such policies rather than guess what was meant.
    valid: bool
    #: The ``netlint.dev/ignore`` annotation's value, when the object has one.
    annotation_span: Span | None = None
    #: Named by the API server from ``metadata.generateName`` (``name`` is the prefix): two
    #: such policies of one prefix get names of their own, so they are no duplicates.
    generated_name: bool = False

    def rules(self, direction: Direction) -> tuple[Rule, ...]:
        """The rules of a direction as written, whether or not Kubernetes enforces them."""
        return self.ingress if direction is Direction.INGRESS else self.egress

    def effective_rules(self, direction: Direction) -> tuple[Rule, ...]:
        """The rules Kubernetes enforces: none for a direction policyTypes does not list."""
        return self.rules(direction) if direction in self.policy_types else ()

    def isolates(self, direction: Direction) -> bool:
        return direction in self.policy_types

    def rules_key_span(self, direction: Direction) -> Span | None:
        return self.ingress_key_span if direction is Direction.INGRESS else self.egress_key_span

    def semantic_key(self) -> tuple[object, ...]:
        """What the cluster enforces, as written, without positions or metadata: equal keys
        mean that applying one policy over the other changes no traffic (NL206 compares
        same-named definitions by it; the reachability core, which of them the cluster keeps)."""
        return (
            _selector_key(self.pod_selector),
            tuple(sorted(self.policy_types)),
            tuple(_rule_key(r) for r in self.ingress),
            tuple(_rule_key(r) for r in self.egress),
        )

    def effect_key(self, direction: Direction) -> tuple[object, ...] | None:
        """What the policy enforces in ``direction`` at the pods it selects, as
        :meth:`semantic_key` compares it: None when it does not isolate that direction."""
        if direction not in self.policy_types:
            return None
        return tuple(_rule_key(r) for r in self.rules(direction))

    def enforced_key(self) -> tuple[object, ...]:
        """What the policy enforces once applied (its effective rules only): equal keys, equal
        traffic wherever it applies (``netlint diff`` compares revisions by it). A policy the
        API server rejects enforces nothing: ``valid`` is part of the key."""
        return (
            self.valid,
            _selector_key(self.pod_selector),
            self.effect_key(Direction.INGRESS),
            self.effect_key(Direction.EGRESS),
        )


def _selector_key(selector: LabelSelector | None) -> object:
    if selector is None:
        return None
    return frozenset((r.key, str(r.operator), r.values) for r in selector.requirements)


def _rule_key(rule: Rule) -> object:
    peers = tuple(
        (
            _selector_key(peer.pod_selector),
            _selector_key(peer.namespace_selector),
            None
            if peer.ip_block is None
            else (peer.ip_block.network, frozenset(e.network for e in peer.ip_block.excepts)),
        )
        for peer in rule.peers
    )
    return (peers, tuple((p.protocol, p.port, p.end_port) for p in rule.ports))


@_model
class ContainerPort:
    port: int
    protocol: str
    name: str | None
    container: str


#: Kinds whose objects run pods, and where their pod template sits.
POD_TEMPLATE_PATH: Mapping[str, PathKey] = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    # OpenShift's DeploymentConfig runs pods from a template just like a Deployment.
    "DeploymentConfig": ("spec", "template"),
}


#: The API version each modelled kind is served at.
SERVED_AT: Mapping[str, str] = {
    "Pod": "v1",
    "ReplicationController": "v1",
    "Namespace": "v1",
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "ReplicaSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
    "DeploymentConfig": "apps.openshift.io/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
}


#: Kinds the API server accepts only with a selector that matches the pod template's labels.
_NEEDS_LABELS = frozenset(
    ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController")
)


@_model
class Workload:
    ref: ObjectRef
    kind: str
    name: str
    namespace: str
    namespace_declared: bool
    #: The labels its pods carry (the pod template's labels; a Pod's own labels).
    pod_labels: Mapping[str, str]
    ports: tuple[ContainerPort, ...]
    #: Pods on the host network are outside every NetworkPolicy's reach.
    host_network: bool
    #: ``spec.dnsPolicy`` as written (None: ClusterFirst); Default and None do not use
    #: cluster DNS.
    dns_policy: str | None
    name_span: Span
    labels_span: Span | None
    annotations: Mapping[str, str]
    annotation_span: Span | None = None
    #: A Pod's controller (``metadata.ownerReferences`` item with ``controller: true``) as
    #: (kind, name): a cluster dump's pods are that workload's replicas. Kind "" when unwritten.
    owner: tuple[str, str] | None = None

    def named_port(self, name: str) -> tuple[ContainerPort, ...]:
        return tuple(p for p in self.ports if p.name == name)

    @property
    def is_fragment(self) -> bool:
        """A workload that could not be applied as written: a kustomize patch, or a base whose
        labels a generator adds (the API server requires a controller's selector to match pod
        labels). The object the cluster runs is assembled elsewhere; its labels are unknown."""
        return self.kind in _NEEDS_LABELS and not self.pod_labels


@_model
class Namespace:
    #: The annotation that asked for default-deny ingress before NetworkPolicy was GA
    #: (``{"ingress": {"isolation": "DefaultDeny"}}``); Kubernetes ignores it since 1.7.
    LEGACY_ISOLATION_ANNOTATION: ClassVar[str] = "net.beta.kubernetes.io/network-policy"

    ref: ObjectRef
    name: str
    #: Declared labels plus ``kubernetes.io/metadata.name``.
    labels: Mapping[str, str]
    name_span: Span
    annotations: Mapping[str, str]
    annotation_span: Span | None = None
    #: The key of the ``LEGACY_ISOLATION_ANNOTATION`` annotation, when the namespace has it.
    legacy_isolation_span: Span | None = None


@_model
class AdminRule:
    """One ingress or egress rule of an AdminNetworkPolicy or BaselineAdminNetworkPolicy.

    ``rule`` reuses the NetworkPolicy shapes so that the reachability core compiles both
    alike: a ``namespaces`` peer is a :class:`Peer` with only a namespaceSelector, a ``pods``
    peer one with both selectors, each egress ``networks`` CIDR one with an ipBlock (no
    excepts); ``portNumber`` and ``portRange`` are :class:`PortSpec` numbers and ranges, a
    ``namedPort`` (which has no protocol: it is the destination pod's) one named PortSpec per
    protocol. Unlike a NetworkPolicy rule's, empty ``rule.peers`` (a rule whose only peers are
    ``nodes``, which netlint does not model) matches nothing."""

    #: ``spec.ingress[i].name`` (may be empty: the field is optional).
    name: str
    #: ``Allow``, ``Deny`` or ``Pass`` (Pass: AdminNetworkPolicy only).
    action: str
    rule: Rule
    #: Whether the rule names ``nodes`` peers, which netlint does not model (no node objects).
    has_nodes: bool = False


@_model
class AdminPolicy:
    """An AdminNetworkPolicy (``priority`` set) or the BaselineAdminNetworkPolicy (``priority``
    None) of ``policy.networking.k8s.io/v1alpha1``, read for the reachability core."""

    kind: str
    name: str
    #: 0-1000, lower first; None for the BaselineAdminNetworkPolicy.
    priority: int | None
    #: The subject's namespaces (``subject.namespaces``, or ``subject.pods.namespaceSelector``).
    subject_namespaces: LabelSelector
    #: ``subject.pods.podSelector``; None for a ``subject.namespaces`` subject (every pod).
    subject_pods: LabelSelector | None
    ingress: tuple[AdminRule, ...]
    egress: tuple[AdminRule, ...]
    name_span: Span

    def rules(self, direction: Direction) -> tuple[AdminRule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress

    @property
    def is_baseline(self) -> bool:
        return self.priority is None

    def semantic_key(self) -> tuple[object, ...]:
        """What decides the policy's answers, without source positions: equal keys, equal
        connectivity (``netlint diff`` compares policies by it)."""

        def selector_key(selector: LabelSelector | None) -> object:
            if selector is None:
                return None
            return tuple(
                sorted(
                    (r.key, r.operator.value, tuple(sorted(r.values)))
                    for r in selector.requirements
                )
            )

        def rule_key(rule: AdminRule) -> object:
            peers = tuple(
                (
                    selector_key(p.pod_selector),
                    selector_key(p.namespace_selector),
                    None if p.ip_block is None else str(p.ip_block.network),
                )
                for p in rule.rule.peers
            )
            ports = tuple((p.protocol, p.port, p.end_port) for p in rule.rule.ports)
            return (rule.name, rule.action, peers, ports, rule.has_nodes)

        return (
            self.kind,
            self.name,
            self.priority,
            selector_key(self.subject_namespaces),
            selector_key(self.subject_pods),
            tuple(rule_key(r) for r in self.ingress),
            tuple(rule_key(r) for r in self.egress),
        )


@_model
class ForeignPolicy:
    """A network policy of another engine (Calico, Cilium, AdminNetworkPolicy). Rules do not
    read its contents, but it may isolate pods: checks that would claim a pod is open stay
    silent where one applies. ``admin`` is the parsed form of a well-formed
    AdminNetworkPolicy or BaselineAdminNetworkPolicy, which the reachability core models;
    None for every other kind (and a malformed one), whose answers it leaves unknown."""

    ref: ObjectRef
    kind: str
    api_version: str
    #: None for cluster-scoped kinds, which may apply in any namespace.
    namespace: str | None
    admin: AdminPolicy | None = None
    #: Why an AdminNetworkPolicy of the modelled group is not modelled (malformed), if so.
    unmodelled_reason: str | None = None


#: Kinds of other engines' network policies, by API group: (namespaced kinds, cluster kinds).
FOREIGN_POLICY_KINDS: Mapping[str, tuple[frozenset[str], frozenset[str]]] = {
    "projectcalico.org": (
        frozenset(("NetworkPolicy", "StagedNetworkPolicy")),
        frozenset(("GlobalNetworkPolicy", "StagedGlobalNetworkPolicy")),
    ),
    "crd.projectcalico.org": (
        frozenset(("NetworkPolicy",)),
        frozenset(("GlobalNetworkPolicy",)),
    ),
    "cilium.io": (
        frozenset(("CiliumNetworkPolicy",)),
        frozenset(("CiliumClusterwideNetworkPolicy",)),
    ),
    "policy.networking.k8s.io": (
        frozenset(),
        frozenset(("AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy")),
    ),
}

Object = NetworkPolicy | Workload | Namespace
