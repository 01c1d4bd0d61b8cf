"""GitOps definitions as deploy-unit evidence: Argo CD Applications and ApplicationSets, Flux
Kustomizations (netlint/read/gitops.py), read from YAML as a repo holds it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlint.read.gitops import (
    AppSource,
    CannotExpand,
    Params,
    Scan,
    Skipped,
    app_sources,
    candidate,
    clean_path,
    go_path_match,
    render_flat,
    render_go,
    scan,
)
from netlint.read.parse import ALL, Limits, Tree, parse, to_tree

FOLDERS = (
    "apps",
    "apps/web",
    "apps/web/extra",
    "apps/api",
    "apps/legacy",
    "apps/.hidden",
    "apps/.hidden/inner",
    "charts/redis",
    "clusters/prod",
    "infra",
    "envs/prod/shop",
    "envs/prod/auth",
    "envs/dev/shop",
)


class Project:
    """A project of FOLDERS; records what it was asked."""

    def __init__(self, folders: Iterable[str] = FOLDERS, files: Iterable[str] = ()) -> None:
        self.folders = set(folders)
        self.files = set(files)
        self.listed: list[str] = []

    def directories(self, path: str) -> bool:
        return path == "" or path in self.folders

    def list_dirs(self, base: str) -> Sequence[str]:
        self.listed.append(base)
        return sorted(f for f in self.folders if not base or f == base or f.startswith(base + "/"))

    def has_file(self, path: str) -> bool:
        return path in self.files


def tree_of(text: str, path: str = "deploy/app.yaml") -> Tree:
    parsed = parse(path, text.encode(), Limits())
    assert parsed.problem is None, parsed.problem
    return to_tree(path, parsed.documents[0], ALL, 256, parsed.positions)


def read(text: str, project: Project | None = None) -> Scan:
    project = project or Project()
    return scan(tree_of(text), project.directories, project.list_dirs, project.has_file)


def line_of(text: str, needle: str) -> int:
    lines = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(lines) == 1, (needle, lines)
    return lines[0]


def by_path(units: Iterable[AppSource]) -> dict[str, AppSource]:
    return {u.path: u for u in units}


# --- which documents -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "api_version", "expected"),
    [
        ("Application", "argoproj.io/v1alpha1", True),
        ("ApplicationSet", "argoproj.io/v1alpha1", True),
        ("Kustomization", "kustomize.toolkit.fluxcd.io/v1", True),
        ("Kustomization", "kustomize.toolkit.fluxcd.io/v1beta1", True),
        ("Kustomization", "kustomize.toolkit.fluxcd.io/v1beta2", True),
        ("Kustomization", "kustomize.config.k8s.io/v1beta1", False),  # kustomize's own
        ("Application", "app.k8s.io/v1beta1", False),  # the SIG Apps Application CRD
        ("Deployment", "apps/v1", False),
    ],
)
def test_candidate(kind: str, api_version: str, expected: bool) -> None:
    assert candidate(kind, api_version) is expected


# --- Argo CD Application -------------------------------------------------------------------

SINGLE = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
  namespace: argocd
spec:
  project: default
  source:
    repoURL: https://github.com/example/shop.git
    targetRevision: HEAD
    path: ./apps/web/
  destination:
    server: https://kubernetes.default.svc
    namespace: shop
"""


def test_application_single_source() -> None:
    found = read(SINGLE)
    assert found.skipped == []
    [unit] = found.units
    assert unit == AppSource(
        kind="Application",
        name="web",
        path="apps/web",
        recurse=False,
        namespace="shop",
        override_namespace=False,
        include=None,
        exclude=None,
        span=unit.span,
        incomplete=None,
    )
    assert (unit.span.path, unit.span.line) == ("deploy/app.yaml", line_of(SINGLE, "path:"))
    assert unit.span.col == SINGLE.splitlines()[unit.span.line - 1].index("./apps") + 1


def test_app_sources_is_the_units_of_scan() -> None:
    project = Project()
    units = app_sources(tree_of(SINGLE), project.directories, project.list_dirs)
    assert [u.path for u in units] == ["apps/web"]


