"""Building a kustomization in-process: resources, components, generators, transformers.

The flow is kustomize v5.5.0's api/internal/target/kusttarget.go: ``accumulateTarget`` reads
``resources`` (``bases`` appended, types.FixKustomization) in order, each a file or a directory
with its own build, merges transformer ``configurations``, runs the generators, then the
``components`` (kind Component, applied to the including kustomization's accumulated
resources), then the builtin transformers in kusttarget_configplugin.go's order:
patchesStrategicMerge, patches, namespace, namePrefix, nameSuffix, labels and commonLabels,
commonAnnotations, patchesJson6902, replicas, images, replacements. At the top only, generated
names get their content hash and ``config.kubernetes.io/local-config`` objects are dropped
(makeCustomizedResMap).

Files are never read here: a *loader* returns the parsed documents of a path relative to the
project root (see :class:`FileSource` for one that reads a checkout). Paths are checked before
they are asked for: nothing outside the project root, and, as kustomize's RootOnly load
restrictor requires, a file only from the kustomization's own directory or below.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final

from netlint.core.problems import Problem, ProblemKind
from netlint.core.source import Span
from netlint.read.kustomize import KUSTOMIZATION_FILES, fieldspecs, generators, transforms
from netlint.read.kustomize.fieldspecs import FieldSpec
from netlint.read.kustomize.nodes import BuildError, N, clone, from_tree, get, str_at, text, to_tree
from netlint.read.kustomize.patch import json_patch, strategic_merge
from netlint.read.kustomize.transforms import Res, Transformation, Unmodelled
from netlint.read.parse import ALL, Limits, Tree, parse
from netlint.read.parse import to_tree as parse_to_tree

#: How deep bases may nest, and how many kustomization directories one build may visit (a
#: hostile tree of bases that each include the next twice would otherwise cost 2^depth).
MAX_DEPTH: Final = 64
MAX_VISITS: Final = 2_000

_KNOWN_FIELDS: Final = frozenset(
    {
        "apiVersion", "kind", "metadata", "openapi", "namePrefix", "nameSuffix", "namespace",
        "commonLabels", "labels", "commonAnnotations", "patchesStrategicMerge", "patchesJson6902",
        "patches", "images", "imageTags", "replacements", "replicas", "vars", "sortOptions",
        "resources", "components", "crds", "bases", "configMapGenerator", "secretGenerator",
        "helmGlobals", "helmCharts", "helmChartInflationGenerator", "generatorOptions",
        "configurations", "generators", "transformers", "validators", "buildMetadata",
    }
)  # fmt: skip
_STRING_FIELDS: Final = frozenset({"apiVersion", "kind", "namePrefix", "nameSuffix", "namespace"})
_REMOTE: Final = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://|git@|git::|github\.com/|gitlab\.com/)|\?ref="
)


@dataclass(frozen=True, slots=True)
class SourceFile:
    """What a loader returns for a file: its parsed documents (netlint Trees with spans), the
    problems parsing found, and its text when known (to place inline patches line by line and
    to read generator inputs)."""

    documents: Sequence[Tree]
    problems: Sequence[Problem] = ()
    text: str | None = None


#: path relative to the project root -> the file, or None when there is no such file.
Loader = Callable[[str], SourceFile | None]


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a unit is incomplete, or what kustomize would refuse, and where."""

    message: str
    span: Span

    def __str__(self) -> str:
        return f"{self.span}: {self.message}"


@dataclass(slots=True)
class Rendered:
    """One object of a build, as a Tree whose spans point at the lines that wrote each value."""

    tree: Tree
    #: The file the object comes from (None for generated objects).
    origin: str | None
    generated_by: Transformation | None
    #: Every builtin transformer that ran over the object, in order (kustomize's
    #: ``alpha.config.kubernetes.io/transformations``).
    transformations: list[Transformation]
    #: A generated name whose content hash is not known (an input the engine cannot read).
    name_unknown_suffix: bool = False

    @property
    def api_version(self) -> str:
        return text(_scalar(self.tree.data, "apiVersion"))

    @property
    def kind(self) -> str:
        return text(_scalar(self.tree.data, "kind"))

    @property
    def name(self) -> str:
        return text(_scalar(self.tree.data.get("metadata"), "name"))

    @property
    def namespace(self) -> str:
        return text(_scalar(self.tree.data.get("metadata"), "namespace"))


