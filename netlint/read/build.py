"""Parsed documents to model objects, validating what the API server would reject on the way.

Builders never trust a type: a field of the wrong type has already become an NL002 problem, and
the builder leaves it out (and marks a policy invalid) instead of failing.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from netlint.core.model import (
    FOREIGN_POLICY_KINDS,
    NAME_LABEL,
    POD_TEMPLATE_PATH,
    SERVED_AT,
    AdminPolicy,
    AdminRule,
    ContainerPort,
    Direction,
    Except,
    ForeignPolicy,
    IPBlock,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Object,
    ObjectRef,
    Peer,
    PortSpec,
    Requirement,
    Rule,
    Workload,
)
from netlint.core.problems import Problem, ProblemKind
from netlint.core.selectors import Operator
from netlint.core.source import Positions, Span
from netlint.read import schema, validate
from netlint.read.parse import ALL, Node, PathKey, Shape, Tree, to_tree, top_level_scalars

#: Findings about an object with this annotation are suppressed (see netlint.run.suppress).
IGNORE_ANNOTATION: Final = "netlint.dev/ignore"
POLICY_GROUPS: Final = ("networking.k8s.io/", "extensions/")
#: A policy with a problem of these kinds is not what the cluster would hold: rules that reason
#: about its rules leave it out (``NetworkPolicy.valid``). netlint's own failures do not count.
_INVALIDATING: Final = frozenset({ProblemKind.SYNTAX, ProblemKind.INVALID})
_WORKLOAD_GROUPS: Final = {
    "Pod": ("v1",),
    "ReplicationController": ("v1",),
    "Deployment": ("apps/", "extensions/"),
    "StatefulSet": ("apps/",),
    "DaemonSet": ("apps/", "extensions/"),
    "ReplicaSet": ("apps/", "extensions/"),
    "Job": ("batch/",),
    "CronJob": ("batch/",),
    "DeploymentConfig": ("apps.openshift.io/", "v1"),
}
_CONTAINER_SHAPE: Final = [{"name": ALL, "ports": ALL}]
_POD_SPEC_SHAPE: Final = {
    "hostNetwork": ALL,
    "dnsPolicy": ALL,
    "containers": _CONTAINER_SHAPE,
    "initContainers": _CONTAINER_SHAPE,
}


def _workload_shape(template: PathKey) -> Shape:
    """Convert only what rules read: metadata, the pod template's labels and container ports."""
    inner: Shape = {"metadata": ALL, "spec": _POD_SPEC_SHAPE}
    for key in reversed(template):
        inner = {key: inner}
    return {"apiVersion": ALL, "kind": ALL, "metadata": ALL, **inner}


_WORKLOAD_SHAPES: Final = {kind: _workload_shape(t) for kind, t in POD_TEMPLATE_PATH.items()}
_NAMESPACE_SHAPE: Final = {"apiVersion": ALL, "kind": ALL, "metadata": ALL}


@dataclass(frozen=True, slots=True)
class BuildOptions:
    default_namespace: str = "default"
    max_depth: int = 256


@dataclass(slots=True)
class Built:
    objects: list[Object | ForeignPolicy]
    problems: list[Problem]
    #: Kinds of the documents seen (for the summary and `--verbose`).
    kinds: list[str]
    #: Files a Kustomization applies as patches (paths relative to the project root): their
    #: objects are partial and are not linted as objects.
    patches: list[str] = field(default_factory=list)


def build_document(positions: Positions, index: int, node: Node, options: BuildOptions) -> Built:
    """The model objects of one YAML document (several for a ``kind: List``)."""
    path = positions.path
    built = Built([], [], [])
    if node.id != "mapping":
        return built
    top = top_level_scalars(node, ("kind", "apiVersion", "$patch"))
    kind = top.get("kind", "")
    if "$patch" in top:  # a strategic-merge patch directive (`$patch: delete`), not an object
        built.kinds.append(f"{kind or 'object'} patch")
        return built
    if kind in ("Kustomization", "Component") and top.get("apiVersion", "").startswith(
        "kustomize.config.k8s.io/"
    ):
        built.kinds.append(kind)
        built.patches = kustomize_patches(
            path, to_tree(path, node, _KUSTOMIZE_SHAPE, 16, positions).data
        )
        return built
    items = _list_items(node) if kind.endswith("List") else None
    if items is None:
        _build_object(positions, index, node, (), kind, top.get("apiVersion", ""), options, built)
        return built
    built.kinds.append(kind)
    item_kind = kind[: -len("List")] if kind != "List" else ""
    for i, item in enumerate(items):
        if item.id == "mapping":
            item_top = top_level_scalars(item, ("kind", "apiVersion"))
            _build_object(
                positions,
                index,
                item,
                ("items", i),
                item_top.get("kind", item_kind),
                item_top.get("apiVersion", top.get("apiVersion", "")),
                options,
                built,
            )
    return built


_KUSTOMIZE_SHAPE: Final = {"patchesStrategicMerge": ALL, "patches": ALL, "patchesJson6902": ALL}