MULTI = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: shop
spec:
  source:
    path: infra          # ignored: sources wins
  sources:
    - repoURL: https://charts.bitnami.com/bitnami
      chart: redis
      targetRevision: 18.0.0
      helm:
        valueFiles:
          - $values/envs/prod/shop/redis.yaml
    - repoURL: https://github.com/example/shop.git
      targetRevision: HEAD
      ref: values
    - repoURL: https://github.com/example/shop.git
      path: envs/prod/shop
    - repoURL: https://github.com/example/shop.git
      path: apps/api
      ref: api            # a ref with a path is rendered too
  destination:
    namespace: shop
"""


def test_application_multi_source_with_ref_and_chart() -> None:
    found = read(MULTI)
    assert [(u.name, u.path, u.namespace) for u in found.units] == [
        ("shop", "envs/prod/shop", "shop"),
        ("shop", "apps/api", "shop"),
    ]
    assert found.units[0].span.line == line_of(MULTI, "path: envs/prod/shop")
    # The chart source is reported where it is written; the ref-only source is no unit at all.
    [chart] = found.skipped
    assert chart.span.line == line_of(MULTI, "chart: redis")
    assert chart.message() == (
        "Application shop: has a source that is the Helm chart 'redis' of a chart repository"
    )


def test_application_recurse_include_exclude() -> None:
    text = SINGLE.replace(
        "    path: ./apps/web/\n",
        "    path: apps\n"
        "    directory:\n"
        "      recurse: true\n"
        "      include: '{*.yaml,*.yml}'\n"
        "      exclude: 'legacy/*'\n",
    )
    [unit] = read(text).units
    assert (unit.path, unit.recurse, unit.include, unit.exclude) == (
        "apps",
        True,
        "{*.yaml,*.yml}",
        "legacy/*",
    )
    assert unit.incomplete is None


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ("    helm:\n      releaseName: web\n", "helm: the folder is rendered by Helm"),
        ("    plugin:\n      name: cdk8s\n", "plugin: a config management plugin"),
        (
            "    directory:\n      jsonnet:\n        tlas: [{name: env, value: prod}]\n",
            "directory.jsonnet: Jsonnet is not rendered offline",
        ),
        (
            "    kustomize:\n      namePrefix: prod-\n      images: [nginx:1.25]\n",
            "kustomize options of the Application are not applied offline: namePrefix",
        ),
    ],
)
def test_application_sources_netlint_cannot_render_are_incomplete(extra: str, reason: str) -> None:
    text = SINGLE.replace("    path: ./apps/web/\n", "    path: apps/web\n" + extra)
    [unit] = read(text).units
    assert unit.path == "apps/web"
    assert unit.incomplete is not None and unit.incomplete.startswith(reason)
    assert "images" not in unit.incomplete  # image tags change nothing netlint models


def test_a_folder_holding_a_chart_is_incomplete() -> None:
    text = SINGLE.replace("./apps/web/", "charts/redis")
    [unit] = read(text, Project(files=["charts/redis/Chart.yaml"])).units
    assert unit.incomplete == "the folder is a Helm chart (Chart.yaml)"
    # Without a way to look at files, the folder is taken as plain manifests.
    project = Project()
    [plain] = scan(tree_of(text), project.directories, project.list_dirs).units
    assert plain.incomplete is None


def test_kustomize_namespace_overrides() -> None:
    text = SINGLE.replace(
        "    path: ./apps/web/\n", "    path: apps/web\n    kustomize:\n      namespace: pinned\n"
    )
    [unit] = read(text).units
    assert (unit.namespace, unit.override_namespace, unit.incomplete) == ("pinned", True, None)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("elsewhere/app", "is not a folder of this project (a path in another repository?)"),
        ("/etc", "is absolute"),
        ("../../etc", "leaves the project root"),
        ("apps/../..", "leaves the project root"),
        ('"apps\\0web"', "contains a control character"),
        ('"apps\\e[2Jweb"', "contains a control character"),
        ("a" * 5000, "is longer than 1024 characters"),
    ],
)
def test_paths_outside_the_project_are_skipped(path: str, reason: str) -> None:
    text = SINGLE.replace("./apps/web/", path)
    found = read(text)
    assert found.units == []
    [skipped] = found.skipped
    assert skipped.reason == reason
    assert skipped.span.line == line_of(text, "    path:")
    assert skipped.path is not None and len(skipped.path) <= 120


def test_templated_paths_get_their_own_reason() -> None:
    """An Application is not templated by Argo CD; one in a chart's templates is Helm's."""
    [app] = read(SINGLE.replace("./apps/web/", "'apps/{{ .Values.app }}'")).skipped
    assert app.reason.startswith("is a template")
    [flux] = read(FLUX.replace("./clusters/prod", "./clusters/${cluster}")).skipped
    assert flux.reason == "holds a ${var} that a parent Kustomization's postBuild substitutes"
    [appset] = read(GIT_DIRS.replace("  generators:", "  generators: []\n  unused:")).skipped
    assert appset.message() == "ApplicationSet apps: has no generators: it generates no Application"
    assert appset.span.line == 5  # the first `spec:`


def test_a_path_that_normalises_inside_is_kept() -> None:
    [unit] = read(SINGLE.replace("./apps/web/", "apps/api/../web//")).units
    assert unit.path == "apps/web"
    [root] = read(SINGLE.replace("./apps/web/", ".")).units
    assert root.path == ""


def test_a_source_without_path_is_skipped_not_taken_as_the_root() -> None:
    text = SINGLE.replace("    path: ./apps/web/\n", "")
    found = read(text)
    assert found.units == []
    [skipped] = found.skipped
    assert skipped.span.line == line_of(text, "source:")
    assert "cannot tell is this one" in skipped.reason


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("    path: ./apps/web/\n", "    path: [apps]\n", "spec.source.path is not a string"),
        (
            "    path: ./apps/web/\n",
            "    path: apps\n    directory:\n      recurse: 'true'\n",
            "spec.source.directory.recurse is not a boolean",
        ),
        ("  source:\n", "  sources: {}\n  source:\n", "spec.sources is not a list"),
        (
            "    namespace: shop\n",
            "    namespace: 7\n",
            "spec.destination.namespace is not a string",
        ),
        ("  name: web\n", "  name: {a: b}\n", "metadata.name is not a string"),
        ("  name: web\n", "  labels: {}\n", "has no metadata.name"),
    ],
)
def test_wrong_types_skip_the_definition_with_a_reason(old: str, new: str, reason: str) -> None:
    text = SINGLE.replace(old, new, 1)
    assert text != SINGLE
    found = read(text)
    assert found.units == []
    [skipped] = found.skipped
    assert skipped.reason == reason
    assert skipped.path is None


def test_wrong_document_shapes() -> None:
    for text in (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec: []\n",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\n",
        "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: a}\nspec: 3\n",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: [a]\n",
    ):
        found = read(text)
        assert found.units == []
        assert len(found.skipped) == 1, text
    assert read("- a\n- b\n") == Scan()  # not even a mapping: not a definition


# --- Argo CD ApplicationSet ----------------------------------------------------------------

GIT_DIRS = """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: apps
spec:
  generators:
    - git:
        repoURL: https://github.com/example/shop.git
        revision: HEAD
        directories:
          - path: apps/*
          - path: apps/legacy
            exclude: true
  template:
    metadata:
      name: '{{path.basename}}'
    spec:
      source:
        repoURL: https://github.com/example/shop.git
        path: '{{path}}'
      destination:
        namespace: '{{ path.basename }}'
"""


def test_application_set_git_directories_with_exclude() -> None:
    project = Project()
    found = read(GIT_DIRS, project)
    assert found.skipped == []
    # `*` does not cross `/` (apps/web/extra), hidden folders are not listed, exclude wins.
    assert [(u.name, u.path, u.namespace) for u in found.units] == [
        ("apps[apps/api]", "apps/api", "api"),
        ("apps[apps/web]", "apps/web", "web"),
    ]
    assert {u.span.line for u in found.units} == {line_of(GIT_DIRS, "path: '{{path}}'")}
    assert project.listed == ["apps"]  # only the folders under the pattern's literal part


def test_application_set_go_templates() -> None:
    text = (
        GIT_DIRS.replace("spec:\n  generators:", "spec:\n  goTemplate: true\n  generators:")
        .replace("apps/*", "envs/*/*")
        .replace("path: apps/legacy", "path: envs/dev/*")
        .replace("'{{path}}'", "'{{ .path.path }}'")
        .replace("'{{ path.basename }}'", "'{{index .path.segments 1}}-{{- .path.basename}}'")
    )
    found = read(text)
    assert found.skipped == []
    assert [(u.path, u.namespace) for u in found.units] == [
        ("envs/prod/auth", "prod-auth"),
        ("envs/prod/shop", "prod-shop"),
    ]


