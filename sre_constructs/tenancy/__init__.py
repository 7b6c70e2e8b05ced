"""Tenancy: application teams on the platform, each in its own lane.

- :class:`Tenant` (``tenant.py``): a team's namespaces, quotas, RBAC, secrets lane and Flux
  Kustomization, as a tree of its own at ``tenancy/<name>``.
- :class:`TenantWorkloads` (``workloads.py``): the team's own objects, a kustomize folder at its
  ``source_path``.
- :func:`tenant_policies` (``policies.py``): the lane policies the platform installs for every
  tenant, and the labels they find tenant namespaces by.
- ``docs_page.py``: the generated page ``docs/tenants.md``.
"""

from __future__ import annotations

from .policies import RECONCILER_PREFIX, STORE_LABEL, TENANT_LABEL, tenant_policies
from .tenant import Tenant
from .workloads import TenantWorkloads

__all__ = ["RECONCILER_PREFIX", "STORE_LABEL", "TENANT_LABEL", "Tenant", "TenantWorkloads", "tenant_policies"]
