"""Logging: Loki stores logs, Alloy ships every pod's logs to it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from constructs import Construct

from ..kernel.alerts import check_alerts
from ..kernel.component import HealthCheck, PlatformComponent
from ..kernel.errors import ValidationError
from ..kernel.facts import ChartFacts, ObjectRef, register_chart
from ..kernel.naming import helm_fullname
from ..kernel.network import Peer, tcp
from ..kernel.paths import child_path
from ..kernel.validation import (
    check_bool,
    check_dns_label,
    check_one_of,
    check_positive_int,
    check_prometheus_duration,
    check_quantity,
    check_storage_class,
    check_values,
)
from ..kernel.values import deep_merge
from ..versions import CHARTS
from ._alloy import alloy_config, alloy_defaults
from ._credentials import checksum_values_from, credentials_external_secret
from ._logging_alerts import ALERTS, ALLOY_EXPORTER, LOKI_EXPORTER

__all__ = [
    "ALERTS",
    "ALLOY_FACTS",
    "ALLOY_RELEASE",
    "HEALTH_CHECKED_RELEASES",
    "LOKI_FACTS",
    "LOKI_MODES",
    "LOKI_RELEASE",
    "Logging",
    "alloy_config",
]


def _loki_reads(values: Mapping[str, Any], namespace: str, release: str) -> tuple[ObjectRef, ...]:
    """The Secrets and ConfigMaps the Loki pods take their environment from (``defaults.extraEnvFrom``,
    where the ``s3_credentials_secret`` knob puts the S3 credentials)."""
    refs: list[ObjectRef] = []
    for source in (values.get("defaults") or {}).get("extraEnvFrom") or ():
        for key, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
            ref = source.get(key) if isinstance(source, Mapping) else None
            if isinstance(ref, Mapping) and ref.get("name") and not ref.get("optional"):
                refs.append(ObjectRef(kind, namespace, str(ref["name"])))
    return tuple(refs)


# -- chart facts (read by the registry mirror and the bring-up plan) -------------------------


def _section(values: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    found = values.get(key)
    return found if isinstance(found, Mapping) else {}


def _loki_workloads(values: Mapping[str, Any], namespace: str, release: str) -> tuple[ObjectRef, ...]:
    """Loki's single binary, gateway, caches and canary, each unless the values turn it off."""
    loki = helm_fullname(release, "loki", override=values.get("fullnameOverride"))
    refs = []
    if _section(values, "singleBinary").get("replicas", 0) != 0:
        refs.append(ObjectRef("StatefulSet", namespace, loki))
    if _section(values, "gateway").get("enabled", True) is not False:
        refs.append(ObjectRef("Deployment", namespace, f"{loki}-gateway"))
    for cache in ("chunksCache", "resultsCache"):
        if _section(values, cache).get("enabled", True) is not False:
            suffix = "chunks-cache" if cache == "chunksCache" else "results-cache"
            refs.append(ObjectRef("StatefulSet", namespace, f"{loki}-{suffix}"))
    if _section(values, "lokiCanary").get("enabled", True) is not False:
        refs.append(ObjectRef("DaemonSet", namespace, f"{loki}-canary"))
    return tuple(refs)


def _alloy_workloads(values: Mapping[str, Any], namespace: str, release: str) -> tuple[ObjectRef, ...]:
    """Alloy's one workload, of the kind its ``controller.type`` says."""
    alloy = helm_fullname(release, "alloy", override=values.get("fullnameOverride"))
    kind = {"daemonset": "DaemonSet", "deployment": "Deployment", "statefulset": "StatefulSet"}.get(
        str(_section(values, "controller").get("type", "daemonset")), "DaemonSet"
    )
    return (ObjectRef(kind, namespace, alloy),)


LOKI_FACTS = register_chart(
    ChartFacts(
        "loki",
        exporters=(LOKI_EXPORTER,),
        # global.imageRegistry wins over every component registry in loki.baseImage.
        image_keys=MappingProxyType({"global.imageRegistry": "{mirror}"}),
        reads=_loki_reads,
        workloads=_loki_workloads,
    )
)
ALLOY_FACTS = register_chart(
    ChartFacts(
        "alloy",
        exporters=(ALLOY_EXPORTER,),
        values_knob="alloy_values",
        # Alloy and its config reloader.
        image_keys=MappingProxyType({"global.image.registry": "{mirror}"}),
        # The crds subchart (crds.create).
        crds=("monitoring.grafana.com/PodLogs",),
        workloads=_alloy_workloads,
    )
)

