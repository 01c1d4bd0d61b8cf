"""Rule discovery (entry-point group ``netlint.rules``) and selection by code, prefix or name.

``importlib.metadata`` is imported only for a scan, and a scan is made only when the project's
cache holds no list of plugins that still matches what is installed (``catalogue_cache``)."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from netlint.analysis.context import Rule
from netlint.core.rule import RuleMeta
from netlint.run import catalogue_cache
from netlint.run.catalogue_cache import Dist, Plugin

GROUP = "netlint.rules"
BUILTIN_ENTRY = "netlint.rules:builtin_rules"


@dataclass(frozen=True, slots=True)
class Catalogue:
    rules: tuple[Rule, ...]
    #: Plugins that could not be loaded, with the reason (reported on stderr; the run goes on).
    errors: tuple[str, ...]

    def by_code(self) -> dict[str, Rule]:
        return {rule.meta.code: rule for rule in self.rules}

    def find(self, token: str) -> Rule | None:
        """A rule by exact code, name or old name (case-insensitive)."""
        return next((rule for rule in self.rules if rule.meta.answers_to(token)), None)


#: The plugins the last catalogue of this process was built from (see ``entry_points``).
_loaded: tuple[Plugin, ...] | None = None


def load_catalogue(untrusted: Sequence[Path] = (), *, cache_in: Path | None = None) -> Catalogue:
    """Every rule registered by an installed distribution, built-ins included.

    Distributions whose metadata lies in or anywhere under an ``untrusted`` directory (the
    repository being linted, the current directory) are not installed plugins but files of the
    repo, put on sys.path by ``PYTHONPATH`` or ``python -m``: their entry points are not loaded,
    since loading means running their code. The running interpreter's own site-packages are
    installed, trusted, even when they lie in the repo (a ``.venv/`` at its root).

    With ``cache_in`` (a project root), the list of entry points is read from and kept in its
    ``.netlint_cache/`` (see ``catalogue_cache``): no scan while nothing installed changed.
    """
    global _loaded
    rules: dict[str, Rule] = {}
    errors: list[str] = []
    refused = [_real(p) for p in untrusted]
    installed = _site_directories() if refused else []
    plugins = _plugins(cache_in)
    _loaded = plugins
    for ep in sorted(plugins, key=lambda e: (e.name, e.value)):
        dist = ep.dist.name if ep.dist is not None else "?"
        # netlint's own entry point names code that is already running, wherever its metadata
        # was found (a development checkout's egg-info is on sys.path under `python -m`).
        builtin = dist == "netlint" and ep.value == BUILTIN_ENTRY
        if refused and not builtin and _in_repo(ep, refused, installed):
            errors.append(
                f"rule plugin {ep.name} = {ep.value} ({dist}) is not loaded: it is defined in "
                "the repository being linted, not installed (--allow-repo-plugins loads it)"
            )
            continue
        try:
            found = _instantiate(_load(ep.value))
        except Exception as exc:  # a broken plugin must not take the built-ins down with it
            errors.append(f"rule plugin {ep.name} = {ep.value} ({dist}) failed to load: {exc}")
            continue
        for rule in found:
            meta = getattr(rule, "meta", None)
            if not isinstance(rule, Rule) or not isinstance(meta, RuleMeta):
                errors.append(
                    f"rule plugin {ep.name} = {ep.value} ({dist}): {rule!r} is not a Rule"
                )
                continue
            if meta.code.startswith("NL") and dist.lower() != "netlint":
                errors.append(
                    f"rule plugin {ep.value} ({dist}): codes NL... are reserved for netlint"
                )
                continue
            if meta.code in rules:
                if type(rules[meta.code]) is not type(rule):
                    errors.append(f"rule plugin {ep.value} ({dist}): {meta.code} is already taken")
                continue  # else the same distribution seen twice on sys.path
            if meta.contract_v1:
                errors.append(
                    f"rule plugin {ep.value} ({dist}): {meta.code} uses rule contract v1 "
                    "(`rationale`, or options as a dict); it still runs, but move it to v2: "
                    "`why`/`fix` sections and an Options dataclass (see netlint.api)"
                )
            rules[meta.code] = rule
    ordered = tuple(sorted(rules.values(), key=lambda r: r.meta.code))
    return Catalogue(ordered, tuple(errors))


def _real(path: Path) -> Path:
    """``path`` with its links resolved; never raises (a link loop stays as it is)."""
    return Path(os.path.realpath(path))


def _within(path: Path, top: Path) -> bool:
    return path == top or top in path.parents


def _site_directories() -> list[Path]:
    """Where the running interpreter installs distributions."""
    import site
    import sysconfig

    found = {sysconfig.get_path(name) for name in ("purelib", "platlib")}
    found.update(site.getsitepackages() if hasattr(site, "getsitepackages") else ())
    found.add(site.getusersitepackages())
    return [_real(Path(p)) for p in found if p]


def _in_repo(ep: Plugin, refused: Sequence[Path], installed: Sequence[Path]) -> bool:
    """Whether ``ep``'s metadata was found in or under a refused directory (and not in a
    site-packages of the running interpreter). Metadata whose place is unknown is refused."""
    where = ep.locate()
    if where is None:
        return True
    base = _real(Path(where))
    if any(base == site for site in installed):
        return False
    return any(_within(base, top) for top in refused)


def _plugins(cache_in: Path | None) -> tuple[Plugin, ...]:
    """The group's entry points: from the project's cache when it still matches what is
    installed, else from a scan (then remembered there)."""
    now = catalogue_cache.fingerprint() if cache_in is not None else None
    if cache_in is not None and now is not None:
        cached = catalogue_cache.load(cache_in, GROUP, now)
        if cached is not None:
            return cached
    plugins, cacheable = _scan()
    if cache_in is not None and now is not None and cacheable:
        catalogue_cache.save(cache_in, now, plugins)
    return plugins


def _scan() -> tuple[tuple[Plugin, ...], bool]:
    """Every entry point of the group, from ``importlib.metadata``; and whether the list may be
    cached (each distribution found in a metadata folder on ``sys.path``)."""
    from importlib.metadata import entry_points as scan

    found = []
    cacheable = True
    for ep in scan(group=GROUP):
        dist = None
        if ep.dist is not None:
            # PathDistribution's folder; other kinds of distribution have no place to check.
            folder = getattr(ep.dist, "_path", None)
            if folder is None:
                cacheable = False
            dist = Dist(ep.dist.name, ep.dist.version, "" if folder is None else str(folder))
        else:
            cacheable = False
        found.append(Plugin(ep.name, ep.value, dist))
    return tuple(found), cacheable


def entry_points(*, group: str) -> tuple[Plugin, ...]:
    """``importlib.metadata.entry_points(group=...)`` as netlint reads it (``name``, ``value``,
    ``dist.name``, ``dist.version``): for the rules' group, the very list the last catalogue of
    this process was built from (no second scan), else a scan."""
    if group == GROUP and _loaded is not None:
        return _loaded
    from importlib.metadata import entry_points as scan

    return tuple(
        Plugin(
            ep.name,
            ep.value,
            None if ep.dist is None else Dist(ep.dist.name, ep.dist.version, ""),
        )
        for ep in scan(group=group)
    )


#: importlib.metadata's ``EntryPoint.pattern``: ``module[:attr.attr][ [extras]]``.
_VALUE = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")


def _load(value: str) -> object:
    """What an entry point's value names, as ``EntryPoint.load`` finds it."""
    match = _VALUE.match(value)
    if match is None:
        raise ValueError(f"not an entry point reference: {value!r}")
    module = import_module(match.group("module"))
    attrs = filter(None, (match.group("attr") or "").split("."))
    return functools.reduce(getattr, attrs, module)


def _instantiate(loaded: object) -> list[object]:
    """An entry point's object as rules: a Rule class, a Rule, or a callable returning rules."""
    if isinstance(loaded, type):
        return [loaded()]
    if isinstance(loaded, Rule):
        return [loaded]
    if callable(loaded):
        return list(loaded())
    return [loaded]


def matches(meta: RuleMeta, token: str) -> bool:
    """A code (``NL104``), a code prefix (``NL1``) or a name (``broad-cidr``)."""
    token = token.strip()
    return meta.code.upper().startswith(token.upper()) or token.lower() in meta.names


def is_selected(meta: RuleMeta, select: Sequence[str], ignore: Sequence[str]) -> bool:
    if select and not any(matches(meta, token) for token in select):
        return False
    return not any(matches(meta, token) for token in ignore)


def unknown_tokens(rules: Iterable[Rule], tokens: Iterable[str]) -> list[str]:
    """Tokens that match no rule at all (most likely typos)."""
    metas = [r.meta for r in rules]
    return [t for t in tokens if not any(matches(m, t) for m in metas)]
