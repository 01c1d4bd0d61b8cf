"""Documents as nodes that carry their own spans, and kustomize's resource identities.

A :class:`~netlint.read.parse.Tree` keys spans by path, which is what rules want to read but not
what kustomize edits: a JSON 6902 insert or a strategic merge of a list moves every later item,
and its spans would have to be re-keyed. So the engine converts each object once into :class:`N`
nodes (value, value span, key span), edits those, and converts back at the end. Spans travel
with the values: a value a patch wrote keeps the patch's span, one a kustomization set keeps the
kustomization's line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from netlint.core.source import Span
from netlint.read.parse import PathKey, Tree


class BuildError(Exception):
    """Something kustomize would refuse: the build fails there."""

    def __init__(self, message: str, span: Span) -> None:
        super().__init__(message)
        self.message = message
        self.span = span


class N:
    """A value (dict of N, list of N, or a scalar) with the span of its value and of its key."""

    __slots__ = ("kspan", "span", "v")

    def __init__(self, v: Any, span: Span, kspan: Span | None = None) -> None:
        self.v = v
        self.span = span
        self.kspan = kspan

    def __repr__(self) -> str:  # for test failure messages only
        return f"N({plain(self)!r})"


def from_tree(tree: Tree, where: PathKey = ()) -> N:
    """The nodes of a Tree (or of the part at ``where``), each with the span the Tree has for it."""
    spans, kspans = tree.spans, tree.key_spans
    root_span = tree.span(where) if where or () in spans else _nowhere(tree.path)

    def convert(data: Any, path: PathKey, fallback: Span) -> N:
        span = spans.get(path, fallback)
        if isinstance(data, dict):
            value: Any = {k: convert(x, (*path, k), span) for k, x in data.items()}
        elif isinstance(data, list):
            value = [convert(x, (*path, i), span) for i, x in enumerate(data)]
        else:
            value = data
        return N(value, span, kspans.get(path))

    return convert(tree.get(where), where, root_span)


def _nowhere(path: str) -> Span:
    return Span(path, 1, 1, 1, 2)


def to_tree(node: N, path: str) -> Tree:
    """Back to a Tree: plain data with the span of every key and value."""
    spans: dict[PathKey, Span] = {}
    kspans: dict[PathKey, Span] = {}

    def convert(n: N, where: PathKey) -> Any:
        spans[where] = n.span
        if n.kspan is not None and where:
            kspans[where] = n.kspan
        v = n.v
        if isinstance(v, dict):
            return {k: convert(x, (*where, k)) for k, x in v.items()}
        if isinstance(v, list):
            return [convert(x, (*where, i)) for i, x in enumerate(v)]
        return v

    data = convert(node, ())
    return Tree(path, data, spans, kspans, [])


def plain(node: N | None) -> Any:
    """The plain data of a node."""
    if node is None:
        return None
    v = node.v
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def clone(node: N) -> N:
    """A copy that can be edited without touching the original (spans are immutable)."""
    v = node.v
    if isinstance(v, dict):
        return N({k: clone(x) for k, x in v.items()}, node.span, node.kspan)
    if isinstance(v, list):
        return N([clone(x) for x in v], node.span, node.kspan)
    return N(v, node.span, node.kspan)


def get(node: N | None, *path: str | int) -> N | None:
    """The node at a path of keys and indices, or None."""
    for part in path:
        if node is None:
            return None
        v = node.v
        if isinstance(part, str) and isinstance(v, dict):
            node = v.get(part)
        elif isinstance(part, int) and isinstance(v, list) and 0 <= part < len(v):
            node = v[part]
        else:
            return None
    return node


def text(value: Any) -> str:
    """A scalar as the Go side sees it once YAML is decoded into a string field."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def str_at(node: N | None, *path: str | int) -> str:
    found = get(node, *path)
    if found is None or isinstance(found.v, dict | list):
        return ""
    return text(found.v)


def set_key(node: N, key: str, value: N, kspan: Span) -> None:
    """Set ``key`` in a mapping node; a new key gets ``kspan``, an existing key keeps its own."""
    old = node.v.get(key)
    value.kspan = old.kspan if old is not None and old.kspan is not None else kspan
    node.v[key] = value


