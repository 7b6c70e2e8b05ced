"""Rendered charts for the plan's pod checks: read from a folder, or rendered with ``helm template``.

``--rendered DIR``: one file per HelmRelease, ``DIR/<namespace>/<release>.yaml``, holding what
``helm template <release> <chart> -n <namespace> -f <values> --include-crds`` prints (as a
pipeline renders them; hooks included).

``--charts DIR``: charts as ``helm pull`` leaves them (``<chart>-<version>.tgz``) or unpacked
folders named by chart; each HelmRelease of the tree is rendered with ``helm`` (v3 or v4, from
PATH) with its own values.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from ..kernel.errors import ValidationError
from .kinds import FLUX_HELM, release_chart, release_version
from .source import Loader, Obj, Unit

__all__ = ["load_rendered", "render_charts"]

Rendered = dict[tuple[str, str], list[Obj]]
# Charts that gate objects on the Prometheus Operator API (ServiceMonitors, rules) render them only
# when helm is told that API exists, as it will once monitoring is up.
_API_VERSIONS = ("monitoring.coreos.com/v1",)


def _objects(text: str, file: str) -> list[Obj]:
    try:
        docs = list(yaml.load_all(text, Loader=Loader))
    except yaml.YAMLError as error:
        raise ValidationError(
            file, "rendered", file, f"YAML from helm template ({str(error).splitlines()[0]})"
        ) from None
    return [Obj(d, file) for d in docs if isinstance(d, dict) and d.get("kind") and d.get("apiVersion")]


def load_rendered(folder: str | Path) -> Rendered:
    """Every ``<namespace>/<release>.yaml`` below ``folder``.

    Raises:
        ValidationError: the folder does not exist or a file is not YAML.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ValidationError("plan", "--rendered", str(folder), "a folder of <namespace>/<release>.yaml files")
    rendered: Rendered = {}
    for path in sorted(root.glob("*/*.y*ml")):
        rendered[(path.parent.name, path.stem)] = _objects(path.read_text(encoding="utf-8"), str(path))
    return rendered


def _releases(units: Iterable[Unit]) -> list[Obj]:
    return [obj for unit in units for obj in unit.objects if obj.is_(FLUX_HELM, "HelmRelease")]


def _chart_path(folder: Path, chart: str, version: str) -> Path | None:
    for candidate in (folder / f"{chart}-{version}.tgz", folder / f"{chart}-{version.lstrip('v')}.tgz", folder / chart):
        if candidate.exists():
            return candidate
    return None


def render_charts(folder: str | Path, units: Iterable[Unit], helm: str | None = None) -> tuple[Rendered, list[str]]:
    """Render every HelmRelease of ``units`` whose chart is in ``folder``.

    Returns:
        The rendered objects per ``(namespace, release)``, and a note per release not rendered.

    Raises:
        ValidationError: no helm on PATH, or the folder does not exist.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ValidationError("plan", "--charts", str(folder), "a folder of charts (<chart>-<version>.tgz or <chart>/)")
    binary = helm or shutil.which("helm")
    if binary is None:
        raise ValidationError("plan", "--charts", str(folder), "helm (v3 or v4) on PATH to render the charts")
    notes: list[str] = []
    jobs = []
    units = list(units)
    oci = {(o.namespace, o.name): o for u in units for o in u.objects if o.kind == "OCIRepository"}
    for release in _releases(units):
        chart = release_chart(release)
        version = release_version(release, oci)
        path = _chart_path(root, chart, version)
        if path is None:
            notes.append(f"{release.label}: chart {chart} {version} not in {root}; its pods are not checked")
            continue
        if release.spec.get("valuesFrom"):
            notes.append(f"{release.label}: valuesFrom is not read; rendered with spec.values only")
        jobs.append((release, path))

    def render(job: tuple[Obj, Path]) -> tuple[tuple[str, str], list[Obj] | str]:
        release, path = job
        namespace = str(release.spec.get("targetNamespace") or release.namespace)
        name = str(release.spec.get("releaseName") or release.name)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as values:
            json.dump(release.spec.get("values") or {}, values)
        command = [binary, "template", name, str(path), "-n", namespace, "-f", values.name, "--include-crds"]
        for api in _API_VERSIONS:
            command += ["--api-versions", api]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        finally:
            Path(values.name).unlink(missing_ok=True)
        if done.returncode != 0:
            return (namespace, name), f"{release.label}: helm template failed: {done.stderr.strip()[:300]}"
        return (namespace, name), _objects(done.stdout, f"{release.label} (helm template)")

    rendered: Rendered = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for key, result in pool.map(render, jobs):
            if isinstance(result, str):
                notes.append(result)
            else:
                rendered[key] = result
    return rendered, notes
