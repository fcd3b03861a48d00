"""A fault-injecting TCP proxy in pure asyncio.

Every started :class:`FaultProxy` of the process is served by one event loop in one daemon thread. The thread
starts with the first proxy and stops when the last proxy stops; importing this module starts nothing. Tests
drive the proxies from their own thread: every public method is thread-safe and returns once the change is in
effect on the loop.

Forwarding uses asyncio protocols, so in ``pass`` mode a chunk is written to the other socket straight from the
read callback, with no task switch. A chunk that a fault holds back goes to a per-direction queue drained by a
small task that sleeps on a "mode changed" future, never in a polling loop.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import enum
import logging
import math
import socket
import struct
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

__all__ = ["FaultMode", "FaultProxy", "PROXY_THREAD_NAME"]

_log = logging.getLogger("aws_wrapper.testing")

PROXY_THREAD_NAME = "aws-wrapper-fault-proxy"
"""Name of the daemon thread that runs the event loop of all proxies."""

_T = TypeVar("_T")
_CALL_TIMEOUT = 10.0  # seconds a control call waits for the loop thread
_LINGER_RST = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST
_RECV_SIZE = 1 << 16  # bytes read from a socket at once
_BACKLOG_PAUSE = 1 << 20  # held bytes in one direction before reading from that socket pauses
_BACKLOG_RESUME = 1 << 18
_PAUSE_BACKLOG = 1  # reasons a half stopped reading (bit set)
_PAUSE_PEER_FULL = 2


class FaultMode(str, enum.Enum):
    """What a proxy does with traffic."""

    PASS = "pass"  # forward
    BLACKHOLE = "blackhole"  # hold every byte both ways, keep every socket open; accept but never answer
    LATENCY = "latency"  # delay each forwarded chunk
    REFUSE = "refuse"  # reset new connections at once; existing ones keep working


_PASS = FaultMode.PASS
_BLACKHOLE = FaultMode.BLACKHOLE
_LATENCY = FaultMode.LATENCY
_REFUSE = FaultMode.REFUSE


class _LoopThread:
    """The event loop shared by all proxies, run in a daemon thread while at least one proxy is started."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def acquire(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()
                thread = threading.Thread(
                    target=self._run, args=(loop, ready), name=PROXY_THREAD_NAME, daemon=True
                )
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            self._users += 1
            return self._loop

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users > 0 or self._loop is None or self._thread is None:
                return
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_CALL_TIMEOUT)
            if thread.is_alive():
                _log.warning("fault proxy loop thread did not stop within %s s", _CALL_TIMEOUT)

    def in_loop_thread(self) -> bool:
        return self._thread is not None and self._thread is threading.current_thread()

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            asyncio.set_event_loop(None)
            loop.close()


_RUNNER = _LoopThread()


