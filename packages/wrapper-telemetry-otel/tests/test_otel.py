"""The ``otlp`` backend against the OpenTelemetry SDK's in-memory span exporter and metric reader."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aws_wrapper.core import release_resources
from aws_wrapper.core.telemetry import TelemetryConfig, telemetry_for
from aws_wrapper.telemetry.otel import INSTRUMENTATION_NAME, OtelTelemetryFactory, TraceIdFilter


@dataclass
class Sdk:
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def factory(self, submit_toplevel: bool = False) -> OtelTelemetryFactory:
        config = TelemetryConfig(True, "otlp", "otlp", submit_toplevel)
        return OtelTelemetryFactory(
            config, tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def metric_values(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                assert scope.scope.name == INSTRUMENTATION_NAME
                for metric in scope.metrics:
                    found[metric.name] = [
                        (dict(p.attributes or {}), p.value)  # type: ignore[union-attr]
                        for p in metric.data.data_points
                    ]
        return found


@pytest.fixture
def sdk() -> Iterator[Sdk]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Sdk(exporter, reader, tracer_provider, meter_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def test_spans_nest_and_record_attributes_and_errors(sdk: Sdk) -> None:
    factory = sdk.factory()
    assert factory.enabled

    def fail() -> None:
        with factory.open_span("failover to writer host") as inner:
            inner.set_attribute("host", ("a", "b"))
            inner.set_attribute("odd", object())
            raise ValueError("boom")

    with factory.open_span("Cursor.execute", top_level=True) as outer:
        outer.set_attribute("python_call", "Cursor.execute")
        with pytest.raises(ValueError, match="boom"):
            fail()
    inner_span, outer_span = sdk.finished()
    assert outer_span.name == "Cursor.execute"
    assert outer_span.parent is None
    assert outer_span.attributes == {"python_call": "Cursor.execute"}
    assert outer_span.status.is_ok
    assert inner_span.parent is not None
    assert inner_span.parent.span_id == outer_span.context.span_id
    assert inner_span.context.trace_id == outer_span.context.trace_id
    assert inner_span.attributes is not None
    assert inner_span.attributes["host"] == ("a", "b")
    assert str(inner_span.attributes["odd"]).startswith("<object")
    assert inner_span.status.status_code is trace.StatusCode.ERROR
    assert [e.name for e in inner_span.events] == ["exception"]
    assert trace.get_current_span() is trace.INVALID_SPAN  # the context is restored


def test_top_level_spans_start_their_own_trace_only_with_submit_toplevel(sdk: Sdk) -> None:
    app_tracer = sdk.tracer_provider.get_tracer("app")
    for submit in (False, True):
        sdk.spans.clear()
        factory = sdk.factory(submit_toplevel=submit)
        with app_tracer.start_as_current_span("request"), factory.open_span("Cursor.execute", top_level=True):
            pass
        call, request = sdk.finished()
        if submit:
            assert call.parent is None
            assert call.context.trace_id != request.context.trace_id
            assert [link.context.span_id for link in call.links] == [request.context.span_id]
            assert call.attributes == {"trace_name": "Cursor.execute"}
        else:
            assert call.parent is not None
            assert call.parent.span_id == request.context.span_id


def test_counters_and_gauges(sdk: Sdk) -> None:
    factory = sdk.factory()
    triggered = factory.counter("writer_failover.triggered.count")
    assert factory.counter("writer_failover.triggered.count") is triggered  # one instrument per name
    triggered.inc()
    triggered.inc(2)
    factory.counter("host_monitoring.connections.aborted").inc(attributes={"host": "h:5432"})
    sizes = [3.0, 4.0]
    factory.gauge("iam.token_cache.size", lambda: sizes[0])
    factory.gauge("iam.token_cache.size", lambda: sizes[1])
    factory.gauge("iam.token_cache.size", lambda: 1 / 0)  # skipped
    values = sdk.metric_values()
    assert values["writer_failover.triggered.count"] == [({}, 3)]
    assert values["host_monitoring.connections.aborted"] == [({"host": "h:5432"}, 1)]
    assert values["iam.token_cache.size"] == [({}, 7.0)]


def test_core_finds_the_backend_by_entry_point() -> None:
    release_resources()
    try:
        factory = telemetry_for(
            {
                "enable_telemetry": True,
                "telemetry_traces_backend": "OTLP",
                "telemetry_metrics_backend": "otlp",
            }
        )
        assert isinstance(factory, OtelTelemetryFactory)
        otel = telemetry_for({"enable_telemetry": True, "telemetry_traces_backend": "otel"})
        assert otel.enabled
    finally:
        release_resources()


def test_the_log_filter_adds_the_active_trace_id(sdk: Sdk, caplog: pytest.LogCaptureFixture) -> None:
    factory = sdk.factory()
    handler = caplog.handler
    handler.addFilter(TraceIdFilter())
    try:
        log = logging.getLogger("aws_wrapper.failover.failover_plugin")
        other = logging.getLogger("app")
        with caplog.at_level(logging.INFO), factory.open_span("failover to writer host") as span:
            log.info("inside")
            other.info("not ours")
        log.warning("outside")
    finally:
        handler.removeFilter(handler.filters[-1])
    (finished,) = sdk.finished()
    assert span is not None
    inside, not_ours, outside = caplog.records
    assert inside.__dict__["trace_id"] == format(finished.context.trace_id, "032x")
    assert inside.__dict__["span_id"] == format(finished.context.span_id, "016x")
    assert not_ours.__dict__["trace_id"] == ""
    assert outside.__dict__["trace_id"] == ""
