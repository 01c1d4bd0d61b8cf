"""``netlint init``: set a repository up for netlint.

Writes a commented ``.netlint.yaml`` with the folders that hold manifests as its roots and the
namespaces found listed, adds netlint's hook to ``.pre-commit-config.yaml`` (created, or edited
with its comments and layout kept), and, when the repository has findings already, says how to
adopt netlint with a baseline (or writes one with ``--baseline FILE``).

The repository is untrusted like any linted one: its folder and namespace names go into the
config as quoted strings and onto the terminal escaped; nothing is written through a symbolic
link, and nothing that exists is replaced without ``--force`` (the pre-commit config is edited,
never replaced, and left alone when it has the hook already). Running it again changes nothing.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from netlint import __version__
from netlint.core.escape import text as escape_text
from netlint.core.model import Namespace
from netlint.read.discover import find_git_root, real_path
from netlint.run.config import ConfigError, find_config, load_config, read_project_file
from netlint.run.registry import load_catalogue
from netlint.run.runner import CheckRequest, UsageError, check, layout, write_baseline

CONFIG_NAME: Final = ".netlint.yaml"
PRE_COMMIT_NAME: Final = ".pre-commit-config.yaml"
HOOK_REPO: Final = "https://github.com/netlint/netlint"
HOOK_ID: Final = "netlint"  # .pre-commit-hooks.yaml
BASELINE_HINT: Final = ".netlint-baseline.json"
#: What a Kubernetes namespace name looks like (DNS-1123 label): others are not listed, so a
#: hostile "namespace" cannot put text of its own into the config's comments.
_NAMESPACE: Final = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
#: Listed namespaces, at most (the config says how many more there are).
MAX_LISTED: Final = 50


class InitError(Exception):
    """A refusal or a failure: exit status 2, nothing (more) written."""


@dataclass(slots=True)
class Found:
    """What discovery saw: folders (relative, POSIX) holding manifests, namespaces by name
    (declared by a Namespace object, or only used by objects), the files read."""

    roots: list[str] = field(default_factory=list)
    declared: list[str] = field(default_factory=list)
    used: list[str] = field(default_factory=list)
    manifests: int = 0


@dataclass(slots=True)
class Options:
    root: Path
    force: bool = False
    baseline: Path | None = None
    pre_commit: bool = True


def discover(root: Path) -> Found:
    """The project's manifests as netlint reads them without a config (the whole repository,
    .gitignore applied): the top-level folders that hold Kubernetes objects, and their
    namespaces."""
    # The whole repository as context, whatever roots a config being replaced (--force) has.
    request = CheckRequest(paths=[str(root)], root=root, context=[root], use_cache=False)
    found, _ = layout(request)
    tops: set[str] = set()
    declared: set[str] = set()
    used: set[str] = set()
    manifests = 0
    for result in found.cluster.files.values():
        if not result.objects:
            continue
        manifests += 1
        parts = result.path.split("/")
        tops.add(parts[0] if len(parts) > 1 else ".")
        for obj in result.objects:
            if isinstance(obj, Namespace):
                declared.add(obj.name)
            elif obj.namespace is not None:
                used.add(obj.namespace)
    roots = ["."] if "." in tops or not tops else sorted(tops)
    return Found(
        roots=roots,
        declared=sorted(n for n in declared if _NAMESPACE.fullmatch(n)),
        used=sorted(n for n in used - declared if _NAMESPACE.fullmatch(n)),
        manifests=manifests,
    )


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    more = len(names) - MAX_LISTED
    return shown + (f" (and {more} more)" if more > 0 else "")


def _wrap(text: str, width: int = 96) -> list[str]:
    """``text`` as ``# `` comment lines of at most about ``width`` characters."""
    lines, line = [], "#"
    for word in text.split():
        if len(line) + 1 + len(word) > width and line != "#":
            lines.append(line)
            line = "#"
        line += " " + word
    lines.append(line)
    return lines