def kustomize_patches(path: str, data: Any) -> list[str]:
    """The patch files a kustomization names, relative to the project root."""
    if not isinstance(data, dict):
        return []
    base = posixpath.dirname(path)
    named: list[str] = []
    for entry in data.get("patchesStrategicMerge") or ():
        if isinstance(entry, str) and "\n" not in entry:  # else an inline patch
            named.append(entry)
    for key in ("patches", "patchesJson6902"):
        for entry in data.get(key) or ():
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                named.append(entry["path"])
    out = []
    for name in named:
        joined = posixpath.normpath(posixpath.join(base, name))
        if not joined.startswith("../") and joined != "..":
            out.append(joined)
    return out


def _foreign_scope(kind: str, api_version: str) -> str | None:
    """ "namespaced" or "cluster" for another engine's network policy, else None."""
    kinds = FOREIGN_POLICY_KINDS.get(api_version.partition("/")[0])
    if kinds is None:
        return None
    namespaced, cluster = kinds
    if kind in namespaced:
        return "namespaced"
    return "cluster" if kind in cluster else None


def _list_items(node: Node) -> list[Node] | None:
    for key_node, value_node in node.value:
        if key_node.id == "scalar" and key_node.value == "items":
            return list(value_node.value) if value_node.id == "sequence" else []
    return None


def _build_object(
    positions: Positions,
    index: int,
    node: Node,
    prefix: PathKey,
    kind: str,
    api_version: str,
    options: BuildOptions,
    built: Built,
) -> None:
    built.kinds.append(kind or "(no kind)")
    path = positions.path
    span = positions.span(node.start_mark, node.end_mark)
    # A known kind under a built-in group that does not serve it (`apiVersion: apps/v1` on a
    # Pod) is rejected by the API server: NL002 says so, and the object is still modelled as
    # the kind it names, so that rules judge what the author meant instead of reporting its
    # absence (a selector "matching nothing" because the Pod vanished).
    misplaced = _misplaced(kind, api_version) and _writes_api_version(node)
    modelled = _modelled_as(kind, api_version, misplaced)
    if modelled == "policy":
        # _policy reports every apiVersion but networking.k8s.io/v1 itself, and marks the
        # policy invalid, as it does for the removed extensions/v1beta1.
        tree = to_tree(path, node, ALL, options.max_depth, positions)
        built.objects.append(_policy(tree, index, prefix, span, options, built.problems))
    elif modelled == "workload":
        tree = to_tree(path, node, _WORKLOAD_SHAPES[kind], options.max_depth, positions)
        if misplaced:
            built.problems.append(_misplaced_problem(tree, kind, api_version, options))
        workload = _workload(tree, kind, index, prefix, span, options, built.problems)
        if workload is not None:
            built.objects.append(workload)
    elif modelled is not None and modelled.startswith("foreign"):
        scope = modelled.partition(":")[2]
        # AdminNetworkPolicies are read whole (the reachability core models them); other
        # engines' policies only for their names.
        shape = ALL if _is_admin(kind, api_version) else _NAMESPACE_SHAPE
        tree = to_tree(path, node, shape, options.max_depth, positions)
        built.objects.append(_foreign(tree, kind, api_version, scope, index, prefix, span, options))
    elif modelled == "namespace":
        tree = to_tree(path, node, _NAMESPACE_SHAPE, options.max_depth, positions)
        if misplaced:
            built.problems.append(_misplaced_problem(tree, kind, api_version, options))
        namespace = _namespace(tree, index, prefix, span, built.problems)
        if namespace is not None:
            built.objects.append(namespace)


def _modelled_as(kind: str, api_version: str, misplaced: bool) -> str | None:
    """Which model object a document of this kind and apiVersion becomes: ``policy``,
    ``workload``, ``namespace``, ``foreign:<scope>``, or None for kinds netlint does not model.
    A ``misplaced`` known kind (a built-in group that does not serve it) is still modelled."""
    if kind == "NetworkPolicy" and (misplaced or api_version.startswith(POLICY_GROUPS)):
        return "policy"
    if kind in _WORKLOAD_SHAPES and (misplaced or api_version.startswith(_WORKLOAD_GROUPS[kind])):
        return "workload"
    if (scope := _foreign_scope(kind, api_version)) is not None:
        return f"foreign:{scope}"
    if kind == "Namespace" and (misplaced or api_version == "v1"):
        return "namespace"
    return None


#: Built-in API groups ("" is the core group, ``apiVersion: v1``). A known kind under one of
#: them that does not serve it is a mistake; under any other group it is someone's CRD that
#: reuses the name (``kind: Deployment`` in ``apps.example.com/v1``), not netlint's business.
_BUILTIN_GROUPS: Final = frozenset(("", "apps", "batch", "networking.k8s.io", "extensions"))


def _served_at(kind: str) -> str:
    served = SERVED_AT[kind]
    # OpenShift 3 served DeploymentConfig in the core group too.
    return f"{served} (v1 on OpenShift 3)" if kind == "DeploymentConfig" else served


