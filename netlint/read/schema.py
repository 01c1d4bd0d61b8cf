"""JSON Schema validation of manifests, with every error pointing at the offending node.

The schemas live in ``schemas/`` (shipped in the package as ``netlint/data/schemas``). Valid
documents, nearly all of them, pass through a validator that fastjsonschema compiles once: about
16 us a policy against jsonschema's 380 us. Only a document it rejects goes through jsonschema,
which collects every error with its path; jsonschema is imported only then.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterator
from functools import cache
from importlib import resources
from typing import Any

from netlint.core.problems import Problem, ProblemKind
from netlint.read.parse import PathKey, Tree


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A schema shipped with netlint, e.g. ``networkpolicy`` or ``config``."""
    text = resources.files("netlint").joinpath(f"data/schemas/{name}.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _fast(name: str) -> Callable[[Any], Any]:
    import fastjsonschema

    validate: Callable[[Any], Any] = fastjsonschema.compile(load_schema(name))
    return validate


@cache
def _full(name: str) -> Any:
    import jsonschema

    schema = load_schema(name)
    return jsonschema.validators.validator_for(schema)(schema)


def is_valid(name: str, data: Any) -> bool:
    import fastjsonschema

    try:
        _fast(name)(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


#: Characters of a value of the scanned file that a message quotes; the rest is an ellipsis (a
#: label value may be megabytes long, and the finding points at it anyway).
QUOTE_LIMIT = 60


def quoted(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` for a message, cut to about ``limit`` characters with an ellipsis."""
    if isinstance(value, str) and len(value) > limit:
        text = repr(value[:limit])
        return f"{text[:-1]}...{text[-1]}"
    text = repr(value)
    return text if len(text) <= limit + 2 else text[:limit] + "..."


def cut(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` (a name from the scanned file, shown unquoted) cut to ``limit`` characters."""
    return text if len(text) <= limit else text[:limit] + "..."


def dotted(where: PathKey) -> str:
    """``spec.ingress[0].from`` for ``("spec", "ingress", 0, "from")``; a long key (a label
    key, written by the scanned file) is cut."""
    out = ""
    for part in where:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + cut(str(part))
    return out or "document"


def validate(name: str, tree: Tree, prefix: PathKey = ()) -> list[Problem]:
    """NL002 problems for ``tree.data`` against schema ``name``; [] when it is valid."""
    if is_valid(name, tree.data):
        return []
    return list(_explain(name, tree, prefix))


def _explain(name: str, tree: Tree, prefix: PathKey) -> Iterator[Problem]:
    validator = _full(name)
    errors = sorted(validator.iter_errors(tree.data), key=lambda e: list(map(str, e.path)))
    for error in errors:
        where: PathKey = tuple(error.absolute_path)
        label = (
            dotted(prefix + where) if prefix + where else cut(str(tree.get(("kind",), "object")))
        )
        kind = error.validator
        if kind == "additionalProperties" and isinstance(error.instance, dict):
            allowed = sorted(error.schema.get("properties", {}))
            for key in error.instance:
                if key in allowed:
                    continue
                hint = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
                message = f"unknown field {quoted(key)} in {label}"
                message += (
                    f" (did you mean {hint[0]!r}?)" if hint else f"; allowed: {', '.join(allowed)}"
                )
                yield Problem(ProblemKind.INVALID, message, tree.key_span((*where, key)))
        elif kind == "required":
            missing = error.message.split("'")[1] if "'" in error.message else error.message
            yield Problem(
                ProblemKind.INVALID,
                f"{label} is missing the required field {missing!r}",
                tree.key_span(where) if where else tree.span(where).first_line,
            )
        elif kind == "type":
            wanted = error.validator_value
            wanted_text = " or ".join(wanted) if isinstance(wanted, list) else wanted
            message = f"{label} must be {_article(wanted_text)}, not {_json_type(error.instance)}"
            if "string" in wanted and isinstance(error.instance, (bool, int, float)):
                message += "; quote it so YAML reads it as a string"
            yield Problem(ProblemKind.INVALID, message, tree.span(where))
        elif kind in ("enum", "const"):
            options = error.validator_value if kind == "enum" else [error.validator_value]
            hint = [o for o in options if str(o).lower() == str(error.instance).lower()]
            message = (
                f"{label} must be one of {', '.join(map(str, options))}, "
                f"not {quoted(error.instance)}"
            )
            if hint:
                message += f" (values are case-sensitive: {hint[0]!r})"
            yield Problem(ProblemKind.INVALID, message, tree.span(where))
        else:
            yield Problem(ProblemKind.INVALID, f"{label}: {_message(error)}", tree.span(where))


def _message(error: Any) -> str:
    """jsonschema's message with the instance it quotes in full (``'...' is too long``, ``...
    does not match``) quoted short."""
    message = str(error.message)
    full = repr(error.instance)
    if len(full) > QUOTE_LIMIT + 2 and full in message:
        message = message.replace(full, quoted(error.instance))
    return message


def _article(kind: str) -> str:
    words = kind.replace("object", "mapping").replace("array", "list")
    return ("an " if words[:1] in "aeiou" else "a ") + words


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({quoted(value)})"
    if isinstance(value, list):
        return "a list"
    return "a mapping"
