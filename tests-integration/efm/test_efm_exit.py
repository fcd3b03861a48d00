"""A script that forgets release_resources() (and even close()) still exits within a second, also while its
monitor is in the middle of a probe of a silent host."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from .conftest import Engine

pytestmark = pytest.mark.integration

SCRIPT = r"""
import json, sys, threading, time
from aws_wrapper.core import AwsWrapperConnection
from aws_wrapper.efm import active_monitors

kind, kwargs, silent = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] == "silent"
plugins = sys.argv[4]
if kind == "pg":
    import psycopg
    connect = psycopg.Connection.connect
else:
    import mysql.connector
    connect = mysql.connector.connect
proxy = None
if silent:
    from aws_wrapper.testing import FaultProxy
    proxy = FaultProxy("127.0.0.1", 0, kwargs["host"], kwargs["port"]).start()
    kwargs.update(host="127.0.0.1", port=proxy.listen_port)
    kwargs.update(failure_detection_time_ms=0, failure_detection_interval_ms=10000)
conn = AwsWrapperConnection.connect(connect, plugins=plugins, **kwargs)
cur = conn.cursor()
cur.execute("SELECT 1")
cur.fetchall()

def wait(predicate):
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline, active_monitors()
        time.sleep(0.01)

if plugins:
    wait(lambda: active_monitors() and active_monitors()[0].monitoring_connection_open)
if silent:
    proxy.blackhole()
    sql = "SELECT pg_sleep(60)" if kind == "pg" else "SELECT SLEEP(60)"
    threading.Thread(target=lambda: conn.cursor().execute(sql), daemon=True).start()
    if plugins:
        wait(lambda: active_monitors()[0].probes >= 1)  # a probe with a 10 s timeout is now in progress
print("ready", flush=True)
"""


def _exit_time(engine: Engine, silent: bool, plugins: str) -> float:
    """Seconds from the script's last statement to the end of its process."""
    kwargs = engine.kwargs()
    argv = [
        sys.executable,
        "-c",
        SCRIPT,
        "pg" if engine.is_pg else "mysql",
        json.dumps(kwargs),
        "silent" if silent else "idle",
        plugins,
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        ready = time.monotonic()
        assert line.strip() == "ready", proc.communicate(timeout=10)
        proc.wait(10)
        took = time.monotonic() - ready
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    stderr = proc.stderr.read() if proc.stderr is not None else ""
    assert proc.returncode == 0, stderr
    return took


@pytest.mark.parametrize("silent", [False, True], ids=["idle", "probing-a-silent-host"])
def test_script_without_release_resources_exits_within_one_second(engine: Engine, silent: bool) -> None:
    took = _exit_time(engine, silent, "efm")
    what = "silent host" if silent else "idle"
    print(f"{engine.name} ({what}): exited {took:.3f} s after its last statement")
    if took >= 1.0:
        # On a starved machine the interpreter's own shutdown can pass a second: compare with a script that
        # never used EFM, which must not be much faster.
        baseline = _exit_time(engine, silent, "")
        print(f"{engine.name} ({what}): {took:.3f} s; without efm {baseline:.3f} s")
        assert took - baseline < 0.5
