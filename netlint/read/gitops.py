"""Deploy-unit evidence from GitOps definitions committed in the repo (issue 13, item 1).

An Argo CD ``Application`` or ``ApplicationSet`` or a Flux ``Kustomization`` names folders of a
repository that a controller applies as one unit. :func:`scan` reads one such definition and
returns the folders of *this* project it applies (:class:`AppSource`), and a :class:`Skipped`
record for each path it cannot place, with the reason and the line it was written on. Nothing is
fetched or executed: a path is accepted only when the folder exists in the project (a definition
may well point at another repository, which netlint cannot see).

What each controller does, as read in its source and documentation:

- **Argo CD Application** (``argoproj.io/v1alpha1``). ``spec.sources`` replaces ``spec.source``
  when it is non-empty ("When you specify the sources field, Argo CD will ignore the source
  (singular) field", docs user-guide/multiple_sources; ``ApplicationSpec.HasMultipleSources`` in
  pkg/apis/application/v1alpha1/types.go, which also gives ``sourceHydrator`` precedence). The
  sources of one Application are rendered separately and applied together, so every AppSource
  of one definition shares its ``name``. A source with ``ref`` and neither ``path`` nor
  ``chart`` only lends files to the others and renders nothing. ``chart`` is a Helm chart from a
  chart repository. ``util/io/path.Path`` refuses an absolute path ("app path is absolute") and
  one that ``filepath.Join`` takes out of the checkout ("app path outside root"); ``a/../b`` is
  ``b`` (a lexical join). A directory app loads ``.yaml``, ``.yml`` and ``.json`` files of the
  folder only, unless ``directory.recurse`` (default false); ``directory.include`` and
  ``exclude`` are globs (docs user-guide/directory). ``destination.namespace`` is given to
  objects that have none; ``kustomize.namespace`` is kustomize's namespace transformer, which
  sets it on every namespaced object.
- **Argo CD ApplicationSet**. Strings of ``spec.template`` are rendered per parameter set
  (``applicationset/utils.Render.Replace``): by default with fasttemplate, where ``{{ x }}`` is
  looked up (trimmed) in a flat map and an unknown name is left as written; with
  ``goTemplate: true`` by Go's text/template. The git directory generator
  (``applicationset/generators/git.go``, ``filterApps``) matches every folder of the repository
  against each ``directories[].path`` with Go's ``path.Match`` (``*`` and ``?`` never match
  ``/``; ``**`` is just two stars; a malformed pattern is logged and skipped), and a folder
  matching any ``exclude: true`` entry is dropped whatever else matches. The folder list
  (reposerver ``GetGitDirectories``) skips every folder whose name starts with ``.`` and the
  root itself. Parameters: ``path``, ``path.basename``, ``path.basenameNormalized``,
  ``path[N]`` (flat), or ``.path.path``, ``.path.basename``, ``.path.basenameNormalized``,
  ``.path.segments`` (Go templates), under ``pathParamPrefix`` when it is set; ``values`` are
  rendered with them. The list generator's ``elements`` are literal parameter sets; a matrix is
  the product of its two children. Other generators (clusters, SCM providers, pull requests,
  cluster decision resources, plugins, git files, merge) draw their values from the cluster or
  from services: a path that needs them cannot be expanded offline.
- **Flux Kustomization** (``kustomize.toolkit.fluxcd.io`` v1, v1beta1, v1beta2). ``spec.path``
  is relative to the source's root (kustomize-controller joins it with ``securejoin``; netlint
  refuses an absolute or escaping path rather than guess). When the folder holds no
  kustomization file, fluxcd/pkg ``kustomize/kustomize_generator.go`` (``generateKustomization``)
  writes one listing every ``.yaml``/``.yml`` file below it, recursively, and every subfolder
  that holds a kustomization file as a resource (not descended into): the unit is recursive.
  ``WriteFile`` then sets the kustomization's ``namespace`` from ``spec.targetNamespace`` (an
  override of every namespaced object's namespace) and appends ``spec.patches``,
  ``patchesStrategicMerge``, ``patchesJson6902`` and ``images``. ``postBuild.substitute`` and
  ``substituteFrom`` replace ``${var}`` in the built manifests, the latter with values read
  from the cluster. A source other than a GitRepository (an OCIRepository, Bucket or
  ExternalArtifact, as in fluxcd/flux2-kustomize-helm-example) is often one folder pushed on its
  own, so its root need not be the repository's: such a unit is marked incomplete.

Left to the caller, which sees the files: a folder holding a kustomization file is built by
kustomize (Argo CD and Flux alike), whatever ``recurse`` says; a directory app's ``.jsonnet``
files are evaluated by Argo CD even without ``directory.jsonnet``.

A definition the API server would refuse (a wrong type anywhere netlint reads) is skipped as a
whole, since no controller would act on it. Strings from the repo are kept as written (cut to
a bounded length) in :class:`Skipped`; escaping them is the output layer's job.
"""