def test_application_set_path_param_prefix_and_values() -> None:
    text = (
        GIT_DIRS.replace(
            "        directories:\n",
            "        pathParamPrefix: app\n        values:\n"
            "          ns: 'team-{{app.path.basename}}'\n        directories:\n",
        )
        .replace("'{{path}}'", "'{{app.path}}'")
        .replace("'{{ path.basename }}'", "'{{values.ns}}'")
    )
    found = read(text)
    assert [(u.path, u.namespace) for u in found.units] == [
        ("apps/api", "team-api"),
        ("apps/web", "team-web"),
    ]


def test_application_set_list_generator_is_expanded() -> None:
    text = """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: envs
spec:
  generators:
    - list:
        elements:
          - env: prod
          - env: dev
          - env: prod
  template:
    metadata:
      name: 'shop-{{env}}'
    spec:
      source:
        path: 'envs/{{env}}/shop'
      destination:
        namespace: shop
"""
    found = read(text)
    assert [u.path for u in found.units] == ["envs/prod/shop", "envs/dev/shop"]  # deduplicated
    assert found.skipped == []


@pytest.mark.parametrize(
    ("generator", "message"),
    [
        (
            "    - list:\n        elementsYaml: '{{ .clusters | toYaml }}'\n",
            "ApplicationSet per-cluster: path 'clusters/{{cluster}}' from a list generator's "
            "elementsYaml cannot be expanded offline",
        ),
        (
            "    - list:\n        elements:\n          - env: prod\n",
            "ApplicationSet per-cluster: path 'clusters/{{cluster}}' cannot be expanded "
            "offline: the list generator defines no 'cluster'",
        ),
        (
            "    - clusters: {}\n",
            "ApplicationSet per-cluster: path 'clusters/{{cluster}}' from a clusters generator "
            "(values from the clusters registered in Argo CD) cannot be expanded offline",
        ),
    ],
)
def test_application_set_paths_that_cannot_be_expanded(generator: str, message: str) -> None:
    text = f"""\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: per-cluster
spec:
  generators:
{generator}  template:
    metadata:
      name: 'x'
    spec:
      source:
        path: 'clusters/{{{{cluster}}}}'
"""
    found = read(text)
    assert found.units == []
    [skipped] = found.skipped
    assert skipped.message() == message
    assert skipped.span.line == line_of(text, "path: 'clusters/")


