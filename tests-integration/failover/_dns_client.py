"""Runs inside the cluster's DNS namespace (see test_endpoints.py): connects through the wrapper to an RDS-shaped
endpoint name and prints, as JSON, which instance it reached and whether that instance is the writer."""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    host, port, plugins = argv[0], int(argv[1]), argv[2]
    import psycopg

    from aws_wrapper.core import AwsWrapperConnection, release_resources

    conn = AwsWrapperConnection.connect(
        psycopg.Connection.connect,
        host=host,
        port=port,
        user="postgres",
        dbname="test",
        plugins=plugins,
        connect_timeout=3,
        autocommit=True,
        open_connection_retry_interval_ms=200,
    )
    try:
        row = conn.execute(
            "SELECT pg_catalog.aurora_db_instance_identifier(), NOT pg_is_in_recovery()"
        ).fetchone()
        assert row is not None
        reached = conn._rt.current_host
        print(json.dumps({"instance": row[0], "writer": row[1], "host": reached.url if reached else None}))
    finally:
        conn.close()
        release_resources()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
