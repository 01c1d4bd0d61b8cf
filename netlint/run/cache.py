"""A cache of parsed files, so a second run reads only what changed.

The cache lives in ``.netlint_cache/`` at the project root, keyed by netlint's code and the
settings that change parsing. It holds every file's stamp (ctime, inode, size and mtime, as git's
index does, plus its content hash), parsed results in *shards*, and the outcomes of recent runs.
A file whose stamp is unchanged (and not modified close to the cache's writing: racily clean) is
served without being read; otherwise its content hash decides. ``touch -r``, ``cp -p`` or
``tar x`` can keep a file's mtime and size, never its ctime: an edit is always noticed.

The directory lies inside the repository being linted, which netlint does not trust (how its
files are opened, written, read and deleted is :mod:`netlint.run.safedir`'s, shared with the
plugin list):

- **Data only.** Every file is msgpack with a format version, decoded by an explicit whitelist of
  netlint's own classes (a small integer tag or the position of a field says which); decoding
  calls only those constructors, with plain, type-checked data. Anything unexpected rejects the
  whole file and the run goes on without it. Nothing in it can run code, so no key is needed.
- **Only what this machine wrote is read.** The state records, for each shard, the stat (inode,
  ctime, mtime, size) the file got when netlint wrote it, and a small ``head`` file records the
  state's: a file committed to the repository gets a new inode and ctime at checkout, which
  nobody can set in advance, so planted files are never even read. Only files of this user
  are read, only when their size matches the record, and never more than a bound.
- **No link is followed.** The directory is checked with ``lstat`` (a symlink, a non-directory,
  a directory of another user or one every user may write to disables the cache, with a note
  for ``--verbose``); every file in it is opened relative to a descriptor of the directory with
  ``O_NOFOLLOW``, new files with ``O_EXCL`` under fresh random names, and only files that match
  netlint's own naming exactly, are regular and belong to the user are ever deleted.
- **Never corrupt, never racing.** Shards and states are written under new names and never
  rewritten; the head is replaced atomically. Another run's files are deleted only after a
  grace period, so two racing runs never delete each other's fresh entries.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import ipaddress
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NamedTuple

from netlint.core.findings import Finding, Related, Severity
from netlint.core.model import (
    AdminPolicy,
    AdminRule,
    ContainerPort,
    Direction,
    Except,
    ForeignPolicy,
    IPBlock,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    ObjectRef,
    Peer,
    PortSpec,
    Requirement,
    Rule,
    Workload,
)
from netlint.core.problems import Problem, ProblemKind
from netlint.core.rule import RuleMeta
from netlint.core.selectors import Operator
from netlint.core.source import Span
from netlint.output.report import Report
from netlint.read.directives import Directive
from netlint.read.discover import Skipped
from netlint.read.expectations import EndSpec, Expectation
from netlint.read.result import FileResult, digest
from netlint.run import safedir
from netlint.run.safedir import CACHE_DIR, Anchor, Refused, Reject
from netlint.run.safedir import tuple_of as _t

#: Bumped whenever the layout of any encoded object changes: older files are then rejected.
FORMAT: Final = 9
#: Files modified this close to the state's writing may have changed within one timestamp tick.
_RACY_NS: Final = 2_000_000_000
#: How long another run's unreferenced files are kept: a racing run writes its shards while it
#: parses and its state only after the rules ran; a reader opens a state right after its head.
_SHARD_GRACE_NS: Final = 600 * 1_000_000_000
_STATE_GRACE_NS: Final = 60 * 1_000_000_000
#: What other settings, other versions of netlint, or killed runs left behind.
_STALE_NS: Final = 86_400 * 1_000_000_000
#: Bounds on what is read: a head is tiny; states and shards are checked against the recorded
#: size first, these only bound what a recorded size may claim.
_MAX_HEAD_BYTES: Final = 4096
_MAX_STATE_BYTES: Final = 256 * 1024 * 1024
_MAX_SHARD_BYTES: Final = 1024 * 1024 * 1024
#: How many run outcomes (findings of a whole run) to keep per project and settings.
_OUTCOMES: Final = 4
#: Every name netlint creates in the cache directory (and the pickle names of format 1, which
#: it also created): nothing else there is ever deleted.
_OURS: Final = re.compile(
    r"(?:head-(?P<head>[0-9a-f]{16})|(?P<kind>state|shard)-(?P<prefix>[0-9a-f]{16})-[0-9a-f]{16})"
    r"\.msgpack"
    r"|(?P<tmp>\.tmp-[0-9a-f]{16})"
    r"|(?P<legacy>(?:state-[0-9a-f]{16}|shard-[0-9a-f]{16}-[0-9a-f]{16})\.pickle)"
)


@functools.cache
def code_salt() -> str:
    """What parsing depends on in netlint itself: its version and the content of every module
    and schema of the package (a development checkout changes without a version bump). Read
    once per process: a long-running language server runs the code it imported."""
    from netlint import __version__

    package = Path(__file__).resolve().parent.parent  # netlint/, from netlint/run/cache.py
    return f"{__version__}|{tree_digest(package, extra=('data/schemas',))}"


def tree_digest(package: Path, extra: Sequence[str] = ()) -> str:
    """A hash of the names and contents of every ``*.py`` under ``package``, at any depth (links
    are not followed), and of the ``*.json`` files directly in each ``extra`` folder."""
    found: list[Path] = []
    for directory, dirs, names in os.walk(package, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        found += [Path(directory) / n for n in sorted(names) if n.endswith(".py")]
    for folder in extra:
        found += sorted((package / folder).glob("*.json"))
    hasher = hashlib.blake2b(digest_size=16)
    for path in found:
        hasher.update(path.relative_to(package).as_posix().encode(errors="surrogateescape"))
        hasher.update(b"\0")
        with contextlib.suppress(OSError):
            hasher.update(path.read_bytes())
        hasher.update(b"\0")
    return hasher.hexdigest()


# --- The format: an explicit encoder and decoder over netlint's own classes -----------------
#
# Each object is a msgpack array of its fields in order; which class it is follows from where it
# sits, except for a file's objects, which start with a tag. Spans of a file's own path are
# written without it. Decoding checks the exact type of every value before it reaches a
# constructor and raises Reject for anything else.


_OBJ_POLICY: Final = 1
_OBJ_WORKLOAD: Final = 2
_OBJ_NAMESPACE: Final = 3
_OBJ_FOREIGN: Final = 4
_OPERATORS: Final = {m.value: m for m in Operator}
_DIRECTIONS: Final = {m.value: m for m in Direction}
_SEVERITIES: Final = {m.value: m for m in Severity}


def _s(v: object) -> str:
    if type(v) is str:
        return v
    raise Reject


def _os(v: object) -> str | None:
    return None if v is None else _s(v)


# Texts that recur across objects (kinds, namespaces, label keys and values, protocols) are
# decoded as one shared object each: the main process decodes every parse worker's results
# and every cached shard, copies of these were a fifth of its heap, and the forked rule worker
# holds a copy of that heap. A text is shared up to this long (a label value is at most 63).
_SHARED_CHARS: Final = 64
_intern: Final = sys.intern


def _ss(v: object) -> str:
    """``_s``, shared."""
    if type(v) is str:
        return _intern(v) if len(v) <= _SHARED_CHARS else v
    raise Reject


def _oss(v: object) -> str | None:
    return None if v is None else _ss(v)


#: Label value sets shared, by their values as stored (a one-element frozenset is 216 bytes);
#: bounded, for a language server that decodes for hours.
_VALUE_SETS: dict[tuple[str, ...], frozenset[str]] = {}
_VALUE_SETS_MOST: Final = 100_000


def _value_set(v: object) -> frozenset[str]:
    values = _strs(v)
    found = _VALUE_SETS.get(values)
    if found is None:
        if len(_VALUE_SETS) >= _VALUE_SETS_MOST:
            _VALUE_SETS.clear()
        found = _VALUE_SETS[values] = frozenset(map(_ss, values))
    return found


def _i(v: object) -> int:
    if type(v) is int:
        return v
    raise Reject


def _oi(v: object) -> int | None:
    return None if v is None else _i(v)


def _b(v: object) -> bool:
    if isinstance(v, bool):
        return v
    raise Reject


def _strs(v: object) -> tuple[str, ...]:
    items = _t(v)
    for x in items:
        if type(x) is not str:
            raise Reject
    return items


def _str_map(v: object) -> dict[str, str]:
    if type(v) is not dict:
        raise Reject
    for value in v.values():  # keys are str: strict_map_key allows str or bytes only
        if type(value) is not str:
            raise Reject
    for key in v:
        if type(key) is not str:
            raise Reject
    return v


def _label_map(v: object) -> dict[str, str]:
    """``_str_map`` of labels, their keys and values shared."""
    if type(v) is not dict:
        raise Reject
    return {_ss(key): _ss(value) for key, value in v.items()}


def _counter(v: object) -> Counter[str]:
    if type(v) is not dict:
        raise Reject
    for key, value in v.items():
        if type(key) is not str or type(value) is not int:
            raise Reject
    return Counter(v)


def _path_key(v: object) -> tuple[str | int, ...]:
    items = _t(v)
    for x in items:
        if type(x) is not str and type(x) is not int:
            raise Reject
    return items


def _network(v: object) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(_s(v))


def _es(span: Span, path: str) -> tuple[Any, ...]:
    return span[1:] if span[0] == path else span


def _eos(span: Span | None, path: str) -> tuple[Any, ...] | None:
    return None if span is None else (span[1:] if span[0] == path else span)


#: Builds a Span without the Python-level ``__new__`` of a NamedTuple: spans are most of what
#: a shard holds, and this is the hot path of decoding.
_new_tuple: Final = tuple.__new__


def _ds(v: object, path: str) -> Span:
    # Each type tested on its own and the tuple built from its items: a chained ``is`` and a
    # starred tuple cost this, the hottest decoder, 40% more.
    if type(v) is tuple:
        if len(v) == 4:
            line, col, end_line, end_col = v
            if (
                type(line) is int
                and type(col) is int
                and type(end_line) is int
                and type(end_col) is int
            ):
                span: Span = _new_tuple(Span, (path, line, col, end_line, end_col))
                return span
        elif len(v) == 5:
            path, line, col, end_line, end_col = v
            if (
                type(path) is str
                and type(line) is int
                and type(col) is int
                and type(end_line) is int
                and type(end_col) is int
            ):
                span = _new_tuple(Span, v)
                return span
    raise Reject


def _dos(v: object, path: str) -> Span | None:
    return None if v is None else _ds(v, path)


def _e_ref(r: ObjectRef, p: str) -> tuple[Any, ...]:
    return (r.kind, r.name, r.namespace, r.path, r.document, r.prefix, _es(r.span, p))


def _d_ref(v: object, p: str) -> ObjectRef:
    kind, name, namespace, path, document, prefix, span = _t(v, 7)
    return ObjectRef(
        _ss(kind), _s(name), _ss(namespace), _s(path), _i(document), _path_key(prefix), _ds(span, p)
    )


def _e_selector(s: LabelSelector, p: str) -> tuple[Any, ...]:
    reqs = tuple(
        (r.key, r.operator.value, tuple(r.values), r.source, _es(r.span, p)) for r in s.requirements
    )
    return (reqs, _es(s.key_span, p), _es(s.span, p))


def _d_selector(v: object, p: str) -> LabelSelector:
    reqs, key_span, span = _t(v, 3)
    requirements = []
    for item in _t(reqs):
        key, operator, values, source, req_span = _t(item, 5)
        requirements.append(
            Requirement(
                _ss(key),
                _OPERATORS[_s(operator)],
                _value_set(values),
                _ss(source),
                _ds(req_span, p),
            )
        )
    return LabelSelector(tuple(requirements), _ds(key_span, p), _ds(span, p))


def _e_oselector(s: LabelSelector | None, p: str) -> tuple[Any, ...] | None:
    return None if s is None else _e_selector(s, p)


def _d_oselector(v: object, p: str) -> LabelSelector | None:
    return None if v is None else _d_selector(v, p)


def _e_block(b: IPBlock, p: str) -> tuple[Any, ...]:
    excepts = tuple((e.cidr, str(e.network), _es(e.span, p)) for e in b.excepts)
    return (b.cidr, str(b.network), excepts, _es(b.key_span, p), _es(b.cidr_span, p))


def _d_block(v: object, p: str) -> IPBlock:
    cidr, network, excepts, key_span, cidr_span = _t(v, 5)
    decoded = []
    for item in _t(excepts):
        e_cidr, e_network, e_span = _t(item, 3)
        decoded.append(Except(_s(e_cidr), _network(e_network), _ds(e_span, p)))
    return IPBlock(_s(cidr), _network(network), tuple(decoded), _ds(key_span, p), _ds(cidr_span, p))


def _e_rule(r: Rule, p: str) -> tuple[Any, ...]:
    peers = tuple(
        (
            _e_oselector(x.pod_selector, p),
            _e_oselector(x.namespace_selector, p),
            None if x.ip_block is None else _e_block(x.ip_block, p),
            x.index,
            _es(x.span, p),
        )
        for x in r.peers
    )
    ports = tuple(
        (
            x.protocol,
            x.port,
            x.end_port,
            x.protocol_declared,
            x.index,
            _es(x.span, p),
            _eos(x.port_span, p),
            _eos(x.protocol_span, p),
            _eos(x.end_port_span, p),
        )
        for x in r.ports
    )
    return (
        r.direction.value,
        r.index,
        peers,
        ports,
        _es(r.span, p),
        _eos(r.peers_key_span, p),
        _eos(r.ports_key_span, p),
        r.path,
    )


def _d_port(v: object, p: str) -> PortSpec:
    protocol, port, end_port, declared, index, span, port_span, protocol_span, end_span = _t(v, 9)
    if port is not None and type(port) is not int and type(port) is not str:
        raise Reject
    return PortSpec(
        _ss(protocol),
        port,
        _oi(end_port),
        _b(declared),
        _i(index),
        _ds(span, p),
        _dos(port_span, p),
        _dos(protocol_span, p),
        _dos(end_span, p),
    )


def _d_peer(v: object, p: str) -> Peer:
    pod, namespace, block, index, span = _t(v, 5)
    return Peer(
        _d_oselector(pod, p),
        _d_oselector(namespace, p),
        None if block is None else _d_block(block, p),
        _i(index),
        _ds(span, p),
    )


def _d_rule(v: object, p: str) -> Rule:
    direction, index, peers, ports, span, peers_key, ports_key, path = _t(v, 8)
    return Rule(
        _DIRECTIONS[_s(direction)],
        _i(index),
        tuple(_d_peer(x, p) for x in _t(peers)),
        tuple(_d_port(x, p) for x in _t(ports)),
        _ds(span, p),
        _dos(peers_key, p),
        _dos(ports_key, p),
        _path_key(path),
    )


def _e_policy(o: NetworkPolicy, p: str) -> tuple[Any, ...]:
    declared = o.declared_policy_types
    return (
        _OBJ_POLICY,
        _e_ref(o.ref, p),
        o.name,
        o.namespace,
        o.namespace_declared,
        _e_selector(o.pod_selector, p),
        tuple(d.value for d in o.policy_types),
        None if declared is None else tuple((t, _es(s, p)) for t, s in declared),
        tuple(_e_rule(r, p) for r in o.ingress),
        tuple(_e_rule(r, p) for r in o.egress),
        _es(o.name_span, p),
        _eos(o.namespace_span, p),
        _eos(o.spec_span, p),
        _eos(o.policy_types_key_span, p),
        _eos(o.ingress_key_span, p),
        _eos(o.egress_key_span, p),
        o.labels,
        o.annotations,
        o.valid,
        _eos(o.annotation_span, p),
        o.generated_name,
    )


#: The four sets of directions a policy may hold, shared by their values as stored.
_DIRECTION_SETS: dict[tuple[str, ...], frozenset[Direction]] = {}


def _directions(v: object) -> frozenset[Direction]:
    names = _strs(v)
    found = _DIRECTION_SETS.get(names)
    if found is None:
        found = frozenset(_DIRECTIONS[_s(d)] for d in names)
        if len(_DIRECTION_SETS) < 16:  # a malformed cache may store orders and repeats
            _DIRECTION_SETS[names] = found
    return found


def _d_policy(v: tuple[Any, ...], p: str) -> NetworkPolicy:
    (
        _,
        ref,
        name,
        namespace,
        declared_ns,
        selector,
        types,
        declared,
        ingress,
        egress,
        name_span,
        ns_span,
        spec_span,
        types_key,
        ingress_key,
        egress_key,
        labels,
        annotations,
        valid,
        annotation_span,
        generated,
    ) = _t(v, 21)
    declared_types = None
    if declared is not None:
        declared_types = tuple(
            (_s(item[0]), _ds(item[1], p)) for item in (_t(x, 2) for x in _t(declared))
        )
    return NetworkPolicy(
        _d_ref(ref, p),
        _s(name),
        _ss(namespace),
        _b(declared_ns),
        _d_selector(selector, p),
        _directions(types),
        declared_types,
        tuple(_d_rule(r, p) for r in _t(ingress)),
        tuple(_d_rule(r, p) for r in _t(egress)),
        _ds(name_span, p),
        _dos(ns_span, p),
        _dos(spec_span, p),
        _dos(types_key, p),
        _dos(ingress_key, p),
        _dos(egress_key, p),
        _label_map(labels),
        _str_map(annotations),
        _b(valid),
        _dos(annotation_span, p),
        _b(generated),
    )


def _e_workload(o: Workload, p: str) -> tuple[Any, ...]:
    return (
        _OBJ_WORKLOAD,
        _e_ref(o.ref, p),
        o.kind,
        o.name,
        o.namespace,
        o.namespace_declared,
        o.pod_labels,
        tuple((c.port, c.protocol, c.name, c.container) for c in o.ports),
        o.host_network,
        o.dns_policy,
        _es(o.name_span, p),
        _eos(o.labels_span, p),
        o.annotations,
        _eos(o.annotation_span, p),
        o.owner or (),
    )


def _d_workload(v: tuple[Any, ...], p: str) -> Workload:
    (
        _,
        ref,
        kind,
        name,
        namespace,
        declared_ns,
        pod_labels,
        ports,
        host_network,
        dns_policy,
        name_span,
        labels_span,
        annotations,
        annotation_span,
        owner,
    ) = _t(v, 15)
    owned = _strs(owner)
    decoded = []
    for item in _t(ports):
        port, protocol, port_name, container = _t(item, 4)
        decoded.append(ContainerPort(_i(port), _ss(protocol), _oss(port_name), _ss(container)))
    return Workload(
        _d_ref(ref, p),
        _ss(kind),
        _s(name),
        _ss(namespace),
        _b(declared_ns),
        _label_map(pod_labels),
        tuple(decoded),
        _b(host_network),
        _os(dns_policy),
        _ds(name_span, p),
        _dos(labels_span, p),
        _str_map(annotations),
        _dos(annotation_span, p),
        (owned[0], owned[1]) if len(owned) == 2 else None,
    )


def _e_namespace(o: Namespace, p: str) -> tuple[Any, ...]:
    return (
        _OBJ_NAMESPACE,
        _e_ref(o.ref, p),
        o.name,
        o.labels,
        _es(o.name_span, p),
        o.annotations,
        _eos(o.annotation_span, p),
        _eos(o.legacy_isolation_span, p),
    )


def _d_namespace(v: tuple[Any, ...], p: str) -> Namespace:
    _, ref, name, labels, name_span, annotations, annotation_span, legacy_span = _t(v, 8)
    return Namespace(
        _d_ref(ref, p),
        _s(name),
        _str_map(labels),
        _ds(name_span, p),
        _str_map(annotations),
        _dos(annotation_span, p),
        _dos(legacy_span, p),
    )


def _e_admin(a: AdminPolicy, p: str) -> tuple[Any, ...]:
    rules = tuple(
        tuple((r.name, r.action, _e_rule(r.rule, p), r.has_nodes) for r in a.rules(d))
        for d in (Direction.INGRESS, Direction.EGRESS)
    )
    return (
        a.kind,
        a.name,
        a.priority,
        _e_selector(a.subject_namespaces, p),
        _e_oselector(a.subject_pods, p),
        rules,
        _es(a.name_span, p),
    )


def _d_admin(v: object, p: str) -> AdminPolicy:
    kind, name, priority, namespaces, pods, rules, name_span = _t(v, 7)
    ingress, egress = (
        tuple(
            AdminRule(_s(n), _s(action), _d_rule(rule, p), _b(nodes))
            for n, action, rule, nodes in (_t(x, 4) for x in _t(side))
        )
        for side in _t(rules, 2)
    )
    return AdminPolicy(
        _s(kind),
        _s(name),
        _oi(priority),
        _d_selector(namespaces, p),
        _d_oselector(pods, p),
        ingress,
        egress,
        _ds(name_span, p),
    )


def _e_foreign(o: ForeignPolicy, p: str) -> tuple[Any, ...]:
    admin = None if o.admin is None else _e_admin(o.admin, p)
    return (
        _OBJ_FOREIGN,
        _e_ref(o.ref, p),
        o.kind,
        o.api_version,
        o.namespace,
        admin,
        o.unmodelled_reason,
    )


def _d_foreign(v: tuple[Any, ...], p: str) -> ForeignPolicy:
    _, ref, kind, api_version, namespace, admin, reason = _t(v, 7)
    return ForeignPolicy(
        _d_ref(ref, p),
        _s(kind),
        _s(api_version),
        _os(namespace),
        None if admin is None else _d_admin(admin, p),
        _os(reason),
    )


_ENCODERS: Final[dict[type, Callable[[Any, str], tuple[Any, ...]]]] = {
    NetworkPolicy: _e_policy,
    Workload: _e_workload,
    Namespace: _e_namespace,
    ForeignPolicy: _e_foreign,
}
_DECODERS: Final[dict[int, Callable[[tuple[Any, ...], str], Any]]] = {
    _OBJ_POLICY: _d_policy,
    _OBJ_WORKLOAD: _d_workload,
    _OBJ_NAMESPACE: _d_namespace,
    _OBJ_FOREIGN: _d_foreign,
}


def _e_result(r: FileResult) -> tuple[Any, ...]:
    p = r.path
    return (
        p,
        r.digest,
        tuple(_ENCODERS[type(o)](o, p) for o in r.objects),
        tuple((x.kind.value, x.message, _es(x.span, p), x.subject) for x in r.problems),
        dict(r.kinds),
        r.skipped,
        r.documents,
        tuple((d.tokens, d.file_level, d.own_line, _es(d.span, p)) for d in r.directives),
        tuple(r.patches),
        tuple(_e_expectation(e, p) for e in r.expectations),
        r.blob,
    )


def _e_end(e: EndSpec) -> tuple[Any, ...]:
    return (e.namespace, e.labels, e.name)


def _d_end(v: object) -> EndSpec:
    namespace, labels, name = _t(v, 3)
    pairs = tuple((_s(k), _s(x)) for k, x in (_t(item, 2) for item in _t(labels)))
    return EndSpec(_os(namespace), pairs, _os(name))


def _e_expectation(e: Expectation, p: str) -> tuple[Any, ...]:
    return (
        e.allow,
        _e_end(e.src),
        _e_end(e.dst),
        e.port,
        _es(e.span, p),
        _es(e.src_span, p),
        _es(e.dst_span, p),
        e.description,
    )


def _d_expectation(v: object, p: str) -> Expectation:
    allow, src, dst, port, span, src_span, dst_span, description = _t(v, 8)
    protocol, number = _t(port, 2) if port is not None else (None, None)
    return Expectation(
        _b(allow),
        _d_end(src),
        _d_end(dst),
        (_s(protocol), _i(number)) if port is not None else None,
        _ds(span, p),
        _ds(src_span, p),
        _ds(dst_span, p),
        _os(description),
    )


def _d_result(v: object) -> FileResult:
    (
        path,
        file_digest,
        objects,
        problems,
        kinds,
        skipped,
        documents,
        directives,
        patches,
        expectations,
        blob,
    ) = _t(v, 11)
    p = _s(path)
    decoded_objects = []
    for item in _t(objects):
        decoded_objects.append(_DECODERS[_t(item)[0]](item, p))
    decoded_problems = []
    for item in _t(problems):
        kind, message, span, subject = _t(item, 4)
        decoded_problems.append(
            Problem(ProblemKind(_s(kind)), _s(message), _ds(span, p), _os(subject))
        )
    decoded_directives = []
    for item in _t(directives):
        tokens, file_level, own_line, span = _t(item, 4)
        decoded_directives.append(
            Directive(_strs(tokens), _b(file_level), _b(own_line), _ds(span, p))
        )
    return FileResult(
        p,
        _s(file_digest),
        decoded_objects,
        decoded_problems,
        _counter(kinds),
        _os(skipped),
        _i(documents),
        decoded_directives,
        list(_strs(patches)),
        [_d_expectation(item, p) for item in _t(expectations)],
        _s(blob),
    )


def encode_results(results: Iterable[FileResult]) -> bytes:
    """Parsed results as a shard. Raises TypeError or ValueError for a value the format does
    not know (a netlint bug: the round-trip tests cover every model class)."""
    return safedir.pack(FORMAT, "shard", tuple(_e_result(r) for r in results))


def decode_results(blob: bytes) -> list[FileResult] | None:
    """The results of a shard, exactly as encoded; None for anything netlint did not write."""
    try:
        return [_d_result(item) for item in _t(safedir.unpack(FORMAT, "shard", blob))]
    except Exception:  # malformed in any way: reject the whole file, never crash
        return None


#: What a cluster holds: the model objects of a file, as planned into units.
_Modelled = NetworkPolicy | Workload | Namespace | ForeignPolicy


def _pack_objects(objects: Iterable[_Modelled]) -> bytes:
    body = tuple((o.ref.path, _ENCODERS[type(o)](o, o.ref.path)) for o in objects)
    return safedir.pack_body(body)


def _unpack_objects(blob: object) -> list[_Modelled]:
    if type(blob) is not bytes:
        raise Reject
    body = safedir.unpack_body(blob)
    found: list[_Modelled] = []
    for item in _t(body):
        path, encoded = _t(item, 2)
        found.append(_DECODERS[_t(encoded)[0]](encoded, _s(path)))
    return found


#: A stored cluster's slice: its objects, and the files outside the key that planning read.
ClusterSlice = tuple[list[_Modelled], tuple[tuple[str, str | None], ...]]


def encode_cluster(
    key: str, objects: Iterable[_Modelled], reads: Mapping[str, str | None]
) -> bytes:
    """A planned cluster's objects by namespace, in their order: every Namespace and every
    cluster-scoped policy in one part, each namespace's objects in another, so that a question
    about two namespaces decodes those two and the shared part only; with ``reads``, what the
    plan read besides the manifests the key covers (each file's digest, None for none)."""
    shared: list[_Modelled] = []
    by_namespace: dict[str, list[_Modelled]] = {}
    for obj in objects:
        home = None if isinstance(obj, Namespace) else obj.namespace
        if home is None:
            shared.append(obj)
        else:
            by_namespace.setdefault(home, []).append(obj)
    parts = tuple((ns, _pack_objects(items)) for ns, items in by_namespace.items())
    read = tuple(sorted(reads.items()))
    return safedir.pack(FORMAT, "cluster", (key, read, _pack_objects(shared), parts))


def decode_cluster(blob: bytes, key: str, namespaces: Collection[str]) -> ClusterSlice | None:
    """The objects of ``namespaces`` and the shared part, in the order encoded, and the reads
    stored with them; None when the file is not a cluster of this ``key`` that this netlint
    wrote."""
    try:
        stored, read, shared, parts = _t(safedir.unpack(FORMAT, "cluster", blob), 4)
        if stored != key:
            return None
        reads = tuple((_s(rel), _os(known)) for rel, known in (_t(x, 2) for x in _t(read)))
        wanted = set(namespaces)
        found = _unpack_objects(shared)
        for item in _t(parts):
            namespace, part = _t(item, 2)
            if _s(namespace) in wanted:
                found.extend(_unpack_objects(part))
    except Exception:  # malformed in any way: as if nothing were stored
        return None
    return found, reads


def _e_finding(f: Finding) -> tuple[Any, ...]:
    related = tuple((r.span, r.message) for r in f.related)
    return (f.code, f.name, f.severity.value, f.message, f.span, related, f.subject, f.fix)


def _d_finding(v: object) -> Finding:
    code, name, severity, message, span, related, subject, fix = _t(v, 8)
    decoded = []
    for item in _t(related):
        r_span, r_message = _t(item, 2)
        decoded.append(Related(_ds(_t(r_span, 5), ""), _s(r_message)))
    return Finding(
        _s(code),
        _s(name),
        _SEVERITIES[_s(severity)],
        _s(message),
        _ds(_t(span, 5), ""),
        tuple(decoded),
        _os(subject),
        _os(fix),
    )


def _e_report(r: Report) -> tuple[Any, ...]:
    """A run's report, less what the run that reuses it knows: its root and rules."""
    return (
        tuple(_e_finding(f) for f in r.findings),
        r.files_linted,
        r.files_reported,
        dict(r.objects),
        tuple((s.path, s.reason) for s in r.skipped),
        r.overrides,
        r.suppressed,
        r.baselined,
    )


def _d_report(v: object, root: Path, rules: Sequence[RuleMeta]) -> Report:
    findings, linted, reported, objects, skipped, overrides, suppressed, baselined = _t(v, 8)
    decoded_skipped = []
    for item in _t(skipped):
        path, reason = _t(item, 2)
        decoded_skipped.append(Skipped(_s(path), _s(reason)))
    return Report(
        findings=[_d_finding(f) for f in _t(findings)],
        root=root,
        rules=rules,
        files_linted=_i(linted),
        files_reported=_i(reported),
        objects=_counter(objects),
        skipped=decoded_skipped,
        overrides=_str_map(overrides),
        suppressed=_i(suppressed),
        baselined=_i(baselined),
    )


# --- The directory and its files ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShardRef:
    """A shard as the state records it: its name's token and the stat netlint left it with."""

    token: str
    anchor: Anchor


@dataclass(frozen=True, slots=True)
class ShardWriter:
    """Writes shards of parsed results; picklable, so parse workers write their own shards and
    the main process never encodes the results a second time."""

    root: Path
    #: The cache directory's (st_dev, st_ino): a worker writes only into that very directory.
    identity: tuple[int, int]
    prefix: str

    def write(self, payload: bytes) -> ShardRef:
        """Store an encoded list of FileResults (``encode_results``). Raises OSError."""
        with safedir.open_directory(self.root, create=False, identity=self.identity) as opened:
            if opened is None:
                raise OSError(errno.ENOENT, "the cache directory is gone")
            token = safedir.token()
            anchor = safedir.write_new(opened[0], f"shard-{self.prefix}-{token}.msgpack", payload)
        return ShardRef(token, anchor)


class _Stamp(NamedTuple):
    """What the cache remembers of a file on disk, and which shard holds its parsed result.
    A NamedTuple: a state holds one per file of the repository, built on every run."""

    ctime_ns: int
    ino: int
    size: int
    mtime_ns: int
    digest: str
    shard: str

    def matches(self, st: os.stat_result) -> bool:
        return (
            st.st_ctime_ns == self.ctime_ns
            and st.st_ino == self.ino
            and st.st_size == self.size
            and st.st_mtime_ns == self.mtime_ns
        )


def _stamp(st: os.stat_result, file_digest: str, shard: str) -> _Stamp:
    return _Stamp(st.st_ctime_ns, st.st_ino, st.st_size, st.st_mtime_ns, file_digest, shard)


@dataclass(slots=True)
class Cache:
    """Per project and settings: a ``head`` naming the current ``state`` (every file's stamp,
    the shards' anchors and the outcomes of recent runs), and shards of parsed results. A run
    where nothing changed needs only the state; shards are read when a file's parsed result is
    needed."""

    root: Path
    #: What the parsed results depend on besides the file: netlint's code, parse settings.
    salt: str
    written_ns: int = 0
    stamps: dict[str, _Stamp] = field(default_factory=dict)
    shards: dict[str, Anchor] = field(default_factory=dict)
    #: Outcomes as stored (decoded only when one is reused), oldest first.
    outcomes: dict[str, Any] = field(default_factory=dict)
    #: The last planned cluster stored (``netlint explain``): its key and shard token.
    cluster: tuple[str, str] | None = None
    #: Stamps of this run (what the next one will find), and results parsed in this process.
    fresh: dict[str, _Stamp] = field(default_factory=dict)
    fresh_shards: dict[str, Anchor] = field(default_factory=dict)
    unsaved: dict[str, FileResult] = field(default_factory=dict)
    hits: int = 0
    #: Why the cache is not used or not saved, for --verbose.
    note: str | None = None
    #: False when the directory was refused: the run goes on without a cache.
    enabled: bool = True
    _identity: tuple[int, int] | None = None
    _loaded: dict[str, dict[str, FileResult]] = field(default_factory=dict)
    _dirty: bool = False

    @property
    def directory(self) -> Path:
        return self.root / CACHE_DIR

    @classmethod
    def open(cls, root: Path, salt: str) -> Cache:
        cache = cls(root, salt)
        try:
            with safedir.open_directory(root, create=False) as opened:
                if opened is not None:
                    cache._identity = opened[1]
                    cache._load_state(opened[0])
        except Refused as exc:
            cache.enabled, cache.note = False, str(exc)
        except OSError as exc:
            cache.enabled, cache.note = False, f"cache disabled: {exc.strerror or exc}"
        return cache

    @property
    def _prefix(self) -> str:
        return hashlib.blake2b(self.salt.encode(), digest_size=8).hexdigest()

    @property
    def _head(self) -> str:
        return f"head-{self._prefix}.msgpack"

    def _load_state(self, dir_fd: int) -> None:
        blob = safedir.read(dir_fd, self._head, _MAX_HEAD_BYTES)
        if blob is None:
            return
        try:
            token, *anchor = _t(safedir.unpack(FORMAT, "head", blob), 5)
            name = f"state-{self._prefix}-{_s(token)}.msgpack"
            state_anchor = (_i(anchor[0]), _i(anchor[1]), _i(anchor[2]), _i(anchor[3]))
        except Exception:  # not ours: start cold
            self.note = f"ignored {CACHE_DIR}/{self._head}: not written by netlint"
            return
        blob = safedir.read(dir_fd, name, min(state_anchor[3], _MAX_STATE_BYTES), state_anchor)
        if blob is None:  # replaced, copied or planted: not the state this machine wrote
            return
        try:
            written_ns, stamps, shards, outcomes, cluster = _t(
                safedir.unpack(FORMAT, "state", blob), 5
            )
            anchors: dict[str, Anchor] = {}
            for item in _t(shards):
                shard, (ino, ctime_ns, mtime_ns, size) = _t(item, 2)
                anchors[_s(shard)] = (_i(ino), _i(ctime_ns), _i(mtime_ns), _i(size))
            decoded: dict[str, _Stamp] = {}
            for item in _t(stamps):
                rel, ctime_ns, ino, size, mtime_ns, file_digest, shard = _t(item, 7)
                if not (
                    type(rel) is type(file_digest) is type(shard) is str
                    and type(ctime_ns) is type(ino) is type(size) is type(mtime_ns) is int
                    and shard in anchors
                ):
                    raise Reject
                decoded[rel] = _new_tuple(_Stamp, item[1:])
            kept = {_s(key): value for key, value in (_t(item, 2) for item in _t(outcomes))}
            stored = None
            if cluster is not None:
                cluster_key, cluster_token = _t(cluster, 2)
                if _s(cluster_token) not in anchors:
                    raise Reject
                stored = (_s(cluster_key), cluster_token)
        except Exception:  # malformed in any way: start cold
            self.note = f"ignored {CACHE_DIR}/{name}: not a state this netlint wrote"
            return
        self.written_ns, self.stamps, self.shards, self.outcomes = (
            _i(written_ns),
            decoded,
            anchors,
            kept,
        )
        self.cluster = stored
        if stored is not None:
            self.fresh_shards[stored[1]] = anchors[stored[1]]

    def knows(self, rel: str) -> bool:
        return rel in self.stamps

    def shard_writer(self) -> ShardWriter | None:
        """A writer for parse workers; creates the cache directory. None when it cannot."""
        if not self.enabled:
            return None
        try:
            with safedir.open_directory(self.root, create=True, identity=self._identity) as opened:
                assert opened is not None  # just created
                safedir.prepare(opened[0])
                self._identity = opened[1]
        except Refused as exc:
            self.enabled, self.note = False, str(exc)
            return None
        except OSError as exc:
            self.note = f"cache not saved: {exc.strerror or exc}"
            return None
        return ShardWriter(self.root, self._identity, self._prefix)

    def fresh_digest(self, rel: str, st: os.stat_result) -> str | None:
        """The content hash of an unchanged file, judged by its stat alone (no read): the same
        ctime, inode, size and mtime, neither time close to when the state was written."""
        stamp = self.stamps.get(rel)
        if (
            stamp is None
            or not stamp.matches(st)
            or max(st.st_mtime_ns, st.st_ctime_ns) > self.written_ns - _RACY_NS
        ):
            return None
        return stamp.digest

    def get(self, rel: str, st: os.stat_result, data: bytes | None = None) -> FileResult | None:
        """The cached result for a file, if it is still valid. With ``data`` None only the
        file's stat is checked (no read); pass the bytes to decide by content."""
        stamp = self.stamps.get(rel)
        if stamp is None or not self.enabled:
            return None
        if data is None:
            if self.fresh_digest(rel, st) is None:
                return None
        elif digest(data) != stamp.digest:
            return None
        elif not stamp.matches(st):  # same content, new stat (a checkout touched it)
            stamp = _stamp(st, stamp.digest, stamp.shard)
            self._dirty = True
        result = self._shard(stamp.shard).get(rel)
        if result is None or result.digest != stamp.digest:
            return None
        self.fresh[rel] = stamp
        self.fresh_shards[stamp.shard] = self.shards[stamp.shard]
        self.hits += 1
        return result

    def _shard(self, token: str) -> dict[str, FileResult]:
        found = self._loaded.get(token)
        if found is None:
            blob = self._shard_bytes(token)
            items = decode_results(blob) if blob is not None else None
            found = self._loaded[token] = {r.path: r for r in items or ()}
        return found

    def _shard_bytes(self, token: str) -> bytes | None:
        """A shard's bytes, if it is still the file the state recorded (its anchor)."""
        anchor = self.shards.get(token)
        with (
            contextlib.suppress(Refused, OSError),
            safedir.open_directory(self.root, create=False, identity=self._identity) as opened,
        ):
            if opened is not None and anchor is not None:
                name = f"shard-{self._prefix}-{token}.msgpack"
                return safedir.read(opened[0], name, min(anchor[3], _MAX_SHARD_BYTES), anchor)
        return None

    def put(self, result: FileResult, st: os.stat_result, shard: ShardRef | None = None) -> None:
        """Remember a file's result, with the stat taken *before* its bytes were read; ``shard``
        is where a parse worker already wrote it."""
        self.fresh[result.path] = _stamp(st, result.digest, shard.token if shard else "")
        if shard is None:
            self.unsaved[result.path] = result
        else:
            self.fresh_shards[shard.token] = shard.anchor
        self._dirty = True

    def outcome(self, key: str, root: Path, rules: Sequence[RuleMeta]) -> Report | None:
        """The report of an earlier run with this key, given this run's root and rules."""
        stored = self.outcomes.get(key)
        if stored is None:
            return None
        try:
            return _d_report(stored, root, rules)
        except Exception:  # malformed: run as if it were not there
            return None

    def put_outcome(self, key: str, report: Report) -> None:
        self.outcomes.pop(key, None)
        self.outcomes[key] = _e_report(report)
        while len(self.outcomes) > _OUTCOMES:
            del self.outcomes[next(iter(self.outcomes))]
        self._dirty = True

    def cluster_slice(self, key: str, namespaces: Collection[str]) -> ClusterSlice | None:
        """The stored cluster's objects of ``namespaces`` and its shared part (see
        ``encode_cluster``), if the cluster stored has this key."""
        if self.cluster is None or self.cluster[0] != key or not self.enabled:
            return None
        blob = self._shard_bytes(self.cluster[1])
        return None if blob is None else decode_cluster(blob, key, namespaces)

    def put_cluster(
        self, key: str, objects: Iterable[_Modelled], reads: Mapping[str, str | None]
    ) -> None:
        """Store a planned cluster under ``key`` (``reads``: see ``encode_cluster``), replacing
        the one stored before."""
        if self.cluster is not None and self.cluster[0] == key:
            return
        writer = self.shard_writer()
        if writer is None:
            return
        try:
            ref = writer.write(encode_cluster(key, objects, reads))
        except (TypeError, ValueError, OverflowError) as exc:  # a value the format lacks
            self.note = f"cluster not cached: {exc}"
            return
        except OSError as exc:
            self.note = f"cluster not cached: {exc.strerror or exc}"
            return
        if self.cluster is not None:
            self.fresh_shards.pop(self.cluster[1], None)
        self.cluster = (key, ref.token)
        self.fresh_shards[ref.token] = ref.anchor
        self._dirty = True

    def save(self) -> None:
        """Write what this run saw (files that are gone drop out) under new names, point the
        head at it, and remove what nobody needs any more."""
        if not self.enabled or not (self._dirty or self.fresh.keys() != self.stamps.keys()):
            return
        writer = self.shard_writer()
        if writer is None:
            return
        try:
            if self.unsaved:
                ref = writer.write(encode_results(self.unsaved.values()))
                for rel in self.unsaved:
                    self.fresh[rel] = self.fresh[rel]._replace(shard=ref.token)
                self.fresh_shards[ref.token] = ref.anchor
                self.unsaved.clear()
            live = {s.shard for s in self.fresh.values()}
            if self.cluster is not None:
                live.add(self.cluster[1])
            body = (
                time.time_ns(),
                tuple(
                    (rel, s.ctime_ns, s.ino, s.size, s.mtime_ns, s.digest, s.shard)
                    for rel, s in self.fresh.items()
                ),
                tuple((t, a) for t, a in self.fresh_shards.items() if t in live),
                tuple(self.outcomes.items()),
                self.cluster,
            )
            state_blob = safedir.pack(FORMAT, "state", body)
        except (TypeError, ValueError, OverflowError) as exc:  # a value the format lacks
            self.note = f"cache not saved: {exc}"
            return
        except OSError as exc:  # full disk, read-only checkout: lint without a cache
            self.note = f"cache not saved: {exc.strerror or exc}"
            return
        try:
            with safedir.open_directory(self.root, create=False, identity=self._identity) as opened:
                if opened is None:
                    raise OSError(errno.ENOENT, "the cache directory is gone")
                self._commit(opened[0], state_blob, live)
        except Refused as exc:
            self.enabled, self.note = False, str(exc)
        except OSError as exc:
            self.note = f"cache not saved: {exc.strerror or exc}"

    def _commit(self, dir_fd: int, state_blob: bytes, live: set[str]) -> None:
        token = safedir.token()
        state = f"state-{self._prefix}-{token}.msgpack"
        anchor = safedir.write_new(dir_fd, state, state_blob)
        tmp = f".tmp-{safedir.token()}"
        try:
            safedir.write_new(dir_fd, tmp, safedir.pack(FORMAT, "head", (token, *anchor)))
            os.replace(tmp, self._head, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:  # the old head still names the old state: leave nothing new
            for name in (tmp, state):
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=dir_fd)
            raise
        keep = {self._head, state, *(f"shard-{self._prefix}-{t}.msgpack" for t in live)}
        _prune(dir_fd, self._prefix, keep)


def _prune(dir_fd: int, prefix: str, keep: set[str]) -> None:
    """Delete files netlint created that nothing needs: this settings' states and shards that
    ``keep`` does not name, once older than a grace period (a racing run's fresh files are
    younger), and whatever other settings, versions of netlint or killed runs left a day ago or
    more. Only exact netlint names, only regular files of this user, never through a link."""
    now = time.time_ns()
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    try:
        names = os.listdir(dir_fd)
    except OSError:
        return
    for name in names:
        found = _OURS.fullmatch(name)
        if found is None or name in keep:
            continue
        if found["tmp"]:
            grace = _SHARD_GRACE_NS
        elif found["legacy"] or (found["head"] or found["prefix"]) != prefix:
            grace = _STALE_NS
        elif found["kind"] == "shard":
            grace = _SHARD_GRACE_NS
        else:
            grace = _STATE_GRACE_NS
        safedir.remove_if_older(dir_fd, name, grace, now, uid)
