"""The telemetry hook on the real PostgreSQL: with ``enable_telemetry`` and a backend found through the entry-point
group ``aws_wrapper.telemetry`` (``test_recording`` of tests-integration/fixtures/abi11-monitors), a plugin's
spans and counters are recorded; without it the backend is never imported, nothing is recorded and the plugin is
not even in the per-call pipeline. Each case runs in a fresh interpreter, so that ``sys.modules`` tells what was
imported."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

pytestmark = pytest.mark.integration

_CHILD = r"""
import json, sys
import psycopg
from aws_wrapper.core import AwsWrapperConnection, DbApiMethod
from aws_wrapper_test_abi11_monitors import TelemetryPlugin

dsn, settings = sys.argv[1], json.loads(sys.argv[2])
conn = AwsWrapperConnection.connect(psycopg.Connection.connect, dsn, plugins="test_telemetry", **settings)
plugin = conn.plugin(TelemetryPlugin)
cur = conn.cursor()
for value in range(3):
    cur.execute("SELECT %s::int", (value,))
    assert cur.fetchone() == (value,)
result = {
    "enabled": plugin.enabled,
    "in_execute_pipeline": conn._rt.chains[DbApiMethod.CURSOR_EXECUTE] is not None,
    "backend_imported": "aws_wrapper_test_abi11_monitors.recording" in sys.modules,
    "telemetry": type(plugin.telemetry).__name__,
}
conn.close()
if result["backend_imported"]:
    from aws_wrapper_test_abi11_monitors.recording import RECORDED

    result["configs"] = [repr(c) for c in RECORDED.configs]
    result["spans"] = [
        {"name": s.name, "top_level": s.top_level, "attributes": {k: repr(v) for k, v in s.attributes.items()},
         "error": s.error, "ended": s.ended}
        for s in RECORDED.spans
    ]
    result["counters"] = RECORDED.counters
print(json.dumps(result))
"""


def _run(pg_dsn: str, **settings: Any) -> dict[str, Any]:
    try:
        import aws_wrapper_test_abi11_monitors  # noqa: F401
    except ImportError:
        pytest.fail(
            "aws-wrapper-test-abi11-monitors is not installed: pip install -e tests-integration/fixtures/abi11-monitors"
        )
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, pg_dsn, json.dumps(settings)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_spans_and_counters_are_recorded_when_enabled(pg_dsn: str) -> None:
    result = _run(
        pg_dsn,
        enable_telemetry=True,
        telemetry_traces_backend="test_recording",
        telemetry_metrics_backend="TEST_RECORDING",
        telemetry_submit_toplevel=True,
    )
    assert result["enabled"] is True
    assert result["backend_imported"] is True
    # one backend for both signals: its factory itself, without a wrapper around it
    assert result["telemetry"] == "RecordingTelemetryFactory"
    assert result["configs"] == [
        "TelemetryConfig(enabled=True, traces_backend='test_recording', metrics_backend='test_recording', "
        "submit_toplevel=True)"
    ]
    # core's own span per DB-API call (top level, named after the method) encloses the plugin's execute span
    calls = [s for s in result["spans"] if not s["name"].startswith("test_telemetry.")]
    assert [s["name"] for s in calls][:3] == ["Connection.cursor", "Cursor.execute", "Cursor.fetchone"]
    assert all(s["top_level"] and s["attributes"] == {"python_call": repr(s["name"])} for s in calls)
    spans = [s for s in result["spans"] if s["name"].startswith("test_telemetry.")]
    assert [s["name"] for s in spans] == ["test_telemetry.connect"] + ["test_telemetry.execute"] * 3
    assert spans[0]["top_level"] is True
    assert spans[0]["attributes"]["initial"] == "True"
    assert spans[1]["attributes"] == {"method": "'Cursor.execute'"}
    assert all(s["ended"] and s["error"] is None for s in spans)
    assert result["counters"] == {"test_telemetry.connects": 1, "test_telemetry.executes": 3}


def test_nothing_is_imported_nor_recorded_when_disabled(pg_dsn: str) -> None:
    for settings in ({}, {"enable_telemetry": False, "telemetry_traces_backend": "test_recording"}):
        result = _run(pg_dsn, **settings)
        assert result == {
            "enabled": False,
            "in_execute_pipeline": False,  # the plugin subscribes to nothing: no per-call cost at all
            "backend_imported": False,
            "telemetry": "_NullTelemetry",
        }


def test_a_missing_backend_fails_the_connect_with_the_setting_named(pg_dsn: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _CHILD,
            pg_dsn,
            json.dumps({"enable_telemetry": True, "telemetry_traces_backend": "test_missing"}),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert (
        "ConfigurationError: invalid value 'test_missing' for setting 'telemetry_traces_backend'"
        in done.stderr
    )
    assert "no telemetry backend 'test_missing' is installed" in done.stderr
    assert "test_recording" in done.stderr  # the installed backends are listed
