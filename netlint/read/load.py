"""One file in, its model objects and input problems out: the unit of caching and parallelism."""

from __future__ import annotations

import re
from typing import Final

from netlint.core.problems import Problem, ProblemKind
from netlint.read.build import BuildOptions, build_document
from netlint.read.directives import scan
from netlint.read.discover import CONFIG_NAMES
from netlint.read.expectations import (
    is_expectations_document,
    is_expectations_path,
    read_document,
)
from netlint.read.kustomize import KUSTOMIZATION_FILES
from netlint.read.parse import Limits, Parsed, parse

# What a result is lives in netlint.read.result (light to import); these names are netlint's
# way to it from here too.
from netlint.read.result import NOT_A_MANIFEST as NOT_A_MANIFEST
from netlint.read.result import FileResult as FileResult
from netlint.read.result import FileTooLarge as FileTooLarge
from netlint.read.result import blob_id
from netlint.read.result import digest as digest
from netlint.read.result import is_not_a_manifest as is_not_a_manifest
from netlint.read.result import out_of_memory as out_of_memory
from netlint.read.result import unreadable as unreadable

#: A Go-template action where YAML would need a value: at the start of a line, after `- `, or as
#: the unquoted value of a key. Inside quotes or a block scalar (Prometheus rules, Grafana
#: dashboards) `{{` is ordinary text and the file is linted.
#: A key never starts with `- ` (the dashes before it are the sequence's): without that
#: lookahead a line of many `- ` would be split between dashes and key in every way, which
#: is quadratic in the line's length.
_TEMPLATE_LINE: Final = re.compile(
    r"^[ \t]*(?:-[ \t]+)*(?:(?:-(?=\S)|[^\s#'\"{-])[^#'\"]*?:[ \t]+)?\{\{", re.MULTILINE
)
#: The line that opens a block scalar: ``key: |``, ``- >-``, ``key: !!str |2`` (a tag or an
#: anchor may precede the indicator; a comment may follow it). ``lead`` ends where the node
#: that owns the scalar starts: its lines are those indented deeper than that column.
_BLOCK_HEADER: Final = re.compile(
    r"(?P<lead>[ \t]*(?:-[ \t]+)*)"
    r"(?P<key>(?:(?:\"[^\"]*\"|'[^']*')[ \t]*|(?:-(?=\S)|[^\s#'\"{|>-])[^#]*?):[ \t]+)?"
    r"(?:[!&]\S*[ \t]+)*[|>][1-9+-]{0,2}[ \t]*(?:#.*)?"
)

#: What may be a manifest's ``apiVersion`` or ``kind`` key, anywhere in a file's text: the word
#: in any case, whole, maybe closed by a quote, then a colon after nothing but blanks and line
#: breaks (``kind: x``, ``"kind": "x"``, ``'Kind' : x``, ``? kind`` then ``: x``); or the word
#: as an explicit key (``? kind # a comment``, its ``:`` on a later line). Linear in the
#: text's length: the blanks each match scans follow the word (or the ``?``) that starts it,
#: so no character is scanned for two starts (a comment in the first form would be: a line
#: of ``#kind`` per line took minutes).
_MANIFEST_KEY: Final = re.compile(
    r"\b(?:apiversion|kind)\b['\"]?\s*:|\?[ \t]+['\"]?(?:apiversion|kind)\b", re.IGNORECASE
)
#: Files read by their name, that need no apiVersion or kind (lowercase): kustomizations
#: (kustomize's names; any case, as a case-insensitive file system finds them) and netlint's
#: own configuration; expectations files are ``is_expectations_path``'s.
_NAMED_INPUTS: Final = frozenset(name.lower() for name in (*KUSTOMIZATION_FILES, *CONFIG_NAMES))


def is_templated(text: str) -> bool:
    """Whether a Go-template action stands where YAML needs a value (a Helm template).

    A line inside a block scalar is text, whatever it holds: an embedded collector config's
    ``project: {{PROJECT_ID}}`` or a shell script's ``sed s/{{X}}/`` does not make the file a
    template. The regular expression decides most files at once; only a file it matches is
    walked line by line, to learn which matches sit in a block scalar.
    """
    if "{{" not in text or _TEMPLATE_LINE.search(text) is None:
        return False
    return _template_outside_blocks(text)


def _template_outside_blocks(text: str) -> bool:
    """Whether a line outside every block scalar starts a template action."""
    #: While in a block scalar: the column its lines must be deeper than; else -1.
    owner = -1
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if owner >= 0:
            # Blank lines belong to the scalar; a line at the owner's column or left of it
            # ends the scalar and is read as YAML again.
            if not stripped.strip() or len(line) - len(stripped) > owner:
                continue
            owner = -1
        if "{{" in line and _TEMPLATE_LINE.match(line):
            return True
        header = _BLOCK_HEADER.fullmatch(line)
        if header is not None:
            lead = header.group("lead")
            # `key: |` is owned by the key; `- |` by its sequence, at the dash.
            owner = len(lead) if header.group("key") or "-" not in lead else lead.rindex("-")
    return False


