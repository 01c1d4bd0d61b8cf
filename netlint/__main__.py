import sys

from netlint.cli import main

sys.exit(main())
