"""Runs inside the cluster's DNS namespace (where ``<name>.cluster-custom-<domain>`` resolves) and serves the
tests' requests, one JSON object per line on stdin, one JSON answer per line on stdout: wrapper connections
through custom endpoints, their instance, their custom endpoint members, the monitors of the process."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any


def main(engine: str) -> int:
    from aws_wrapper.core import AwsWrapperConnection, release_resources
    from aws_wrapper.core.monitors import MONITORS
    from aws_wrapper.custom_endpoint import MONITOR_KIND, CustomEndpointPlugin

    if engine == "pg":
        import psycopg

        driver: Any = psycopg.Connection.connect
        sql = "SELECT pg_catalog.aurora_db_instance_identifier()"
    else:
        import mysql.connector

        from aws_wrapper.dialects import aurora_mysql_on_mariadb, register_dialect

        register_dialect(aurora_mysql_on_mariadb(code="aurora-mysql-local"), replace=True)
        driver = mysql.connector.connect
        sql = "SELECT @@aurora_server_id"
    conns: dict[str, Any] = {}

    def instance(conn: Any) -> str:
        cur = conn.cursor()
        try:
            cur.execute(sql)
            row = cur.fetchone()
        finally:
            cur.close()
        return str(row[0])

    def monitors() -> dict[str, Any]:
        threads = [t.name for t in threading.enumerate() if t.name.startswith("aws-wrapper-custom-endpoint")]
        return {"count": MONITORS.count(MONITOR_KIND), "threads": threads}

    def handle(cmd: dict[str, Any]) -> dict[str, Any]:
        op, name = cmd["op"], cmd.get("name", "")
        if op == "connect":
            started = time.monotonic()
            conn = AwsWrapperConnection.connect(driver, **cmd["settings"])
            elapsed = time.monotonic() - started
            conns[name] = conn
            return {"instance": instance(conn), "seconds": elapsed}
        if op == "instance":
            return {"instance": instance(conns[name])}
        if op == "members":
            info = conns[name].plugin(CustomEndpointPlugin).info
            if info is None:
                return {"static": None, "excluded": None}
            return {"static": sorted(info.static_members), "excluded": sorted(info.excluded_members)}
        if op == "close":
            conns.pop(name).close()
            return {}
        if op == "monitors":
            return monitors()
        if op == "release":
            for conn in conns.values():
                conn.close()
            conns.clear()
            release_resources()
            time.sleep(0.05)
            return monitors()
        raise ValueError(f"unknown op {op!r}")

    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "exit":
            break
        try:
            answer = handle(cmd)
        except Exception as exc:
            answer = {"error": type(exc).__name__, "message": str(exc)}
        print(json.dumps(answer), flush=True)
    for conn in conns.values():
        conn.close()
    release_resources()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
