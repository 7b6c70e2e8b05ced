"""The default platform: `python app.py` (or `cdk8s synth`) writes the core tree to dist/core."""

from __future__ import annotations

from cdk8s import App

from sre_constructs import CorePlatform, write_tree


def main() -> None:
    app = App()  # outdir: $CDK8S_OUTDIR (set by `cdk8s synth`), else dist
    CorePlatform(app, "core")
    for path in write_tree(app, app.outdir):
        print(path)


if __name__ == "__main__":
    main()
