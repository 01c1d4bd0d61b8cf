"""``netlint connectivity``: the map of :mod:`netlint.analysis.reach` as text, JSON, CSV,
Markdown, DOT and Mermaid (and an HTML page: :mod:`netlint.output.html`).

Every string that comes from the repo (namespace and workload names, in peers and in reasons)
is escaped for its format: :func:`netlint.core.escape.text` for control characters everywhere,
then the format's own quoting (DOT and Mermaid labels, Markdown tables, CSV cells that a
spreadsheet would run as formulas). Output is written as it is produced: the map of a large
repo has millions of records.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Final, TextIO

from netlint.analysis.reach import ConnectivityMap, Endpoint, External, Record
from netlint.core import escape
from netlint.output import html

FORMATS: Final = ("text", "json", "csv", "markdown", "dot", "mermaid", "html")
_PROTOCOLS: Final = ("TCP", "UDP", "SCTP")


class FocusError(ValueError):
    """A focus option that cannot be read (``--port 443/ICMP``)."""


@dataclass(frozen=True, slots=True)
class Focus:
    """Which records to show: those with an end that is the workload (``name`` or
    ``namespace/name``), an end in the namespace, and whose connections hold the port."""

    workloads: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    port: tuple[str, int] | None = None

    @staticmethod
    def parse_port(value: str) -> tuple[str, int]:
        """``443/TCP``, ``53/udp`` or ``443`` (TCP)."""
        number, _, protocol = value.partition("/")
        protocol = (protocol or "TCP").upper()
        if protocol not in _PROTOCOLS or not number.isdigit() or not 1 <= int(number) <= 65535:
            raise FocusError(f"--port {value!r}: expected PORT[/TCP|UDP|SCTP], e.g. 443/TCP")
        return protocol, int(number)

    def _end(self, end: Endpoint | External) -> tuple[bool, bool]:
        if isinstance(end, External):
            return False, False
        named = end.name in self.workloads or f"{end.namespace}/{end.name}" in self.workloads
        return named, end.namespace in self.namespaces

    def keeps(self, record: Record) -> bool:
        if self.workloads or self.namespaces:
            (src_named, src_in), (dst_named, dst_in) = self._end(record.src), self._end(record.dst)
            if self.workloads and not (src_named or dst_named):
                return False
            if self.namespaces and not (src_in or dst_in):
                return False
        if self.port is not None:
            protocol, number = self.port
            return record.certain.contains(protocol, number) or record.uncertain.contains(
                protocol, number
            )
        return True


#: Runs ``task(0)`` ... ``task(count - 1)`` and gives the results in that order, in this
#: process (``_in_order``) or shared with others (``netlint.run.workers.ordered_map``).
Mapper = Callable[[Callable[[int], Any], int], Iterable[Any]]


def _in_order(task: Callable[[int], Any], count: int) -> Iterable[Any]:
    return map(task, range(count))


def render(
    found: ConnectivityMap,
    form: str,
    out: TextIO,
    focus: Focus | None = None,
    unit: str | None = None,
    mapper: Mapper = _in_order,
) -> None:
    """Write the map in ``form`` to ``out``. ``mapper`` runs the JSON writer's blocks of
    sources (see ``_json``): a large map's text is made by several processes."""
    keep = focus.keeps if focus is not None and focus != Focus() else None
    if form == "json":
        _json(found, keep, found.notes, unit, out, mapper)
        return
    records: Iterable[Record] = found.records()
    if keep is not None:
        records = filter(keep, records)
    if form == "html":  # a page that explains pairs: it needs the map, not only its records
        html.write(found, records, found.notes, unit, out)
        return
    writer = _WRITERS[form]
    writer(_split(records), found.notes, unit, out)


@dataclass(slots=True)
class _Split:
    """The records as they come, with their uncertain parts kept for after the certain ones."""

    source: Iterator[Record]
    uncertain: list[Record]

    def certain(self) -> Iterator[Record]:
        uncertain = self.uncertain
        # ``.ports`` rather than ``is_empty()``: one method call less per record, of millions.
        for record in self.source:
            if record.uncertain.ports:
                uncertain.append(record)
            if record.certain.ports:
                yield record


