"""Strategic merge patches and JSON 6902 patches on span-carrying nodes.

Strategic merge follows kyaml's merge2 walker as kustomize runs it (api/filters/
patchstrategicmerge: ``merge2.Merge`` with ``ListIncreaseDirection: Prepend``;
kyaml/yaml/walk/{map,associative_sequence,nonassociative_sequence}.go, kyaml/yaml/merge2/
merge2.go and smpdirective.go):

- maps merge key by key; ``key: null`` in the patch deletes the key; ``$patch: delete`` deletes
  the map, ``$patch: replace`` replaces it with the patch (directive removed);
- scalars: the patch wins;
- a list merges by key only where the built-in schema gives it a merge strategy (kyaml/yaml/
  schema/schema.go IsAssociative; keys from ``x-kubernetes-list-map-keys``, else
  ``x-kubernetes-patch-merge-key``); every other list, and every list of a kind without a
  built-in schema (custom resources), is replaced by the patch's list. NetworkPolicy lists have
  no merge strategy, so a patch replaces ``ingress``/``egress``/``policyTypes`` whole;
- merged lists put the patch's elements first, in patch order (merged with the matching base
  element), then the base elements the patch does not name, in base order; an element with
  ``$patch: delete`` is removed; a lone ``{$patch: replace}`` / ``{$patch: delete}`` element
  replaces / deletes the whole list.

JSON 6902 follows RFC 6902 as gopkg.in/evanphx/json-patch.v4 implements it (add, remove,
replace, move, copy, test; ``-`` appends; ``~1``/``~0`` escapes; replace and remove need an
existing target).
"""

from __future__ import annotations

from typing import Any, Final

from netlint.core.source import Span
from netlint.read.kustomize.nodes import BuildError, N, clone, plain, text

PatchError = BuildError


DIRECTIVE: Final = "$patch"
_DELETE: Final = object()

# ---------------------------------------------------------------------------------------------
# The merge strategies of the built-in schema (Kubernetes 1.21.2 swagger, the one kustomize
# v5.5.0 embeds: kyaml/openapi/kubernetesapi/v1_21_2), for the kinds netlint reads. Paths are
# field names from the object root (list items do not add a part); the value is the merge key
# list, [] for a primitive list merged by value (finalizers).

_CONTAINER_LISTS: Final = {
    ("ports",): ["containerPort", "protocol"],
    ("env",): ["name"],
    ("volumeMounts",): ["mountPath"],
    ("volumeDevices",): ["devicePath"],
}
_POD_SPEC_LISTS: Final[dict[tuple[str, ...], list[str]]] = {
    ("containers",): ["name"],
    ("initContainers",): ["name"],
    ("ephemeralContainers",): ["name"],
    ("volumes",): ["name"],
    ("imagePullSecrets",): ["name"],
    ("hostAliases",): ["ip"],
    ("topologySpreadConstraints",): ["topologyKey", "whenUnsatisfiable"],
    **{
        (c, *sub): keys
        for c in ("containers", "initContainers", "ephemeralContainers")
        for sub, keys in _CONTAINER_LISTS.items()
    },
}
_META_LISTS: Final[dict[tuple[str, ...], list[str]]] = {
    ("ownerReferences",): ["uid"],
    ("finalizers",): [],
}


def _with_pod(prefix: tuple[str, ...]) -> dict[tuple[str, ...], list[str]]:
    table = {(*prefix, *k): v for k, v in _POD_SPEC_LISTS.items()}
    meta = (*prefix[:-1], "metadata")
    table.update({(*meta, *k): v for k, v in _META_LISTS.items()})
    return table


_TEMPLATE: Final = ("spec", "template", "spec")
#: (apiVersion, kind) -> associative lists. Kinds and versions absent here have no built-in
#: schema for kustomize, or no merge-keyed list netlint reads.
SCHEMA: Final[dict[tuple[str, str], dict[tuple[str, ...], list[str]]]] = {
    ("v1", "Pod"): _with_pod(("spec",)),
    ("v1", "ReplicationController"): _with_pod(_TEMPLATE),
    ("v1", "PodTemplate"): _with_pod(("template", "spec")),
    ("apps/v1", "Deployment"): _with_pod(_TEMPLATE),
    ("apps/v1", "StatefulSet"): _with_pod(_TEMPLATE),
    ("apps/v1", "DaemonSet"): _with_pod(_TEMPLATE),
    ("apps/v1", "ReplicaSet"): _with_pod(_TEMPLATE),
    ("batch/v1", "Job"): _with_pod(_TEMPLATE),
    ("batch/v1", "CronJob"): _with_pod(("spec", "jobTemplate", *_TEMPLATE)),
    ("batch/v1beta1", "CronJob"): _with_pod(("spec", "jobTemplate", *_TEMPLATE)),
    ("v1", "Service"): {("spec", "ports"): ["port", "protocol"]},
    ("v1", "ServiceAccount"): {("secrets",): ["name"]},
}
for _lists in SCHEMA.values():  # every object's own metadata
    _lists.update({("metadata", *k): v for k, v in _META_LISTS.items()})


