"""Alloy for the logging service: its River configuration and the chart values no knob sets."""

from __future__ import annotations

from typing import Any

__all__ = ["alloy_config", "alloy_defaults"]


def alloy_config(push_url: str, cluster: str) -> str:
    """The Alloy configuration (River): pod logs of the local node through the API server, to Loki.

    No hostPath: ``loki.source.kubernetes`` tails logs via the API server, so the namespace stays
    ``restricted``; each DaemonSet pod only discovers pods of its own node.

    Args:
        push_url: Loki's push endpoint (``http://loki-gateway.logging.svc:80/loki/api/v1/push``).
        cluster: value of the ``cluster`` label on every line.
    """
    return f"""// Alloy DaemonSet: ship pod logs of THIS node to Loki through the Kubernetes API (no hostPath).
logging {{
  level  = "info"
  format = "logfmt"
}}

// Pods scheduled on the local node only. The chart sets env HOSTNAME = spec.nodeName.
discovery.kubernetes "pods" {{
  role = "pod"
  selectors {{
    role  = "pod"
    field = "spec.nodeName=" + coalesce(sys.env("HOSTNAME"), constants.hostname)
  }}
}}

discovery.relabel "pods" {{
  targets = discovery.kubernetes.pods.targets

  // Skip pods that are not running (nothing to tail).
  rule {{
    source_labels = ["__meta_kubernetes_pod_phase"]
    regex         = "Pending|Succeeded|Failed|Completed"
    action        = "drop"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_name"]
    target_label  = "pod"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_container_name"]
    target_label  = "container"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_node_name"]
    target_label  = "node"
  }}
  rule {{
    source_labels = [
      "__meta_kubernetes_pod_label_app_kubernetes_io_name",
      "__meta_kubernetes_pod_label_app",
      "__meta_kubernetes_pod_controller_name",
    ]
    separator     = ";"
    regex         = "^;*([^;]+)(;.*)?$"
    target_label  = "app"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_namespace", "__meta_kubernetes_pod_container_name"]
    separator     = "/"
    target_label  = "job"
  }}
}}

loki.source.kubernetes "pods" {{
  targets    = discovery.relabel.pods.output
  forward_to = [loki.write.default.receiver]
}}

loki.write "default" {{
  endpoint {{
    url = "{push_url}"
  }}
  external_labels = {{
    cluster = "{cluster}",
  }}
}}
"""


def alloy_defaults(push_url: str, cluster: str) -> dict[str, Any]:
    """Alloy 1.11.1 values: DaemonSet, API-server log source, restricted."""
    # The image creates user alloy (473) but runs as root: name the uid so runAsNonRoot can start it.
    pod_sc = {
        "runAsNonRoot": True,
        "runAsUser": 473,
        "runAsGroup": 473,
        "fsGroup": 473,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    return {
        "crds": {"create": True},
        "controller": {
            "type": "daemonset",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            # Writable storage path under a read-only root filesystem.
            "volumes": {"extra": [{"name": "alloy-storage", "emptyDir": {"sizeLimit": "1Gi"}}]},
        },
        "global": {"podSecurityContext": pod_sc},
        "alloy": {
            "configMap": {"create": True, "content": alloy_config(push_url, cluster)},
            "mounts": {
                "varlog": False,
                "dockercontainers": False,
                "extra": [{"name": "alloy-storage", "mountPath": "/tmp/alloy"}],
            },
            "storagePath": "/tmp/alloy",
            "clustering": {"enabled": False},  # node-local discovery instead of clustering
            "enableReporting": False,  # no usage reports (air-gap)
            "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 473,
                "runAsGroup": 473,
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
        },
        # configReloader.securityContext defaults are already restricted (uid 65534, drop ALL, RO, seccomp).
        "configReloader": {"resources": {"requests": {"cpu": "10m", "memory": "50Mi"}, "limits": {"memory": "64Mi"}}},
        "serviceMonitor": {"enabled": True},
    }
