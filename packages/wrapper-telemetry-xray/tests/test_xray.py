"""The ``xray`` backend, sending to a local UDP listener that stands in for the X-Ray daemon."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aws_xray_sdk.core.recorder import AWSXRayRecorder

from aws_wrapper.core import release_resources
from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.telemetry import TelemetryConfig, telemetry_for
from aws_wrapper.telemetry.xray import TraceIdFilter, XRayTelemetryFactory


class Daemon:
    """A UDP socket on 127.0.0.1 receiving what the SDK's emitter sends (a header line, then one JSON document)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(2.0)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"

    def receive(self) -> dict[str, Any]:
        data = self.sock.recv(65536).decode()
        header, body = data.split("\n", 1)
        assert json.loads(header) == {"format": "json", "version": 1}
        document: dict[str, Any] = json.loads(body)
        return document


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    d = Daemon()
    yield d
    d.sock.close()


@pytest.fixture
def recorder(daemon: Daemon) -> AWSXRayRecorder:
    rec = AWSXRayRecorder()
    rec.configure(daemon_address=daemon.address, sampling=False, context_missing="LOG_ERROR", service="tests")
    return rec


def test_spans_become_segments_and_subsegments(daemon: Daemon, recorder: AWSXRayRecorder) -> None:
    factory = XRayTelemetryFactory(TelemetryConfig(True, "xray", None, False), recorder=recorder)
    assert factory.enabled

    def fail() -> None:
        with factory.open_span("failover to writer host") as inner:
            inner.set_attribute("failover.success", False)
            inner.set_attribute("hosts", ["a"])
            raise ValueError("boom")

    with factory.open_span("Cursor.execute", top_level=True) as call:
        call.set_attribute("python_call", "Cursor.execute")
        with pytest.raises(ValueError, match="boom"):
            fail()
    segment = daemon.receive()
    assert segment["name"] == "Cursor.execute"
    assert segment["annotations"] == {"python_call": "Cursor.execute"}
    (sub,) = segment["subsegments"]
    assert sub["name"] == "failover to writer host"
    assert sub["annotations"] == {"failover_success": False}
    assert sub["metadata"] == {"aws_wrapper": {"hosts": "['a']"}}
    assert sub["fault"] is True
    assert sub["cause"]["exceptions"][0]["type"] == "ValueError"
    factory.counter("x").inc()  # no metrics: a no-op


def test_a_top_level_span_inside_an_application_segment(daemon: Daemon, recorder: AWSXRayRecorder) -> None:
    app = recorder.begin_segment("request")
    try:
        nested = XRayTelemetryFactory(TelemetryConfig(True, "xray", None, False), recorder=recorder)
        with nested.open_span("Cursor.execute", top_level=True):
            pass
        own = XRayTelemetryFactory(TelemetryConfig(True, "xray", None, True), recorder=recorder)
        with own.open_span("Connection.commit", top_level=True):
            pass
        assert recorder.current_segment() is app  # put back after the segment of its own
    finally:
        recorder.end_segment()
    commit = daemon.receive()
    assert commit["name"] == "Connection.commit"
    request = daemon.receive()
    assert request["name"] == "request"
    assert [s["name"] for s in request["subsegments"]] == ["Cursor.execute"]
    assert commit["trace_id"] != request["trace_id"]


def test_xray_metrics_are_refused_and_core_finds_the_backend() -> None:
    release_resources()
    try:
        with pytest.raises(ConfigurationError, match="X-Ray records no metrics"):
            telemetry_for({"enable_telemetry": True, "telemetry_metrics_backend": "XRAY"})
        factory = telemetry_for(
            {
                "enable_telemetry": True,
                "telemetry_traces_backend": "xray",
                "telemetry_metrics_backend": "none",
            }
        )
        assert factory.enabled
        assert isinstance(factory._traces, XRayTelemetryFactory)  # type: ignore[attr-defined]
    finally:
        release_resources()


def test_the_log_filter_adds_the_trace_id(
    recorder: AWSXRayRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    factory = XRayTelemetryFactory(TelemetryConfig(True, "xray", None, False), recorder=recorder)
    caplog.handler.addFilter(TraceIdFilter(recorder=recorder))
    log = logging.getLogger("aws_wrapper.efm")
    with caplog.at_level(logging.INFO):
        with factory.open_span("Cursor.execute"):
            trace_id = recorder.current_segment().trace_id
            log.info("inside")
        log.info("outside")
    inside, outside = caplog.records
    assert inside.__dict__["trace_id"] == trace_id
    assert inside.__dict__["trace_id"].startswith("1-")
    assert outside.__dict__["trace_id"] == ""