def config_text(found: Found) -> str:
    """The commented ``.netlint.yaml`` for what was found. Names are JSON strings (JSON is
    YAML): whatever a folder is called, it stays one quoted value."""
    out = [
        f"# netlint's configuration, written by `netlint init` (netlint {__version__}).",
        "# Every key is optional; schemas/config.schema.json in netlint's repository",
        "# describes them.",
        "#",
        "# What netlint reads as context on every run, relative to this file: the folders",
        f"# that held Kubernetes manifests when it was written ({found.manifests} files).",
        "# A policy's findings depend on the workloads and namespaces in all of them.",
        "roots:",
        *(f"  - {json.dumps(r)}" for r in found.roots),
    ]
    if found.declared or found.used:
        out.append("#")
    if found.declared:
        out += _wrap(f"Namespaces declared (Namespace objects): {_listed(found.declared)}.")
    if found.used:
        out += _wrap(
            "Namespaces used but not declared here (netlint knows only their name label): "
            f"{_listed(found.used)}."
        )
    out += [
        "#",
        "# The namespace of objects without metadata.namespace (what `kubectl apply` uses).",
        "default-namespace: default",
        "# gitignore-style globs of files not to read, e.g. vendored charts:",
        '# exclude: ["**/vendor/**"]',
        "# Rules to run or skip (codes, prefixes like NL1, or names); `netlint rules` lists them.",
        "# select: [NL]",
        "# ignore: [NL207]",
        "# The lowest severity that makes `netlint check` fail: error, warning, note or never.",
        "fail-on: warning",
        "# Per-rule settings: a severity (error, warning, note or off) and the rule's options.",
        "# rules:",
        "#   broad-cidr: {severity: error}",
        "",
    ]
    return "\n".join(out)


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InitError(f"{_shown(path)}: {exc.strerror}") from None


def _shown(path: Path) -> str:
    return escape_text(str(path))


def _writable_target(path: Path, *, force: bool) -> bool:
    """Whether ``path`` may be written: it does not exist (True), or is a regular file and
    ``force`` is set (True). A link or anything else is an InitError, forced or not."""
    info = _lstat(path)
    if info is None:
        return True
    if stat.S_ISLNK(info.st_mode):
        raise InitError(
            f"{_shown(path)} is a symbolic link; netlint init does not write through it"
        )
    if not stat.S_ISREG(info.st_mode):
        raise InitError(f"{_shown(path)} exists and is not a regular file")
    if not force:
        raise InitError(
            f"{_shown(path)} exists; netlint init does not overwrite it without --force"
        )
    return True


def _write_atomic(path: Path, text: str, check: Callable[[Path], None] | None = None) -> None:
    """Write ``text`` to a new file beside ``path`` and rename it over ``path``: a reader sees
    the old file or the new one, a failed ``check`` of the new file leaves the old one, and the
    rename replaces the name itself, never what a link there points to."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        if check is not None:
            check(Path(temp))
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def write_config(root: Path, text: str, *, force: bool) -> str:
    """Write ``.netlint.yaml``; returns what happened ("wrote", "unchanged")."""
    path = root / CONFIG_NAME
    info = _lstat(path)
    if info is not None and stat.S_ISREG(info.st_mode):
        try:
            if read_project_file(path, root, "config file") == text.encode("utf-8"):
                return "unchanged"
        except ConfigError as exc:
            raise InitError(str(exc)) from None
    _writable_target(path, force=force)
    rules = load_catalogue().rules

    def valid(candidate: Path) -> None:
        # The file netlint will read must be one it accepts: checked before it takes the name.
        try:
            load_config(candidate, root, rules)
        except ConfigError as exc:
            raise InitError(f"netlint init wrote an invalid config (a bug): {exc}") from None

    _write_atomic(path, text, valid)
    return "wrote"


def _yaml(text: str = "") -> YAML:
    """A round-trip YAML that keeps comments and quotes and, as far as ruamel can, the
    layout: the list indentation is the file's own (ruamel applies one to the whole file), as
    its first ``- `` item under a key shows; pre-commit's own style otherwise."""
    yaml = YAML(typ="rt", pure=True)
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long line of the user's
    item = re.search(r"^[^\s#][^\n]*:[ \t]*\n(?:[ \t]*(?:#[^\n]*)?\n)*( *)- +\S", text, re.M)
    offset = len(item[1]) if item else 2
    yaml.indent(mapping=2, sequence=offset + 2, offset=offset)
    return yaml


NEW_PRE_COMMIT: Final = """\
# pre-commit hooks (https://pre-commit.com): `pre-commit install` runs them before each commit.
repos:
"""


def _hook_entry() -> CommentedMap:
    hook = CommentedMap([("id", HOOK_ID)])
    entry = CommentedMap([("repo", HOOK_REPO), ("rev", f"v{__version__}")])
    entry["hooks"] = CommentedSeq([hook])
    entry.yaml_add_eol_comment("the netlint release installed when `netlint init` ran", "rev")
    return entry


def _has_hook(repos: Iterable[Any]) -> bool:
    for repo in repos:
        hooks = repo.get("hooks") if isinstance(repo, dict) else None
        if isinstance(hooks, list) and any(
            isinstance(h, dict) and h.get("id") == HOOK_ID for h in hooks
        ):
            return True
    return False


