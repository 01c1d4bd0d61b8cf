"""YAML/JSON parsing with positions, and the limits that keep hostile files harmless.

Documents are composed into node trees by libyaml's C parser (see :mod:`netlint.read.composer` for
the binding): several times faster than a Python composer (docs/performance.md). Its resolver is
a no-op: scalars are typed later, only where netlint reads them, with the YAML 1.1 rules that
Kubernetes' own YAML decoder (go-yaml v2 behind sigs.k8s.io/yaml) applies, so ``yes`` is a
boolean here as it is for the API server. Nothing is ever constructed from a tag, so
``!!python/...`` tags are inert.

Node trees are converted to plain data (``Tree``) with a span for every key and value, guided by
a *shape* that names the parts a rule may read, and dropped right after: keeping every node tree
alive costs gigabytes on a large monorepo.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import ModuleType
from typing import Any, Final

from netlint.core.problems import Problem, ProblemKind
from netlint.core.source import Positions, Span, point, text_point

PathKey = tuple[str | int, ...]
#: A composed libyaml node; code dispatches on ``node.id`` (scalar, sequence, mapping).
Node = Any


def _binding() -> ModuleType:
    """:mod:`netlint.read.composer`, imported when a file is first parsed: a run that parses
    nothing (a warm check, an explain answered by the cache) never imports PyYAML, 20 ms."""
    global tag_of
    from netlint.read import composer

    tag_of = composer.tag_of
    return composer


def _first_tag(node: Node) -> str:
    return _binding().tag_of(node)  # type: ignore[no-any-return]


#: The tag written on a node (see :mod:`netlint.read.composer`): the binding's own function
#: once it is imported (nodes exist only after it is).
tag_of: Callable[[Node], str] = _first_tag


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what one file may cost. Each breach is an NL001 finding, never a crash."""

    max_file_bytes: int = 5 * 1024 * 1024
    max_documents: int = 10_000
    max_depth: int = 256
    #: Nodes a document may expand to through aliases (the "billion laughs" guard).
    max_alias_expansion: int = 100_000


