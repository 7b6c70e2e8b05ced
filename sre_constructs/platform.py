"""CorePlatform: the nine core services, composed and ordered."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from . import airgap
from .alerts import emit_rules
from .dashboards import Dashboard, Scope, platform_dashboards
from .edge import Exposure, check_exposure
from .kernel.alerts import DEFAULT_RUNBOOK_BASE_URL, check_runbook_base_url
from .kernel.component import PlatformComponent
from .kernel.errors import ValidationError
from .kernel.naming import helm_fullname
from .kernel.paths import child_path, path_of
from .kernel.platform_chart import PlatformChart
from .services.backup import Backup
from .services.cert_manager import CertManager
from .services.external_secrets import ExternalSecrets
from .services.istio import Istio
from .services.kyverno import Kyverno
from .services.logging import Logging
from .services.monitoring import Monitoring
from .services.openbao import OpenBao
from .services.runtime_security import RuntimeSecurity
from .tenancy.policies import tenant_policies

__all__ = ["CHART_SOURCES", "SERVICES", "CorePlatform", "ServiceSpec"]

#: Where charts come from: HelmRepositories (``spec.chart``) or OCIRepositories (``spec.chartRef``).
CHART_SOURCES = ("helm", "oci")


@dataclass(frozen=True)
class ServiceSpec:
    """One core service: its name, the attribute it is exposed as, its construct and its order.

    Attributes:
        name: the service (and folder) name.
        attribute: the CorePlatform attribute.
        construct: the service construct class.
        after: services it waits for (Flux ``dependsOn``).
        requires: services it cannot work without; disabling one of them is an error.
    """

    name: str
    attribute: str
    construct: type[PlatformComponent]
    after: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()


# The dependency chain: istio -> cert-manager -> kyverno -> monitoring -> logging;
# monitoring -> openbao -> external-secrets; openbao -> runtime-security -> backup.
SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("istio", "istio", Istio),
    ServiceSpec("cert-manager", "cert_manager", CertManager, after=("istio",)),
    ServiceSpec("kyverno", "kyverno", Kyverno, after=("cert-manager",)),
    ServiceSpec("monitoring", "monitoring", Monitoring, after=("kyverno",)),
    ServiceSpec("logging", "logging", Logging, after=("monitoring",)),
    # OpenBao's TLS certificate comes from cert-manager's platform CA.
    ServiceSpec("openbao", "openbao", OpenBao, after=("monitoring",), requires=("cert-manager",)),
    # The ClusterSecretStore needs OpenBao; Velero's credentials come through External Secrets.
    ServiceSpec("external-secrets", "external_secrets", ExternalSecrets, after=("openbao",), requires=("openbao",)),
    ServiceSpec("runtime-security", "runtime_security", RuntimeSecurity, after=("openbao",)),
    ServiceSpec("backup", "backup", Backup, after=("runtime-security",), requires=("external-secrets",)),
)
_BY_NAME = {spec.name: spec for spec in SERVICES}


class CorePlatform(PlatformChart):
    """The core platform: all nine services, ordered by Flux ``dependsOn``.

    Every service is exposed as an attribute (``core.istio`` ... ``core.backup``), ``None`` when
    disabled, and :attr:`components` lists the enabled ones in dependency order. A disabled
    service keeps the order of the rest: its dependents wait on what it waited on.

    Args:
        scope: the app.
        id: construct id.
        path: repository path of the tree (and output path below ``outdir``). Default ``core``.
        source_ref: the Flux GitRepository with the tree. Default ``flux-system``.
        name_prefix: prefix of every Flux Kustomization name. Default none.
        services: per-service settings by service name: the construct's keyword arguments
            (``version``, ``values`` and typed knobs) plus ``enabled`` (default ``True``), e.g.
            ``{"monitoring": {"values": {...}}, "runtime-security": {"enabled": False}}``.
        registry_mirror: ``host[:port][/prefix]`` of a registry holding every image and chart
            (air-gapped clusters): each chart's image keys point at it (merged under the user's
            values, which still win), the library's own image references move to it, and every
            chart comes from ``oci://<mirror>/charts``. Layout: :mod:`sre_constructs.airgap`.
            Default none (upstream registries).
        chart_source: ``helm`` (default): charts from HelmRepositories (``spec.chart``);
            ``oci``: one OCIRepository per chart published as OCI (``spec.chartRef``; charts
            without an OCI artifact stay on HTTPS, unless a mirror serves them all).
        domain: the cluster's DNS zone. With it the Istio ingress gateway is on (a
            ``services.istio.gateway`` knob wins), and Monitoring announces
            ``https://prometheus.<domain>``, ``https://alertmanager.<domain>`` and
            ``https://grafana.<domain>`` as external URLs (a ``services.monitoring.domain`` knob
            wins); the UIs are served there only once listed in ``expose``. Default none (no
            gateway, nothing exposed).
        alerting: who is told when an alert fires: Monitoring's ``alerting`` knob (receivers, routes,
            heartbeat; see docs/alerting.md), given here for the platform (a
            ``services.monitoring.alerting`` knob wins). Credentials come from External Secrets' store.
            Default none (alerts reach no one; the plan says so).
        runbook_base_url: the address of the alerts page (``docs/alerts.md``) every rule's
            ``runbook_url`` points into (``<base>#<alert name, lowercased>``): set it to your fork's
            or mirror's copy. Default :data:`~sre_constructs.kernel.alerts.DEFAULT_RUNBOOK_BASE_URL`.
        expose: UIs served at ``https://<ui>.<domain>`` through the Istio ingress gateway (turned
            on), with a cert-manager certificate: ``grafana``, ``alertmanager``, ``prometheus``,
            ``openbao``, ``neuvector``. Prometheus and Alertmanager have no login of their own and
            need ``sso``. See ``docs/access.md``. Default none (nothing exposed).
        sso: the OIDC provider the exposed UIs log in with: ``issuer`` (``https://``),
            ``client_id``, ``admin_group`` (required); ``viewer_group``, ``groups_claim``
            (``groups``), ``client_secret_key``/``client_secret_property`` (the client secret in
            OpenBao: ``sso/oidc``/``client_secret``), and ``authorize_url``, ``token_url``,
            ``userinfo_url`` (required with Grafana exposed). Default none.
        **chart_props: passed to ``cdk8s.Chart``.
    """

    istio: Istio | None
    cert_manager: CertManager | None
    kyverno: Kyverno | None
    monitoring: Monitoring | None
    logging: Logging | None
    openbao: OpenBao | None
    external_secrets: ExternalSecrets | None
    runtime_security: RuntimeSecurity | None
    backup: Backup | None

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        path: str = "core",
        source_ref: str = "flux-system",
        name_prefix: str = "",
        services: Mapping[str, Mapping[str, Any]] | None = None,
        registry_mirror: str | None = None,
        chart_source: str = "helm",
        domain: str | None = None,
        alerting: Mapping[str, Any] | None = None,
        runbook_base_url: str = DEFAULT_RUNBOOK_BASE_URL,
        expose: Sequence[str] = (),
        sso: Mapping[str, Any] | None = None,
        **chart_props: Any,
    ) -> None:
        # Before anything is created: the edge knobs (domain, expose, sso) are checked together.
        exposure = check_exposure(child_path(scope, id), domain, expose, sso)
        super().__init__(scope, id, path=path, source_ref=source_ref, name_prefix=name_prefix, **chart_props)
        self.exposure: Exposure | None = exposure
        """What the edge serves (``None``: nothing exposed)."""
        if chart_source not in CHART_SOURCES:
            raise ValidationError(self.node.path, "chart_source", chart_source, "one of " + ", ".join(CHART_SOURCES))
        if registry_mirror is not None:
            airgap.check_mirror(self.node.path, "registry_mirror", registry_mirror)
        self.domain: str | None = domain  # checked by check_exposure above
        """The cluster's DNS name (external URLs of Prometheus, Alertmanager and Grafana)."""
        self.runbook_base_url: str = check_runbook_base_url(self.node.path, "runbook_base_url", runbook_base_url)
        """Where the runbooks of the alerts live (``runbook_url`` = ``<base>#<alert>``)."""
        self.alerting: Mapping[str, Any] | None = alerting
        """Who is told (Monitoring's ``alerting`` knob), or ``None``."""
        self.registry_mirror: str | None = registry_mirror
        """The registry mirror every image and chart comes from, or ``None``."""
        self.chart_source: str = chart_source
        """``helm`` (HelmRepository + ``spec.chart``) or ``oci`` (OCIRepository + ``spec.chartRef``)."""
        settings = self._settings(services or {})
        enabled = {name for name, cfg in settings.items() if cfg.get("enabled", True)}
        self._check_requirements(enabled, settings)

        knobs = {spec.name: {k: v for k, v in settings[spec.name].items() if k != "enabled"} for spec in SERVICES}
        if self.exposure is not None:
            from .edge.wiring import layer_knobs

            layer_knobs(self.node.path, self.exposure, knobs, enabled)
        if registry_mirror is not None:
            for name, cfg in knobs.items():
                for knob, overlay in airgap.mirror_knobs(name, registry_mirror).items():
                    user = cfg.get(knob)
                    # A non-mapping is left for the service's own check to report.
                    cfg[knob] = (
                        airgap.overlay_under(overlay, user) if user is None or isinstance(user, Mapping) else user
                    )
        self.dashboards: list[Dashboard] = []
        """The Grafana dashboards the platform ships (none without Monitoring)."""
        built: dict[str, PlatformComponent] = {}
        for spec in SERVICES:
            component = None
            if spec.name in enabled:
                self._shared_defaults(spec, knobs, built, enabled)
                component = built[spec.name] = self._build(spec, knobs[spec.name])
            setattr(self, spec.attribute, component)
        for name, component in built.items():
            component.depends_on(*(built[d] for d in self._effective_after(name, enabled)))
        self._wire_real_needs(built)
        emit_rules(built, self.runbook_base_url)
        self.edge: PlatformComponent | None = None
        """Component ``edge`` (Gateway, certificates, routes), when UIs are exposed."""
        if self.exposure is not None:
            from .edge.wiring import build_edge

            self.edge = build_edge(self, self.exposure, built, registry_mirror)
        if registry_mirror is not None:
            airgap.rewrite_library_images(self.registered_components, registry_mirror)

    def _shared_defaults(
        self,
        spec: ServiceSpec,
        knobs: dict[str, dict[str, Any]],
        built: dict[str, PlatformComponent],
        enabled: set[str],
    ) -> None:
        """Knobs one service takes from another, so renaming a namespace or a store stays consistent.

        Only defaults: a knob the user set for this service is never overridden.
        """
        mine = knobs[spec.name]
        accepted = inspect.signature(spec.construct.__init__).parameters

        def default(knob: str, value: Any) -> None:
            if knob in accepted:
                mine.setdefault(knob, value)

        default("monitoring_namespace", knobs["monitoring"].get("namespace", "monitoring"))
        if spec.name == "monitoring" and self.domain is not None:
            default("domain", self.domain)
        if spec.name == "istio" and self.domain is not None:
            default("gateway", True)  # the zone's records point at its load balancer (docs/access.md)
        if spec.name == "monitoring" and self.alerting is not None:
            default("alerting", self.alerting)
        if spec.name == "monitoring" and "logging" in enabled:
            default("loki_datasource", True)  # Grafana reads Loki when Loki is in this platform
            logging = knobs["logging"]
            default("logging_namespace", logging.get("namespace", "logging"))
            loki_values = logging.get("values")
            override = loki_values.get("fullnameOverride") if isinstance(loki_values, Mapping) else None
            release = logging.get("release_name", "loki")
            # Derived only from well-formed input; Logging itself reports a bad knob.
            if isinstance(release, str) and (override is None or isinstance(override, str)):
                default("loki_gateway", f"{helm_fullname(release, 'loki', override=override)}-gateway")
        if spec.name == "openbao":
            issuer = getattr(built.get("cert-manager"), "ca_issuer_name", None)
            if issuer:
                default("issuer_name", issuer)
            if "external-secrets" in enabled:
                eso = knobs["external-secrets"]
                eso_namespace, eso_release = eso.get("namespace", "external-secrets"), eso.get("release_name")
                if isinstance(eso_namespace, str):
                    default("eso_namespace", eso_namespace)
                # The controller authenticates with its own service account: the chart's fullname.
                # Derived only from well-formed input; ExternalSecrets itself reports a bad knob.
                if isinstance(eso_release or "external-secrets", str):
                    default("eso_service_account", helm_fullname(eso_release or "external-secrets", "external-secrets"))
        if spec.name == "external-secrets" and isinstance(built.get("openbao"), OpenBao):
            openbao = built["openbao"]
            for knob, attribute in (
                ("openbao_namespace", "namespace"),
                ("openbao_url", "service_url"),
                ("openbao_ca_secret", "ca_secret"),
                ("openbao_role", "eso_role"),
                ("kubernetes_auth_mount", "kubernetes_auth_mount"),
                ("kv_mount", "kv_mount"),
            ):
                default(knob, getattr(openbao, attribute))
        if spec.name in ("logging", "monitoring") and "external-secrets" in enabled:
            # Loki's S3 credentials (when it has a credentials Secret) and Alertmanager's receiver
            # credentials come from the platform's store; both are built before External Secrets, so
            # the store's name comes from its knobs.
            eso_store = knobs["external-secrets"].get("store_name", "openbao")
            if isinstance(eso_store, str):
                default("secret_store", eso_store)
        if spec.name == "backup" and isinstance(built.get("external-secrets"), ExternalSecrets):
            store = getattr(built["external-secrets"], "store_name", "openbao")
            if store is None:
                raise ValidationError(
                    f"{self.node.path}/external-secrets",
                    "services.external-secrets.store_name",
                    None,
                    "a ClusterSecretStore name while backup is enabled: Velero's credentials come from it",
                )
            default("secret_store", store)

    def _wire_real_needs(self, built: dict[str, PlatformComponent]) -> None:
        """Edges beyond the chain, where one service's objects need another's step."""

        def config(name: str) -> PlatformComponent | None:
            component = built.get(name)
            companion = getattr(component, "config", None)
            return companion if isinstance(companion, PlatformComponent) else None

        openbao, eso = built.get("openbao"), built.get("external-secrets")
        # OpenBao's TLS Certificate is issued by the platform CA ClusterIssuer.
        if openbao is not None and config("cert-manager") is not None:
            openbao.depends_on(config("cert-manager"))  # type: ignore[arg-type]
        # The ClusterSecretStore authenticates against OpenBao's Kubernetes auth role.
        eso_config = config("external-secrets")
        if eso_config is not None and openbao is not None:
            eso_config.depends_on(openbao)
        # Credentials from OpenBao (Velero's, Loki's S3 keys) need the ExternalSecret CRD and the
        # store before the release that reads them starts.
        for component in built.values():
            if eso is not None and getattr(component, "requires_external_secrets", False):
                component.depends_on(eso_config or eso)
        alerting = getattr(built.get("monitoring"), "alerting", None)
        if eso is not None and isinstance(alerting, PlatformComponent):
            alerting.depends_on(eso_config or eso)  # Alertmanager's receiver credentials
        # Kyverno's Pod Security policies exempt exactly the namespaces that run above a level.
        kyverno = built.get("kyverno")
        if isinstance(kyverno, Kyverno):
            levels = [(ns, p.level) for c in self.registered_components for ns, p in c.pod_security.items()]
            kyverno.exempt_namespaces(
                privileged=[ns for ns, level in levels if level == "privileged"],
                baseline=[ns for ns, level in levels if level == "baseline"],
            )
            # The tenant lanes: cluster-wide, found by namespace label, so they cover every Tenant.
            for body in tenant_policies():
                kyverno.policies.add_manifest(body)
        # Services installed before Monitoring cannot ship ServiceMonitors with their charts (the
        # CRD does not exist yet); Monitoring's companion ships them once it does.
        monitoring = built.get("monitoring")
        if isinstance(monitoring, Monitoring):
            self.dashboards = platform_dashboards(self._dashboard_scope(built))
            monitoring.add_dashboards(self.dashboards)
        add_monitor = getattr(monitoring, "add_service_monitor", None)
        if add_monitor is not None:
            for name in ("istio", "cert-manager", "kyverno"):
                monitors = getattr(built.get(name), "service_monitors", None)
                if monitors is not None:
                    for body in monitors():
                        add_monitor(body)

    @staticmethod
    def _dashboard_scope(built: Mapping[str, PlatformComponent]) -> Scope:
        """What the dashboards watch: the enabled components' namespaces and Kustomizations, the gateway."""
        istio = built.get("istio")
        return Scope(
            namespaces={name: c.namespace for name, c in built.items() if c.namespace is not None},
            flux_names={name: c.flux_name for name, c in built.items()},
            gateway=(
                (str(istio.gateway_namespace), istio.gateway_name)
                if isinstance(istio, Istio) and istio.gateway is not None
                else None
            ),
            loki="logging" in built,
        )

    def _settings(self, services: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        where = path_of(self)
        if not isinstance(services, Mapping):
            raise ValidationError(where, "services", services, "a mapping of service name to settings")
        for name, cfg in services.items():
            if name not in _BY_NAME:
                raise ValidationError(where, "services", name, "one of " + ", ".join(s.name for s in SERVICES))
            if not isinstance(cfg, Mapping):
                raise ValidationError(where, f"services.{name}", cfg, "a mapping of knob name to value")
            if not isinstance(cfg.get("enabled", True), bool):
                raise ValidationError(where, f"services.{name}.enabled", cfg["enabled"], "True or False")
        return {spec.name: dict(services.get(spec.name, {})) for spec in SERVICES}

    def _check_requirements(self, enabled: set[str], settings: Mapping[str, Mapping[str, Any]]) -> None:
        """Disabling a service another one really needs is an error naming both."""
        for spec in SERVICES:
            for needed in spec.requires:
                if spec.name in enabled and needed not in enabled:
                    raise ValidationError(
                        self.node.path,
                        f"services.{needed}.enabled",
                        False,
                        f"True while {spec.name} is enabled: {spec.name} needs {needed}",
                    )
        if self.alerting is not None and "monitoring" not in enabled:
            raise ValidationError(
                self.node.path,
                "services.monitoring.enabled",
                False,
                "True while alerting is given: Alertmanager is there",
            )
        # Needs that follow a knob.
        cert_manager = settings["cert-manager"]
        if (
            "cert-manager" in enabled
            and cert_manager.get("acme_email")
            and cert_manager.get("acme_ingress_class", "istio") == "istio"
            and not ("istio" in enabled and settings["istio"].get("gateway", self.domain is not None))
        ):
            raise ValidationError(
                self.node.path,
                "services.istio.gateway",
                settings["istio"].get("gateway", self.domain is not None),
                "True while cert-manager has an acme_email: the HTTP-01 challenge is served through the "
                "Istio ingress gateway (or set services.cert-manager.acme_ingress_class to your ingress)",
            )

    def _build(self, spec: ServiceSpec, knobs: dict[str, Any]) -> PlatformComponent:
        try:
            return spec.construct(self, spec.name, **knobs)
        except TypeError as error:
            # An unknown knob: say which, and what the service takes.
            params = [
                p for p in inspect.signature(spec.construct.__init__).parameters if p not in ("self", "scope", "id")
            ]
            unknown = sorted(set(knobs) - set(params))
            if not unknown:
                raise
            raise ValidationError(
                f"{self.node.path}/{spec.name}",
                f"services.{spec.name}",
                unknown[0],
                "a knob of this service: " + ", ".join(["enabled", *params]),
            ) from error

    @staticmethod
    def _effective_after(name: str, enabled: set[str]) -> list[str]:
        """What ``name`` waits for once disabled services are skipped over."""
        result: list[str] = []
        for dep in _BY_NAME[name].after:
            for target in [dep] if dep in enabled else CorePlatform._effective_after(dep, enabled):
                if target not in result:
                    result.append(target)
        return result
