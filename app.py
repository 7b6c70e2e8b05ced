"""The default platform: `python app.py` (or `cdk8s synth`) writes the core tree to dist/core."""

from __future__ import annotations

# isort: off
# sre_constructs first: it starts jsii's kernel (its Node, one process) before cdk8s would.
from sre_constructs import CorePlatform, write_tree
from cdk8s import App

# isort: on


def main() -> None:
    app = App()  # outdir: $CDK8S_OUTDIR (set by `cdk8s synth`), else dist
    CorePlatform(app, "core")
    for path in write_tree(app, app.outdir):
        print(path)


if __name__ == "__main__":
    main()
