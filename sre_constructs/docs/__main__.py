"""``python -m sre_constructs.docs``: see :mod:`sre_constructs.docs`."""

import sys

from . import main

sys.exit(main())