class _Half(asyncio.BufferedProtocol):
    """One socket of a proxied connection: forwards what it reads to the socket of its peer half.

    Reads go into the proxy's one receive buffer (all proxies run on one thread, and a chunk is copied out
    before the next read), which avoids asyncio's allocation of a 256 KiB buffer per read.
    """

    def __init__(self, link: _Link) -> None:
        self.link = link
        self.proxy = link.proxy
        self.peer: _Half = self  # set by _Link
        self.transport: asyncio.Transport | None = None
        # chunks held back by a fault, with their arrival (loop) time
        self.pending: collections.deque[tuple[float, bytearray]] = collections.deque()
        self.pending_bytes = 0
        self.flusher: asyncio.Task[None] | None = None
        self.lost = False
        self.paused = 0  # _PAUSE_* bits

    # -- asyncio.Protocol -------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.link.half_made(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.proxy._view

    def buffer_updated(self, nbytes: int) -> None:
        data = self.proxy._buffer[:nbytes]  # a copy: the receive buffer is reused by the next read
        if self.flusher is None and self.proxy._mode is _PASS:
            out = self.peer.transport
            if out is not None:
                out.write(data)
                return
        self.pending.append((self.proxy._now(), data))
        self.pending_bytes += len(data)
        if self.pending_bytes >= _BACKLOG_PAUSE:
            self.pause(_PAUSE_BACKLOG)
        self.kick()

    def pause_writing(self) -> None:  # our send buffer is full: stop reading what would be sent to us
        self.peer.pause(_PAUSE_PEER_FULL)

    def resume_writing(self) -> None:
        self.peer.resume(_PAUSE_PEER_FULL)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.link.half_lost(self)

    # -- helpers ----------------------------------------------------------------------------------------------
    def kick(self) -> None:
        """Start draining held chunks once the peer socket exists."""
        if self.flusher is None and self.pending and self.peer.transport is not None:
            self.flusher = self.proxy._create_task(self._flush())

    async def _flush(self) -> None:
        try:
            while self.pending:
                await self.proxy._hold(self.pending[0][0])
                out = self.peer.transport
                if out is None or out.is_closing():  # nobody left to deliver to
                    self.pending.clear()
                    self.pending_bytes = 0
                    break
                data = self.pending.popleft()[1]
                self.pending_bytes -= len(data)
                out.write(data)
                if self.pending_bytes < _BACKLOG_RESUME:
                    self.resume(_PAUSE_BACKLOG)
        finally:
            self.flusher = None
        if self.lost:  # we were closed while holding data: close the peer now that it has everything
            self.peer.close()

    def drop_pending(self) -> None:
        if self.flusher is not None:
            self.flusher.cancel()
            self.flusher = None
        self.pending.clear()
        self.pending_bytes = 0

    def pause(self, reason: int) -> None:
        if not self.paused and self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()
        self.paused |= reason

    def resume(self, reason: int) -> None:
        if self.paused & reason:
            self.paused &= ~reason
            if not self.paused and self.transport is not None and not self.transport.is_closing():
                self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        transport = self.transport
        if transport is None or self.lost:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
            except OSError:
                pass
        transport.abort()


class _Link:
    """A proxied connection: the accepted client socket and the socket to the target."""

    __slots__ = ("client", "connector", "proxy", "server")

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self.client = _Half(self)
        self.server = _Half(self)
        self.client.peer, self.server.peer = self.server, self.client
        self.connector: asyncio.Task[None] | None = None

    def half_made(self, half: _Half) -> None:
        if half is self.client:
            self.proxy._accepted(self)
        elif self.client.lost:  # the client went away while we were connecting
            half.abort()
        else:
            self.client.kick()

    def half_lost(self, half: _Half) -> None:
        peer = half.peer
        if half is self.client:
            self.proxy._clients -= 1
            if self.connector is not None:
                self.connector.cancel()
                self.connector = None
        peer.drop_pending()  # what the peer held was for the socket that just went away
        if half.flusher is None:
            peer.close()
        if self.client.lost and (self.server.transport is None or self.server.lost):
            self.proxy._links.discard(self)

    def reset(self) -> None:
        if self.connector is not None:
            self.connector.cancel()
            self.connector = None
        for half in (self.client, self.server):
            half.drop_pending()
            half.abort()


