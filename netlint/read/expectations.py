"""Connectivity expectations: what must and must not be reachable, as the repo states it.

They are read from ``.netlint/expectations.yaml`` (or ``.yml``) at any depth of the project, a
mapping ``{expectations: [...]}`` or the bare list, or from a document
``{apiVersion: netlint.dev/v1alpha1, kind: ConnectivityExpectations, expectations: [...]}`` in
any file netlint reads (what keeps a rule example in one file). The document is validated by
``schemas/expectations.schema.json``; each problem is an NL002 at its line, as for a manifest.
Rule NL301 judges the expectations (docs/connectivity.md, "Expectations").

Nothing in the document is executed or followed: it is plain data, read with the same parser
and limits as every manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from netlint.core.problems import Problem, ProblemKind
from netlint.core.source import Positions, Span
from netlint.read.parse import ALL, Node, PathKey, Tree, to_tree, top_level_scalars
from netlint.read.schema import dotted, quoted, validate

API_VERSION: Final = "netlint.dev/v1alpha1"
KIND: Final = "ConnectivityExpectations"
FILE_NAMES: Final = ("expectations.yaml", "expectations.yml")
_PROTOCOLS: Final = ("TCP", "UDP", "SCTP")


def is_expectations_path(path: str) -> bool:
    """Whether a project path (POSIX, relative) is an expectations file:
    ``.netlint/expectations.yaml`` at any depth."""
    folder, _, name = path.rpartition("/")
    return name in FILE_NAMES and (folder == ".netlint" or folder.endswith("/.netlint"))


def is_expectations_document(node: Node) -> bool:
    """Whether a document of any file declares itself as expectations (by kind and group)."""
    top = top_level_scalars(node, ("kind", "apiVersion"))
    return top.get("kind") == KIND and top.get("apiVersion", "").startswith("netlint.dev/")


@dataclass(frozen=True, slots=True)
class EndSpec:
    """One end of an expectation: every workload that matches all the fields given."""

    namespace: str | None = None
    #: Pod labels the workload's pods must carry, exactly.
    labels: tuple[tuple[str, str], ...] = ()
    #: A workload's name (or the name of the owner of Pods); its namespace is ``namespace``.
    name: str | None = None

    def matches(self, namespace: str, names: tuple[str, ...], labels: dict[str, str]) -> bool:
        """Whether a workload in ``namespace``, called any of ``names``, with pod ``labels``,
        is one of this end's."""
        if self.namespace is not None and namespace != self.namespace:
            return False
        if self.name is not None and self.name not in names:
            return False
        return all(labels.get(k) == v for k, v in self.labels)

    def __str__(self) -> str:
        if self.name is not None:
            head = f"{self.namespace}/{self.name}" if self.namespace is not None else self.name
        elif self.namespace is not None:
            head = f"namespace {self.namespace}"
        else:
            head = "any namespace"
        if self.labels:
            head += " with " + ",".join(f"{k}={v}" for k, v in self.labels)
        return head


@dataclass(frozen=True, slots=True)
class Expectation:
    """``allow``: ``src`` must reach ``dst`` (on ``port``, else by some connection);
    otherwise (deny) it must not (on ``port``, else by any connection)."""

    allow: bool
    src: EndSpec
    dst: EndSpec
    #: (protocol, port number); None: any connection.
    port: tuple[str, int] | None
    #: The ``allow``/``deny`` key: where a violation is reported.
    span: Span
    src_span: Span
    dst_span: Span
    description: str | None = None

    @property
    def verb(self) -> str:
        return "allow" if self.allow else "deny"

    def __str__(self) -> str:
        port = f" on {self.port[1]}/{self.port[0]}" if self.port is not None else ""
        return f"{self.verb} from {self.src} to {self.dst}{port}"


