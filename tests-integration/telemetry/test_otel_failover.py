"""OpenTelemetry on the local Aurora PostgreSQL cluster: a span per DB-API call, the failover span nested in the
call that failed, and upstream's failover and EFM counters, read through the SDK's in-memory exporter and reader."""

from __future__ import annotations

import threading
import time

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan

from aws_wrapper.core import FailoverSuccessError
from aws_wrapper.efm import active_monitors
from aws_wrapper.testing import LocalCluster

from .conftest import OTEL, Otel, pg_connect, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.pg_cluster(synchronous=True)]


def _tree(spans: list[ReadableSpan], root: ReadableSpan) -> list[tuple[int, str]]:
    """``(depth, name)`` of ``root`` and its descendants, depth first in start order."""
    children: dict[int, list[ReadableSpan]] = {}
    for span in spans:
        if span.parent is not None:
            children.setdefault(span.parent.span_id, []).append(span)
    found: list[tuple[int, str]] = []

    def walk(span: ReadableSpan, depth: int) -> None:
        found.append((depth, span.name))
        for child in sorted(children.get(span.context.span_id, []), key=lambda s: s.start_time or 0):
            walk(child, depth + 1)

    walk(root, 0)
    return found


def test_a_writer_crash_gives_the_failover_span_inside_the_call_and_counts_it(
    pg_cluster: LocalCluster, otel: Otel
) -> None:
    before = otel.counters()
    conn = pg_connect(pg_cluster, plugins="failover", **OTEL)
    try:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
        old = pg_cluster.writer.instance_id
        pg_cluster.crash()
        new = pg_cluster.promote().instance_id
        otel.exporter.clear()
        with pytest.raises(FailoverSuccessError):
            cur.execute("SELECT 2")
        cur.execute("SELECT pg_catalog.aurora_db_instance_identifier()")
        assert cur.fetchone() == (new,) != (old,)
    finally:
        conn.close()

    spans = otel.spans()
    (failover,) = [s for s in spans if s.name == "failover to writer host"]
    (call,) = [
        s for s in spans if failover.parent is not None and s.context.span_id == failover.parent.span_id
    ]
    assert call.parent is None  # the DB-API call is the top of its trace
    assert _tree(spans, call) == [(0, "Cursor.execute"), (1, "failover to writer host")]
    assert call.attributes is not None
    assert call.attributes["python_call"] == "Cursor.execute"
    assert call.status.status_code is trace.StatusCode.ERROR  # FailoverSuccessError left the call
    assert call.events[0].attributes is not None
    assert str(call.events[0].attributes["exception.type"]).endswith("FailoverSuccessError")
    attributes = dict(failover.attributes or {})
    assert attributes["failover.success"] is True
    assert attributes["failover.outcome"] == "FailoverSuccessError"
    assert attributes["failover.mode"] == "strict_writer"
    assert attributes["failover.new_host"]  # the promoted writer's url
    assert failover.status.status_code is not trace.StatusCode.ERROR
    assert failover.context.trace_id == call.context.trace_id
    # the call after the failover is a trace of its own
    after = [s for s in spans if s.name == "Cursor.execute" and s is not call]
    assert len(after) == 1
    assert after[0].parent is None
    assert after[0].context.trace_id != call.context.trace_id

    counters = otel.counters()

    def delta(name: str) -> float:
        return counters.get(name, 0) - before.get(name, 0)

    assert delta("writer_failover.triggered.count") == 1
    assert delta("writer_failover.completed.success.count") == 1
    assert delta("writer_failover.completed.failed.count") == 0
    assert delta("reader_failover.triggered.count") == 0


@pytest.mark.slow
def test_efm_counts_the_connection_it_aborts_and_failover_follows(
    pg_cluster: LocalCluster, otel: Otel
) -> None:
    before = otel.counters()
    conn = pg_connect(
        pg_cluster,
        plugins="failover,efm",
        failure_detection_time_ms=1000,
        failure_detection_interval_ms=500,
        failure_detection_count=2,
        failover_timeout_sec=60,
        **OTEL,
    )
    errors: list[BaseException] = []
    try:
        old_writer = pg_cluster.writer
        cur = conn.cursor()

        def outage() -> None:
            try:
                time.sleep(0.5)
                pg_cluster.blackhole(old_writer)
                assert wait_for(lambda: any(not m.healthy for m in active_monitors()), 10.0)
                pg_cluster.failover()
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=outage, daemon=True)
        thread.start()
        otel.exporter.clear()
        with pytest.raises(FailoverSuccessError):
            cur.execute("SELECT pg_sleep(60)")
        thread.join(60)
        assert not errors, errors
    finally:
        conn.close()

    spans = otel.spans()
    (aborted,) = [s for s in spans if s.name == "host monitoring: connection aborted"]
    assert aborted.parent is None  # recorded on the monitor's thread, outside any call
    assert aborted.attributes is not None
    assert aborted.attributes["host"]  # the url of the silent writer
    (call,) = [
        s
        for s in spans
        if s.name == "Cursor.execute" and s.parent is None and s.status.status_code is trace.StatusCode.ERROR
    ]
    assert _tree(spans, call) == [(0, "Cursor.execute"), (1, "failover to writer host")]
    counters = otel.counters()
    assert (
        counters.get("host_monitoring.connections.aborted", 0)
        - before.get("host_monitoring.connections.aborted", 0)
        == 1
    )
    assert (
        counters.get("writer_failover.completed.success.count", 0)
        - before.get("writer_failover.completed.success.count", 0)
        == 1
    )
