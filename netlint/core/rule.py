"""What is said about a rule, in one place: its identity, its prose in sections and its typed
options. It feeds ``netlint rules``, the generated docs (docs/rules/), SARIF's
``tool.driver.rules``, config validation and the cache key.

A rule's options are a frozen dataclass whose fields carry their default, a description and a
JSON Schema fragment (:func:`option`); the rule reads ``ctx.options.<field>``, typed. The schema
that validates ``.netlint.yaml`` and the defaults that the docs print derive from the class, so
neither is written twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from netlint.core.findings import Severity
from netlint.core.units import Certainty

__all__ = ["Options", "RuleMeta", "option", "option_fields"]

#: Keys of a field's ``metadata`` that :func:`option` sets.
_DESCRIPTION: Final = "netlint.description"
_SCHEMA: Final = "netlint.schema"
#: Where a field's name and its config key differ: ``max-prefix`` in YAML, ``max_prefix`` here.
_KEY: Final = "netlint.key"


class Options:
    """Base of a rule's options: subclass it as ``@dataclass(frozen=True)`` with :func:`option`
    fields. An instance is what the rule sees as ``ctx.options``."""


def option(
    default: Any, *, description: str, schema: Mapping[str, Any], key: str | None = None
) -> Any:
    """A field of an :class:`Options` dataclass: its default, what it means, and the JSON Schema
    its configured value must satisfy. ``key`` is the name in the config when it is not the
    field's name with ``_`` written as ``-``."""
    metadata = {_DESCRIPTION: description, _SCHEMA: dict(schema), _KEY: key}
    if isinstance(default, list | dict | set):
        raise TypeError("option defaults are immutable: use a tuple or a frozenset")
    return field(default=default, metadata=metadata)


@dataclass(frozen=True, slots=True)
class OptionField:
    """One option as config, docs and validation see it."""

    key: str
    attribute: str
    default: Any
    description: str
    schema: Mapping[str, Any]


def option_fields(
    options: type[Options] | Mapping[str, Any] | None, schemas: Mapping[str, Any] | None = None
) -> tuple[OptionField, ...]:
    """The options of a rule, in declaration order."""
    if options is None:
        return ()
    if isinstance(options, Mapping):  # contract v1
        schemas = schemas or {}
        return tuple(
            OptionField(
                key=key,
                attribute=key,
                default=default,
                description=schemas.get(key, {}).get("description", ""),
                schema={k: v for k, v in schemas.get(key, {}).items() if k != "description"},
            )
            for key, default in options.items()
        )
    out = []
    for f in dataclasses.fields(options):  # type: ignore[arg-type]
        out.append(
            OptionField(
                key=f.metadata.get(_KEY) or f.name.replace("_", "-"),
                attribute=f.name,
                default=f.default,
                description=f.metadata.get(_DESCRIPTION, ""),
                schema=f.metadata.get(_SCHEMA, {}),
            )
        )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class RuleMeta:
    """Everything said about a rule. The prose is in sections, each Markdown, so the docs, the
    terminal and SARIF render the same text: ``summary`` (what it reports, one sentence), ``why``
    (why that is a problem), ``fix`` (what to do instead), ``not_reported`` (what it stays
    silent about, and why: the known limits), ``references``."""

    code: str
    name: str
    severity: Severity
    summary: str
    why: str = ""
    fix: str = ""
    not_reported: str = ""
    references: tuple[str, ...] = ()
    #: The release that added the rule, and the names it had before (suppressions and config
    #: that name an old name keep working).
    added_in: str = "0.1.0"
    old_names: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    #: GitHub code scanning's security severity, in (0, 10].
    security_severity: float = 5.0
    precision: str = "very-high"
    #: What the rule's claims need (see :class:`~netlint.core.units.Certainty`): one object,
    #: everything that may be applied with it, or objects applied together in one unit.
    certainty: Certainty = Certainty.OBJECT
    options: type[Options] | Mapping[str, Any] | None = None
    #: Migration shims for rule contract v1 (removed once every rule has moved): one prose blob,
    #: and options as a dict of defaults beside a dict of schemas.
    rationale: str = ""
    options_schema: Mapping[str, Any] = field(default_factory=dict)
    #: Examples for rules that do not ship ``rules/<CODE>-<name>/{bad,good}.yaml``.
    bad_example: str | None = None
    good_example: str | None = None

    @property
    def contract_v1(self) -> bool:
        """Whether the meta still uses rule contract v1 (a ``rationale`` blob, options as a dict
        beside ``options_schema``): accepted for plugins, with a warning, while they move."""
        return bool(self.rationale) or isinstance(self.options, Mapping)

    @property
    def names(self) -> tuple[str, ...]:
        """Its name and the names it had before, lower case: what config, ``--select`` and
        suppressions may call it."""
        return tuple(n.lower() for n in (self.name, *self.old_names))

    def answers_to(self, token: str) -> bool:
        """Whether a config key or a suppression token names this rule: its code, its name or
        an old name, in any case."""
        token = token.strip()
        return token.upper() == self.code or token.lower() in self.names

    @property
    def option_fields(self) -> tuple[OptionField, ...]:
        return option_fields(self.options, self.options_schema)

    @property
    def option_schema(self) -> dict[str, Any]:
        """JSON Schema properties of the options, keyed as the config writes them."""
        return {
            o.key: {**o.schema, "description": o.description} if o.description else dict(o.schema)
            for o in self.option_fields
        }

    def make_options(self, configured: Mapping[str, Any]) -> Any:
        """The typed options: the defaults, with what the config sets (already validated
        against :attr:`option_schema`). Lists become tuples, so options stay hashable."""
        if self.options is None:
            return None
        if isinstance(self.options, Mapping):  # contract v1: a dict of the merged values
            return {**self.options, **configured}
        values = {}
        for o in self.option_fields:
            if o.key in configured:
                value = configured[o.key]
                values[o.attribute] = tuple(value) if isinstance(value, list) else value
        return self.options(**values)

    def sections(self) -> list[tuple[str, str]]:
        """The prose after the summary, as (heading, Markdown) pairs, empty ones left out."""
        pairs = [
            ("Why", self.why or self.rationale),
            ("How to fix", self.fix),
            ("Not reported", self.not_reported),
            ("References", "\n".join(f"- {r}" for r in self.references)),
        ]
        return [(heading, text.strip()) for heading, text in pairs if text.strip()]