def test_application_set_matrix_of_git_and_clusters() -> None:
    """The path comes from the git child: known. The namespace from the clusters child: not."""
    text = """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: fleet
spec:
  generators:
    - matrix:
        generators:
          - git:
              repoURL: https://github.com/example/shop.git
              directories:
                - path: 'apps/w*'
          - clusters:
              selector:
                matchLabels: {env: prod}
  template:
    metadata:
      name: '{{path.basename}}-{{name}}'
    spec:
      source:
        path: '{{path}}'
      destination:
        namespace: '{{metadata.labels.team}}'
"""
    found = read(text)
    [unit] = found.units
    assert (unit.path, unit.namespace) == ("apps/web", None)
    assert unit.incomplete is not None
    assert unit.incomplete.startswith("destination.namespace '{{metadata.labels.team}}' from a")


def test_application_set_literal_path_with_unknown_generators() -> None:
    text = (
        GIT_DIRS.replace(
            "    - git:\n        repoURL: https://github.com/example/shop.git\n"
            "        revision: HEAD\n        directories:\n          - path: apps/*\n"
            "          - path: apps/legacy\n            exclude: true\n",
            "    - clusters: {}\n",
        )
        .replace("'{{path}}'", "infra")
        .replace("'{{ path.basename }}'", "infra")
    )
    [unit] = read(text).units
    assert (unit.name, unit.path, unit.namespace, unit.incomplete) == (
        "apps[infra]",
        "infra",
        "infra",
        None,
    )


