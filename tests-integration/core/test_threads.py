"""No thread at import; nothing left running after ``release_resources()``. Both checked in fresh interpreters
(Python threads and the process's OS threads)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from ._support import MYSQL_DSN

pytestmark = pytest.mark.integration


def _run(code: str, timeout: float = 60) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_starts_no_thread() -> None:
    out = _run(
        """
        import os, threading
        python_before, os_before = threading.active_count(), len(os.listdir("/proc/self/task"))
        import aws_wrapper.core, aws_wrapper.core.plugins, aws_advanced_python_wrapper
        print(threading.active_count() - python_before, len(os.listdir("/proc/self/task")) - os_before)
        """
    )
    assert out == "0 0"


def test_release_resources_leaves_no_thread(pg_dsn: str, mysql_server: dict[str, object]) -> None:
    out = _run(
        f"""
        import os, threading
        import mysql.connector, psycopg
        from aws_wrapper.core import AwsWrapperConnection, release_resources
        from aws_wrapper.core.conninfo import parse_conninfo

        conns = [
            AwsWrapperConnection.connect(
                psycopg.Connection.connect, {pg_dsn!r}, plugins="connect_time,execute_time,dev", socket_timeout=5
            ),
            AwsWrapperConnection.connect(
                mysql.connector.connect, "", plugins="execute_time", socket_timeout=5, **parse_conninfo({MYSQL_DSN!r})
            ),
        ]
        for conn in conns:
            cur = conn.cursor()
            cur.execute("SELECT 1")
            cur.fetchall()
        busy = threading.active_count()
        for conn in conns:
            conn.close()
        release_resources()
        names = sorted(t.name for t in threading.enumerate() if t is not threading.main_thread())
        # a joined Python thread may still be leaving the kernel for a moment: give it up to a second
        import time
        deadline = time.monotonic() + 1.0
        while len(os.listdir("/proc/self/task")) > 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        print(busy, len(names), len(os.listdir("/proc/self/task")), names)
        """
    )
    busy, python_threads, os_threads, names = out.split(" ", 3)
    assert int(busy) >= 2, (
        "socket_timeout should have started the watchdog thread (else this test proves nothing)"
    )
    assert (python_threads, os_threads, names) == ("0", "1", "[]")


def test_exit_without_release_is_prompt(pg_dsn: str) -> None:
    out = _run(
        f"""
        import time, psycopg
        from aws_wrapper.core import AwsWrapperConnection
        conn = AwsWrapperConnection.connect(psycopg.Connection.connect, {pg_dsn!r}, plugins="", socket_timeout=30)
        conn.cursor().execute("SELECT 1")
        print("done")
        """,
        timeout=10,
    )
    assert out == "done"
