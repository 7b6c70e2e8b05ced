"""The PromQL metric-name reader and the exporter registry (kernel/metrics.py)."""

from __future__ import annotations

import pytest

from sre_constructs.kernel import metrics
from sre_constructs.kernel.metrics import Exporter, exporter_of, metric_names, register_exporter


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('certmanager_certificate_ready_status{condition="False"} == 1', {"certmanager_certificate_ready_status"}),
        ("sum by (job) (rate(a_total[5m])) / on(job) group_left(x) count(b)", {"a_total", "b"}),
        ("sum(rate(x_bucket[5m])) without (instance) > 0.5", {"x_bucket"}),
        (
            "time() - max(velero_backup_last_successful_timestamp) > 2 * 86400",
            {"velero_backup_last_successful_timestamp"},
        ),
        ("histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m]))) > 1e3", {"h_bucket"}),
        ('absent(vault_core_unsealed{job="openbao"}) or vector(0) offset 5m', {"vault_core_unsealed"}),
        ('label_replace(a, "dst", "$1", "src", "(.*)") unless b', {"a", "b"}),
        ("max_over_time(a[1h:5m]) and bool c", {"a", "c"}),
        ('count_values("version", kyverno_info)', {"kyverno_info"}),
    ],
)
def test_metric_names_reads_selectors_only(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_histogram_series_resolve_to_their_family(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_EXTRA", {})  # the registry stays as the package made it
    exporter = register_exporter(Exporter("test exporter", {"test_latency_seconds": "x.go@v1:1"}))
    assert exporter_of("test_latency_seconds_bucket") is exporter
    assert exporter_of("test_latency_seconds_count") is exporter
    assert exporter_of("test_latency_seconds") is exporter
    assert exporter_of("test_latency") is None
    with pytest.raises(ValueError, match="already registered"):
        register_exporter(Exporter("test exporter"))
