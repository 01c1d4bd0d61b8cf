"""Configuration: ``.netlint.yaml`` or ``[tool.netlint]`` in pyproject.toml.

Validated against ``schemas/config.schema.json`` and each rule's option schema; every error names
the config file, line and key, and is a usage error (exit status 2), never a traceback.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from netlint.analysis.context import Rule
from netlint.core.findings import Severity
from netlint.core.rule import RuleMeta
from netlint.core.source import Span, read_bounded
from netlint.core.units import DeclaredUnit
from netlint.read.discover import (
    CONFIG_NAMES,
    MAX_AUTOMATON_GLOBS,
    GlobError,
    compile_glob,
    find_git_root,
)
from netlint.read.parse import ALL, Limits, PathKey, Tree, parse, to_tree
from netlint.read.schema import conforms, dotted, load_schema

#: A config or baseline file bigger than this is refused from its ``stat``, before it is read.
MAX_PROJECT_FILE_BYTES: Final = 8 * 1024 * 1024
#: How deep ``[tool.netlint]`` may nest (the YAML config has the same bound, see ``_load``).
MAX_CONFIG_DEPTH: Final = 64
#: Problems listed in one error; a hostile file must not flood the log.
MAX_PROBLEMS: Final = 50


class ConfigError(Exception):
    """A configuration problem, already formatted as ``path:line:col: message``."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with a config file, where it is: collected so that one error lists
    them all (up to ``MAX_PROBLEMS``). Not an input problem of a rule: a bad config stops
    the run instead of becoming a finding."""

    message: str
    span: Span


def escape(text: str, limit: int = 300) -> str:
    """``text`` fit to quote in a terminal or CI log: control, format (bidi), separator and
    other unprintable characters, lone surrogates included, as ``\\x..`` / ``\\u..``
    escapes; cut to ``limit`` characters."""
    cut = text[:limit]
    out = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in cut)
    return out + "..." if len(text) > limit else out


def _within(path: Path, top: Path) -> bool:
    return path == top or top in path.parents


def read_project_file(path: Path, bound: Path | None, what: str, *, owned: bool = False) -> bytes:
    """The bytes of a file netlint reads as its own (a config file, a baseline).

    ``bound`` is the project the file belongs to: a link that leads out of it is refused,
    not followed (a committed ``.netlint.yaml`` linked to ``~/.git-credentials`` must not be
    read, let alone quoted). So are anything but a regular file (a FIFO would block), a file
    bigger than MAX_PROJECT_FILE_BYTES (judged from ``fstat``, before reading), and a link
    swapped in after the check (the real path is opened with ``O_NOFOLLOW``). With ``owned``
    the file must belong to the user running netlint or to root (see ``_check_owner``). Raises
    ConfigError with a message that names the file, never its content.
    """
    shown = escape(str(path))
    real = Path(os.path.realpath(os.path.abspath(path)))
    if bound is not None and not _within(real, Path(os.path.realpath(bound))):
        raise ConfigError(
            f"{shown}: the {what} is a symbolic link out of the project, to {escape(str(real))}; "
            "netlint does not follow it"
        )
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        reason = "a symbolic link loop" if exc.errno == errno.ELOOP else exc.strerror
        raise ConfigError(f"{shown}: cannot read the {what}: {reason}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{shown}: the {what} is not a regular file")
        if owned:
            _check_owner(shown, info)
        if info.st_size > MAX_PROJECT_FILE_BYTES:
            raise ConfigError(
                f"{shown}: the {what} has {info.st_size} bytes, more than the "
                f"{MAX_PROJECT_FILE_BYTES} netlint reads"
            )
        data = read_bounded(fd, MAX_PROJECT_FILE_BYTES)
        if len(data) > MAX_PROJECT_FILE_BYTES:  # it grew while being read
            raise ConfigError(f"{shown}: the {what} is bigger than {MAX_PROJECT_FILE_BYTES} bytes")
        return data
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read the {what}: {exc.strerror}") from None
    finally:
        os.close(fd)


def _check_owner(shown: str, info: os.stat_result) -> None:
    """Refuse a config file found by searching that another user owns (judged on the open
    file, so a swap after the check changes nothing). Outside a git work tree the search goes
    up to ``/``: anyone who can write to an ancestor (``/tmp``, a shared folder) could plant a
    config with ``exclude: ["**"]`` and silence every run below it. As git's safe.directory,
    files of the current user and of root are trusted; a file given with ``--config`` is the
    user's choice and not checked."""
    me = os.geteuid() if hasattr(os, "geteuid") else None
    if me is None or info.st_uid in (me, 0):
        return
    raise ConfigError(
        f"{shown}: this config file was found by searching the folders above the files to "
        f"lint, and it belongs to another user (uid {info.st_uid}; you are uid {me}); netlint "
        "does not apply a config someone else could have placed there. Name it with --config "
        "to use it anyway, or remove it"
    )


