"""Backup: Velero with the AWS (S3-compatible) plugin, credentials from OpenBao."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from constructs import Construct

from ..kernel.alerts import check_alerts
from ..kernel.component import HealthCheck, PlatformComponent
from ..kernel.errors import ValidationError
from ..kernel.facts import ChartFacts, ObjectRef, register_chart
from ..kernel.network import Peer, tcp
from ..kernel.paths import child_path
from ..kernel.validation import check_bool, check_dns_label, check_duration, check_values, duration_seconds
from ..kernel.values import deep_merge
from ..versions import CHARTS
from ._backup_alerts import ALERTS, EXPORTERS, NO_RECENT_BACKUP, schedule_budgets
from ._credentials import checksum_values_from, credentials_external_secret
from ._cron import check_cron, longest_gap_seconds, schedule_intervals

__all__ = [
    "ALERTS",
    "AWS_PLUGIN_IMAGE",
    "CHART_FACTS",
    "CREDENTIALS_SECRET",
    "DEFAULT_RELEASE",
    "HEALTH_CHECKED_RELEASES",
    "Backup",
    "check_cron",
]

# -- defaults (the one place they live) ------------------------------------------------------

AWS_PLUGIN_IMAGE = "docker.io/velero/velero-plugin-for-aws:v1.14.4"
"""The AWS object-store plugin for Velero 1.18: the v1.14.x line is the supported pair (the plugin's
compatibility matrix), v1.14.4 its latest patch; the chart's own example, v1.13.1, is the Velero
1.17 line."""

DEFAULT_NAMESPACE = "velero"
DEFAULT_RELEASE = "velero"
"""Default release name; the health checks name the chart's fixed ``velero`` and ``node-agent``."""
HEALTH_CHECKED_RELEASES = (DEFAULT_RELEASE,)
DEFAULT_BUCKET = "velero-backups"
DEFAULT_REGION = "us-east-1"
DEFAULT_SECRET_STORE = "openbao"
DEFAULT_CREDENTIALS_KEY = "platform/velero"
DEFAULT_DAILY_SCHEDULE = "0 2 * * *"
DEFAULT_DAILY_TTL = "168h"
DEFAULT_WEEKLY_SCHEDULE = "0 3 * * 0"
DEFAULT_WEEKLY_TTL = "720h"
DEFAULT_PROMETHEUS_NAMESPACE = "monitoring"

CREDENTIALS_SECRET = "velero-credentials"
"""The Secret (and ExternalSecret) holding the AWS INI file under key ``cloud``."""


def _velero_reads(values: Mapping[str, Any], namespace: str, release: str) -> tuple[ObjectRef, ...]:
    """The credentials Secret named by ``credentials.existingSecret`` (the chart renders none then)."""
    credentials = values.get("credentials") or {}
    secret = credentials.get("existingSecret")
    if credentials.get("useSecret", True) and secret:
        return (ObjectRef("Secret", namespace, str(secret)),)
    return ()


# -- chart facts (read by the registry mirror and the bring-up plan) -------------------------


def _workloads(values: Mapping[str, Any], namespace: str) -> tuple[ObjectRef, ...]:
    """Fixed names: the server Deployment, and the node agent when enabled."""
    agent = (ObjectRef("DaemonSet", namespace, "node-agent"),) if values.get("deployNodeAgent") else ()
    return (ObjectRef("Deployment", namespace, "velero"), *agent)


CHART_FACTS = register_chart(
    ChartFacts(
        "velero",
        exporters=EXPORTERS,
        # The velero image (Deployment, node-agent, upgrade-CRDs Job) and kubectl (optional Jobs).
        image_keys=MappingProxyType(
            {"image.repository": "{mirror}/velero/velero", "kubectl.image.repository": "{mirror}/kubectl"}
        ),
        # The AWS plugin init container is a full reference the library writes itself.
        library_images=(AWS_PLUGIN_IMAGE,),
        # The chart's crds/ folder: velero.io v1 kinds and the v2alpha1 data mover kinds (Velero 1.18).
        crds=(
            "velero.io/Backup",
            "velero.io/BackupRepository",
            "velero.io/BackupStorageLocation",
            "velero.io/DataDownload",
            "velero.io/DataUpload",
            "velero.io/DeleteBackupRequest",
            "velero.io/DownloadRequest",
            "velero.io/PodVolumeBackup",
            "velero.io/PodVolumeRestore",
            "velero.io/Restore",
            "velero.io/Schedule",
            "velero.io/ServerStatusRequest",
            "velero.io/VolumeSnapshotLocation",
        ),
        reads=_velero_reads,
        workloads=lambda values, ns, release: _workloads(values, ns),
    )
)
METRICS_PORT = 8085

