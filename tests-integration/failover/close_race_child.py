"""Child process of test_close_race: one thread runs queries while the main thread closes the connection after
0-9 ms, for N rounds (a crash must only take this process down, not pytest). Prints one JSON line of figures."""

from __future__ import annotations

import faulthandler
import gc
import json
import os
import sys
import threading
import time
from typing import Any

faulthandler.enable()


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _server_connections(engine: str, admin: Any, user: str) -> int:
    cur = admin.cursor()
    if engine == "pg":
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
    else:
        cur.execute(
            "SELECT count(*) FROM information_schema.processlist WHERE id <> connection_id() AND user = %s", (user,)
        )
    (count,) = cur.fetchone()
    cur.close()
    return int(count)


def main() -> None:
    spec = json.loads(sys.argv[1])
    engine, rounds, plugins = spec["engine"], spec["rounds"], spec["plugins"]
    from aws_wrapper.core import AwsWrapperConnection, Error, release_resources

    kwargs: dict[str, Any] = dict(spec["conninfo"])
    kwargs.update(autocommit=True, plugins=plugins, cluster_instance_host_pattern="?", connect_timeout=3)
    writer: dict[str, Any] = dict(spec["writer"])
    if engine == "pg":
        import psycopg

        driver: Any = psycopg.Connection.connect
        admin: Any = psycopg.connect(**writer, autocommit=True)
    else:
        import mysql.connector

        from aws_wrapper.dialects import aurora_mysql_on_mariadb, register_dialect

        register_dialect(aurora_mysql_on_mariadb(code="aurora-mysql-local"), replace=True)
        kwargs.update(wrapper_dialect="aurora-mysql-local", use_pure=spec["use_pure"])
        driver = mysql.connector.connect
        admin = mysql.connector.connect(**writer, autocommit=True)

    # one warm-up round, so that fds of lazily loaded modules and the first monitors are not counted as growth
    conn = AwsWrapperConnection.connect(driver, **kwargs)
    conn.close()
    release_resources()
    gc.collect()
    fds_before = _fds()
    server_before = _server_connections(engine, admin, writer["user"])

    outcomes: dict[str, int] = {}
    foreign: list[str] = []  # errors that are not DB-API errors
    installed_after_close = 0
    started = time.monotonic()
    for i in range(rounds):
        conn = AwsWrapperConnection.connect(driver, **kwargs)

        def work(conn: Any = conn) -> None:
            for _ in range(50):
                try:
                    cur = conn.cursor()
                    cur.execute("SELECT 1")
                    cur.fetchall()
                except Error as exc:
                    key = f"{type(exc).__name__}: {str(exc)[:60]}"
                    outcomes[key] = outcomes.get(key, 0) + 1
                    return
                except Exception as exc:  # what the test is looking for
                    foreign.append(repr(exc)[:200])
                    return
            outcomes["completed"] = outcomes.get("completed", 0) + 1

        thread = threading.Thread(target=work)
        thread.start()
        time.sleep((i % 10) * 0.001)
        conn.close()
        thread.join(30)
        if thread.is_alive():
            foreign.append(f"round {i}: query thread still blocked 30 s after close()")
            break
        raw = conn.target_connection
        if raw is not None and not conn._rt.driver.is_closed(raw):
            installed_after_close += 1
    elapsed = time.monotonic() - started
    release_resources()
    gc.collect()
    deadline = time.monotonic() + 5
    while True:
        server_after = _server_connections(engine, admin, writer["user"])
        if server_after <= server_before or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    fds_after = _fds()
    admin.close()
    print(
        json.dumps(
            {
                "rounds": rounds,
                "seconds": round(elapsed, 2),
                "outcomes": outcomes,
                "foreign_errors": foreign,
                "installed_after_close": installed_after_close,
                "server_connections_before": server_before,
                "server_connections_after": server_after,
                "fds_before": fds_before,
                "fds_after": fds_after,
            }
        )
    )


if __name__ == "__main__":
    main()
