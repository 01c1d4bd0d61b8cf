"""The builtin transformers that rewrite fields: namespace, labels, annotations, name prefix
and suffix, replicas, images, replacements; and the selectors patches and replacements use.

Each function edits resources in place and gives the values it writes the span of the
kustomization line that asked for them. Sources (kustomize v5.5.0): api/internal/builtins/
{NamespaceTransformer,LabelTransformer,AnnotationsTransformer,PrefixTransformer,
SuffixTransformer,ReplicaCountTransformer,ImageTagTransformer}.go, api/filters/{namespace,
labels,prefix,suffix,replicacount,imagetag,replacement}/, api/resmap/reswrangler.go (Select),
api/types/selector.go (anchored regexes), api/internal/image/image.go.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from netlint.core.source import Span
from netlint.read.kustomize import fieldspecs
from netlint.read.kustomize.fieldspecs import FieldSpec, split_path
from netlint.read.kustomize.nodes import (
    BuildError,
    N,
    ResId,
    clone,
    get,
    res_id,
    split_api_version,
    str_at,
    text,
)


class Unmodelled(Exception):
    """Something the engine does not apply: the unit is incomplete there (not an error)."""

    def __init__(self, message: str, span: Span) -> None:
        super().__init__(message)
        self.message = message
        self.span = span


@dataclass(frozen=True, slots=True)
class Transformation:
    """A builtin transformer and the kustomization file that configured it."""

    kind: str
    configured_in: str


@dataclass(slots=True, eq=False)
class Res:
    """One resource on its way through a build (resource.Resource)."""

    node: N
    origin: str | None
    generated_by: Transformation | None = None
    #: (kind, name, effective namespace) of every earlier id, oldest first (StorePreviousId).
    prev: list[tuple[str, str, str]] = field(default_factory=list)
    transformations: list[Transformation] = field(default_factory=list)
    #: A generator's ``behavior`` (create, merge, replace) until the resource is absorbed.
    behavior: str = "create"
    #: A generated ConfigMap/Secret whose name gets a content hash at the end.
    needs_hash: bool = False
    #: A generator input is not known (not text), so the hash cannot be computed.
    hash_unknown: bool = False

    def cur_id(self) -> ResId:
        return res_id(self.node)

    def prev_ids(self) -> list[ResId]:
        group, version = split_api_version(str_at(self.node, "apiVersion"))
        return [ResId(group, version, k, n, ns) for k, n, ns in self.prev]

    def org_id(self) -> ResId:
        return self.prev_ids()[0] if self.prev else self.cur_id()

    def all_ids(self) -> list[ResId]:
        return [*self.prev_ids(), self.cur_id()]

    def store_previous_id(self) -> None:
        cur = self.cur_id()
        self.prev.append((cur.kind, cur.name, cur.effective_namespace))


# ---------------------------------------------------------------------------------------------
# Regexes from the repo: kustomize compiles them with Go's RE2, which runs in linear time.
# Python's backtracking engine does not, so a pattern whose repeats nest (or repeat an
# alternation) is not run at all: the target is unknown and the unit incomplete.

_MAX_PATTERN: Final = 512


def safe_regex(pattern: str, span: Span) -> re.Pattern[str]:
    """An anchored regex for a kustomize selector field (``^(?:pattern)$``)."""
    if len(pattern) > _MAX_PATTERN:
        raise Unmodelled(f"selector pattern longer than {_MAX_PATTERN} characters", span)
    if re.escape(pattern) == pattern:
        return re.compile(re.escape(pattern))
    if "(?" in pattern or re.search(r"\\[1-9]", pattern):
        raise Unmodelled(f"selector pattern {pattern!r} uses syntax RE2 does not have", span)
    if _nested_repeat(pattern):
        raise Unmodelled(
            f"selector pattern {pattern!r} repeats a group with a repeat or alternation "
            "inside (not run: Python's regex engine could take exponential time)",
            span,
        )
    try:
        return re.compile(f"(?:{pattern})")
    except re.error as exc:
        raise BuildError(f"invalid selector pattern {pattern!r}: {exc}", span) from None


def _nested_repeat(pattern: str) -> bool:
    """Whether a quantifier applies to a group that contains a quantifier or ``|``."""
    stack: list[bool] = [False]  # per open group: holds a quantifier or alternation
    i = 0
    last_group_risky = False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            last_group_risky = False
            continue
        if ch == "[":  # a character class is one atom
            j = i + 1
            if j < len(pattern) and pattern[j] == "^":
                j += 1
            if j < len(pattern) and pattern[j] == "]":
                j += 1
            while j < len(pattern) and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            last_group_risky = False
            continue
        if ch == "(":
            stack.append(False)
        elif ch == ")" and len(stack) > 1:
            last_group_risky = stack.pop()
            i += 1
            continue
        elif ch == "|":
            stack[-1] = True
        elif ch in "*+?{":
            if last_group_risky:
                return True
            stack[-1] = True
        last_group_risky = False
        i += 1
    return False


# ---------------------------------------------------------------------------------------------
# Label selectors as strings (k8s.io/apimachinery labels.Parse), for patch targets.

_REQ: Final = re.compile(
    r"\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9_./-]+)\s*"
    r"(?:(?P<op>==|=|!=|>|<)\s*(?P<val>[A-Za-z0-9_.-]*)"
    r"|\s(?P<set>in|notin)\s*\((?P<vals>[^)]*)\))?\s*"
)


def label_selector(selector: str, span: Span) -> list[tuple[str, str, list[str]]]:
    """Parse ``a=b,c!=d,e in (x,y),!f,g`` into (key, operator, values)."""
    out: list[tuple[str, str, list[str]]] = []
    if not selector.strip():
        return out
    pos = 0
    while pos <= len(selector):
        m = _REQ.match(selector, pos)
        if m is None or m.end() == pos:
            raise BuildError(f"invalid label selector {selector!r}", span)
        key = m.group("key")
        if m.group("neg"):
            if m.group("op") or m.group("set"):
                raise BuildError(f"invalid label selector {selector!r}", span)
            out.append((key, "!", []))
        elif m.group("op"):
            op = "=" if m.group("op") == "==" else m.group("op")
            out.append((key, op, [m.group("val")]))
        elif m.group("set"):
            values = [v.strip() for v in m.group("vals").split(",")]
            out.append((key, m.group("set"), values))
        else:
            out.append((key, "exists", []))
        pos = m.end()
        if pos >= len(selector):
            break
        if selector[pos] != ",":
            raise BuildError(f"invalid label selector {selector!r}", span)
        pos += 1
    return out


def matches_labels(labels: dict[str, str], reqs: list[tuple[str, str, list[str]]]) -> bool:
    for key, op, values in reqs:
        has = key in labels
        value = labels.get(key, "")
        if op == "exists" and not has:
            return False
        if op == "!" and has:
            return False
        if op == "=" and (not has or value != values[0]):
            return False
        if op == "!=" and has and value == values[0]:
            return False
        if op == "in" and (not has or value not in values):
            return False
        if op == "notin" and has and value in values:
            return False
        if op in (">", "<"):
            try:
                left, right = int(value), int(values[0])
            except ValueError:
                return False
            if not has or (left <= right if op == ">" else left >= right):
                return False
    return True


def string_map(node: N | None) -> dict[str, str]:
    if node is None or not isinstance(node.v, dict):
        return {}
    return {k: text(v.v) for k, v in node.v.items() if not isinstance(v.v, dict | list)}


@dataclass(slots=True)
class Selector:
    """A patch ``target`` (types.Selector with regexes, reswrangler.Select)."""

    group: re.Pattern[str] | None
    version: re.Pattern[str] | None
    kind: re.Pattern[str] | None
    name: re.Pattern[str] | None
    namespace: re.Pattern[str] | None
    labels: list[tuple[str, str, list[str]]]
    annotations: list[tuple[str, str, list[str]]]

    @classmethod
    def parse(cls, node: N) -> Selector:
        if not isinstance(node.v, dict):
            raise BuildError("a patch target must be a mapping", node.span)
        known = {
            "group",
            "version",
            "kind",
            "name",
            "namespace",
            "labelSelector",
            "annotationSelector",
        }
        for key, value in node.v.items():
            if key not in known:
                raise BuildError(
                    f"unknown field {key!r} in a patch target", value.kspan or node.span
                )

        def pattern(key: str) -> re.Pattern[str] | None:
            found = node.v.get(key)
            if found is None or text(found.v) == "":
                return None
            return safe_regex(text(found.v), found.span)

        def labels(key: str) -> list[tuple[str, str, list[str]]]:
            found = node.v.get(key)
            return label_selector(text(found.v), found.span) if found is not None else []

        return cls(
            pattern("group"),
            pattern("version"),
            pattern("kind"),
            pattern("name"),
            pattern("namespace"),
            labels("labelSelector"),
            labels("annotationSelector"),
        )

    def select(self, resources: Iterable[Res]) -> list[Res]:
        out = []
        for res in resources:
            cur, org = res.cur_id(), res.org_id()
            ns = self.namespace
            if ns is not None and not (
                ns.fullmatch(org.effective_namespace) or ns.fullmatch(cur.effective_namespace)
            ):
                continue
            if self.name is not None and not (
                self.name.fullmatch(org.name) or self.name.fullmatch(cur.name)
            ):
                continue
            if self.group is not None and not self.group.fullmatch(cur.group):
                continue
            if self.version is not None and not self.version.fullmatch(cur.version):
                continue
            if self.kind is not None and not self.kind.fullmatch(cur.kind):
                continue
            if self.labels and not matches_labels(
                string_map(get(res.node, "metadata", "labels")), self.labels
            ):
                continue
            if self.annotations and not matches_labels(
                string_map(get(res.node, "metadata", "annotations")), self.annotations
            ):
                continue
            out.append(res)
        return out


# ---------------------------------------------------------------------------------------------
# namespace


def set_namespace(
    resources: Sequence[Res], namespace: str, value: N, key_span: Span, specs: Sequence[FieldSpec]
) -> None:
    """The NamespaceTransformer (api/filters/namespace/namespace.go, unsetOnly false,
    setRoleBindingSubjects defaultOnly)."""

    def setter(node: N) -> None:
        node.v = namespace
        node.span = value.span

    for res in resources:
        obj = res.node
        if not isinstance(obj.v, dict) or not obj.v:
            continue
        res.store_previous_id()
        api_version = str_at(obj, "apiVersion")
        kind = str_at(obj, "kind")
        if not res.cur_id().cluster_scoped:
            meta = _meta(obj, key_span)
            _set_scalar(meta, "namespace", namespace, value.span, key_span)
        if kind in ("RoleBinding", "ClusterRoleBinding"):
            subjects = get(obj, "subjects")
            if subjects is not None and isinstance(subjects.v, list):
                for subject in subjects.v:
                    if isinstance(subject.v, dict) and str_at(subject, "name") == "default":
                        _set_scalar(subject, "namespace", namespace, value.span, key_span)
        for spec in specs:
            if spec.path == "metadata/namespace":
                continue
            if spec.path == "metadata/name" and api_version != "v1":
                continue
            if kind in ("RoleBinding", "ClusterRoleBinding") and spec.path == "subjects/namespace":
                continue
            fieldspecs.apply(obj, spec, setter, "scalar", key_span)
    ids: dict[tuple[str, str, str, str, str], int] = {}
    for res in resources:
        cur = res.cur_id()
        key = (cur.group, cur.version, cur.kind, cur.name, cur.effective_namespace)
        ids[key] = ids.get(key, 0) + 1
        if ids[key] > 1:
            raise BuildError(
                f"namespace transformation produces an id conflict: two {cur}", value.span
            )


def _meta(obj: N, span: Span) -> N:
    meta: N | None = obj.v.get("metadata")
    if meta is None or meta.v is None:
        meta = N({}, span, span)
        obj.v["metadata"] = meta
    if not isinstance(meta.v, dict):
        raise BuildError("metadata is not a mapping", meta.span)
    return meta


def _set_scalar(parent: N, key: str, value: str, span: Span, key_span: Span) -> None:
    old = parent.v.get(key)
    parent.v[key] = N(value, span, old.kspan if old is not None and old.kspan else key_span)


# ---------------------------------------------------------------------------------------------
# labels, annotations


def add_entries(
    resources: Sequence[Res],
    pairs: dict[str, N],
    specs: Sequence[FieldSpec],
    what: str,
) -> None:
    """LabelTransformer / AnnotationsTransformer: set every pair at every field spec.

    ``pairs`` maps each key to its value node in the kustomization (whose ``kspan`` is the
    key's span there); values become strings, as they are decoded into map[string]string.
    """
    for res in resources:
        for key in sorted(pairs):
            value = pairs[key]
            entry_span = value.kspan or value.span

            def setter(node: N, key: str = key, value: N = value) -> None:
                if node.v is None or node.v == "":
                    node.v = {}
                if not isinstance(node.v, dict):
                    raise BuildError(f"{what} field is not a mapping", node.span)
                old = node.v.get(key)
                node.v[key] = N(
                    text(value.v),
                    value.span,
                    old.kspan if old is not None and old.kspan else value.kspan or value.span,
                )

            fieldspecs.apply_all(res.node, specs, setter, "map", entry_span)


# ---------------------------------------------------------------------------------------------
# namePrefix, nameSuffix

_AFFIX_SKIP: Final = (("", "CustomResourceDefinition"), ("apiregistration.k8s.io", "APIService"))


def add_affix(
    resources: Sequence[Res], affix: str, suffix: bool, specs: Sequence[FieldSpec]
) -> None:
    """PrefixTransformer / SuffixTransformer: ``metadata/name`` gains the affix (and keeps its
    span: the object is still named where its file names it)."""

    def setter(node: N) -> None:
        if isinstance(node.v, dict | list):
            raise BuildError("a name field is not a scalar", node.span)
        node.v = text(node.v) + affix if suffix else affix + text(node.v)

    for res in resources:
        org = res.org_id()
        if org.kind == "Namespace" or any(
            org.kind == kind and (not group or org.group == group) for group, kind in _AFFIX_SKIP
        ):
            continue
        for spec in specs:
            if not spec.selects(org.api_version, org.kind):
                continue
            if spec.path == "metadata/name" and affix:
                res.store_previous_id()
            fieldspecs.apply(res.node, spec, setter, "scalar", res.node.span)


# ---------------------------------------------------------------------------------------------
# replicas, images


def set_replicas(
    resources: Sequence[Res], name: str, count: N, specs: Sequence[FieldSpec], span: Span
) -> None:
    """ReplicaCountTransformer: objects with ``name`` among any of their ids."""
    if not isinstance(count.v, int) or isinstance(count.v, bool):
        raise BuildError("replicas count must be an integer", count.span)
    found = False

    def setter(node: N) -> None:
        node.v = count.v
        node.span = count.span

    for spec in specs:
        for res in resources:
            if not any(
                i.name == name and spec.selects(i.api_version, i.kind) for i in res.all_ids()
            ):
                continue
            found = True
            fieldspecs.apply(res.node, spec, setter, "scalar", count.kspan or count.span)
    if not found:
        raise BuildError(f"replicas: no resource named {name!r} has a replicas field", span)


def _split_image(image: str) -> tuple[str, str, str]:
    """image.Split: name, tag, digest (a registry port is not a tag)."""
    slash = image.find("/")
    search = image[slash:] if slash > 0 else image
    offset = slash if slash > 0 else 0
    at, colon = search.find("@"), search.find(":")
    if at < 0 and colon < 0:
        return image, "", ""
    if at >= 0 and (colon < 0 or at < colon):
        return image[: at + offset], "", image[at + offset + 1 :]
    if at >= 0:
        return (
            image[: colon + offset],
            image[colon + offset + 1 : at + offset],
            image[at + offset + 1 :],
        )
    return image[: colon + offset], image[colon + offset + 1 :], ""


def set_images(resources: Sequence[Res], entry: N, specs: Sequence[FieldSpec]) -> None:
    """ImageTagTransformer (legacy filter over every containers/initContainers list, plus the
    images field specs)."""
    name = str_at(entry, "name")
    if not name:
        raise BuildError("an images entry needs a name", entry.span)
    new_name, new_tag = str_at(entry, "newName"), str_at(entry, "newTag")
    digest, tag_suffix = str_at(entry, "digest"), str_at(entry, "tagSuffix")
    where = next(
        (n for k in ("newTag", "digest", "newName", "tagSuffix") if (n := get(entry, k))), entry
    )
    try:
        matcher = safe_regex(name, entry.span)
        pattern = re.compile(
            f"{matcher.pattern}(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?"
        )
    except Unmodelled:
        pattern = re.compile(
            f"{re.escape(name)}(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?"
        )
    done: set[int] = set()

    def setter(node: N) -> None:
        if id(node) in done or not isinstance(node.v, str) or not pattern.fullmatch(node.v):
            return
        done.add(id(node))
        base, tag, dig = _split_image(node.v)
        if new_name:
            base = new_name
        if new_tag and digest:
            tag, dig = new_tag, digest
        elif new_tag:
            tag, dig = new_tag, ""
        elif digest:
            tag, dig = "", digest
        elif tag_suffix:
            tag, dig = tag + tag_suffix, ""
        node.v = base + (f":{tag}" if tag else "") + (f"@{dig}" if dig else "")
        node.span = where.span

    for res in resources:
        done.clear()
        if str_at(res.node, "kind") == "CustomResourceDefinition":
            continue
        _legacy_images(res.node, setter)
        for spec in specs:
            fieldspecs.apply(res.node, spec, setter, "", where.span)


def _legacy_images(node: N, setter: fieldspecs.Setter) -> None:
    v = node.v
    if isinstance(v, dict):
        for key, child in v.items():
            if key in ("containers", "initContainers") and isinstance(child.v, list):
                for container in child.v:
                    image = get(container, "image")
                    if image is not None:
                        setter(image)
            _legacy_images(child, setter)
    elif isinstance(v, list):
        for child in v:
            _legacy_images(child, setter)


# ---------------------------------------------------------------------------------------------
# replacements (api/filters/replacement/replacement.go)


def _field_path(path: str) -> list[str]:
    """kyaml SmarterPathSplitter with ``.``: brackets keep their dots."""
    return [p for p in split_path(path, ".") if p]


def _lookup(node: N, parts: list[str], create: bool, span: Span) -> list[N]:
    """kyaml PathMatcher: field names, ``[k=v]`` element matches, indices, ``*``."""
    if not parts:
        return [node]
    part, rest = parts[0], parts[1:]
    v = node.v
    if part.startswith("[") and part.endswith("]") and "=" in part:
        key, _, want = part[1:-1].partition("=")
        if not isinstance(v, list):
            return []
        out = []
        for item in v:
            if str_at(item, key) == want:
                out.extend(_lookup(item, rest, create, span))
        return out
    if part.startswith("[") and part.endswith("]"):
        part = part[1:-1]
    if part == "*" or part == "[*]":
        children = list(v.values()) if isinstance(v, dict) else v if isinstance(v, list) else []
        return [found for c in children for found in _lookup(c, rest, create, span)]
    if isinstance(v, list):
        if not part.isdigit():
            return []
        index = int(part)
        if index < len(v):
            return _lookup(v[index], rest, create, span)
        if create:
            raise Unmodelled("replacement creating a list item is not applied", span)
        return []
    if isinstance(v, dict):
        child = v.get(part)
        if child is None:
            if not create:
                return []
            child = N({} if rest else None, span, span)
            v[part] = child
        return _lookup(child, rest, create, span)
    if v is None and create:
        node.v = {}
        return _lookup(node, parts, create, span)
    return []


def _res_selector(node: N | None, span: Span) -> ResId:
    if node is None or not isinstance(node.v, dict):
        raise BuildError("a replacement selector must be a mapping", span)
    return ResId(
        str_at(node, "group"),
        str_at(node, "version"),
        str_at(node, "kind"),
        str_at(node, "name"),
        str_at(node, "namespace"),
    )


def replace(resources: Sequence[Res], replacement: N) -> None:
    """One replacement: copy the source field's value (and span) into every target field."""
    source = get(replacement, "source")
    targets = get(replacement, "targets")
    if source is None or targets is None or not isinstance(targets.v, list):
        raise BuildError(
            "replacements must specify a source and at least one target", replacement.span
        )
    if get(source, "options", "encoding") is not None:
        raise Unmodelled("replacement encoding options are not applied", source.span)
    wanted = _res_selector(source, source.span)
    matches = [r for r in resources if any(i.selected_by(wanted) for i in r.all_ids())]
    if len(matches) != 1:
        what = "multiple matches" if matches else "nothing selected"
        raise BuildError(f"replacement source: {what} for {wanted}", source.span)
    path = str_at(source, "fieldPath") or "metadata.name"
    found = _lookup(matches[0].node, _field_path(path), False, source.span)
    if not found or found[0].v in (None, "", {}, []):
        raise BuildError(
            f"fieldPath {path!r} is missing for replacement source {wanted}", source.span
        )
    value = found[0]
    delimiter = str_at(source, "options", "delimiter")
    if delimiter:
        if isinstance(value.v, dict | list):
            raise BuildError("delimiter option can only be used with scalar nodes", source.span)
        pieces = text(value.v).split(delimiter)
        index_node = get(source, "options", "index")
        index = index_node.v if index_node is not None and isinstance(index_node.v, int) else 0
        if not 0 <= index < len(pieces):
            raise BuildError(f"options.index {index} is out of bounds", source.span)
        value = N(pieces[index], value.span, value.kspan)
    for target in targets.v:
        _replace_target(resources, value, target)


def _replace_target(resources: Sequence[Res], value: N, target: N) -> None:
    select = get(target, "select")
    if select is None:
        raise BuildError("target must specify resources to select", target.span)
    wanted = _res_selector(select, select.span)
    label_reqs = label_selector(str_at(select, "labelSelector"), select.span)
    anno_reqs = label_selector(str_at(select, "annotationSelector"), select.span)
    rejects = get(target, "reject")
    reject_nodes = rejects.v if rejects is not None and isinstance(rejects.v, list) else []
    paths_node = get(target, "fieldPaths")
    paths = (
        [text(p.v) for p in paths_node.v]
        if paths_node is not None and isinstance(paths_node.v, list)
        else ["metadata.name"]
    )
    options = get(target, "options")
    create = bool(get(options, "create") and get(options, "create").v is True)  # type: ignore[union-attr]
    delimiter = str_at(options, "delimiter")
    index_node = get(options, "index")
    index = index_node.v if index_node is not None and isinstance(index_node.v, int) else 0
    for res in resources:
        labels = string_map(get(res.node, "metadata", "labels"))
        annotations = string_map(get(res.node, "metadata", "annotations"))
        if not (matches_labels(labels, label_reqs) and matches_labels(annotations, anno_reqs)):
            continue
        ids = res.all_ids()
        if not any(i.selected_by(wanted) for i in ids):
            continue
        if _rejected(reject_nodes, ids, labels, annotations):
            continue
        for path in paths:
            fields = _lookup(res.node, _field_path(path), create, target.span)
            if not fields:
                raise BuildError(
                    f"unable to find field {path!r} in replacement target {res.cur_id()}",
                    target.span,
                )
            for fld in fields:
                _set_field(fld, value, delimiter, index, target.span)


def _rejected(
    rejects: list[N], ids: list[ResId], labels: dict[str, str], annotations: dict[str, str]
) -> bool:
    for reject in rejects:
        label_reqs = label_selector(str_at(reject, "labelSelector"), reject.span)
        anno_reqs = label_selector(str_at(reject, "annotationSelector"), reject.span)
        if (label_reqs or anno_reqs) and (
            matches_labels(labels, label_reqs) and matches_labels(annotations, anno_reqs)
        ):
            return True
        selector = _res_selector(reject, reject.span)
        if selector != ResId("", "", "", "", "") and any(i.selected_by(selector) for i in ids):
            return True
    return False


def _set_field(target: N, value: N, delimiter: str, index: int, span: Span) -> None:
    if delimiter:
        if isinstance(target.v, dict | list):
            raise BuildError("delimiter option can only be used with scalar nodes", span)
        pieces = text(target.v).split(delimiter) if target.v is not None else [""]
        piece = text(value.v)
        if index < 0:
            pieces.insert(0, piece)
        elif index >= len(pieces):
            pieces.append(piece)
        else:
            pieces[index] = piece
        target.v = delimiter.join(pieces)
        target.span = value.span
        return
    if isinstance(value.v, dict | list) or isinstance(target.v, dict | list):
        copied = clone(value)
        target.v = copied.v
    elif isinstance(target.v, str) and not isinstance(value.v, str):
        target.v = text(value.v)
    else:
        target.v = value.v
    target.span = value.span
