"""configMapGenerator and secretGenerator, and the content hash of generated names.

kustomize v5.5.0: api/internal/builtins/{ConfigMapGenerator,SecretGenerator}.go,
api/internal/generators/{configmap,secret,utils}.go, api/kv/kv.go (literals ``k=v`` with
surrounding quotes removed, files ``key=path`` or ``path``, env files ``KEY=VALUE`` lines),
api/types/generatoroptions.go (global options merged into each generator), api/resmap/
reswrangler.go appendReplaceOrMerge (``behavior: merge`` / ``replace``), api/hasher/hasher.go
(the name suffix: sha256 of a JSON encoding, first 10 hex digits with 0,1,3,a,e remapped).

Helm charts are never inflated: they make the unit incomplete.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import re
from typing import TYPE_CHECKING, Any, Final

from netlint.read.kustomize.nodes import N, get, plain, str_at, text
from netlint.read.kustomize.transforms import Res, Transformation

if TYPE_CHECKING:
    from netlint.read.kustomize.build import _Acc, _Build, _Kustomization

_KEY: Final = re.compile(r"[-._a-zA-Z0-9]+")
_ENV_NAME: Final = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")


class _Unknown(Exception):
    """An input whose content is not known (a binary file): the hash cannot be computed."""


def run(build: _Build, k: _Kustomization, acc: _Acc) -> None:
    for name in ("helmCharts", "helmChartInflationGenerator", "helmGlobals"):
        node = k.field(name)
        if node is not None:
            build.unmodelled(f"{name}: Helm charts are not inflated", node.kspan or node.span)
    plugins = k.field("generators")
    if plugins is not None:
        build.unmodelled("generator plugins are not run", plugins.kspan or plugins.span)
    options = k.field("generatorOptions")
    for field, kind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")):
        node = k.field(field)
        if node is None:
            continue
        if not isinstance(node.v, list):
            build.error(f"{field} must be a list", node.span)
            continue
        for entry in node.v:
            res = _generate(build, k, entry, kind, options)
            if res is not None:
                _absorb(build, acc, res, entry)


def _strings(build: _Build, entry: N, key: str) -> list[N]:
    node = get(entry, key)
    if node is None or node.v is None:
        return []
    if not isinstance(node.v, list):
        build.error(f"{key} must be a list", node.span)
        return []
    return [i for i in node.v if not isinstance(i.v, dict | list) and i.v is not None]


def _options(entry: N, global_options: N | None) -> dict[str, Any]:
    """MergeGlobalOptionsIntoLocal: local labels/annotations win; either side's flags count."""
    local = get(entry, "options")
    out: dict[str, Any] = {"labels": {}, "annotations": {}, "hash": True, "immutable": False}
    for source in (global_options, local):
        if source is None or not isinstance(source.v, dict):
            continue
        for key in ("labels", "annotations"):
            found = get(source, key)
            if found is not None and isinstance(found.v, dict):
                out[key].update(found.v)
        if str_at(source, "disableNameSuffixHash") == "true":
            out["hash"] = False
        if str_at(source, "immutable") == "true":
            out["immutable"] = True
    return out


def _generate(
    build: _Build, k: _Kustomization, entry: N, kind: str, global_options: N | None
) -> Res | None:
    if not isinstance(entry.v, dict):
        build.error(f"a {kind} generator must be a mapping", entry.span)
        return None
    name_node = get(entry, "name")
    if name_node is None or not text(name_node.v):
        build.error(f"a {kind.lower()} must have a name", entry.span)
        return None
    unknown = False
    pairs: list[tuple[str, str, N]] = []
    for env in [*_strings(build, entry, "envs"), *_strings(build, entry, "env")]:
        content = _read(build, k, env)
        if content is None:
            unknown = True
            continue
        for number, line in enumerate(content.split("\n")):
            line = line.removeprefix("\ufeff") if number == 0 else line
            line = line.rstrip("\r").lstrip()
            if not line or line.startswith("#"):
                continue
            key, _, value = line.partition("=")
            if not _ENV_NAME.fullmatch(key):
                build.error(f"{key!r} is not a valid environment variable name", env.span)
                continue
            pairs.append((key, value, env))
    for literal in _strings(build, entry, "literals"):
        raw = text(literal.v)
        key, eq, value = raw.partition("=")
        if not eq or not key:
            build.error(f"invalid literal source {raw!r}, expected key=value", literal.span)
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        pairs.append((key, value, literal))
    for source in _strings(build, entry, "files"):
        raw = text(source.v)
        if raw.count("=") > 1 or raw.startswith("=") or raw.endswith("="):
            build.error(f"invalid file source {raw!r}", source.span)
            continue
        key, eq, path = raw.partition("=")
        if not eq:
            key, path = posixpath.basename(raw), raw
        content = _read(build, k, N(path, source.span, source.kspan))
        if content is None:
            unknown = True
            continue
        pairs.append((key, content, source))
    data: dict[str, N] = {}
    for key, value, where in pairs:
        if not _KEY.fullmatch(key):
            build.error(f"{key!r} is not a valid {kind} key", where.span)
            continue
        if key in data:
            build.error(f"{kind} {text(name_node.v)} illegally repeats the key {key!r}", where.span)
            continue
        stored = base64.b64encode(value.encode("utf-8")).decode() if kind == "Secret" else value
        data[key] = N(stored, where.span, where.span)
    span = entry.span
    meta: dict[str, N] = {"name": N(text(name_node.v), name_node.span, name_node.kspan)}
    namespace = get(entry, "namespace")
    if namespace is not None and text(namespace.v):
        meta["namespace"] = N(text(namespace.v), namespace.span, namespace.kspan)
    options = _options(entry, global_options)
    for key in ("labels", "annotations"):
        if options[key]:
            meta[key] = N(
                {k2: N(text(v.v), v.span, v.kspan) for k2, v in sorted(options[key].items())},
                span,
                span,
            )
    body: dict[str, N] = {
        "apiVersion": N("v1", span, span),
        "kind": N(kind, span, span),
        "metadata": N(meta, span, span),
    }
    if data:
        body["data"] = N(data, span, span)
    if kind == "Secret":
        body["type"] = N(str_at(entry, "type") or "Opaque", span, span)
    if options["immutable"]:
        body["immutable"] = N(True, span, span)
    behavior = str_at(entry, "behavior") or "create"
    if behavior not in ("create", "merge", "replace"):
        build.error(f"unknown generator behavior {behavior!r}", entry.span)
        return None
    res = Res(
        N(body, span, None),
        None,
        Transformation(f"{kind}Generator", k.path),
        behavior=behavior,
        needs_hash=options["hash"],
    )
    res.hash_unknown = unknown
    return res


