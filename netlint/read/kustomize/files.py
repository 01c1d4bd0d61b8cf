"""A loader that reads a checkout: what the engine uses when no cache serves the documents."""

from __future__ import annotations

import os
from pathlib import Path

from netlint.core.problems import Problem, ProblemKind
from netlint.core.source import point
from netlint.read.kustomize.build import SourceFile
from netlint.read.parse import ALL, Limits, parse, to_tree


class FileSource:
    """Reads files under ``root`` for :func:`~netlint.read.kustomize.render`.

    Paths are relative to ``root``; one that leaves it (``..``, an absolute path, or a symlink
    that resolves outside) is never opened, and only regular files are read (a FIFO would
    block). Files over the size limit are not read either.
    """

    def __init__(self, root: str | os.PathLike[str], limits: Limits | None = None) -> None:
        self.root = Path(root).resolve()
        self.limits = limits or Limits()

    def __call__(self, path: str) -> SourceFile | None:
        if not path or path.startswith("/") or ".." in path.split("/"):
            return None
        try:
            resolved = (self.root / path).resolve(strict=True)
        except (OSError, RuntimeError):  # missing, or a symlink loop
            return None
        if not resolved.is_relative_to(self.root):
            problem = Problem(
                ProblemKind.SYNTAX,
                "a symlink to a file outside the project root is not read",
                point(path, 0, 0),
            )
            return SourceFile((), (problem,))
        if not resolved.is_file():
            return None
        try:
            size = resolved.stat().st_size
            if size > self.limits.max_file_bytes:
                problem = Problem(
                    ProblemKind.SYNTAX,
                    f"file is {size:,} bytes, over the {self.limits.max_file_bytes:,}-byte limit",
                    point(path, 0, 0),
                )
                return SourceFile((), (problem,))
            data = resolved.read_bytes()
        except OSError as exc:
            return SourceFile(
                (),
                (Problem(ProblemKind.SYNTAX, f"cannot read: {exc.strerror}", point(path, 0, 0)),),
            )
        parsed = parse(path, data, self.limits)
        trees = [
            to_tree(path, node, ALL, self.limits.max_depth, parsed.positions)
            for node in parsed.documents
        ]
        problems = [p for t in trees for p in t.problems]
        if parsed.problem is not None:
            problems.insert(0, parsed.problem)
        try:
            text: str | None = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        return SourceFile(trees, problems, text)
