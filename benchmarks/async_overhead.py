"""asyncio: the async wrapper's overhead per query, and its failover client delay.

1. ``await cur.execute("SELECT 1"); await cur.fetchone()`` through :class:`AsyncAwsWrapperConnection` vs the same
   calls on its own ``psycopg.AsyncConnection`` (``conn.target_connection``: the same physical connection, so the
   server side is identical), with ``plugins=""`` and with the default plugins. Short batches, the variants
   interleaved in rotating order on one event loop; printed: the median wall ratio per round with its IQR, and the
   client CPU (``time.process_time``) the wrapper adds per query.
2. The failover client delay, measured as ``benchmarks/failover_time.py`` does for sync connections (``delay`` =
   first successful INSERT after a SIGKILL of the writer - the new writer accepting writes), with the application
   an asyncio task writing through an async wrapper connection (``plugins="failover"``) on a local cluster of 3.

Options: ``--seconds=N`` (part 1, default 10), ``--pg=DSN``, ``--crashes=N`` (part 2, default 10; 0 skips it).
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

PG_DSN = "host=127.0.0.1 port=5432 dbname=postgres user=postgres"
BATCH = 50
WARMUP_ROUNDS = 5
PAIRED = " / driver, same conn"

Query = Callable[[], Awaitable[object]]


class Variant:
    def __init__(self, name: str, query: Query) -> None:
        self.name = name
        self.query = query
        self.wall_ns: list[float] = []
        self.cpu_ns: list[float] = []


def _select_one(cursor: Any) -> Query:
    execute, fetchone = cursor.execute, cursor.fetchone

    async def query() -> object:
        await execute("SELECT 1")
        return await fetchone()

    return query


async def _batch(variant: Variant, n: int) -> None:
    query = variant.query
    cpu = time.process_time_ns()
    start = time.perf_counter_ns()
    for _ in range(n):
        await query()
    variant.wall_ns.append((time.perf_counter_ns() - start) / n)
    variant.cpu_ns.append((time.process_time_ns() - cpu) / n)


async def _overhead(dsn: str, seconds: float) -> None:
    import psycopg

    from aws_wrapper.core.aio import AsyncAwsWrapperConnection
    from aws_wrapper.core.registry import REGISTRY

    print(f"default plugin list (plugins unset): {','.join(REGISTRY.default_codes()) or '(none)'}")
    conns = []
    variants: list[Variant] = []
    for label, extra in (('async wrapper plugins=""', {"plugins": ""}), ("async wrapper defaults", {})):
        conn = await AsyncAwsWrapperConnection.connect(
            psycopg.AsyncConnection.connect, dsn, autocommit=True, **extra
        )
        conns.append(conn)
        variants.append(Variant(label, _select_one(conn.cursor())))
        variants.append(Variant(label + PAIRED, _select_one(conn.target_connection.cursor())))
    try:
        for _ in range(WARMUP_ROUNDS):
            for variant in variants:
                await _batch(variant, BATCH // 4)
        for variant in variants:
            variant.wall_ns.clear()
            variant.cpu_ns.clear()
        gc.collect()
        rounds = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline or rounds < 30:
            order = variants[rounds % len(variants) :] + variants[: rounds % len(variants)]
            for variant in order:
                await _batch(variant, BATCH)
            rounds += 1
        print(
            f"\npsycopg {psycopg.__version__} AsyncConnection, SELECT 1 on {dsn}: {rounds} rounds x {BATCH} queries"
        )
        for i in range(0, len(variants), 2):
            mine, driver = variants[i], variants[i + 1]
            ratios = [a / b for a, b in zip(mine.wall_ns, driver.wall_ns)]
            cpu = [a - b for a, b in zip(mine.cpu_ns, driver.cpu_ns)]
            rq, cq = statistics.quantiles(ratios, n=4), statistics.quantiles(cpu, n=4)
            print(
                f"  {mine.name:<26} {statistics.median(mine.wall_ns) / 1000:6.1f} us/query vs "
                f"{statistics.median(driver.wall_ns) / 1000:6.1f} on the same connection: wall ratio median "
                f"{statistics.median(ratios):.3f} (IQR {rq[0]:.3f}-{rq[2]:.3f}); client CPU "
                f"{statistics.median(cpu):+.0f} ns/query (IQR {cq[0]:+.0f} to {cq[2]:+.0f})",
                flush=True,
            )
    finally:
        for conn in conns:
            await conn.close()


# -- failover client delay -------------------------------------------------------------------------------------


class _Probe:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.successes: list[float] = []

    def first_after(self, t: float) -> float | None:
        with self.lock:
            return next((s for s in self.successes if s > t), None)


def _settings(cluster: Any) -> dict[str, Any]:
    info = cluster.conninfo()
    return {
        "host": info["host"],
        "port": info["port"],
        "user": info["user"],
        "dbname": info["dbname"],
        "plugins": "failover",
        "cluster_instance_host_pattern": "?",
        "connect_timeout": 3,
        "autocommit": True,
    }


async def _application(cluster: Any, probe: _Probe, stop: threading.Event) -> None:
    import psycopg

    from aws_wrapper.core.aio import AsyncAwsWrapperConnection

    conn = await AsyncAwsWrapperConnection.connect(psycopg.AsyncConnection.connect, **_settings(cluster))
    try:
        while not stop.is_set():
            try:
                await conn.execute("INSERT INTO abench (v) VALUES (1)")
                with probe.lock:
                    probe.successes.append(time.monotonic())
            except Exception:
                pass  # FailoverSuccessError: the connection now points at the new writer
            await asyncio.sleep(0.002)
    finally:
        await conn.close()


def _wait(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


def _until_success(probe: _Probe, after: float, timeout: float) -> None:
    _wait(lambda: probe.first_after(after) is not None, timeout)


def _failover_delay(crashes: int) -> None:
    import psycopg

    from aws_wrapper.core import release_resources
    from aws_wrapper.testing import LocalCluster, engine_missing

    reason = engine_missing("pg")
    if reason is not None:
        print(f"\nasync failover delay: skipped ({reason})")
        return
    with LocalCluster("pg", instances=3) as cluster:
        info = cluster.conninfo()
        with psycopg.connect(
            host=info["host"], port=info["port"], user=info["user"], dbname=info["dbname"], autocommit=True
        ) as admin:
            admin.execute("CREATE TABLE IF NOT EXISTS abench (id serial PRIMARY KEY, v int)")
        probe = _Probe()
        stop = threading.Event()
        app = threading.Thread(target=lambda: asyncio.run(_application(cluster, probe, stop)), daemon=True)
        app.start()
        delays: list[float] = []
        try:
            _wait(lambda: len(probe.successes) >= 20, 30)
            print(f"\nasync failover delay, pg cluster of 3, {crashes} crashes:")
            for run in range(1, crashes + 1):
                old = cluster.crash()
                crashed = cluster.last_event("crashed")
                cluster.promote()
                promoted = cluster.last_event("writer_promoted")
                assert crashed is not None
                assert promoted is not None
                _until_success(probe, promoted.t, 60)
                first = probe.first_after(crashed.t)
                delay = (first - promoted.t) if first is not None else float("nan")
                delays.append(delay)
                print(f"  crash {run:>2}: {1000 * delay:7.1f} ms", flush=True)
                cluster.restart(old)
                _until_success(probe, time.monotonic() + 0.3, 30)
        finally:
            stop.set()
            app.join(10)
            release_resources()
    good = [d for d in delays if d == d]
    if good:
        print(
            f"  async wrapper (failover): min {1000 * min(good):.1f} ms, median {1000 * statistics.median(good):.1f}"
            f" ms, max {1000 * max(good):.1f} ms over {len(good)} crashes"
        )


def _option(argv: list[str], name: str, default: str) -> str:
    for arg in argv:
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return default


def main(argv: list[str]) -> int:
    seconds = float(_option(argv, "seconds", "10"))
    crashes = int(_option(argv, "crashes", "10"))
    asyncio.run(_overhead(_option(argv, "pg", PG_DSN), seconds))
    if crashes > 0:
        _failover_delay(crashes)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