def _scalar(data: Any, key: str) -> Any:
    if not isinstance(data, dict):
        return None
    value = data.get(key)
    return None if isinstance(value, dict | list) else value


@dataclass(slots=True)
class Unit:
    """The result of building one kustomization directory."""

    kustomization: str
    objects: list[Rendered]
    #: What the engine does not apply (remote bases, Helm charts, plugins, ...): the objects
    #: are what is known, not all there is.
    incomplete: list[Reason]
    #: What kustomize itself would refuse (the real build fails): the objects are a best effort.
    errors: list[Reason]
    #: Every file the build read (kustomizations, resources, patches, generator inputs).
    files: list[str]

    @property
    def complete(self) -> bool:
        return not self.incomplete and not self.errors


@dataclass(slots=True)
class _Kustomization:
    directory: str
    path: str
    source: SourceFile
    node: N
    kind: str

    def field(self, name: str) -> N | None:
        found = self.node.v.get(name)
        return None if found is None or found.v is None else found


@dataclass(slots=True)
class _Acc:
    """An accumulator (api/internal/accumulator): resources and transformer config."""

    resources: list[Res] = field(default_factory=list)
    config: dict[str, tuple[FieldSpec, ...]] = field(
        default_factory=lambda: dict(fieldspecs.DEFAULTS)
    )
    vars: list[N] = field(default_factory=list)


def _nowhere(path: str) -> Span:
    return Span(path, 1, 1, 1, 2)