from __future__ import annotations

import itertools
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from netlint.core.source import Span
from netlint.read.parse import PathKey, Tree

APPLICATION: Final = "Application"
APPLICATION_SET: Final = "ApplicationSet"
FLUX_KUSTOMIZATION: Final = "Kustomization"

_ARGO_GROUP: Final = "argoproj.io"
_FLUX_GROUP: Final = "kustomize.toolkit.fluxcd.io"
_FLUX_VERSIONS: Final = frozenset(("v1", "v1beta1", "v1beta2"))

#: A longer path is no folder anyone wrote (Linux's PATH_MAX is 4,096 bytes).
MAX_PATH: Final = 1024
#: Parameter sets one ApplicationSet may expand to (a matrix of two lists multiplies them).
MAX_PARAM_SETS: Final = 10_000
#: How deep matrix generators may nest (Argo CD allows two levels).
_MAX_NESTING: Final = 3
#: How much of a string from the repo a Skipped record quotes.
_QUOTE: Final = 120

#: ``spec.source.kustomize`` keys that leave what netlint models unchanged: image names and
#: tags, the kustomize binary, and values passed to Helm charts the build would inflate
#: (those make the unit incomplete on their own, in the build itself).
_HARMLESS_KUSTOMIZE: Final = frozenset(
    ("version", "images", "kubeVersion", "apiVersions", "commonAnnotationsEnvsubst")
)
#: Every Argo CD generator that is not expanded offline, and what it reads its values from.
_UNKNOWN_GENERATORS: Final = {
    "clusters": "the clusters registered in Argo CD",
    "scmProvider": "an SCM provider's API",
    "pullRequest": "a pull-request API",
    "clusterDecisionResource": "a cluster resource",
    "plugin": "a generator plugin",
    "merge": "merged generators (not expanded offline)",
}
_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f]")
_META: Final = frozenset("*?[\\")


