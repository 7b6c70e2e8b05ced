"""What a chart installs, serves and needs: the facts the bring-up plan and the air-gap mirror read.

Each service module states the facts of its charts beside the code that sets their values
(``CHART_FACTS = ChartFacts(...)``) and registers them with :func:`register_chart`. Readers
(:mod:`sre_constructs.airgap`, :mod:`sre_constructs.plan`) look them up by chart name with
:func:`chart_facts`, so a written tree (ours or not) gets the same facts as the constructs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .metrics import Exporter

__all__ = [
    "ChartFacts",
    "DriftIgnore",
    "ManualStep",
    "ObjectRef",
    "ServedPort",
    "Webhook",
    "chart_facts",
    "known_charts",
    "register_chart",
    "webhook_ca_paths",
]


@dataclass(frozen=True, order=True)
class ObjectRef:
    """One object by kind and name: a Secret or ConfigMap a pod reads, an object a step creates.

    Attributes:
        kind: ``Secret``, ``ConfigMap``, ...
        namespace: its namespace (``""`` for cluster-scoped kinds).
        name: its name.
    """

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Webhook:
    """An admission webhook a release serves once its workloads are Ready.

    Attributes:
        name: the webhook configuration's name (as the chart renders it with our values).
        kinds: what it intercepts, as ``group/Kind`` (core group: ``/Pod``); ``group/*`` for every
            kind of a group.
        failure_policy: ``Fail`` (an object it intercepts cannot be created while the webhook is
            down) or ``Ignore``.
        mutating: a mutating (rather than validating) webhook.
        namespace_label: ``(key, value)``: only objects in namespaces carrying that label.
    """

    name: str
    kinds: tuple[str, ...]
    failure_policy: str = "Fail"
    mutating: bool = False
    namespace_label: tuple[str, str] | None = None

    def intercepts(self, group: str, kind: str) -> bool:
        """Whether an object of ``group``/``kind`` goes through this webhook."""
        return any(k in (f"{group}/{kind}", f"{group}/*", "*/*") for k in self.kinds)


@dataclass(frozen=True)
class ManualStep:
    """An input only a person can give (S3 credentials, a KMS key), with the exact command.

    Attributes:
        what: one line: what to provide and why.
        command: the exact command that provides it.
        after: the component (Flux Kustomization name) that must be Ready before the step can run
            (``""``: any time).
        provides: what the step creates, as :class:`ObjectRef` (an OpenBao path is kind
            ``OpenBaoSecret``, namespace = the KV mount, name = the path below it).
    """

    what: str
    command: str
    after: str = ""
    provides: tuple[ObjectRef, ...] = ()


@dataclass(frozen=True)
class DriftIgnore:
    """Fields of one object a chart renders that a controller in the cluster owns once running
    (an HPA's replicas, an injected webhook ``caBundle``), so helm-controller's drift detection
    leaves them alone (a HelmRelease ``driftDetection.ignore`` rule).

    Attributes:
        group: the object's API group (``apps``, ``admissionregistration.k8s.io``, ...).
        kind: its kind.
        name: its name, exactly (the rule's target is an anchored regular expression of it).
        paths: JSON Pointers (RFC 6901), one per field: helm-controller removes each with a JSON
            Patch, so there are no wildcards (``/webhooks/0/clientConfig/caBundle``, ...).
    """

    group: str
    kind: str
    name: str
    paths: tuple[str, ...]


def _no_refs(values: Mapping[str, Any], namespace: str, release: str) -> tuple[ObjectRef, ...]:
    return ()


def _no_drift_ignores(values: Mapping[str, Any], namespace: str, release: str) -> tuple[DriftIgnore, ...]:
    return ()


def webhook_ca_paths(count: int) -> tuple[str, ...]:
    """The ``caBundle`` of each of ``count`` webhooks of a webhook configuration."""
    return tuple(f"/webhooks/{i}/clientConfig/caBundle" for i in range(count))


@dataclass(frozen=True)
class ServedPort:
    """A Service port a chart renders, and the pods and pod port behind it.

    Attributes:
        service: the Service's name (in the release namespace).
        port: the Service port.
        target_port: the pod port it forwards to (a number, for NetworkPolicies).
        pods: labels selecting the pods behind it.
        tls: the pods serve only TLS on it (a proxy in front must originate TLS).
    """

    service: str
    port: int
    target_port: int
    pods: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    tls: bool = False


def _no_ports(values: Mapping[str, Any], namespace: str, release: str) -> tuple[ServedPort, ...]:
    return ()


