"""kustomize applied in-process to documents netlint has already parsed, keeping positions.

:func:`render` builds one kustomization directory: every rendered object is a
:class:`~netlint.read.parse.Tree` whose spans point at the line a person wrote (the base file, or
the patch or kustomization line that set the value), with the file it came from and the
builtin transformers that ran over it; the :class:`Unit` also says what the engine could not
apply (``incomplete``) and what kustomize itself would refuse (``errors``).
:func:`top_level_kustomizations` finds the kustomizations no other one includes: kustomize's
deploy units. Nothing is executed and nothing outside the project root is read; the engine
reads no files itself (a loader does, see :class:`FileSource`).

Each module's docstring names the kustomize v5.5.0 source it follows: :mod:`.build` (the build
flow), :mod:`.transforms`, :mod:`.fieldspecs`, :mod:`.patch`, :mod:`.generators`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

#: The names kustomize reads a kustomization from (api/konfig/general.go); several in one
#: folder is an error.
KUSTOMIZATION_FILES: Final = ("kustomization.yaml", "kustomization.yml", "Kustomization")

if TYPE_CHECKING:
    from netlint.read.kustomize.build import (
        Loader,
        Reason,
        Rendered,
        SourceFile,
        Unit,
        render,
        top_level_kustomizations,
    )
    from netlint.read.kustomize.files import FileSource
    from netlint.read.kustomize.transforms import Transformation

#: The engine is imported when first used (a repo without kustomizations never pays for it).
_LAZY: Final = {
    "Loader": "build",
    "Reason": "build",
    "Rendered": "build",
    "SourceFile": "build",
    "Unit": "build",
    "render": "build",
    "top_level_kustomizations": "build",
    "FileSource": "files",
    "Transformation": "transforms",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "KUSTOMIZATION_FILES",
    "FileSource",
    "Loader",
    "Reason",
    "Rendered",
    "SourceFile",
    "Transformation",
    "Unit",
    "render",
    "top_level_kustomizations",
]