@dataclass(frozen=True, slots=True)
class AppSource:
    """A folder of this repo that a GitOps definition applies as one unit.

    Sources with the same ``kind`` and ``name`` belong to one definition (an Application with
    several ``sources``) and are applied together.
    """

    #: "Application", "ApplicationSet" or "Kustomization" (Flux).
    kind: str
    #: The definition's metadata.name; for an ApplicationSet, ``name[path]``.
    name: str
    #: Folder relative to the project root, posix, normalised, never ``..``; "" is the root.
    path: str
    #: Whether files in subfolders are applied too.
    recurse: bool
    #: Namespace given to objects without one (Argo CD destination.namespace, Flux
    #: targetNamespace), or None.
    namespace: str | None
    #: Whether ``namespace`` replaces the namespace of every namespaced object, as kustomize's
    #: namespace transformer does (Flux targetNamespace, Argo CD kustomize.namespace).
    override_namespace: bool
    #: Argo CD directory.include glob, when given.
    include: str | None
    #: Argo CD directory.exclude glob, when given.
    exclude: str | None
    #: The path value in the definition file (where the unit is declared).
    span: Span
    #: Why netlint cannot render the unit offline ("; "-separated), None when it can.
    incomplete: str | None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A path of a definition that yields no unit here, and why."""

    kind: str
    #: The definition's metadata.name ("" when it has none).
    name: str
    #: The path as written (cut to a bounded length), or None when there is none.
    path: str | None
    #: Reads after the path: "is not a folder of this project (...)".
    reason: str
    span: Span

    def message(self) -> str:
        """``ApplicationSet x: path '{{...}}' from a list generator cannot be expanded offline``."""
        who = f"{self.kind} {self.name}" if self.name else self.kind
        if self.path is None:
            return f"{who}: {self.reason}"
        return f"{who}: path '{self.path}' {self.reason}"


@dataclass(slots=True)
class Scan:
    """What one definition says: the units it applies here, and the paths it does not."""

    units: list[AppSource] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def candidate(kind: str, api_version: str) -> bool:
    """Whether a document of this kind and apiVersion is a GitOps definition :func:`scan` reads
    (a kustomize ``Kustomization``, ``kustomize.config.k8s.io``, is not)."""
    group, _, version = api_version.partition("/")
    if kind in (APPLICATION, APPLICATION_SET):
        return group == _ARGO_GROUP and version == "v1alpha1"
    if kind == FLUX_KUSTOMIZATION:
        return group == _FLUX_GROUP and version in _FLUX_VERSIONS
    return False


def app_sources(
    tree: Tree,
    directories: Callable[[str], bool],
    list_dirs: Callable[[str], Sequence[str]],
    files: Callable[[str], bool] | None = None,
) -> list[AppSource]:
    """The units of :func:`scan`, without the skipped paths."""
    return scan(tree, directories, list_dirs, files).units


def scan(
    tree: Tree,
    directories: Callable[[str], bool],
    list_dirs: Callable[[str], Sequence[str]],
    files: Callable[[str], bool] | None = None,
) -> Scan:
    """Read one definition (a document :func:`candidate` accepts).

    ``directories(path)`` says whether a folder exists in the project ("" is the root);
    ``list_dirs(base)`` lists the project's folders at or under ``base`` ("" for all), relative
    posix paths, for ApplicationSet git generators (extra folders are filtered out here);
    ``files(path)``, when given, says whether a file exists, to tell a Helm chart folder.
    """
    reader = _Reader(tree, directories, list_dirs, files)
    data = tree.data
    kind = data.get("kind") if isinstance(data, dict) else None
    if not isinstance(kind, str):
        return reader.out
    reader.kind = kind
    try:
        reader.name = _name(tree)
        if kind == APPLICATION:
            reader.application()
        elif kind == APPLICATION_SET:
            reader.application_set()
        elif kind == FLUX_KUSTOMIZATION:
            reader.flux()
    except _Refused as refused:
        # The API server refuses the object: no controller acts on any of it.
        reader.out = Scan(
            skipped=[
                Skipped(kind, reader.name, None, refused.reason, tree.head_span(refused.where))
            ]
        )
    return reader.out


# ---------------------------------------------------------------------------------------------
# Typed access: a wrong type is the API server's refusal of the whole object.


class _Refused(Exception):
    def __init__(self, reason: str, where: PathKey) -> None:
        super().__init__(reason)
        self.reason = reason
        self.where = where


def _dotted(where: PathKey) -> str:
    out = ""
    for part in where:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _typed(data: Any, where: PathKey, key: str, types: type | tuple[type, ...], what: str) -> Any:
    """``data[key]`` when present and not null, checked against ``types``; None when absent."""
    value = data.get(key) if isinstance(data, dict) else None
    if value is None:
        return None
    # YAML booleans are ints to Python; the API server tells them apart.
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in _tuple(types)):
        raise _Refused(f"{_dotted((*where, key))} is not {what}", (*where, key))
    return value


def _tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _str(data: Any, where: PathKey, key: str) -> str | None:
    value: str | None = _typed(data, where, key, str, "a string")
    return value


def _map(data: Any, where: PathKey, key: str) -> dict[str, Any] | None:
    value: dict[str, Any] | None = _typed(data, where, key, dict, "a mapping")
    return value


def _list(data: Any, where: PathKey, key: str) -> list[Any] | None:
    value: list[Any] | None = _typed(data, where, key, list, "a list")
    return value


def _bool(data: Any, where: PathKey, key: str) -> bool | None:
    value: bool | None = _typed(data, where, key, bool, "a boolean")
    return value


def _name(tree: Tree) -> str:
    name = _str(_map(tree.data, (), "metadata"), ("metadata",), "name")
    if not name:
        raise _Refused("has no metadata.name", ("metadata",))
    return _quote(name)


def _quote(text: str) -> str:
    return text if len(text) <= _QUOTE else text[: _QUOTE - 1] + "\u2026"


def clean_path(raw: str) -> tuple[str | None, str]:
    """A path as written, normalised relative to the root ("" for the root itself), or None and
    why not: too long, a control character, absolute, or leaving the root."""
    if len(raw) > MAX_PATH:
        return None, f"is longer than {MAX_PATH} characters"
    if _CONTROL.search(raw):
        return None, "contains a control character"
    if raw.startswith("/"):
        return None, "is absolute"
    norm = posixpath.normpath(raw) if raw else "."
    if norm == ".." or norm.startswith("../"):
        return None, "leaves the project root"
    return ("" if norm == "." else norm), ""


# ---------------------------------------------------------------------------------------------
# Templates of an ApplicationSet


class CannotExpand(Exception):
    """A template string that netlint cannot render offline; the message says why."""


@dataclass(frozen=True, slots=True)
class Params:
    """One parameter set of an ApplicationSet's generators."""

    values: Mapping[str, Any]
    #: Generators the values could not be read from (their names), when there are any: the
    #: set may lack keys Argo CD would have.
    unknown: tuple[str, ...] = ()
    #: Which generators gave the values ("git", "list", "matrix(git, list)").
    origin: str = ""