def add_hook(root: Path) -> str:
    """Add netlint's hook to the pre-commit config: "created", "added" or "unchanged"."""
    path = root / PRE_COMMIT_NAME
    info = _lstat(path)
    if info is None:
        text, status = NEW_PRE_COMMIT, "created"
    else:
        if stat.S_ISLNK(info.st_mode):
            raise InitError(
                f"{_shown(path)} is a symbolic link; netlint init does not write through it"
            )
        try:
            text = read_project_file(path, root, "pre-commit config").decode("utf-8")
        except ConfigError as exc:
            raise InitError(str(exc)) from None
        except UnicodeDecodeError:
            raise InitError(f"{_shown(path)}: not UTF-8") from None
        status = "added"
    yaml = _yaml(text)
    try:
        document = yaml.load(text)
    except (YAMLError, RecursionError) as exc:
        raise InitError(f"{_shown(path)}: not valid YAML ({escape_text(str(exc))})") from None
    if document is None:
        document = CommentedMap()
    if not isinstance(document, dict):
        raise InitError(f"{_shown(path)}: expected a mapping with `repos:` at the top")
    repos = document.get("repos")
    if repos is None:
        repos = document["repos"] = CommentedSeq()
    if not isinstance(repos, list):
        raise InitError(f"{_shown(path)}: `repos:` is not a list")
    if _has_hook(repos):
        return "unchanged"
    repos.append(_hook_entry())
    buffer = io.StringIO()
    yaml.dump(document, buffer)

    def same_hooks(candidate: Path) -> None:
        # What was there is still there, plus the hook: the edit lost nothing in the dump.
        reread = _yaml(text).load(candidate.read_text(encoding="utf-8"))
        if reread["repos"][:-1] != repos[:-1] or not _has_hook(reread["repos"][-1:]):
            raise InitError(f"{_shown(path)}: could not add the hook without changing the file")

    _write_atomic(path, buffer.getvalue(), same_hooks)
    return status


def _check_config_free(root: Path) -> None:
    """Refuse when another config file configures this project (``.netlint.yml``,
    ``[tool.netlint]`` in pyproject.toml, or one in a folder above): ``init`` writes
    ``.netlint.yaml`` at the project's top only, and that one ``write_config`` judges."""
    found = find_config(root)
    if found is not None and found != root / CONFIG_NAME:
        raise InitError(
            f"{_shown(found)} configures this project already; edit it, or remove it and run "
            "netlint init again"
        )


def run(options: Options, say: Callable[[str], None]) -> int:
    """Set the repository at ``options.root`` up; ``say`` prints a line (escaped by the
    caller). Exit status 0, or 2 with the reason said."""
    root = options.root
    try:
        _check_config_free(root)
        if options.baseline is not None:
            _writable_target(options.baseline, force=options.force)
        found = discover(root)
        status = write_config(root, config_text(found), force=options.force)
        say(f"{status} {CONFIG_NAME}: roots {', '.join(found.roots)}")
        if options.pre_commit:
            hook = add_hook(root)
            what = {
                "created": f"created {PRE_COMMIT_NAME} with the netlint hook",
                "added": f"added the netlint hook to {PRE_COMMIT_NAME}",
                "unchanged": f"{PRE_COMMIT_NAME} has the netlint hook already",
            }[hook]
            say(what)
        request = CheckRequest(root=root, use_cache=False)
        outcome = check(request)
        count = len(outcome.report.findings)
        if count == 0:
            say("no findings")
        elif options.baseline is not None:
            written = write_baseline(outcome, options.baseline)
            say(
                f"{count} findings; wrote {written} to the baseline {options.baseline}: add "
                f"`--baseline {options.baseline}` to `netlint check` (and `args:` of the hook)"
            )
        else:
            say(
                f"{count} findings. To adopt netlint with them accepted, record them once: "
                f"`netlint check --write-baseline {BASELINE_HINT}`, then run "
                f"`netlint check --baseline {BASELINE_HINT}` (and add `args: [--baseline, "
                f"{BASELINE_HINT}]` to the hook); or run `netlint init --baseline "
                f"{BASELINE_HINT}`"
            )
    except (InitError, UsageError) as exc:
        say(str(exc))
        return 2
    except OSError as exc:
        say(f"{exc.filename or root}: {exc.strerror}")
        return 2
    return 0


def project_top(start: Path) -> Path:
    """Where ``netlint init`` sets up: the git work tree's top, else ``start``."""
    start = real_path(start)
    return find_git_root(start) or start
