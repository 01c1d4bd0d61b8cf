"""Rule documentation from the one place it is written: each rule's ``meta`` and its examples
in ``rules/<CODE>-<name>/`` (shipped as ``netlint/data/rules``). Feeds ``netlint rules``, the
Markdown pages in docs/rules/ and SARIF's rule help."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from netlint.core.rule import RuleMeta

#: Where the generated rule pages are published (docs/rules/ of the repository).
DOCS_URL = "https://github.com/netlint/netlint/blob/main/docs/rules/"
_MARKER = re.compile(r"\s*#\s*expect(?:-below)?:.*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Examples:
    bad: str | None
    good: str | None


def _folder(meta: RuleMeta) -> Traversable | None:
    folder = resources.files("netlint").joinpath(f"data/rules/{meta.code}-{meta.name}")
    return folder if folder.is_dir() else None


def examples(meta: RuleMeta) -> Examples:
    """The rule's bad and good examples, without the test markers."""
    folder = _folder(meta)
    bad, good = meta.bad_example, meta.good_example
    if folder is not None:
        for name in ("bad.yaml", "good.yaml"):
            item = folder.joinpath(name)
            if item.is_file():
                text = _MARKER.sub("", item.read_text(encoding="utf-8"))
                if name == "bad.yaml":
                    bad = text
                else:
                    good = text
    return Examples(bad, good)


def help_uri(meta: RuleMeta) -> str:
    return f"{DOCS_URL}{meta.code}-{meta.name}.md"


def clip(text: str, limit: int = 1024) -> str:
    """At most ``limit`` characters, cut at a sentence end where possible (SARIF/GitHub cap)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    return cut[: end + 1] if end > limit // 2 else cut.rstrip() + "…"


def _options(meta: RuleMeta) -> list[tuple[str, str, str]]:
    """(key, default as YAML would write it, description) of each option."""
    out = []
    for o in meta.option_fields:
        default = o.default
        if isinstance(default, tuple | frozenset):
            default = list(default)
        elif isinstance(default, Mapping):
            default = dict(default)
        out.append((o.key, json.dumps(default), o.description))
    return out


def markdown(meta: RuleMeta, *, heading: str = "#") -> str:
    """The rule's help page (docs/rules/, SARIF ``help.markdown``)."""
    ex = examples(meta)
    parts = [
        f"{heading} {meta.code} {meta.name}",
        "",
        f"**Default severity:** {meta.severity.value}"
        + (f" · **Tags:** {', '.join(meta.tags)}" if meta.tags else "")
        + f" · **Added in:** {meta.added_in}"
        + (f" · **Formerly:** {', '.join(meta.old_names)}" if meta.old_names else ""),
        "",
        meta.summary,
    ]
    for title, text in meta.sections():
        parts += ["", f"{heading}# {title}", "", text]
    parts += [
        "",
        f"{heading}# Certainty",
        "",
        f"`{meta.certainty.value}`: {meta.certainty.explained} See [deploy units](../units.md).",
    ]
    if meta.options:
        parts += ["", f"{heading}# Options", ""]
        for key, default, description in _options(meta):
            parts.append(f"- `{key}` (default `{default}`): {description}".rstrip(": "))
    if ex.bad:
        parts += ["", f"{heading}# Example: flagged", "", "```yaml", ex.bad.rstrip(), "```"]
    if ex.good:
        parts += ["", f"{heading}# Example: accepted", "", "```yaml", ex.good.rstrip(), "```"]
    return "\n".join(parts) + "\n"


def plain(meta: RuleMeta) -> str:
    """The help page as plain text (``netlint rules CODE``, SARIF ``help.text``)."""
    ex = examples(meta)
    parts = [
        f"{meta.code} {meta.name} (default severity: {meta.severity.value}; "
        f"added in {meta.added_in})",
        "",
        meta.summary,
    ]
    for title, text in meta.sections():
        parts += ["", f"{title}:", "", _indent(text)]
    parts += ["", "Certainty:", "", _indent(f"{meta.certainty.value}: {meta.certainty.explained}")]
    if meta.options:
        parts += ["", "Options:", ""]
        for key, default, description in _options(meta):
            parts.append(f"    {key} (default {default}) {description}".rstrip())
    if ex.bad:
        parts += ["", "Flagged:", "", _indent(ex.bad)]
    if ex.good:
        parts += ["", "Accepted:", "", _indent(ex.good)]
    return "\n".join(parts).rstrip() + "\n"


def _indent(text: str) -> str:
    return "\n".join(("    " + line) if line.strip() else "" for line in text.rstrip().splitlines())
