"""Fixtures of the telemetry end-to-end tests: the OpenTelemetry SDK with an in-memory span exporter and metric
reader (installed as the global providers, which is what the ``otlp`` backend uses) and a wrapper connection to the
local Aurora PostgreSQL cluster (aws-wrapper-testing)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aws_wrapper.core import AwsWrapperConnection, release_resources
from aws_wrapper.core.host_list import AVAILABILITY
from aws_wrapper.testing import LocalCluster

pytestmark = pytest.mark.integration

OTEL = {"enable_telemetry": True, "telemetry_traces_backend": "otlp", "telemetry_metrics_backend": "otlp"}


@dataclass
class Otel:
    """The SDK's in-memory exporter and reader."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def counters(self) -> dict[str, float]:
        """Each metric's value summed over its data points (cumulative for the whole process)."""
        found: dict[str, float] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    points: list[Any] = list(metric.data.data_points)
                    found[metric.name] = float(sum(p.value for p in points))
        return found


@pytest.fixture(scope="session")
def _otel_sdk() -> Otel:
    exporter = InMemorySpanExporter()
    reader = InMemoryMetricReader()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[reader])
    metrics.set_meter_provider(meter_provider)
    assert metrics.get_meter_provider() is meter_provider, "another test set the global meter provider first"
    return Otel(exporter, reader)


@pytest.fixture
def otel(_otel_sdk: Otel) -> Iterator[Otel]:
    _otel_sdk.exporter.clear()
    yield _otel_sdk
    _otel_sdk.exporter.clear()


def pg_settings(cluster: LocalCluster, **settings: Any) -> dict[str, Any]:
    info = cluster.conninfo()
    kwargs: dict[str, Any] = {
        "host": info["host"],
        "port": info["port"],
        "user": info["user"],
        "dbname": info["dbname"],
        "cluster_instance_host_pattern": "?",
        "connect_timeout": 3,
        "autocommit": True,
    }
    kwargs.update(settings)
    return kwargs


def pg_connect(cluster: LocalCluster, **settings: Any) -> AwsWrapperConnection:
    import psycopg

    return AwsWrapperConnection.connect(psycopg.Connection.connect, **pg_settings(cluster, **settings))


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture(autouse=True)
def _release_after_each_test() -> Iterator[None]:
    """Every test starts without monitors, caches, telemetry factories or hosts marked down by an earlier one."""
    yield
    release_resources()
    AVAILABILITY.clear()