@dataclass(frozen=True, slots=True)
class Config:
    root: Path
    path: Path | None = None
    roots: tuple[Path, ...] = ()
    exclude: tuple[str, ...] = ()
    units: tuple[DeclaredUnit, ...] = ()
    default_namespace: str = "default"
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    fail_on: str = "warning"
    limits: Limits = field(default_factory=Limits)
    rules: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def settings_for(self, meta: RuleMeta) -> Mapping[str, Any]:
        """The config entry for a rule, by code or by name."""
        for token, settings in self.rules.items():
            if meta.answers_to(token):
                return settings
        return {}

    def severity_for(self, meta: RuleMeta) -> Severity | None:
        """The configured severity, the default one, or None when the rule is ``off``."""
        value = self.settings_for(meta).get("severity")
        if value == "off":
            return None
        return Severity(value) if value else meta.severity

    def options_for(self, meta: RuleMeta) -> Any:
        """The rule's typed options (None when it has none): its defaults, with what the
        config sets (validated against the rule's option schema when the config was read)."""
        settings = self.settings_for(meta)
        return meta.make_options({k: v for k, v in settings.items() if k != "severity"})


def find_config(start: Path) -> Path | None:
    """The nearest config file at or above ``start``, not above the git work tree's top.

    Never raises. A config name that exists but is no readable regular file (a link, maybe out
    of the project or dangling, a directory) is still the config: reading it then fails with a
    clear error instead of a silently different configuration. So is a ``pyproject.toml`` that
    cannot be read safely, since whether it holds ``[tool.netlint]`` is not known.
    """
    top = find_git_root(start)
    for directory in (start, *start.parents):
        for name in CONFIG_NAMES:
            if os.path.lexists(directory / name):
                return directory / name
        pyproject = directory / "pyproject.toml"
        if os.path.lexists(pyproject):
            try:
                text = read_project_file(pyproject, top or directory, "config file")
            except ConfigError:
                return pyproject
            # The bytes only rule a file out cheaply; TOML decides: `[tool]` with
            # `netlint = {...}`, a dotted `tool.netlint.select = [...]`, a spaced or quoted
            # header (`[ tool . "netlint" ]`) all configure netlint.
            if b"netlint" in text and _has_netlint_table(text):
                return pyproject
        if directory == top:
            break
    return None


def _has_netlint_table(data: bytes) -> bool:
    """Whether a pyproject.toml sets ``tool.netlint``; True when that cannot be told (not
    UTF-8, not TOML): reading it as the config then fails with the error, instead of a run
    with a silently different configuration."""
    import tomllib  # only for a pyproject.toml: most runs read none

    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return True
    tool = document.get("tool")
    return isinstance(tool, dict) and "netlint" in tool