ValuesPorts = Callable[[Mapping[str, Any], str, str], tuple[ServedPort, ...]]
"""``(release values, release namespace, release name) -> Service ports the chart renders``."""

KvWrite = Callable[[Mapping[str, Any], str, str, str, str, Sequence[str]], str]
"""``(release values, namespace, release, mount, path, properties) -> command`` writing a KV secret."""

ValuesSteps = Callable[[Mapping[str, Any], str, str], tuple[ManualStep, ...]]
"""``(release values, release namespace, release name) -> manual steps``."""


def _no_steps(values: Mapping[str, Any], namespace: str, release: str) -> tuple[ManualStep, ...]:
    return ()


ValuesRefs = Callable[[Mapping[str, Any], str, str], tuple[ObjectRef, ...]]
"""``(release values, release namespace, release name) -> objects``."""

DriftIgnores = Callable[[Mapping[str, Any], str, str], tuple[DriftIgnore, ...]]
"""``(release values, release namespace, release name) -> drift detection ignore rules``."""


@dataclass(frozen=True)
class ChartFacts:
    """Everything the library knows about one chart at its pin.

    Attributes:
        chart: the chart name (unique in :data:`~sre_constructs.versions.CHARTS`).
        values_knob: the service knob holding this chart's values (``values``,
            ``gateway_values``, ...).
        image_keys: Helm value paths that move every image of the chart to a registry mirror:
            dotted path -> template with ``{mirror}``.
        crds: the custom resource kinds the chart installs, as ``group/Kind``.
        webhooks: the admission webhooks a release of the chart serves.
        reads: the Secrets and ConfigMaps the chart's pods read by name that the chart itself does
            not render, derived from the release's values.
        creates_at_runtime: objects the chart's controllers create once running (their own TLS
            Secrets, ...), derived from the release's values.
        library_images: full image references the library itself writes into this chart's values
            (not reachable through a registry key), moved to a mirror one by one.
        kv_write: for a secrets backend (OpenBao): the exact command a person runs to write a KV
            secret that an ExternalSecret reads (a manual step of the bring-up plan).
        manual_inputs: inputs only a person can give, derived from the release's values (a key
            Secret you provide, a KMS key), each with the exact command and what it provides.
        aggregated_roles: ``(label key, label value, service account name)``: a ClusterRole with
            that label is aggregated into a ClusterRole the chart binds to that service account
            (in the release namespace), e.g. Kyverno's background controller.
        drift_ignores: the fields of the release's objects that a controller owns once running
            (:class:`DriftIgnore`), derived from the release's values; every HelmRelease runs
            with drift detection enabled, and these are its only exceptions.
        exporters: the scrape targets a release of the chart runs and the metrics each exports at
            the pin (:class:`~sre_constructs.kernel.metrics.Exporter`); alert rules and dashboards
            read only these.
        served_ports: the Service ports the chart renders (the ones a route may lead to), derived
            from the release's values; the plan checks routes against them without ``--charts``.
        workloads: the Deployments, StatefulSets and DaemonSets a release of the chart renders,
            derived from the release's values; ``None`` when not declared (the bring-up plan then
            cannot tell a misspelled health check from a real one without ``--charts``).
    """

    chart: str
    values_knob: str = "values"
    image_keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    crds: tuple[str, ...] = ()
    webhooks: tuple[Webhook, ...] = ()
    reads: ValuesRefs = _no_refs
    creates_at_runtime: ValuesRefs = _no_refs
    library_images: tuple[str, ...] = ()
    kv_write: KvWrite | None = None
    aggregated_roles: tuple[tuple[str, str, str], ...] = ()
    manual_inputs: ValuesSteps = _no_steps
    drift_ignores: DriftIgnores = _no_drift_ignores
    exporters: tuple[Exporter, ...] = ()
    served_ports: ValuesPorts = _no_ports
    workloads: ValuesRefs | None = None


_REGISTRY: dict[str, ChartFacts] = {}


def register_chart(facts: ChartFacts) -> ChartFacts:
    """Make a chart's facts known by its name; registering the same chart twice is an error."""
    known = _REGISTRY.get(facts.chart)
    if known is not None and known is not facts:
        raise ValueError(f"chart {facts.chart!r} already has facts (registered twice)")
    _REGISTRY[facts.chart] = facts
    return facts


def chart_facts(chart: str) -> ChartFacts | None:
    """The facts of a chart by name, or ``None`` for a chart the library does not know."""
    return _REGISTRY.get(chart)


def known_charts() -> dict[str, ChartFacts]:
    """Every registered chart, by name."""
    return dict(_REGISTRY)
