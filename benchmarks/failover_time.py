"""Failover time: how long after a new writer accepts writes does the application's next statement succeed?

Starts a local Aurora cluster (aws-wrapper-testing), runs an application thread that writes continuously through
a connect function, SIGKILLs the writer, promotes a replica at once (or ``--promote-delay`` later) and measures

    delay = (first successful statement after the crash) - (new writer accepts writes, the cluster's event)

over ``--crashes`` crashes (>= 10 by default) for every ``--connect`` function, side by side:

* ``wrapper``               - aws-wrapper with ``--plugins`` (default ``failover``), through the writer endpoint;
* ``raw-psycopg-multihost`` - plain psycopg, libpq multi-host with ``target_session_attrs=read-write`` over every
                               instance; the application reconnects after an error;
* ``raw-mysql-failover``    - plain mysql-connector with its ``failover=`` server list (writes that land on a
                               read-only replica count as failures and make it reconnect);
* ``module:function``       - your own: ``function(cluster) -> DB-API connection`` (called again after an error).

Not a timed test: run it with ``python benchmarks/failover_time.py [--engine mysql] [--crashes 20]``.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Connect = Callable[[Any], Any]  # cluster -> a DB-API connection (autocommit)


@dataclass
class Probe:
    """The application thread's record of successful writes."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    successes: list[float] = field(default_factory=list)  # completion times
    errors: int = 0
    reconnects: int = 0

    def first_after(self, t: float) -> float | None:
        with self.lock:
            return next((s for s in self.successes if s > t), None)


def wrapper_connect(plugins: str, settings: dict[str, str] | None = None) -> Connect:
    def connect(cluster: Any) -> Any:
        from aws_wrapper.core import AwsWrapperConnection

        info = cluster.conninfo()
        kwargs: dict[str, Any] = {
            "host": info["host"],
            "port": info["port"],
            "user": info["user"],
            "plugins": plugins,
            "cluster_instance_host_pattern": "?",
            "connect_timeout": 3,
            "autocommit": True,
            **(settings or {}),
        }
        if cluster.engine.name == "pg":
            import psycopg

            return AwsWrapperConnection.connect(psycopg.Connection.connect, dbname=info["dbname"], **kwargs)
        import mysql.connector

        from aws_wrapper.dialects import aurora_mysql_on_mariadb, register_dialect

        register_dialect(aurora_mysql_on_mariadb(), replace=True)
        return AwsWrapperConnection.connect(
            mysql.connector.connect, database=info["database"], wrapper_dialect="aurora-mysql-local", **kwargs
        )

    connect.keeps_connection = True  # type: ignore[attr-defined]  # the wrapper connection survives a failover
    return connect


def raw_psycopg_multihost(cluster: Any) -> Any:
    import psycopg

    eps = [cluster.endpoint(n) for n in cluster.nodes]
    return psycopg.connect(
        host=",".join(e.host for e in eps),
        port=",".join(str(e.port) for e in eps),
        user=cluster.layout.user,
        dbname=cluster.layout.database,
        target_session_attrs="read-write",
        connect_timeout=2,
        autocommit=True,
    )


def raw_mysql_failover(cluster: Any) -> Any:
    import mysql.connector

    writer = cluster.endpoint(cluster.writer)
    servers = [  # the writer known at start first, as an application's configuration would have it
        {"host": e.host, "port": e.port, "priority": 100 if e.host == writer.host else 50}
        for e in (cluster.endpoint(n) for n in cluster.nodes)
    ]
    return mysql.connector.connect(
        user=cluster.layout.user,
        database=cluster.layout.database,
        failover=tuple(servers),
        connection_timeout=2,
        autocommit=True,
    )


BUILTIN: dict[str, Callable[[str, dict[str, str]], Connect]] = {
    "wrapper": wrapper_connect,
    "raw-psycopg-multihost": lambda plugins, settings: raw_psycopg_multihost,
    "raw-mysql-failover": lambda plugins, settings: raw_mysql_failover,
}


def resolve(name: str, plugins: str, settings: dict[str, str]) -> Connect:
    if name in BUILTIN:
        return BUILTIN[name](plugins, settings)
    module, sep, attr = name.partition(":")
    if not sep:
        raise SystemExit(
            f"unknown --connect {name!r}: expected one of {', '.join(BUILTIN)} or module:function"
        )
    func: Connect = getattr(importlib.import_module(module), attr)
    return func


def application(cluster: Any, connect: Connect, probe: Probe, stop: threading.Event) -> None:
    """Write one row at a time; after an error go on (wrapper) or reconnect (raw drivers) at once."""
    keeps = getattr(connect, "keeps_connection", False)
    conn: Any = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = connect(cluster)
                probe.reconnects += 1
            cur = conn.cursor()
            cur.execute("INSERT INTO bench (v) VALUES (1)")
            cur.close()
            with probe.lock:
                probe.successes.append(time.monotonic())
        except Exception:
            probe.errors += 1
            if not keeps and conn is not None:
                try:
                    conn.close()
                except Exception:
                    pass
                conn = None
            if conn is None:
                stop.wait(0.01)  # a raw driver's reconnect loop: no busy loop while nothing answers
        stop.wait(0.002)
    if conn is not None:
        try:
            conn.close()
        except Exception:
            pass


