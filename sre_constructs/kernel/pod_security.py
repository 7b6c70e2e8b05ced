"""The Pod Security Standards' lists (version ``latest``), shared by the policies the library emits
and by the bring-up plan's pod checks, so both judge a pod alike.

Source: Kubernetes' Pod Security Standards (baseline: allowed added capabilities and sysctls;
restricted: allowed volume types).
"""

from __future__ import annotations

__all__ = ["BASELINE_CAPABILITIES", "LEVELS", "RESTRICTED_VOLUMES", "SAFE_SYSCTLS"]

LEVELS = ("privileged", "baseline", "restricted")
"""The levels, least strict first."""

BASELINE_CAPABILITIES = (
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
)
"""Capabilities a container may add at ``baseline`` (``restricted`` allows only NET_BIND_SERVICE)."""

SAFE_SYSCTLS = (
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
)
"""The sysctls a pod may set at ``baseline``."""

RESTRICTED_VOLUMES = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
)
"""The volume types ``restricted`` allows."""