def _split(records: Iterable[Record]) -> _Split:
    return _Split(iter(records), [])


class _Cache:
    """Text computed once per value: a map repeats each end and each set of connections
    thousands of times. Looked up by the object first (its records share a few objects, and
    hashing a frozen dataclass field by field cost a third of writing four million records),
    then by value; the objects seen are kept, so that an id is never reused while cached."""

    def __init__(self, render: Callable[[Any], str], *, most: int = 200_000) -> None:
        self._render = render
        self._by_id: dict[int, tuple[object, str]] = {}
        self._by_value: dict[object, str] = {}
        self._most = most

    def __call__(self, value: Any) -> str:
        seen = self._by_id.get(id(value))
        if seen is not None:
            return seen[1]
        found = self._by_value.get(value)
        if found is None:
            found = self._by_value[value] = self._render(value)
        if len(self._by_id) < self._most:
            self._by_id[id(value)] = (value, found)
        return found


def _labels(quote: Callable[[str], str]) -> _Cache:
    """Escaped labels of ends."""
    return _Cache(lambda end: quote(end.label))


# -- text ------------------------------------------------------------------------------------


def _text(split: _Split, notes: list[str], unit: str | None, out: TextIO) -> None:
    label = _labels(escape.text)
    for record in split.certain():
        out.write(f"{label(record.src)} => {label(record.dst)} : {record.certain}\n")
    if split.uncertain:
        out.write("\nDepends on what the repo does not say (not counted above):\n")
        for record in split.uncertain:
            reasons = "; ".join(escape.text(r) for r in record.reasons)
            out.write(
                f"{label(record.src)} => {label(record.dst)} : {record.uncertain}"
                f"  (depends on {reasons})\n"
            )
    _text_notes(notes, out)


def _text_notes(notes: list[str], out: TextIO) -> None:
    if notes:
        out.write("\nNotes:\n")
        out.writelines(f"  {escape.text(note)}\n" for note in notes)


# -- JSON ------------------------------------------------------------------------------------


def _json_string(value: str) -> str:
    return escape.json_document(json.dumps(value, ensure_ascii=False))


#: About how many records one block of sources may hold: each block's text is made by one
#: process and held until it is written (with a copy in the pipe from a worker), so blocks are
#: cut by records (a source has at most one per end), not by sources. A record's text is
#: 100 bytes to 17 KB (many port ranges): a block holds up to a few hundred MB.
_BLOCK_RECORDS: Final = 50_000
#: The most characters given to one ``write``: CPython 3.11 writes at most 2 GiB of one
#: string to a pipe, and drops the rest without a word.
_WRITE_CHARS: Final = 16 * 1024 * 1024


def _write(out: TextIO, text: str) -> None:
    if len(text) <= _WRITE_CHARS:
        out.write(text)
        return
    for start in range(0, len(text), _WRITE_CHARS):
        out.write(text[start : start + _WRITE_CHARS])


