"""Build every kustomization folder with ``kubectl kustomize`` (or ``kustomize build``)."""

from __future__ import annotations

import posixpath
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

from .model import Finding, Tree


def kustomize_command() -> list[str]:
    """The command that builds a folder; raises RuntimeError when neither tool is on PATH."""
    kubectl = shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize"]
    kustomize = shutil.which("kustomize")
    if kustomize:
        return [kustomize, "build"]
    raise RuntimeError(
        "tree check: neither `kubectl` nor `kustomize` is on PATH; install one of them "
        "or call check_tree(..., kustomize=False) explicitly"
    )


def check_kustomize(tree: Tree, command: list[str]) -> None:
    """kustomize builds the root and every folder with a kustomization.yaml (Components only inside one)."""
    folders = sorted(
        {tree.rel(p.parent) if p.parent != tree.root else "" for p in tree.root.rglob("kustomization.yaml")}
        - {folder for folder, kust in tree.kustomizations.items() if kust.get("kind") == "Component"}
    )

    def build(folder: str) -> Finding | None:
        shown = f"`{' '.join(command)} {folder or '.'}`"
        try:
            result = subprocess.run(
                [*command, str(tree.root / folder)], capture_output=True, text=True, timeout=300, check=False
            )
        except subprocess.TimeoutExpired:
            return Finding(
                posixpath.join(folder, "kustomization.yaml"),
                "kustomize",
                f"{shown} timed out after 300 s; expected it to build",
            )
        if result.returncode == 0:
            return None
        error = " ".join((result.stderr or result.stdout).split())[-2000:]
        return Finding(
            posixpath.join(folder, "kustomization.yaml"),
            "kustomize",
            f"Kustomization {folder or '<root>'}: {shown} failed (exit {result.returncode}): {error}; "
            "expected a successful build",
        )

    # Two workers: kustomize is mostly CPU and the machines have two cores.
    with ThreadPoolExecutor(max_workers=2) as pool:
        tree.findings.extend(finding for finding in pool.map(build, folders) if finding is not None)
