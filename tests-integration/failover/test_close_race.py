"""close() racing a running call (issue: a process crash, failover after close): on local Aurora clusters, with
``failover,host_monitoring``. The race loop runs in a child process so that a crash fails the test instead of
killing pytest."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from aws_wrapper.core import InterfaceError
from aws_wrapper.testing import LocalCluster

from .conftest import Db

pytestmark = pytest.mark.integration

CHILD = Path(__file__).with_name("close_race_child.py")
RUNS = 3
ROUNDS = 300


def _spec(cluster: LocalCluster, engine: str, use_pure: bool) -> dict[str, Any]:
    keys = ("host", "port", "user", "dbname" if engine == "pg" else "database")
    info, writer = cluster.conninfo(), cluster.conninfo(cluster.writer)
    spec: dict[str, Any] = {
        "engine": engine,
        "rounds": ROUNDS,
        "plugins": "failover,host_monitoring",
        "use_pure": use_pure,
        "conninfo": {k: info[k] for k in keys},
        "writer": {k: writer[k] for k in keys},
    }
    if engine == "mysql":
        spec["conninfo"]["password"] = spec["writer"]["password"] = ""
    return spec


@pytest.mark.parametrize("variant", ["pg", "mysql-pure", "mysql-cext"])
def test_close_racing_queries_crashes_nothing_and_leaves_nothing_open(
    variant: str, request: pytest.FixtureRequest
) -> None:
    engine = variant.split("-")[0]
    cluster: LocalCluster = request.getfixturevalue(f"{engine}_cluster")
    spec = _spec(cluster, engine, variant != "mysql-cext")
    for run in range(RUNS):
        proc = subprocess.run(
            [sys.executable, str(CHILD), json.dumps(spec)], capture_output=True, text=True, timeout=240
        )
        assert proc.returncode == 0, f"run {run}: exit {proc.returncode}\n{proc.stderr[-4000:]}"
        figures = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"\n{variant} run {run}: {json.dumps(figures)}")
        assert figures["foreign_errors"] == []
        assert figures["installed_after_close"] == 0, "a failover installed a connection after close()"
        assert figures["server_connections_after"] <= figures["server_connections_before"]
        assert figures["fds_after"] <= figures["fds_before"]
        assert sum(figures["outcomes"].values()) == ROUNDS
        # every call that did not complete was told the connection was closed, nothing else
        for outcome in figures["outcomes"]:
            assert outcome == "completed" or outcome.startswith("InterfaceError: the connection"), outcome


def test_close_during_a_running_failover_returns_at_once_and_wins(db: Db) -> None:
    conn = db.connect(failover_timeout_sec=20, plugins="failover,host_monitoring")
    cur = conn.cursor()
    cur.execute("SELECT 1")
    cur.fetchall()
    failover = conn.plugin(__import__("aws_wrapper.failover", fromlist=["FailoverPlugin"]).FailoverPlugin)
    assert failover is not None
    outcome: list[BaseException] = []
    done = threading.Event()

    def query() -> None:
        try:
            cur.execute("SELECT 1")
        except BaseException as exc:
            outcome.append(exc)
        done.set()

    db.cluster.crash()  # no promotion: the failover waits for a writer for up to 20 s
    try:
        thread = threading.Thread(target=query)
        thread.start()
        time.sleep(1.0)
        assert not done.is_set(), f"the failover should still be waiting for a writer: {outcome}"
        started = time.monotonic()
        conn.close()
        close_took = time.monotonic() - started
        assert done.wait(5.0), "the call blocked in the failover did not give up"
        gave_up = time.monotonic() - started
        thread.join(1)
    finally:
        db.cluster.promote()
    print(f"\n{db.engine}: close() returned in {close_took * 1000:.1f} ms; the blocked call failed "
          f"{gave_up * 1000:.1f} ms after close() with {outcome[0]!r}")
    assert close_took < 1.0
    assert gave_up < 1.0
    assert isinstance(outcome[0], InterfaceError)
    assert "closed" in str(outcome[0])
    assert failover.failover_count == 0
    assert conn.is_closed
    raw = conn.target_connection
    assert raw is None or db.cluster is None or conn._rt.driver.is_closed(raw)
