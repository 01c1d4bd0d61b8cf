"""What the API server rejects beyond the schema's structure (the value rules of NL002).

Each check mirrors a rule of Kubernetes' ``ValidateNetworkPolicy`` and points at the node it
rejects. Checks skip values of the wrong type: the schema has already reported those.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any, Final

from netlint.core.model import Network
from netlint.core.problems import Problem, ProblemKind
from netlint.core.selectors import has_placeholder
from netlint.read.parse import PathKey, Tree
from netlint.read.schema import quoted

_DNS_LABEL: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN: Final = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)
_LABEL_NAME: Final = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_SVC_NAME: Final = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
PROTOCOLS: Final = ("TCP", "UDP", "SCTP")


def label_key_error(key: str) -> str | None:
    """Why ``key`` is not a valid label key, or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        return "the prefix before '/' is empty"
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return (
            f"prefix {quoted(prefix)} must be a DNS subdomain (lower case, '-', '.', at most 253)"
        )
    if not name:
        return "the name part is empty"
    if len(name) > 63:
        return f"name part is {len(name)} characters, over 63"
    if not _LABEL_NAME.fullmatch(name):
        return "name part must be alphanumerics, '-', '_' or '.', starting and ending alphanumeric"
    return None


def label_value_error(value: str) -> str | None:
    """Why ``value`` is not a valid label value, or None (the empty value is valid)."""
    if not value:
        return None
    if len(value) > 63:
        return f"it is {len(value)} characters, over 63"
    if not _LABEL_NAME.fullmatch(value):
        return "it must be alphanumerics, '-', '_' or '.', starting and ending alphanumeric"
    return None


def dns_label_error(value: str) -> str | None:
    if len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        return "it must be a DNS label: lower-case alphanumerics and '-', at most 63 characters"
    return None


def dns_subdomain_error(value: str) -> str | None:
    if len(value) > 253 or not _DNS_SUBDOMAIN.fullmatch(value):
        return (
            "it must be a DNS subdomain: lower-case alphanumerics, '-' and '.', "
            "at most 253 characters"
        )
    return None


def port_name_error(name: str) -> str | None:
    """Why ``name`` is not a valid named port (IANA service name), or None."""
    if len(name) > 15:
        return f"a port name has at most 15 characters, not {len(name)}"
    if not _SVC_NAME.fullmatch(name) or "--" in name:
        return "a port name is lower-case alphanumerics and single '-', not at either end"
    if not re.search("[a-z]", name):
        return "a port name needs at least one letter (a number here must not be quoted)"
    return None


def parse_cidr(text: str) -> Network | None:
    """The network of a CIDR as the API server parses it (host bits allowed), or None."""
    if "/" not in text:
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _problem(tree: Tree, where: PathKey, message: str, *, key: bool = False) -> Problem:
    return Problem(ProblemKind.INVALID, message, tree.key_span(where) if key else tree.span(where))