def _misplaced(kind: str, api_version: str) -> bool:
    """Whether ``kind`` is a modelled kind whose ``api_version`` names a built-in group that
    does not serve it. An empty apiVersion is not judged (a fragment, or a List item that
    inherits its list's)."""
    if kind not in SERVED_AT or not api_version:
        return False
    group = api_version.partition("/")[0] if "/" in api_version else ""
    if group not in _BUILTIN_GROUPS:
        return False
    if kind == "NetworkPolicy":
        return not api_version.startswith(POLICY_GROUPS)
    if kind == "Namespace":
        return api_version != "v1"
    return not api_version.startswith(_WORKLOAD_GROUPS[kind])


def _writes_api_version(node: Node) -> bool:
    """Whether the object writes its own apiVersion (a List item may inherit its list's: the
    problem would have no line of the item to point at)."""
    return "apiVersion" in top_level_scalars(node, ("apiVersion",))


def _misplaced_problem(tree: Tree, kind: str, api_version: str, options: BuildOptions) -> Problem:
    name = _given_name(tree)
    if kind == "Namespace":
        subject = f"Namespace/{name}/{name}" if name else None
    else:
        subject = f"{kind}/{_namespace_of(tree, options)[0]}/{name}" if name else None
    return Problem(
        ProblemKind.INVALID,
        f"apiVersion {api_version} does not serve kind {kind}, so the API server rejects this "
        f"object; {kind} is served at {_served_at(kind)} (netlint still reads it as a {kind})",
        tree.span(("apiVersion",)),
        subject,
    )


# ---------------------------------------------------------------------------------------------
# Common pieces


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): _text(v) for k, v in value.items() if v is not None}