class _Build:
    def __init__(self, load: Loader) -> None:
        self.load_file = load
        self.incomplete: list[Reason] = []
        self.errors: list[Reason] = []
        self.files: list[str] = []
        self.stack: list[str] = []
        self.visits = 0
        self._cache: dict[str, SourceFile | None] = {}

    # -- files ----------------------------------------------------------------------------

    def load(self, path: str) -> SourceFile | None:
        if path not in self._cache:
            found = self.load_file(path)
            self._cache[path] = found
            if found is not None:
                self.files.append(path)
        return self._cache[path]

    def error(self, message: str, span: Span) -> None:
        self.errors.append(Reason(message, span))

    def unmodelled(self, message: str, span: Span) -> None:
        self.incomplete.append(Reason(message, span))

    def resolve(self, directory: str, entry: N, what: str) -> str | None:
        """A path of a kustomization, relative to the project root; None (reported) if it
        leaves the root or is absolute."""
        raw = text(entry.v)
        if not raw or isinstance(entry.v, dict | list):
            self.error(f"{what}: an entry must be a non-empty path", entry.span)
            return None
        if raw.startswith("/"):
            self.error(f"{what} {raw!r}: absolute paths are not followed", entry.span)
            return None
        joined = posixpath.normpath(posixpath.join(directory, raw))
        if joined == ".":
            return ""
        if joined == ".." or joined.startswith("../"):
            self.error(f"{what} {raw!r} is outside the project root", entry.span)
            return None
        return joined

    def local_file(self, directory: str, entry: N, what: str) -> str | None:
        """A file a kustomization reads itself (patches, generator inputs, configurations):
        under its own directory only (kustomize's LoadRestrictionsRootOnly)."""
        path = self.resolve(directory, entry, what)
        if path is None:
            return None
        if directory and not (path + "/").startswith(directory + "/"):
            self.error(
                f"{what} {text(entry.v)!r}: security; file is not in or below {directory!r} "
                "(kustomize's load restrictor)",
                entry.span,
            )
            return None
        return path

    def documents(self, path: str, span: Span) -> list[N] | None:
        source = self.load(path)
        if source is None:
            self.error(f"file {path!r} not found", span)
            return None
        for problem in source.problems:
            if problem.kind is ProblemKind.SYNTAX:
                self.error(f"{path}: {problem.message}", problem.span)
        return [from_tree(doc) for doc in source.documents if doc.data is not None]

    # -- kustomizations -------------------------------------------------------------------

    def kustomization(self, directory: str, span: Span | None) -> _Kustomization | None:
        found = []
        for name in KUSTOMIZATION_FILES:
            path = posixpath.join(directory, name) if directory else name
            source = self.load(path)
            if source is not None:
                found.append((path, source))
        where = span or _nowhere(posixpath.join(directory, KUSTOMIZATION_FILES[0]))
        if not found:
            self.error(
                f"{directory or '.'!r} is not a file, nor a directory with a kustomization", where
            )
            return None
        if len(found) > 1:
            self.error(f"found multiple kustomization files in {directory or '.'!r}", where)
            return None
        path, source = found[0]
        for problem in source.problems:
            if problem.kind is ProblemKind.SYNTAX:
                self.error(problem.message, problem.span)
                return None
        docs = [d for d in source.documents if d.data is not None]
        if not docs:
            self.error("kustomization is empty", _nowhere(path))
            return None
        node = from_tree(docs[0])
        if not isinstance(node.v, dict):
            self.error("a kustomization must be a mapping", node.span)
            return None
        kind = str_at(node, "kind") or "Kustomization"
        api_version = str_at(node, "apiVersion")
        kind_node = get(node, "kind") or node
        if kind not in ("Kustomization", "Component"):
            self.error("kind should be Kustomization or Component", kind_node.span)
            return None
        required = (
            "kustomize.config.k8s.io/v1alpha1"
            if kind == "Component"
            else "kustomize.config.k8s.io/v1beta1"
        )
        if api_version and api_version != required:
            self.error(f"apiVersion for {kind} should be {required}", kind_node.span)
            return None
        for key, value in node.v.items():
            if key not in _KNOWN_FIELDS:
                self.unmodelled(f"unknown kustomization field {key!r}", value.kspan or value.span)
            elif key in _STRING_FIELDS and isinstance(value.v, dict | list):
                self.error(f"{key} must be a string", value.span)
                return None
        return _Kustomization(directory, path, source, node, kind)

    def target(
        self, directory: str, component: bool, acc: _Acc | None, span: Span | None
    ) -> _Acc | None:
        """accumulateTarget of one directory; a component adds to ``acc``."""
        where = span or _nowhere(directory or ".")
        if directory in self.stack:
            chain = " -> ".join([*self.stack[self.stack.index(directory) :], directory])
            self.error(f"cycle in kustomization resources: {chain}", where)
            return None
        if len(self.stack) >= MAX_DEPTH:
            self.error(f"kustomizations nest deeper than {MAX_DEPTH} levels", where)
            return None
        self.visits += 1
        if self.visits > MAX_VISITS:
            if self.visits == MAX_VISITS + 1:
                self.error(f"more than {MAX_VISITS} kustomizations in one build", where)
            return None
        k = self.kustomization(directory, span)
        if k is None:
            return None
        if component and k.kind != "Component":
            self.error(f"expected kind 'Component' for path {directory!r}", where)
            return None
        if not component and k.kind == "Component":
            self.error(f"expected kind != 'Component' for path {directory!r}", where)
            return None
        self.stack.append(directory)
        try:
            acc = acc if component and acc is not None else _Acc()
            self.accumulate(k, acc)
        finally:
            self.stack.pop()
        return acc

    def accumulate(self, k: _Kustomization, acc: _Acc) -> None:
        entries = self.strings(k, "resources") + self.strings(k, "bases")
        for entry in entries:
            self.resource(k, acc, entry)
        for entry in self.strings(k, "configurations"):
            self.configuration(k, acc, entry)
        if k.field("crds") is not None:
            self.unmodelled(
                "crds (custom field specs from CRD schemas) are not applied", _key(k, "crds")
            )
        generators.run(self, k, acc)
        for entry in self.strings(k, "components"):
            if _REMOTE.search(text(entry.v)):
                self.unmodelled(f"remote component {text(entry.v)!r} is not fetched", entry.span)
                continue
            path = self.resolve(k.directory, entry, "component")
            if path is not None:
                self.target(path, True, acc, entry.span)
        self.transformers(k, acc)
        for name in ("transformers", "validators"):
            if k.field(name) is not None:
                self.unmodelled(f"{name} plugins are not run", _key(k, name))
        vars_node = k.field("vars")
        if vars_node is not None:
            if isinstance(vars_node.v, list):
                acc.vars.extend(vars_node.v)
            else:
                self.error("vars must be a list", vars_node.span)

    def strings(self, k: _Kustomization, name: str) -> list[N]:
        node = k.field(name)
        if node is None:
            return []
        if not isinstance(node.v, list):
            self.error(f"{name} must be a list", node.span)
            return []
        out = []
        for item in node.v:
            if item.v is None or isinstance(item.v, dict | list):
                self.error(f"{name}: every entry must be a string", item.span)
            else:
                out.append(item)
        return out

    def resource(self, k: _Kustomization, acc: _Acc, entry: N) -> None:
        raw = text(entry.v)
        if _REMOTE.search(raw):
            self.unmodelled(f"remote resource {raw!r} is not fetched", entry.span)
            return
        path = self.resolve(k.directory, entry, "resource")
        if path is None:
            return
        if self.load(path) is not None:
            if k.directory and not (path + "/").startswith(k.directory + "/"):
                self.error(
                    f"resource {raw!r}: security; file is not in or below {k.directory!r} "
                    "(kustomize's load restrictor)",
                    entry.span,
                )
                return
            docs = self.documents(path, entry.span)
            self.append_all(acc, self.objects(docs or [], path), entry.span)
            return
        child = self.target(path, False, None, entry.span)
        if child is None:
            return
        self.append_all(acc, child.resources, entry.span)
        for key, specs in child.config.items():
            acc.config[key] = fieldspecs.merge_specs(acc.config.get(key, ()), specs)
        acc.vars.extend(child.vars)

    def objects(self, docs: Iterable[N], origin: str) -> list[Res]:
        out: list[Res] = []
        for doc in docs:
            if not isinstance(doc.v, dict):
                self.error(f"{origin}: a resource must be a mapping", doc.span)
                continue
            if not doc.v:
                continue
            items = get(doc, "items")
            if str_at(doc, "kind").endswith("List") and items is not None:
                if isinstance(items.v, list):
                    out.extend(Res(i, origin) for i in items.v if isinstance(i.v, dict) and i.v)
                continue
            out.append(Res(doc, origin))
        return out

    def append_all(self, acc: _Acc, items: Iterable[Res], span: Span) -> None:
        """resWrangler.AppendAll: a second resource with the same current id is an error."""

        def key(r: Res) -> tuple[str, ...]:
            i = r.cur_id()
            return (i.group, i.version, i.kind, i.name, i.effective_namespace)

        seen = {key(r) for r in acc.resources}
        for res in items:
            k = key(res)
            if k in seen:
                self.error(
                    f"may not add resource with an already registered id: {res.cur_id()}", span
                )
                continue
            seen.add(k)
            # No copy needed: every resource's nodes were made from the loader's Trees by
            # from_tree for this build, so editing them never touches what the loader keeps.
            acc.resources.append(res)

    def configuration(self, k: _Kustomization, acc: _Acc, entry: N) -> None:
        path = self.local_file(k.directory, entry, "configuration")
        if path is None:
            return
        for doc in self.documents(path, entry.span) or []:
            if not isinstance(doc.v, dict):
                continue
            for section, specs in doc.v.items():
                if section in fieldspecs.DEFAULTS:
                    parsed = _parse_specs(specs)
                    if parsed is None:
                        self.error(f"configuration {section}: invalid field specs", specs.span)
                        continue
                    acc.config[section] = fieldspecs.merge_specs(acc.config[section], parsed)
                elif section in ("nameReference", "varReference"):
                    continue  # name references and vars are not rewritten (see _finish)
                else:
                    self.unmodelled(
                        f"transformer configuration {section!r} is not applied",
                        specs.kspan or specs.span,
                    )

    # -- transformers ---------------------------------------------------------------------

    def transformers(self, k: _Kustomization, acc: _Acc) -> None:
        def ran(kind: str) -> None:
            mark = Transformation(kind, k.path)
            for res in acc.resources:
                res.transformations.append(mark)

        def attempt(kind: str, action: Callable[[], None]) -> None:
            try:
                action()
            except Unmodelled as gap:
                self.unmodelled(gap.message, gap.span)
            except BuildError as exc:
                self.error(exc.message, exc.span)
            ran(kind)

        psm = self.strings(k, "patchesStrategicMerge")
        if psm:
            attempt("PatchStrategicMergeTransformer", lambda: self.strategic_patches(k, acc, psm))
        patches = k.field("patches")
        if patches is not None:
            if not isinstance(patches.v, list):
                self.error("patches must be a list", patches.span)
            else:
                for entry in patches.v:
                    attempt("PatchTransformer", partial(self.patch, k, acc, entry, False))
        namespace = k.field("namespace")
        if namespace is not None and text(namespace.v):
            attempt(
                "NamespaceTransformer",
                lambda: transforms.set_namespace(
                    acc.resources,
                    text(namespace.v),
                    namespace,
                    namespace.kspan or namespace.span,
                    acc.config["namespace"],
                ),
            )
        for key, suffix in (("namePrefix", False), ("nameSuffix", True)):
            affix = k.field(key)
            if affix is not None and text(affix.v):
                attempt(
                    "SuffixTransformer" if suffix else "PrefixTransformer",
                    partial(
                        transforms.add_affix, acc.resources, text(affix.v), suffix, acc.config[key]
                    ),
                )
        self.labels(k, acc, attempt)
        annotations = k.field("commonAnnotations")
        if annotations is not None:
            pairs = self.pairs(annotations, "commonAnnotations")
            if pairs:
                attempt(
                    "AnnotationsTransformer",
                    lambda: transforms.add_entries(
                        acc.resources, pairs, acc.config["commonAnnotations"], "annotations"
                    ),
                )
        legacy = k.field("patchesJson6902")
        if legacy is not None:
            if not isinstance(legacy.v, list):
                self.error("patchesJson6902 must be a list", legacy.span)
            else:
                for entry in legacy.v:
                    attempt("PatchJson6902Transformer", partial(self.patch, k, acc, entry, True))
        self.replicas_and_images(k, acc, attempt)
        replacements = k.field("replacements")
        if replacements is not None:
            attempt("ReplacementTransformer", lambda: self.replacements(k, acc, replacements))

    def pairs(self, node: N, name: str) -> dict[str, N]:
        if not isinstance(node.v, dict):
            self.error(f"{name} must be a mapping", node.span)
            return {}
        out = {}
        for key, value in node.v.items():
            if isinstance(value.v, dict | list):
                self.error(f"{name}: the value of {key!r} must be a string", value.span)
            else:
                out[key] = value
        return out

    def labels(
        self, k: _Kustomization, acc: _Acc, attempt: Callable[[str, Callable[[], None]], None]
    ) -> None:
        labels = k.field("labels")
        common = k.field("commonLabels")
        if labels is not None and not isinstance(labels.v, list):
            self.error("labels must be a list", labels.span)
            labels = None
        for entry in labels.v if labels is not None else []:
            pairs_node = get(entry, "pairs")
            if not isinstance(entry.v, dict):
                self.error("a labels entry must be a mapping", entry.span)
                continue
            pairs = self.pairs(pairs_node, "labels pairs") if pairs_node is not None else {}
            specs = acc.config["labels"]
            custom = get(entry, "fields")
            if custom is not None:
                parsed = _parse_specs(custom)
                if parsed is None:
                    self.error("labels fields: invalid field specs", custom.span)
                    parsed = ()
                specs = fieldspecs.merge_specs(parsed, specs)
            include_selectors = get(entry, "includeSelectors")
            if include_selectors is not None and include_selectors.v is True:
                specs = fieldspecs.merge_specs(specs, acc.config["commonLabels"])
            else:
                include_templates = get(entry, "includeTemplates")
                if include_templates is not None and include_templates.v is True:
                    specs = fieldspecs.merge_specs(specs, acc.config["templateLabels"])
                specs = fieldspecs.merge_specs(specs, (FieldSpec("metadata/labels", True),))
            if pairs:
                attempt(
                    "LabelTransformer",
                    partial(transforms.add_entries, acc.resources, pairs, specs, "labels"),
                )
            else:
                _mark(acc, "LabelTransformer", k.path)
        if common is not None or labels is not None:
            pairs = self.pairs(common, "commonLabels") if common is not None else {}
            attempt(
                "LabelTransformer",
                lambda: transforms.add_entries(
                    acc.resources, pairs, acc.config["commonLabels"], "labels"
                ),
            )

    def replicas_and_images(
        self, k: _Kustomization, acc: _Acc, attempt: Callable[[str, Callable[[], None]], None]
    ) -> None:
        replicas = k.field("replicas")
        if replicas is not None and isinstance(replicas.v, list):
            for entry in replicas.v:
                name, count = str_at(entry, "name"), get(entry, "count")
                if not name or count is None:
                    self.error("a replicas entry needs a name and a count", entry.span)
                    continue
                attempt(
                    "ReplicaCountTransformer",
                    partial(
                        transforms.set_replicas,
                        acc.resources,
                        name,
                        count,
                        acc.config["replicas"],
                        entry.span,
                    ),
                )
        elif replicas is not None:
            self.error("replicas must be a list", replicas.span)
        images = [n for key in ("images", "imageTags") if (n := k.field(key)) is not None]
        for node in images:
            if not isinstance(node.v, list):
                self.error("images must be a list", node.span)
                continue
            for entry in node.v:
                attempt(
                    "ImageTagTransformer",
                    partial(transforms.set_images, acc.resources, entry, acc.config["images"]),
                )

    def replacements(self, k: _Kustomization, acc: _Acc, node: N) -> None:
        if not isinstance(node.v, list):
            raise BuildError("replacements must be a list", node.span)
        for entry in node.v:
            path_node = get(entry, "path")
            if path_node is not None:
                path = self.local_file(k.directory, path_node, "replacement")
                for doc in self.documents(path, path_node.span) or [] if path else []:
                    for item in doc.v if isinstance(doc.v, list) else [doc]:
                        transforms.replace(acc.resources, item)
                continue
            transforms.replace(acc.resources, entry)

    # -- patches --------------------------------------------------------------------------

    def patch_documents(self, k: _Kustomization, entry: N, legacy: bool) -> list[N] | None:
        """The documents of a ``patches``/``patchesJson6902`` entry (``path`` or inline)."""
        if not isinstance(entry.v, dict):
            raise BuildError("a patch entry must be a mapping", entry.span)
        path_node = get(entry, "path")
        inline = get(entry, "jsonOp" if legacy and get(entry, "jsonOp") else "patch")
        if path_node is not None and inline is not None:
            raise BuildError("patch and path can't be set at the same time", entry.span)
        if path_node is not None:
            path = self.local_file(k.directory, path_node, "patch")
            return self.documents(path, path_node.span) if path is not None else None
        if inline is None or not text(inline.v).strip():
            raise BuildError("must specify one of patch and path", entry.span)
        return inline_documents(k.source, inline)

    def patch(self, k: _Kustomization, acc: _Acc, entry: N, legacy: bool) -> None:
        docs = self.patch_documents(k, entry, legacy)
        if docs is None:
            return
        docs = [d for d in docs if d.v is not None]
        if not docs:
            raise BuildError("the patch is empty", entry.span)
        target_node = get(entry, "target")
        target = transforms.Selector.parse(target_node) if target_node is not None else None
        is_json = isinstance(docs[0].v, list)
        if legacy or is_json:
            if not is_json:
                raise BuildError("a JSON 6902 patch must be a list of operations", docs[0].span)
            if target is None:
                raise BuildError("must specify a target for a JSON patch", entry.span)
            if legacy and not str_at(target_node, "name"):
                raise BuildError("must specify the target name", entry.span)
            for res in target.select(acc.resources):
                if not legacy:
                    res.store_previous_id()
                self.json_patch(res, docs[0])
            return
        options = get(entry, "options")
        allow_name = str_at(options, "allowNameChange") == "true"
        allow_kind = str_at(options, "allowKindChange") == "true"
        if target is not None:
            if len(docs) > 1:
                raise BuildError(
                    "multiple strategic-merge patches in one `patches` entry may not set a target",
                    entry.span,
                )
            for res in target.select(list(acc.resources)):
                self.apply_strategic(acc, res, docs[0], allow_name, allow_kind, True)
            return
        for doc in docs:
            self.strategic_by_id(acc, doc, allow_name, allow_kind)

    @staticmethod
    def json_patch(res: Res, operations: N) -> None:
        """patchjson6902.Filter: the patch sees the object as kustomize holds it, and once an
        id has been stored (namespace, prefix, suffix, an earlier JSON patch) that object has
        ``metadata.annotations`` (the previous-id build annotations), so ``add`` of
        ``/metadata/annotations/x`` works on an object whose file has no annotations."""
        meta = get(res.node, "metadata")
        made: N | None = None
        if res.prev and meta is not None and isinstance(meta.v, dict):
            found = meta.v.get("annotations")
            if found is None or found.v is None:
                made = N({}, meta.span, meta.kspan)
                meta.v["annotations"] = made
        res.node = json_patch(res.node, operations)
        meta = get(res.node, "metadata")
        if made is None or made.v or meta is None or not isinstance(meta.v, dict):
            return
        if meta.v.get("annotations") is made:
            del meta.v["annotations"]

    def strategic_patches(self, k: _Kustomization, acc: _Acc, entries: list[N]) -> None:
        for entry in entries:
            docs = _inline_if_yaml(k.source, entry)
            if docs is None:
                path = self.local_file(k.directory, entry, "patchesStrategicMerge")
                docs = self.documents(path, entry.span) if path is not None else None
            for doc in docs or []:
                if doc.v is not None:
                    self.strategic_by_id(acc, doc, False, False)

    def strategic_by_id(self, acc: _Acc, doc: N, allow_name: bool, allow_kind: bool) -> None:
        if not isinstance(doc.v, dict):
            raise BuildError("a strategic merge patch must be a mapping", doc.span)
        want = Res(doc, None).cur_id()
        matches = [r for r in acc.resources if any(want.equals(i) for i in r.all_ids())]
        if len(matches) != 1:
            what = "multiple matches" if matches else "no resource matches"
            raise BuildError(f"{what} for strategic merge patch {want}", doc.span)
        self.apply_strategic(acc, matches[0], doc, allow_name, allow_kind, False)

    def apply_strategic(
        self, acc: _Acc, res: Res, doc: N, allow_name: bool, allow_kind: bool, retarget: bool
    ) -> None:
        """resource.ApplySmPatch: merge, then restore kind, name (unless allowed to change) and
        namespace (always)."""
        patch = clone(doc)
        if retarget and isinstance(patch.v, dict):  # reswrangler.ApplySmPatch: target's GVK
            api = get(res.node, "apiVersion")
            if api is not None:
                patch.v["apiVersion"] = api
        meta = get(res.node, "metadata")
        kept = {
            "name": get(meta, "name"),
            "namespace": get(meta, "namespace"),
        }
        kind = get(res.node, "kind")
        if allow_name or allow_kind:
            res.store_previous_id()
        merged = strategic_merge(
            res.node, patch, str_at(res.node, "apiVersion"), str_at(res.node, "kind")
        )
        if merged is None or not merged.v:
            acc.resources.remove(res)
            return
        res.node = merged
        if not allow_kind and kind is not None:
            merged.v["kind"] = kind
        new_meta = get(merged, "metadata")
        if new_meta is not None and isinstance(new_meta.v, dict):
            for key, old in kept.items():
                if key == "name" and allow_name:
                    continue
                if old is None:
                    new_meta.v.pop(key, None)
                else:
                    new_meta.v[key] = old


