"""A wrapper connection in a child process (run inside the cluster's DNS namespace, where RDS-shaped names
resolve). Usage: ``python dialects_child.py '<json>'`` with ``{"engine": "pg"|"mysql", "kwargs": {...},
"register_local": bool}``. Prints one JSON line after connecting, then answers commands read from stdin, one per
line: ``verify`` (wait for a verified writer), ``refresh`` (a topology read now), ``quit``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def _hosts(hosts: Any) -> list[list[object]]:
    return [[h.host, h.port, h.role.value] for h in hosts]


def main() -> int:
    spec = json.loads(sys.argv[1])
    from aws_wrapper.core import AwsWrapperConnection, release_resources
    from aws_wrapper.dialects import aurora_mysql_on_mariadb, register_dialect

    if spec.get("register_local"):
        register_dialect(aurora_mysql_on_mariadb(auto_detect=True))
    if spec["engine"] == "pg":
        import psycopg

        target: Any = psycopg.Connection.connect
    else:
        import mysql.connector

        target = mysql.connector.connect
    conn = AwsWrapperConnection.connect(target, **spec["kwargs"])
    runtime = conn._rt
    print(json.dumps({"dialect": runtime.database.code, "hosts": _hosts(runtime.hosts)}), flush=True)
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "quit":
                break
            started = time.monotonic()
            try:
                hosts = runtime.force_refresh(verify_writer=command == "verify", timeout=15)
            except Exception as exc:  # reported to the parent test
                print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
                continue
            elapsed = time.monotonic() - started
            print(json.dumps({"hosts": _hosts(hosts), "elapsed": elapsed}), flush=True)
    finally:
        conn.close()
        release_resources()
    return 0


if __name__ == "__main__":
    sys.exit(main())
