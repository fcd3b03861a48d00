"""One monitor and one monitoring connection per host, however many application connections share it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aws_wrapper.core import AwsWrapperConnection
from aws_wrapper.efm import MONITOR_APPLICATION_NAME, active_monitors

from .conftest import Engine, efm_threads, select_one, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONNECTIONS = 200


def _pg_bin() -> Path | None:
    configured = os.environ.get("AWS_WRAPPER_PG_BIN")
    if configured:
        return Path(configured)
    root = Path("/usr/lib/postgresql")
    majors = (
        sorted((p for p in root.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
        if root.is_dir()
        else []
    )
    for major in reversed(majors):
        if (major / "bin" / "postgres").exists():
            return major / "bin"
    found = shutil.which("postgres")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def private_pg() -> Iterator[dict[str, Any]]:
    """A throw-away PostgreSQL server on 127.0.0.1 with room for more than 200 connections (the machine's
    server allows 100). Runs as the ``postgres`` OS user; removed after the test."""
    pytest.importorskip("psycopg")
    bin_dir = _pg_bin()
    if bin_dir is None or os.geteuid() != 0:
        pytest.skip("needs root (the server runs as the postgres OS user) and the PostgreSQL server binaries")
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    work = Path(tempfile.mkdtemp(prefix="efm-pg-", dir=base))
    data = work / "data"
    proc: subprocess.Popen[bytes] | None = None
    try:
        shutil.chown(work, "postgres")
        subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-N"],
            check=True,
            capture_output=True,
            user="postgres",
            cwd=work,
        )
        port = _free_port()
        settings = [
            f"port={port}",
            "listen_addresses=127.0.0.1",
            "unix_socket_directories=",
            "max_connections=260",
            "shared_buffers=16MB",
            "fsync=off",
        ]
        args = [item for setting in settings for item in ("-c", setting)]
        proc = subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(data), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user="postgres",
            cwd=work,
        )
        server: dict[str, Any] = {"host": "127.0.0.1", "port": port, "user": "postgres", "dbname": "postgres"}
        import psycopg

        def ready() -> bool:
            try:
                psycopg.connect(**server, connect_timeout=2).close()
                return True
            except psycopg.OperationalError:
                return False

        assert wait_for(ready, 30.0), "private PostgreSQL did not start"
        yield server
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)  # fast shutdown: disconnects every client
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def test_200_pg_connections_share_one_monitoring_connection(private_pg: dict[str, Any]) -> None:
    import psycopg

    conns: list[AwsWrapperConnection] = []
    try:
        for _ in range(CONNECTIONS):
            conn = AwsWrapperConnection.connect(
                psycopg.Connection.connect, **private_pg, autocommit=True, plugins="efm"
            )
            select_one(conn)
            conns.append(conn)
        with psycopg.connect(**private_pg, autocommit=True, application_name="efm-test-admin") as admin:

            def counts() -> tuple[int, int]:
                row = admin.execute(
                    "SELECT count(*) FILTER (WHERE application_name = %s),"
                    " count(*) FILTER (WHERE backend_type = 'client backend' AND application_name = '')"
                    " FROM pg_stat_activity",
                    (MONITOR_APPLICATION_NAME,),
                ).fetchone()
                assert row is not None
                return int(row[0]), int(row[1])

            assert wait_for(lambda: counts()[0] == 1, 5.0), counts()
            time.sleep(0.5)  # nothing else shows up later
            monitoring, application = counts()
        print(
            f"pg_stat_activity: {application} application connections, {monitoring} monitoring connection(s)"
        )
        assert monitoring == 1
        assert application == CONNECTIONS
        monitors = active_monitors()
        assert len(monitors) == 1
        assert monitors[0].connections == CONNECTIONS
        assert len([t for t in efm_threads() if "-monitor" in t.name]) == 1
    finally:
        for conn in conns:
            conn.close()
    assert wait_for(lambda: not active_monitors(), 3.0)


def test_mysql_connections_share_one_monitoring_connection(mysql_engine: Engine) -> None:
    """The machine's MariaDB allows 151 connections, shared with other tests: 50 here. The monitoring connection
    is told apart in SHOW PROCESSLIST by its database (``monitoring-database``)."""
    suffix = f"{os.getpid()}_{int(time.time() * 1000) % 100000}"
    app_db, monitor_db = f"efm_app_{suffix}", f"efm_mon_{suffix}"
    admin = mysql_engine.raw()
    conns: list[AwsWrapperConnection] = []
    try:
        cur = admin.cursor()
        cur.execute(f"CREATE DATABASE {app_db}")
        cur.execute(f"CREATE DATABASE {monitor_db}")
        for _ in range(50):
            settings: dict[str, Any] = {
                "plugins": "efm",
                "database": app_db,
                "monitoring-database": monitor_db,
            }
            conn = mysql_engine.wrapper(None, **settings)
            select_one(conn)
            conns.append(conn)

        def counts() -> tuple[int, int]:
            cur.execute("SHOW PROCESSLIST")
            rows = cur.fetchall()
            return sum(1 for r in rows if r[3] == monitor_db), sum(1 for r in rows if r[3] == app_db)

        assert wait_for(lambda: counts()[0] == 1, 5.0), counts()
        monitoring, application = counts()
        print(
            f"SHOW PROCESSLIST: {application} application connections, {monitoring} monitoring connection(s)"
        )
        assert (monitoring, application) == (1, 50)
        assert len(active_monitors()) == 1
    finally:
        for conn in conns:
            conn.close()
        cur = admin.cursor()
        cur.execute(f"DROP DATABASE IF EXISTS {app_db}")
        cur.execute(f"DROP DATABASE IF EXISTS {monitor_db}")
        admin.close()