_GO_ACTION: Final = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_FIELD_CHAIN: Final = re.compile(r"(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_INDEX_ARG: Final = re.compile(r'"((?:[^"\\]|\\.)*)"|(\d+)|((?:\.[A-Za-z_][A-Za-z0-9_]*)+)')


def _missing(params: Params, name: str) -> CannotExpand:
    if params.unknown:
        origin = " and ".join(params.unknown)
        return CannotExpand(f"from {origin} cannot be expanded offline")
    what = f"the {params.origin} generator defines" if params.origin else "the generators define"
    return CannotExpand(f"cannot be expanded offline: {what} no '{_quote(name)}'")


def render_flat(text: str, params: Params) -> str:
    """fasttemplate as Argo CD runs it: ``{{ name }}`` from a flat map of strings."""
    out: list[str] = []
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            break
        end = text.find("}}", start + 2)
        if end < 0:
            break  # no closing tag: fasttemplate writes the rest as it is
        out.append(text[pos:start])
        name = text[start + 2 : end].strip()
        value = params.values.get(name)
        if not isinstance(value, str):
            # Argo CD writes the tag back unreplaced; no folder is named like that.
            raise _missing(params, name)
        out.append(value)
        pos = end + 2
    out.append(text[pos:])
    return "".join(out)


def render_go(text: str, params: Params) -> str:
    """The part of Go's text/template that paths use: ``{{ .a.b }}`` and ``{{ index .a.b 0 }}``,
    with ``{{-``/``-}}`` trimming. Anything else (functions, pipelines) is not expanded."""
    out: list[str] = []
    pos = 0
    for match in _GO_ACTION.finditer(text):
        before = text[pos : match.start()]
        out.append(before.rstrip() if match.group(1) else before)
        out.append(_go_value(match.group(2).strip(), params))
        pos = match.end()
        if match.group(3):
            rest = text[pos:]
            pos += len(rest) - len(rest.lstrip())
    tail = text[pos:]
    if "{{" in tail:
        raise CannotExpand("cannot be expanded offline: an unclosed template action")
    out.append(tail)
    return "".join(out)


def _go_value(expr: str, params: Params) -> str:
    if _FIELD_CHAIN.fullmatch(expr):
        value = _lookup(params, expr)
    elif expr.startswith("index ") or expr.startswith("index\t"):
        args = expr[6:].strip()
        found = list(_INDEX_ARG.finditer(args))
        if not found or "".join(m.group(0) for m in found) != re.sub(r"\s+", "", args):
            raise _unsupported(expr)
        if found[0].group(3) is None:
            raise _unsupported(expr)
        value = _lookup(params, found[0].group(3))
        for arg in found[1:]:
            if arg.group(2) is not None and isinstance(value, list):
                index = int(arg.group(2))
                if index >= len(value):
                    raise CannotExpand(f"cannot be expanded offline: {expr} is out of range")
                value = value[index]
            elif arg.group(1) is not None and isinstance(value, dict):
                value = value.get(arg.group(1))
            else:
                raise _unsupported(expr)
    else:
        raise _unsupported(expr)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int)):
        return str(value)
    raise _missing(params, expr)


def _lookup(params: Params, chain: str) -> Any:
    value: Any = params.values
    for part in chain[1:].split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise _missing(params, chain)
        value = value[part]
    return value


def _unsupported(expr: str) -> CannotExpand:
    return CannotExpand(
        f"cannot be expanded offline: the template action '{{{{{_quote(expr)}}}}}' "
        "is not one netlint evaluates"
    )


def sanitize_name(name: str) -> str:
    """Argo CD's ``utils.SanitizeName`` (``basenameNormalized``)."""
    name = re.sub("[^-a-z0-9.]", "-", name.lower())[:253]
    return name.strip("-.")


def go_path_match(pattern: str, name: str) -> bool:
    """Go's ``path.Match``; raises ValueError on a malformed pattern (Go's ErrBadPattern)."""
    return _compile_go_pattern(pattern).fullmatch(name) is not None


@lru_cache(maxsize=512)
def _compile_go_pattern(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\":
            if i + 1 >= n:
                raise ValueError("trailing backslash")
            i += 1
            out.append(re.escape(pattern[i]))
        elif char == "[":
            i, cls = _go_class(pattern, i + 1)
            out.append(cls)
            continue
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _go_class(pattern: str, i: int) -> tuple[int, str]:
    """One ``[...]`` of a Go pattern from just after its ``[``: the index after its ``]`` and
    the equivalent regex class. Like Go, a class may match ``/``."""
    n = len(pattern)
    negate = i < n and pattern[i] == "^"
    if negate:
        i += 1
    ranges: list[str] = []
    while True:
        if i >= n:
            raise ValueError("unclosed character class")
        if pattern[i] == "]" and ranges:
            return i + 1, "[" + ("^" if negate else "") + "".join(ranges) + "]"
        lo, i = _go_class_char(pattern, i)
        hi = lo
        if i < n and pattern[i] == "-":
            hi, i = _go_class_char(pattern, i + 1)
            if hi < lo:
                raise ValueError("reversed range")
        ranges.append(re.escape(lo) + ("-" + re.escape(hi) if hi != lo else ""))


def _go_class_char(pattern: str, i: int) -> tuple[str, int]:
    # Go's getEsc: '-' and ']' must be escaped inside a class; a class cannot end mid-range.
    if i >= len(pattern) or pattern[i] in "-]":
        raise ValueError("bad character class")
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise ValueError("trailing backslash")
    return pattern[i], i + 1


# ---------------------------------------------------------------------------------------------
# The reader


@dataclass(frozen=True, slots=True)
class _Expansion:
    """How strings of an ApplicationSet template become those of one generated Application."""

    params: Params | None
    go: bool

    def __call__(self, text: str) -> str:
        if self.params is None or "{{" not in text:
            return text
        # Rendered once per parameter set: a huge template would cost that many times over.
        if len(text) > MAX_PATH:
            raise CannotExpand(f"is a template longer than {MAX_PATH} characters; not expanded")
        return render_go(text, self.params) if self.go else render_flat(text, self.params)


_LITERAL: Final = _Expansion(None, False)


class _Reader:
    def __init__(
        self,
        tree: Tree,
        directories: Callable[[str], bool],
        list_dirs: Callable[[str], Sequence[str]],
        files: Callable[[str], bool] | None,
    ) -> None:
        self.tree = tree
        self.directories = directories
        self.list_dirs = list_dirs
        self.files = files
        self.kind = ""
        self.name = ""
        self.out = Scan()
        self._dirs: dict[str, list[str]] = {}
        # Every parameter set of an ApplicationSet may give the same unit or the same refusal.
        self._seen_units: set[AppSource] = set()
        self._seen_skips: set[Skipped] = set()

    def skip(self, path: str | None, reason: str, where: PathKey) -> None:
        """Record a path (or, with None, a part of the definition) that yields no unit: the
        span is the path's value, or the line that names the part."""
        span = self.tree.span(where).first_line if path is not None else self.tree.head_span(where)
        record = Skipped(self.kind, self.name, None if path is None else _quote(path), reason, span)
        if record not in self._seen_skips:
            self._seen_skips.add(record)
            self.out.skipped.append(record)

    def add(self, unit: AppSource) -> None:
        if unit not in self._seen_units:
            self._seen_units.add(unit)
            self.out.units.append(unit)

    # -- Argo CD ------------------------------------------------------------------------------

    def application(self) -> None:
        spec = _map(self.tree.data, (), "spec")
        if spec is None:
            raise _Refused("has no spec", ())
        for where, source in self._sources(spec, ("spec",)):
            unit = self._argo_source(source, where, spec, ("spec",), _LITERAL, self.name)
            if unit is not None:
                self.add(unit)

    def _sources(
        self, spec: dict[str, Any], where: PathKey
    ) -> list[tuple[PathKey, dict[str, Any]]]:
        """The sources Argo CD renders, each with where it is."""
        if _map(spec, where, "sourceHydrator") is not None:
            self.skip(
                None,
                "uses sourceHydrator: Argo CD applies manifests hydrated to another branch",
                (*where, "sourceHydrator"),
            )
            return []
        sources = _list(spec, where, "sources")
        if sources:
            out = []
            for i, item in enumerate(sources):
                if not isinstance(item, dict):
                    at = (*where, "sources", i)
                    raise _Refused(f"{_dotted(at)} is not a mapping", at)
                out.append(((*where, "sources", i), item))
            return out
        source = _map(spec, where, "source")
        if source is None:
            self.skip(None, "has no source", where)
            return []
        return [((*where, "source"), source)]

    def _argo_source(
        self,
        source: dict[str, Any],
        where: PathKey,
        spec: dict[str, Any],
        spec_at: PathKey,
        expand: _Expansion,
        name: str,
    ) -> AppSource | None:
        raw = _str(source, where, "path")
        chart = _str(source, where, "chart")
        ref = _str(source, where, "ref")
        path_at = (*where, "path")
        if chart is not None:
            # A Helm chart from a chart repository (or an OCI registry): no folder here.
            self.skip(
                None,
                f"has a source that is the Helm chart '{_quote(chart)}' of a chart repository",
                (*where, "chart"),
            )
            return None
        if raw is None:
            if ref is None:
                self.skip(
                    None,
                    "has a source without a path: Argo CD applies the root of its repository, "
                    "which netlint cannot tell is this one",
                    where,
                )
            # A ref-only source lends its files to the other sources and renders nothing.
            return None
        try:
            written = expand(raw)
        except CannotExpand as exc:
            self.skip(raw, str(exc), path_at)
            return None
        path, why = clean_path(written)
        if path is None:
            self.skip(written, why, path_at)
            return None
        if not self.directories(path):
            if "{{" in written and expand.params is None:
                # An Application is not templated: this one is a chart's template (app of apps).
                why = "is a template (the Application is rendered by something else, a chart?)"
            else:
                why = "is not a folder of this project (a path in another repository?)"
            self.skip(written, why, path_at)
            return None
        incomplete: list[str] = []
        directory = _map(source, where, "directory")
        dir_at = (*where, "directory")
        recurse = _bool(directory, dir_at, "recurse") or False
        include = self._expand_optional(
            _str(directory, dir_at, "include"), expand, incomplete, "directory.include"
        )
        exclude = self._expand_optional(
            _str(directory, dir_at, "exclude"), expand, incomplete, "directory.exclude"
        )
        if _map(directory, dir_at, "jsonnet"):
            incomplete.append("directory.jsonnet: Jsonnet is not rendered offline")
        if _map(source, where, "helm") is not None:
            incomplete.append("helm: the folder is rendered by Helm")
        if _map(source, where, "plugin") is not None:
            incomplete.append("plugin: a config management plugin renders the folder")
        if self.files is not None and self.files(posixpath.join(path, "Chart.yaml")):
            incomplete.append("the folder is a Helm chart (Chart.yaml)")
        destination = _map(spec, spec_at, "destination")
        namespace = self._expand_optional(
            _str(destination, (*spec_at, "destination"), "namespace"),
            expand,
            incomplete,
            "destination.namespace",
        )
        override = False
        kustomize = _map(source, where, "kustomize")
        if kustomize is not None:
            pinned = self._expand_optional(
                _str(kustomize, (*where, "kustomize"), "namespace"),
                expand,
                incomplete,
                "kustomize.namespace",
            )
            if pinned:
                namespace, override = pinned, True
            options = sorted(
                str(k)
                for k, v in kustomize.items()
                if k != "namespace" and k not in _HARMLESS_KUSTOMIZE and v not in (None, "", [], {})
            )
            if options:
                incomplete.append(
                    "kustomize options of the Application are not applied offline: "
                    + ", ".join(_quote(k) for k in options[:8])
                )
        return AppSource(
            kind=self.kind,
            name=name,
            path=path,
            recurse=recurse,
            namespace=namespace or None,
            override_namespace=override,
            include=include,
            exclude=exclude,
            span=self.tree.span(path_at),
            incomplete="; ".join(incomplete) or None,
        )

    @staticmethod
    def _expand_optional(
        text: str | None, expand: _Expansion, incomplete: list[str], what: str
    ) -> str | None:
        if text is None:
            return None
        try:
            return expand(text)
        except CannotExpand as exc:
            incomplete.append(f"{what} '{_quote(text)}' {exc}")
            return None

    def application_set(self) -> None:
        spec = _map(self.tree.data, (), "spec")
        if spec is None:
            raise _Refused("has no spec", ())
        go = _bool(spec, ("spec",), "goTemplate") or False
        template = _map(spec, ("spec",), "template")
        tspec = _map(template, ("spec", "template"), "spec")
        if tspec is None:
            raise _Refused("has no spec.template.spec", ("spec",))
        tspec_at: PathKey = ("spec", "template", "spec")
        generators = _list(spec, ("spec",), "generators") or []
        if not generators:
            self.skip(None, "has no generators: it generates no Application", ("spec",))
            return
        params = self._generators(generators, ("spec", "generators"), go, 0)
        if len(params) > MAX_PARAM_SETS:
            self.skip(
                None,
                f"expands to more than {MAX_PARAM_SETS:,} applications; not read",
                ("spec", "generators"),
            )
            return
        patched = _str(spec, ("spec",), "templatePatch")
        sources = self._sources(tspec, tspec_at)
        for param in params:
            expand = _Expansion(param, go)
            for where, source in sources:
                unit = self._argo_source(source, where, tspec, tspec_at, expand, "")
                if unit is None:
                    continue
                reasons = [unit.incomplete] if unit.incomplete else []
                if patched:
                    reasons.append("spec.templatePatch is not applied offline")
                self.add(
                    AppSource(
                        kind=unit.kind,
                        name=f"{self.name}[{unit.path or '.'}]",
                        path=unit.path,
                        recurse=unit.recurse,
                        namespace=unit.namespace,
                        override_namespace=unit.override_namespace,
                        include=unit.include,
                        exclude=unit.exclude,
                        span=unit.span,
                        incomplete="; ".join(reasons) or None,
                    )
                )

    def _generators(
        self, generators: list[Any], where: PathKey, go: bool, depth: int
    ) -> list[Params]:
        """Every parameter set the generators give (their union, as Argo CD takes it)."""
        out: list[Params] = []
        for i, gen in enumerate(generators):
            at = (*where, i)
            if not isinstance(gen, dict):
                raise _Refused(f"{_dotted(at)} is not a mapping", at)
            out.extend(self._generator(gen, at, go, depth))
            if len(out) > MAX_PARAM_SETS:
                break
        return out

    def _generator(self, gen: dict[str, Any], at: PathKey, go: bool, depth: int) -> list[Params]:
        if _map(gen, at, "template"):
            # A generator-level template overrides fields of spec.template; not merged here.
            self.skip(
                None,
                "has a generator-level template, which netlint does not merge",
                (*at, "template"),
            )
            return []
        git = _map(gen, at, "git")
        if git is not None:
            return self._git(git, (*at, "git"), go)
        listed = _map(gen, at, "list")
        if listed is not None:
            return self._list_generator(listed, (*at, "list"), go)
        matrix = _map(gen, at, "matrix")
        if matrix is not None:
            children = _list(matrix, (*at, "matrix"), "generators") or []
            if depth + 1 >= _MAX_NESTING:
                return [Params({}, ("a matrix generator nested too deep",))]
            sets = [
                self._generators([child], (*at, "matrix", "generators"), go, depth + 1)
                for child in children
            ]
            return _product(sets, go)
        for key, what in _UNKNOWN_GENERATORS.items():
            if key in gen:
                return [Params({}, (f"a {key} generator (values from {what})",))]
        return [Params({}, ("an unknown generator",))]

    def _list_generator(self, listed: dict[str, Any], at: PathKey, go: bool) -> list[Params]:
        if _str(listed, at, "elementsYaml"):
            return [Params({}, ("a list generator's elementsYaml",))]
        out: list[Params] = []
        for i, element in enumerate(_list(listed, at, "elements") or []):
            if not isinstance(element, dict):
                raise _Refused(f"{_dotted((*at, 'elements', i))} is not a mapping", at)
            if go:
                out.append(Params(element, origin="list"))
                continue
            flat: dict[str, str] = {}
            for key, value in element.items():
                if key == "values" and isinstance(value, dict):
                    flat.update({f"values.{k}": v for k, v in value.items() if isinstance(v, str)})
                elif isinstance(value, str):
                    flat[str(key)] = value
            out.append(Params(flat, origin="list"))
        return out

    def _git(self, git: dict[str, Any], at: PathKey, go: bool) -> list[Params]:
        directories = _list(git, at, "directories")
        if not directories:
            if _list(git, at, "files"):
                return [Params({}, ("a git files generator (values from the files' contents)",))]
            return []
        includes: list[str] = []
        excludes: list[str] = []
        for i, item in enumerate(directories):
            item_at = (*at, "directories", i)
            if not isinstance(item, dict):
                raise _Refused(f"{_dotted(item_at)} is not a mapping", item_at)
            pattern = _str(item, item_at, "path")
            if pattern is None:
                continue
            try:
                _compile_go_pattern(pattern)
            except ValueError:
                self.skip(pattern, "is a malformed pattern; Argo CD ignores it", (*item_at, "path"))
                continue
            (excludes if _bool(item, item_at, "exclude") else includes).append(pattern)
        prefix = _str(git, at, "pathParamPrefix") or ""
        values = _map(git, at, "values") or {}
        matched: dict[str, None] = {}  # insertion-ordered, without repeats
        for pattern in includes:
            match = _compile_go_pattern(pattern).fullmatch
            for folder in self._folders(_literal_base(pattern)):
                if folder not in matched and match(folder):
                    matched[folder] = None
        drop = [_compile_go_pattern(p).fullmatch for p in excludes]
        kept = [f for f in matched if not any(m(f) for m in drop)]
        if not kept:
            self.skip(
                None,
                "has a git directories generator that matches no folder of this "
                "project (another repository?)",
                (*at, "directories"),
            )
        return [_git_params(folder, prefix, values, go) for folder in sorted(kept)]

    def _folders(self, base: str) -> list[str]:
        """The project's folders at or under ``base`` as Argo CD lists a repository's: no
        root, nothing under a folder whose name starts with a dot."""
        cached = self._dirs.get(base)
        if cached is not None:
            return cached
        out: list[str] = []
        for folder in self.list_dirs(base):
            if not isinstance(folder, str):
                continue
            path, _ = clean_path(folder)
            if not path or any(part.startswith(".") for part in path.split("/")):
                continue
            out.append(path)
        self._dirs[base] = out
        return out

    # -- Flux -----------------------------------------------------------------------------

    def flux(self) -> None:
        spec = _map(self.tree.data, (), "spec")
        if spec is None:
            raise _Refused("has no spec", ())
        raw = _str(spec, ("spec",), "path")
        incomplete: list[str] = []
        # Type-check everything read before deciding, so that a refused object is one record.
        target = _str(spec, ("spec",), "targetNamespace")
        post = _map(spec, ("spec",), "postBuild")
        if _map(post, ("spec", "postBuild"), "substitute"):
            incomplete.append("postBuild.substitute: ${var} substitution is not applied offline")
        if _list(post, ("spec", "postBuild"), "substituteFrom"):
            incomplete.append(
                "postBuild.substituteFrom: variables come from ConfigMaps or Secrets in the cluster"
            )
        for key in ("patches", "patchesStrategicMerge", "patchesJson6902", "components"):
            if _list(spec, ("spec",), key):
                incomplete.append(f"spec.{key} are not applied offline")
        for key in ("namePrefix", "nameSuffix"):
            if _str(spec, ("spec",), key):
                incomplete.append(f"spec.{key} is not applied offline")
        if _map(spec, ("spec",), "commonMetadata"):
            incomplete.append("spec.commonMetadata (labels on every object) is not applied offline")
        # spec.images only retags containers, which netlint does not model.
        ref_kind = _str(_map(spec, ("spec",), "sourceRef"), ("spec", "sourceRef"), "kind")
        if ref_kind not in (None, "GitRepository"):
            # An OCI artifact, a bucket or a generated artifact is often one folder of a repo
            # pushed on its own: spec.path is relative to that folder, not to this root.
            incomplete.append(
                f"spec.sourceRef is {_quote(ref_kind)}, whose root need not be this "
                "repository's root"
            )
        if raw is None:
            self.skip(
                None,
                "has no spec.path: Flux applies the root of its source, which netlint cannot "
                "tell is this repository",
                ("spec",),
            )
            return
        path_at: PathKey = ("spec", "path")
        path, why = clean_path(raw)
        if path is None:
            self.skip(raw, why, path_at)
            return
        if not self.directories(path):
            if "${" in raw:
                why = "holds a ${var} that a parent Kustomization's postBuild substitutes"
            else:
                why = "is not a folder of this project (a path in another source?)"
            self.skip(raw, why, path_at)
            return
        self.add(
            AppSource(
                kind=self.kind,
                name=self.name,
                path=path,
                # Flux builds the folder's kustomization, or generates one that lists every
                # manifest below it (fluxcd/pkg kustomize_generator.go).
                recurse=True,
                namespace=target or None,
                override_namespace=bool(target),
                include=None,
                exclude=None,
                span=self.tree.span(path_at),
                incomplete="; ".join(incomplete) or None,
            )
        )


def _literal_base(pattern: str) -> str:
    """The folders of a pattern before its first wildcard: where the matches can be."""
    parts: list[str] = []
    for part in pattern.split("/"):
        if any(c in _META for c in part):
            break
        parts.append(part)
    else:
        parts = parts[:-1]  # no wildcard: the pattern names one folder, under its parent
    base, _ = clean_path("/".join(parts))
    return base or ""


def _git_params(folder: str, prefix: str, values: Mapping[str, Any], go: bool) -> Params:
    """generateParamsFromApps of applicationset/generators/git.go, without commitSHA (known
    only to the controller: a template that needs it cannot be expanded)."""
    base = posixpath.basename(folder)
    segments = folder.split("/")
    params: dict[str, Any]
    if go:
        entry = {
            "path": folder,
            "basename": base,
            "basenameNormalized": sanitize_name(base),
            "segments": segments,
        }
        params = {prefix: {"path": entry}} if prefix else {"path": entry}
    else:
        name = f"{prefix}.path" if prefix else "path"
        params = {
            name: folder,
            f"{name}.basename": base,
            f"{name}.basenameNormalized": sanitize_name(base),
        }
        for i, segment in enumerate(segments):
            if segment:
                params[f"{name}[{i}]"] = segment
    if values:
        # Values are templates over the other parameters (appendTemplatedValues).
        partial = Params(params, origin="git")
        rendered: dict[str, str] = {}
        for key, value in values.items():
            if not isinstance(value, str):
                continue
            try:
                rendered[str(key)] = (
                    render_go(value, partial) if go else render_flat(value, partial)
                )
            except CannotExpand:
                continue
        if go:
            params["values"] = rendered
        else:
            params.update({f"values.{k}": v for k, v in rendered.items()})
    return Params(params, origin="git")


def _product(sets: Iterable[list[Params]], go: bool) -> list[Params]:
    """A matrix generator's parameter sets: each combination of its children's, merged."""
    out: list[Params] = []
    for combination in itertools.product(*sets):
        values: dict[str, Any] = {}
        unknown: list[str] = []
        for part in combination:
            values = _merge(values, part.values) if go else {**values, **part.values}
            unknown.extend(u for u in part.unknown if u not in unknown)
        origin = "matrix(" + ", ".join(p.origin or "?" for p in combination) + ")"
        out.append(Params(values, tuple(unknown), origin))
        if len(out) > MAX_PARAM_SETS:
            break
    return out


def _merge(base: Mapping[str, Any], more: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in more.items():
        old = out.get(key)
        out[key] = (
            _merge(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
        )
    return out
