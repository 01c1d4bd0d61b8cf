"""libyaml's composer, through whichever Python binding is fastest here.

Both ruamel.yaml.clib and PyYAML wrap libyaml's C parser and build node trees whose marks carry
line, column and character index. Their node classes differ in cost: ruamel's nodes make a Tag
object for every node, and composing the generated large corpus takes about 1.8x as long through
ruamel's binding as through PyYAML's (docs/performance.md). netlint only reads nodes (``id``,
``value``, ``style``, marks and the tag as written), so it uses PyYAML's binding when PyYAML was
built with libyaml, and ruamel.yaml.clib's otherwise; ``NETLINT_YAML_BACKEND=ruamel`` forces the
latter. The resolver is switched off in both: scalars are typed later, and only where netlint
reads them (see :mod:`netlint.read.parse`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

#: The name of the binding in use: "pyyaml" or "ruamel".
BACKEND: str
Composer: Any
#: Errors with marks (syntax), and all YAML errors, of the binding in use.
MarkedError: type[Exception]
YAMLError: type[Exception]
#: The tag written on a node ("" when none; "!" counts as none).
tag_of: Callable[[Any], str]


def _plain_tag(node: Any) -> str:
    tag = node.tag
    return tag if tag and tag != "!" else ""


def _ruamel_tag(node: Any) -> str:
    # node.tag would URI-decode the tag on every read; the raw suffix is what was written.
    suffix = node.ctag.suffix
    return suffix if suffix and suffix != "!" else ""


def _use_pyyaml() -> bool:
    if os.environ.get("NETLINT_YAML_BACKEND", "").lower() == "ruamel":
        return False
    try:
        import yaml
    except ImportError:
        return False
    return bool(getattr(yaml, "__with_libyaml__", False))


_Parser: Any
if _use_pyyaml():
    import yaml
    from yaml._yaml import CParser as _PyYAMLParser

    _Parser = _PyYAMLParser
    BACKEND = "pyyaml"
    MarkedError = yaml.MarkedYAMLError
    YAMLError = yaml.YAMLError
    tag_of = _plain_tag
else:
    from _ruamel_yaml import CParser as _RuamelParser
    from ruamel.yaml.error import MarkedYAMLError as _RuamelMarked
    from ruamel.yaml.error import YAMLError as _RuamelError

    _Parser = _RuamelParser
    BACKEND = "ruamel"
    MarkedError = _RuamelMarked
    YAMLError = _RuamelError
    tag_of = _ruamel_tag


class _NoResolver(_Parser):  # type: ignore[misc]
    """libyaml's composer with the resolver switched off: tags stay "" unless written."""

    def descend_resolver(self, *args: object) -> None:
        pass

    def ascend_resolver(self, *args: object) -> None:
        pass

    def resolve(self, kind: object, value: object, implicit: object) -> str:
        return ""


Composer = _NoResolver