def _text(value: Any) -> str:
    """A scalar as the string an API server would have insisted on (for best-effort models)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _annotation_span(tree: Tree) -> Span | None:
    return tree.spans.get(("metadata", "annotations", IGNORE_ANNOTATION))


def _name_at(tree: Tree) -> PathKey:
    """Where the object's name is written: ``metadata.generateName`` for an object the API
    server names (see :func:`validate.generated_name`), else ``metadata.name``."""
    if validate.generated_name(tree) is not None:
        return ("metadata", "generateName")
    return ("metadata", "name")


def _given_name(tree: Tree) -> str | None:
    """``metadata.name``, or the ``generateName`` prefix of an object the API server names;
    None when neither is there."""
    name = tree.get(("metadata", "name"))
    if isinstance(name, str) and name:
        return name
    return validate.generated_name(tree)


def _name(tree: Tree, problems: list[Problem], kind: str) -> str | None:
    """The name an object is modelled under, or None (an NL002 problem then says why). An
    object with only ``metadata.generateName`` is accepted on create (``kubectl create``, Argo
    CD hooks) and named by the server: it is modelled under its prefix (``pi-``), so messages
    say ``Job shop/pi-``. Two objects with one prefix get two names in the cluster although
    their model names are equal: a NetworkPolicy says so (``generated_name``), so that NL206
    does not call two of one prefix duplicates."""
    name = _given_name(tree)
    if name is not None:
        return name
    name = tree.get(("metadata", "name"))
    metadata = tree.get(("metadata",))
    where: PathKey = (
        ("metadata", "name") if isinstance(metadata, dict) and "name" in metadata else ()
    )
    if where:
        problems.append(
            Problem(
                ProblemKind.INVALID,
                f"metadata.name of this {kind} must be a non-empty string",
                tree.span(where),
            )
        )
    else:
        problems.append(
            Problem(
                ProblemKind.INVALID, f"this {kind} has no metadata.name", tree.span(()).first_line
            )
        )
    return None


def _namespace_of(tree: Tree, options: BuildOptions) -> tuple[str, bool, Span | None]:
    namespace = tree.get(("metadata", "namespace"))
    if isinstance(namespace, str) and namespace:
        return namespace, True, tree.span(("metadata", "namespace"))
    return options.default_namespace, False, None


def _ref(
    tree: Tree, kind: str, name: str, namespace: str, index: int, prefix: PathKey, span: Span
) -> ObjectRef:
    return ObjectRef(kind, name, namespace, tree.path, index, prefix, span)


# ---------------------------------------------------------------------------------------------
# Label selectors


def _entry_span(tree: Tree, where: PathKey) -> Span:
    """From a key to the end of its value: ``app: web``."""
    key = tree.key_span(where)
    value = tree.span(where)
    return Span(key.path, key.line, key.col, value.end_line, value.end_col)


def selector(tree: Tree, where: PathKey) -> LabelSelector:
    """A LabelSelector; entries of the wrong type are left out (NL002 reported them)."""
    data = tree.get(where)
    requirements: list[Requirement] = []
    if isinstance(data, dict):
        labels = data.get("matchLabels")
        if isinstance(labels, dict):
            for key, value in labels.items():
                if value is None or isinstance(value, (dict, list)):
                    continue
                requirements.append(
                    Requirement(
                        str(key),
                        Operator.IN,
                        frozenset((_text(value),)),
                        "matchLabels",
                        _entry_span(tree, (*where, "matchLabels", key)),
                    )
                )
        expressions = data.get("matchExpressions")
        if isinstance(expressions, list):
            for i, expression in enumerate(expressions):
                requirement = _expression(tree, (*where, "matchExpressions", i), expression)
                if requirement is not None:
                    requirements.append(requirement)
    return LabelSelector(tuple(requirements), tree.key_span(where), tree.span(where))


def _expression(tree: Tree, where: PathKey, data: Any) -> Requirement | None:
    if not isinstance(data, dict) or not isinstance(data.get("key"), str):
        return None
    try:
        operator = Operator(str(data.get("operator")))
    except ValueError:
        return None
    values = data.get("values")
    texts = (
        frozenset(_text(v) for v in values if v is not None)
        if isinstance(values, list)
        else frozenset()
    )
    return Requirement(data["key"], operator, texts, "matchExpressions", tree.head_span(where))


# ---------------------------------------------------------------------------------------------
# NetworkPolicy


def _policy(
    tree: Tree,
    index: int,
    prefix: PathKey,
    span: Span,
    options: BuildOptions,
    problems: list[Problem],
) -> NetworkPolicy:
    found: list[Problem] = list(tree.problems)
    found += schema.validate("networkpolicy", _schema_view(tree), prefix)
    found += validate.network_policy_problems(tree)
    api_version = tree.get(("apiVersion",))
    if isinstance(api_version, str) and api_version != "networking.k8s.io/v1":
        found.append(
            Problem(
                ProblemKind.INVALID,
                f"apiVersion {api_version} is not served for NetworkPolicy "
                + (
                    "(extensions/v1beta1 was removed in Kubernetes 1.16)"
                    if api_version.startswith("extensions/")
                    else "(the API server rejects this object)"
                )
                + "; use networking.k8s.io/v1",
                tree.span(("apiVersion",)),
            )
        )
    name = _name(tree, found, "NetworkPolicy") or "(unnamed)"
    namespace, declared, namespace_span = _namespace_of(tree, options)
    problems.extend(_about(_unique(found), f"NetworkPolicy/{namespace}/{name}"))
    spec = tree.get(("spec",))
    spec = spec if isinstance(spec, dict) else {}
    ingress = _rules(tree, Direction.INGRESS, spec)
    egress = _rules(tree, Direction.EGRESS, spec)
    declared_types = _declared_types(tree, spec)
    if declared_types:
        effective = frozenset(Direction(t) for t, _ in declared_types if t in ("Ingress", "Egress"))
    else:
        # The API server's SetDefaults_NetworkPolicy: an absent or empty policyTypes is Ingress,
        # plus Egress when spec.egress is non-empty.
        effective = frozenset(
            (Direction.INGRESS, Direction.EGRESS) if spec.get("egress") else (Direction.INGRESS,)
        )
    metadata = tree.get(("metadata",))
    metadata = metadata if isinstance(metadata, dict) else {}
    return NetworkPolicy(
        ref=_ref(tree, "NetworkPolicy", name, namespace, index, prefix, span),
        name=name,
        namespace=namespace,
        namespace_declared=declared,
        pod_selector=selector(tree, ("spec", "podSelector")),
        policy_types=effective,
        declared_policy_types=declared_types,
        ingress=ingress,
        egress=egress,
        name_span=tree.span(_name_at(tree)),
        namespace_span=namespace_span,
        spec_span=tree.key_spans.get(("spec",)),
        policy_types_key_span=tree.key_spans.get(("spec", "policyTypes")),
        ingress_key_span=tree.key_spans.get(("spec", "ingress")),
        egress_key_span=tree.key_spans.get(("spec", "egress")),
        labels=_string_map(metadata.get("labels")),
        annotations=_string_map(metadata.get("annotations")),
        # A spec that holds a substitution placeholder (`app: ${APP}`, `cidr: ${CIDR}`) is not
        # known until a tool substitutes it: NL002 does not call it invalid, and the rules that
        # reason about a policy's rules leave it out as they leave out an invalid one (what
        # they did before NL002 stopped reporting the placeholder), instead of judging the
        # placeholder's text as the value. Placeholders in metadata (name, namespace, labels)
        # are read as written: objects that write the same placeholder get the same value.
        valid=not any(p.kind in _INVALIDATING for p in found)
        and not validate.holds_placeholder(tree.get(("spec",))),
        annotation_span=_annotation_span(tree),
        generated_name=validate.generated_name(tree) is not None,
    )


def _schema_view(tree: Tree) -> Tree:
    """The tree the schema judges. The schema requires ``metadata.name``; an object the API
    server names from ``generateName`` has one by the time it is validated, so the schema is
    shown a stand-in (validate.metadata_problems judges the prefix itself)."""
    if validate.generated_name(tree) is None:
        return tree
    metadata = dict(tree.data["metadata"])
    metadata["name"] = "generated"
    return replace(tree, data={**tree.data, "metadata": metadata})


def _about(problems: list[Problem], subject: str) -> list[Problem]:
    return [replace(p, subject=subject) for p in problems]


def _unique(problems: list[Problem]) -> list[Problem]:
    """One problem per node: the schema and the value checks may both object to a value."""
    seen: set[tuple[ProblemKind, Span]] = set()
    out: list[Problem] = []
    for problem in problems:
        if (problem.kind, problem.span) not in seen:
            seen.add((problem.kind, problem.span))
            out.append(problem)
    return out


def _declared_types(tree: Tree, spec: Mapping[str, Any]) -> tuple[tuple[str, Span], ...] | None:
    types = spec.get("policyTypes")
    if not isinstance(types, list):
        return None
    return tuple(
        (value, tree.span(("spec", "policyTypes", i)))
        for i, value in enumerate(types)
        if isinstance(value, str)
    )


def _rules(tree: Tree, direction: Direction, spec: Mapping[str, Any]) -> tuple[Rule, ...]:
    items = spec.get(direction.rules_key)
    if not isinstance(items, list):
        return ()
    return tuple(
        _rule(tree, direction, i, item) for i, item in enumerate(items) if isinstance(item, dict)
    )


def _rule(tree: Tree, direction: Direction, i: int, data: Mapping[str, Any]) -> Rule:
    where: PathKey = ("spec", direction.rules_key, i)
    peers_key = direction.peers_key
    peers = data.get(peers_key)
    ports = data.get("ports")
    return Rule(
        direction=direction,
        index=i,
        peers=tuple(_peers(tree, (*where, peers_key), peers)),
        ports=tuple(_ports(tree, (*where, "ports"), ports)),
        span=tree.head_span(where),
        peers_key_span=tree.key_spans.get((*where, peers_key)),
        ports_key_span=tree.key_spans.get((*where, "ports")),
        path=where,
    )


def _peers(tree: Tree, where: PathKey, data: Any) -> Iterator[Peer]:
    if not isinstance(data, list):
        return
    for j, item in enumerate(data):
        if not isinstance(item, dict):
            continue
        at = (*where, j)
        block = _ip_block(tree, (*at, "ipBlock"), item.get("ipBlock"))
        yield Peer(
            pod_selector=selector(tree, (*at, "podSelector")) if "podSelector" in item else None,
            namespace_selector=(
                selector(tree, (*at, "namespaceSelector")) if "namespaceSelector" in item else None
            ),
            ip_block=block,
            index=j,
            span=tree.head_span(at),
        )


def _ip_block(tree: Tree, where: PathKey, data: Any) -> IPBlock | None:
    if not isinstance(data, dict) or not isinstance(data.get("cidr"), str):
        return None
    network = validate.parse_cidr(data["cidr"])
    if network is None:
        return None
    excepts: list[Except] = []
    raw = data.get("except")
    if isinstance(raw, list):
        for k, text in enumerate(raw):
            excluded = validate.parse_cidr(text) if isinstance(text, str) else None
            if excluded is not None and excluded.version == network.version:
                excepts.append(Except(text, excluded, tree.span((*where, "except", k))))
    return IPBlock(
        data["cidr"], network, tuple(excepts), tree.key_span(where), tree.span((*where, "cidr"))
    )


def _ports(tree: Tree, where: PathKey, data: Any) -> Iterator[PortSpec]:
    if not isinstance(data, list):
        return
    for j, item in enumerate(data):
        if not isinstance(item, dict):
            continue
        at = (*where, j)
        protocol = item.get("protocol")
        port = item.get("port")
        end_port = item.get("endPort")
        yield PortSpec(
            protocol=protocol if isinstance(protocol, str) else "TCP",
            port=port if isinstance(port, (int, str)) and not isinstance(port, bool) else None,
            end_port=(
                end_port
                if isinstance(end_port, int)
                and not isinstance(end_port, bool)
                and isinstance(port, int)
                else None
            ),
            protocol_declared=isinstance(protocol, str),
            index=j,
            span=tree.head_span(at),
            port_span=tree.spans.get((*at, "port")),
            protocol_span=tree.spans.get((*at, "protocol")),
            end_port_span=tree.spans.get((*at, "endPort")),
        )


# ---------------------------------------------------------------------------------------------
# Workloads and namespaces


def _workload(
    tree: Tree,
    kind: str,
    index: int,
    prefix: PathKey,
    span: Span,
    options: BuildOptions,
    problems: list[Problem],
) -> Workload | None:
    found: list[Problem] = list(tree.problems)
    template = POD_TEMPLATE_PATH[kind]
    found += validate.metadata_problems(tree)
    labels_at: PathKey = (*template, "metadata", "labels")
    if template:
        found += validate.label_map_problems(tree, labels_at, "pod template label")
    name = _name(tree, found, kind)
    namespace, declared, _ = _namespace_of(tree, options)
    problems.extend(_about(found, f"{kind}/{namespace}/{name}") if name else found)
    if name is None:
        return None
    pod_spec: PathKey = (*template, "spec")
    metadata = tree.get(("metadata",))
    metadata = metadata if isinstance(metadata, dict) else {}
    return Workload(
        ref=_ref(tree, kind, name, namespace, index, prefix, span),
        kind=kind,
        name=name,
        namespace=namespace,
        namespace_declared=declared,
        pod_labels=_string_map(tree.get(labels_at)),
        ports=tuple(_container_ports(tree, pod_spec)),
        host_network=tree.get((*pod_spec, "hostNetwork")) is True,
        dns_policy=_str_or_none(tree.get((*pod_spec, "dnsPolicy"))),
        name_span=tree.span(_name_at(tree)),
        labels_span=tree.key_spans.get(labels_at),
        annotations=_string_map(metadata.get("annotations")),
        annotation_span=_annotation_span(tree),
        owner=_controller(metadata) if kind == "Pod" else None,
    )


def _controller(metadata: Mapping[str, Any]) -> tuple[str, str] | None:
    """The controller ownerReference of a Pod, as (kind, name); a Node owner (static pods)
    is no workload."""
    references = metadata.get("ownerReferences")
    for item in references if isinstance(references, list) else ():
        if isinstance(item, dict) and item.get("controller") is True:
            kind, name = item.get("kind"), item.get("name")
            if isinstance(name, str) and name and kind != "Node":
                return (kind if isinstance(kind, str) else "", name)
    return None


def _container_ports(tree: Tree, pod_spec: PathKey) -> Iterator[ContainerPort]:
    for group in ("containers", "initContainers"):
        containers = tree.get((*pod_spec, group))
        if not isinstance(containers, list):
            continue
        for container in containers:
            if not isinstance(container, dict):
                continue
            ports = container.get("ports")
            if not isinstance(ports, list):
                continue
            for port in ports:
                if not isinstance(port, dict):
                    continue
                number = port.get("containerPort")
                if not isinstance(number, int) or isinstance(number, bool):
                    continue
                protocol = port.get("protocol")
                name = port.get("name")
                yield ContainerPort(
                    number,
                    protocol if isinstance(protocol, str) else "TCP",
                    name if isinstance(name, str) else None,
                    str(container.get("name", "")),
                )


def _namespace(
    tree: Tree, index: int, prefix: PathKey, span: Span, problems: list[Problem]
) -> Namespace | None:
    found: list[Problem] = list(tree.problems)
    found += validate.metadata_problems(tree, namespaced=False)
    name = _name(tree, found, "Namespace")
    problems.extend(_about(found, f"Namespace/{name}/{name}") if name else found)
    if name is None:
        return None
    metadata = tree.get(("metadata",))
    metadata = metadata if isinstance(metadata, dict) else {}
    labels = _string_map(metadata.get("labels"))
    labels[NAME_LABEL] = name
    return Namespace(
        ref=_ref(tree, "Namespace", name, name, index, prefix, span),
        name=name,
        labels=labels,
        name_span=tree.span(_name_at(tree)),
        annotations=_string_map(metadata.get("annotations")),
        annotation_span=_annotation_span(tree),
        legacy_isolation_span=tree.key_spans.get(
            ("metadata", "annotations", Namespace.LEGACY_ISOLATION_ANNOTATION)
        ),
    )


def build_tree(
    tree: Tree, document: int, prefix: PathKey, span: Span, options: BuildOptions
) -> Object | ForeignPolicy | None:
    """The model object of one object already converted whole (a kustomize build's output,
    whose spans point into the files that wrote each value), or None for a kind netlint does
    not model. Its input problems are not returned: the files it came from report theirs."""
    kind = _str_or_none(tree.get(("kind",))) or ""
    api_version = _str_or_none(tree.get(("apiVersion",))) or ""
    problems: list[Problem] = []
    modelled = _modelled_as(kind, api_version, _misplaced(kind, api_version))
    if modelled == "policy":
        return _policy(tree, document, prefix, span, options, problems)
    if modelled == "workload":
        return _workload(tree, kind, document, prefix, span, options, problems)
    if modelled is not None and modelled.startswith("foreign"):
        scope = modelled.partition(":")[2]
        return _foreign(tree, kind, api_version, scope, document, prefix, span, options)
    if modelled == "namespace":
        return _namespace(tree, document, prefix, span, problems)
    return None


# ---------------------------------------------------------------------------------------------
# Other engines' policies; AdminNetworkPolicy and BaselineAdminNetworkPolicy read whole

#: The API version whose AdminNetworkPolicy and BaselineAdminNetworkPolicy are modelled.
ADMIN_API_VERSION: Final = "policy.networking.k8s.io/v1alpha1"
_ADMIN_KINDS: Final = frozenset(("AdminNetworkPolicy", "BaselineAdminNetworkPolicy"))
_ADMIN_PROTOCOLS: Final = ("TCP", "UDP", "SCTP")
_SELECTOR_OPERATORS: Final = frozenset(o.value for o in Operator)


class _Malformed(Exception):
    """An AdminNetworkPolicy that the API server would reject, or netlint cannot read: it
    stays an unmodelled ForeignPolicy (the answers it could change are unknown)."""


def _is_admin(kind: str, api_version: str) -> bool:
    return kind in _ADMIN_KINDS and api_version == ADMIN_API_VERSION


def _foreign(
    tree: Tree,
    kind: str,
    api_version: str,
    scope: str,
    index: int,
    prefix: PathKey,
    span: Span,
    options: BuildOptions,
) -> ForeignPolicy:
    name = _given_name(tree) or "(unnamed)"
    home = _namespace_of(tree, options)[0] if scope == "namespaced" else None
    ref = _ref(tree, kind, name, home or "", index, prefix, span)
    if not _is_admin(kind, api_version):
        return ForeignPolicy(ref, kind, api_version, home)
    try:
        admin = _admin_policy(tree, kind, name)
    except _Malformed as error:
        return ForeignPolicy(ref, kind, api_version, home, unmodelled_reason=str(error))
    return ForeignPolicy(ref, kind, api_version, home, admin=admin)


def _admin_policy(tree: Tree, kind: str, name: str) -> AdminPolicy:
    baseline = kind == "BaselineAdminNetworkPolicy"
    generated = validate.generated_name(tree) is not None
    if not isinstance(tree.get(("metadata", "name")), str) and not generated:
        raise _Malformed("it has no metadata.name")
    if baseline and (generated or name != "default"):
        # The API server admits a single BaselineAdminNetworkPolicy, named "default".
        raise _Malformed('a BaselineAdminNetworkPolicy must be named "default"')
    spec = tree.get(("spec",))
    if not isinstance(spec, dict):
        raise _Malformed("it has no spec")
    priority: int | None = None
    if not baseline:
        raw = spec.get("priority")
        if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= 1000:
            raise _Malformed("spec.priority is not an integer from 0 to 1000")
        priority = raw
    subject = spec.get("subject")
    if not isinstance(subject, dict) or len(subject) != 1:
        raise _Malformed("spec.subject must name exactly one of namespaces and pods")
    if "namespaces" in subject:
        namespaces = _admin_selector(tree, ("spec", "subject", "namespaces"))
        pods = None
    elif "pods" in subject:
        namespaces, pods = _admin_pods(tree, ("spec", "subject", "pods"))
    else:
        raise _Malformed("spec.subject must name exactly one of namespaces and pods")
    actions = ("Allow", "Deny") if baseline else ("Allow", "Deny", "Pass")
    return AdminPolicy(
        kind=kind,
        name=name,
        priority=priority,
        subject_namespaces=namespaces,
        subject_pods=pods,
        ingress=_admin_rules(tree, Direction.INGRESS, spec, actions),
        egress=_admin_rules(tree, Direction.EGRESS, spec, actions),
        name_span=tree.span(_name_at(tree)),
    )


def _admin_selector(tree: Tree, where: PathKey) -> LabelSelector:
    """A LabelSelector that must be well-formed: :func:`selector` leaves bad entries out
    (NL002 reports them for a NetworkPolicy), which here would widen what a Deny matches."""
    data = tree.get(where)
    if data is None:
        # An absent selector of a pods peer or subject is Go's zero value: every label set.
        return LabelSelector((), tree.key_span(where), tree.span(where))
    if not isinstance(data, dict):
        raise _Malformed(f"{_dotted(where)} is not a label selector")
    labels = data.get("matchLabels")
    if labels is not None and (
        not isinstance(labels, dict)
        or any(v is None or isinstance(v, (dict, list)) for v in labels.values())
    ):
        raise _Malformed(f"{_dotted(where)}.matchLabels is not a map of labels")
    expressions = data.get("matchExpressions")
    if expressions is not None:
        if not isinstance(expressions, list):
            raise _Malformed(f"{_dotted(where)}.matchExpressions is not a list")
        for item in expressions:
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("key"), str)
                or item.get("operator") not in _SELECTOR_OPERATORS
                or not isinstance(item.get("values", []), list)
            ):
                raise _Malformed(f"{_dotted(where)}.matchExpressions has an invalid item")
    return selector(tree, where)


def _admin_pods(tree: Tree, where: PathKey) -> tuple[LabelSelector, LabelSelector]:
    data = tree.get(where)
    if not isinstance(data, dict):
        raise _Malformed(f"{_dotted(where)} is not a namespaceSelector and a podSelector")
    return (
        _admin_selector(tree, (*where, "namespaceSelector")),
        _admin_selector(tree, (*where, "podSelector")),
    )


def _admin_rules(
    tree: Tree, direction: Direction, spec: Mapping[str, Any], actions: tuple[str, ...]
) -> tuple[AdminRule, ...]:
    items = spec.get(direction.rules_key)
    if items is None:
        return ()
    if not isinstance(items, list):
        raise _Malformed(f"spec.{direction.rules_key} is not a list")
    return tuple(_admin_rule(tree, direction, i, item, actions) for i, item in enumerate(items))


def _admin_rule(
    tree: Tree, direction: Direction, i: int, data: Any, actions: tuple[str, ...]
) -> AdminRule:
    where: PathKey = ("spec", direction.rules_key, i)
    at = _dotted(where)
    if not isinstance(data, dict):
        raise _Malformed(f"{at} is not a rule")
    action = data.get("action")
    if action not in actions:
        raise _Malformed(f"{at}.action is not one of {', '.join(actions)}")
    name = data.get("name", "")
    if not isinstance(name, str):
        raise _Malformed(f"{at}.name is not a string")
    peers_key = direction.peers_key
    items = data.get(peers_key)
    if not isinstance(items, list) or not items:
        raise _Malformed(f"{at}.{peers_key} must list at least one peer")
    peers: list[Peer] = []
    has_nodes = False
    for j, item in enumerate(items):
        here: PathKey = (*where, peers_key, j)
        kinds: tuple[str, ...] = ("namespaces", "pods", "nodes", "networks")
        if direction is Direction.INGRESS:
            kinds = kinds[:2]
        if not isinstance(item, dict) or len(item) != 1 or next(iter(item)) not in kinds:
            raise _Malformed(f"{_dotted(here)} must name exactly one of {', '.join(kinds)}")
        which = next(iter(item))
        if which == "namespaces":
            namespaces = _admin_selector(tree, (*here, "namespaces"))
            peers.append(Peer(None, namespaces, None, len(peers), tree.head_span(here)))
        elif which == "pods":
            namespaces, pods = _admin_pods(tree, (*here, "pods"))
            peers.append(Peer(pods, namespaces, None, len(peers), tree.head_span(here)))
        elif which == "nodes":
            _admin_selector(tree, (*here, "nodes"))
            has_nodes = True
        else:
            peers.extend(_admin_networks(tree, (*here, "networks"), len(peers)))
    return AdminRule(
        name=name,
        action=action,
        rule=Rule(
            direction=direction,
            index=i,
            peers=tuple(peers),
            ports=_admin_ports(tree, (*where, "ports"), data.get("ports")),
            span=tree.head_span(where),
            peers_key_span=tree.key_spans.get((*where, peers_key)),
            ports_key_span=tree.key_spans.get((*where, "ports")),
            path=where,
        ),
        has_nodes=has_nodes,
    )


def _admin_networks(tree: Tree, where: PathKey, first: int) -> list[Peer]:
    items = tree.get(where)
    if not isinstance(items, list) or not items:
        raise _Malformed(f"{_dotted(where)} must list at least one CIDR")
    peers: list[Peer] = []
    for k, text in enumerate(items):
        network = validate.parse_cidr(text) if isinstance(text, str) else None
        if network is None or not isinstance(text, str):
            raise _Malformed(f"{_dotted(where)}[{k}] is not a CIDR")
        at: PathKey = (*where, k)
        block = IPBlock(text, network, (), tree.span(at), tree.span(at))
        peers.append(Peer(None, None, block, first + k, tree.span(at)))
    return peers


def _admin_ports(tree: Tree, where: PathKey, data: Any) -> tuple[PortSpec, ...]:
    if data is None:
        return ()
    if not isinstance(data, list) or not data:
        raise _Malformed(f"{_dotted(where)} must list at least one port")
    out: list[PortSpec] = []
    for j, item in enumerate(data):
        at: PathKey = (*where, j)
        if not isinstance(item, dict) or len(item) != 1:
            raise _Malformed(
                f"{_dotted(at)} must name exactly one of portNumber, namedPort, portRange"
            )
        which, value = next(iter(item.items()))
        head = tree.head_span(at)
        if which == "namedPort":
            if not isinstance(value, str) or not value:
                raise _Malformed(f"{_dotted(at)}.namedPort is not a port name")
            # A named port has no protocol of its own: it is the destination container port's.
            out.extend(
                PortSpec(p, value, None, False, j, head, tree.span((*at, which)), None, None)
                for p in _ADMIN_PROTOCOLS
            )
            continue
        if which not in ("portNumber", "portRange") or not isinstance(value, dict):
            raise _Malformed(
                f"{_dotted(at)} must name exactly one of portNumber, namedPort, portRange"
            )
        protocol = value.get("protocol", "TCP")
        if protocol not in _ADMIN_PROTOCOLS:
            raise _Malformed(f"{_dotted(at)}.{which}.protocol is not TCP, UDP or SCTP")
        keys = ("port",) if which == "portNumber" else ("start", "end")
        numbers: list[int] = []
        for k in keys:
            n = value.get(k)
            if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 65535:
                raise _Malformed(f"{_dotted(at)}.{which} needs port numbers from 1 to 65535")
            numbers.append(n)
        start, end = numbers[0], numbers[-1]
        if start > end:
            raise _Malformed(f"{_dotted(at)}.portRange ends before it starts")
        out.append(
            PortSpec(
                protocol=protocol,
                port=start,
                end_port=end if which == "portRange" else None,
                protocol_declared="protocol" in value,
                index=j,
                span=head,
                port_span=tree.spans.get((*at, which, keys[0])),
                protocol_span=tree.spans.get((*at, which, "protocol")),
                end_port_span=tree.spans.get((*at, which, "end")) if which == "portRange" else None,
            )
        )
    return tuple(out)


def _dotted(where: PathKey) -> str:
    out = ""
    for part in where:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