def measure(cluster: Any, name: str, connect: Connect, crashes: int, promote_delay: float) -> list[float]:
    probe = Probe()
    stop = threading.Event()
    thread = threading.Thread(target=application, args=(cluster, connect, probe, stop), daemon=True)
    thread.start()
    delays: list[float] = []
    try:
        _wait(lambda: len(probe.successes) >= 20, 30)
        for run in range(1, crashes + 1):
            old = cluster.crash()
            crashed = cluster.last_event("crashed")
            if promote_delay:
                time.sleep(promote_delay)
            cluster.promote()
            promoted = cluster.last_event("writer_promoted")
            promoted_at = promoted.t
            _wait_for_success(probe, promoted_at, 60)
            first = probe.first_after(crashed.t)
            delay = (first - promoted.t) if first is not None else float("nan")
            delays.append(delay)
            print(f"  {name:<24} crash {run:>2}: {1000 * delay:7.1f} ms", flush=True)
            cluster.restart(old)  # back as a replica for the next crash
            steady = time.monotonic() + 0.3
            _wait_for_success(probe, steady, 30)
    finally:
        stop.set()
        thread.join(10)
    return delays


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("pg", "mysql"), default="pg")
    parser.add_argument("--crashes", type=int, default=10)
    parser.add_argument(
        "--promote-delay", type=float, default=0.0, help="seconds between the crash and promotion"
    )
    parser.add_argument("--plugins", default="failover", help="plugins of the 'wrapper' connect function")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="another wrapper setting for the 'wrapper' connect function (repeatable)",
    )
    parser.add_argument(
        "--connect",
        default=None,
        help="comma-separated connect functions (default: wrapper and the raw driver's own failover)",
    )
    args = parser.parse_args(argv)
    if args.crashes < 1:
        parser.error("--crashes must be at least 1")
    default = "wrapper,raw-psycopg-multihost" if args.engine == "pg" else "wrapper,raw-mysql-failover"
    names = [n.strip() for n in (args.connect or default).split(",") if n.strip()]
    settings = dict(item.split("=", 1) for item in args.set if "=" in item)
    if len(settings) != len(args.set):
        parser.error("--set takes NAME=VALUE")
    connects = {name: resolve(name, args.plugins, settings) for name in names}

    from aws_wrapper.core import release_resources
    from aws_wrapper.testing import LocalCluster, engine_missing

    reason = engine_missing(args.engine)
    if reason is not None:
        print(f"cannot run a local {args.engine} cluster here: {reason}", file=sys.stderr)
        return 2
    results: dict[str, list[float]] = {}
    with LocalCluster(args.engine, instances=3) as cluster:
        _create_table(cluster)
        print(
            f"{args.engine} cluster of 3; {args.crashes} crashes per connect function; promote delay "
            f"{args.promote_delay:g} s"
        )
        for name, connect in connects.items():
            results[name] = measure(cluster, name, connect, args.crashes, args.promote_delay)
            release_resources()
    print()
    print("delay = first successful statement after the crash - new writer accepting writes (ms)")
    print(f"{'connect':<34} {'runs':>4} {'min':>8} {'median':>8} {'max':>8}")
    for name, delays in results.items():
        label = f"{name} ({args.plugins})" if name == "wrapper" else name
        good = [d for d in delays if d == d]
        if not good:
            print(f"{label:<34} {len(delays):>4}  never recovered")
            continue
        print(
            f"{label:<34} {len(good):>4} {1000 * min(good):8.1f} {1000 * statistics.median(good):8.1f} "
            f"{1000 * max(good):8.1f}"
        )
    return 0


def _create_table(cluster: Any) -> None:
    kind = "serial" if cluster.engine.name == "pg" else "int auto_increment"
    if cluster.engine.name == "pg":
        conn = raw_psycopg_multihost(cluster)
    else:
        import mysql.connector

        info = cluster.conninfo(cluster.writer)
        conn = mysql.connector.connect(
            host=info["host"],
            port=info["port"],
            user=info["user"],
            database=info["database"],
            autocommit=True,
        )
    try:
        cur = conn.cursor()
        cur.execute("DROP TABLE IF EXISTS bench")
        cur.execute(f"CREATE TABLE bench (id {kind} PRIMARY KEY, v int)")
    finally:
        conn.close()


def _wait_for_success(probe: Probe, after: float, timeout: float) -> None:
    _wait(lambda: probe.first_after(after) is not None, timeout)


def _wait(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
