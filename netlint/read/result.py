"""What reading one file gives (its objects, problems and directives), apart from the reading.

The cache, the index and the questions asked of a stored cluster (``netlint explain``) handle
results without parsing anything: they import this, not :mod:`netlint.read.load`, whose YAML,
kustomize and schema machinery costs start-up time a run that parses nothing should not pay.
"""

from __future__ import annotations

import errno
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from netlint.core.problems import Problem, ProblemKind
from netlint.core.source import point

if TYPE_CHECKING:
    from netlint.core.model import ForeignPolicy, Object
    from netlint.read.directives import Directive
    from netlint.read.expectations import Expectation
    from netlint.read.parse import Limits

#: How the reason a file is passed over as no manifest begins (``load.not_a_manifest``).
NOT_A_MANIFEST: Final = "not a Kubernetes manifest"


@dataclass(slots=True)
class FileResult:
    path: str
    digest: str
    objects: list[Object | ForeignPolicy] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    #: Why the file was not linted (``templated``), or None.
    skipped: str | None = None
    documents: int = 0
    #: ``# netlint: disable...`` comments.
    directives: list[Directive] = field(default_factory=list)
    #: Files that a Kustomization in this file applies as patches.
    patches: list[str] = field(default_factory=list)
    #: Connectivity expectations the file states (netlint.read.expectations; NL301 judges them).
    expectations: list[Expectation] = field(default_factory=list)
    #: git's object id of the bytes (``blob_id``): ``netlint diff`` takes this result for a
    #: revision's blob of the same id without reading the blob. Empty when nothing was read.
    blob: str = ""


def digest(data: bytes) -> str:
    """The content hash that identifies a file's bytes (cache keys, change detection)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def blob_id(data: bytes) -> str:
    """The id git gives ``data`` as a blob in a SHA-1 repository (``git hash-object``): how a
    revision's file is known to hold the same bytes as one already loaded. Only ever compared
    with ids git printed: a SHA-256 repository's ids never equal one, and its blobs are read."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


class FileTooLarge(OSError):
    """A file over ``limits.max_file_bytes``, found from its size before it was read."""

    def __init__(self, size: int, limits: Limits) -> None:
        super().__init__(errno.EFBIG, "file too large")
        self.size = size
        self.limits = limits


def unreadable(path: str, error: OSError) -> FileResult:
    """A file that could not be read: an NL001 finding at its first line, never a silent skip
    (its objects are unknown, so the run must not pass as if it had none). It has no digest,
    so it is never cached."""
    if isinstance(error, FileTooLarge):
        from netlint.read.parse import size_problem  # rare: not worth importing up front

        return FileResult(path, "", problems=[size_problem(path, error.size, error.limits)])
    reason = error.strerror or type(error).__name__
    # The reason comes from the OS or from netlint; escaped all the same, so that no byte of it
    # can act on a terminal or a CI log.
    shown = reason.encode("ascii", "backslashreplace").decode("ascii")
    shown = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in shown)
    message = f"netlint cannot read this file: {shown}"
    return FileResult(path, "", problems=[Problem(ProblemKind.SYNTAX, message, point(path, 0, 0))])


def is_not_a_manifest(reason: str) -> bool:
    """Whether a skip ``reason`` is ``netlint.read.load.not_a_manifest``'s (the reason is all
    a skip records, in the cache too)."""
    return reason.startswith(NOT_A_MANIFEST)


def out_of_memory(path: str) -> FileResult:
    """The NL001 of a file whose reading ran out of memory, wherever that happened (composing,
    converting, modelling). Like an unreadable file it has no digest, so it is never cached:
    whether a file fits depends on the machine, not on its content alone."""
    message = (
        "file too large to read within memory (netlint ran out of memory reading it); "
        "not linted: lower limits.max-file-bytes or limits.max-alias-expansion, or split it"
    )
    return FileResult(path, "", problems=[Problem(ProblemKind.SYNTAX, message, point(path, 0, 0))])
