"""``python -m netlint``. By now ``netlint/__init__.py`` has already dropped the current directory
from sys.path (it must: the package is imported before this module); this keeps it dropped for
imports made through this module should the package have been imported some other way first."""

import netlint

netlint.harden_sys_path()

from netlint.integrations.cli import main  # noqa: E402

raise SystemExit(main())
