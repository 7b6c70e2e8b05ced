"""Monitoring: kube-prometheus-stack (Prometheus Operator, Prometheus, Alertmanager, Grafana)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from constructs import Construct

from ..dashboards import Dashboard, config_map
from ..kernel.alerts import check_alerts
from ..kernel.component import HealthCheck, PlatformComponent
from ..kernel.errors import ValidationError
from ..kernel.facts import ChartFacts, DriftIgnore, ObjectRef, Webhook, register_chart, webhook_ca_paths
from ..kernel.manifest import Manifest
from ..kernel.naming import helm_fullname
from ..kernel.paths import child_path, path_of
from ..kernel.validation import (
    check_bool,
    check_dns_label,
    check_domain,
    check_positive_int,
    check_prometheus_duration,
    check_quantity,
    check_storage_class,
    check_values,
)
from ..kernel.values import deep_merge, set_path
from ..versions import CHARTS
from . import flux
from ._alertmanager import Alerting, alertmanager_values, parse_alerting, receivers_external_secret
from ._kyverno_alerts import policy_state
from ._monitoring_exporters import KUBE_STATE_METRICS, PROMETHEUS_SYNTHETIC
from ._monitoring_network import declare_network
from ._monitoring_values import (
    ALERTMANAGER_REPLICAS,
    ALERTMANAGER_STORAGE_SIZE,
    BYTE_SIZE,
    LOGGING_NAMESPACE,
    PROMETHEUS_REPLICAS,
    RETENTION,
    STORAGE_SIZE,
    custom_resource_state,
    defaults,
    fullname,
    served_ports,
    volume_claim,
)

__all__ = [
    "ALERTS",
    "CHART_FACTS",
    "HEALTH_CHECKED_RELEASES",
    "RELEASE",
    "Monitoring",
]

# -- chart facts (read by the registry mirror and the bring-up plan) -------------------------


def _drift(values: Mapping[str, Any], release: str) -> tuple[DriftIgnore, ...]:
    """The admission-patch hook Job writes both configurations' caBundle (1 and 2 webhooks)."""
    if not ((values.get("prometheusOperator") or {}).get("admissionWebhooks") or {}).get("enabled", True):
        return ()
    full = fullname(values, release)
    hooks = (("MutatingWebhookConfiguration", 1), ("ValidatingWebhookConfiguration", 2))
    return tuple(
        DriftIgnore("admissionregistration.k8s.io", kind, f"{full}-admission", webhook_ca_paths(n)) for kind, n in hooks
    )


CHART_FACTS = register_chart(
    ChartFacts(
        "kube-prometheus-stack",
        exporters=(KUBE_STATE_METRICS, PROMETHEUS_SYNTHETIC),
        # global.imageRegistry reaches every image, subcharts and operator arguments included.
        image_keys=MappingProxyType({"global.imageRegistry": "{mirror}"}),
        # The crds subchart (prometheus-operator v0.93.1 at chart 88.5.3).
        crds=(
            "monitoring.coreos.com/Alertmanager",
            "monitoring.coreos.com/AlertmanagerConfig",
            "monitoring.coreos.com/PodMonitor",
            "monitoring.coreos.com/Probe",
            "monitoring.coreos.com/Prometheus",
            "monitoring.coreos.com/PrometheusAgent",
            "monitoring.coreos.com/PrometheusRule",
            "monitoring.coreos.com/ScrapeConfig",
            "monitoring.coreos.com/ServiceMonitor",
            "monitoring.coreos.com/ThanosRuler",
        ),
        # The operator's admission webhooks (failurePolicy Ignore); the pre-install hook Job
        # creates their serving Secret.
        webhooks=(
            Webhook(
                "kube-prometheus-stack-admission",
                ("monitoring.coreos.com/PrometheusRule", "monitoring.coreos.com/AlertmanagerConfig"),
                "Ignore",
            ),
        ),
        creates_at_runtime=lambda values, ns, release: (ObjectRef("Secret", ns, f"{release}-admission"),),
        drift_ignores=lambda values, ns, release: _drift(values, release),
        served_ports=served_ports,
        # What the component health-checks, from the final values (node-exporter may move namespaces).
        workloads=lambda values, ns, release: tuple(
            ObjectRef(check.kind, check.namespace, check.name)
            for check in Monitoring._workloads(
                release, ns, (values.get("prometheus-node-exporter") or {}).get("namespaceOverride") or ns, values
            )
        ),
    )
)

