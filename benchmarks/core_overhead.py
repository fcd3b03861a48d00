"""Wrapper overhead on the hot path: SELECT 1 round trips, raw driver vs the wrapper.

Variants, for psycopg and mysql-connector (C extension and pure Python), against the machine's servers:

* ``raw``: the driver's own connection and cursor;
* ``wrapper plugins=""``: the wrapper with no plugin (every pipeline bypassed);
* ``wrapper defaults``: ``plugins`` unset, i.e. whatever default plugins are installed (printed).

The variants run interleaved in one process (short batches in rotating order, after a warm-up) so that drift of
the machine affects them alike; the figures are medians over batches and the ratio is the ratio of those medians
(the median and spread of the per-round ratios are printed too). First, the same calls against an in-memory driver
give the wrapper's own cost without any I/O, and from it a noise-free model of the ratio. Last:
``import aws_wrapper.core`` vs ``import psycopg`` in fresh interpreters (median of 7) and the number of threads alive
after ``import aws_wrapper.core``.

Then, when valgrind is installed, the instructions the wrapper adds per query on the same connection (psycopg),
counted by callgrind: a figure that does not move with the machine's load, unlike CPU time.

Options: ``--seconds=N`` (time per driver, default 14), ``--pg=DSN``, ``--mysql=KEY=VALUE...`` (conninfo form).
Servers default to 127.0.0.1:5432 (user postgres, dbname postgres) and 127.0.0.1:3306 (root, database test).
"""

from __future__ import annotations

import gc
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

PG_DSN = "host=127.0.0.1 port=5432 dbname=postgres user=postgres"
MYSQL_DSN = "host=127.0.0.1 port=3306 user=root database=test"
BATCH = 50  # queries per batch: short, so that the variants of one round see the same machine state
WARMUP_ROUNDS = 5


class Variant:
    # A plain class, not a dataclass: tools/bench.py loads this file without registering it in sys.modules.
    def __init__(self, name: str, query: Callable[[], object], close: Callable[[], None]) -> None:
        self.name = name
        self.query = query
        self.close = close
        self.batches_ns: list[float] = []  # ns per query, one entry per batch
        self.cpu_ns: list[float] = []  # client CPU ns per query (time.process_time_ns), one entry per batch

    @property
    def median_us(self) -> float:
        return statistics.median(self.batches_ns) / 1000


def _select_one(cursor: Any) -> Callable[[], object]:
    execute, fetchone = cursor.execute, cursor.fetchone

    def query() -> object:
        execute("SELECT 1")
        return fetchone()

    return query


def _run_batch(variant: Variant, n: int) -> float:
    """ns of wall time per query; the client CPU time per query is recorded in ``variant.cpu_ns`` (the wall
    round trip of a connection flips between ~15 and ~90 us on these VMs; the CPU the client spends does not)."""
    query = variant.query
    cpu = time.process_time_ns()
    start = time.perf_counter_ns()
    for _ in range(n):
        query()
    wall = (time.perf_counter_ns() - start) / n
    variant.cpu_ns.append((time.process_time_ns() - cpu) / n)
    return wall