def _json(
    found: ConnectivityMap,
    keep: Callable[[Record], bool] | None,
    notes: list[str],
    unit: str | None,
    out: TextIO,
    mapper: Mapper,
) -> None:
    label = _labels(_json_string)
    conn = _Cache(lambda value: f'"conn": "{value}", "ports": {json.dumps(value.structured())}')
    parts = found.records_by_source()
    # ``parts`` counts the ends that are sources, most of the ends there are.
    size = max(1, _BLOCK_RECORDS // max(1, len(parts)))

    def block(number: int) -> tuple[str, list[str]]:
        """The text of a block of sources' certain records, each after ",\n    ", and of
        their uncertain ones (kept for after all the certain ones)."""
        texts: list[str] = []
        uncertain: list[str] = []
        for part in parts[number * size : (number + 1) * size]:
            # Records come grouped by source: its text is looked up once per source.
            source: object = None
            src = ""
            for record in part():
                if keep is not None and not keep(record):
                    continue
                if record.uncertain.ports:
                    reasons = ", ".join(_json_string(r) for r in record.reasons)
                    uncertain.append(
                        f'\n    {{"src": {label(record.src)}, "dst": {label(record.dst)}, '
                        f'{conn(record.uncertain)}, "certain": false, "depends_on": [{reasons}]}}'
                    )
                # ``.ports`` rather than ``is_empty()``: one call less per record, of millions.
                if not record.certain.ports:
                    continue
                if record.src is not source:
                    source = record.src
                    src = label(source)
                host = ', "host_network": true' if record.host_network else ""
                texts.append(
                    f',\n    {{"src": {src}, "dst": {label(record.dst)}, '
                    f"{conn(record.certain)}{host}}}"
                )
        return "".join(texts), uncertain

    out.write('{\n  "unit": ' + (_json_string(unit) if unit is not None else "null"))
    out.write(',\n  "connections": [')
    first = True
    with _Spill() as uncertain:
        for text, more in mapper(block, -(-len(parts) // size)):
            if text:
                _write(out, text[1:] if first else text)  # no comma before the first record
                first = False
            uncertain.extend(more)
        out.write("\n  ],\n" if not first else "],\n")
        out.write('  "uncertain": [')
        uncertain.write_to(out)
        out.write("\n  ],\n" if uncertain.count else "],\n")
    out.write('  "notes": [' + ", ".join(_json_string(n) for n in notes) + "]\n}\n")


#: Characters of uncertain records held in memory before they go to a temporary file.
_SPILL_CHARS: Final = 32 * 1024 * 1024


class _Spill:
    """Texts kept for later, in memory up to ``_SPILL_CHARS``, then in a temporary file: a
    repo that says little about its namespaces can have tens of millions of uncertain
    records, which are written after all the certain ones."""

    def __init__(self) -> None:
        self._held: list[str] = []
        self._size = 0
        self._file: IO[str] | None = None
        self.count = 0

    def __enter__(self) -> _Spill:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()

    def extend(self, texts: list[str]) -> None:
        if not texts:
            return
        self.count += len(texts)
        self._held.extend(texts)
        self._size += sum(map(len, texts))
        if self._size > _SPILL_CHARS:
            if self._file is None:
                # Surrogates pass: a name the repo wrote with a byte UTF-8 cannot hold comes
                # back out as it went in.
                self._file = tempfile.TemporaryFile(  # noqa: SIM115 (closed by __exit__)
                    "w+", encoding="utf-8", errors="surrogatepass", newline=""
                )
            self._flush(self._file)

    def _flush(self, into: IO[str]) -> None:
        into.write(("," if into.tell() else "") + ",".join(self._held))
        self._held.clear()
        self._size = 0

    def write_to(self, out: TextIO) -> None:
        """Every text, in order, a comma between two."""
        if self._file is None:
            _write(out, ",".join(self._held))
            return
        if self._held:
            self._flush(self._file)
        self._file.seek(0)
        shutil.copyfileobj(self._file, out, 1024 * 1024)


# -- CSV -------------------------------------------------------------------------------------


def _csv_cell(value: str) -> str:
    """A cell no spreadsheet runs as a formula (OWASP's advice: a leading quote)."""
    value = escape.text(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _csv(split: _Split, notes: list[str], unit: str | None, out: TextIO) -> None:
    label = _labels(_csv_cell)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("src", "dst", "conn", "certain", "depends_on"))
    for record in split.certain():
        writer.writerow((label(record.src), label(record.dst), str(record.certain), "true", ""))
        if buffer.tell() > 1 << 16:
            out.write(buffer.getvalue())
            buffer.seek(0)
            buffer.truncate()
    for record in split.uncertain:
        reasons = "; ".join(_csv_cell(r) for r in record.reasons)
        writer.writerow(
            (label(record.src), label(record.dst), str(record.uncertain), "false", reasons)
        )
    out.write(buffer.getvalue())


# -- Markdown --------------------------------------------------------------------------------


def _md_cell(value: str) -> str:
    return escape.markdown_text(escape.text(value)).replace("|", "\\|").replace("`", "\\`")


def _markdown(split: _Split, notes: list[str], unit: str | None, out: TextIO) -> None:
    label = _labels(_md_cell)
    title = f" of {_md_cell(unit)}" if unit else ""
    out.write(f"### Connectivity{title}\n\n| source | destination | allowed |\n|---|---|---|\n")
    for record in split.certain():
        out.write(f"| {label(record.src)} | {label(record.dst)} | {record.certain} |\n")
    if split.uncertain:
        out.write(
            "\n#### Depends on what the repo does not say\n\n"
            "| source | destination | may be allowed | depends on |\n|---|---|---|---|\n"
        )
        for record in split.uncertain:
            reasons = "<br>".join(_md_cell(r) for r in record.reasons)
            out.write(
                f"| {label(record.src)} | {label(record.dst)} | {record.uncertain} | {reasons} |\n"
            )
    if notes:
        out.write("\n" + "".join(f"- {_md_cell(n)}\n" for n in notes))


# -- graphs ----------------------------------------------------------------------------------


def dot_quote(value: str) -> str:
    """A DOT double-quoted string: controls made visible, then backslash and quote escaped
    (a backslash would start a DOT escape such as ``\\N`` or ``\\l``)."""
    return '"' + escape.text(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


_MERMAID: Final = str.maketrans(
    {'"': "#quot;", "#": "#35;", "<": "#lt;", ">": "#gt;", "`": "#96;", "|": "#124;", "&": "#38;"}
)


def mermaid_quote(value: str) -> str:
    """A Mermaid ``"..."`` label: controls made visible, and every character Mermaid or the
    HTML it renders to would read (quote, ``#`` entity codes, tags, backtick Markdown, the
    ``|`` of edge labels, ``&`` entities) written as a Mermaid entity code."""
    return '"' + escape.text(value).translate(_MERMAID) + '"'


def _graph(
    split: _Split,
    out: TextIO,
    head: str,
    tail: str,
    node: Callable[[str, str], str],
    edge: Callable[[str, str, str, bool], str],
    quote: Callable[[str], str],
) -> None:
    ids: dict[Endpoint | External, str] = {}
    lines: list[str] = []

    def ident(end: Endpoint | External) -> str:
        found = ids.get(end)
        if found is None:
            found = ids[end] = f"n{len(ids)}"
            lines.append(node(found, quote(end.label)))
        return found

    out.write(head)
    for record in split.certain():
        a, b = ident(record.src), ident(record.dst)
        lines.append(edge(a, b, quote(str(record.certain)), True))
        if len(lines) > 4096:
            out.writelines(lines)
            lines.clear()
    for record in split.uncertain:
        a, b = ident(record.src), ident(record.dst)
        lines.append(edge(a, b, quote(f"maybe {record.uncertain}"), False))
    out.writelines(lines)
    out.write(tail)


def _dot(split: _Split, notes: list[str], unit: str | None, out: TextIO) -> None:
    _graph(
        split,
        out,
        "digraph connectivity {\n  rankdir=LR;\n  node [shape=box];\n",
        "}\n",
        lambda i, label: f"  {i} [label={label}];\n",
        lambda a, b, label, sure: (
            f"  {a} -> {b} [label={label}" + ("" if sure else ", style=dashed") + "];\n"
        ),
        dot_quote,
    )


def _mermaid(split: _Split, notes: list[str], unit: str | None, out: TextIO) -> None:
    _graph(
        split,
        out,
        "flowchart LR\n",
        "",
        lambda i, label: f"  {i}[{label}]\n",
        lambda a, b, label, sure: f"  {a} {'-->' if sure else '-.->'}|{label}| {b}\n",
        mermaid_quote,
    )


_WRITERS: Final[dict[str, Callable[[_Split, list[str], str | None, TextIO], None]]] = {
    "text": _text,
    "csv": _csv,
    "markdown": _markdown,
    "dot": _dot,
    "mermaid": _mermaid,
}