def load_config(
    path: Path | None, root: Path, rules: Sequence[Rule], *, explicit: bool = False
) -> Config:
    """Read and validate a config file; no file gives the defaults for ``root``.

    A config file inside a git work tree must not be a link out of it; only one named by the
    user (``explicit``) outside any work tree is read wherever it leads. One that was found by
    searching (not ``explicit``) must belong to the current user or root.
    """
    if path is None:
        return Config(root=root, roots=(root,))
    path = Path(os.path.abspath(path))
    bound = find_git_root(path.parent) or (None if explicit else path.parent)
    if explicit:
        # Judge the link by the name the user gave; then read the file as where it leads,
        # whose folder the roots are relative to.
        read_project_file(path, bound, "config file")
        path, bound = Path(os.path.realpath(path)), None
    config = _load(path, rules, bound, owned=not explicit)
    if config.root != root:  # an explicit root wins over the config file's folder
        config = replace(config, root=root)
    return config


def _load(path: Path, rules: Sequence[Rule], bound: Path | None, *, owned: bool) -> Config:
    data = read_project_file(path, bound, "config file", owned=owned)
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
    if not errors:
        errors = _check_values(tree, path.parent)
    if errors:
        shown = [_format(p.span, p.message) for p in errors[:MAX_PROBLEMS]]
        if len(errors) > MAX_PROBLEMS:
            shown.append(f"{escape(str(path))}: ... and {len(errors) - MAX_PROBLEMS} more problems")
        raise ConfigError("\n".join(shown))
    return _build(path, tree)


def _check_values(tree: Tree, base: Path) -> list[ConfigProblem]:
    """What the schema cannot say: every glob compiles, every root exists inside the project."""
    problems: list[ConfigProblem] = []
    data = tree.data if isinstance(tree.data, dict) else {}
    general = 0  # patterns that need the glob automaton, capped: each costs a run per path
    for index, pattern in enumerate(data.get("exclude", ())):
        where: PathKey = ("exclude", index)
        try:
            glob = compile_glob(pattern)
        except GlobError as exc:
            problems.append(ConfigProblem(f"{dotted(where)}: {exc}", tree.span(where)))
            continue
        if glob.kind is None:
            general += 1
            if general == MAX_AUTOMATON_GLOBS + 1:
                message = (
                    f"{dotted(where)}: more than {MAX_AUTOMATON_GLOBS} exclude patterns with "
                    "wildcards in the middle (literal names and paths, `*suffix`, `prefix*` "
                    "and `dir/**` have no limit)"
                )
                problems.append(ConfigProblem(message, tree.span(where)))
    for index, unit in enumerate(data.get("units", ())):
        for number, pattern in enumerate(unit.get("paths", ()) if isinstance(unit, dict) else ()):
            where = ("units", index, "paths", number)
            try:
                compile_glob(pattern)
            except GlobError as exc:
                problems.append(ConfigProblem(f"{dotted(where)}: {exc}", tree.span(where)))
    real_base = Path(os.path.realpath(base))
    for index, name in enumerate(data.get("roots", ())):
        where = ("roots", index)
        shown = _quote(name)
        real = Path(os.path.realpath(base / name))
        try:
            os.stat(base / name)
        except OSError as exc:
            reason = "a symbolic link loop" if exc.errno == errno.ELOOP else "no such directory"
            problems.append(ConfigProblem(f"{dotted(where)}: {shown}: {reason}", tree.span(where)))
            continue
        if not _within(real, real_base):
            problems.append(
                ConfigProblem(
                    f"{dotted(where)}: {shown} is outside the config file's folder",
                    tree.span(where),
                )
            )
    return problems


def _normalize(data: Any) -> None:
    """``severity: off`` unquoted is the boolean false in YAML 1.1: read it as "off"."""
    settings = data.get("rules") if isinstance(data, dict) else None
    if isinstance(settings, dict):
        for entry in settings.values():
            if isinstance(entry, dict) and entry.get("severity") is False:
                entry["severity"] = "off"


def _format(span: Span, message: str) -> str:
    return f"{escape(span.path)}:{span.line}:{span.col}: {escape(message, 500)}"


