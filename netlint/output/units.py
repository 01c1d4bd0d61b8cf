"""``netlint units``: the deploy units of a project, as text or JSON."""

from __future__ import annotations

import json
from typing import Any

from netlint.analysis.layout import Layout, UnitIndex
from netlint.analysis.wording import plural
from netlint.core import escape


def render_units(layout: Layout, form: str, *, files: bool = False) -> str:
    if form == "json":
        return _json(layout)
    return _text(layout, files)


def _namespaces(entry: UnitIndex) -> list[str]:
    index = entry.index
    found = {p.namespace for p in index.policies} | {w.namespace for w in index.workloads}
    return sorted(found)


def _counts(entry: UnitIndex) -> dict[str, int]:
    index = entry.index
    return {
        "policies": len(index.policies),
        "workloads": len(index.workloads),
        "namespaces": len(index.namespace_objects),
    }


def _text(layout: Layout, files: bool) -> str:
    lines: list[str] = []
    empty = 0
    for entry in layout.units:
        unit = entry.unit
        counts = _counts(entry)
        if unit.kind.value == "file" and not files and unit.complete and not entry.objects:
            # A plain file that applies nothing (a workflow, package.json): not a unit worth a
            # reader's time; counted below, and listed with --files.
            empty += 1
            continue
        head = escape.text(unit.name)
        if unit.declared_at:
            head += f"  (from {escape.path_text(unit.declared_at)})"
        if not unit.complete:
            head += "  [incomplete]"
        lines.append(head)
        if unit.kind.value != "file":
            # What --unit takes (a plain file's is file:PATH).
            lines.append(f"    id: {escape.text(unit.id)}")
        applies = ", ".join(
            plural(counts[key], word)
            for key, word in (
                ("policies", "policy"),
                ("workloads", "workload"),
                ("namespaces", "Namespace object"),
            )
        )
        where = ", ".join(escape.text(n) for n in _namespaces(entry)) or "-"
        lines.append(f"    applies {applies}; in namespaces {where}")
        if unit.namespace:
            lines.append(f"    namespace for objects without one: {escape.text(unit.namespace)}")
        if files or unit.kind.value != "file":
            lines.append(f"    reads {plural(len(unit.files), 'file')}")
            if files:
                lines.extend(f"      {escape.path_text(p)}" for p in unit.files)
        lines.extend(f"    incomplete: {escape.text(reason)}" for reason in unit.incomplete)
    if layout.not_applied:
        lines.append("not applied (in a kustomize tree, read by no kustomization):")
        lines.extend(f"    {escape.path_text(p)}" for p in layout.not_applied)
    total = plural(len(layout.units), "unit")
    if empty:
        total += (
            f" ({plural(empty, 'plain file')} applying no object not listed; --files lists them)"
        )
    lines.append(total)
    return "\n".join(lines) + "\n"


def _json(layout: Layout) -> str:
    units: list[dict[str, Any]] = []
    for entry in layout.units:
        unit = entry.unit
        units.append(
            {
                "id": unit.id,
                "kind": unit.kind.value,
                "root": unit.root,
                "declared_at": unit.declared_at,
                "namespace": unit.namespace,
                "complete": unit.complete,
                "incomplete": list(unit.incomplete),
                "files": list(unit.files),
                "applies": _counts(entry),
                "namespaces": _namespaces(entry),
            }
        )
    document = {"units": units, "not_applied": layout.not_applied}
    return escape.json_document(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"