def _key(k: _Kustomization, name: str) -> Span:
    node: N = k.node.v[name]
    return node.kspan or node.span


def _mark(acc: _Acc, kind: str, path: str) -> None:
    mark = Transformation(kind, path)
    for res in acc.resources:
        res.transformations.append(mark)


def _parse_specs(node: N) -> tuple[FieldSpec, ...] | None:
    if not isinstance(node.v, list):
        return None
    out = []
    for item in node.v:
        if not isinstance(item.v, dict) or not str_at(item, "path"):
            return None
        create = get(item, "create")
        out.append(
            FieldSpec(
                str_at(item, "path"),
                create is not None and create.v is True,
                str_at(item, "kind"),
                str_at(item, "group"),
                str_at(item, "version"),
            )
        )
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Inline patches: YAML inside a string of the kustomization, placed on the lines it sits on.

_HEADER: Final = re.compile(r"[|>]([1-9])?[-+]?([1-9])?")


def inline_documents(source: SourceFile, node: N) -> list[N]:
    """The documents of an inline patch string, their spans in the kustomization's lines.

    In a literal block (``|``, ``|-``, ``|+``) each line of the string is one line of the file,
    indented by the block's indentation, so spans map exactly. Any other style (quoted, plain,
    folded) maps every span to the string's own span.
    """
    body = text(node.v)
    path = node.span.path
    parsed = parse(path, body.encode("utf-8", "surrogatepass"), Limits())
    if parsed.problem is not None:
        raise BuildError(f"inline patch: {parsed.problem.message}", node.span)
    shift = _literal_shift(source, node, body)
    docs = []
    for doc in parsed.documents:
        tree = parse_to_tree(path, doc, ALL, Limits().max_depth, parsed.positions)
        converted = from_tree(tree)
        _relocate(converted, node, shift)
        docs.append(converted)
    return docs


