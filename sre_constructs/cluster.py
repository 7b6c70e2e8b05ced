"""Cluster files: one YAML file per cluster, loaded with file and line in every error.

Schema (every key below is the whole vocabulary: any other key, at any level outside ``values``, is
an error naming its line)::

    name: lab                          # required; DNS label; the cluster's folder clusters/<name>/
    path: clusters/lab/core            # repository path of the core tree; default clusters/<name>/core
    source_ref: flux-system            # Flux GitRepository the trees are read from; default flux-system
    git:                               # required
      url: ssh://git@example.com/platform/fleet.git   # required; http(s):// or ssh://
      branch: main                     # default main
      interval: 5m                     # how often Flux polls the repository; default 5m
    domain: lab.example.com            # optional DNS zone: the ingress gateway on; external URLs of the UIs
    runbook_base_url: https://git.example.com/platform/docs/alerts.md  # optional: page runbook_url points into
    expose: [grafana, openbao]         # optional UIs served at https://<ui>.<domain> (needs domain; docs/access.md)
    sso:                               # optional OIDC provider of the exposed UIs (keys: docs/access.md)
      issuer: https://login.example.com/realms/platform
      client_id: platform
      admin_group: platform-admins
    registry_mirror: registry.local:5000/platform   # optional host[:port][/prefix]: air-gapped mirror
    chart_source: helm                 # helm (default) or oci
    alerting:                          # optional; who is told (docs/alerting.md): receivers, routes, heartbeat
      receivers: [{name: oncall, type: pagerduty}]
      routes: [{receiver: oncall, severity: critical}]
    services:                          # optional; per service, what CorePlatform(services=...) takes
      monitoring:
        enabled: true                  # default true
        values: {...}                  # Helm values of the service's chart, merged last
        retention: 15d                 # any typed knob of the service (docs/services/)
      runtime-security:
        enabled: false

``services`` is exactly the plain data of ``CorePlatform(services=...)``: the service names of
:data:`~sre_constructs.SERVICES`, each with ``enabled`` and the keyword arguments of its construct
(``values``, ``version``, typed knobs). Chart values (``values``, ``base_values``,
``gateway_values``, ``alloy_values``) are passed through untouched.

Errors raise :class:`~sre_constructs.ValidationError` with ``where="<file>:<line>"`` and the dotted
``field`` (``services.monitoring.retention``), including errors found later by the service
constructs (a bad retention is reported at the line of ``retention:``).
"""

from __future__ import annotations

import inspect
import posixpath
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from constructs import Construct

from .airgap import check_mirror
from .edge import check_exposure
from .kernel.alerts import check_runbook_base_url
from .kernel.errors import ValidationError
from .kernel.platform_chart import check_tree_path
from .kernel.validation import check_dns_label, check_domain, check_duration
from .platform import CHART_SOURCES, SERVICES, CorePlatform

__all__ = ["DEFAULT_CLUSTER", "GIT_KEYS", "TOP_LEVEL_KEYS", "ClusterSpec", "load_cluster", "parse_cluster"]

TOP_LEVEL_KEYS = (
    "name",
    "path",
    "source_ref",
    "git",
    "domain",
    "expose",
    "sso",
    "registry_mirror",
    "chart_source",
    "alerting",
    "runbook_base_url",
    "services",
)
GIT_KEYS = ("url", "branch", "interval")
_CHART_VALUE_KNOBS = ("values", "base_values", "gateway_values", "alloy_values")
_GIT_URL = re.compile(r"^(http|https|ssh)://\S+$")  # what the GitRepository CRD accepts
_BRANCH = re.compile(r"^[^\s~^:?*\[\\]+$")