def _broken_by_template(parsed: Parsed) -> bool:
    """A syntax error on (or just after) a line with a template action is the template's."""
    if parsed.problem is None or "{{" not in parsed.text:
        return False
    line = parsed.problem.span.line
    lines = parsed.text.split("\n")[max(0, line - 2) : line]
    return any("{{" in text for text in lines)


def not_a_manifest(parsed: Parsed, loaded: FileResult) -> str | None:
    """Why a file that does not parse is passed over as no Kubernetes manifest, or None when
    it may be one (then its syntax error is an NL001).

    All of these must hold: libyaml refused the text's syntax (a limit netlint sets, a bad
    encoding or a control character stays an NL001); the file is not one that is input by
    its name without naming a kind (a kustomization, netlint's config or expectations); no
    ``apiVersion`` or ``kind`` key (any case, quoted or not) appears anywhere in the text,
    after the error included; and the documents read before the error were loaded into
    nothing: no object, no kind, no problem, no patch, no expectation (what a quoted key
    with escapes like ``"\\u006bind"`` may still spell). What follows the error no tool can
    apply either: kubectl and kustomize stop there.
    """
    problem = parsed.problem
    if not parsed.malformed or problem is None:
        return None
    name = loaded.path.rpartition("/")[2].lower()
    if name in _NAMED_INPUTS or is_expectations_path(loaded.path):
        return None
    if loaded.objects or loaded.patches or loaded.expectations or loaded.problems != [problem]:
        return None
    # "(no kind)" is build_document's count of a mapping without one: any other (a List, a
    # patch directive) is a sign, and so is every kind if build ever names that one otherwise.
    if any(kind != "(no kind)" for kind in loaded.kinds):
        return None
    if _MANIFEST_KEY.search(parsed.text) is not None:
        return None
    where = problem.span
    return (
        f"{NOT_A_MANIFEST}: it does not parse (line {where.line} column {where.col}: "
        f"{problem.message}) and names no apiVersion or kind"
    )


def load(
    path: str, data: bytes, options: BuildOptions, limits: Limits, *, pass_over: bool = True
) -> FileResult:
    """Parse and model one file. Never raises for anything the file contains; a MemoryError
    on the way is this file's NL001, not a crash of the run (the partial result is dropped,
    which frees what it held). ``pass_over``: a file that does not parse and shows no sign of
    a manifest is passed over (``not_a_manifest``); False when a build reads it as one."""
    try:
        return _load(path, data, options, limits, pass_over)
    except MemoryError:
        return out_of_memory(path)


def _load(
    path: str, data: bytes, options: BuildOptions, limits: Limits, pass_over: bool
) -> FileResult:
    result = FileResult(path, digest(data), blob=blob_id(data))
    parsed = parse(path, data, limits)
    if (parsed.text and is_templated(parsed.text)) or _broken_by_template(parsed):
        result.skipped = "templated"
        return result
    if parsed.problem is not None:
        result.problems.append(parsed.problem)
    result.directives = scan(path, parsed.text)
    result.documents = len(parsed.documents)
    own_file = is_expectations_path(path)
    for index, node in enumerate(parsed.documents):
        try:
            if own_file or is_expectations_document(node):
                # netlint's own input, not a manifest: no objects, problems as NL002.
                found, problems = read_document(
                    parsed.positions, node, options.max_depth, bare_list=own_file
                )
                result.expectations.extend(found)
                result.problems.extend(problems)
                result.kinds.update(("ConnectivityExpectations",))
                continue
            built = build_document(parsed.positions, index, node, options)
        except MemoryError:
            raise  # the file's, not a bug of this document's: see load
        except Exception as exc:  # a netlint bug: report it at the document, keep the others
            result.problems.append(
                Problem(
                    ProblemKind.INTERNAL,
                    f"netlint failed to read this document: {type(exc).__name__}: {exc} "
                    "(a netlint bug: please report it; the other documents were still linted)",
                    parsed.positions.point(node.start_mark),
                )
            )
            continue
        result.objects.extend(built.objects)
        result.problems.extend(built.problems)
        result.kinds.update(built.kinds)
        result.patches.extend(built.patches)
    why = not_a_manifest(parsed, result) if pass_over else None
    if why is not None:
        # Not linted, as a Helm template is not: listed as passed over, with the reason.
        return FileResult(path, result.digest, skipped=why, blob=result.blob)
    return result
