"""Configuration: ``.netlint.yaml`` or ``[tool.netlint]`` in pyproject.toml.

Validated against ``schemas/config.schema.json`` and each rule's option schema; every error names
the config file, line and key, and is a usage error (exit status 2), never a traceback.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from netlint.api import Rule, RuleMeta
from netlint.discover import CONFIG_NAMES, find_git_root
from netlint.findings import Severity
from netlint.parse import ALL, Limits, PathKey, Problem, Tree, parse, to_tree
from netlint.schema import dotted, load_schema
from netlint.source import Span


class ConfigError(Exception):
    """A configuration problem, already formatted as ``path:line:col: message``."""


@dataclass(frozen=True, slots=True)
class Config:
    root: Path
    path: Path | None = None
    roots: tuple[Path, ...] = ()
    exclude: tuple[str, ...] = ()
    default_namespace: str = "default"
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    fail_on: str = "warning"
    limits: Limits = field(default_factory=Limits)
    rules: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def settings_for(self, meta: RuleMeta) -> Mapping[str, Any]:
        """The config entry for a rule, by code or by name."""
        for token, settings in self.rules.items():
            if token.upper() == meta.code or token.lower() == meta.name:
                return settings
        return {}

    def severity_for(self, meta: RuleMeta) -> Severity | None:
        """The configured severity, the default one, or None when the rule is ``off``."""
        value = self.settings_for(meta).get("severity")
        if value == "off":
            return None
        return Severity(value) if value else meta.severity

    def options_for(self, meta: RuleMeta) -> dict[str, Any]:
        settings = self.settings_for(meta)
        options = dict(meta.options)
        options.update({k: v for k, v in settings.items() if k != "severity"})
        return options


def find_config(start: Path) -> Path | None:
    """The nearest config file at or above ``start``, not above the git work tree's top."""
    top = find_git_root(start)
    for directory in (start, *start.parents):
        for name in CONFIG_NAMES:
            if (directory / name).is_file():
                return directory / name
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and "[tool.netlint" in _read_text(pyproject):
            return pyproject
        if directory == top:
            break
    return None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def load_config(path: Path | None, root: Path, rules: Sequence[Rule]) -> Config:
    """Read and validate a config file; no file gives the defaults for ``root``."""
    if path is None:
        return Config(root=root, roots=(root,))
    config = _load(path, rules)
    if config.root != root:  # an explicit root wins over the config file's folder
        config = replace(config, root=root)
    return config


def _load(path: Path, rules: Sequence[Rule]) -> Config:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    if path.name == "pyproject.toml":
        tree = _toml_tree(path, data)
    else:
        parsed = parse(str(path), data, Limits())
        if parsed.problem is not None:
            raise ConfigError(_format(parsed.problem.span, parsed.problem.message))
        if not parsed.documents:
            return Config(root=path.parent, path=path, roots=(path.parent,))
        if len(parsed.documents) > 1:
            raise ConfigError(f"{path}:1:1: a config file holds one YAML document")
        tree = to_tree(str(path), parsed.documents[0], ALL, 64, parsed.positions)
        if tree.problems:
            raise ConfigError(_format(tree.problems[0].span, tree.problems[0].message))
    if tree.data is None:
        tree.data = {}
    _normalize(tree.data)
    errors = _validate(tree, rules)
    if errors:
        raise ConfigError("\n".join(_format(p.span, p.message) for p in errors))
    return _build(path, tree.data)


def _normalize(data: Any) -> None:
    """``severity: off`` unquoted is the boolean false in YAML 1.1: read it as "off"."""
    settings = data.get("rules") if isinstance(data, dict) else None
    if isinstance(settings, dict):
        for entry in settings.values():
            if isinstance(entry, dict) and entry.get("severity") is False:
                entry["severity"] = "off"


def _format(span: Span, message: str) -> str:
    return f"{span.path}:{span.line}:{span.col}: {message}"