@dataclass
class ClusterSpec:
    """One cluster, as read from a cluster file (or :data:`DEFAULT_CLUSTER`).

    Attributes:
        name: the cluster name (a DNS label).
        path: repository path of the core tree.
        source_ref: the Flux GitRepository the trees come from.
        git_url: the repository URL (``None`` only for the embedded default cluster).
        git_branch: the branch Flux follows.
        git_interval: how often Flux polls the repository.
        domain: the cluster's DNS name, if given.
        expose: the UIs served under ``domain`` (``CorePlatform(expose=...)``).
        sso: the OIDC provider of the exposed UIs (``CorePlatform(sso=...)``), if given.
        registry_mirror: the air-gap mirror, if given.
        chart_source: ``helm`` or ``oci``.
        runbook_base_url: the address of the alerts page the rules' ``runbook_url`` points into, if given.
        services: per-service settings (``CorePlatform(services=...)``).
        alerting: who is told (``CorePlatform(alerting=...)``), if given.
        file: where the spec came from (for messages).
        lines: dotted field path -> line number in ``file``.
    """

    name: str
    path: str
    source_ref: str = "flux-system"
    git_url: str | None = None
    git_branch: str = "main"
    git_interval: str = "5m"
    domain: str | None = None
    expose: tuple[str, ...] = ()
    sso: dict[str, Any] | None = None
    registry_mirror: str | None = None
    chart_source: str = "helm"
    runbook_base_url: str | None = None
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    alerting: dict[str, Any] | None = None
    file: str = "<default>"
    lines: dict[str, int] = field(default_factory=dict)

    def where(self, dotted: str) -> str:
        """``<file>:<line>`` of a field (or of its closest parent that has a line)."""
        parts = dotted.split(".") if dotted else []
        while parts:
            line = self.lines.get(".".join(parts))
            if line is not None:
                return f"{self.file}:{line}"
            parts.pop()
        return f"{self.file}:{self.lines.get('', 1)}"

    @property
    def sync_path(self) -> str:
        """Repository path of the cluster's Flux entry point (see :mod:`sre_constructs.fleet`)."""
        return f"clusters/{self.name}/flux/platform-sync"

    def platform(self, scope: Construct, id: str | None = None) -> CorePlatform:
        """The cluster's CorePlatform; errors of the service constructs point at the file's lines."""
        with self.errors_at_lines():
            return CorePlatform(
                scope,
                id or f"cluster-{self.name}",
                path=self.path,
                source_ref=self.source_ref,
                services=self.services,
                registry_mirror=self.registry_mirror,
                chart_source=self.chart_source,
                domain=self.domain,
                alerting=self.alerting,
                **({"runbook_base_url": self.runbook_base_url} if self.runbook_base_url else {}),
                expose=self.expose,
                sso=self.sso,
            )

    @contextmanager
    def errors_at_lines(self) -> Iterator[None]:
        """Re-raise a construct's ValidationError at the line of the cluster-file field behind it."""
        try:
            yield
        except ValidationError as error:
            if error.where.startswith(f"{self.file}:"):
                raise
            raise ValidationError(
                self.where(dotted := self._field_of(error)), dotted, error.value, error.allowed
            ) from error

    def _field_of(self, error: ValidationError) -> str:
        """The dotted cluster-file field a construct error is about (construct paths are
        ``<platform id>/<service>[/...]``; companions are ``<service>-<suffix>``)."""
        fld = str(error.field)
        if fld.startswith("services."):
            return fld
        if (
            fld.startswith("alerting")
            and self.alerting is not None
            and "alerting" not in self.services.get("monitoring", {})
        ):
            return fld  # the top-level key, passed through to Monitoring
        segments = error.where.split("/")
        if len(segments) > 1:
            for spec in SERVICES:
                if segments[1] == spec.name or segments[1].startswith(f"{spec.name}-"):
                    knob = re.split(r"[.\[]", fld, maxsplit=1)[0]
                    if knob in self.services.get(spec.name, {}):
                        return f"services.{spec.name}.{fld}"
                    return f"services.{spec.name}"
        return fld


# ---------------------------------------------------------------------------------------- loading