def _interleave(variants: list[Variant], seconds: float) -> list[list[float]]:
    """Run rounds (each variant one batch, rotating the order) for about ``seconds``; return per-round ns/query."""
    for _ in range(WARMUP_ROUNDS):
        for variant in variants:
            _run_batch(variant, BATCH // 4)
    gc.collect()
    rounds: list[list[float]] = []
    deadline = time.monotonic() + seconds
    index = 0
    while time.monotonic() < deadline or len(rounds) < 10:
        order = variants[index % len(variants) :] + variants[: index % len(variants)]
        figures = {v.name: _run_batch(v, BATCH) for v in order}
        rounds.append([figures[v.name] for v in variants])
        for v in variants:
            v.batches_ns.append(figures[v.name])
        index += 1
    return rounds


def _report(title: str, variants: list[Variant], rounds: list[list[float]]) -> None:
    print(f"\n{title}: {len(rounds)} rounds x {BATCH} queries per variant")
    raw = variants[0]
    for i, variant in enumerate(variants):
        best = min(variant.batches_ns) / 1000
        line = f"  {variant.name:<28} {variant.median_us:8.1f} us/query (best batch {best:6.1f})"
        if i:
            ratios = [r[i] / r[0] for r in rounds]
            delta = variant.median_us - raw.median_us
            line += (
                f"   ratio {variant.median_us / raw.median_us:.3f}   {delta:+.2f} us"
                f"   (per-round ratio median {statistics.median(ratios):.3f}, IQR {_iqr(ratios)})"
            )
        print(line, flush=True)
    cost = _STUB_COST_NS.get("")
    if cost is not None:
        print(
            f'  model for plugins="": 1 + {cost / 1000:.2f} us (in-memory cost) / {raw.median_us:.1f} us = '
            f"{1 + cost / 1000 / raw.median_us:.3f}"
        )


#: The wrapper's own cost per execute + fetchone (ns), by ``plugins`` value, from :func:`bench_stub`.
_STUB_COST_NS: dict[str, float] = {}


PAIRED = " / driver, same conn"


def _paired_report(variants: list[Variant], rounds: list[list[float]]) -> None:
    """Wrapper vs the driver on the very same physical connection: the figure to judge the overhead by."""
    for i, variant in enumerate(variants):
        if i + 1 < len(variants) and variants[i + 1].name == variant.name + PAIRED:
            ratios = [r[i] / r[i + 1] for r in rounds]
            extra = [(r[i] - r[i + 1]) / 1000 for r in rounds]
            driver = variants[i + 1]
            # the last len(rounds) batches are the measured ones (warm-up batches come first)
            mine, theirs = variant.cpu_ns[-len(rounds) :], driver.cpu_ns[-len(rounds) :]
            cpu = [a - b for a, b in zip(mine, theirs)]
            q = statistics.quantiles(cpu, n=4)
            print(
                f"  {variant.name:<28} vs the driver on the same connection: wall ratio median "
                f"{statistics.median(ratios):.3f} (IQR {_iqr(ratios)}), {statistics.median(extra):+.2f} us/query;"
                f" client CPU {statistics.median(cpu):+.0f} ns/query (IQR {q[0]:+.0f} to {q[2]:+.0f}), "
                f"{len(rounds)} interleaved rounds"
            )


def _iqr(values: list[float]) -> str:
    q = statistics.quantiles(values, n=4)
    return f"{q[0]:.3f}-{q[2]:.3f}"


def _default_plugins() -> str:
    from aws_wrapper.core.registry import REGISTRY

    codes = REGISTRY.default_codes()
    return ",".join(codes) if codes else "(none installed)"


def _wrapper_variants(name: str, connect: Callable[..., Any], conninfo: str, **kwargs: Any) -> list[Variant]:
    from aws_wrapper.core import AwsWrapperConnection

    variants = []
    for label, extra in (('wrapper plugins=""', {"plugins": ""}), ("wrapper defaults", {})):
        try:
            conn = AwsWrapperConnection.connect(connect, conninfo, **kwargs, **extra)
        except Exception as error:  # a default plugin that cannot run here: report, keep benchmarking
            print(f"  {name}: {label} could not connect: {type(error).__name__}: {error}")
            continue
        conn.autocommit = True
        variants.append(Variant(label, _select_one(conn.cursor()), conn.close))
        # The same physical connection used directly: where the server backend runs changes the round trip of a
        # connection by up to 2x on this kind of machine, so the fair ratio compares like with like.
        variants.append(Variant(label + PAIRED, _select_one(conn.target_connection.cursor()), lambda: None))
    return variants


def bench_psycopg(dsn: str, seconds: float) -> None:
    import psycopg

    raw = psycopg.Connection.connect(dsn, autocommit=True)
    variants = [Variant("raw psycopg", _select_one(raw.cursor()), raw.close)]
    variants += _wrapper_variants("psycopg", psycopg.Connection.connect, dsn)
    try:
        rounds = _interleave(variants, seconds)
        _report(f"psycopg {psycopg.__version__} (PostgreSQL, {dsn})", variants, rounds)
        _paired_report(variants, rounds)
    finally:
        for variant in variants:
            variant.close()


def bench_mysql(conninfo: str, seconds: float, use_pure: bool) -> None:
    import mysql.connector

    from aws_wrapper.core.conninfo import parse_conninfo

    kwargs: dict[str, Any] = dict(parse_conninfo(conninfo))
    raw: Any = mysql.connector.connect(use_pure=use_pure, autocommit=True, **kwargs)
    kind = "pure Python" if use_pure else "C extension"
    variants = [
        Variant(
            f"raw mysql-connector ({'pure' if use_pure else 'cext'})", _select_one(raw.cursor()), raw.close
        )
    ]
    variants += _wrapper_variants("mysql-connector", mysql.connector.connect, "", use_pure=use_pure, **kwargs)
    try:
        rounds = _interleave(variants, seconds)
        _report(f"mysql-connector {mysql.connector.__version__} {kind} (MariaDB)", variants, rounds)
        _paired_report(variants, rounds)
    finally:
        for variant in variants:
            variant.close()


# -- the same calls without I/O: what the wrapper itself costs -----------------------------------------------------


class _StubCursor:
    def execute(self, query: str, params: object = None) -> _StubCursor:
        return self

    def fetchone(self) -> tuple[int]:
        return (1,)

    def close(self) -> None:
        pass


class _StubConnection:
    autocommit = True

    def __init__(self) -> None:
        self.lock = threading.Lock()  # like psycopg's Connection.lock

    def cursor(self) -> _StubCursor:
        return _StubCursor()

    def close(self) -> None:
        pass


def _stub_connect(**kwargs: object) -> _StubConnection:
    return _StubConnection()


class _StubErrors:
    def is_network_error(self, error: BaseException) -> bool:
        return False

    def is_login_error(self, error: BaseException) -> bool:
        return False

    def is_read_only_error(self, error: BaseException) -> bool:
        return False


class _StubDialect:
    """A driver dialect for an in-memory driver whose calls return at once."""

    code = "bench-stub"
    engine = "pg"
    default_port = 5432
    errors = _StubErrors()

    @property
    def network_bound_methods(self) -> frozenset[Any]:
        from aws_wrapper.core.methods import NETWORK_BOUND_METHODS

        return NETWORK_BOUND_METHODS

    def matches(self, connect_func: Callable[..., Any]) -> bool:
        return connect_func is _stub_connect

    def prepare_connect_args(self, host: Any, props: Any, config: Any) -> dict[str, Any]:
        return {}

    def connect(self, connect_func: Callable[..., Any], args: Any) -> Any:
        return connect_func(**args)

    def connection_of(self, cursor: object) -> Any:
        return None

    def is_closed(self, conn: Any) -> bool:
        return False

    def is_in_transaction(self, conn: Any) -> bool:
        return False

    def get_autocommit(self, conn: Any) -> bool:
        return True

    def set_autocommit(self, conn: Any, value: bool) -> None:
        pass

    def get_read_only(self, conn: Any) -> bool:
        return False

    def set_read_only(self, conn: Any, value: bool) -> None:
        pass

    def get_isolation_level(self, conn: Any) -> str | None:
        return None

    def set_isolation_level(self, conn: Any, level: str | None) -> None:
        pass

    @property
    def serializes_calls(self) -> bool:
        return True

    def connection_lock(self, conn: Any) -> Any:
        return conn.lock

    def supports_abort(self, conn: Any) -> bool:
        return False

    def abort(self, conn: Any) -> None:
        pass

    def close(self, conn: Any) -> None:
        conn.close()

    def rollback(self, conn: Any) -> None:
        pass

    def query(
        self, conn: Any, sql: str, params: Any = (), *, timeout: float | None = None
    ) -> list[tuple[Any, ...]]:
        return []

    def ping(self, conn: Any, timeout: float) -> bool:
        return True


def _best_ns(query: Callable[[], object], n: int = 20000, repeat: int = 15) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(n):
            query()
        best = min(best, (time.perf_counter_ns() - start) / n)
    return best


def bench_stub() -> None:
    from aws_wrapper.core import AwsWrapperConnection
    from aws_wrapper.core.driver import register_driver_dialect

    register_driver_dialect(_StubDialect())
    raw = _select_one(_StubConnection().cursor())
    print("\nwrapper cost without I/O (in-memory driver; best of 15 x 20000 execute + fetchone)")
    base = _best_ns(raw)
    print(f"  {'raw stub':<40} {base:7.0f} ns/query")
    for plugins in ("", "dev", "execute_time", "execute_time,connect_time,dev"):
        conn = AwsWrapperConnection.connect(_stub_connect, "host=stub", plugins=plugins)
        cost = _best_ns(_select_one(conn.cursor())) - base
        _STUB_COST_NS[plugins] = cost
        conn.close()
        print(f"  {'plugins=' + repr(plugins):<40} {cost:+7.0f} ns/query over the raw driver")


_COUNT_CHILD = """
import gc, sys
import psycopg
from aws_wrapper.core import AwsWrapperConnection
variant, n = sys.argv[1], int(sys.argv[2])
extra = {{"plugins": ""}} if variant.startswith("empty") else {{}}
conn = AwsWrapperConnection.connect(psycopg.Connection.connect, {dsn!r}, **extra)
conn.autocommit = True
cur = conn.cursor() if variant.endswith("wrapper") else conn.target_connection.cursor()
execute, fetchone = cur.execute, cur.fetchone
for _ in range(300):
    execute("SELECT 1"); fetchone()
gc.collect(); gc.disable()
for _ in range(n):
    execute("SELECT 1"); fetchone()
conn.close()
"""


def _instructions(dsn: str, variant: str, n: int) -> int:
    """User-space instructions of the main thread of a child process that runs ``n`` queries (valgrind's callgrind
    counts them exactly, whatever else the machine is doing; the monitors' threads are left out)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--separate-threads=yes",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-c",
                _COUNT_CHILD.format(dsn=dsn),
                variant,
                str(n),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
            # string hashes decide dict probing: a fixed seed, for exact counts
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        with open(f"{out}-01") as main_thread:
            match = re.search(r"^totals: (\d+)", main_thread.read(), re.MULTILINE)
        if match is None:
            raise RuntimeError(f"no instruction total in {out}-01")
        return int(match.group(1))


def bench_instructions(dsn: str, low: int = 500, high: int = 4500) -> None:
    """Instructions the wrapper adds per query on the same physical connection (psycopg), counted by callgrind:
    (count at ``high`` queries - count at ``low``) / (high - low) per variant, wrapper minus driver. Unlike CPU time
    this does not move with the machine's load; it is the figure to compare commits by."""
    if shutil.which("valgrind") is None:
        print("\ninstructions per query: skipped (valgrind not installed)")
        return
    print(f"\ninstructions per query (callgrind, psycopg, same connection, {high - low} queries counted)")
    per: dict[str, float] = {}
    for variant in ("empty-driver", "empty-wrapper", "defaults-driver", "defaults-wrapper"):
        per[variant] = (_instructions(dsn, variant, high) - _instructions(dsn, variant, low)) / (high - low)
    for label in ("empty", "defaults"):
        added = per[f"{label}-wrapper"] - per[f"{label}-driver"]
        name = 'plugins=""' if label == "empty" else "defaults"
        print(
            f"  wrapper {name:<12} {per[label + '-wrapper']:8.0f} vs the driver {per[label + '-driver']:8.0f}:"
            f" {added:+6.0f} instructions/query",
            flush=True,
        )


_IMPORT_TIME = (
    "import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
)
_THREADS = (
    "import os, threading; import aws_wrapper.core; "
    "print(threading.active_count(), len(os.listdir('/proc/self/task')))"
)


def _python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.strip()


def bench_imports(repeat: int = 7) -> None:
    modules = ("aws_wrapper.core", "psycopg", "mysql.connector")
    times: dict[str, list[float]] = {m: [] for m in modules}
    for _ in range(repeat):
        for module in modules:  # interleaved as well
            times[module].append(float(_python(_IMPORT_TIME.format(module=module))))
    print(f"\nimport time in a fresh interpreter (median of {repeat})")
    for module in modules:
        print(f"  import {module:<18} {statistics.median(times[module]):7.1f} ms")
    extra = statistics.median(times["aws_wrapper.core"]) - statistics.median(times["psycopg"])
    print(f"  aws_wrapper.core - psycopg: {extra:+.1f} ms")
    python_threads, os_threads = _python(_THREADS).split()
    print(
        f"threads after import aws_wrapper.core: {python_threads} Python, {os_threads} OS (1 = the main thread)"
    )


def _option(argv: list[str], name: str, default: str) -> str:
    for arg in argv:
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return default


def main(argv: list[str]) -> int:
    seconds = float(_option(argv, "seconds", "14"))
    pg = _option(argv, "pg", PG_DSN)
    my = _option(argv, "mysql", MYSQL_DSN)
    print(f"default plugin list (plugins unset): {_default_plugins()}")
    status = 0
    runs: list[tuple[str, Callable[[], None]]] = [
        ("in-memory driver", bench_stub),
        ("psycopg", lambda: bench_psycopg(pg, seconds)),
        ("instructions", lambda: bench_instructions(pg)),
        ("mysql-connector C extension", lambda: bench_mysql(my, seconds * 0.6, use_pure=False)),
        ("mysql-connector pure Python", lambda: bench_mysql(my, seconds * 0.6, use_pure=True)),
    ]
    for title, run in runs:
        try:
            run()
        except Exception as error:
            print(f"\n{title}: skipped ({type(error).__name__}: {error})")
            status = 1
    bench_imports()
    from aws_wrapper.core import release_resources

    release_resources()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