def _literal_shift(source: SourceFile, node: N, body: str) -> tuple[int, int] | None:
    """(line offset, column offset) of a literal block scalar's content, if it is one."""
    if source.text is None:
        return None
    lines = source.text.splitlines()
    header_line = node.span.line
    if not 1 <= header_line <= len(lines):
        return None
    header = lines[header_line - 1][node.span.col - 1 :]
    m = _HEADER.match(header)
    if m is None or not header.startswith("|") or m.group(1) or m.group(2):
        return None
    body_lines = body.split("\n")
    for i, content in enumerate(body_lines):
        if content.strip():
            file_index = header_line + i  # 0-based index of the file line
            if file_index >= len(lines):
                return None
            line = lines[file_index]
            indent = len(line) - len(line.lstrip(" "))
            if line[indent:] != content.lstrip(" ") or len(line) - len(content) != indent:
                return None
            return header_line, indent
    return None


def _relocate(node: N, anchor: N, shift: tuple[int, int] | None) -> None:
    def move(span: Span | None) -> Span | None:
        if span is None:
            return None
        if shift is None:
            return anchor.span
        lines, cols = shift
        return Span(
            span.path,
            span.line + lines,
            span.col + cols,
            span.end_line + lines,
            span.end_col + cols,
        )

    stack = [node]
    while stack:
        current = stack.pop()
        current.span = move(current.span) or anchor.span
        current.kspan = move(current.kspan)
        v = current.v
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def _inline_if_yaml(source: SourceFile, entry: N) -> list[N] | None:
    """patchesStrategicMerge's legacy rule: an entry that parses as objects is an inline
    patch, anything else a file path."""
    raw = text(entry.v)
    if "\n" not in raw and ":" not in raw:
        return None
    try:
        docs = inline_documents(source, entry)
    except BuildError:
        return None
    return docs if docs and all(isinstance(d.v, dict) for d in docs) else None