# The chart's repository-maintenance ConfigMap (velero >= 1.14 reads it for every maintenance Job).
MAINTENANCE_JOB_RESOURCES = {"cpuRequest": "100m", "memoryRequest": "256Mi", "cpuLimit": "1", "memoryLimit": "1Gi"}

# Small-cluster sizing (requests and memory limits; CPU limits added because every component gets
# requests AND limits).
RESOURCES: dict[str, dict[str, dict[str, str]]] = {
    "velero": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
    # kopia hashes and compresses file data: the node agent is the hungry one.
    "node-agent": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
    "plugin": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "128Mi"}},
    # The pre-install/pre-upgrade hook Job velero-upgrade-crds.
    "upgrade-job": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
}

# Restricted-compliant settings for the velero server pod (the upgrade-CRDs hook Job reuses both,
# as chart 12.1.0 renders it); /plugins, /scratch, /tmp and /credentials are volumes, so the root
# filesystem can be read-only.
POD_SECURITY_CONTEXT: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "runAsGroup": 1000,
    "fsGroup": 1000,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY_CONTEXT: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
}
PLUGIN_SECURITY_CONTEXT: dict[str, Any] = {
    **CONTAINER_SECURITY_CONTEXT,
    "runAsNonRoot": True,
    "runAsUser": 1000,
}
# The node agent must run as uid 0 (chart default podSecurityContext) to read other pods' volumes;
# it can still refuse privilege escalation.
NODE_AGENT_CONTAINER_SECURITY_CONTEXT: dict[str, Any] = {"allowPrivilegeEscalation": False}

NODE_AGENT_REASON = (
    "Velero node-agent DaemonSet mounts hostPath /var/lib/kubelet/pods and the plugins path and runs "
    "as uid 0 to read every pod's volumes for file-system (kopia) backups."
)
BASELINE_REASON = (
    "the velero Deployment, its init containers or the upgrade-CRDs hook Job lack restricted "
    "securityContext settings (user values replaced the library's); the chart's defaults are baseline."
)

# -- validation helpers ----------------------------------------------------------------------

_S3_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s]*)?$")