def test_application_set_git_generator_matching_nothing() -> None:
    text = GIT_DIRS.replace("apps/*", "services/*")
    found = read(text)
    assert found.units == []
    [skipped] = found.skipped
    assert "matches no folder of this project" in skipped.reason
    assert skipped.span.line == line_of(text, "directories:")


def test_application_set_template_patch_and_malformed_pattern() -> None:
    text = GIT_DIRS.replace(
        "  template:\n", "  templatePatch: '{{ .whatever }}'\n  template:\n"
    ).replace("          - path: apps/legacy\n", "          - path: 'apps/[a'\n")
    found = read(text)
    assert {u.path for u in found.units} == {"apps/api", "apps/web", "apps/legacy"}
    assert all(u.incomplete == "spec.templatePatch is not applied offline" for u in found.units)
    [bad] = found.skipped
    assert (
        bad.message()
        == "ApplicationSet apps: path 'apps/[a' is a malformed pattern; Argo CD ignores it"
    )


def test_application_set_huge_template_is_not_expanded() -> None:
    text = GIT_DIRS.replace("'{{path}}'", "'{{path}}" + "/{{path.basename}}" * 200 + "'")
    found = read(text)
    assert found.units == []
    assert [s.reason for s in found.skipped] == [
        "is a template longer than 1024 characters; not expanded"
    ]


def test_application_set_too_many_parameter_sets() -> None:
    elements = "".join(f"          - a: '{i}'\n" for i in range(101))
    text = f"""\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: bomb
spec:
  generators:
    - matrix:
        generators:
          - list:
              elements:
{elements.replace("          ", "                ")}          - list:
              elements:
{elements.replace("          ", "                ").replace("a:", "b:")}  template:
    metadata: {{name: x}}
    spec:
      source:
        path: '{{{{a}}}}/{{{{b}}}}'
"""
    found = read(text)
    assert found.units == []
    [skipped] = found.skipped
    assert "more than 10,000 applications" in skipped.reason


# --- Flux ----------------------------------------------------------------------------------

FLUX = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m
  sourceRef:
    kind: GitRepository
    name: flux-system
  path: ./clusters/prod
  prune: true
  targetNamespace: prod
  images:
    - name: nginx
      newTag: "1.25"