def _quote(value: Any) -> str:
    """A value of the config file as an error message may show it: short, escaped."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:40])[:-1] + "...'"
    return escape(repr(value), 40)


_KINDS: Final = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _describe(error: Any) -> str:
    """jsonschema's message without the instance it quotes in full (a whole file's content,
    when the file is not a mapping): the value is named by its kind, or quoted short."""
    instance = error.instance
    if error.validator == "type":
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_KINDS.get(str(n), str(n)) for n in names)
        return f"must be {wanted}, not {_kind(instance)}"
    message = str(error.message)
    full = repr(instance)
    if full in message:
        message = message.replace(full, _quote(instance))
    elif isinstance(instance, dict | list | str) and len(full) > 40:
        message = f"{_kind(instance)} that is not valid here ({error.validator})"
    return message


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else type(value).__name__


def _validate(tree: Tree, rules: Sequence[Rule]) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    # jsonschema (about 60 ms to import) only explains a config the cheap check does not pass.
    if conforms(load_schema("config"), tree.data) is not True:
        problems += _schema_problems(tree)
    settings = tree.data.get("rules") if isinstance(tree.data, dict) else None
    if isinstance(settings, dict):
        for token, entry in settings.items():
            # The same lookup as Config.settings_for, old names included.
            rule = next((r for r in rules if r.meta.answers_to(str(token))), None)
            if rule is None:
                problems.append(
                    ConfigProblem(
                        f"rules.{escape(str(token), 60)}: no rule has this code or name "
                        "(see `netlint rules`)",
                        tree.key_span(("rules", token)),
                    )
                )
                continue
            if isinstance(entry, dict):
                problems += _validate_options(tree, ("rules", token), rule.meta)
    return problems


def _schema_problems(tree: Tree) -> list[ConfigProblem]:
    """What jsonschema finds wrong with the config against its schema, each where it is."""
    import jsonschema

    problems: list[ConfigProblem] = []
    validator = jsonschema.Draft7Validator(load_schema("config"))
    for error in sorted(validator.iter_errors(tree.data), key=lambda e: list(map(str, e.path))):
        where: PathKey = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = sorted(error.schema.get("properties", {}))
            for key in error.instance:
                if key not in allowed:
                    problems.append(
                        ConfigProblem(
                            f"unknown setting {_quote(dotted((*where, key)))}; "
                            f"allowed: {', '.join(allowed)}",
                            tree.key_span((*where, key)),
                        )
                    )
            continue
        problems.append(ConfigProblem(f"{dotted(where)}: {_describe(error)}", tree.span(where)))
    return problems


def _validate_options(tree: Tree, where: PathKey, meta: RuleMeta) -> list[ConfigProblem]:
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "severity": {"enum": ["error", "warning", "note", "off"]},
            **meta.option_schema,
        },
    }
    if conforms(schema, tree.get(where)) is True:
        return []
    import jsonschema

    out: list[ConfigProblem] = []
    for error in jsonschema.Draft7Validator(schema).iter_errors(tree.get(where)):
        at: PathKey = (*where, *error.absolute_path)
        if error.validator == "additionalProperties":
            properties: dict[str, Any] = schema["properties"]  # type: ignore[assignment]
            allowed = ", ".join(sorted(properties))
            for key in error.instance:
                if key not in properties:
                    out.append(
                        ConfigProblem(
                            f"{dotted(at)}: {meta.code} has no option {_quote(key)}; "
                            f"allowed: {allowed}",
                            tree.key_span((*at, key)),
                        )
                    )
            continue
        out.append(ConfigProblem(f"{dotted(at)}: {_describe(error)}", tree.span(at)))
    return out


def _build(path: Path, tree: Tree) -> Config:
    base = path.parent
    data: Mapping[str, Any] = tree.data
    limits = data.get("limits", {})
    defaults = Limits()
    return Config(
        root=base,
        path=path,
        roots=tuple(base / r for r in data.get("roots", ["."])),
        exclude=tuple(data.get("exclude", ())),
        units=tuple(
            DeclaredUnit(
                name=unit.get("name", unit["paths"][0]),
                paths=tuple(unit["paths"]),
                namespace=unit.get("namespace"),
                declared_at=str(tree.span(("units", i))),
            )
            for i, unit in enumerate(data.get("units", ()))
        ),
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
    import tomllib

    shown = escape(str(path))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            f"{shown}:{line}:{col}: not valid UTF-8 (byte 0x{data[exc.start]:02x})"
        ) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+), column (\d+)", str(exc))
        line, col = (int(match.group(1)), int(match.group(2))) if match else (1, 1)
        raise ConfigError(f"{shown}:{line}:{col}: invalid TOML: {escape(str(exc))}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError(f"{shown}:1:1: invalid TOML: nested too deeply") from None
    lines = text.splitlines()
    positions = _toml_positions(lines)

    def at(key: tuple[str, ...]) -> tuple[int, int, int]:
        """Line, column and key length of the nearest located ancestor-or-self of ``key``."""
        while key:
            found = positions.get(key)
            if found is not None:
                return (*found, len(key[-1]))
            key = key[:-1]
        return 0, 0, 1

    def span(key: tuple[str, ...]) -> Span:
        line_no, col, width = at(key)
        return Span(str(path), line_no + 1, col + 1, line_no + 1, col + 1 + width)

    tool = document.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(_format(span(("tool",)), "tool: must be a table"))
    section = tool.get("netlint", {})
    spans: dict[PathKey, Span] = {}
    key_spans: dict[PathKey, Span] = {}
    # Iterative, with a depth bound: dotted keys nest without limit and without recursion in
    # tomllib, so the walk (and jsonschema after it) must not recurse on them either.
    stack: list[tuple[tuple[str, ...], Any]] = [((), section)]
    while stack:
        where, value = stack.pop()
        if len(where) > MAX_CONFIG_DEPTH:
            raise ConfigError(
                _format(span(("tool", "netlint", *where)), f"nested deeper than {MAX_CONFIG_DEPTH}")
            )
        spans[where] = key_spans[where] = span(("tool", "netlint", *where))
        if isinstance(value, dict):
            stack.extend(((*where, str(key)), item) for key, item in value.items())
    return Tree(str(path), section, spans, key_spans, [])


_TOML_KEY: Final = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')"""
_TOML_PATH: Final = rf"{_TOML_KEY}(?:[ \t]*\.[ \t]*{_TOML_KEY})*"
_TOML_HEADER: Final = re.compile(rf"[ \t]*\[\[?[ \t]*(?P<path>{_TOML_PATH})[ \t]*\]")
_TOML_ASSIGN: Final = re.compile(rf"[ \t]*(?P<path>{_TOML_PATH})[ \t]*=")
_TOML_PART: Final = re.compile(_TOML_KEY)


