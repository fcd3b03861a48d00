"""Enhanced failure monitoring: detection time under upstream's grid, and the plugin's per-query overhead.

Detection: a long query (``pg_sleep`` / ``SLEEP``) runs through a fault proxy; ``delay`` seconds after it started
the proxy is blackholed (bytes held both ways, sockets open, new connections unanswered: a silent host). The time
from the blackhole to the query failing is the detection time, printed per row (min / median / max) next to the
bound ``max(0, grace - delay) + count x interval``. Rows run concurrently, each repetition on its own proxy (so
on its own host and monitor).

Default: a reduced grid (6000/1000/1 at 1, 3, 7 and 7.25 s; 30000/5000/3 at 35 and 37.5 s; 3 repetitions; about
a minute). Upstream's delays fall on the probe schedule; the .25 / .5 ones fall between two probes, the worst case.
``--full`` runs upstream's whole published grid with 5 repetitions (several minutes).

Overhead: ``SELECT 1`` round trips on a wrapper connection with ``plugins="efm"`` and one with ``plugins=""``,
measured in interleaved batches on the same server; the difference of the medians is the plugin's cost.

Options: ``--full``, ``--engines=pg,mysql``, ``--repeat=N``, ``--parallel=N`` (trials at once per engine),
``--no-overhead``, ``--overhead-only``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

REDUCED: list[tuple[int, int, int, int]] = [  # grace ms, interval ms, count, outage delay ms
    (6000, 1000, 1, 1000),
    (6000, 1000, 1, 3000),
    (6000, 1000, 1, 7000),
    (6000, 1000, 1, 7250),  # off upstream's grid: an outage between two probes
    (30000, 5000, 3, 35000),
    (30000, 5000, 3, 37500),  # off upstream's grid
]
FULL: list[tuple[int, int, int, int]] = [
    *((30000, 5000, 3, d) for d in (5000, 10000, 15000, 20000, 25000, 30000, 35000, 40000, 50000, 60000)),
    *((6000, 1000, 1, d) for d in range(1000, 10001, 1000)),
]
TARGET_MS = 50.0  # detection within the bound plus this


class EngineSpec:
    # plain classes, not dataclasses: tools/bench.py runs this module without registering it in sys.modules

    def __init__(
        self, name: str, connect: Callable[..., Any], server: dict[str, Any], sleep_sql: str
    ) -> None:
        self.name = name
        self.connect = connect
        self.server = server
        self.sleep_sql = sleep_sql

    def wrapper(self, host: str, port: int, **settings: Any) -> Any:
        from aws_wrapper.core import AwsWrapperConnection

        return AwsWrapperConnection.connect(self.connect, **self.server, host=host, port=port, **settings)


class Row:
    def __init__(self, engine: str, grace: int, interval: int, count: int, delay: int) -> None:
        self.engine = engine
        self.grace = grace
        self.interval = interval
        self.count = count
        self.delay = delay
        self.times: list[float] = []  # seconds from the blackhole to the query's failure
        self.failures: list[str] = []

    @property
    def bound_ms(self) -> float:
        return max(0, self.grace - self.delay) + self.count * self.interval

    @property
    def expected_s(self) -> float:
        return self.delay / 1000 + self.bound_ms / 1000


def _engine(name: str) -> EngineSpec:
    if name == "pg":
        import psycopg

        # The server keeps sleeping for an aborted client unless it checks the socket now and then.
        server = {
            "user": os.environ.get("PGUSER", "postgres"),
            "dbname": "postgres",
            "autocommit": True,
            "options": "-c client_connection_check_interval=500",
        }
        return EngineSpec("pg", psycopg.Connection.connect, server, "SELECT pg_sleep(600)")
    if name == "mysql":
        import mysql.connector

        server = {"user": "root", "database": "test", "autocommit": True}
        return EngineSpec("mysql", mysql.connector.connect, server, "SELECT SLEEP(600)")
    raise SystemExit(f"unknown engine {name!r}: expected pg or mysql")


_SERVER_PORTS = {"pg": ("127.0.0.1", 5432), "mysql": ("127.0.0.1", 3306)}


def _trial(spec: EngineSpec, row: Row) -> None:
    from aws_wrapper.efm import active_monitors
    from aws_wrapper.testing import FaultProxy

    host, port = _SERVER_PORTS[spec.name]
    proxy = FaultProxy("127.0.0.1", 0, host, port).start()
    conn = None
    try:
        give_up = time.monotonic() + 60
        while True:  # the servers are shared: wait for a free connection slot rather than lose the trial
            try:
                conn = spec.wrapper(
                    "127.0.0.1",
                    proxy.listen_port,
                    plugins="efm",
                    failure_detection_time_ms=row.grace,
                    failure_detection_interval_ms=row.interval,
                    failure_detection_count=row.count,
                )
                break
            except Exception as exc:
                busy = "too many" in str(exc).lower() or getattr(exc, "errno", None) == 1040
                if not busy or time.monotonic() > give_up:
                    raise
                time.sleep(1.0)
        key_url = f"127.0.0.1:{proxy.listen_port}"
        deadline = time.monotonic() + 5
        while not any(m.host == key_url and m.monitoring_connection_open for m in active_monitors()):
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        cut: list[float] = []
        started = threading.Event()
        begin: list[float] = []

        def outage() -> None:
            # the outage starts `delay` after the query was handed to the wrapper (not after this thread began)
            if not started.wait(10):
                return
            pause = begin[0] + row.delay / 1000 - time.monotonic()
            if pause > 0 and stop.wait(pause):
                return
            proxy.blackhole()
            cut.append(time.monotonic())

        stop = threading.Event()
        cur = conn.cursor()
        cutter = threading.Thread(target=outage, name="efm-bench-outage", daemon=True)
        cutter.start()
        try:
            begin.append(time.monotonic())
            started.set()
            cur.execute(spec.sleep_sql)
            row.failures.append("the query returned: the outage was never detected")
        except Exception:
            failed = time.monotonic()
            if cut:
                row.times.append(failed - cut[0])
            else:
                row.failures.append("the query failed before the outage")
        finally:
            stop.set()
            cutter.join(5)
    except Exception as exc:
        row.failures.append(f"{type(exc).__name__}: {exc}")
    finally:
        proxy.heal()
        if conn is not None:
            conn.close()
        proxy.stop()


def _detection(engines: list[str], grid: list[tuple[int, int, int, int]], repeat: int, parallel: int) -> int:
    from aws_wrapper.core import release_resources
    from aws_wrapper.core.host_list import AVAILABILITY

    rows: list[Row] = []
    jobs: list[tuple[EngineSpec, Row]] = []
    for name in engines:
        spec = _engine(name)
        for grace, interval, count, delay in grid:
            row = Row(name, grace, interval, count, delay)
            rows.append(row)
            jobs.extend((spec, row) for _ in range(repeat))
    jobs.sort(key=lambda job: -job[1].expected_s)  # longest first: better packing into the worker pool
    longest = max(row.expected_s for row in rows)
    print(
        f"detection: {len(jobs)} trials ({repeat} per row, up to {parallel} at once per engine); "
        f"the longest needs about {longest:.0f} s",
        flush=True,
    )
    started = time.monotonic()
    pools = {name: ThreadPoolExecutor(parallel, thread_name_prefix=f"efm-bench-{name}") for name in engines}
    try:
        futures = [pools[spec.name].submit(_trial, spec, row) for spec, row in jobs]
        for future in futures:
            future.result()
    finally:
        for pool in pools.values():
            pool.shutdown(wait=True)
        release_resources()
        AVAILABILITY.clear()
    wall = time.monotonic() - started

    header = (
        f"{'engine':<6} {'grace/interval/count':>20} {'delay':>7} {'n':>2} "
        f"{'min':>8} {'median':>8} {'max':>8} {'bound':>8} {'max-bound':>9}  verdict"
    )
    print(header)
    print("-" * len(header))
    status = 0
    within = 0
    for row in rows:
        settings = f"{row.grace}/{row.interval}/{row.count}"
        if not row.times:
            print(f"{row.engine:<6} {settings:>20} {row.delay:>7} {0:>2}  no detection: {row.failures}")
            status = 1
            continue
        ms = [t * 1000 for t in row.times]
        worst = max(ms) - row.bound_ms
        ok = worst <= TARGET_MS and not row.failures
        within += ok
        verdict = "ok" if ok else "OVER"
        if row.failures:
            verdict += f" ({len(row.failures)} failed: {row.failures[0]})"
            status = 1
        print(
            f"{row.engine:<6} {settings:>20} {row.delay:>7} {len(ms):>2} {min(ms):>8.0f} "
            f"{statistics.median(ms):>8.0f} {max(ms):>8.0f} {row.bound_ms:>8.0f} {worst:>+9.0f}  {verdict}"
        )
    print(
        f"all times in ms from the blackhole to the query's error; {within}/{len(rows)} rows within bound + "
        f"{TARGET_MS:.0f} ms; wall time {wall:.0f} s"
    )
    return status


def _overhead(engines: list[str], seconds: float = 10.0, batch: int = 50) -> None:
    from aws_wrapper.core import release_resources
    from aws_wrapper.core.methods import DbApiMethod

    print(
        f"overhead: SELECT 1 (execute + fetchall) for {seconds:.0f} s per engine, batches of {batch} in rotating "
        "order; medians per query, and the median of the per-round differences",
        flush=True,
    )
    for name in engines:
        spec = _engine(name)
        host, port = _SERVER_PORTS[name]
        plain = spec.wrapper(host, port, plugins="")
        efm = spec.wrapper(host, port, plugins="efm")
        raw = spec.connect(**spec.server, host=host, port=port)
        try:
            cursors = {"raw": raw.cursor(), "plain": plain.cursor(), "efm": efm.cursor()}
            samples: dict[str, list[float]] = {k: [] for k in cursors}
            order = list(cursors)
            end_at = time.monotonic() + seconds
            index = 0
            while time.monotonic() < end_at or index < 10:
                labels = order[index % 3 :] + order[: index % 3]
                for label in labels:
                    cur = cursors[label]
                    t0 = time.perf_counter()
                    for _ in range(batch):
                        cur.execute("SELECT 1")
                        cur.fetchall()
                    if index >= 5:  # the first rounds warm up
                        samples[label].append((time.perf_counter() - t0) / batch * 1e6)
                index += 1
            med = {label: statistics.median(values) for label, values in samples.items()}
            diffs = [e - p for e, p in zip(samples["efm"], samples["plain"])]
            ratios = [e / p for e, p in zip(samples["efm"], samples["plain"])]
            print(
                f'  {name}: raw {med["raw"]:.1f} us, plugins="" {med["plain"]:.1f} us, plugins="efm" '
                f'{med["efm"]:.1f} us per query ({len(diffs)} rounds); efm vs plugins="": median difference '
                f"{statistics.median(diffs):+.2f} us, median ratio {statistics.median(ratios):.3f}"
            )
            # the CPU cost alone: the compiled Cursor.execute chain around a call that does nothing
            chain = efm._rt.chains[DbApiMethod.CURSOR_EXECUTE]
            target = cursors["efm"].target_cursor

            def noop() -> None:
                return None

            n = 200_000
            t0 = time.perf_counter()
            for _ in range(n):
                noop()
            bare = time.perf_counter() - t0
            t0 = time.perf_counter()
            for _ in range(n):
                chain(target, noop)
            chained = time.perf_counter() - t0
            print(
                f"  {name}: the efm chain around a no-op call costs {(chained - bare) / n * 1e9:.0f} ns per call"
            )
        finally:
            raw.close()
            plain.close()
            efm.close()
    release_resources()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="efm_detection", description=__doc__.splitlines()[0] if __doc__ else ""
    )
    parser.add_argument("--full", action="store_true", help="upstream's whole grid, 5 repetitions")
    parser.add_argument("--engines", default="pg,mysql")
    parser.add_argument("--repeat", type=int, default=0)
    parser.add_argument("--parallel", type=int, default=10)
    parser.add_argument("--no-overhead", action="store_true")
    parser.add_argument("--overhead-only", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    status = 0
    if not args.no_overhead:
        _overhead(engines)
    if not args.overhead_only:
        grid = FULL if args.full else REDUCED
        repeat = args.repeat or (5 if args.full else 3)
        status = _detection(engines, grid, repeat, max(1, args.parallel))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
