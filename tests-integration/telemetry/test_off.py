"""With telemetry off nothing of it is imported and the compiled chains are the same as without the telemetry
distributions; with it on, core's call-span step is first. Each case runs in a fresh interpreter, so that
``sys.modules`` tells what was imported."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from aws_wrapper.testing import LocalCluster

from .conftest import pg_settings

pytestmark = pytest.mark.integration

_CHILD = r"""
import json, sys
import psycopg
from aws_wrapper.core import AwsWrapperConnection

WATCHED = ("opentelemetry", "aws_xray_sdk", "aws_wrapper.telemetry", "aws_wrapper.core._telemetry_calls")
kwargs = json.loads(sys.argv[1])
conn = AwsWrapperConnection.connect(psycopg.Connection.connect, **kwargs)
cur = conn.cursor()
cur.execute("SELECT 1")
assert cur.fetchone() == (1,)
result = {
    "imported": sorted(m for m in sys.modules if m.startswith(WATCHED)),
    "plugins": [type(p).__name__ for p in conn._rt.plugins],
    "chains": {m.api_name: None if c is None else getattr(c, "__qualname__", type(c).__name__)
               for m, c in conn._rt.chains.items()},
}
conn.close()
print(json.dumps(result))
"""


def _run(kwargs: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(kwargs)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_off_imports_nothing_and_compiles_todays_chains(pg_cluster: LocalCluster) -> None:
    plain = _run(pg_settings(pg_cluster, plugins="failover,efm"))
    off = _run(
        pg_settings(
            pg_cluster,
            plugins="failover,efm",
            enable_telemetry=False,
            telemetry_traces_backend="otlp",
            telemetry_metrics_backend="otlp",
        )
    )
    assert plain["imported"] == off["imported"] == []
    assert plain["plugins"] == off["plugins"] == ["FailoverPlugin", "HostMonitoringPlugin"]
    assert plain["chains"] == off["chains"]
    on = _run(
        pg_settings(
            pg_cluster,
            plugins="failover,efm",
            enable_telemetry=True,
            telemetry_traces_backend="otlp",
            telemetry_metrics_backend="otlp",
        )
    )
    assert "aws_wrapper.telemetry.otel" in on["imported"]
    assert "opentelemetry.trace" in on["imported"]
    assert "aws_wrapper.core._telemetry_calls" in on["imported"]
    assert on["plugins"] == ["CallSpanPlugin", "FailoverPlugin", "HostMonitoringPlugin"]
    assert all(chain is not None for chain in on["chains"].values())


def test_core_declares_no_telemetry_dependency() -> None:
    from importlib.metadata import requires

    needs = requires("aws-wrapper-core") or []
    base = [r for r in needs if "extra ==" not in r]
    assert not [r for r in base if "opentelemetry" in r or "xray" in r or "telemetry" in r], base