def holds_placeholder(data: Any) -> bool:
    """Whether a mapping key or a string anywhere in ``data`` holds a substitution placeholder
    (:func:`has_placeholder`)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if has_placeholder(item):
                return True
        elif isinstance(item, dict):
            for key, value in item.items():
                if isinstance(key, str) and has_placeholder(key):
                    return True
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return False


def label_map_problems(tree: Tree, where: PathKey, what: str = "label") -> Iterator[Problem]:
    """Type and syntax of a map of labels (``metadata.labels``, ``matchLabels``). A key or value
    that holds a substitution placeholder is not judged (see :func:`has_placeholder`)."""
    labels = tree.get(where)
    if labels is None:
        return
    if not isinstance(labels, dict):
        yield _problem(tree, where, f"{what}s must be a mapping of strings")
        return
    for key, value in labels.items():
        error = None if has_placeholder(str(key)) else label_key_error(str(key))
        if error:
            yield _problem(
                tree, (*where, key), f"{what} key {quoted(key)} is invalid: {error}", key=True
            )
        if isinstance(value, str):
            error = None if has_placeholder(value) else label_value_error(value)
            if error:
                yield _problem(
                    tree, (*where, key), f"{what} value {quoted(value)} is invalid: {error}"
                )
        elif not isinstance(value, (dict, list)) and value is not None:
            yield _problem(
                tree,
                (*where, key),
                f"{what} {quoted(key)} must have a string value, not {quoted(value)}; "
                "quote it so YAML reads it as a string",
            )


def generate_name_error(prefix: str) -> str | None:
    """Why ``prefix`` is not a valid ``metadata.generateName``, or None. The API server checks
    it as a name that will have a value appended (apimachinery ``maskTrailingDash``: a trailing
    '-' of a prefix longer than one character stands for a valid character, with the quirk of
    dropping the character before it too). Checked as a DNS subdomain for every kind, the
    loosest of the name rules, so that no prefix the server accepts is reported."""
    masked = prefix[:-2] + "a" if len(prefix) > 1 and prefix.endswith("-") else prefix
    if len(masked) > 253 or not _DNS_SUBDOMAIN.fullmatch(masked):
        return (
            "it must be the start of a DNS subdomain: lower-case alphanumerics, '-' and '.', "
            "starting alphanumeric, at most 253 characters (a trailing '-' is allowed)"
        )
    return None


def generated_name(tree: Tree) -> str | None:
    """The ``metadata.generateName`` the API server names this object from, when it has no
    ``metadata.name`` (absent, null or empty: Go's zero value) and a non-empty string
    ``generateName``; else None. ``kubectl create`` and Argo CD hooks create such objects; the
    server appends five random characters, so each one gets a name of its own."""
    name = tree.get(("metadata", "name"))
    if name is not None and name != "":
        return None
    prefix = tree.get(("metadata", "generateName"))
    return prefix if isinstance(prefix, str) and prefix else None


def metadata_problems(tree: Tree, namespaced: bool = True) -> Iterator[Problem]:
    """Name, generateName, namespace and label syntax of ``metadata``, as for every Kubernetes
    object. A value that holds a substitution placeholder (:func:`has_placeholder`) is not
    judged: a tool replaces it before the API server sees it."""
    name = tree.get(("metadata", "name"))
    if isinstance(name, str) and name and not has_placeholder(name):
        error = dns_subdomain_error(name)
        if error:
            yield _problem(
                tree, ("metadata", "name"), f"metadata.name {quoted(name)} is invalid: {error}"
            )
    prefix = tree.get(("metadata", "generateName"))
    if isinstance(prefix, str) and prefix and not has_placeholder(prefix):
        # The server validates generateName whenever it is set, with or without a name.
        error = generate_name_error(prefix)
        if error:
            yield _problem(
                tree,
                ("metadata", "generateName"),
                f"metadata.generateName {quoted(prefix)} is invalid: {error}",
            )
    elif prefix is not None and not isinstance(prefix, str):
        yield _problem(
            tree,
            ("metadata", "generateName"),
            f"metadata.generateName must be a string, not {quoted(prefix)}",
        )
    namespace = tree.get(("metadata", "namespace"))
    if namespaced and isinstance(namespace, str) and not has_placeholder(namespace):
        error = dns_label_error(namespace)
        if error:
            yield _problem(
                tree,
                ("metadata", "namespace"),
                f"metadata.namespace {quoted(namespace)} is invalid: {error}",
            )
    yield from label_map_problems(tree, ("metadata", "labels"))


def selector_problems(tree: Tree, where: PathKey) -> Iterator[Problem]:
    """Label syntax and operator/values rules of a LabelSelector (keys and values holding a
    substitution placeholder are not judged)."""
    selector = tree.get(where)
    if not isinstance(selector, dict):
        return
    yield from label_map_problems(tree, (*where, "matchLabels"), "matchLabels")
    expressions = selector.get("matchExpressions")
    if not isinstance(expressions, list):
        return
    for i, expression in enumerate(expressions):
        if not isinstance(expression, dict):
            continue
        at: PathKey = (*where, "matchExpressions", i)
        key = expression.get("key")
        if isinstance(key, str) and not has_placeholder(key):
            error = label_key_error(key)
            if error:
                yield _problem(
                    tree, (*at, "key"), f"matchExpressions key {quoted(key)} is invalid: {error}"
                )
        operator = expression.get("operator")
        values = expression.get("values")
        count = len(values) if isinstance(values, list) else 0
        if operator in ("In", "NotIn") and count == 0:
            yield _problem(
                tree,
                (*at, "values") if "values" in expression else (*at, "operator"),
                f"operator {operator} needs at least one value",
            )
        elif operator in ("Exists", "DoesNotExist") and count:
            yield _problem(
                tree, (*at, "values"), f"operator {operator} takes no values; remove 'values'"
            )
        if isinstance(values, list):
            for j, value in enumerate(values):
                if isinstance(value, str) and not has_placeholder(value):
                    error = label_value_error(value)
                    if error:
                        yield _problem(
                            tree,
                            (*at, "values", j),
                            f"label value {quoted(value)} is invalid: {error}",
                        )


def _peer_problems(tree: Tree, where: PathKey) -> Iterator[Problem]:
    peer = tree.get(where)
    if not isinstance(peer, dict):
        return
    fields = [k for k in ("podSelector", "namespaceSelector", "ipBlock") if k in peer]
    if not fields:
        yield Problem(
            ProblemKind.INVALID,
            "a peer must set podSelector, namespaceSelector or ipBlock "
            "(to allow every peer, leave out from/to instead)",
            tree.span(where).first_line,
        )
    if "ipBlock" in fields and len(fields) > 1:
        yield _problem(
            tree,
            (*where, "ipBlock"),
            "ipBlock cannot be combined with podSelector or namespaceSelector in one peer "
            "(make it a separate list item)",
            key=True,
        )
    for selector in ("podSelector", "namespaceSelector"):
        if selector in peer:
            yield from selector_problems(tree, (*where, selector))
    block = peer.get("ipBlock")
    if isinstance(block, dict):
        yield from _ip_block_problems(tree, (*where, "ipBlock"), block)


def _ip_block_problems(tree: Tree, where: PathKey, block: dict[str, Any]) -> Iterator[Problem]:
    cidr = block.get("cidr")
    network = parse_cidr(cidr) if isinstance(cidr, str) else None
    if isinstance(cidr, str) and network is None and not has_placeholder(cidr):
        yield _problem(
            tree, (*where, "cidr"), f"cidr {quoted(cidr)} is not a valid CIDR (e.g. 10.0.0.0/16)"
        )
    excepts = block.get("except")
    if not isinstance(excepts, list):
        return
    for i, item in enumerate(excepts):
        if not isinstance(item, str) or has_placeholder(item):
            continue
        excluded = parse_cidr(item)
        at = (*where, "except", i)
        if excluded is None:
            yield _problem(tree, at, f"except {quoted(item)} is not a valid CIDR")
        elif network is not None and (
            excluded.version != network.version
            or not excluded.subnet_of(network)  # type: ignore[arg-type]
            or excluded.prefixlen <= network.prefixlen
        ):
            yield _problem(
                tree, at, f"except {quoted(item)} must be a strict subset of cidr {quoted(cidr)}"
            )


def _port_problems(tree: Tree, where: PathKey) -> Iterator[Problem]:
    spec = tree.get(where)
    if not isinstance(spec, dict):
        return
    port = spec.get("port")
    end_port = spec.get("endPort")
    if isinstance(port, bool) or (isinstance(port, str) and has_placeholder(port)):
        return  # a placeholder may stand for a number or a name: nothing here is known
    if isinstance(port, int) and not 1 <= port <= 65535:
        yield _problem(tree, (*where, "port"), f"port {port} is outside 1-65535")
    elif isinstance(port, str):
        error = port_name_error(port)
        if error:
            yield _problem(tree, (*where, "port"), f"port {quoted(port)} is invalid: {error}")
    if isinstance(end_port, int) and not isinstance(end_port, bool):
        at = (*where, "endPort")
        if port is None:
            yield _problem(tree, at, "endPort needs a numeric port to start the range", key=True)
        elif isinstance(port, str):
            yield _problem(tree, at, "endPort cannot be used with a named port", key=True)
        elif isinstance(port, int) and end_port < port:
            yield _problem(tree, at, f"endPort {end_port} is below port {port}")
        elif not 1 <= end_port <= 65535:
            yield _problem(tree, at, f"endPort {end_port} is outside 1-65535")


def network_policy_problems(tree: Tree) -> Iterator[Problem]:
    """Value rules of a NetworkPolicy the schema cannot express."""
    yield from metadata_problems(tree)
    spec = tree.get(("spec",))
    if not isinstance(spec, dict):
        return
    yield from selector_problems(tree, ("spec", "podSelector"))
    types = spec.get("policyTypes")
    if isinstance(types, list):
        seen: set[Any] = set()
        for i, value in enumerate(types):
            if isinstance(value, str) and value in seen:
                yield _problem(
                    tree, ("spec", "policyTypes", i), f"policyTypes lists {quoted(value)} twice"
                )
            seen.add(value if isinstance(value, str) else None)
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        rules = spec.get(direction)
        if not isinstance(rules, list):
            continue
        for i, rule in enumerate(rules):
            if not isinstance(rule, dict):
                continue
            peers = rule.get(peers_key)
            if isinstance(peers, list):
                for j in range(len(peers)):
                    yield from _peer_problems(tree, ("spec", direction, i, peers_key, j))
            ports = rule.get("ports")
            if isinstance(ports, list):
                for j in range(len(ports)):
                    yield from _port_problems(tree, ("spec", direction, i, "ports", j))