"""


def test_flux_kustomization() -> None:
    found = read(FLUX)
    assert found.skipped == []
    [unit] = found.units
    assert (unit.kind, unit.name, unit.path, unit.recurse) == (
        "Kustomization",
        "apps",
        "clusters/prod",
        True,
    )
    assert (unit.namespace, unit.override_namespace, unit.incomplete) == ("prod", True, None)
    assert unit.span.line == line_of(FLUX, "path:")


def test_flux_post_build_and_patches_make_it_incomplete() -> None:
    text = FLUX.replace("/v1\n", "/v1beta2\n").replace(
        "  prune: true\n",
        "  prune: true\n  postBuild:\n    substitute: {env: prod}\n    substituteFrom:\n"
        "      - kind: ConfigMap\n        name: vars\n  patches:\n"
        '    - patch: \'[{"op": "remove", "path": "/spec/replicas"}]\'\n',
    )
    [unit] = read(text).units
    assert unit.incomplete == (
        "postBuild.substitute: ${var} substitution is not applied offline; "
        "postBuild.substituteFrom: variables come from ConfigMaps or Secrets in the cluster; "
        "spec.patches are not applied offline"
    )


def test_flux_source_that_is_not_a_git_repository() -> None:
    [unit] = read(FLUX.replace("kind: GitRepository", "kind: OCIRepository")).units
    assert unit.incomplete == (
        "spec.sourceRef is OCIRepository, whose root need not be this repository's root"
    )


def test_flux_paths() -> None:
    assert read(FLUX.replace("./clusters/prod", "./")).units[0].path == ""
    for path, reason in (
        ("./podinfo/kustomize", "is not a folder of this project (a path in another source?)"),
        ("/clusters/prod", "is absolute"),
        ("./../clusters", "leaves the project root"),
    ):
        found = read(FLUX.replace("./clusters/prod", path))
        assert [s.reason for s in found.skipped] == [reason]
        assert found.units == []
    missing = read(FLUX.replace("  path: ./clusters/prod\n", ""))
    assert missing.units == []
    assert "has no spec.path" in missing.skipped[0].reason
    wrong = read(FLUX.replace("targetNamespace: prod", "targetNamespace: [prod]"))
    assert [s.reason for s in wrong.skipped] == ["spec.targetNamespace is not a string"]


# --- templates and patterns as Argo CD evaluates them -------------------------------------


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("apps/*", "apps/web", True),
        ("apps/*", "apps/web/extra", False),
        ("apps/**", "apps/web/extra", False),  # no globstar in path.Match
        ("apps/*/*", "apps/web/extra", True),
        ("*", "apps", True),
        ("a?c", "abc", True),
        ("a?c", "a/c", False),
        ("[a-c]x", "bx", True),
        ("[^a-c]x", "dx", True),
        ("[^a-c]x", "ax", False),
        ("a\\*", "a*", True),
        ("a\\*", "ab", False),
        ("apps/web", "apps/web", True),
    ],
)
def test_go_path_match(pattern: str, name: str, expected: bool) -> None:
    assert go_path_match(pattern, name) is expected


@pytest.mark.parametrize("pattern", ["[", "a[]", "[-a]", "a\\", "[z-a]"])
def test_go_path_match_bad_patterns(pattern: str) -> None:
    with pytest.raises(ValueError):
        go_path_match(pattern, "a")


def test_renderers() -> None:
    flat = Params({"path": "apps/web", "path[0]": "apps"}, origin="git")
    assert render_flat("{{ path }}/x/{{path[0]}}", flat) == "apps/web/x/apps"
    assert render_flat("no {{ tag", flat) == "no {{ tag"
    with pytest.raises(CannotExpand):
        render_flat("{{path.nope}}", flat)
    go = Params({"path": {"path": "apps/web", "segments": ["apps", "web"]}}, origin="git")
    assert render_go("{{.path.path}}", go) == "apps/web"
    assert render_go("{{ index .path.segments 1 }}", go) == "web"
    for unsupported in ("{{ .path.path | upper }}", '{{ printf "%s" .path }}', "{{ . }}"):
        with pytest.raises(CannotExpand):
            render_go(unsupported, go)


def test_clean_path() -> None:
    assert clean_path("./a/b/") == ("a/b", "")
    assert clean_path("") == ("", "")
    assert clean_path("a/./b/../c") == ("a/c", "")
    assert clean_path("..")[0] is None


# --- hostile input never raises ----------------------------------------------------------

_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=20), st.sampled_from(["{{path}}"])
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
_KEYS = st.sampled_from(
    [
        "spec",
        "source",
        "sources",
        "path",
        "directory",
        "recurse",
        "generators",
        "git",
        "directories",
        "list",
        "elements",
        "matrix",
        "template",
        "destination",
        "namespace",
        "postBuild",
        "targetNamespace",
        "goTemplate",
    ]
)
_DOCS = st.recursive(
    _VALUES,
    lambda inner: st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(["Application", "ApplicationSet", "Kustomization"]), spec=_DOCS)
def test_any_shape_yields_records_not_tracebacks(kind: str, spec: object) -> None:
    data = {"apiVersion": "x", "kind": kind, "metadata": {"name": "n"}, "spec": spec}
    tree = Tree("f.yaml", data, {(): _SPAN}, {}, [])
    project = Project()
    found = scan(tree, project.directories, project.list_dirs, project.has_file)
    for record in found.skipped:
        assert isinstance(record, Skipped) and record.message()
    for unit in found.units:
        assert clean_path(unit.path) == (unit.path, "")


_SPAN = tree_of("a: b\n").span(())