def _toml_positions(lines: Sequence[str]) -> dict[tuple[str, ...], tuple[int, int]]:
    """Where each key path of a TOML text is first written: (0-based line, column of its last
    part). One pass over the lines: table headers set the current table, ``key = value`` lines
    (bare, quoted or dotted keys) add to it; the lines of a multi-line string are skipped."""
    found: dict[tuple[str, ...], tuple[int, int]] = {}
    table: tuple[str, ...] = ()
    in_string: str | None = None
    for number, line in enumerate(lines):
        if in_string is not None:
            if line.count(in_string) % 2:
                in_string = None
            continue
        header = _TOML_HEADER.match(line)
        match = header or _TOML_ASSIGN.match(line)
        if match is not None:
            parts = [
                (part.group(), match.start("path") + part.start())
                for part in _TOML_PART.finditer(match.group("path"))
            ]
            names = tuple(_toml_key(name) for name, _ in parts)
            key = names if header else (*table, *names)
            if header:
                table = names
            for depth in range(len(key) - len(names) + 1, len(key) + 1):
                found.setdefault(key[:depth], (number, parts[depth - len(key) - 1][1]))
        for quote in ('"""', "'''"):
            if line.count(quote) % 2:
                in_string = quote
                break
    return found


def _toml_key(part: str) -> str:
    if part[:1] == "'":
        return part[1:-1]
    if part[:1] == '"':
        return re.sub(r"\\(.)", r"\1", part[1:-1])
    return part
