"""``python -m sre_constructs``: the ``sre-constructs`` command line."""

import sys

from .cli import main

sys.exit(main())
