"""Output formats: ``text``, ``json``, ``github`` and ``sarif``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # netlint.output.report imports netlint.core.escape: no cycle at run time
    from netlint.output.report import Report

FORMATS = ("text", "json", "github", "sarif")


def render(fmt: str, report: Report, *, color: bool = False, **options: object) -> str:
    renderer: Callable[..., str]
    if fmt == "text":
        from netlint.output.reporters.text import render as renderer
    elif fmt == "json":
        from netlint.output.reporters.json import render as renderer
    elif fmt == "github":
        from netlint.output.reporters.github import render as renderer
    elif fmt == "sarif":
        from netlint.output.reporters.sarif import render as renderer
    else:
        raise ValueError(f"unknown format {fmt!r}")
    if fmt == "text":
        return renderer(report, color=color)
    if fmt == "sarif":
        return renderer(report, **options)
    return renderer(report)