def read_document(
    positions: Positions, node: Node, max_depth: int, *, bare_list: bool
) -> tuple[list[Expectation], list[Problem]]:
    """The expectations of one document, and its NL002 problems (an invalid document yields
    no expectation: a half-read test would pass for the wrong reason). ``bare_list``: the
    document may be the list itself (``.netlint/expectations.yaml``)."""
    path = positions.path
    tree = to_tree(path, node, ALL, max_depth, positions)
    problems = [Problem(ProblemKind.INVALID, p.message, p.span) for p in tree.problems]
    if bare_list and isinstance(tree.data, list):
        tree = _wrapped(tree)
    elif tree.data is None:
        return [], problems  # an empty document: nothing expected
    problems.extend(validate("expectations", tree))
    if problems:
        return [], problems
    out: list[Expectation] = []
    for index, item in enumerate(tree.data["expectations"]):
        verb = next(iter(item))
        where: PathKey = ("expectations", index, verb)
        body = item[verb]
        src, src_problems = _end(tree, (*where, "from"), body["from"])
        dst, dst_problems = _end(tree, (*where, "to"), body["to"])
        port, port_problems = _port(tree, (*where, "port"), body.get("port"))
        found = src_problems + dst_problems + port_problems
        if found:
            problems.extend(found)
            continue
        out.append(
            Expectation(
                verb == "allow",
                src,
                dst,
                port,
                tree.key_span(where),
                tree.key_span((*where, "from")),
                tree.key_span((*where, "to")),
                body.get("description"),
            )
        )
    return ([] if problems else out), problems


def _wrapped(tree: Tree) -> Tree:
    """A bare list read as ``{expectations: <list>}``: the schema's paths and the spans agree."""
    spans = {("expectations", *k): v for k, v in tree.spans.items()}
    spans[()] = tree.spans[()]
    keys = {("expectations", *k): v for k, v in tree.key_spans.items()}
    return Tree(tree.path, {"expectations": tree.data}, spans, keys, tree.problems)


def _end(tree: Tree, where: PathKey, data: dict[str, Any]) -> tuple[EndSpec, list[Problem]]:
    namespace = data.get("namespace")
    name: str | None = None
    problems: list[Problem] = []
    workload = data.get("workload")
    if workload is not None:
        head, slash, tail = workload.partition("/")
        if slash:
            if namespace is not None and namespace != head:
                problems.append(
                    Problem(
                        ProblemKind.INVALID,
                        f"{dotted((*where, 'workload'))} names namespace {quoted(head)} but "
                        f"{dotted((*where, 'namespace'))} is {quoted(namespace)}",
                        tree.span((*where, "workload")),
                    )
                )
            namespace, name = head, tail
        elif namespace is None:
            problems.append(
                Problem(
                    ProblemKind.INVALID,
                    f"{dotted((*where, 'workload'))} must be NAMESPACE/NAME, or NAME with "
                    f"{dotted((*where, 'namespace'))}",
                    tree.span((*where, "workload")),
                )
            )
        else:
            name = head
    labels = tuple(sorted((str(k), v) for k, v in (data.get("labels") or {}).items()))
    return EndSpec(namespace, labels, name), problems


def _port(tree: Tree, where: PathKey, value: Any) -> tuple[tuple[str, int] | None, list[Problem]]:
    """``5432``, ``5432/TCP``, ``53/udp``; the schema has checked integers' range."""
    if value is None:
        return None, []
    number, _, protocol = str(value).partition("/")
    protocol = (protocol or "TCP").upper()
    digits = number.isascii() and number.isdigit() and len(number) <= 5
    if protocol in _PROTOCOLS and digits and 1 <= int(number) <= 65535:
        return (protocol, int(number)), []
    message = (
        f"{dotted(where)} must be PORT or PORT/TCP, UDP or SCTP (1-65535), not {quoted(value)}"
    )
    return None, [Problem(ProblemKind.INVALID, message, tree.span(where))]


__all__ = [
    "API_VERSION",
    "KIND",
    "EndSpec",
    "Expectation",
    "is_expectations_document",
    "is_expectations_path",
    "read_document",
]