def strategic_merge(dest: N, patch: N, api_version: str, kind: str) -> N | None:
    """``patch`` merged into ``dest`` (edited in place where it can be); None if deleted."""
    lists = SCHEMA.get((api_version, kind), {})
    result = _merge(dest, patch, (), lists)
    return None if result is _DELETE else result


def _is_null(node: N | None) -> bool:
    return node is None or node.v is None


def _merge(dest: N | None, patch: N, path: tuple[str, ...], lists: dict[Any, list[str]]) -> Any:
    if patch.v is None:
        return _DELETE
    if _is_null(dest):
        return _fresh(patch, path, lists)
    assert dest is not None
    if isinstance(dest.v, dict) != isinstance(patch.v, dict) or isinstance(
        dest.v, list
    ) != isinstance(patch.v, list):
        raise PatchError(
            f"strategic merge patch: {'.'.join(path) or 'the object'} is a "
            f"{_what(patch)} in the patch but a {_what(dest)} in the resource",
            patch.span,
        )
    if isinstance(patch.v, dict):
        directive = _directive(patch)
        if directive == "delete":
            return _DELETE
        if directive == "replace":
            return _without_directive(patch)
        for key, value in patch.v.items():
            if key == DIRECTIVE:
                continue
            merged = _merge(dest.v.get(key), value, (*path, key), lists)
            if merged is _DELETE:
                dest.v.pop(key, None)
            else:
                old = dest.v.get(key)
                if old is not None and old.kspan is not None and merged is not old:
                    merged.kspan = old.kspan if merged.kspan is None else merged.kspan
                dest.v[key] = merged
        return dest
    if isinstance(patch.v, list):
        keys = lists.get(path)
        if keys is None:
            return patch  # no merge strategy: the patch's list replaces the resource's
        return _merge_list(dest, patch, path, keys, lists)
    return patch


def _what(node: N) -> str:
    if isinstance(node.v, dict):
        return "mapping"
    return "list" if isinstance(node.v, list) else "scalar"


def _directive(patch: N) -> str:
    found = patch.v.get(DIRECTIVE)
    if found is None:
        return "merge"
    value = text(found.v)
    if value not in ("delete", "replace", "merge"):
        raise PatchError(f"unknown patch strategy {value!r}", found.span)
    return value


def _without_directive(node: N) -> N:
    if isinstance(node.v, dict) and DIRECTIVE in node.v:
        return N({k: v for k, v in node.v.items() if k != DIRECTIVE}, node.span, node.kspan)
    return node


def _fresh(patch: N, path: tuple[str, ...], lists: dict[Any, list[str]]) -> Any:
    """A patch value where the resource has none: kept, with its directives applied to itself."""
    if isinstance(patch.v, dict):
        if _directive(patch) == "delete":
            return _DELETE
        out = {}
        for key, value in patch.v.items():
            if key == DIRECTIVE:
                continue
            fresh = _fresh(value, (*path, key), lists) if value.v is not None else _DELETE
            if fresh is not _DELETE:
                out[key] = fresh
        return N(out, patch.span, patch.kspan)
    if isinstance(patch.v, list) and path in lists:
        items = [i for i in patch.v if not (isinstance(i.v, dict) and DIRECTIVE in i.v)]
        return N(items, patch.span, patch.kspan)
    return patch


def _list_directive(patch: N) -> tuple[str, list[N]]:
    """A list-level ``$patch`` element (one whose only key is ``$patch``) and the other items."""
    directive = "merge"
    items = []
    for item in patch.v:
        if isinstance(item.v, dict) and len(item.v) == 1 and DIRECTIVE in item.v:
            directive = _directive(item)
            continue
        items.append(item)
    return directive, items


def _key_values(item: N, keys: list[str]) -> tuple[str, ...] | None:
    if not isinstance(item.v, dict):
        return None
    values = []
    for key in keys:
        found = item.v.get(key)
        values.append("" if found is None or isinstance(found.v, dict | list) else text(found.v))
    return tuple(values) if any(values) else None