def _restricted_ok(values: Mapping[str, Any]) -> bool:
    """Whether the velero pod (and the upgrade-CRDs Job reusing its contexts) meets ``restricted``.

    Checks the Pod Security ``restricted`` rules the chart's values control: non-root and
    RuntimeDefault seccomp at pod level, no privilege escalation and all capabilities dropped in the
    velero container and every init container.
    """
    pod = values.get("podSecurityContext") or {}
    if pod.get("runAsNonRoot") is not True or (pod.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        return False
    containers = [values.get("containerSecurityContext") or {}] + [
        (c.get("securityContext") or {}) if isinstance(c, Mapping) else {} for c in values.get("initContainers") or []
    ]
    return all(
        c.get("allowPrivilegeEscalation") is False and "ALL" in ((c.get("capabilities") or {}).get("drop") or [])
        for c in containers
    )


def _check_ttl(where: str, field: str, value: object) -> str:
    """A positive Go duration (Velero's ``ttl``)."""
    check_duration(where, field, value)
    assert isinstance(value, str)
    if duration_seconds(value) <= 0:
        raise ValidationError(where, field, value, "a positive Go duration such as '168h'")
    return value


def _check_text(where: str, field: str, value: object, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
        raise ValidationError(where, field, value, "a non-empty string without whitespace")
    return value


def _check_bucket(where: str, value: object) -> str:
    """An S3 bucket name (3-63 lower-case letters, digits, '.', '-')."""
    if not isinstance(value, str) or not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", value):
        raise ValidationError(where, "bucket", value, "an S3 bucket name: 3-63 lower-case letters, digits, '.' and '-'")
    return value


def _object_storage_port(where: str, s3_url: str | None) -> int:
    """The TCP port Velero reaches object storage on: the URL's port, else 443 (80 for http)."""
    if s3_url is None:
        return 443
    if not isinstance(s3_url, str) or not _S3_URL.match(s3_url):
        raise ValidationError(
            where, "s3_url", s3_url, "an http(s) URL such as 'https://minio.example.com:9000' (or None for AWS S3)"
        )
    parts = urlsplit(s3_url)
    try:
        port = parts.port
    except ValueError as error:
        raise ValidationError(where, "s3_url", s3_url, "a URL with a port in 1-65535") from error
    if port is None:
        return 443 if parts.scheme == "https" else 80
    if not 1 <= port <= 65535:
        raise ValidationError(where, "s3_url", s3_url, "a URL with a port in 1-65535")
    return port


def _check_ca_cert(where: str, value: object) -> str | None:
    """A PEM CA bundle; returned base64-encoded, as the BackupStorageLocation's ``caCert`` wants."""
    if value is None:
        return None
    if not isinstance(value, str) or "-----BEGIN CERTIFICATE-----" not in value:
        raise ValidationError(where, "ca_cert", value, "a PEM CA bundle ('-----BEGIN CERTIFICATE-----...') or None")
    return base64.b64encode(value.encode()).decode()


class Backup(PlatformComponent):
    """Velero server and node agent, backing up to S3-compatible object storage.

    Credentials never appear in the tree: an ``external-secrets.io/v1`` ExternalSecret
    ``velero-credentials`` (in this component's folder) renders the AWS INI file under key
    ``cloud`` from OpenBao through a ClusterSecretStore. The ExternalSecret CRD comes from
    External Secrets, so this component must depend on it (see :attr:`requires_external_secrets`).

    Hardening: restricted securityContexts for the velero pod, its plugin init container and the
    upgrade-CRDs hook Job (uid 1000, read-only root filesystem), no privilege escalation in the node
    agent (which must run as uid 0), requests and limits everywhere, ServiceMonitor ``velero`` and
    (with the node agent) PodMonitor ``node-agent`` from the chart. Volume snapshots are off
    (``snapshotsEnabled: false``): S3-compatible stores have no snapshot API, volumes go through kopia.
    The alert on a missing backup gives each Schedule twice the longest gap between two runs of its
    cron expression (:attr:`schedule_intervals`).

    The BackupStorageLocation and the Schedules are chart values, not companion CRs: the chart
    ships Velero's CRDs in its ``crds/`` folder, which Helm applies before the templates, so one
    release owns both the CRDs and the objects and no extra Flux step is needed.

    Knobs (all keyword arguments):

    - ``version``: chart version. Default ``12.1.0``.
    - ``values``: Helm values, deep-merged last (user wins). Default none.
    - ``bucket``: object-storage bucket for backups. Default ``velero-backups``.
    - ``prefix``: folder inside the bucket, or ``None`` for the bucket root. Default ``None``.
    - ``s3_url``: S3-compatible endpoint (e.g. ``https://minio.example.com:9000``), or ``None`` for
      AWS S3. Its port (else 443) is the one the egress policy opens. Default ``None``.
    - ``region``: the bucket's region. Default ``us-east-1``.
    - ``s3_force_path_style``: path-style addressing (MinIO and most S3-compatible stores).
      Default ``False``.
    - ``ca_cert``: PEM CA bundle of the endpoint, or ``None`` for the system CAs. Default ``None``.
    - ``secret_store``: the ClusterSecretStore the credentials come from. Default ``openbao``.
    - ``credentials_key``: the remote key (KV path) with properties ``access_key_id`` and
      ``secret_access_key``. Default ``platform/velero``.
    - ``daily_schedule``: cron of the daily backup, ``None`` for none. Default ``0 2 * * *``.
    - ``daily_ttl``: how long daily backups are kept (Go duration). Default ``168h``.
    - ``weekly_schedule``: cron of the weekly backup, ``None`` for none. Default ``0 3 * * 0``.
    - ``weekly_ttl``: how long weekly backups are kept (Go duration). Default ``720h``.
    - ``node_agent``: run the node-agent DaemonSet for file-system (kopia) backups of pod volumes
      (the schedules then back up volumes too). The node agent makes the namespace ``privileged``;
      without it the namespace is ``restricted`` (``baseline`` if ``values`` replace the library's
      securityContexts with non-compliant ones). Default ``True``.
    - ``monitoring_namespace``: where Prometheus runs (metrics ingress on 8085). Default ``monitoring``.
    - ``namespace``: Default ``velero``.
    - ``release_name``: Default ``velero``.
    - ``alerts``: ``True`` emits the service's alerting rules (listed in docs/alerts.md), ``False`` none, or a
      mapping alert name -> ``{threshold, for, severity, enabled}`` overriding single alerts. Default ``True``.
    - ``wait``: Default ``True``; with ``False`` the health checks name Deployment ``velero`` and
      (with the node agent) DaemonSet ``node-agent`` (fixed names in this chart).
    """

    requires_external_secrets: bool = True
    """The ExternalSecret needs External Secrets' CRDs, webhook and the ClusterSecretStore Ready first."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        version: str | None = None,
        values: Mapping[str, Any] | None = None,
        bucket: str = DEFAULT_BUCKET,
        prefix: str | None = None,
        s3_url: str | None = None,
        region: str = DEFAULT_REGION,
        s3_force_path_style: bool = False,
        ca_cert: str | None = None,
        secret_store: str = DEFAULT_SECRET_STORE,
        credentials_key: str = DEFAULT_CREDENTIALS_KEY,
        daily_schedule: str | None = DEFAULT_DAILY_SCHEDULE,
        daily_ttl: str = DEFAULT_DAILY_TTL,
        weekly_schedule: str | None = DEFAULT_WEEKLY_SCHEDULE,
        weekly_ttl: str = DEFAULT_WEEKLY_TTL,
        node_agent: bool = True,
        monitoring_namespace: str = DEFAULT_PROMETHEUS_NAMESPACE,
        namespace: str = DEFAULT_NAMESPACE,
        release_name: str = DEFAULT_RELEASE,
        alerts: bool | Mapping[str, Mapping[str, Any]] = True,
        wait: bool = True,
    ) -> None:
        # Validate every knob before anything crosses into jsii.
        where = child_path(scope, id)
        alert_rules = check_alerts(where, alerts, ALERTS)
        _check_bucket(where, bucket)
        _check_text(where, "prefix", prefix, optional=True)
        if prefix is not None and (prefix.startswith("/") or prefix.endswith("/")):
            raise ValidationError(where, "prefix", prefix, "a bucket folder without leading or trailing '/'")
        storage_port = _object_storage_port(where, s3_url)
        _check_text(where, "region", region)
        check_bool(where, "s3_force_path_style", s3_force_path_style)
        ca_bundle = _check_ca_cert(where, ca_cert)
        check_dns_label(where, "secret_store", secret_store)
        _check_text(where, "credentials_key", credentials_key)
        schedules: dict[str, tuple[str, str]] = {}
        for key, cron, ttl in (("daily", daily_schedule, daily_ttl), ("weekly", weekly_schedule, weekly_ttl)):
            _check_ttl(where, f"{key}_ttl", ttl)
            if cron is not None:
                schedules[key] = (check_cron(where, f"{key}_schedule", cron), ttl)
                if longest_gap_seconds(cron) is None:
                    raise ValidationError(where, f"{key}_schedule", cron, "a cron expression that runs at least yearly")
        check_bool(where, "node_agent", node_agent)
        check_dns_label(where, "monitoring_namespace", monitoring_namespace)

        location: dict[str, Any] = {
            "name": "default",
            "provider": "aws",
            "bucket": bucket,
            "default": True,
            "accessMode": "ReadWrite",
            # Report an unreachable bucket or bad credentials quickly (BSL phase Unavailable).
            "validationFrequency": "1m",
            "credential": {"name": CREDENTIALS_SECRET, "key": "cloud"},
            # BSL config is map[string]string: booleans travel as strings.
            "config": {"region": region, "s3ForcePathStyle": "true" if s3_force_path_style else "false"},
        }
        if prefix is not None:
            location["prefix"] = prefix
        if s3_url is not None:
            location["config"]["s3Url"] = s3_url
        if ca_bundle is not None:
            location["caCert"] = ca_bundle

        knobs: dict[str, Any] = {
            "initContainers": [
                {
                    "name": "velero-plugin-for-aws",
                    "image": AWS_PLUGIN_IMAGE,
                    "imagePullPolicy": "IfNotPresent",
                    "resources": RESOURCES["plugin"],
                    "securityContext": PLUGIN_SECURITY_CONTEXT,
                    "volumeMounts": [{"mountPath": "/target", "name": "plugins"}],
                }
            ],
            "credentials": {"useSecret": True, "existingSecret": CREDENTIALS_SECRET},
            "configuration": {
                "backupStorageLocation": [location],
                "uploaderType": "kopia",
                # Volumes are opted in per schedule (below), not for every ad-hoc backup.
                "defaultVolumesToFsBackup": False,
                # Velero starts kopia maintenance Jobs itself; without these they carry no
                # resources and Kyverno's require-requests-limits policy rejects them.
                "repositoryMaintenanceJob": {
                    "repositoryConfigData": {"global": {"podResources": MAINTENANCE_JOB_RESOURCES}},
                },
            },
            "backupsEnabled": True,
            # S3-compatible object storage has no volume snapshot API: pod volumes go through the
            # node agent (kopia) instead, so no VolumeSnapshotLocation is rendered.
            "snapshotsEnabled": False,
            "deployNodeAgent": node_agent,
            "upgradeCRDs": True,
            "upgradeJobResources": RESOURCES["upgrade-job"],
            "resources": RESOURCES["velero"],
            "podSecurityContext": POD_SECURITY_CONTEXT,
            "containerSecurityContext": CONTAINER_SECURITY_CONTEXT,
            "nodeAgent": {
                "resources": RESOURCES["node-agent"],
                "containerSecurityContext": NODE_AGENT_CONTAINER_SECURITY_CONTEXT,
            },
            "metrics": {
                "enabled": True,
                # autodetect would skip the objects when the API is missing at install time; the
                # monitoring component is an ancestor, so render them always.
                "serviceMonitor": {"enabled": True, "autodetect": False},
                "nodeAgentPodMonitor": {"enabled": node_agent, "autodetect": False},
            },
            "schedules": {
                key: {
                    "disabled": False,
                    "schedule": cron,
                    "useOwnerReferencesInBackup": False,
                    "template": {
                        "ttl": ttl,
                        "storageLocation": "default",
                        "includedNamespaces": ["*"],
                        "snapshotVolumes": False,
                        # File-system backup of pod volumes needs the node agent.
                        "defaultVolumesToFsBackup": node_agent,
                    },
                }
                for key, (cron, ttl) in schedules.items()
            },
        }
        # Merge before the namespace exists: its Pod Security level follows the final values.
        final = deep_merge(knobs, check_values(where, "values", values if values is not None else {}))
        intervals = schedule_intervals(where, final, release_name)
        if final.get("deployNodeAgent"):
            level, reason = "privileged", NODE_AGENT_REASON
        elif _restricted_ok(final):
            level, reason = "restricted", None
        else:
            level, reason = "baseline", BASELINE_REASON

        super().__init__(
            scope,
            id,
            name="backup",
            namespace=namespace,
            wait=wait,
            pod_security=level,
            pod_security_reason=reason,
        )
        # The missing-backup alert gives each Schedule twice its own interval (none without Schedules).
        if intervals:
            self.add_alert_rules(
                alert_rules,
                release=release_name,
                schedule_budgets=schedule_budgets(intervals),
                schedule=min(intervals),
            )
        else:
            self.add_alert_rules(tuple(r for r in alert_rules if r.name != NO_RECENT_BACKUP), release=release_name)
        self.node_agent = bool(final.get("deployNodeAgent"))
        """Whether the node-agent DaemonSet runs (file-system backups)."""
        self.schedule_intervals: dict[str, int] = intervals
        """Schedule name -> the longest time between two of its runs, in seconds (from its cron)."""
        # The release waits for the credentials (valuesFrom names the Secret) and its pods roll when
        # they change: chart 12.1.0 puts podAnnotations on the velero and node-agent pods alike.
        self.release = self.add_helm_release(
            release_name,
            CHARTS["backup/velero"],
            version=version,
            values=final,
            values_from=checksum_values_from(CREDENTIALS_SECRET, ["podAnnotations.checksum/credentials"]),
        )

        # -- credentials: from OpenBao through External Secrets, never in the tree -----------
        self.credentials = self.add_manifest(
            credentials_external_secret(
                CREDENTIALS_SECRET,
                namespace,
                secret_store,
                credentials_key,
                ("access_key_id", "secret_access_key"),
                {
                    "cloud": (
                        "[default]\n"
                        "aws_access_key_id={{ .access_key_id }}\n"
                        "aws_secret_access_key={{ .secret_access_key }}\n"
                    )
                },
            )
        )
        """The ExternalSecret producing Secret ``velero-credentials`` (key ``cloud``)."""

        # -- network: default-deny plus exactly these paths ---------------------------------
        self.allow_egress("api-server", Peer.api_server(), tcp(443, 6443))
        # The server and (kopia) the node agent both write to object storage.
        self.allow_egress("object-storage", Peer.anywhere("object storage"), tcp(storage_port))
        self.allow_ingress(
            "metrics-from-prometheus",
            Peer.in_namespace(monitoring_namespace, "Prometheus", **{"app.kubernetes.io/name": "prometheus"}),
            tcp(METRICS_PORT),
        )

        # -- health checks (wait=False): follow the final values, names are fixed ------------
        for ref in _workloads(self.release.values, namespace):
            self.add_health_check(HealthCheck(ref.kind, ref.name, ref.namespace))