LOKI_RELEASE = "loki"
ALLOY_RELEASE = "alloy"
HEALTH_CHECKED_RELEASES = (LOKI_RELEASE, ALLOY_RELEASE)
"""Releases whose workloads the component health-checks (Loki's StatefulSets and gateway, Alloy's DaemonSet)."""

# -- defaults (the one place they live) ----------------------------------------------------------

LOKI_MODES = ("monolithic", "scalable")
MODE = "monolithic"
SCALABLE_REPLICAS = 3
STORAGE_SIZE = "10Gi"
RETENTION = "744h"  # 31 days
MONITORING_NAMESPACE = "monitoring"
CLUSTER_NAME = "platform"
SCHEMA_FROM = "2024-04-01"
LOKI_HTTP_PORT = 3100  # loki http-metrics (API and /metrics)
GATEWAY_PORT = 8080  # nginx container port behind Service <loki>-gateway:80
GATEWAY_EXPORTER_PORT = 4040
CANARY_PORT = 3500
MEMCACHED_EXPORTER_PORT = 9150
ALLOY_PORT = 12345
API_SERVER_PORTS = (443, 6443)

_RESOURCES_SMALL = {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}}
# Grafana's pods and Prometheus' pods in the monitoring namespace (kube-prometheus-stack labels).
_GRAFANA_LABELS = {"app.kubernetes.io/name": "grafana"}
_PROMETHEUS_LABELS = {"app.kubernetes.io/name": "prometheus"}