class ParseFailure(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def decode(path: str, data: bytes) -> str:
    """Decode file bytes as YAML allows (UTF-8, or UTF-16/32 with a BOM); raise ParseFailure."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        encoding = "utf-32"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        prefix = data[: exc.start].decode(encoding, errors="replace")
        raise ParseFailure(
            Problem(
                ProblemKind.SYNTAX,
                f"invalid {exc.encoding.upper().replace('-SIG', '')} byte sequence "
                f"{data[exc.start : exc.start + 4]!r}: {exc.reason}",
                text_point(path, prefix, len(prefix)),
            )
        ) from None
    bad = _CONTROL.search(text)
    if bad:
        char = bad.group()
        if char == "\x00":
            what = "a NUL byte (binary file?)"
        elif char <= "\x9f":
            what = f"the control character U+{ord(char):04X}"
        else:
            what = f"U+{ord(char):04X} (not a printable character)"
        raise ParseFailure(
            Problem(
                ProblemKind.SYNTAX,
                f"{what} is not allowed in YAML",
                text_point(path, text, bad.start()),
            )
        )
    return text


# What libyaml's reader refuses, found here first so that the error points at the character
# (libyaml's ReaderError carries no line). Its check (yaml_parser_update_buffer in reader.c)
# accepts exactly the YAML 1.1 printable set: tab, LF, CR, U+0020-U+007E, NEL (U+0085, a YAML
# 1.1 line break), U+00A0-U+D7FF, U+E000-U+FFFD, U+10000-U+10FFFF. Everything else is refused:
# C0 controls but tab, LF and CR; DEL; C1 controls but NEL; surrogates; U+FFFE and U+FFFF.
# Written as that refused set, not as the complement of the accepted one: the same characters
# (tests/test_parse.py compares the two over every code point), and compiling the complement's
# wide ranges cost 9 ms of every run's start.
_CONTROL: Final = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]"
)


def _marked_problem(positions: Positions, exc: Any) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    parts = [p for p in (exc.context, exc.problem) if p]
    message = "; ".join(parts) if parts else "invalid YAML"
    if (
        exc.context
        and exc.context_mark is not None
        and exc.problem_mark is not None
        and exc.context_mark.line != exc.problem_mark.line
    ):
        message += f" (started at line {positions.point(exc.context_mark).line})"
    if mark is None:
        return Problem(ProblemKind.SYNTAX, message, point(positions.path, 0, 0))
    return Problem(ProblemKind.SYNTAX, message, positions.point(mark))


def _depth_bound(text: str) -> int:
    """A cheap upper bound on nesting depth.

    Block collections nest only by indenting (one indentless sequence per mapping level aside),
    so their depth is at most twice the longest line; flow collections need a bracket each.
    """
    longest = max(map(len, text.split("\n")))
    return 2 * (longest + 1) + text.count("[") + text.count("{")


def _check_depth(positions: Positions, text: str, limit: int) -> None:
    """Refuse nesting deeper than ``limit`` before the (recursive, C) composer sees it.

    libyaml's composer recurses in C without a bound and crashes the interpreter on very deep
    input, so the exact check walks the event stream, which is flat. The limit is netlint's,
    whatever libyaml is installed: libyaml 0.2.6 refuses flow nesting past 1,000 levels itself,
    and its scanner reads up to 1,024 characters ahead of the events it has delivered, so on
    ``[[[[...`` it fails before the event that breaks netlint's bound arrives. When libyaml
    fails, the walk is run again on the text before the failure, which nests no deeper than
    libyaml allows; what breaks netlint's bound there is reported in netlint's words.
    """
    if _depth_bound(text) <= limit:
        return
    stop = _walk_depth(positions, text, limit)
    if stop is None:
        return
    # Raises where the prefix nests too deep; the prefix's own end is an error, ignored here.
    _walk_depth(positions, text[: stop.problem_mark.index], limit)
    if _is_nesting(stop):
        # libyaml's own limit, at a depth no lower than netlint's (max-depth is at most 1,000).
        raise _too_deep(positions, stop.problem_mark, limit)
    # Otherwise a syntax error before anything too deep: the composer reports it.


def _walk_depth(positions: Positions, text: str, limit: int) -> Any:
    """Raise ParseFailure at the first collection deeper than ``limit``; else the error
    libyaml stopped with (its ``problem_mark`` carries the character index), or None."""
    binding = _binding()
    parser = binding.Composer(text)
    depth = 0
    try:
        while parser.check_event():
            event = parser.get_event()
            name = type(event).__name__
            if name in ("SequenceStartEvent", "MappingStartEvent"):
                depth += 1
                if depth > limit:
                    raise _too_deep(positions, event.start_mark, limit)
            elif name in ("SequenceEndEvent", "MappingEndEvent"):
                depth -= 1
    except binding.MarkedError as exc:
        return exc if getattr(exc, "problem_mark", None) is not None else None
    finally:
        parser.dispose()
    return None


def _is_nesting(exc: Any) -> bool:
    # libyaml 0.2.6: "exceeded maximum nesting depth"; later: "Maximum nesting level reached".
    return "nesting" in f"{exc.context} {exc.problem}".lower()


def _too_deep(positions: Positions, mark: Any, limit: int) -> ParseFailure:
    return ParseFailure(
        Problem(ProblemKind.SYNTAX, f"nesting deeper than {limit} levels", positions.point(mark))
    )


def _expansion_size(root: Node, positions: Positions, limit: int, budget: int) -> int:
    """Refuse documents whose aliases expand beyond ``limit`` nodes, or add more than
    ``budget`` nodes (what is left of the file's), or refer to themselves; return how many
    nodes the aliases add (the expanded size less the distinct nodes).

    Composed nodes are shared, not copied, for each alias; sizes are memoised per node so this
    costs one pass over the distinct nodes.
    """
    size: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        nid = id(node)
        if done:
            on_stack.discard(nid)
            total = 1
            for child in _children(node):
                total += size[id(child)]
            if total > limit:
                raise ParseFailure(
                    Problem(
                        ProblemKind.SYNTAX,
                        f"aliases expand this document beyond {limit} nodes (alias bomb?)",
                        positions.point(node.start_mark),
                    )
                )
            size[nid] = total
            continue
        if nid in size:
            continue
        if nid in on_stack:
            raise _recursive(node, positions)
        on_stack.add(nid)
        stack.append((node, True))
        for child in _children(node):
            cid = id(child)
            if cid in on_stack:
                raise _recursive(child, positions)
            if cid not in size:
                stack.append((child, False))
    added = size[id(root)] - len(size)
    if added > budget:
        # Each document within the limit, but together they would cost limit x documents.
        raise ParseFailure(
            Problem(
                ProblemKind.SYNTAX,
                f"aliases add more than {limit} nodes to this file's documents in all "
                "(alias bomb?)",
                positions.point(root.start_mark),
            )
        )
    return added


def _recursive(node: Node, positions: Positions) -> ParseFailure:
    return ParseFailure(
        Problem(
            ProblemKind.SYNTAX,
            "recursive alias: the node anchored here contains an alias of itself",
            positions.point(node.start_mark),
        )
    )


def _children(node: Node) -> Iterator[Node]:
    if node.id == "mapping":
        for key, value in node.value:
            yield key
            yield value
    elif node.id == "sequence":
        yield from node.value


@dataclass(slots=True)
class Parsed:
    """The documents of one file, and what went wrong reading it (at most one NL001)."""

    text: str
    positions: Positions
    documents: list[Node] = field(default_factory=list)
    problem: Problem | None = None
    #: Whether ``problem`` is the YAML/JSON syntax of the text, as libyaml refused it (not a
    #: limit netlint sets, nor an encoding or a character that cannot be read as text).
    malformed: bool = False


def size_problem(path: str, size: int, limits: Limits) -> Problem:
    """The NL001 of a file over ``limits.max_file_bytes`` (judged from its stat where it can be,
    so that such a file is never read)."""
    return Problem(
        ProblemKind.SYNTAX,
        f"file is {size:,} bytes, over the {limits.max_file_bytes:,}-byte limit "
        "(limits.max_file_bytes); not parsed",
        point(path, 0, 0),
    )


def parse(path: str, data: bytes, limits: Limits) -> Parsed:
    """Compose every document of a file; a failure keeps the documents before it."""
    if len(data) > limits.max_file_bytes:
        return Parsed("", Positions(path), problem=size_problem(path, len(data), limits))
    try:
        text = decode(path, data)
    except ParseFailure as failure:
        return Parsed("", Positions(path), problem=failure.problem)
    positions = Positions(path, text)
    result = Parsed(text, positions)
    binding = _binding()
    try:
        _check_depth(positions, text, limits.max_depth)
        may_alias = "*" in text and "&" in text
        added = 0  # nodes aliases added to the documents so far: the file's budget is the limit
        # libyaml reads the UTF-8 bytes directly; other encodings go in as text.
        parser = binding.Composer(
            data if not data.startswith((b"\xff", b"\xfe", b"\x00")) else text
        )
        try:
            while parser.check_node():
                node = parser.get_node()
                if len(result.documents) >= limits.max_documents:
                    raise ParseFailure(
                        Problem(
                            ProblemKind.SYNTAX,
                            f"more than {limits.max_documents:,} documents in one file "
                            "(limits.max_documents); the rest are not read",
                            positions.point(node.start_mark),
                        )
                    )
                if may_alias:
                    left = limits.max_alias_expansion - added
                    added += _expansion_size(node, positions, limits.max_alias_expansion, left)
                result.documents.append(node)
        finally:
            parser.dispose()
    except ParseFailure as failure:
        result.problem = failure.problem
    except binding.MarkedError as exc:
        result.problem = _marked_problem(positions, exc)
        result.malformed = True
    except binding.YAMLError as exc:  # e.g. a ReaderError, which carries no mark
        bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0  # read by libyaml, not in text
        where = _reader_point(path, text, exc, bom)
        result.problem = Problem(ProblemKind.SYNTAX, str(exc).split("\n")[0], where)
        result.malformed = True
    return result


def _reader_point(path: str, text: str, exc: Any, skip: int = 0) -> Span:
    """Where an error without a mark happened. decode refuses what libyaml's reader refuses
    first, so this is a fallback for a libyaml that refuses more; both bindings' ReaderError
    carries the offset into the UTF-8 bytes libyaml read (text is encoded to UTF-8 for it),
    ``skip`` bytes of a byte order mark that ``text`` lacks included."""
    offset = getattr(exc, "position", None)
    if not isinstance(offset, int) or offset < skip:
        return point(path, 0, 0)
    encoded = text.encode("utf-8", "surrogatepass")
    index = len(encoded[: offset - skip].decode("utf-8", "ignore"))
    return text_point(path, text, min(index, len(text)))


# ---------------------------------------------------------------------------------------------
# Scalars: YAML 1.1 as go-yaml v2 resolves plain scalars for the Kubernetes API server.

_BOOL: Final = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "on", "On", "ON"), True),
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "off", "Off", "OFF"), False),
    **dict.fromkeys(("false", "False", "FALSE"), False),
}
_NULL: Final = frozenset(("", "~", "null", "Null", "NULL"))
_INT: Final = re.compile(r"[-+]?(?:0b[01_]+|0x[0-9a-fA-F_]+|0o?[0-7_]+|[0-9][0-9_]*)")
_FLOAT: Final = re.compile(r"[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?")
_SPECIAL_FLOAT: Final = {
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), float("inf")),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), float("-inf")),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), float("nan")),
}
_CORE: Final = "tag:yaml.org,2002:"
_SCALAR_TYPES: Final = {"int": int, "float": float, "bool": bool, "null": type(None)}
#: The tags a Kubernetes manifest may use on collections (JSON has nothing else).
_COLLECTION_TAGS: Final = frozenset((_CORE + "map", _CORE + "seq"))


class UnsupportedTag(ValueError):
    pass


def resolve_plain(text: str) -> Any:
    """The value of an untagged plain scalar."""
    if not text or text[0] in "~nNyYtTfFoO":
        if text in _NULL:
            return None
        flag = _BOOL.get(text)
        if flag is not None:
            return flag
        return text
    first = text[0]
    if first.isdigit() or first in "-+.":
        if _INT.fullmatch(text):
            digits = text.replace("_", "")
            sign = -1 if digits[0] == "-" else 1
            body = digits.lstrip("+-")
            if body.startswith("0b"):
                return sign * int(body[2:], 2)
            if body.startswith("0x"):
                return sign * int(body[2:], 16)
            if len(body) > 1 and body[0] == "0":
                return sign * int(body.lstrip("0o") or "0", 8)
            return sign * int(body)
        if _FLOAT.fullmatch(text):
            return float(text.replace("_", ""))
        special = _SPECIAL_FLOAT.get(text)
        if special is not None:
            return special
    return text


def scalar_value(node: Node) -> Any:
    """The value of a scalar node, honouring core-schema tags and refusing all others."""
    tag = tag_of(node)
    if not tag:
        if node.style:  # quoted, literal or folded: always a string
            return node.value
        return resolve_plain(node.value)
    if tag.startswith(_CORE):
        kind = tag[len(_CORE) :]
        if kind == "str":
            return node.value
        expected = _SCALAR_TYPES.get(kind)
        if expected is not None:
            resolved = resolve_plain(node.value)
            if type(resolved) is expected:
                return resolved
            if kind == "float" and type(resolved) is int:
                return float(resolved)
            raise UnsupportedTag(f"{node.value!r} is not a valid !!{kind}")
    raise UnsupportedTag(f"tag {node.tag} is not supported in a Kubernetes manifest")


# ---------------------------------------------------------------------------------------------
# Node trees to plain data with spans


class _All:
    """Shape marker: convert everything below."""


ALL: Final = _All()
#: A shape says which parts of a document to convert: ALL, or a mapping from key to the shape of
#: its value ("*" for any other key), or a one-element list giving the shape of every item.
Shape = Any


@dataclass(slots=True)
class Tree:
    """Plain data of a (part of a) document, with the span of every key and value converted."""

    path: str
    data: Any
    spans: dict[PathKey, Span]
    key_spans: dict[PathKey, Span]
    problems: list[Problem]

    def span(self, where: PathKey) -> Span:
        """The span of the value at ``where``, or of its nearest converted ancestor."""
        while where not in self.spans and where:
            where = where[:-1]
        return self.spans[where]

    def key_span(self, where: PathKey) -> Span:
        """The span of the key that holds ``where`` (its value span for list items)."""
        found = self.key_spans.get(where)
        return found if found is not None else self.span(where)

    def head_span(self, where: PathKey) -> Span:
        """A one-line span that names the node: its key, or its own first line."""
        found = self.key_spans.get(where)
        if found is not None:
            return found
        value = self.span(where)
        node = self.get(where)
        if isinstance(node, dict) and node:
            first = next(iter(node))
            first_key = self.key_spans.get((*where, first))
            if first_key is not None and first_key.line == value.line:
                return Span(value.path, value.line, value.col, value.line, first_key.end_col)
        return value.first_line

    def get(self, where: PathKey, default: Any = None) -> Any:
        node = self.data
        for part in where:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return default
        return node


@lru_cache(maxsize=4096)
def _plain_key(text: str) -> str:
    """A plain mapping key as go-yaml writes it to JSON: ``80`` becomes "80", ``true`` "true"."""
    key = resolve_plain(text)
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    return key if isinstance(key, str) else text


class _Converter:
    def __init__(self, positions: Positions, max_depth: int) -> None:
        self.path = positions.path
        self.positions = positions
        #: Merge keys (`<<`) are rare: without them in the text, mappings need no pass for them.
        self.merges = positions.has_merge_keys
        self.max_depth = max_depth
        self.spans: dict[PathKey, Span] = {}
        self.key_spans: dict[PathKey, Span] = {}
        self.problems: list[Problem] = []

    def convert(self, node: Node, where: PathKey, shape: Shape, depth: int) -> Any:
        span = self.spans[where] = self.positions.span(node.start_mark, node.end_mark)
        kind = node.id
        if kind == "scalar":
            if not node.style and not tag_of(node):
                return resolve_plain(node.value)
            try:
                return scalar_value(node)
            except UnsupportedTag as exc:
                self.problems.append(Problem(ProblemKind.INVALID, str(exc), span))
                return node.value
        if depth >= self.max_depth:  # only reachable through aliases: the parser bounds the rest
            self.problems.append(
                Problem(ProblemKind.SYNTAX, f"nesting deeper than {self.max_depth} levels", span)
            )
            return None
        tag = tag_of(node)
        if tag and tag not in _COLLECTION_TAGS:
            self.problems.append(
                Problem(
                    ProblemKind.INVALID,
                    f"tag {node.tag} is not supported in a Kubernetes manifest",
                    span,
                )
            )
        if kind == "sequence":
            item_shape = shape[0] if isinstance(shape, list) else ALL
            return [
                self.convert(item, (*where, i), item_shape, depth + 1)
                for i, item in enumerate(node.value)
            ]
        return self._mapping(node, where, shape, depth)

    def _mapping(self, node: Node, where: PathKey, shape: Shape, depth: int) -> Any:
        out: dict[Any, Any] = {}
        seen: dict[str, Node] = {}
        pairs = node.value
        if self.merges and any(k.value == "<<" for k, _ in pairs):
            pairs = self._pairs(node)
        span = self.positions.span
        for pair in pairs:
            key_node, value_node = pair[0], pair[1]
            if key_node.id != "scalar":
                self._complex_key(key_node)
                continue
            raw = key_node.value
            if raw in seen:
                if len(pair) == 2 or pair[2]:  # merged-in keys may repeat explicit ones
                    first = span(seen[raw].start_mark, seen[raw].end_mark).line
                    self.problems.append(
                        Problem(
                            ProblemKind.SYNTAX,
                            f"duplicate key {raw!r} (first at line {first}); "
                            "the API server rejects the object",
                            span(key_node.start_mark, key_node.end_mark),
                        )
                    )
                continue
            seen[raw] = key_node
            sub = shape if shape is ALL else self._sub_shape(shape, raw)
            if sub is None:
                continue
            if key_node.style:
                key = raw
            elif tag_of(key_node):
                key = self._key(key_node)
            else:
                key = _plain_key(raw)
            child = (*where, key)
            self.key_spans[child] = span(key_node.start_mark, key_node.end_mark)
            out[key] = self.convert(value_node, child, sub, depth + 1)
        return out

    def _complex_key(self, key_node: Node) -> None:
        self.problems.append(
            Problem(
                ProblemKind.INVALID,
                f"a mapping key must be a scalar, not a {key_node.id} (an unrendered template?)",
                self.positions.span(key_node.start_mark, key_node.end_mark),
            )
        )

    def _key(self, key_node: Node) -> str:
        try:
            key = scalar_value(key_node)
        except UnsupportedTag as exc:
            self.problems.append(
                Problem(
                    ProblemKind.INVALID,
                    str(exc),
                    self.positions.span(key_node.start_mark, key_node.end_mark),
                )
            )
            return str(key_node.value)
        # JSON object keys are strings: go-yaml turns `80: x` into "80" on the way to JSON.
        if isinstance(key, int) and not isinstance(key, bool):
            return str(key)
        return key if isinstance(key, str) else str(key_node.value)

    def _pairs(self, node: Node) -> list[tuple[Node, Node, bool]]:
        """Key/value pairs with YAML merge keys (``<<: *base``) applied as go-yaml does them:
        explicit keys win, then earlier merge sources over later ones."""
        pairs: list[tuple[Node, Node, bool]] = []
        sources: list[Node] = []
        for key_node, value_node in node.value:
            if (
                key_node.id == "scalar"
                and key_node.value == "<<"
                and not key_node.style
                and not tag_of(key_node)
            ):
                if value_node.id == "sequence":
                    sources.extend(value_node.value)
                else:
                    sources.append(value_node)
            else:
                pairs.append((key_node, value_node, True))
        if not sources:
            return pairs
        seen = {k.value for k, _, _ in pairs if k.id == "scalar"}
        for source in sources:
            if source.id != "mapping":
                self.problems.append(
                    Problem(
                        ProblemKind.SYNTAX,
                        "a merge key (<<) needs a mapping or a list of mappings",
                        self.positions.span(source.start_mark, source.end_mark),
                    )
                )
                continue
            for key_node, value_node, _ in self._pairs(source):
                if key_node.id == "scalar" and key_node.value not in seen:
                    seen.add(key_node.value)
                    pairs.append((key_node, value_node, False))
        return pairs

    @staticmethod
    def _sub_shape(shape: Shape, key: Any) -> Shape | None:
        if shape is ALL:
            return ALL
        if isinstance(shape, Mapping):
            found = shape.get(key)
            if found is None:
                found = shape.get("*")
            return found
        return ALL


def to_tree(
    path: str, node: Node, shape: Shape, max_depth: int, positions: Positions | None = None
) -> Tree:
    """Convert the parts of a document that ``shape`` names into a Tree."""
    converter = _Converter(positions or Positions(path), max_depth)
    data = converter.convert(node, (), shape, 0)
    return Tree(path, data, converter.spans, converter.key_spans, converter.problems)


def top_level_scalars(node: Node, keys: tuple[str, ...]) -> dict[str, str]:
    """The string values of some top-level keys, without converting the document."""
    found: dict[str, str] = {}
    if node.id == "mapping":
        for key_node, value_node in node.value:
            if key_node.id == "scalar" and key_node.value in keys and value_node.id == "scalar":
                found.setdefault(key_node.value, value_node.value)
    return found