class FaultProxy:
    """A TCP proxy from ``listen_host:listen_port`` to a target, with injectable faults.

    Modes (:class:`FaultMode`) apply at once to existing connections as well as new ones:

    * ``pass`` forwards;
    * ``blackhole`` holds every byte in both directions and keeps all sockets open; new connections are
      accepted but get no answer, and no connection to the target is made until the proxy is healed (like
      toxiproxy's bandwidth-0 toxic);
    * ``latency`` delays each forwarded chunk by the given number of seconds;
    * ``refuse`` resets new connections at once (RST) while existing ones keep working.

    ``reset_all()`` resets every open connection without changing the mode; ``retarget()`` points new
    connections at another target, optionally after a delay that imitates DNS staleness.
    """

    def __init__(
        self, listen_host: str, listen_port: int, target_host: str, target_port: int, *, name: str = ""
    ) -> None:
        self._name = name
        self._listen_host = listen_host
        self._listen_port = listen_port
        self._target_lock = threading.Lock()
        self._target = (target_host, target_port)
        self._next_target: tuple[str, int, float] | None = None  # host, port, monotonic time it takes effect
        self._mode = FaultMode.PASS
        self._latency = 0.0
        self._lifecycle = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._changed: asyncio.Future[None] | None = None
        self._links: set[_Link] = set()
        self._clients = 0
        self._buffer = bytearray(_RECV_SIZE)
        self._view = memoryview(self._buffer)

    # -- properties -------------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name or f"{self._listen_host}:{self._listen_port}"

    @property
    def listen_host(self) -> str:
        return self._listen_host

    @property
    def listen_port(self) -> int:
        """The port listened on; after ``start()`` the real one when 0 was asked for."""
        return self._listen_port

    @property
    def target(self) -> tuple[str, int]:
        """Where a connection accepted now would go (a pending delayed retarget counts once it is due)."""
        return self._current_target()

    @property
    def pending_target(self) -> tuple[str, int] | None:
        """The target of a delayed retarget that is not yet in effect, if any."""
        nxt = self._next_target
        if nxt is None or time.monotonic() >= nxt[2]:
            return None
        return (nxt[0], nxt[1])

    @property
    def mode(self) -> FaultMode:
        return self._mode

    @property
    def latency_seconds(self) -> float:
        return self._latency

    @property
    def running(self) -> bool:
        return self._server is not None

    def __repr__(self) -> str:
        host, port = self._current_target()
        return (
            f"FaultProxy({self.name!r}, {self._listen_host}:{self._listen_port} -> {host}:{port}, "
            f"mode={self._mode.value})"
        )

    # -- lifecycle --------------------------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        """Bind the listening socket (SO_REUSEADDR) and serve. Returns ``self``; no-op if already started."""
        with self._lifecycle:
            if self._server is not None:
                return self
            host, port = self._listen_host, self._listen_port
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            try:
                sock = socket.create_server((host, port), family=family, backlog=128)
            except OSError as exc:
                raise OSError(
                    exc.errno, f"fault proxy cannot listen on {host!r} port {port}: {exc.strerror}"
                ) from exc
            sock.setblocking(False)
            self._listen_port = sock.getsockname()[1]
            loop = _RUNNER.acquire()
            self._loop = loop

            async def serve() -> asyncio.AbstractServer:
                self._changed = loop.create_future()
                return await loop.create_server(lambda: _Link(self).client, sock=sock)

            try:
                self._server = self._await(serve())
            except BaseException:
                sock.close()
                self._loop = self._changed = None
                _RUNNER.release()
                raise
            _log.info("fault proxy %s listening, target %s:%s", self.name, *self._current_target())
            return self

    def stop(self) -> None:
        """Close the listener and reset every connection. Idempotent; returns when everything is closed."""
        with self._lifecycle:
            server = self._server
            if server is None:
                return
            if _RUNNER.in_loop_thread():
                raise RuntimeError(f"fault proxy {self.name!r} cannot be stopped from its own event loop")

            async def shutdown() -> None:
                server.close()
                for link in list(self._links):
                    link.reset()
                self._links.clear()
                await asyncio.sleep(0)  # let the aborted transports report connection_lost
                try:
                    await asyncio.wait_for(server.wait_closed(), _CALL_TIMEOUT / 2)
                except asyncio.TimeoutError:
                    _log.warning("fault proxy %s: listener did not close in time", self.name)

            try:
                self._await(shutdown())
            finally:
                self._server = None
                self._loop = self._changed = None
                _RUNNER.release()
            _log.info("fault proxy %s stopped", self.name)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- faults -----------------------------------------------------------------------------------------------
    def heal(self) -> None:
        """Back to ``pass`` (no latency); held bytes and held new connections proceed at once."""
        self._set_mode(_PASS, 0.0)

    def blackhole(self) -> None:
        """Hold every byte in both directions, keep every socket open, answer no new connection."""
        self._set_mode(_BLACKHOLE, 0.0)

    def latency(self, seconds: float) -> None:
        """Delay each forwarded chunk by ``seconds``."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"latency must be a finite number of seconds >= 0, got {seconds!r}")
        self._set_mode(_LATENCY, float(seconds))

    def refuse(self) -> None:
        """Reset new connections at once (RST); existing connections keep working."""
        self._set_mode(_REFUSE, 0.0)

    def reset_all(self) -> None:
        """Reset (RST, ``SO_LINGER`` 0) every open connection now. The mode does not change."""

        def reset() -> None:
            for link in list(self._links):
                link.reset()

        self._call(reset)
        _log.info("fault proxy %s: reset all connections", self.name)

    def retarget(self, host: str, port: int, *, delay: float = 0.0) -> None:
        """Send new connections to ``host:port`` from ``delay`` seconds from now on.

        Existing connections are untouched. A later call replaces a retarget that is still pending.
        """
        if not math.isfinite(delay) or delay < 0:
            raise ValueError(f"retarget delay must be a finite number of seconds >= 0, got {delay!r}")
        with self._target_lock:
            if delay == 0:
                self._target = (host, port)
                self._next_target = None
            else:
                self._next_target = (host, port, time.monotonic() + delay)
        _log.info("fault proxy %s: retarget to %s:%s in %s s", self.name, host, port, delay)

    def connection_count(self) -> int:
        """Client connections currently open through this proxy."""
        return self._clients

    # -- loop-thread internals --------------------------------------------------------------------------------
    def _current_target(self) -> tuple[str, int]:
        with self._target_lock:
            nxt = self._next_target
            if nxt is not None and time.monotonic() >= nxt[2]:
                self._target = (nxt[0], nxt[1])
                self._next_target = None
            return self._target

    def _now(self) -> float:
        loop = self._loop
        return loop.time() if loop is not None else time.monotonic()

    def _create_task(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        assert self._loop is not None
        return self._loop.create_task(coro)

    def _set_mode(self, mode: FaultMode, latency: float) -> None:
        def apply() -> None:
            self._mode = mode
            self._latency = latency
            changed = self._changed
            if changed is not None and self._loop is not None:
                self._changed = self._loop.create_future()
                changed.set_result(None)

        self._call(apply)
        _log.info("fault proxy %s: mode %s (latency %s s)", self.name, mode.value, latency)

    async def _wait_change(self, timeout: float | None) -> None:
        changed = self._changed
        if changed is None:  # stopping
            await asyncio.sleep(timeout if timeout is not None else 3600)
            return
        await asyncio.wait((changed,), timeout=timeout)

    async def _hold(self, arrival: float) -> None:
        """Return when a chunk that arrived at ``arrival`` (loop time) may be forwarded."""
        while True:
            mode = self._mode
            if mode is _BLACKHOLE:
                await self._wait_change(None)
            elif mode is _LATENCY:
                remaining = arrival + self._latency - self._now()
                if remaining <= 0:
                    return
                await self._wait_change(remaining)
            else:
                return

    def _accepted(self, link: _Link) -> None:
        self._clients += 1
        self._links.add(link)
        if self._mode is _REFUSE:
            link.reset()
            return
        link.connector = self._create_task(self._connect_upstream(link))

    async def _connect_upstream(self, link: _Link) -> None:
        try:
            while self._mode is _BLACKHOLE:  # accepted, but silent: no upstream until healed
                await self._wait_change(None)
            if self._mode is _REFUSE:
                link.reset()
                return
            host, port = self._current_target()
            assert self._loop is not None
            await self._loop.create_connection(lambda: link.server, host, port)
        except OSError as exc:
            if _log.isEnabledFor(logging.DEBUG):
                _log.debug("fault proxy %s: cannot reach target: %s", self.name, exc)
            link.reset()
        finally:
            if link.connector is asyncio.current_task():
                link.connector = None

    # -- cross-thread calls -----------------------------------------------------------------------------------
    def _call(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` on the loop thread and return its result (directly when not started or on the loop)."""
        loop = self._loop
        if loop is None or _RUNNER.in_loop_thread():
            return fn()
        done: concurrent.futures.Future[_T] = concurrent.futures.Future()

        def run() -> None:
            try:
                done.set_result(fn())
            except BaseException as exc:
                done.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return done.result(_CALL_TIMEOUT)

    def _await(self, coro: Coroutine[Any, Any, _T]) -> _T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(_CALL_TIMEOUT)
