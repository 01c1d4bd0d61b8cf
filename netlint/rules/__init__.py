"""netlint's built-in rules, one per module (``nlNNN_<name>.py``, each exporting ``RULE``).

They register through the ``netlint.rules`` entry-point group like any plugin: the group's
``netlint`` entry points at :func:`builtin_rules`, so adding a rule is adding a module.
"""

from __future__ import annotations

import importlib
import pkgutil

from netlint.api import Rule


def builtin_rules() -> list[Rule]:
    rules: list[Rule] = []
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not module.name.startswith("nl"):
            continue
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        rule = loaded.RULE
        rules.append(rule() if isinstance(rule, type) else rule)
    return rules
