"""``python -m aws_wrapper.failover.demo``: crash the writer of a local Aurora PostgreSQL cluster under a running
application and print what the application saw.

It starts a 3-instance cluster of real PostgreSQL servers (aws-wrapper-testing, synchronous replication, every
instance behind a proxy), runs a small application that inserts and reads rows through the wrapper's writer
endpoint, SIGKILLs the writer, promotes a replica, and prints a timeline: when the writer died, when the new writer
accepted writes and when the application's next statement succeeded. Everything is torn down at the end, also
after an error or Ctrl-C. Needs PostgreSQL server binaries and root (the servers run as the ``postgres`` user).
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["main"]

PREFERRED_PLUGINS = "failover,host_monitoring"


@dataclass
class AppLog:
    """What the demo application observed (times are ``time.monotonic()``)."""

    ok: int = 0
    acknowledged: int = 0  # inserts whose commit returned
    last_ok: float = 0.0
    errors: list[tuple[float, float, str]] = field(default_factory=list)  # call started, error raised, text
    successes_after: dict[float, float] = field(default_factory=dict)  # mark -> first success after it
    marks: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mark(self) -> float:
        now = time.monotonic()
        with self.lock:
            self.marks.append(now)
        return now

    def success(self, at: float) -> None:
        with self.lock:
            self.ok += 1
            self.last_ok = at
            for mark in self.marks:
                if at > mark and mark not in self.successes_after:
                    self.successes_after[mark] = at


def choose_plugins() -> tuple[str, str | None]:
    """``failover,host_monitoring`` when aws-wrapper-efm is installed, else ``failover`` and why."""
    from aws_wrapper.core.errors import PluginError
    from aws_wrapper.core.registry import REGISTRY

    try:
        REGISTRY.resolve(PREFERRED_PLUGINS, auto_sort=True)
    except PluginError as exc:
        return "failover", str(exc)
    return PREFERRED_PLUGINS, None


def app(conninfo: dict[str, Any], plugins: str, log: AppLog, stop: threading.Event) -> None:
    """The application: insert a row and read the count, every 10 ms, through the writer endpoint."""
    import psycopg

    from aws_wrapper.core import AwsWrapperConnection, FailoverError

    conn = AwsWrapperConnection.connect(
        psycopg.Connection.connect,
        **conninfo,
        plugins=plugins,
        cluster_instance_host_pattern="?",
        connect_timeout=3,
    )
    cur = conn.cursor()
    try:
        while not stop.is_set():
            began = time.monotonic()
            try:
                cur.execute("INSERT INTO demo (note) VALUES ('hello')")
                conn.commit()
                log.acknowledged += 1
                cur.execute("SELECT count(*) FROM demo")
                cur.fetchone()
                log.success(time.monotonic())
            except FailoverError as exc:  # the connection now works on the new writer: just go on
                with log.lock:
                    log.errors.append((began, time.monotonic(), type(exc).__name__))
            stop.wait(0.01)
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m aws_wrapper.failover.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--plugins", help=f"plugin list (default: {PREFERRED_PLUGINS} when installed)")
    parser.add_argument("--verbose", action="store_true", help="log the wrapper's failover steps")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING,
        format="        log %(relativeCreated)7.0f ms %(name)s: %(message)s",
        stream=sys.stdout,
    )
    if args.verbose:
        logging.getLogger("aws_wrapper.failover").setLevel(logging.INFO)
    try:
        from aws_wrapper.testing import LocalCluster, engine_missing
    except ImportError:
        print("the demo needs the local cluster: pip install aws-wrapper-testing")
        return 2
    reason = engine_missing("pg")
    if reason is not None:
        print(f"a local PostgreSQL cluster cannot run here: {reason}")
        return 2

    plugins, why = (args.plugins, None) if args.plugins else choose_plugins()
    print("aws-wrapper failover demo: a local Aurora PostgreSQL cluster, an application, a writer crash\n")
    started = time.monotonic()
    cluster = LocalCluster("pg", instances=3, synchronous=True)
    stop = threading.Event()
    thread: threading.Thread | None = None
    try:
        cluster.up()
        status = cluster.status()
        print(f"cluster up in {time.monotonic() - started:.1f} s (synchronous replication)")
        print(f"  writer endpoint {status.writer_endpoint} -> instance {status.writer}")
        for inst in status.instances:
            print(f"  {inst.role:<7} {inst.endpoint}  id={inst.instance_id}")
        info = cluster.conninfo()
        conninfo = {k: info[k] for k in ("host", "port", "user", "dbname")}
        _create_table(conninfo)
        print(f"plugins: {plugins}")
        if why:
            print(f"  (host_monitoring is not available, so failover alone: {why})")

        log = AppLog()
        thread = threading.Thread(
            target=app, args=(conninfo, plugins, log, stop), name="demo-app", daemon=True
        )
        thread.start()
        _wait(lambda: log.ok >= 50, 10.0)
        print(
            f"app: inserting and reading every 10 ms through the writer endpoint ({log.ok} statements so far)\n"
        )

        old = cluster.writer.instance_id
        crash_mark = log.mark()
        cluster.crash()
        crashed = cluster.last_event("crashed")
        new = cluster.promote().instance_id
        promoted = cluster.last_event("writer_promoted")
        assert crashed is not None
        assert promoted is not None
        promote_mark = log.mark()
        _wait(lambda: promote_mark in log.successes_after, 30.0)
        time.sleep(1.0)
        stop.set()
        thread.join(10)

        first_ok = log.successes_after.get(promote_mark) or log.successes_after.get(crash_mark)
        t0 = crashed.t
        timeline = [
            (0.0, f"writer {old} killed (SIGKILL)"),
            (promoted.t - t0, f"new writer {new} accepts writes (replica promoted)"),
        ]
        for began, raised, name in log.errors:
            timeline.append(
                (max(began - t0, 0.0), "app: a statement fails; the wrapper fails over inside that call")
            )
            timeline.append((raised - t0, f"app: gets {name}, the connection is on the new writer"))
        if first_ok is not None:
            timeline.append((first_ok - t0, "app: its next statement succeeds, on the new writer"))
        print("timeline (seconds after the writer was killed):")
        for at, text in sorted(timeline, key=lambda item: item[0]):
            print(f"  +{at:.3f}  {text}")
        if first_ok is not None:
            gap = 1000 * (first_ok - promoted.t)
            print(f"\ngap: {gap:.0f} ms from the new writer accepting writes to the app's next success")
        rows = _count(cluster, conninfo)
        print(
            f"app: {log.ok} rounds, {len(log.errors)} failover(s), {log.acknowledged} inserts acknowledged, "
            f"{rows} rows in the table ({'nothing lost' if rows >= log.acknowledged else 'ROWS LOST'})"
        )
        return 0 if first_ok is not None and rows >= log.acknowledged else 1
    except KeyboardInterrupt:
        print("\ninterrupted")
        return 130
    finally:
        stop.set()
        if thread is not None:
            thread.join(5)
        print("tearing down the cluster ...", end=" ", flush=True)
        try:
            cluster.down()
        finally:
            from aws_wrapper.core import release_resources

            release_resources()
        print(f"done ({time.monotonic() - started:.1f} s in all)")


def _create_table(conninfo: dict[str, Any]) -> None:
    import psycopg

    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS demo")
        conn.execute("CREATE TABLE demo (id serial PRIMARY KEY, note text)")


def _count(cluster: Any, conninfo: dict[str, Any]) -> int:
    import psycopg

    info = cluster.conninfo(cluster.writer)
    with psycopg.connect(**{**conninfo, "host": info["host"], "port": info["port"]}, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM demo").fetchone()
    return int(row[0]) if row else 0


def _wait(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


if __name__ == "__main__":
    sys.exit(main())