#: Monitoring's rules: Flux's (``platform_component: flux``); kube-prometheus-stack ships its own.
ALERTS = flux.ALERTS

RELEASE = "kube-prometheus-stack"
"""Default release name; the operator, Grafana, kube-state-metrics and node-exporter are named after it."""
HEALTH_CHECKED_RELEASES = (RELEASE,)
# What services before Monitoring hand to its companion (the Istio gateway's Envoy stats are a PodMonitor).
_MONITOR_KINDS = ("ServiceMonitor", "PodMonitor")


class Monitoring(PlatformComponent):
    """kube-prometheus-stack: the operator, Prometheus, Alertmanager, Grafana and exporters.

    Prometheus and Alertmanager run highly available (PodDisruptionBudgets when more than one
    replica), every container has requests and limits and a restricted securityContext. The
    namespace is ``privileged`` only because node-exporter needs hostNetwork, hostPID and hostPath;
    with ``node_exporter_namespace`` node-exporter moves to its own privileged namespace and
    ``monitoring`` stays ``restricted``. Prometheus selects ServiceMonitors, PodMonitors, rules,
    probes and scrape configs of every namespace.

    ServiceMonitors for services installed before monitoring go through :meth:`add_service_monitor`
    into the companion :attr:`config` (``monitoring-config``), created on first use.

    Flux is watched from here (:mod:`.flux`): kube-state-metrics reports every Flux object's
    readiness as ``gotk_resource_info`` (its standard collectors stay on), a PodMonitor scrapes the
    Flux controllers, and Flux's alerts (``platform_component: flux``) are this service's ``alerts``.

    Knobs (all keyword arguments):

    - ``version``: chart version. Default ``88.5.3``.
    - ``values``: Helm values, deep-merged last (they win over every knob). Default none.
    - ``prometheus_replicas``: Prometheus replicas (PDB minAvailable 1 when more than one). Default ``2``.
    - ``alertmanager_replicas``: Alertmanager replicas (PDB minAvailable 1 when more than one). Default ``2``.
    - ``retention``: how long Prometheus keeps samples, a Prometheus duration (``15d``, ``12h``). Default ``15d``.
    - ``retention_size``: Prometheus size-based retention (``45GB``), keep it below ``storage_size``. Default ``None``
      (time only).
    - ``storage_size``: Prometheus volume per replica. Default ``50Gi``.
    - ``storage_class``: StorageClass of the Prometheus, Alertmanager volumes. Default ``None`` (cluster default).
    - ``alertmanager_storage_size``: Alertmanager volume per replica. Default ``5Gi``.
    - ``grafana_init_chown``: run Grafana's root chown init container (breaks ``restricted``). Default ``False``.
    - ``loki_datasource``: add a Grafana datasource for Loki and the egress to its gateway. Default ``False``.
    - ``logging_namespace``: namespace of Loki's gateway. Default ``logging``.
    - ``loki_gateway``: Service name of Loki's gateway (follows Loki's release name). Default ``loki-gateway``.
    - ``managed_control_plane``: the control plane is not scrapeable (managed, k3s, RKE2): disable the etcd,
      controller-manager, scheduler and kube-proxy targets. Default ``False``.
    - ``alertmanager_egress``: let Alertmanager reach receivers on TCP 443 anywhere (and on the ports of the
      ``alerting`` mail relays and webhooks). Default ``True``.
    - ``alerting``: who is told: receivers (Slack, PagerDuty, webhook, email), routes by ``severity`` and
      ``platform_component``, grouping, a Watchdog heartbeat; inhibition is built in. Credentials come from
      OpenBao (ExternalSecret ``alertmanager-receivers`` in the ``monitoring-alerting`` companion) as files
      Alertmanager reads. Schema and design: :mod:`sre_constructs.services._alertmanager`, docs/alerting.md.
      Without it the chart's own configuration stays (every alert to a ``null`` receiver). Default ``None``.
    - ``secret_store``: the ClusterSecretStore receiver credentials come from (required when a receiver
      reads one; CorePlatform sets it to External Secrets' store). Default ``None``.
    - ``node_exporter_namespace``: move node-exporter to this privileged namespace (``monitoring-node-exporter``) so
      ``monitoring`` is ``restricted``. Default ``None`` (stays in ``monitoring``, which is then ``privileged``).
    - ``domain``: the cluster's DNS name: Prometheus, Alertmanager and Grafana announce
      ``https://prometheus.<domain>``, ``https://alertmanager.<domain>`` and ``https://grafana.<domain>``
      as their external URLs, so links in alerts and dashboards lead somewhere. Default ``None``.
    - ``namespace``: Default ``monitoring``.
    - ``release_name``: Default ``kube-prometheus-stack``.
    - ``alerts``: ``True`` emits the service's alerting rules (listed in docs/alerts.md), ``False`` none, or a
      mapping alert name -> ``{threshold, for, severity, enabled}`` overriding single alerts. Default ``True``.
    - ``wait``: Default ``True``; with ``False`` the health checks name the operator, Grafana and
      kube-state-metrics Deployments, the node-exporter DaemonSet and the Prometheus and
      Alertmanager StatefulSets the operator creates (each only while enabled with replicas; Alertmanager's not
      while it waits for receiver credentials, which come only after External Secrets).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        version: str | None = None,
        values: Mapping[str, Any] | None = None,
        prometheus_replicas: int = PROMETHEUS_REPLICAS,
        alertmanager_replicas: int = ALERTMANAGER_REPLICAS,
        retention: str = RETENTION,
        retention_size: str | None = None,
        storage_size: str = STORAGE_SIZE,
        storage_class: str | None = None,
        alertmanager_storage_size: str = ALERTMANAGER_STORAGE_SIZE,
        grafana_init_chown: bool = False,
        loki_datasource: bool = False,
        logging_namespace: str = LOGGING_NAMESPACE,
        loki_gateway: str = "loki-gateway",
        managed_control_plane: bool = False,
        alertmanager_egress: bool = True,
        node_exporter_namespace: str | None = None,
        domain: str | None = None,
        alerting: Mapping[str, Any] | None = None,
        secret_store: str | None = None,
        namespace: str = "monitoring",
        release_name: str = RELEASE,
        alerts: bool | Mapping[str, Mapping[str, Any]] = True,
        wait: bool = True,
    ) -> None:
        # Validate every knob before anything crosses into jsii (super().__init__ creates objects).
        where = child_path(scope, id)
        alert_rules = check_alerts(where, alerts, ALERTS)
        check_dns_label(where, "release_name", release_name)
        # Values errors name the release's path, as add_helm_release would.
        user_values = check_values(f"{where}/{release_name}", "values", values if values is not None else {})
        check_positive_int(where, "prometheus_replicas", prometheus_replicas)
        check_positive_int(where, "alertmanager_replicas", alertmanager_replicas)
        check_prometheus_duration(where, "retention", retention)
        if retention_size is not None and (
            not isinstance(retention_size, str) or not BYTE_SIZE.fullmatch(retention_size)
        ):
            raise ValidationError(
                where, "retention_size", retention_size, "a byte size such as '45GB' or '500MiB', or None"
            )
        check_quantity(where, "storage_size", storage_size)
        check_storage_class(where, "storage_class", storage_class)
        check_quantity(where, "alertmanager_storage_size", alertmanager_storage_size)
        if domain is not None:
            check_domain(where, "domain", domain)
        for knob, flag in (
            ("grafana_init_chown", grafana_init_chown),
            ("loki_datasource", loki_datasource),
            ("managed_control_plane", managed_control_plane),
            ("alertmanager_egress", alertmanager_egress),
        ):
            check_bool(where, knob, flag)
        check_dns_label(where, "logging_namespace", logging_namespace)
        check_dns_label(where, "loki_gateway", loki_gateway)
        if node_exporter_namespace is not None:
            check_dns_label(where, "node_exporter_namespace", node_exporter_namespace)
            if node_exporter_namespace == namespace:
                raise ValidationError(
                    where,
                    "node_exporter_namespace",
                    node_exporter_namespace,
                    f"a namespace other than {namespace!r}, or None to keep node-exporter there",
                )
        routing: Alerting | None = None if alerting is None else parse_alerting(where, alerting)
        if secret_store is not None:
            check_dns_label(where, "secret_store", secret_store)
        elif routing is not None and routing.credentials:
            raise ValidationError(
                where,
                "secret_store",
                None,
                "a ClusterSecretStore name (enable External Secrets in the platform): "
                "alerting receivers read credentials from it",
            )
        node_exporter_separate = node_exporter_namespace is not None
        # Grafana's chown init container runs as root with CHOWN/DAC_OVERRIDE: not even baseline.
        needs_privileged = not node_exporter_separate or grafana_init_chown
        reasons = []
        if not node_exporter_separate:
            reasons.append("node-exporter (DaemonSet) needs hostNetwork, hostPID and hostPath mounts of /, /proc, /sys")
        if grafana_init_chown:
            reasons.append("Grafana's init-chown-data container runs as root with CHOWN and DAC_OVERRIDE")
        super().__init__(
            scope,
            id,
            name="monitoring",
            namespace=namespace,
            wait=wait,
            pod_security="privileged" if needs_privileged else "restricted",
            pod_security_reason="; ".join(reasons) or None,
        )
        # Flux's objects are watched through kube-state-metrics and its controllers through a PodMonitor.
        self.add_alert_rules(
            alert_rules, monitors=[flux.pod_monitor(namespace)], component="flux", release=release_name
        )
        self._config: PlatformComponent | None = None
        self.logging_namespace = logging_namespace
        self.node_exporter_namespace: str = node_exporter_namespace or namespace
        """Where node-exporter runs."""
        if node_exporter_namespace is not None:
            self.add_namespace(
                node_exporter_namespace,
                pod_security="privileged",
                pod_security_reason=(
                    "node-exporter (DaemonSet) needs hostNetwork, hostPID and hostPath mounts of /, /proc, /sys"
                ),
            )

        knobs = defaults()
        prom = knobs["prometheus"]
        am = knobs["alertmanager"]
        set_path(prom, "prometheusSpec.replicas", prometheus_replicas)
        set_path(prom, "prometheusSpec.retention", retention)
        if retention_size is not None:
            set_path(prom, "prometheusSpec.retentionSize", retention_size)
        set_path(prom, "prometheusSpec.storageSpec", volume_claim(storage_size, storage_class))
        if domain is not None:
            # Alert and dashboard links are built from these; the routes themselves are the cluster's.
            set_path(prom, "prometheusSpec.externalUrl", f"https://prometheus.{domain}")
            set_path(am, "alertmanagerSpec.externalUrl", f"https://alertmanager.{domain}")
            knobs["grafana"]["grafana.ini"]["server"] = {
                "domain": f"grafana.{domain}",
                "root_url": f"https://grafana.{domain}",
            }
        # minAvailable 1 on a single replica would block every node drain.
        prom["podDisruptionBudget"] = {"enabled": prometheus_replicas > 1, "minAvailable": 1}
        set_path(am, "alertmanagerSpec.replicas", alertmanager_replicas)
        # Alertmanager's key is `storage`, not `storageSpec` like Prometheus (Alertmanager CRD, v0.93.1).
        set_path(am, "alertmanagerSpec.storage", volume_claim(alertmanager_storage_size, storage_class))
        am["podDisruptionBudget"] = {"enabled": alertmanager_replicas > 1, "minAvailable": 1}
        knobs["grafana"]["initChownData"] = {"enabled": grafana_init_chown}
        if loki_datasource:
            knobs["grafana"]["additionalDataSources"] = [
                {
                    "name": "Loki",
                    "type": "loki",
                    "uid": "loki",
                    "access": "proxy",
                    "url": f"http://{loki_gateway}.{logging_namespace}.svc:80",
                    "isDefault": False,
                    "editable": False,
                    "jsonData": {"maxLines": 1000, "timeout": 60},
                }
            ]
        if managed_control_plane:
            for component in ("kubeEtcd", "kubeControllerManager", "kubeScheduler", "kubeProxy"):
                knobs[component] = {"enabled": False}
        if node_exporter_namespace is not None:
            knobs["prometheus-node-exporter"]["namespaceOverride"] = node_exporter_namespace
        if routing is not None:
            knobs["alertmanager"] = deep_merge(am, alertmanager_values(routing))

        knobs = deep_merge(knobs, custom_resource_state(flux.custom_resources(), policy_state()))
        self.release = self.add_helm_release(
            release_name,
            CHARTS["monitoring/kube-prometheus-stack"],
            version=version,
            values=deep_merge(knobs, user_values),
            timeout="15m",
        )
        declare_network(
            self,
            release_name,
            logging_namespace=logging_namespace,
            loki_datasource=loki_datasource,
            managed_control_plane=managed_control_plane,
            alertmanager_egress=alertmanager_egress,
            receiver_ports=routing.ports if routing is not None else (),
        )
        self.alerting: PlatformComponent | None = None
        """The ``monitoring-alerting`` companion with the receivers' ExternalSecret (when one reads a credential)."""
        if routing is not None and routing.credentials and secret_store is not None:
            self.alerting = self.add_companion("alerting")
            self.alerting.add_manifest(receivers_external_secret(routing, namespace, secret_store))
        for check in self._workloads(release_name, namespace, self.node_exporter_namespace, self.release.values):
            # Alertmanager waits for its credentials (after External Secrets): waiting here would deadlock.
            if not (
                self.alerting is not None and check.kind == "StatefulSet" and check.name.startswith("alertmanager-")
            ):
                self.add_health_check(check)

    # -- companion --------------------------------------------------------------------------

    @property
    def config(self) -> PlatformComponent:
        """The ``monitoring-config`` companion (created on first use) holding ServiceMonitors and rules.

        It depends on this component, so the monitoring.coreos.com CRDs exist before its objects apply.
        """
        if self._config is None:
            self._config = self.add_companion("config")
        return self._config

    def add_service_monitor(self, body: Mapping[str, Any]) -> Manifest:
        """Put a ServiceMonitor or PodMonitor (e.g. from ``Istio.service_monitors()``) into :attr:`config`.

        Args:
            body: the whole object: ``apiVersion: monitoring.coreos.com/v1``, ``kind: ServiceMonitor``
                (or ``PodMonitor``), ``metadata`` with ``name`` and ``namespace``, ``spec``.

        Returns:
            The emitted manifest.
        """
        where = path_of(self)
        if not isinstance(body, Mapping):
            raise ValidationError(where, "service monitor", body, "a ServiceMonitor or PodMonitor body (dict)")
        if body.get("apiVersion") != "monitoring.coreos.com/v1" or body.get("kind") not in _MONITOR_KINDS:
            raise ValidationError(
                where,
                "service monitor apiVersion/kind",
                f"{body.get('apiVersion')}/{body.get('kind')}",
                "monitoring.coreos.com/v1/ServiceMonitor or monitoring.coreos.com/v1/PodMonitor",
            )
        metadata = body.get("metadata")
        if not isinstance(metadata, Mapping) or not isinstance(metadata.get("namespace"), str):
            raise ValidationError(
                where, "service monitor metadata.namespace", metadata, "the namespace of the scraped Service"
            )
        return self.config.add_manifest(body)

    def add_dashboards(self, dashboards: Sequence[Dashboard]) -> Manifest:
        """Put Grafana dashboards into :attr:`config` as one sidecar ConfigMap in this namespace.

        kube-prometheus-stack's Grafana sidecar loads each into the folder the ConfigMap's annotation names.
        """
        for dashboard in dashboards:
            if not isinstance(dashboard, Dashboard):
                raise ValidationError(path_of(self), "dashboard", dashboard, "a sre_constructs.dashboards.Dashboard")
        return self.config.add_manifest(config_map(dashboards, self.namespace or "monitoring"))

    # -- health checks ----------------------------------------------------------------------

    @staticmethod
    def _workloads(release: str, namespace: str, node_namespace: str, values: Mapping[str, Any]) -> list[HealthCheck]:
        full = fullname(values, release)
        clean = bool(values.get("cleanPrometheusOperatorObjectNames"))

        def section(key: str) -> Mapping[str, Any]:
            found = values.get(key)
            return found if isinstance(found, Mapping) else {}

        def enabled(key: str) -> bool:
            return section(key).get("enabled", True) is not False

        def sub(chart: str) -> str:
            return helm_fullname(release, chart, override=section(chart).get("fullnameOverride"))

        def replicas(key: str, spec: str) -> int:
            found = (section(key).get(spec) or {}).get("replicas", 1)
            return found if isinstance(found, int) else 1

        checks: list[HealthCheck] = []
        if enabled("prometheusOperator"):
            operator = section("prometheusOperator").get("fullnameOverride") or f"{full}-operator"
            checks.append(HealthCheck("Deployment", operator, namespace))
        if enabled("grafana") and section("grafana").get("replicas", 1) != 0:
            checks.append(HealthCheck("Deployment", sub("grafana"), namespace))
        if enabled("kubeStateMetrics"):
            checks.append(HealthCheck("Deployment", sub("kube-state-metrics"), namespace))
        if enabled("nodeExporter"):
            checks.append(HealthCheck("DaemonSet", sub("prometheus-node-exporter"), node_namespace))
        if enabled("prometheus") and replicas("prometheus", "prometheusSpec") > 0:
            name = full if clean else f"{full}-prometheus"
            checks.append(HealthCheck("StatefulSet", f"prometheus-{name}", namespace))
        if enabled("alertmanager") and replicas("alertmanager", "alertmanagerSpec") > 0:
            name = full if clean else f"{full}-alertmanager"
            checks.append(HealthCheck("StatefulSet", f"alertmanager-{name}", namespace))
        return checks