def _same(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """merge2's match(): equal where both are set, and at least one key equal
    (a port without a protocol is the same port as one with it)."""
    common = False
    for x, y in zip(a, b, strict=True):
        if x == y:
            common = True
        elif x and y:
            return False
    return common


def _merge_list(
    dest: N, patch: N, path: tuple[str, ...], keys: list[str], lists: dict[Any, list[str]]
) -> Any:
    directive, items = _list_directive(patch)
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return N(items, patch.span, patch.kspan)
    if not keys:  # primitive list (finalizers): union, patch values first
        seen = set()
        out = []
        for item in [*items, *dest.v]:
            marker = repr(plain(item))
            if marker not in seen:
                seen.add(marker)
                out.append(item)
        return N(out, dest.span, dest.kspan)
    remaining = list(dest.v)
    out = []
    for item in items:
        values = _key_values(item, keys)
        if values is None:
            out.append(_fresh(item, path, lists))  # no key: appended as it is
            continue
        match = next(
            (
                i
                for i, d in enumerate(remaining)
                if (dv := _key_values(d, keys)) is not None and _same(values, dv)
            ),
            None,
        )
        base = remaining.pop(match) if match is not None else None
        merged = _merge(base, item, path, lists) if base is not None else _fresh(item, path, lists)
        if merged is not _DELETE:
            out.append(merged)
    out.extend(remaining)
    return N(out, dest.span, dest.kspan)


# ---------------------------------------------------------------------------------------------
# JSON 6902


def _pointer(path: N) -> list[str]:
    raw = path.v
    if not isinstance(raw, str):
        raise PatchError("a JSON patch path must be a string", path.span)
    if raw == "":
        return []
    if not raw.startswith("/"):
        raise PatchError(f"JSON pointer {raw!r} must start with '/'", path.span)
    return [part.replace("~1", "/").replace("~0", "~") for part in raw[1:].split("/")]


def _index(part: str, size: int, span: Span, allow_end: bool) -> int:
    if part == "-" and allow_end:
        return size
    if not part.isdigit() or (len(part) > 1 and part[0] == "0"):
        raise PatchError(f"JSON patch: {part!r} is not a list index", span)
    index = int(part)
    if index > size or (index == size and not allow_end):
        raise PatchError(f"JSON patch: index {index} is out of range (length {size})", span)
    return index


def _parent(doc: N, parts: list[str], span: Span) -> N:
    node = doc
    for part in parts[:-1]:
        v = node.v
        if isinstance(v, dict) and part in v:
            node = v[part]
        elif isinstance(v, list):
            node = v[_index(part, len(v), span, allow_end=False)]
        else:
            raise PatchError(f"JSON patch: path element {part!r} does not exist", span)
    if not isinstance(node.v, dict | list):
        raise PatchError("JSON patch: the path's parent is not a mapping or list", span)
    return node


def _get(doc: N, parts: list[str], span: Span) -> N:
    if not parts:
        return doc
    parent = _parent(doc, parts, span)
    last = parts[-1]
    if isinstance(parent.v, dict):
        if last not in parent.v:
            raise PatchError(f"JSON patch: {last!r} does not exist", span)
        found: N = parent.v[last]
        return found
    return parent.v[_index(last, len(parent.v), span, allow_end=False)]  # type: ignore[no-any-return]


def _add(doc: N, parts: list[str], value: N, span: Span, kspan: Span) -> N:
    if not parts:
        return value
    parent = _parent(doc, parts, span)
    last = parts[-1]
    if isinstance(parent.v, dict):
        old = parent.v.get(last)
        value.kspan = old.kspan if old is not None and old.kspan is not None else kspan
        parent.v[last] = value
    else:
        value.kspan = None
        parent.v.insert(_index(last, len(parent.v), span, allow_end=True), value)
    return doc


def _remove(doc: N, parts: list[str], span: Span) -> N:
    if not parts:
        raise PatchError("JSON patch: cannot remove the whole object", span)
    parent = _parent(doc, parts, span)
    last = parts[-1]
    if isinstance(parent.v, dict):
        if last not in parent.v:
            raise PatchError(f"JSON patch: {last!r} does not exist", span)
        del parent.v[last]
    else:
        del parent.v[_index(last, len(parent.v), span, allow_end=False)]
    return doc


def json_patch(doc: N, operations: N) -> N:
    """Apply a list of JSON 6902 operations (nodes from the patch document) to ``doc``."""
    if not isinstance(operations.v, list):
        raise PatchError("a JSON 6902 patch must be a list of operations", operations.span)
    for op in operations.v:
        if not isinstance(op.v, dict):
            raise PatchError("a JSON 6902 operation must be a mapping", op.span)
        kind = op.v.get("op")
        path = op.v.get("path")
        if kind is None or path is None:
            raise PatchError("a JSON 6902 operation needs 'op' and 'path'", op.span)
        parts = _pointer(path)
        name = text(kind.v)
        span = path.span
        if name in ("add", "replace", "test"):
            if "value" not in op.v:
                raise PatchError(f"JSON patch {name} needs a 'value'", op.span)
            value = clone(op.v["value"])
        if name == "add":
            doc = _add(doc, parts, value, span, span)
        elif name == "replace":
            _get(doc, parts, span)  # must exist
            doc = _add(doc, parts, value, span, span)
        elif name == "remove":
            doc = _remove(doc, parts, span)
        elif name in ("move", "copy"):
            source = op.v.get("from")
            if source is None:
                raise PatchError(f"JSON patch {name} needs 'from'", op.span)
            from_parts = _pointer(source)
            moved = _get(doc, from_parts, source.span)
            if name == "move":
                doc = _remove(doc, from_parts, source.span)
            else:
                moved = clone(moved)
            doc = _add(doc, parts, moved, span, moved.kspan or span)
        elif name == "test":
            if plain(_get(doc, parts, span)) != plain(value):
                raise PatchError("JSON patch test failed: the value differs", op.span)
        else:
            raise PatchError(f"unknown JSON patch operation {name!r}", kind.span)
    return doc
