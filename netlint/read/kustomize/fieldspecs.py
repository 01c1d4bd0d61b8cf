"""kustomize's field specs: which fields each builtin transformer touches, and how it walks them.

Copied from api/internal/konfig/builtinpluginconsts/ of kustomize v5.5.0 (commonlabels.go,
metadatalabels.go, templatelabels.go, commonannotations.go, nameprefix.go, namesuffix.go,
namespace.go, images.go, replicas.go). The walk is api/filters/fieldspec/fieldspec.go: a path
is split at ``/``; a mapping is entered by field name, a list is entered item by item with the
same remaining path (so ``spec/ingress/from/podSelector/matchLabels`` reaches every peer); with
``create`` a missing field is made (a mapping on the way, the setter's kind at the end), a
``name[]`` part is never created; a scalar in the way is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from netlint.core.source import Span
from netlint.read.kustomize.nodes import BuildError, N, split_api_version, str_at


@dataclass(frozen=True, slots=True)
class FieldSpec:
    path: str
    create: bool = False
    kind: str = ""
    group: str = ""
    version: str = ""

    def selects(self, api_version: str, kind: str) -> bool:
        group, version = split_api_version(api_version)
        return (
            (not self.kind or self.kind == kind)
            and (not self.group or self.group == group)
            and (not self.version or self.version == version)
        )


def _specs(*rows: tuple[str, bool, str, str, str]) -> tuple[FieldSpec, ...]:
    return tuple(FieldSpec(p, c, k, g, v) for p, c, k, g, v in rows)


_AFFINITY: Final = (
    *(
        f"spec/template/spec/affinity/{a}/{t}/labelSelector/matchLabels"
        for a in ("podAffinity", "podAntiAffinity")
        for t in (
            "preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm",
            "requiredDuringSchedulingIgnoredDuringExecution",
        )
    ),
    "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
)

METADATA_LABELS: Final = _specs(
    ("metadata/labels", True, "", "", ""),
    ("spec/template/metadata/labels", True, "ReplicationController", "", "v1"),
    ("spec/template/metadata/labels", True, "Deployment", "", ""),
    ("spec/template/metadata/labels", True, "ReplicaSet", "", ""),
    ("spec/template/metadata/labels", True, "DaemonSet", "", ""),
    ("spec/template/metadata/labels", True, "StatefulSet", "apps", ""),
    ("spec/volumeClaimTemplates[]/metadata/labels", True, "StatefulSet", "apps", ""),
    ("spec/template/metadata/labels", True, "Job", "batch", ""),
    ("spec/jobTemplate/metadata/labels", True, "CronJob", "batch", ""),
    ("spec/jobTemplate/spec/template/metadata/labels", True, "CronJob", "batch", ""),
)
COMMON_LABELS: Final = (
    _specs(
        ("spec/selector", True, "Service", "", "v1"),
        ("spec/selector", True, "ReplicationController", "", "v1"),
        ("spec/selector/matchLabels", True, "Deployment", "", ""),
        *((p, False, "Deployment", "apps", "") for p in _AFFINITY),
        ("spec/selector/matchLabels", True, "ReplicaSet", "", ""),
        ("spec/selector/matchLabels", True, "DaemonSet", "", ""),
        ("spec/selector/matchLabels", True, "StatefulSet", "apps", ""),
        *((p, False, "StatefulSet", "apps", "") for p in _AFFINITY),
        ("spec/selector/matchLabels", False, "Job", "batch", ""),
        ("spec/jobTemplate/spec/selector/matchLabels", False, "CronJob", "batch", ""),
        ("spec/selector/matchLabels", False, "PodDisruptionBudget", "policy", ""),
        ("spec/podSelector/matchLabels", False, "NetworkPolicy", "networking.k8s.io", ""),
        (
            "spec/ingress/from/podSelector/matchLabels",
            False,
            "NetworkPolicy",
            "networking.k8s.io",
            "",
        ),
        ("spec/egress/to/podSelector/matchLabels", False, "NetworkPolicy", "networking.k8s.io", ""),
    )
    + METADATA_LABELS
)
TEMPLATE_LABELS: Final = METADATA_LABELS
COMMON_ANNOTATIONS: Final = _specs(
    ("metadata/annotations", True, "", "", ""),
    ("spec/template/metadata/annotations", True, "ReplicationController", "", "v1"),
    ("spec/template/metadata/annotations", True, "Deployment", "", ""),
    ("spec/template/metadata/annotations", True, "ReplicaSet", "", ""),
    ("spec/template/metadata/annotations", True, "DaemonSet", "", ""),
    ("spec/template/metadata/annotations", True, "StatefulSet", "", ""),
    ("spec/template/metadata/annotations", True, "Job", "batch", ""),
    ("spec/jobTemplate/metadata/annotations", True, "CronJob", "batch", ""),
    ("spec/jobTemplate/spec/template/metadata/annotations", True, "CronJob", "batch", ""),
)
NAME_PREFIX: Final = (FieldSpec("metadata/name"),)
NAME_SUFFIX: Final = (FieldSpec("metadata/name"),)
NAMESPACE: Final = _specs(
    ("metadata/name", True, "Namespace", "", ""),
    ("spec/service/namespace", True, "APIService", "apiregistration.k8s.io", ""),
    (
        "spec/conversion/webhook/clientConfig/service/namespace",
        False,
        "CustomResourceDefinition",
        "apiextensions.k8s.io",
        "",
    ),
)
IMAGES: Final = _specs(
    ("spec/containers[]/image", True, "", "", ""),
    ("spec/initContainers[]/image", True, "", "", ""),
    ("spec/template/spec/containers[]/image", True, "", "", ""),
    ("spec/template/spec/initContainers[]/image", True, "", "", ""),
)
REPLICAS: Final = _specs(
    ("spec/replicas", True, "Deployment", "", ""),
    ("spec/replicas", True, "ReplicationController", "", ""),
    ("spec/replicas", True, "ReplicaSet", "", ""),
    ("spec/replicas", True, "StatefulSet", "", ""),
)

#: The sections of a transformer configuration (``configurations:`` files), with defaults.
DEFAULTS: Final[dict[str, tuple[FieldSpec, ...]]] = {
    "namePrefix": NAME_PREFIX,
    "nameSuffix": NAME_SUFFIX,
    "commonLabels": COMMON_LABELS,
    "templateLabels": TEMPLATE_LABELS,
    "labels": (),
    "commonAnnotations": COMMON_ANNOTATIONS,
    "namespace": NAMESPACE,
    "images": IMAGES,
    "replicas": REPLICAS,
}


def merge_specs(base: Iterable[FieldSpec], more: Iterable[FieldSpec]) -> tuple[FieldSpec, ...]:
    """FsSlice.MergeAll: add the specs not already there (same path and GVK)."""
    out = list(base)
    seen = {(s.path, s.kind, s.group, s.version) for s in out}
    for spec in more:
        key = (spec.path, spec.kind, spec.group, spec.version)
        if key not in seen:
            seen.add(key)
            out.append(spec)
    return tuple(out)


@lru_cache(maxsize=1024)
def split_path(path: str, separator: str = "/") -> tuple[str, ...]:
    """utils.PathSplitter (``/``) and kyaml's SmarterPathSplitter (``.``): split at
    ``separator``, except inside ``[...]``."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in path:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(depth - 1, 0)
        if ch == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return tuple(parts)


