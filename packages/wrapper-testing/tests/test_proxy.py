"""The fault proxy against the machine's real PostgreSQL (127.0.0.1:5432) and MariaDB (127.0.0.1:3306)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from aws_wrapper.testing._fixtures_net import *  # noqa: F403
from aws_wrapper.testing._fixtures_net import FaultProxyFactory, ProxyPool
from aws_wrapper.testing._proxy import PROXY_THREAD_NAME, FaultMode, FaultProxy

PG = ("127.0.0.1", 5432)
MARIADB = ("127.0.0.1", 3306)
LISTEN = "127.0.99.1"  # proxies listen on another loopback address, on an ephemeral port


def _reachable(address: tuple[str, int]) -> bool:
    try:
        socket.create_connection(address, timeout=1).close()
    except OSError:
        return False
    return True


needs_pg = pytest.mark.skipif(not _reachable(PG), reason="no postgresql on 127.0.0.1:5432")
needs_mariadb = pytest.mark.skipif(not _reachable(MARIADB), reason="no mariadb on 127.0.0.1:3306")


def pg_connect(proxy: FaultProxy, **kwargs: Any) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(
        host=proxy.listen_host,
        port=proxy.listen_port,
        user="postgres",
        dbname="postgres",
        autocommit=True,
        **kwargs,
    )


def my_connect(proxy: FaultProxy, **kwargs: Any) -> Any:
    mysql_connector = pytest.importorskip("mysql.connector")
    return mysql_connector.connect(
        host=proxy.listen_host, port=proxy.listen_port, user="root", use_pure=True, **kwargs
    )


@contextlib.contextmanager
def watchdog(after: float, action: Callable[[], None]) -> Iterator[None]:
    """Run ``action`` from another thread after ``after`` seconds unless the block ended before."""
    timer = threading.Timer(after, action)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()


def eventually(check: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def is_running(proxy: FaultProxy) -> bool:  # (a call, so that mypy does not keep a narrowed property)
    return proxy.running


def pending(proxy: FaultProxy) -> tuple[str, int] | None:
    return proxy.pending_target


def proxy_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == PROXY_THREAD_NAME]


# -- pass ---------------------------------------------------------------------------------------------------------
@needs_pg
def test_pass_forwards_postgresql(fault_proxy: FaultProxyFactory) -> None:
    proxy = fault_proxy(*PG, listen_host=LISTEN)
    assert proxy.mode is FaultMode.PASS
    with pg_connect(proxy) as conn:
        assert conn.execute("select 41 + 1").fetchone() == (42,)
        assert proxy.connection_count() == 1
    assert eventually(lambda: proxy.connection_count() == 0)


@needs_mariadb
def test_pass_forwards_mariadb(fault_proxy: FaultProxyFactory) -> None:
    proxy = fault_proxy(*MARIADB, listen_host=LISTEN)
    conn = my_connect(proxy, connection_timeout=5)
    try:
        cur = conn.cursor()
        cur.execute("select @@version")
        assert "MariaDB" in cur.fetchone()[0]
    finally:
        conn.close()


@needs_pg
def test_large_payloads_both_ways(fault_proxy: FaultProxyFactory) -> None:
    proxy = fault_proxy(*PG, listen_host=LISTEN)
    with pg_connect(proxy) as conn:
        assert conn.execute("select length(repeat('x', 5000000))").fetchone() == (5000000,)
        row = conn.execute("select repeat('y', 4000000)").fetchone()
        assert row is not None
        assert len(row[0]) == 4000000
        assert conn.execute("select length(%s)", ("z" * 3000000,)).fetchone() == (3000000,)
        proxy.latency(0.05)
        row = conn.execute("select repeat('w', 3000000)").fetchone()
        assert row is not None
        assert len(row[0]) == 3000000


# -- blackhole ----------------------------------------------------------------------------------------------------
@needs_pg
def test_blackhole_hangs_a_postgresql_query_until_closed(fault_proxy: FaultProxyFactory) -> None:
    proxy = fault_proxy(*PG, listen_host=LISTEN)
    conn = pg_connect(proxy)
    assert conn.execute("select 1").fetchone() == (1,)
    proxy.blackhole()
    assert proxy.mode is FaultMode.BLACKHOLE
    started = time.monotonic()
    with watchdog(1.0, conn.close), pytest.raises(psycopg.OperationalError):
        conn.execute("select 1")
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 3.0, elapsed
    assert proxy.connection_count() <= 1  # the socket was held open until the client closed it


@needs_mariadb
def test_blackhole_hangs_a_mariadb_query_until_shut_down(fault_proxy: FaultProxyFactory) -> None:
    mysql_connector = pytest.importorskip("mysql.connector")
    proxy = fault_proxy(*MARIADB, listen_host=LISTEN)
    conn = my_connect(proxy, connection_timeout=5)
    cur = conn.cursor()
    cur.execute("select 1")
    assert cur.fetchall() == [(1,)]
    proxy.blackhole()
    started = time.monotonic()
    with watchdog(1.0, conn.shutdown), pytest.raises(mysql_connector.Error):
        cur.execute("select 2")
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 3.0, elapsed


@needs_pg
def test_blackhole_accepts_but_never_answers_new_connections(fault_proxy: FaultProxyFactory) -> None:
    behind = fault_proxy(*PG, listen_host=LISTEN, name="behind")  # counts what reaches the target
    proxy = fault_proxy(behind.listen_host, behind.listen_port, listen_host=LISTEN, name="front")
    proxy.blackhole()
    started = time.monotonic()
    with pytest.raises(psycopg.errors.ConnectionTimeout):
        pg_connect(proxy, connect_timeout=1)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 3.0, elapsed
    assert behind.connection_count() == 0  # no upstream connection while blackholed
    with socket.create_connection((proxy.listen_host, proxy.listen_port), timeout=1) as raw:
        assert eventually(lambda: proxy.connection_count() >= 1)  # the TCP accept completed
        raw.settimeout(0.3)
        raw.sendall(b"\x00\x00\x00\x08\x04\xd2\x16\x2f")  # SSLRequest: a server would answer 'S' or 'N'
        with pytest.raises(TimeoutError):
            raw.recv(1)
        assert behind.connection_count() == 0
        proxy.heal()  # the held connection now reaches the target and gets its answer
        raw.settimeout(3)
        assert raw.recv(1) in (b"S", b"N")
        assert behind.connection_count() >= 1  # (psycopg may still hold the socket of its timed-out attempt)


@needs_pg
def test_heal_releases_held_bytes_and_restores_new_connections(fault_proxy: FaultProxyFactory) -> None:
    proxy = fault_proxy(*PG, listen_host=LISTEN)
    conn = pg_connect(proxy)
    proxy.blackhole()
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(conn.execute("select 7").fetchone()))
    worker.start()
    time.sleep(0.3)
    assert worker.is_alive()
    assert not result  # held
    started = time.monotonic()
    proxy.heal()
    worker.join(3)
    assert result == [(7,)]
    assert time.monotonic() - started < 1.0
    assert proxy.mode is FaultMode.PASS
    with pg_connect(proxy, connect_timeout=2) as fresh:
        assert fresh.execute("select 8").fetchone() == (8,)
    conn.close()


# -- refuse -------------------------------------------------------------------------------------------------------
@needs_pg
def test_refuse_fails_new_postgresql_connections_fast_old_ones_work(fault_proxy: FaultProxyFactory) -> None:
    proxy = fault_proxy(*PG, listen_host=LISTEN)
    with pg_connect(proxy) as old:
        proxy.refuse()
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError):
            pg_connect(proxy, connect_timeout=5)
        assert time.monotonic() - started < 0.5
        assert old.execute("select 'still here'").fetchone() == ("still here",)
        proxy.heal()
        with pg_connect(proxy, connect_timeout=2) as fresh:
            assert fresh.execute("select 1").fetchone() == (1,)


@needs_mariadb
def test_refuse_fails_new_mariadb_connections_fast_old_ones_work(fault_proxy: FaultProxyFactory) -> None:
    mysql_connector = pytest.importorskip("mysql.connector")
    proxy = fault_proxy(*MARIADB, listen_host=LISTEN)
    old = my_connect(proxy, connection_timeout=5)
    try:
        proxy.refuse()
        started = time.monotonic()
        with pytest.raises(mysql_connector.Error):
            my_connect(proxy, connection_timeout=5)
        assert time.monotonic() - started < 0.5
        cur = old.cursor()
        cur.execute("select 3")
        assert cur.fetchall() == [(3,)]
    finally:
        old.close()


# -- reset_all ----------------------------------------------------------------------------------------------------
@needs_pg
def test_reset_all_fails_the_next_query_at_once(fault_proxy: FaultProxyFactory) -> None:
    proxy = fault_proxy(*PG, listen_host=LISTEN)
    conns = [pg_connect(proxy) for _ in range(3)]
    assert proxy.connection_count() == 3
    proxy.reset_all()
    assert proxy.mode is FaultMode.PASS  # unchanged
    for conn in conns:
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError):
            conn.execute("select 1")
        assert time.monotonic() - started < 0.5
        conn.close()
    assert eventually(lambda: proxy.connection_count() == 0)
    with pg_connect(proxy) as fresh:
        assert fresh.execute("select 1").fetchone() == (1,)


@needs_mariadb
def test_reset_all_fails_the_next_mariadb_query(fault_proxy: FaultProxyFactory) -> None:
    mysql_connector = pytest.importorskip("mysql.connector")
    proxy = fault_proxy(*MARIADB, listen_host=LISTEN)
    conn = my_connect(proxy, connection_timeout=5)
    try:
        cur = conn.cursor()
        proxy.reset_all()
        started = time.monotonic()
        with pytest.raises(mysql_connector.Error):
            cur.execute("select 1")
        assert time.monotonic() - started < 0.5
    finally:
        with contextlib.suppress(Exception):
            conn.close()


# -- latency ------------------------------------------------------------------------------------------------------
@needs_pg
def test_latency_delays_each_chunk(fault_proxy: FaultProxyFactory) -> None:
    proxy = fault_proxy(*PG, listen_host=LISTEN)
    with pg_connect(proxy) as conn:
        proxy.latency(0.2)
        assert (proxy.mode, proxy.latency_seconds) == (FaultMode.LATENCY, 0.2)
        started = time.monotonic()
        assert conn.execute("select 1").fetchone() == (1,)
        elapsed = time.monotonic() - started
        assert 0.38 <= elapsed < 1.5, elapsed  # one chunk each way
        proxy.heal()
        started = time.monotonic()
        conn.execute("select 1")
        assert time.monotonic() - started < 0.3  # no 0.2 s per chunk any more


@needs_mariadb
def test_latency_on_mariadb(fault_proxy: FaultProxyFactory) -> None:
    proxy = fault_proxy(*MARIADB, listen_host=LISTEN)
    conn = my_connect(proxy, connection_timeout=5)
    try:
        proxy.latency(0.15)
        cur = conn.cursor()
        started = time.monotonic()
        cur.execute("select 1")
        assert cur.fetchall() == [(1,)]
        assert time.monotonic() - started >= 0.28
    finally:
        proxy.heal()
        conn.close()


@needs_pg
def test_mode_change_applies_to_chunks_already_delayed(fault_proxy: FaultProxyFactory) -> None:
    proxy = fault_proxy(*PG, listen_host=LISTEN)
    with pg_connect(proxy) as conn:
        proxy.latency(10)
        timer = threading.Timer(0.3, proxy.heal)
        timer.start()
        started = time.monotonic()
        assert conn.execute("select 1").fetchone() == (1,)
        timer.join()
        assert time.monotonic() - started < 2.0


# -- retarget -----------------------------------------------------------------------------------------------------
@needs_pg
def test_retarget_with_delay_routes_new_connections_later(fault_proxy: FaultProxyFactory) -> None:
    other = fault_proxy(*PG, listen_host=LISTEN, name="other")
    proxy = fault_proxy(*PG, listen_host=LISTEN, name="front")
    before = pg_connect(proxy)
    proxy.retarget(other.listen_host, other.listen_port, delay=0.6)
    assert proxy.target == PG
    assert proxy.pending_target == (other.listen_host, other.listen_port)
    with pg_connect(proxy) as stale:  # inside the delay: still the old target
        assert stale.execute("select 1").fetchone() == (1,)
        assert other.connection_count() == 0
    time.sleep(0.7)
    assert proxy.target == (other.listen_host, other.listen_port)
    assert pending(proxy) is None
    with pg_connect(proxy) as fresh:
        assert fresh.execute("select 1").fetchone() == (1,)
        assert other.connection_count() == 1
    assert before.execute("select 'untouched'").fetchone() == ("untouched",)
    before.close()


@needs_pg
@needs_mariadb
def test_retarget_identifies_the_answering_server(fault_proxy: FaultProxyFactory) -> None:
    proxy = fault_proxy(*PG, listen_host=LISTEN)

    def greeting() -> bytes:
        """MariaDB speaks first (its handshake names it); PostgreSQL waits for the client."""
        with socket.create_connection((proxy.listen_host, proxy.listen_port), timeout=2) as raw:
            raw.settimeout(0.3)
            try:
                return raw.recv(4096)
            except TimeoutError:
                return b""

    proxy.retarget(*MARIADB, delay=0.5)
    assert greeting() == b""  # still PostgreSQL
    time.sleep(0.6)
    assert b"MariaDB" in greeting()


def test_later_retarget_replaces_a_pending_one() -> None:
    proxy = FaultProxy(LISTEN, 0, "127.0.0.1", 1)
    proxy.retarget("127.0.0.1", 2, delay=0.2)
    proxy.retarget("127.0.0.1", 3)  # immediate: cancels the pending one
    time.sleep(0.3)
    assert proxy.target == ("127.0.0.1", 3)
    proxy.retarget("127.0.0.1", 4, delay=0.2)
    proxy.retarget("127.0.0.1", 5, delay=30)
    time.sleep(0.3)
    assert proxy.target == ("127.0.0.1", 3)
    assert proxy.pending_target == ("127.0.0.1", 5)


def test_unreachable_target_resets_the_client(fault_proxy: FaultProxyFactory) -> None:
    # a port with nobody listening, kept bound for the whole test so that no other process can take it meanwhile
    # (a bound socket that does not listen refuses connections)
    with socket.socket() as probe:
        probe.bind((LISTEN, 0))
        dead_port = probe.getsockname()[1]
        proxy = fault_proxy(LISTEN, dead_port, listen_host=LISTEN)
        # the proxy resets the client: seen as end of stream or as a reset, at recv or already while connecting
        with (
            contextlib.suppress(ConnectionResetError),
            socket.create_connection((proxy.listen_host, proxy.listen_port), timeout=2) as raw,
        ):
            raw.settimeout(2)
            assert raw.recv(1) == b""
        assert eventually(lambda: proxy.connection_count() == 0)


# -- lifecycle ----------------------------------------------------------------------------------------------------
@needs_pg
def test_stop_leaves_no_thread_and_no_listener() -> None:
    had_thread = bool(proxy_threads())  # another proxy of this process may legitimately be running
    proxy = FaultProxy(LISTEN, 0, *PG).start()
    assert len(proxy_threads()) == 1
    conn = pg_connect(proxy)
    proxy.stop()
    assert not is_running(proxy)
    assert proxy.connection_count() == 0
    with pytest.raises(psycopg.OperationalError):
        conn.execute("select 1")
    conn.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((proxy.listen_host, proxy.listen_port), timeout=1)
    if not had_thread:
        assert proxy_threads() == []
    proxy.stop()  # idempotent


def test_proxies_share_one_loop_thread() -> None:
    had_thread = bool(proxy_threads())
    with FaultProxy(LISTEN, 0, *PG) as first, FaultProxy(LISTEN, 0, *PG) as second:
        assert first.listen_port != second.listen_port
        assert len(proxy_threads()) == 1
    if not had_thread:
        assert proxy_threads() == []


def test_start_fails_naming_the_address() -> None:
    with FaultProxy(LISTEN, 0, *PG) as taken:
        clash = FaultProxy(LISTEN, taken.listen_port, *PG)
        with pytest.raises(OSError, match=rf"127\.0\.99\.1.*{taken.listen_port}"):
            clash.start()
        assert not clash.running


def test_restart_reuses_the_port() -> None:
    proxy = FaultProxy(LISTEN, 0, *PG, name="again")
    with proxy:
        port = proxy.listen_port
    with proxy:
        assert proxy.listen_port == port
        assert proxy.name == "again"


def test_controls_before_start_and_validation() -> None:
    proxy = FaultProxy(LISTEN, 0, *PG)
    assert proxy.name == f"{LISTEN}:0"
    assert proxy.connection_count() == 0
    proxy.blackhole()
    assert proxy.mode is FaultMode.BLACKHOLE
    proxy.latency(0.5)
    assert (proxy.mode, proxy.latency_seconds) == (FaultMode.LATENCY, 0.5)
    proxy.heal()
    assert (proxy.mode, proxy.latency_seconds) == (FaultMode.PASS, 0.0)
    with pytest.raises(ValueError, match="-1"):
        proxy.latency(-1)
    with pytest.raises(ValueError, match="nan"):
        proxy.retarget("127.0.0.1", 1, delay=float("nan"))
    proxy.reset_all()  # nothing to reset: no error
    proxy.stop()  # never started: no error
    assert "mode=pass" in repr(proxy)


def test_proxy_pool_stops_everything_it_made() -> None:
    pool = ProxyPool()
    made = [pool(*PG, listen_host=LISTEN), pool(*PG, listen_host=LISTEN, name="b")]
    assert all(p.running for p in made)
    pool.close()
    assert not any(p.running for p in made)
    assert pool.proxies == []


# -- overhead -----------------------------------------------------------------------------------------------------
@needs_pg
def test_forwarding_overhead(fault_proxy: FaultProxyFactory, capsys: pytest.CaptureFixture[str]) -> None:
    proxy = fault_proxy(*PG, listen_host=LISTEN)
    rounds = 1000
    timings: dict[str, float] = {}
    with (
        psycopg.connect(
            host=PG[0], port=PG[1], user="postgres", dbname="postgres", autocommit=True
        ) as direct,
        pg_connect(proxy) as proxied,
    ):
        for label, conn in (("direct", direct), ("proxied", proxied)) * 2:
            conn.execute("select 1")
            started = time.perf_counter()
            for _ in range(rounds):
                conn.execute("select 1")
            per_call = (time.perf_counter() - started) / rounds * 1e6
            timings[label] = min(timings.get(label, float("inf")), per_call)
    with capsys.disabled():
        print(
            f"\n[fault proxy] select 1 round trip: direct {timings['direct']:.0f} us, "
            f"proxied {timings['proxied']:.0f} us, overhead {timings['proxied'] - timings['direct']:.0f} us"
        )
    assert timings["proxied"] - timings["direct"] < 2000  # generous: this is a shared 2-core machine