class _Reader:
    """Turns a composed YAML node tree into plain data, recording each key's line."""

    # Plain data only: the standard tags of a mapping, a sequence and scalars.
    _PLAIN_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[str, int] = {}
        self._open: set[int] = set()  # nodes being read: an alias back to one is a cycle

    def data(self, node: yaml.Node, path: str) -> Any:
        where = f"{self.file}:{node.start_mark.line + 1}"
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            if node.tag not in self._PLAIN_TAGS:
                raise ValidationError(where, path or "<top level>", node.tag, "plain YAML: no custom tags")
            if id(node) in self._open:
                raise ValidationError(where, path or "<top level>", "*alias", "data without recursive aliases")
            self._open.add(id(node))
            try:
                return self._collection(node, path, where)
            finally:
                self._open.discard(id(node))
        try:
            return yaml.SafeLoader("").construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as error:
            raise ValidationError(
                where, path or "<top level>", node.tag, f"plain YAML scalars ({' '.join(str(error.problem).split())})"
            ) from None

    def _collection(self, node: yaml.Node, path: str, where: str) -> Any:
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise ValidationError(
                        f"{self.file}:{key_node.start_mark.line + 1}",
                        path or "<top level>",
                        "<<",
                        "plain YAML: no merge keys (write the keys out)",
                    )
                key = self.data(key_node, path)
                if not isinstance(key, str):
                    raise ValidationError(
                        f"{self.file}:{key_node.start_mark.line + 1}", path or "<top level>", key, "string keys"
                    )
                dotted = f"{path}.{key}" if path else key
                if key in result:
                    raise ValidationError(
                        f"{self.file}:{key_node.start_mark.line + 1}",
                        dotted,
                        key,
                        f"each key once (already given on line {self.lines[dotted]})",
                    )
                self.lines[dotted] = key_node.start_mark.line + 1
                result[key] = self.data(value_node, dotted)
            return result
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                dotted = f"{path}[{index}]"
                self.lines[dotted] = item.start_mark.line + 1
                items.append(self.data(item, dotted))
            return items
        raise AssertionError(f"{where}: not a collection")  # data() passes only collections here