# ---------------------------------------------------------------------------------------------
# Public API


def render(load: Loader, kustomization: str) -> Unit:
    """Build the kustomization in directory ``kustomization`` (relative to the project root)."""
    directory = posixpath.normpath(kustomization.strip("/")) if kustomization.strip("/") else ""
    directory = "" if directory == "." else directory
    build = _Build(load)
    objects: list[Rendered] = []
    if directory == ".." or directory.startswith("../"):
        build.error("the kustomization is outside the project root", _nowhere(kustomization))
    else:
        acc = build.target(directory, False, None, None)
        if acc is not None:
            objects = _finish(build, acc, directory)
    return Unit(directory, objects, build.incomplete, build.errors, build.files)


def _finish(build: _Build, acc: _Acc, directory: str) -> list[Rendered]:
    """makeCustomizedResMap's last steps: hashes, (name references, vars), local configs."""
    unknown_hash = generators.add_hashes(acc.resources)
    if acc.vars:
        first = acc.vars[0]
        build.unmodelled(
            "vars are not substituted ($(VAR) references in container commands, args, env and "
            "the other varReference fields keep their text)",
            first.span,
        )
    out = []
    for res in acc.resources:
        annotations = get(res.node, "metadata", "annotations")
        if str_at(annotations, "config.kubernetes.io/local-config") == "true":
            continue
        path = res.origin or (res.generated_by.configured_in if res.generated_by else directory)
        out.append(
            Rendered(
                to_tree(res.node, path),
                res.origin,
                res.generated_by,
                list(res.transformations),
                res in unknown_hash,
            )
        )
    return out


def top_level_kustomizations(load: Loader, paths: Iterable[str]) -> list[str]:
    """The kustomization directories among ``paths`` (files of the tree, relative to the root)
    that no other kustomization includes through resources, bases or components, and that are
    not Components: each is a kustomize deploy unit."""
    dirs = sorted(
        {posixpath.dirname(p) for p in paths if posixpath.basename(p) in KUSTOMIZATION_FILES}
    )
    known = set(dirs)
    included: set[str] = set()
    components: set[str] = set()
    for directory in dirs:
        build = _Build(load)
        k = build.kustomization(directory, None)
        if k is None:
            continue
        if k.kind == "Component":
            components.add(directory)
        for name in ("resources", "bases", "components"):
            for entry in build.strings(k, name):
                if _REMOTE.search(text(entry.v)):
                    continue
                target = build.resolve(directory, entry, name)
                if target is not None and target != directory and target in known:
                    included.add(target)
    return [d for d in dirs if d not in included and d not in components]
