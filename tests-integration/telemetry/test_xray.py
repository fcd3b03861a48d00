"""X-Ray on the local Aurora PostgreSQL cluster: the segments of the wrapper's DB-API calls reach a UDP listener on
127.0.0.1 that stands in for the X-Ray daemon (the SDK's global recorder, configured with its address)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aws_xray_sdk.core import xray_recorder

from aws_wrapper.testing import LocalCluster

from .conftest import pg_connect

pytestmark = pytest.mark.integration


@pytest.fixture
def daemon() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(3.0)
    xray_recorder.configure(
        daemon_address=f"127.0.0.1:{sock.getsockname()[1]}",
        sampling=False,  # record every segment (the default sampler keeps one a second)
        context_missing="LOG_ERROR",
        service="aws-wrapper-tests",
    )
    yield sock
    sock.close()


def _receive(sock: socket.socket) -> dict[str, Any]:
    header, body = sock.recv(65536).decode().split("\n", 1)
    assert json.loads(header) == {"format": "json", "version": 1}
    segment: dict[str, Any] = json.loads(body)
    return segment


def test_each_call_is_a_segment_sent_to_the_daemon(pg_cluster: LocalCluster, daemon: socket.socket) -> None:
    conn = pg_connect(pg_cluster, plugins="failover", enable_telemetry=True, telemetry_traces_backend="XRAY")
    try:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    finally:
        conn.close()
    received = [_receive(daemon) for _ in range(4)]  # cursor(), execute, fetchone, close()
    names = [s["name"] for s in received]
    assert names[:3] == ["Connection.cursor", "Cursor.execute", "Cursor.fetchone"]
    execute = received[1]
    assert execute["annotations"] == {"python_call": "Cursor.execute"}
    assert execute["trace_id"].startswith("1-")
    assert len({s["trace_id"] for s in received}) == 4  # each call is a trace of its own
    assert all("fault" not in s for s in received)