def _validate(tree: Tree, rules: Sequence[Rule]) -> list[Problem]:
    import jsonschema

    problems: list[Problem] = []
    validator = jsonschema.Draft7Validator(load_schema("config"))
    for error in sorted(validator.iter_errors(tree.data), key=lambda e: list(map(str, e.path))):
        where: PathKey = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = sorted(error.schema.get("properties", {}))
            for key in error.instance:
                if key not in allowed:
                    problems.append(
                        Problem(
                            "config",
                            f"unknown setting {dotted((*where, key))!r}; "
                            f"allowed: {', '.join(allowed)}",
                            tree.key_span((*where, key)),
                        )
                    )
            continue
        problems.append(Problem("config", f"{dotted(where)}: {error.message}", tree.span(where)))
    settings = tree.data.get("rules") if isinstance(tree.data, dict) else None
    if isinstance(settings, dict):
        for token, entry in settings.items():
            rule = next(
                (
                    r
                    for r in rules
                    if str(token).upper() == r.meta.code or str(token).lower() == r.meta.name
                ),
                None,
            )
            if rule is None:
                problems.append(
                    Problem(
                        "config",
                        f"rules.{token}: no rule has this code or name (see `netlint rules`)",
                        tree.key_span(("rules", token)),
                    )
                )
                continue
            if isinstance(entry, dict):
                problems += _validate_options(tree, ("rules", token), rule.meta)
    return problems


def _validate_options(tree: Tree, where: PathKey, meta: RuleMeta) -> list[Problem]:
    import jsonschema

    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "severity": {"enum": ["error", "warning", "note", "off"]},
            **meta.options_schema,
        },
    }
    out: list[Problem] = []
    for error in jsonschema.Draft7Validator(schema).iter_errors(tree.get(where)):
        at: PathKey = (*where, *error.absolute_path)
        if error.validator == "additionalProperties":
            properties: dict[str, Any] = schema["properties"]  # type: ignore[assignment]
            allowed = ", ".join(sorted(properties))
            for key in error.instance:
                if key not in properties:
                    out.append(
                        Problem(
                            "config",
                            f"{dotted(at)}: {meta.code} has no option {key!r}; allowed: {allowed}",
                            tree.key_span((*at, key)),
                        )
                    )
            continue
        out.append(Problem("config", f"{dotted(at)}: {error.message}", tree.span(at)))
    return out


def _build(path: Path, data: Mapping[str, Any]) -> Config:
    base = path.parent
    limits = data.get("limits", {})
    defaults = Limits()
    return Config(
        root=base,
        path=path,
        roots=tuple(base / r for r in data.get("roots", ["."])),
        exclude=tuple(data.get("exclude", ())),
        default_namespace=data.get("default-namespace", "default"),
        select=tuple(data.get("select", ())),
        ignore=tuple(data.get("ignore", ())),
        fail_on=data.get("fail-on", "warning"),
        limits=Limits(
            max_file_bytes=limits.get("max-file-bytes", defaults.max_file_bytes),
            max_documents=limits.get("max-documents", defaults.max_documents),
            max_depth=limits.get("max-depth", defaults.max_depth),
            max_alias_expansion=limits.get("max-alias-expansion", defaults.max_alias_expansion),
        ),
        rules=dict(data.get("rules", {})),
    )


def _toml_tree(path: Path, data: bytes) -> Tree:
    """``[tool.netlint]`` as a Tree; tomllib keeps no positions, so keys are found by line."""
    text = data.decode("utf-8", errors="replace")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+), column (\d+)", str(exc))
        line, col = (int(match.group(1)), int(match.group(2))) if match else (1, 1)
        raise ConfigError(f"{path}:{line}:{col}: invalid TOML: {exc}") from None
    section = document.get("tool", {}).get("netlint", {})
    lines = text.splitlines()
    header = next(
        (i for i, line in enumerate(lines) if line.strip().startswith("[tool.netlint")), 0
    )
    spans: dict[PathKey, Span] = {}
    key_spans: dict[PathKey, Span] = {}

    def locate(where: PathKey, value: Any) -> None:
        line_no = header
        for i in range(header, len(lines)):
            stripped = lines[i].strip()
            name = str(where[-1]) if where else ""
            if name and (
                stripped.startswith((f"{name} ", f"{name}=", f'"{name}"'))
                or stripped.startswith(f"[tool.netlint.{'.'.join(map(str, where))}]")
            ):
                line_no = i
                break
        col = max(lines[line_no].find(str(where[-1])) if where and lines else 0, 0)
        span = Span(
            str(path),
            line_no + 1,
            col + 1,
            line_no + 1,
            col + 1 + len(str(where[-1]) if where else "x"),
        )
        spans[where] = key_spans[where] = span
        if isinstance(value, dict):
            for key, item in value.items():
                locate((*where, key), item)

    locate((), section)
    return Tree(str(path), section, spans, key_spans, [])