#: Called with the node at the end of a field spec's path.
Setter = Callable[[N], None]


def apply(
    obj: N,
    spec: FieldSpec,
    setter: Setter,
    create: str,
    span: Span,
) -> None:
    """Walk ``spec`` in ``obj`` and call ``setter`` on every node it reaches.

    ``create`` is the filter's CreateKind: what to make at the end of a missing path when
    ``spec.create`` says so ("scalar" for names, namespaces and replicas, "map" for labels and
    annotations); "" never creates (the images filter sets no CreateKind). New nodes get
    ``span``.
    """
    apply_all(obj, (spec,), setter, create, span)


def apply_all(obj: N, specs: Iterable[FieldSpec], setter: Setter, create: str, span: Span) -> None:
    """:func:`apply` for several specs (the object's GVK is read once)."""
    api_version, kind = str_at(obj, "apiVersion"), str_at(obj, "kind")
    for spec in specs:
        if spec.selects(api_version, kind):
            _walk(obj, split_path(spec.path), spec, setter, create if spec.create else "", span)


def _walk(
    node: N, parts: tuple[str, ...], spec: FieldSpec, setter: Setter, create: str, span: Span
) -> None:
    if not parts:
        setter(node)
        return
    v = node.v
    if v is None:
        return
    if isinstance(v, list):
        for item in v:
            _walk(item, parts, spec, setter, create, span)
        return
    if not isinstance(v, dict):
        raise BuildError(
            f"field spec {spec.path!r}: expected a mapping or list, found a scalar", node.span
        )
    name = parts[0].removesuffix("[]")
    is_seq = name != parts[0]
    if not name:
        raise BuildError(f"field spec {spec.path!r}: an empty field name", span)
    child = v.get(name)
    last = len(parts) == 1
    if child is None:
        if not create or is_seq:
            return
        child = N("" if last and create == "scalar" else {}, span, span)
        v[name] = child
    elif child.v is None and create and not is_seq:
        child.v = "" if last and create == "scalar" else {}
    elif child.v is None:
        return
    _walk(child, parts[1:], spec, setter, create, span)
