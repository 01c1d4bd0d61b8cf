"""netlint: a static analyser for Kubernetes NetworkPolicies.

This module runs before anything else of netlint, and, under ``python -m netlint``, with the
current directory (the repository being linted) first on ``sys.path``. So it imports nothing that
could be looked up there: only ``sys`` (built in) and ``os`` (frozen into the interpreter since
3.11 and loaded by ``site``, so never searched for on ``sys.path``). When netlint runs as a
program it then drops the current directory from ``sys.path`` before any other import; the
version, which needs ``importlib.metadata``, is looked up lazily, after that.

What cannot be prevented from here: whatever the interpreter imports before this module (under
``python -m`` from the repository's root a ``netlint/`` package there even shadows netlint
itself; ``python -P -m netlint`` or the ``netlint`` console script do not look in the current
directory), and what ``site`` imports when ``PYTHONPATH`` names the repository (an empty entry
does: ``sitecustomize``, modules named by ``.pth`` files).
"""

import os
import sys

__all__ = ["__version__", "harden_sys_path"]


def _main_module(argv: list[str]) -> str | None:
    """The module named by ``-m`` in the interpreter's own command line, if any."""
    args = iter(argv[1:])
    for arg in args:
        if not arg.startswith("-") or arg in ("-", "--"):
            return None  # a script, or stdin: no -m
        if arg.startswith("--"):
            if arg == "--check-hash-based-pycs":
                next(args, None)
            continue
        # A cluster of short options (-Im, -Pm mod, -mmod): c, m, W and X take a value.
        for index, flag in enumerate(arg[1:], start=2):
            if flag in "cmWX":
                value = arg[index:] or next(args, "")
                if flag == "m":
                    return value
                if flag == "c":
                    return None
                break
    return None


def _running_as_program() -> bool:
    """``python -m netlint`` (or one of its modules), or the ``netlint`` console script."""
    argv = getattr(sys, "argv", None) or [""]
    if argv[0] == "-m":  # runpy sets this while it imports the packages of the -m module
        module = _main_module(list(getattr(sys, "orig_argv", ())))
        return module is None or module == "netlint" or module.startswith("netlint.")
    name = os.path.basename(argv[0]).lower()
    return name in ("netlint", "netlint.exe", "netlint-script.py")


def harden_sys_path() -> None:
    """Drop the ``sys.path`` entries that name the current directory: ``''`` (``python -c``,
    an empty ``PYTHONPATH`` entry), any relative entry, and the current directory itself
    (``python -m`` puts it first). netlint runs inside repositories it does not trust: a
    ``tempfile.py``, ``jsonschema.py`` or ``ruamel/`` there must not shadow the real modules."""
    try:
        cwd: str | None = os.path.realpath(os.getcwd())
    except OSError:  # the current directory was deleted: relative entries name nothing then
        cwd = None
    kept = []
    for entry in sys.path:
        if not isinstance(entry, str) or not entry or not os.path.isabs(entry):
            continue
        if cwd is not None and os.path.realpath(entry) == cwd:
            continue
        kept.append(entry)
    sys.path[:] = kept


# Also under -P / PYTHONSAFEPATH: those stop only the prepended directory, while an empty
# PYTHONPATH entry still adds the current one.
if _running_as_program():
    harden_sys_path()


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed metadata on first use (see the docstring)."""
    if name != "__version__":
        raise AttributeError(f"module 'netlint' has no attribute {name!r}")
    found = _metadata_version()
    if found is None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("netlint")
        except PackageNotFoundError:  # running from a source tree that was never installed
            found = "0.0.0+unknown"
    globals()["__version__"] = found
    return found


def _metadata_version() -> str | None:
    """netlint's version from the metadata ``importlib.metadata.version`` would read (the first
    ``netlint`` ``*.dist-info`` or ``*.egg-info`` folder in ``sys.path`` order), without
    importing it: that costs every run about 35 ms (``email``, ``zipfile``, ``csv``). None when
    this cannot be sure of giving the same answer (a finder on ``sys.meta_path`` that lists
    distributions of its own, a zip on ``sys.path``, unreadable metadata): it answers then."""
    from importlib.machinery import PathFinder

    for finder in sys.meta_path:
        if finder is not PathFinder and getattr(finder, "find_distributions", None) is not None:
            return None
    for entry in sys.path:
        if not isinstance(entry, str):
            return None
        root = entry or "."
        try:
            names = os.listdir(root)
        except NotADirectoryError:
            return None  # a zip, which may hold metadata
        except OSError:
            continue
        for name in names:  # listdir's order, as importlib.metadata's lookup takes them
            low = name.lower()
            dist_info = low.endswith(".dist-info")
            if not dist_info and not low.endswith(".egg-info"):
                continue
            # The name before the version; "netlint" has no separator to normalize.
            if low.rsplit(".", 1)[0].split("-", 1)[0] != "netlint":
                continue
            folder = os.path.join(root, name)
            if os.path.isdir(folder):
                metadata = os.path.join(folder, "METADATA" if dist_info else "PKG-INFO")
            else:
                metadata = folder  # an egg-info file is the metadata itself
            try:
                with open(metadata, encoding="utf-8", errors="surrogateescape") as handle:
                    for line in handle:
                        if not line.strip():
                            break  # the headers end at the first blank line
                        if line.startswith("Version:"):
                            return line[len("Version:") :].strip()
            except OSError:
                pass
            return None
    return None