def _compose(text: str, file: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise ValidationError(
            f"{file}:{line}", "YAML", " ".join(str(error.problem or error).split()), "a single valid YAML document"
        ) from None
    except yaml.YAMLError as error:
        raise ValidationError(f"{file}:1", "YAML", str(error), "a single valid YAML document") from None


def parse_cluster(text: str, file: str = "<string>") -> ClusterSpec:
    """A cluster file's text, validated (see the module docstring for the schema).

    Args:
        text: the YAML text.
        file: its name, used in error messages.

    Raises:
        ValidationError: ``where="<file>:<line>"``, ``field`` the dotted path of the bad field.
    """
    node = _compose(text, file)
    reader = _Reader(file)
    if node is None:
        raise ValidationError(f"{file}:1", "<top level>", None, "a mapping with at least name and git.url")
    reader.lines[""] = node.start_mark.line + 1
    data = reader.data(node, "")
    spec = ClusterSpec(name="", path="", file=file, lines=reader.lines)

    def where(dotted: str) -> str:
        return spec.where(dotted)

    def unknown(mapping: Mapping[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
        for key in mapping:
            if key not in allowed:
                dotted = f"{prefix}.{key}" if prefix else key
                raise ValidationError(where(dotted), dotted, key, "one of " + ", ".join(allowed))

    if not isinstance(data, dict):
        raise ValidationError(where(""), "<top level>", data, "a mapping with at least name and git.url")
    unknown(data, TOP_LEVEL_KEYS, "")

    if "name" not in data:
        raise ValidationError(where(""), "name", None, "a cluster name (a DNS label such as 'lab') is required")
    spec.name = check_dns_label(where("name"), "name", data["name"])
    spec.path = check_tree_path(where("path"), data.get("path", f"clusters/{spec.name}/core"))
    flux_folder = posixpath.dirname(spec.sync_path)  # clusters/<name>/flux: also flux bootstrap's
    if spec.path == flux_folder or spec.path.startswith(flux_folder + "/") or flux_folder.startswith(spec.path + "/"):
        raise ValidationError(
            where("path"),
            "path",
            spec.path,
            f"a path outside {flux_folder} (Flux's bootstrap files and the platform sync live there)",
        )
    spec.source_ref = check_dns_label(where("source_ref"), "source_ref", data.get("source_ref", "flux-system"))

    git = data.get("git")
    if not isinstance(git, dict):
        raise ValidationError(where("git"), "git", git, "a mapping with url (required) and branch")
    unknown(git, GIT_KEYS, "git")
    url = git.get("url")
    if not isinstance(url, str) or not _GIT_URL.fullmatch(url):
        raise ValidationError(
            where("git.url"), "git.url", url, "a repository URL starting with https://, http:// or ssh://"
        )
    spec.git_url = url
    branch = git.get("branch", "main")
    if not isinstance(branch, str) or not _BRANCH.fullmatch(branch):
        raise ValidationError(where("git.branch"), "git.branch", branch, "a branch name such as 'main'")
    spec.git_branch = branch
    spec.git_interval = check_duration(where("git.interval"), "git.interval", git.get("interval", "5m"))

    if data.get("domain") is not None:
        spec.domain = check_domain(where("domain"), "domain", data["domain"])
    try:
        exposure = check_exposure(file, spec.domain, data.get("expose"), data.get("sso"))
    except ValidationError as error:  # at the line of the field it is about
        raise ValidationError(where(error.field), error.field, error.value, error.allowed) from None
    if exposure is not None:
        spec.expose, spec.sso = exposure.uis, dict(data["sso"]) if data.get("sso") is not None else None
    if data.get("registry_mirror") is not None:
        spec.registry_mirror = check_mirror(where("registry_mirror"), "registry_mirror", data["registry_mirror"])
    if data.get("runbook_base_url") is not None:
        spec.runbook_base_url = check_runbook_base_url(
            where("runbook_base_url"), "runbook_base_url", data["runbook_base_url"]
        )
    chart_source = data.get("chart_source", "helm")
    if chart_source not in CHART_SOURCES:
        raise ValidationError(where("chart_source"), "chart_source", chart_source, "one of " + ", ".join(CHART_SOURCES))
    spec.chart_source = chart_source
    alerting = data.get("alerting")
    if alerting is not None and not isinstance(alerting, dict):
        raise ValidationError(where("alerting"), "alerting", alerting, "a mapping with receivers and routes")
    spec.alerting = alerting

    services = data.get("services", {}) or {}
    if not isinstance(services, dict):
        raise ValidationError(where("services"), "services", services, "a mapping of service name to settings")
    by_name = {s.name: s for s in SERVICES}
    for name, cfg in services.items():
        dotted = f"services.{name}"
        if name not in by_name:
            raise ValidationError(where(dotted), "services", name, "one of " + ", ".join(by_name))
        cfg = {} if cfg is None else cfg
        if not isinstance(cfg, dict):
            raise ValidationError(where(dotted), dotted, cfg, "a mapping of knob name to value")
        params = [
            p
            for p in inspect.signature(by_name[name].construct.__init__).parameters
            if p not in ("self", "scope", "id")
        ]
        unknown(cfg, ("enabled", *params), dotted)
        if not isinstance(cfg.get("enabled", True), bool):
            raise ValidationError(where(f"{dotted}.enabled"), f"{dotted}.enabled", cfg["enabled"], "true or false")
        for knob in _CHART_VALUE_KNOBS:
            if knob in cfg and cfg[knob] is not None and not isinstance(cfg[knob], dict):
                raise ValidationError(
                    where(f"{dotted}.{knob}"), f"{dotted}.{knob}", cfg[knob], "a mapping of Helm values"
                )
        spec.services[name] = cfg
    # Alloy labels every log line with the cluster: default it to the cluster's name.
    logging = spec.services.setdefault("logging", {})
    if logging.get("enabled", True):
        logging.setdefault("cluster_name", spec.name)
    if not logging:
        del spec.services["logging"]
    return spec


def load_cluster(path: str | Path) -> ClusterSpec:
    """Read and validate one cluster file.

    Raises:
        ValidationError: unreadable file, bad YAML or bad content (``where="<file>:<line>"``).
    """
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValidationError(file, "cluster file", file, f"a readable UTF-8 YAML file ({error})") from None
    return parse_cluster(text, file)


#: The embedded default: what ``sre-constructs synth`` builds without a cluster file. It is
#: ``CorePlatform(app, "core")`` at path ``core``, exactly the tree ``app.py`` (``make synth``)
#: writes to ``dist/core``, with no Flux entry point (no git repository is known).
DEFAULT_CLUSTER = ClusterSpec(name="default", path="core")
