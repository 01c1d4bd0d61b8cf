import os
import sys

# `python -m` puts the current directory first on sys.path. netlint runs inside repositories it
# does not trust: a `jsonschema.py` or `ruamel/` there must not shadow the real libraries.
_cwd = os.getcwd()
sys.path[:] = [p for p in sys.path if p not in ("", ".", _cwd)]

from netlint.cli import main  # noqa: E402

sys.exit(main())