def _loki_defaults() -> dict[str, Any]:
    """Loki 18.11.0 values no knob sets."""
    return {
        # "Monolithic" is the chart's current name; "SingleBinary" is its deprecated alias.
        "deploymentMode": "Monolithic",
        "loki": {
            "auth_enabled": False,  # single tenant: clients need no X-Scope-OrgID
            "compactor": {"retention_enabled": True},
        },
        # The mode is chosen by replica counts too: the scalable targets default to 3 and must be 0.
        "backend": {"replicas": 0},
        "read": {"replicas": 0},
        "write": {"replicas": 0},
        "singleBinary": {
            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
            "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1},
            # Pod/container securityContext: chart defaults (uid 10001, drop ALL, RO rootfs, seccomp) are restricted.
        },
        "gateway": {
            "replicas": 2,
            "resources": {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
            "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1},
            "metrics": {"resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}}},
        },
        "memcachedExporter": {"resources": dict(_RESOURCES_SMALL)},
        "sidecar": {"resources": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}},
        "lokiCanary": {
            "enabled": True,
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
        },
        # Logging comes after monitoring, so the ServiceMonitor CRD exists.
        "monitoring": {"serviceMonitor": {"enabled": True}},
    }


# Loki's S3 endpoint: host[:port], no scheme (``s3.eu-west-1.amazonaws.com``, ``minio.storage.svc:9000``).
_ENDPOINT = re.compile(r"^(?P<host>[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?)(:(?P<port>[0-9]{1,5}))?$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_REGION = re.compile(r"^[a-z0-9][-a-z0-9]*$")
S3_CREDENTIALS_KEY = "platform/loki"
"""Default KV path of Loki's S3 credentials in the platform's secret store."""
_KV_PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


class Logging(PlatformComponent):
    """Loki (single-process ``Monolithic`` target) and Alloy (DaemonSet, API-server log source).

    ``mode="monolithic"`` runs one Loki replica on a filesystem volume (or on S3 when a bucket is
    given); ``mode="scalable"`` runs ``replicas`` Monolithic replicas on S3 (replication factor up to
    3), the forward-compatible HA layout of the chart (SimpleScalable is deprecated). S3 credentials
    come from a Secret named by ``s3_credentials_secret`` (keys ``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``) as environment of the Loki pods only, rendered from OpenBao by an
    ExternalSecret when ``secret_store`` is given; without it the S3 client uses its default chain
    (IRSA, instance profile). Alloy reads logs through the API server, so the
    namespace is ``restricted``.

    Knobs (all keyword arguments):

    - ``version``: Loki chart version. Default ``18.11.0``.
    - ``values``: Helm values for Loki, deep-merged last. Default none.
    - ``mode``: ``monolithic`` (1 replica) or ``scalable`` (``replicas`` replicas on S3, needs ``s3_endpoint`` and
      ``s3_bucket_chunks``). Default ``monolithic``.
    - ``replicas``: Loki replicas in ``scalable`` mode (at least 2). Default ``3``.
    - ``storage_size``: Loki volume per replica (chunks and index on filesystem; WAL and caches with S3). Default
      ``10Gi``.
    - ``storage_class``: StorageClass of the Loki volumes. Default ``None`` (cluster default).
    - ``retention``: how long logs are kept (compactor retention), a duration such as ``744h`` or ``31d``. Default
      ``744h``.
    - ``s3_endpoint``: S3 endpoint ``host[:port]`` without scheme (``s3.eu-west-1.amazonaws.com``,
      ``minio.storage.svc:9000``). Default ``None``.
    - ``s3_bucket_chunks``: bucket for chunks and index; setting it switches storage to S3. Default ``None``.
    - ``s3_bucket_ruler``: bucket for ruler data. Default ``None`` (the chunks bucket).
    - ``s3_region``: S3 region. Default ``None``.
    - ``s3_force_path_style``: path-style bucket URLs (MinIO, Ceph RGW). Default ``False``.
    - ``s3_insecure``: plain HTTP to the endpoint. Default ``False``.
    - ``s3_credentials_secret``: name of a Secret in the namespace with ``AWS_ACCESS_KEY_ID`` and
      ``AWS_SECRET_ACCESS_KEY``. Default ``None`` (SDK default chain).
    - ``secret_store``: ClusterSecretStore the S3 credentials come from: with it and
      ``s3_credentials_secret``, an ExternalSecret renders that Secret from ``s3_credentials_key``
      and Loki waits for it (a manual step writes the key into OpenBao: ``sre-constructs plan``
      prints the command). In a CorePlatform with External Secrets: its store. Default ``None``
      (you provide the Secret).
    - ``s3_credentials_key``: the KV path with properties ``AWS_ACCESS_KEY_ID`` and
      ``AWS_SECRET_ACCESS_KEY``. Default ``platform/loki``.
    - ``monitoring_namespace``: namespace of Grafana and Prometheus (ingress to the gateway and metrics). Default
      ``monitoring``.
    - ``cluster_name``: value of the ``cluster`` label Alloy adds to every line. Default ``platform``.
    - ``alloy_version``: Alloy chart version. Default ``1.11.1``.
    - ``alloy_values``: Helm values for Alloy, deep-merged last. Default none.
    - ``namespace``: Default ``logging``.
    - ``release_name``: Loki release name. Default ``loki``.
    - ``alloy_release_name``: Alloy release name. Default ``alloy``.
    - ``alerts``: ``True`` emits the service's alerting rules (listed in docs/alerts.md), ``False`` none, or a
      mapping alert name -> ``{threshold, for, severity, enabled}`` overriding single alerts. Default ``True``.
    - ``wait``: Default ``True``; with ``False`` the health checks name StatefulSet ``loki``,
      Deployment ``loki-gateway``, the cache StatefulSets and the canary DaemonSet while enabled,
      and DaemonSet ``alloy``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        version: str | None = None,
        values: Mapping[str, Any] | None = None,
        mode: str = MODE,
        replicas: int = SCALABLE_REPLICAS,
        storage_size: str = STORAGE_SIZE,
        storage_class: str | None = None,
        retention: str = RETENTION,
        s3_endpoint: str | None = None,
        s3_bucket_chunks: str | None = None,
        s3_bucket_ruler: str | None = None,
        s3_region: str | None = None,
        s3_force_path_style: bool = False,
        s3_insecure: bool = False,
        s3_credentials_secret: str | None = None,
        secret_store: str | None = None,
        s3_credentials_key: str = S3_CREDENTIALS_KEY,
        monitoring_namespace: str = MONITORING_NAMESPACE,
        cluster_name: str = CLUSTER_NAME,
        alloy_version: str | None = None,
        alloy_values: Mapping[str, Any] | None = None,
        namespace: str = "logging",
        release_name: str = LOKI_RELEASE,
        alloy_release_name: str = ALLOY_RELEASE,
        alerts: bool | Mapping[str, Mapping[str, Any]] = True,
        wait: bool = True,
    ) -> None:
        where = child_path(scope, id)
        alert_rules = check_alerts(where, alerts, ALERTS)
        check_dns_label(where, "release_name", release_name)
        check_dns_label(where, "alloy_release_name", alloy_release_name)
        # Values errors name the release's path, as add_helm_release would.
        user_values = check_values(f"{where}/{release_name}", "values", values if values is not None else {})
        user_alloy_values = check_values(
            f"{where}/{alloy_release_name}", "alloy_values", alloy_values if alloy_values is not None else {}
        )
        check_one_of(where, "mode", mode, LOKI_MODES)
        check_positive_int(where, "replicas", replicas, minimum=2)
        check_quantity(where, "storage_size", storage_size)
        check_storage_class(where, "storage_class", storage_class)
        check_prometheus_duration(where, "retention", retention)
        endpoint_port: int | None = None
        if s3_endpoint is not None:
            match = _ENDPOINT.fullmatch(s3_endpoint) if isinstance(s3_endpoint, str) else None
            if match is None or (match["port"] is not None and not 0 < int(match["port"]) < 65536):
                raise ValidationError(
                    where,
                    "s3_endpoint",
                    s3_endpoint,
                    "host[:port] without a scheme, e.g. 's3.eu-west-1.amazonaws.com' or 'minio.storage.svc:9000'",
                )
            endpoint_port = int(match["port"]) if match["port"] else None
        for knob, bucket in (("s3_bucket_chunks", s3_bucket_chunks), ("s3_bucket_ruler", s3_bucket_ruler)):
            if bucket is not None and (not isinstance(bucket, str) or not _BUCKET.fullmatch(bucket)):
                raise ValidationError(
                    where, knob, bucket, "an S3 bucket name: 3-63 lower-case letters, digits, '.', '-'"
                )
        if s3_region is not None and (not isinstance(s3_region, str) or not _REGION.fullmatch(s3_region)):
            raise ValidationError(where, "s3_region", s3_region, "a region such as 'eu-west-1', or None")
        check_bool(where, "s3_force_path_style", s3_force_path_style)
        check_bool(where, "s3_insecure", s3_insecure)
        if s3_credentials_secret is not None:
            check_dns_label(where, "s3_credentials_secret", s3_credentials_secret)
        if secret_store is not None:
            check_dns_label(where, "secret_store", secret_store)
        if not isinstance(s3_credentials_key, str) or not _KV_PATH.fullmatch(s3_credentials_key):
            raise ValidationError(where, "s3_credentials_key", s3_credentials_key, "a KV path such as 'platform/loki'")
        check_dns_label(where, "monitoring_namespace", monitoring_namespace)
        if not isinstance(cluster_name, str) or len(cluster_name) > 63 or not _LABEL_VALUE.fullmatch(cluster_name):
            raise ValidationError(where, "cluster_name", cluster_name, "a label value: letters, digits, '-', '_', '.'")
        use_s3 = s3_bucket_chunks is not None
        if mode == "scalable":
            # More than one replica needs shared object storage (the chart refuses filesystem).
            for knob, given in (("s3_bucket_chunks", s3_bucket_chunks), ("s3_endpoint", s3_endpoint)):
                if given is None:
                    raise ValidationError(where, knob, None, "a value: mode 'scalable' stores logs in S3")
        if use_s3 and s3_endpoint is None:
            raise ValidationError(
                where, "s3_endpoint", None, "the S3 endpoint host[:port] when s3_bucket_chunks is set"
            )
        if not use_s3:
            for knob, given in (
                ("s3_endpoint", s3_endpoint),
                ("s3_bucket_ruler", s3_bucket_ruler),
                ("s3_region", s3_region),
                ("s3_credentials_secret", s3_credentials_secret),
            ):
                if given is not None:
                    raise ValidationError(where, knob, given, "None unless s3_bucket_chunks is set (S3 storage)")

        super().__init__(scope, id, name="logging", namespace=namespace, wait=wait)
        self.mode = mode
        self.requires_external_secrets: bool = s3_credentials_secret is not None and secret_store is not None
        """The S3 credentials come through External Secrets: its CRDs and the store must be Ready first."""

        loki_full = helm_fullname(release_name, "loki", override=user_values.get("fullnameOverride"))
        # ${loki}: the StatefulSet (and Service) the chart names after Loki's fullname.
        self.add_alert_rules(alert_rules, release=release_name, loki=loki_full)
        self.gateway_url: str = f"http://{loki_full}-gateway.{namespace}.svc:80"
        """Loki's gateway Service URL (Grafana datasource, push clients)."""

        loki = _loki_defaults()
        store = "s3" if use_s3 else "filesystem"
        loki_replicas = replicas if mode == "scalable" else 1
        loki["loki"]["commonConfig"] = {"replication_factor": min(loki_replicas, 3)}
        loki["loki"]["schemaConfig"] = {
            "configs": [
                {
                    "from": SCHEMA_FROM,
                    "store": "tsdb",
                    "object_store": store,
                    "schema": "v13",
                    "index": {"prefix": "loki_index_", "period": "24h"},
                }
            ]
        }
        loki["loki"]["limits_config"] = {"retention_period": retention}
        loki["loki"]["compactor"]["delete_request_store"] = store
        persistence: dict[str, Any] = {"enabled": True, "size": storage_size}
        if storage_class is not None:
            persistence["storageClass"] = storage_class
        loki["singleBinary"].update({"replicas": loki_replicas, "persistence": persistence})
        if use_s3:
            s3: dict[str, Any] = {
                "endpoint": s3_endpoint,
                "s3ForcePathStyle": s3_force_path_style,
                "insecure": s3_insecure,
            }
            if s3_region is not None:
                s3["region"] = s3_region
            if s3_credentials_secret is not None:
                # Expanded from the pod's environment at runtime (the chart always passes -config.expand-env=true).
                s3.update({"accessKeyId": "${AWS_ACCESS_KEY_ID}", "secretAccessKey": "${AWS_SECRET_ACCESS_KEY}"})
                # defaults.extraEnvFrom reaches the Loki pods only (global.extraEnvFrom would reach memcached too).
                loki["defaults"] = {"extraEnvFrom": [{"secretRef": {"name": s3_credentials_secret}}]}
            loki["loki"]["storage"] = {
                "type": "s3",
                "bucketNames": {"chunks": s3_bucket_chunks, "ruler": s3_bucket_ruler or s3_bucket_chunks},
                "s3": s3,
            }
            # Small caches in front of object storage (chart default chunks cache requests ~9.8Gi).
            loki["chunksCache"] = {"enabled": True, "replicas": 1, "allocatedMemory": 512, "allocatedCPU": "100m"}
            loki["resultsCache"] = {"enabled": True, "allocatedMemory": 256, "allocatedCPU": "100m"}
        else:
            loki["loki"]["storage"] = {"type": "filesystem"}
            # A local filesystem needs no memcached in front of it.
            loki["chunksCache"] = {"enabled": False}
            loki["resultsCache"] = {"enabled": False}
        self.credentials: Any = None
        """The ExternalSecret producing the S3 credentials Secret, if they come from a store."""
        values_from = []
        if s3_credentials_secret is not None and secret_store is not None:
            keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
            self.credentials = self.add_manifest(
                credentials_external_secret(s3_credentials_secret, namespace, secret_store, s3_credentials_key, keys)
            )
            # Loki waits for the Secret (valuesFrom names it) and its pods roll when it changes.
            values_from = checksum_values_from(s3_credentials_secret, ["loki.podAnnotations.checksum/s3-credentials"])
        self.loki = self.add_helm_release(
            release_name,
            CHARTS["logging/loki"],
            version=version,
            values=deep_merge(loki, user_values),
            values_from=values_from,
        )
        push_url = f"{self.gateway_url}/loki/api/v1/push"
        self.alloy = self.add_helm_release(
            alloy_release_name,
            CHARTS["logging/alloy"],
            version=alloy_version,
            depends_on=[self.loki],
            values=deep_merge(alloy_defaults(push_url, cluster_name), user_alloy_values),
        )
        self._declare_network(
            release_name,
            monitoring_namespace,
            use_s3,
            endpoint_port or (80 if s3_insecure else 443),
        )
        for ref in (
            *_loki_workloads(self.loki.values, namespace, release_name),
            *_alloy_workloads(self.alloy.values, namespace, alloy_release_name),
        ):
            self.add_health_check(HealthCheck(ref.kind, ref.name, ref.namespace))

    def _declare_network(
        self,
        loki_release: str,
        monitoring_namespace: str,
        use_s3: bool,
        s3_port: int,
    ) -> None:
        loki_pods = {"app.kubernetes.io/name": "loki", "app.kubernetes.io/instance": loki_release}
        self.allow_ingress(
            "grafana-to-gateway",
            Peer.in_namespace(monitoring_namespace, "Grafana", **_GRAFANA_LABELS),
            tcp(GATEWAY_PORT),
            pods={**loki_pods, "app.kubernetes.io/component": "gateway"},
        )
        self.allow_ingress(
            "prometheus-scrape",
            Peer.in_namespace(monitoring_namespace, "Prometheus", **_PROMETHEUS_LABELS),
            tcp(
                LOKI_HTTP_PORT,
                GATEWAY_EXPORTER_PORT,
                CANARY_PORT,
                ALLOY_PORT,
                *((MEMCACHED_EXPORTER_PORT,) if use_s3 else ()),
            ),
        )
        # Alloy and the canary reach the gateway inside the namespace: already allowed by the baseline.
        # Alloy discovers pods and tails their logs through the API server; Loki's rules sidecar watches ConfigMaps.
        self.allow_egress("api-server", Peer.api_server(), tcp(*API_SERVER_PORTS))
        if use_s3:
            self.allow_egress(
                "object-storage",
                Peer.anywhere("S3 object storage"),
                tcp(s3_port),
                pods={**loki_pods, "app.kubernetes.io/component": "single-binary"},
            )