def _read(build: _Build, k: _Kustomization, entry: N) -> str | None:
    path = build.local_file(k.directory, entry, "generator input")
    if path is None:
        return None
    source = build.load(path)
    if source is None:
        build.error(f"generator input {text(entry.v)!r} not found", entry.span)
        return None
    if source.text is None:
        build.unmodelled(
            f"generator input {path!r} is not text: its content is not known", entry.span
        )
    return source.text


def _absorb(build: _Build, acc: _Acc, res: Res, entry: N) -> None:
    cur = res.cur_id()
    matches = [r for r in acc.resources if any(cur.equals(i) for i in r.all_ids())]
    if not matches:
        if res.behavior != "create":
            build.error(f"id {cur} does not exist; cannot merge or replace", entry.span)
            return
        acc.resources.append(res)
        return
    if len(matches) > 1 or res.behavior == "create":
        build.error(f"id {cur} exists; behavior must be merge or replace", entry.span)
        return
    old = matches[0]
    if res.behavior == "merge":
        for section in ("data", "binaryData"):
            before = get(old.node, section)
            after = get(res.node, section)
            if before is not None and isinstance(before.v, dict):
                merged = dict(before.v)
                merged.update(after.v if after is not None and isinstance(after.v, dict) else {})
                res.node.v[section] = N(merged, (after or before).span, (after or before).kspan)
    for section in ("labels", "annotations"):
        before = get(old.node, "metadata", section)
        if before is not None and isinstance(before.v, dict):
            meta = res.node.v["metadata"]
            after = meta.v.get(section)
            merged = dict(before.v)
            merged.update(after.v if after is not None else {})
            meta.v[section] = N(merged, before.span, before.kspan)
    meta, old_meta = res.node.v["metadata"], get(old.node, "metadata")
    for key in ("name", "namespace"):  # CopyMergeMetaDataFieldsFrom: the old id stays
        found = get(old_meta, key)
        if found is not None:
            meta.v[key] = found
        else:
            meta.v.pop(key, None)
    res.prev = list(old.prev)
    res.transformations = list(old.transformations)
    res.generated_by = old.generated_by
    res.needs_hash = old.needs_hash or res.needs_hash
    res.hash_unknown = old.hash_unknown or res.hash_unknown
    acc.resources[acc.resources.index(old)] = res


# ---------------------------------------------------------------------------------------------
# The name hash (api/hasher/hasher.go)


def _go_string(value: str) -> str:
    """A string as Go's encoding/json writes it (HTML-safe escapes, \\uXXXX for controls)."""
    out = ['"']
    for ch in value:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch < " " or ch in "<>&\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_json(value: Any) -> str:
    if isinstance(value, dict):
        items = ",".join(f"{_go_string(str(k))}:{go_json(value[k])}" for k in sorted(value))
        return "{" + items + "}"
    if isinstance(value, list):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return _go_string(str(value))


def _section(node: N, key: str) -> Any:
    found = get(node, key)
    if found is None:
        return ""
    if isinstance(found.v, dict):
        return {
            k: text(v.v) if not isinstance(v.v, dict | list) else plain(v)
            for k, v in found.v.items()
        }
    return text(found.v)


def content_hash(node: N) -> str:
    """hasher.Hash of a ConfigMap or Secret. Its name goes in as "": getNodeValues looks the
    path "metadata/name" up as one field name (yaml.Lookup("metadata/name")), which no object
    has, so kustomize's hash never covers the name."""
    kind = str_at(node, "kind")
    name = ""
    if kind == "ConfigMap":
        encoded: dict[str, Any] = {
            "kind": "ConfigMap",
            "name": name,
            "data": _section(node, "data"),
        }
        if isinstance(_section(node, "binaryData"), dict):
            encoded["binaryData"] = _section(node, "binaryData")
    else:
        encoded = {
            "kind": "Secret",
            "type": _section(node, "type"),
            "name": name,
            "data": _section(node, "data"),
        }
        if isinstance(_section(node, "stringData"), dict):
            encoded["stringData"] = _section(node, "stringData")
    digest = hashlib.sha256(go_json(encoded).encode("utf-8")).hexdigest()[:10]
    return digest.translate(str.maketrans("013ae", "ghkmt"))


def add_hashes(resources: list[Res]) -> set[Res]:
    """Suffix every generated name that asks for it with its content hash; the resources whose
    inputs are not known get no suffix and are returned."""
    unknown = set()
    for res in resources:
        if not res.needs_hash:
            continue
        if res.hash_unknown:
            unknown.add(res)
            continue
        name = get(res.node, "metadata", "name")
        if name is not None:
            name.v = f"{text(name.v)}-{content_hash(res.node)}"
    return unknown