def ensure_map(node: N, key: str, span: Span) -> N | None:
    """The mapping at ``key`` of a mapping node, created (with ``span``) when missing or null;
    None when something else is there."""
    child = node.v.get(key)
    if child is None or child.v is None:
        child = N({}, span, child.kspan if child is not None else span)
        node.v[key] = child
        return child
    return child if isinstance(child.v, dict) else None


# ---------------------------------------------------------------------------------------------
# Resource identities (kyaml/resid/resid.go, gvk.go)

#: Kinds kustomize knows to be cluster-scoped: kyaml/openapi/openapi.go
#: precomputedIsNamespaceScoped (the built-in Kubernetes 1.21.2 schema), keyed by apiVersion.
CLUSTER_SCOPED: Final = frozenset(
    {
        ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io/v1beta1", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io/v1beta1", "ValidatingWebhookConfiguration"),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"),
        ("apiregistration.k8s.io/v1", "APIService"),
        ("apiregistration.k8s.io/v1beta1", "APIService"),
        ("certificates.k8s.io/v1", "CertificateSigningRequest"),
        ("certificates.k8s.io/v1beta1", "CertificateSigningRequest"),
        ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io/v1beta1", "PriorityLevelConfiguration"),
        ("networking.k8s.io/v1", "IngressClass"),
        ("networking.k8s.io/v1beta1", "IngressClass"),
        ("node.k8s.io/v1", "RuntimeClass"),
        ("node.k8s.io/v1beta1", "RuntimeClass"),
        ("policy/v1beta1", "PodSecurityPolicy"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        ("rbac.authorization.k8s.io/v1beta1", "ClusterRole"),
        ("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding"),
        ("scheduling.k8s.io/v1", "PriorityClass"),
        ("scheduling.k8s.io/v1beta1", "PriorityClass"),
        ("storage.k8s.io/v1", "CSIDriver"),
        ("storage.k8s.io/v1", "CSINode"),
        ("storage.k8s.io/v1", "StorageClass"),
        ("storage.k8s.io/v1", "VolumeAttachment"),
        ("storage.k8s.io/v1beta1", "CSIDriver"),
        ("storage.k8s.io/v1beta1", "CSINode"),
        ("storage.k8s.io/v1beta1", "StorageClass"),
        ("storage.k8s.io/v1beta1", "VolumeAttachment"),
        ("v1", "ComponentStatus"),
        ("v1", "Namespace"),
        ("v1", "Node"),
        ("v1", "NodeProxyOptions"),
        ("v1", "PersistentVolume"),
    }
)
NOT_NAMESPACEABLE: Final = "_non_namespaceable_"


def split_api_version(api_version: str) -> tuple[str, str]:
    """(group, version), as resid.ParseGroupVersion splits them."""
    group, slash, version = api_version.rpartition("/")
    return (group, version) if slash else ("", api_version)


@dataclass(frozen=True, slots=True)
class ResId:
    group: str
    version: str
    kind: str
    name: str
    namespace: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def cluster_scoped(self) -> bool:
        return (self.api_version, self.kind) in CLUSTER_SCOPED

    @property
    def effective_namespace(self) -> str:
        if self.cluster_scoped:
            return NOT_NAMESPACEABLE
        return "default" if self.namespace in ("", "default") else self.namespace

    def equals(self, other: ResId) -> bool:
        return (
            self.name == other.name
            and self.kind == other.kind
            and self.group == other.group
            and self.version == other.version
            and self.effective_namespace == other.effective_namespace
        )

    def selected_by(self, selector: ResId) -> bool:
        """ResId.IsSelectedBy: empty selector fields match anything (no regexes here)."""
        return (
            (not selector.name or selector.name == self.name)
            and (not selector.namespace or selector.effective_namespace == self.effective_namespace)
            and (not selector.group or selector.group == self.group)
            and (not selector.version or selector.version == self.version)
            and (not selector.kind or selector.kind == self.kind)
        )

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{where}{self.name}"


def res_id(node: N) -> ResId:
    group, version = split_api_version(str_at(node, "apiVersion"))
    return ResId(
        group,
        version,
        str_at(node, "kind"),
        str_at(node, "metadata", "name"),
        str_at(node, "metadata", "namespace"),
    )
